import { randomBytes } from 'node:crypto';
import type { Response } from 'express';

/** Text for an HTML text node or a double-quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char,
  );
}

/** Trusted markup (built with `html` only). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** A template tag: interpolated values are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    const parts = Array.isArray(value) ? value : [value];
    for (const part of parts)
      out +=
        part instanceof Html
          ? part.value
          : part === undefined || part === false
            ? ''
            : escapeHtml(String(part));
    out += strings[index + 1] ?? '';
  });
  return new Html(out);
}

const styles = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1b1d21;--muted:#5b6170;--line:#d5d8de;
--accent:#2a5bd7;--accent-text:#fff;--danger-bg:#fdecec;--danger:#a61b1b;--focus:#f5b400}
@media (prefers-color-scheme:dark){:root{--bg:#15171b;--card:#1f2227;--text:#eceef2;--muted:#a3a9b6;
--line:#3a3f48;--accent:#7aa2ff;--accent-text:#0d1020;--danger-bg:#3a1c1c;--danger:#ffb4b4}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1rem;
background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:26rem;background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:2rem 1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.brand{font-weight:700;letter-spacing:.02em;color:var(--muted);font-size:.9rem;margin:0 0 1rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem}
p{margin:.5rem 0 1rem}
.muted{color:var(--muted);font-size:.95rem}
label{display:block;font-weight:600;margin:1rem 0 .35rem}
input[type=text],input[type=password]{width:100%;font:inherit;padding:.7rem .8rem;border:1px solid var(--line);
border-radius:8px;background:var(--card);color:var(--text)}
button{font:inherit;font-weight:600;width:100%;padding:.75rem 1rem;border-radius:8px;border:1px solid var(--accent);
background:var(--accent);color:var(--accent-text);cursor:pointer;margin-top:1.5rem}
button.secondary{background:transparent;color:var(--accent);margin-top:.75rem}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
a{color:var(--accent)}
.error{background:var(--danger-bg);color:var(--danger);border-radius:8px;padding:.75rem 1rem;margin:1rem 0}
ul.scopes{padding-left:1.2rem;margin:.5rem 0 1rem}
ul.scopes li{margin:.25rem 0}
code{font-size:.9em;overflow-wrap:anywhere}
`;

/**
 * Sends a page: HTML with its styles under a per-response CSP nonce; no script at all. The CSP
 * also forbids framing (clickjacking), base tags and form posts anywhere but here and
 * `formTargets` (the redirect URI's origin, which the sign-in form's answer redirects to).
 */
export function sendPage(
  res: Response,
  status: number,
  page: { title: string; body: Html; formTargets?: readonly string[] },
): void {
  const nonce = randomBytes(16).toString('base64');
  const formAction = ["'self'", ...(page.formTargets ?? [])].join(' ');
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self'; form-action ${formAction}; ` +
      `frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('X-Frame-Options', 'DENY');
  const document = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${page.title} · Tessera</title>
        <style nonce="${nonce}">
          ${new Html(styles)}
        </style>
      </head>
      <body>
        <main>
          <p class="brand" aria-hidden="true">Tessera</p>
          ${page.body}
        </main>
      </body>
    </html> `;
  res.status(status).type('text/html; charset=utf-8').send(document.value);
}

/** A CSP source for where a redirect URI points: its origin, or its scheme for a private-use one. */
export function formTargetOf(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

/** 303 See Other to `url`, with no body (RFC 9110 §15.4.4): the browser GETs it. */
export function seeOther(res: Response, url: string): void {
  res.setHeader('Cache-Control', 'no-store');
  res.status(303).setHeader('Location', url);
  res.end();
}
