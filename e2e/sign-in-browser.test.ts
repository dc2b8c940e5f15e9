import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startRelyingParty } from './relying-party.js';
import {
  createE2eEnvironment,
  e2eResource,
  registerResource,
  createUser,
  root,
  runAdmin,
  startAuthServerAtItsIssuer,
  type RunningService,
} from './processes.js';

/** Debian's chromium; nothing is downloaded (.ci/run installs the package when it is missing). */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of every page at phone and desktop widths (git-ignored; docs/screenshots has one of each). */
const screenshotDir = join(root, 'e2e', 'screenshots');
const widths = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };

/**
 * A person signs in to a third-party web app in a real headless Chromium: the app (openid-client,
 * on 127.0.0.1) redirects to the sign-in page, the person types their credentials, allows the app
 * on the consent page, and lands back in the app, which holds verified tokens.
 */
describe('end to end: a person signs in through a real browser', () => {
  const { dataDir, authEnv } = createE2eEnvironment('browser');
  const profileDir = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  let auth: RunningService;
  let env: Record<string, string>;
  let app: Awaited<ReturnType<typeof startRelyingParty>>;
  let context: BrowserContext;
  let page: Page;
  let userId: string;

  async function screenshot(name: string): Promise<void> {
    for (const [label, size] of Object.entries(widths)) {
      await page.setViewportSize(size);
      await page.screenshot({ path: join(screenshotDir, `${name}-${label}.png`), fullPage: true });
    }
    await page.setViewportSize(widths.desktop);
  }

  beforeAll(async () => {
    mkdirSync(screenshotDir, { recursive: true });
    ({ auth, env } = await startAuthServerAtItsIssuer(authEnv));
    app = await startRelyingParty({
      issuer: env.ISSUER!,
      clientId: 'notes-app',
      scope: 'openid profile notes:read',
    });
    await registerResource(env, { uri: e2eResource, scopes: 'notes:read' });
    const registered = await runAdmin(
      [
        'clients',
        'create',
        '--client-id',
        'notes-app',
        '--grants',
        'authorization_code,refresh_token',
        '--scopes',
        'notes:read',
        '--public',
        '--resources',
        e2eResource,
        '--redirect-uris',
        app.redirectUri,
      ],
      env,
    );
    expect(registered.code).toBe(0);
    userId = await createUser(env, {
      username: 'ana',
      password: 'correct horse battery',
      scopes: 'notes:read',
    });
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: widths.desktop,
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await app?.close();
    const code = await auth?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it('shows the sign-in page with strict headers; a wrong password gets the generic error', async () => {
    const response = await page.goto(`${app.url}/login`);
    expect(new URL(page.url()).pathname).toBe('/oauth/authorize');
    const headers = response!.headers();
    expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(headers['content-security-policy']).not.toMatch(/script-src/);
    expect(headers['x-frame-options']).toBe('DENY');
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await screenshot('sign-in');

    await page.getByLabel('Username').fill('ana');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('The username or password is wrong.');
    await screenshot('sign-in-error');
  }, 30_000);

  it('refuses the form when its CSRF token is missing', async () => {
    await page.goto(`${app.url}/login`);
    await page.locator('input[name="csrf_token"]').evaluate((input: { remove(): void }) => {
      input.remove();
    });
    await page.getByLabel('Username').fill('ana');
    await page.getByLabel('Password').fill('correct horse battery');
    const [response] = await Promise.all([
      page.waitForResponse((res) => res.url().endsWith('/oauth/authorize/sign-in')),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(response.status()).toBe(403);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/form has expired/);
    const cookies = await context.cookies(env.ISSUER);
    expect(cookies.some((cookie) => cookie.name === 'tessera-session')).toBe(false);
  }, 30_000);

  it('signs in with the keyboard alone, grants consent, and the app holds verified tokens', async () => {
    await page.goto(`${app.url}/login`);
    // The username field has the focus; Tab reaches the password, Enter submits.
    await page.keyboard.type('ana');
    await page.keyboard.press('Tab');
    await page.keyboard.type('correct horse battery');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/oauth\/authorize\/sign-in$/);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toMatch(
      /Allow notes-app access\?/,
    );
    await screenshot('consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${app.url}/callback?**`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Signed in as ana');

    const result = app.results.at(-1)!;
    expect(result.error).toBeUndefined();
    const callback = new URL(result.callbackUrl);
    expect(callback.searchParams.get('iss')).toBe(env.ISSUER);
    expect(result.tokens!.claims()).toMatchObject({ sub: userId, aud: 'notes-app', iss: env.ISSUER });
    expect(result.tokens!.scope).toBe('openid profile notes:read');
    expect(result.userinfo).toEqual({ sub: userId, preferred_username: 'ana' });

    // The session cookie: HttpOnly, SameSite=Lax, not prefixed under this plain-http issuer.
    const session = (await context.cookies(env.ISSUER)).find((cookie) => cookie.name === 'tessera-session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  }, 30_000);

  it('a replayed code is refused and revokes the tokens issued from it', async () => {
    const result = app.results.at(-1)!;
    const replay = await fetch(`${env.ISSUER}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'notes-app',
        code: result.code,
        redirect_uri: app.redirectUri,
        code_verifier: result.codeVerifier,
      }),
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    const userinfo = await fetch(`${env.ISSUER}/oauth/userinfo`, {
      headers: { Authorization: `Bearer ${result.tokens!.access_token}` },
    });
    expect(userinfo.status).toBe(401);
  });

  it('signed in and consent remembered: the next sign-in goes straight back to the app', async () => {
    await page.goto(`${app.url}/login`);
    await page.waitForURL(`${app.url}/callback?**`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Signed in as ana');
  }, 30_000);

  it('an unregistered redirect URI gets an error page, not a redirect', async () => {
    const url = new URL(`${env.ISSUER}/oauth/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: 'notes-app',
      redirect_uri: 'https://evil.example/callback',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const response = await page.goto(url.href);
    expect(response!.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(env.ISSUER);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/not registered/);
    await screenshot('error');
  }, 30_000);
});
