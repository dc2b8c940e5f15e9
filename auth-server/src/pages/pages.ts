import { html, type Html } from './html.js';

/** What each scope means, as the consent page tells it; other scopes are shown by name. */
const scopeDescriptions: Readonly<Record<string, string>> = {
  openid: 'Know who you are (your user id)',
  profile: 'See your username',
};

export function signInPage(input: {
  action: string;
  csrf: string;
  request: string;
  clientId: string;
  username?: string;
  error?: string;
}): { title: string; body: Html } {
  return {
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
      <p class="muted">to continue to <strong>${input.clientId}</strong></p>
      ${input.error === undefined ? '' : html`<div class="error" role="alert" id="form-error">${input.error}</div>`}
      <form method="post" action="${input.action}" novalidate>
        <input type="hidden" name="csrf_token" value="${input.csrf}" />
        <input type="hidden" name="request" value="${input.request}" />
        <label for="username">Username</label>
        <input
          type="text"
          id="username"
          name="username"
          autocomplete="username"
          autocapitalize="none"
          spellcheck="false"
          required
          value="${input.username ?? ''}"
          ${input.error === undefined ? html` autofocus` : html` aria-describedby="form-error"`}
        />
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>`,
  };
}

export function consentPage(input: {
  action: string;
  csrf: string;
  request: string;
  clientId: string;
  username: string;
  scope: readonly string[];
}): { title: string; body: Html } {
  const items = input.scope.map(
    (scope) => html`<li>${scopeDescriptions[scope] ?? html`Use <code>${scope}</code> on your behalf`}</li>`,
  );
  return {
    title: 'Allow access',
    body: html`<h1>Allow <strong>${input.clientId}</strong> access?</h1>
      <p class="muted">Signed in as <strong>${input.username}</strong></p>
      ${
        items.length === 0
          ? html`<p>It asks for no permissions beyond signing you in.</p>`
          : html`<p>It will be able to:</p>
              <ul class="scopes">
                ${items}
              </ul>`
      }
      <form method="post" action="${input.action}">
        <input type="hidden" name="csrf_token" value="${input.csrf}" />
        <input type="hidden" name="request" value="${input.request}" />
        <button type="submit" name="decision" value="allow">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>
      <p class="muted">You can change your mind later: ask your administrator to revoke it.</p>`,
  };
}

export function errorPage(message: string): { title: string; body: Html } {
  return {
    title: 'Something went wrong',
    body: html`<h1>Something went wrong</h1>
      <div class="error" role="alert">${message}</div>
      <p class="muted">
        Go back to the application and try again. If this keeps happening, tell its administrator.
      </p>`,
  };
}

export function signedOutPage(): { title: string; body: Html } {
  return {
    title: 'Signed out',
    body: html`<h1>You are signed out</h1>
      <p>You can close this window, or go back to the application to sign in again.</p>`,
  };
}

export function confirmSignOutPage(input: {
  action: string;
  csrf: string;
  fields: Readonly<Record<string, string | undefined>>;
}): { title: string; body: Html } {
  const hidden = Object.entries(input.fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`);
  return {
    title: 'Sign out',
    body: html`<h1>Sign out?</h1>
      <p>An application asked to sign you out of Tessera.</p>
      <form method="post" action="${input.action}">
        <input type="hidden" name="csrf_token" value="${input.csrf}" />
        ${hidden}
        <button type="submit">Sign out</button>
      </form>`,
  };
}
