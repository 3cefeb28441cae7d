// End-to-end test of the configuration page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core). It starts the real binary on a fresh data directory, goes through
// first-run setup, sign-out and sign-in, creates an organization, enables SCIM, copies the SCIM
// URL, adds, reveals and copies an API key, provisions a user and a group through SCIM with
// that key (Node's fetch, as an identity provider would), checks that the page shows them,
// revokes the user, adds a read key, rotates keys with and without grace and revokes them
// (checking what each key may do), and follows a webhook endpoint end to end: a receiver in
// this script checks every Standard Webhooks signature by hand, fails on purpose, and the page
// shows the deliveries and retries. The LDAP view shows where LDAP listens (the server runs with
// --ldap-listen), the base DN, which is edited (a duplicate and a malformed one are refused
// inline), the service accounts' bind DNs and each application's settings filled in with the
// base DN. axe-core checks every view for WCAG 2.1 A/AA violations.
//
//   node tests/browser/e2e.mjs [path/to/scim-appliance] [artifact dir]
//
// Screenshots of every page go to the artifact directory (default target/browser-artifacts).
// Run it through tests/browser/run.sh, which installs what it needs and builds the binary.

import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const binary = resolve(process.argv[2] || 'target/release/scim-appliance');
const artifacts = resolve(process.argv[3] || 'target/browser-artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'another long passphrase 42';
const ORG_NAME = 'Acme & Co <b>e2e</b>';
const USER_NAME = 'alice@example.com';
const DISPLAY_NAME = 'Alice <img src=x onerror=alert(1)> Example';

let passed = 0;
let failed = 0;
let server = null;
let serverLog = '';
let context = null;
let page = null;
const temps = [];
const consoleProblems = [];
let receiver = null;
let allowedConsole = null; // a RegExp of console errors a step expects (e.g. a 401 it provokes)
// axe-core's source, evaluated in the page through the DevTools protocol: the page's CSP
// (script-src 'self') would refuse a <script> tag, and bypassing the CSP would hide the very
// violations this test watches for.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

function log(message) {
  process.stdout.write(`${message}\n`);
}

function check(condition, description) {
  if (!condition) {
    failed += 1;
    throw new Error(`check failed: ${description}`);
  }
  passed += 1;
  log(`  ok - ${description}`);
}

/** Polls fn until it returns a truthy value (an explicit wait on a condition, not a sleep). */
async function until(fn, description, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      failed += 1;
      throw new Error(`timed out waiting for ${description} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function step(name, fn) {
  log(`# ${name}`);
  await fn();
}

/** Basic accessibility checks on the page as shown: labelled controls, one h1, unique ids. */
async function checkAccessibility(name) {
  const problems = await page.evaluate(() => {
    const found = [];
    const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    for (const control of document.querySelectorAll('input, select, textarea, button')) {
      if (!visible(control) || control.type === 'hidden') continue;
      const named = control.tagName === 'BUTTON'
        ? (control.textContent.trim() || control.getAttribute('aria-label'))
        : (control.labels && control.labels.length) || control.getAttribute('aria-label');
      if (!named) found.push(`unlabelled ${control.tagName.toLowerCase()} ${control.outerHTML.slice(0, 80)}`);
    }
    const h1s = [...document.querySelectorAll('h1')].filter(visible);
    if (h1s.length !== 1) found.push(`${h1s.length} visible h1 elements`);
    const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
    const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (dup.length) found.push(`duplicate ids: ${[...new Set(dup)].join(', ')}`);
    for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) found.push('img without alt');
    return found;
  });
  check(problems.length === 0, `${name}: labelled controls, one h1, unique ids${problems.length ? ` — ${problems.join('; ')}` : ''}`);
}

/** Runs axe-core on the page as shown (WCAG 2.1 A and AA) and fails on any violation. */
async function axe(name) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async (tags) => {
    const results = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return { rules: results.passes.length + results.violations.length + results.incomplete.length, violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, ' ').trim()})` : ''}`),
    })) };
  }, AXE_TAGS);
  const { rules, violations } = result;
  const report = violations.map((v) => `${v.id} [${v.impact}] ${v.help}:\n      ${v.targets.join('\n      ')}`).join('\n    ');
  check(violations.length === 0, `${name}: axe-core finds no WCAG 2.1 A/AA violation (${rules} rules applied)${violations.length ? `:\n    ${report}` : ''}`);
}

async function shot(name) {
  await checkAccessibility(name);
  await axe(name);
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  log(`  screenshot ${path}`);
}

function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'scim-e2e-data-'));
  temps.push(dataDir);
  server = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--ldap-listen', '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const collect = (chunk) => { serverLog += chunk.toString(); };
  server.stdout.on('data', collect);
  server.stderr.on('data', collect);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not print its address and setup link:\n${serverLog}`)), 20_000);
    const look = () => {
      const base = serverLog.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const setup = serverLog.match(/(https?:\/\/\S+\/setup#token=[A-Za-z0-9_-]+)/);
      if (base && setup) {
        clearTimeout(timer);
        resolvePromise({ base: base[1], setupUrl: setup[1] });
      }
    };
    server.stdout.on('data', look);
    server.stderr.on('data', look);
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}):\n${serverLog}`));
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function scim(method, url, key, body) {
  const response = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${key}`,
      Accept: 'application/scim+json',
      ...(body ? { 'Content-Type': 'application/scim+json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/**
 * A loopback webhook receiver that records every request and answers with `status` (a test
 * changes it to make deliveries fail).
 */
function startReceiver() {
  const receiver = { requests: [], status: 204, server: null, url: null };
  receiver.server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try { json = JSON.parse(body); } catch { json = null; }
      const status = receiver.status;
      receiver.requests.push({ method: req.method, path: req.url, headers: req.headers, body, json, status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status >= 300 ? `the receiver answers ${status} on purpose` : '');
    });
  });
  return new Promise((resolvePromise) => {
    receiver.server.listen(0, '127.0.0.1', () => {
      receiver.url = `http://127.0.0.1:${receiver.server.address().port}`;
      resolvePromise(receiver);
    });
  });
}

/**
 * Verifies a delivery as the Standard Webhooks specification says, by hand: HMAC-SHA256 keyed
 * with the base64-decoded part of the secret after "whsec_", over "<id>.<timestamp>.<body>",
 * compared with each "v1,<base64>" of the webhook-signature header.
 */
function signatureValid({ headers, body }, secret) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures || !secret.startsWith('whsec_')) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((signature) => {
    const [version, value] = signature.split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** What has focus: "<body>", or the tag with its aria-label or text. */
const focused = () => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return '<body>';
  return `${el.tagName.toLowerCase()}: ${el.getAttribute('aria-label') || el.textContent.trim().replace(/\s+/g, ' ')}`;
});

/** Waits until no dialog is open and its close handler has run, then says what has focus. */
async function focusAfterDialog() {
  await until(async () => (await page.locator('dialog').count()) === 0, 'the dialog to close');
  await page.evaluate(() => new Promise((r) => { setTimeout(r, 150); }));
  return focused();
}

const heading = (name) => page.getByRole('heading', { level: 1, name, exact: true });
const tab = (name) => page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name, exact: true });
const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
const snippet = (app) => page.getByRole('region', { name: `${app} settings`, exact: true });

async function main() {
  mkdirSync(artifacts, { recursive: true });
  for (const file of readdirSync(artifacts)) {
    // No stale screenshots from an earlier run (only this script's own kinds of files).
    if (file.endsWith('.png') || file === 'server.log') rmSync(join(artifacts, file), { force: true });
  }
  check(existsSync(binary), `the binary exists (${binary})`);
  const { base, setupUrl } = await startServer();
  receiver = await startReceiver();
  log(`server at ${base}; setup link found in its log`);

  const profile = mkdtempSync(join(tmpdir(), 'scim-e2e-chromium-'));
  temps.push(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (allowedConsole && allowedConsole.test(text)) return;
    consoleProblems.push(`console error: ${text}`);
  });
  page.on('pageerror', (error) => consoleProblems.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => {
    consoleProblems.push(`unexpected JavaScript dialog: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });

  await step('security headers on the page', async () => {
    const response = await page.goto(`${base}/`);
    const headers = response.headers();
    check(response.status() === 200, 'GET / answers 200');
    const csp = headers['content-security-policy'] || '';
    check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"),
      `Content-Security-Policy is strict (${csp})`);
    check(headers['x-frame-options'] === 'DENY', 'X-Frame-Options: DENY');
    check(headers['x-content-type-options'] === 'nosniff', 'X-Content-Type-Options: nosniff');
    check(Boolean(headers['referrer-policy']), `Referrer-Policy is set (${headers['referrer-policy']})`);
    await heading('Finish setting up scim-appliance').waitFor();
    check(await page.getByText('scim-appliance admin set-password').first().isVisible(),
      'without the setup link, the page explains how to set the password');
    await axe('00-setup-missing');
    for (const asset of ['app.js', 'app.css', 'favicon.svg']) {
      const r = await fetch(`${base}/assets/${asset}`);
      check(r.status === 200 && (r.headers.get('x-content-type-options') === 'nosniff'), `/assets/${asset} is served with nosniff`);
    }
  });

  await step('first-run setup through the setup link', async () => {
    const response = await page.goto(setupUrl);
    check(response.headers()['content-security-policy'] !== undefined, '/setup carries the CSP too');
    await heading('Choose the admin password').waitFor();
    await shot('01-setup');
    await page.getByLabel('New admin password').fill('too short');
    await page.getByLabel('Confirm the password').fill('too short');
    await page.getByRole('button', { name: 'Save password and sign in' }).click();
    await page.getByRole('alert').getByText('must have at least 12 characters').waitFor();
    check(true, 'a short password is refused with a clear message');
    await page.getByLabel('New admin password').fill(PASSWORD);
    await page.getByLabel('Confirm the password').fill(`${PASSWORD}!`);
    await page.getByRole('button', { name: 'Save password and sign in' }).click();
    await page.getByRole('alert').getByText('The two passwords are not the same.').waitFor();
    check(true, 'different confirmation is refused');
    await page.getByLabel('Confirm the password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Save password and sign in' }).click();
    await heading('Organizations').waitFor();
    check(!page.url().includes('token') && new URL(page.url()).pathname === '/', `the token is removed from the URL (${page.url()})`);
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'scim_admin_session');
    check(Boolean(session), 'the session cookie is set');
    check(session.httpOnly === true, 'the session cookie is HttpOnly');
    check(session.sameSite === 'Strict', 'the session cookie is SameSite=Strict');
    await page.getByText('No organizations yet').waitFor();
    check(true, 'the empty organizations list explains what to do');
  });

  await step('sign out and sign in again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in').waitFor();
    await page.getByText('You have signed out.').waitFor();
    await shot('02-sign-in');
    allowedConsole = /status of 401/;
    await page.getByLabel('Admin password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.locator('.form-error');
    await error.waitFor();
    check((await error.textContent()).trim().length > 0, `a wrong password shows the API's message (${(await error.textContent()).trim()})`);
    allowedConsole = null;
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Organizations').waitFor();
    check(true, 'signed in with the password');
  });

  let orgId;
  let scimUrl;
  let firstKey;
  let provisionKey;
  let webhookId;
  await step('create an organization and set up SCIM', async () => {
    await page.getByLabel('Name', { exact: true }).fill(ORG_NAME);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await heading(ORG_NAME).waitFor();
    check(true, 'the organization name is shown as text, not markup');
    await tab('SCIM provisioning').click();
    await until(async () => (await tab('SCIM provisioning').getAttribute('aria-current')) === 'page', 'the SCIM provisioning tab to be current');
    orgId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const enable = page.getByLabel('Enable SCIM');
    check(!(await enable.isChecked()), 'a new organization has SCIM disabled');
    await page.getByText('identity providers get 401').first().waitFor();
    await enable.check();
    await page.locator('#org-scim-badge', { hasText: 'SCIM on' }).waitFor();
    check(await enable.isChecked(), 'SCIM is enabled');

    const urlInput = page.getByLabel('SCIM URL');
    scimUrl = await urlInput.inputValue();
    check(scimUrl === `${base}/v2/${orgId}`, `the SCIM URL is <public-url>/v2/<org-id> (${scimUrl})`);
    const urlField = page.locator('.field', { has: urlInput });
    await urlField.getByRole('button', { name: 'Copy' }).click();
    await urlField.getByRole('button', { name: 'Copied' }).waitFor();
    check(await clipboard() === scimUrl, 'the Copy button put the SCIM URL on the clipboard');
    check(await page.locator('#announcer').textContent() === 'Copied' || await until(async () => (await page.locator('#announcer').textContent()) === 'Copied', 'the announcement'), '"Copied" is announced');

    await page.getByText('This organization has no API key yet.').waitFor();
    await page.getByRole('button', { name: 'Add key' }).click();
    const add = page.getByRole('dialog', { name: 'Add an API key' });
    await add.getByLabel('Name').fill('Entra ID');
    check(await add.getByLabel('Provision').isChecked(), 'the first key is a provision key by default');
    await add.getByRole('button', { name: 'Add key' }).click();
    await page.getByRole('heading', { name: 'Your new API key “Entra ID”' }).waitFor();
    check(await focusAfterDialog() === 'h3: Your new API key “Entra ID”', 'after adding, focus is on the new key’s heading');
    await page.getByText('This API key can manage your organization’s members.').waitFor();
    const keyInput = page.getByLabel('API key', { exact: true });
    check(await keyInput.getAttribute('type') === 'password', 'the new key is masked');
    await shot('05-settings');
    await page.getByRole('button', { name: 'Reveal' }).click();
    check(await keyInput.getAttribute('type') === 'text', 'Reveal shows the key');
    check(await page.getByRole('button', { name: 'Hide' }).getAttribute('aria-pressed') === 'true', 'the toggle is aria-pressed');
    firstKey = await keyInput.inputValue();
    check(firstKey.startsWith('scim_'), 'the key looks like scim_…');
    const keyField = page.locator('.field', { has: keyInput });
    await keyField.getByRole('button', { name: 'Copy' }).click();
    await keyField.getByRole('button', { name: 'Copied' }).waitFor();
    check(await clipboard() === firstKey, 'the Copy button put the API key on the clipboard');
    await page.getByRole('button', { name: 'Hide' }).click();
    check(await keyInput.getAttribute('type') === 'password', 'Hide masks the key again');
  });

  let userId;
  let groupId;
  await step('provision a user and a group through SCIM with the copied URL and key', async () => {
    const user = await scim('POST', `${scimUrl}/Users`, firstKey, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: USER_NAME,
      externalId: 'ext-alice-1',
      name: { givenName: 'Alice', familyName: 'Example' },
      displayName: DISPLAY_NAME,
      emails: [{ value: USER_NAME, type: 'work', primary: true }],
      active: true,
    });
    check(user.status === 201, `POST /Users answers 201 (${user.status})`);
    userId = user.body.id;
    const group = await scim('POST', `${scimUrl}/Groups`, firstKey, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Engineering',
      externalId: 'ext-eng',
      members: [{ value: userId }],
    });
    check(group.status === 201, `POST /Groups answers 201 (${group.status})`);
    groupId = group.body.id;
    const bob = await scim('POST', `${scimUrl}/Users`, firstKey, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'bob@example.com',
      displayName: 'Bob Builder',
      emails: [{ value: 'bob@example.com', type: 'work', primary: true }],
    });
    check(bob.status === 201, `a second user is created (${bob.status})`);
  });

  await step('members, member detail, groups and group detail show them', async () => {
    await tab('Members').click();
    await page.getByLabel('Search').fill('alice');
    await until(() => page.url().includes('q=alice'), 'the search to be kept in the URL');
    const row = page.getByRole('row', { name: new RegExp(USER_NAME.replace('.', '\\.')) });
    await row.waitFor();
    check(await row.getByText('Active', { exact: true }).isVisible(), 'the member is listed as Active');
    check(await row.getByText(DISPLAY_NAME, { exact: true }).isVisible(), 'the display name is shown literally (no markup)');
    check(await row.getByRole('link', { name: 'Engineering' }).isVisible(), 'the member row lists its group');
    await page.getByText('1–1 of 1').waitFor();
    await shot('06-members');

    await page.goto(`${base}/#/orgs/${orgId}/members?per_page=1`);
    await page.getByText('1–1 of 2').waitFor();
    check(await page.getByRole('link', { name: USER_NAME, exact: true }).isVisible(), 'page 1 of 1 per page shows alice');
    await page.getByRole('link', { name: 'Next' }).click();
    await page.getByText('2–2 of 2').waitFor();
    check(page.url().includes('page=2') && await page.getByRole('link', { name: 'bob@example.com' }).isVisible(), 'Next shows page 2 (bob) and keeps it in the URL');
    await page.goBack();
    await page.getByText('1–1 of 2').waitFor();
    check(true, 'the browser Back button returns to page 1');
    await page.getByRole('link', { name: USER_NAME, exact: true }).click();
    await page.getByRole('heading', { name: 'SCIM resource' }).waitFor();
    const details = page.locator('dl.details');
    await details.getByText('ext-alice-1').waitFor();
    check(await details.getByText(userId).isVisible(), 'the member detail shows the id');
    const json = JSON.parse(await page.locator('pre.json').textContent());
    check(json.id === userId && json.userName === USER_NAME && json.name.givenName === 'Alice', 'the full SCIM resource is shown as JSON');
    await shot('07-member-detail');

    await tab('Groups').click();
    const groupRow = page.getByRole('row', { name: /Engineering/ });
    await groupRow.waitFor();
    check(await groupRow.getByRole('cell', { name: '1', exact: true }).isVisible(), 'the group lists 1 member');
    await shot('08-groups');
    await groupRow.getByRole('link', { name: 'Engineering' }).click();
    await page.getByRole('heading', { name: 'Members of this group' }).waitFor();
    await page.getByRole('link', { name: USER_NAME }).waitFor();
    check(page.url().includes(groupId), 'the group detail is the provisioned group');
    await shot('09-group-detail');
  });

  await step('the event log lists the provisioning events', async () => {
    await tab('Event log').click();
    await page.getByRole('cell', { name: 'OrganizationUser_Invited' }).first().waitFor();
    await page.getByRole('cell', { name: 'Group_Created' }).waitFor();
    const scimActor = page.getByRole('row', { name: /Group_Created/ }).getByText('SCIM', { exact: true });
    check(await scimActor.isVisible(), 'SCIM events name SCIM as the actor');
    await page.getByLabel('Type').selectOption('Group_Created');
    await until(() => page.url().includes('type=Group_Created'), 'the type filter in the URL');
    await until(async () => (await page.getByRole('cell', { name: 'OrganizationUser_Invited' }).count()) === 0, 'the type filter to apply');
    check(await page.getByRole('cell', { name: 'Group_Created' }).isVisible(), 'filtering by type keeps Group_Created');
    await page.getByLabel('Type').selectOption('');
    await page.getByRole('cell', { name: 'OrganizationUser_Invited' }).first().waitFor();
    await shot('10-events');

    const rows = page.locator('tbody tr');
    const firstRows = async () => (await rows.allTextContents()).join('|');
    await page.goto(`${base}/#/orgs/${orgId}/events?limit=2`);
    await until(async () => (await rows.count()) === 2, 'two events per page');
    const newest = await firstRows();
    await page.getByRole('link', { name: 'Older' }).click();
    await until(async () => page.url().includes('before=') && (await firstRows()) !== newest && (await rows.count()) === 2, 'the older page');
    const second = await firstRows();
    await page.getByRole('link', { name: 'Older' }).click();
    await until(async () => (await firstRows()) !== second && !(await firstRows()).includes(newest), 'the third page');
    await page.getByRole('link', { name: 'Newer' }).click();
    await until(async () => (await firstRows()) === second, 'Newer to return to the second page');
    await page.getByRole('link', { name: 'Newer' }).click();
    await until(async () => (await firstRows()) === newest && !page.url().includes('before='), 'Newer to return to the newest page');
    check(true, 'Older and Newer page through the event log');
  });

  await step('the overview counts and charts the activity', async () => {
    await tab('Overview').click();
    const stats = page.locator('dl.stats');
    await stats.waitFor();
    const value = async (label) => (await stats.locator('.stat', { has: page.getByText(label, { exact: true }) }).locator('dd').textContent()).trim();
    check(await value('Members') === '2', 'Members: 2');
    check(await value('Active') === '2', 'Active: 2');
    check(await value('Groups') === '1', 'Groups: 1');
    const chart = page.getByRole('img', { name: /Provisioning events per day/ });
    await chart.waitFor();
    check(await page.locator('svg.chart-svg rect.chart-bar').count() >= 1, 'today has a bar in the chart');
    const description = await page.locator('svg.chart-svg desc').textContent();
    check(/\d+ events?/.test(description), `the chart has a text alternative (${description})`);
    await shot('04-overview');
  });

  await step('revoking through SCIM shows Revoked', async () => {
    const revoke = await scim('PATCH', `${scimUrl}/Users/${userId}`, firstKey, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    check(revoke.status === 200 && revoke.body.active === false, 'PATCH active=false answers 200');
    await page.goto(`${base}/#/orgs/${orgId}/members?status=revoked`);
    const row = page.getByRole('row', { name: new RegExp(USER_NAME.replace('.', '\\.')) });
    await row.getByText('Revoked', { exact: true }).waitFor();
    check(await page.getByLabel('Status').inputValue() === 'revoked', 'the status filter comes from the URL');
    await page.goto(`${base}/#/orgs/${orgId}/events`);
    await page.getByRole('cell', { name: 'OrganizationUser_Revoked' }).waitFor();
    check(true, 'the Revoked event is in the event log');
    await page.goto(`${base}/#/orgs/${orgId}/members/${userId}`);
    await page.getByRole('link', { name: 'Events of this member' }).click();
    await until(() => page.url().includes(`member=${userId}`), 'the member filter in the URL');
    await page.getByRole('cell', { name: 'OrganizationUser_Revoked' }).waitFor();
    await until(async () => (await page.getByRole('cell', { name: 'Group_Created' }).count()) === 0, 'the member filter to apply');
    check(true, 'the member link filters the event log');
  });

  await step('API keys: a read key, rotation with grace, revocation', async () => {
    await page.goto(`${base}/#/orgs/${orgId}/settings`);
    await page.getByRole('table', { name: 'API keys' }).waitFor();
    const keyId = async () => (await page.locator('.fresh-key dl.meta code').first().textContent()).trim();
    const revealedKey = async () => {
      await page.locator('.fresh-key').getByRole('button', { name: 'Reveal' }).click();
      return page.locator('.fresh-key').getByLabel('API key', { exact: true }).inputValue();
    };

    await page.getByRole('button', { name: 'Add key' }).click();
    const add = page.getByRole('dialog', { name: 'Add an API key' });
    await add.getByLabel('Name').waitFor();
    await axe('add-key dialog');
    await add.getByRole('button', { name: 'Add key' }).click();
    await add.getByRole('alert').getByText('Enter a name for the key.').waitFor();
    check(true, 'a key needs a name');
    await add.getByLabel('Name').fill('wiki sync');
    await add.getByLabel('Read only').check();
    await add.getByLabel('Expires').selectOption('30');
    await add.getByRole('button', { name: 'Add key' }).click();
    await page.getByRole('heading', { name: 'Your new API key “wiki sync”' }).waitFor();
    check(await focusAfterDialog() === 'h3: Your new API key “wiki sync”', 'after adding, focus is on the new key’s heading, not <body>');
    await page.getByText('This API key can read your organization’s directory.').waitFor();
    const readId = await keyId();
    const row = page.getByRole('row', { name: new RegExp(readId) });
    check(await row.getByText('Read only').isVisible() && await row.getByText('in 30 days').isVisible(), 'the table lists it as read only, expiring in 30 days');
    await shot('15-keys');
    const readKey = await revealedKey();
    check(readKey.startsWith(`scim_${readId}`), `the read key is shown once (id ${readId})`);

    const list = await scim('GET', `${scimUrl}/Users`, readKey);
    check(list.status === 200 && list.body.totalResults === 2, `the read key can GET /Users (${list.status})`);
    const search = await scim('POST', `${scimUrl}/Users/.search`, readKey, { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName eq "bob@example.com"' });
    check(search.status === 200 && search.body.totalResults === 1, `the read key can POST /Users/.search (${search.status})`);
    const write = await scim('POST', `${scimUrl}/Users`, readKey, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'mallory@example.com' });
    check(write.status === 403 && /only read/.test(write.body.detail || ''), `the read key gets 403 on POST /Users (${write.status}: ${write.body && write.body.detail})`);

    await page.getByRole('button', { name: `Rotate wiki sync (${readId})` }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate “wiki sync”?' });
    await rotate.getByLabel('Stop the old key now').waitFor();
    check(await rotate.getByLabel('Stop the old key now').isChecked(), 'rotation stops the old key at once unless told otherwise');
    await axe('rotate-key dialog');
    await rotate.getByLabel('Keep the old key valid for 1 hour').check();
    await rotate.getByRole('button', { name: 'Rotate key' }).click();
    await page.getByText('which keeps working until').waitFor();
    check(await focusAfterDialog() === 'h3: Your new API key “wiki sync”', 'after rotating, focus is on the new key’s heading');
    const rotatedId = await keyId();
    const rotatedKey = await revealedKey();
    check(rotatedId !== readId && rotatedKey !== readKey, 'rotation issued a new read key');
    const oldStill = await scim('GET', `${scimUrl}/Users`, readKey);
    const fresh = await scim('GET', `${scimUrl}/Users`, rotatedKey);
    check(oldStill.status === 200 && fresh.status === 200, `during the grace period both keys work (${oldStill.status}, ${fresh.status})`);
    check(await page.getByRole('row', { name: new RegExp(readId) }).getByText('in 60 minutes').isVisible(), 'the replaced key is listed as expiring in 60 minutes');

    // Cancelling with Escape returns focus to the button that opened the dialog.
    const revokeOld = page.getByRole('button', { name: `Revoke wiki sync (${readId})` });
    await revokeOld.click();
    const revoke = page.getByRole('dialog', { name: 'Revoke “wiki sync”?' });
    await revoke.getByText('stops working immediately').waitFor();
    await axe('revoke-key dialog');
    await page.keyboard.press('Escape');
    check(await focusAfterDialog() === `button: Revoke wiki sync (${readId})`, 'Escape returns focus to the Revoke button');

    await revokeOld.click();
    await revoke.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByRole('status').getByText(`Key “wiki sync” (${readId}) was revoked.`).waitFor();
    check(await focusAfterDialog() === 'h2: API keys', 'after revoking, focus is on the keys heading, and the status region says what happened');
    check(await page.getByRole('row', { name: new RegExp(readId) }).count() === 0, 'the revoked key is gone from the table');
    check(await page.locator('.fresh-key').getByText('which has stopped working').isVisible(), 'the note under the new key now says the key it replaced has stopped working');
    const revoked = await scim('GET', `${scimUrl}/Users`, readKey);
    check(revoked.status === 401, `the revoked key gets 401 at once, grace or not (${revoked.status})`);
    const remaining = await scim('GET', `${scimUrl}/Users`, rotatedKey);
    check(remaining.status === 200, `the rotated read key still works (${remaining.status})`);
    await shot('16-keys-after-revoke');
  });

  await step('rotating the provision key on the page refuses the old key', async () => {
    await page.goto(`${base}/#/orgs/${orgId}/settings`);
    await page.getByRole('button', { name: /^Rotate Entra ID/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate “Entra ID”?' });
    await dialog.getByText('Anything still using it gets 401').waitFor();
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    await page.getByText('which has stopped working').waitFor();
    check(await focusAfterDialog() === 'h3: Your new API key “Entra ID”', 'focus is on the new key’s heading');
    await page.getByRole('button', { name: 'Reveal' }).click();
    provisionKey = await page.getByLabel('API key', { exact: true }).inputValue();
    check(provisionKey.startsWith('scim_') && provisionKey !== firstKey, 'a new key is shown');
    const old = await scim('GET', `${scimUrl}/Users`, firstKey);
    check(old.status === 401, `the old key gets 401 (${old.status})`);
    const fresh = await scim('GET', `${scimUrl}/Users`, provisionKey);
    check(fresh.status === 200 && fresh.body.totalResults === 2, `the new key gets 200 (${fresh.status})`);
  });

  await step('LDAP: where it listens, the base DN, service accounts and application settings', async () => {
    const ldapPort = Number((serverLog.match(/LDAP listening on ldap:\/\/127\.0\.0\.1:(\d+)/) || [])[1]);
    check(ldapPort > 0, `the server says where LDAP listens (port ${ldapPort})`);
    await page.goto(`${base}/#/orgs/${orgId}/settings`);
    await tab('LDAP').click();
    await until(async () => (await tab('LDAP').getAttribute('aria-current')) === 'page', 'the LDAP tab to be current');
    const listeners = page.locator('dl.ldap-listeners');
    const ldapRow = listeners.locator('div', { has: page.getByText('LDAP', { exact: true }) });
    await ldapRow.getByText('Listening').waitFor();
    check(await ldapRow.getByText(`ldap://127.0.0.1:${ldapPort}`).isVisible(), 'the page says LDAP listens, and where');
    const ldapsRow = listeners.locator('div', { has: page.getByText('LDAPS', { exact: true }) });
    check(await ldapsRow.getByText('Off').isVisible() && await ldapsRow.getByText('--ldaps-listen 0.0.0.0:636').isVisible(),
      'LDAPS is off, with how to turn it on');

    const baseInput = page.getByLabel('Base DN');
    const initialBase = await baseInput.inputValue();
    check(/^dc=/.test(initialBase), `the base DN is shown (${initialBase})`);
    check(await page.locator('code.bind-dn-format').textContent() === `cn=<key id>,${initialBase}`, 'the bind DN format uses it');
    const readRow = page.locator('ul.bind-dns li', { hasText: 'wiki sync' });
    const readDn = (await readRow.locator('code').textContent()).trim();
    check(/^cn=[a-z0-9]+,/.test(readDn) && readDn.endsWith(`,${initialBase}`), `the read key is listed as a ready bind DN (${readDn})`);
    await readRow.getByRole('button', { name: 'Copy the bind DN of wiki sync' }).click();
    check(await until(async () => (await clipboard()) === readDn, 'the bind DN on the clipboard'), 'Copy puts the bind DN on the clipboard');
    for (const app of ['Gitea and Forgejo', 'Nextcloud', 'Jellyfin', 'Grafana', 'Authelia', 'SSSD (Linux hosts)']) {
      const text = await snippet(app).textContent();
      check(text.includes(initialBase) && text.includes(readDn) && text.includes(String(ldapPort)),
        `the ${app} settings hold the base DN, the bind DN and the port`);
    }
    const gitea = await snippet('Gitea and Forgejo').textContent();
    check(gitea.includes('(&(objectClass=person)(|(uid=%[1]s)(mail=%[1]s)))') && gitea.includes(`--user-search-base "ou=people,${initialBase}"`),
      'Gitea searches people by uid or mail under ou=people');
    await page.getByRole('button', { name: 'Copy the Grafana settings' }).click();
    check(await until(async () => (await clipboard()).includes(`search_base_dns = ["ou=people,${initialBase}"]`), 'the Grafana settings on the clipboard'),
      'Copy puts the Grafana settings on the clipboard');
    await shot('18-ldap');

    // Another organization holds dc=globex: taking its base is refused inline.
    await page.goto(`${base}/#/orgs`);
    await page.getByLabel('Name', { exact: true }).fill('Globex');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await heading('Globex').waitFor();
    await page.goto(`${base}/#/orgs/${orgId}/ldap`);
    await baseInput.waitFor();
    allowedConsole = /status of 40[09]/;
    await baseInput.fill('dc=globex');
    await page.getByRole('button', { name: 'Save' }).click();
    const error = page.getByRole('alert').filter({ hasText: 'already the base of organization' });
    await error.waitFor();
    check(await baseInput.getAttribute('aria-invalid') === 'true', 'a duplicate base DN is refused inline, the field marked invalid');
    const errorId = await error.getAttribute('id');
    check((await baseInput.getAttribute('aria-describedby')).split(' ').includes(errorId), 'the field is described by the error');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id) === await baseInput.getAttribute('id'),
      'focus is on the field');
    await axe('ldap: duplicate base DN');
    await baseInput.fill('not a DN');
    await page.getByRole('button', { name: 'Save' }).click();
    await until(async () => (await page.locator('.form-error').textContent()).length > 0 && !(await page.locator('.form-error').textContent()).includes('already the base'), 'the malformed DN error');
    check(await baseInput.getAttribute('aria-invalid') === 'true', `a malformed base DN is refused inline (${(await page.locator('.form-error').textContent()).trim()})`);
    allowedConsole = null;

    await baseInput.fill('dc=e2e,dc=example');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Saved' }).waitFor();
    check(await page.locator('.form-error').isHidden() && await baseInput.getAttribute('aria-invalid') === null, 'saving clears the error');
    await until(async () => (await page.locator('#announcer').textContent()) === 'Base DN saved: dc=e2e,dc=example', 'the announcement');
    check(await page.locator('code.bind-dn-format').textContent() === 'cn=<key id>,dc=e2e,dc=example', 'the bind DN format follows');
    check((await snippet('Nextcloud').textContent()).includes('ldapBase "dc=e2e,dc=example"'), 'the settings follow');
    await page.reload();
    await baseInput.waitFor();
    check(await baseInput.inputValue() === 'dc=e2e,dc=example', 'after a reload the new base DN is shown');
    check((await snippet('SSSD (Linux hosts)').textContent()).includes('ldap_user_search_base = ou=people,dc=e2e,dc=example'),
      'and the settings hold it');
  });

  await step('webhooks: a signed delivery, a test event, a failure and a retry', async () => {
    await tab('Webhooks').click();
    await page.getByText('No webhook endpoints yet.').waitFor();
    await shot('17-webhooks-empty');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const add = page.getByRole('dialog', { name: 'Add a webhook endpoint' });
    await add.getByLabel('URL').waitFor();
    check(await add.getByLabel('All event types').isChecked(), 'a new endpoint gets every event type by default');
    await axe('add-endpoint dialog');
    await add.getByLabel('URL').fill(`${receiver.url}/hooks/scim`);
    await add.getByLabel('Description (optional)').fill('e2e receiver');
    await add.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('heading', { name: 'The signing secret of the new endpoint' }).waitFor();
    check(await focusAfterDialog() === 'h3: The signing secret of the new endpoint', 'after adding, focus is on the secret’s heading');
    const secretInput = page.getByLabel('Signing secret', { exact: true });
    check(await secretInput.getAttribute('type') === 'password', 'the secret is masked');
    await page.getByRole('button', { name: 'Reveal' }).click();
    const secret = await secretInput.inputValue();
    check(/^whsec_[A-Za-z0-9+/=]+$/.test(secret), 'the secret looks like whsec_<base64>');
    const secretField = page.locator('.field', { has: secretInput });
    await secretField.getByRole('button', { name: 'Copy' }).click();
    await secretField.getByRole('button', { name: 'Copied' }).waitFor();
    check(await clipboard() === secret, 'Copy put the secret on the clipboard');
    const endpointRow = page.getByRole('row', { name: /e2e receiver/ });
    check(await endpointRow.getByText('All events', { exact: true }).isVisible() && await endpointRow.getByText('Enabled', { exact: true }).isVisible(), 'the endpoint is listed, enabled, for all events');
    await shot('18-webhooks');

    const carol = await scim('POST', `${scimUrl}/Users`, provisionKey, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'carol@example.com',
      displayName: 'Carol Webhook',
      emails: [{ value: 'carol@example.com', type: 'work', primary: true }],
    });
    check(carol.status === 201, `a user is provisioned (${carol.status})`);
    const created = await until(() => receiver.requests.find((r) => r.json && r.json.type === 'member.created'
      && r.json.data && r.json.data.member && r.json.data.member.userName === 'carol@example.com'), 'the receiver to get member.created');
    check(created.method === 'POST' && created.path === '/hooks/scim', `it was a POST to the endpoint’s path (${created.method} ${created.path})`);
    check(/^msg_/.test(created.headers['webhook-id'] || '') && /^\d+$/.test(created.headers['webhook-timestamp'] || '')
      && /^v1,/.test(created.headers['webhook-signature'] || ''), 'it carries webhook-id, webhook-timestamp and webhook-signature');
    check(Math.abs(Number(created.headers['webhook-timestamp']) - Date.now() / 1000) < 300, 'the timestamp is now');
    check(signatureValid(created, secret), 'the signature verifies with the secret shown once');
    check(!signatureValid({ ...created, body: `${created.body} ` }, secret), 'a changed body does not verify (the check is real)');
    check(created.json.data.organization.id === orgId && created.json.data.member.id === carol.body.id
      && created.json.data.event.name === 'OrganizationUser_Invited', 'the body names the organization, the event and the member as created');
    const carolMsg = created.headers['webhook-id'];

    await endpointRow.getByRole('link', { name: `${receiver.url}/hooks/scim` }).click();
    await page.getByRole('heading', { name: 'e2e receiver', level: 2 }).waitFor();
    webhookId = decodeURIComponent(new URL(page.url()).hash.split('/')[4]);
    const refresh = page.getByRole('button', { name: 'Refresh' });
    const attempts = page.getByRole('table', { name: /Recent delivery attempts/ });
    const pending = page.getByRole('table', { name: /Undelivered messages/ });
    await until(async () => {
      await refresh.click();
      return (await attempts.getByRole('row', { name: new RegExp(carolMsg) }).filter({ hasText: 'Delivered' }).count()) === 1;
    }, 'the delivery to show in the deliveries view');
    check(await attempts.getByRole('row', { name: new RegExp(carolMsg) }).getByText('member.created').isVisible(), 'the deliveries view lists the member.created delivery');

    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').getByText(/^Test event: Delivered: HTTP 204/).waitFor();
    check(true, 'Send test event shows the attempt’s result');
    const test = await until(() => receiver.requests.find((r) => r.json && r.json.type === 'webhook.test'), 'the receiver to get webhook.test');
    check(signatureValid(test, secret), 'the test event is signed too');
    await shot('19-webhook-deliveries');

    // The receiver fails: the attempt and the waiting message show, and "Retry" sends it again
    // at once (the next automatic try is minutes away after two failures).
    receiver.status = 500;
    const dave = await scim('POST', `${scimUrl}/Users`, provisionKey, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'dave@example.com',
      emails: [{ value: 'dave@example.com', type: 'work', primary: true }],
    });
    check(dave.status === 201, `the SCIM request succeeds while the receiver fails (${dave.status})`);
    const daveRequests = () => receiver.requests.filter((r) => r.json && r.json.type === 'member.created' && r.json.data.member.userName === 'dave@example.com');
    await until(() => daveRequests().length >= 2, 'two failed attempts (the first retry comes after about 5 s)', 20_000);
    const daveMsg = daveRequests()[0].headers['webhook-id'];
    const waiting = pending.getByRole('row', { name: new RegExp(daveMsg) });
    await until(async () => {
      await refresh.click();
      return (await waiting.count()) === 1 && /in \d+ minutes/.test(await waiting.textContent());
    }, 'the message to wait minutes for its next try');
    check((await waiting.textContent()).includes('answers 500 on purpose'), 'the undelivered message shows the receiver’s answer as its last error');
    check(await attempts.getByRole('row', { name: new RegExp(daveMsg) }).filter({ hasText: 'Failed' }).count() === 2, 'both failed attempts are listed');
    check(await page.locator('dl.details').getByText('Failing', { exact: true }).isVisible(), 'the endpoint shows as failing');
    await shot('20-webhook-failing');

    receiver.status = 204;
    await waiting.getByRole('button', { name: `Retry member.created message ${daveMsg}` }).click();
    await page.getByRole('status').getByText('1 message is queued for delivery again.').waitFor();
    check(await focused() === 'h2: Undelivered messages', 'after Retry, focus is on the undelivered messages heading');
    await until(() => daveRequests().some((r) => r.status === 204), 'the retried delivery to arrive', 10_000);
    check(new Set(daveRequests().map((r) => r.headers['webhook-id'])).size === 1, 'every try carries the same webhook-id');
    check(daveRequests().every((r) => signatureValid(r, secret)), 'every try is signed');
    await until(async () => {
      await refresh.click();
      return (await page.getByText('Nothing is waiting').count()) === 1;
    }, 'the backlog to empty');
    check(await attempts.getByRole('row', { name: new RegExp(daveMsg) }).filter({ hasText: 'Delivered' }).count() === 1, 'the retry is listed as delivered');

    await page.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit the endpoint' });
    await edit.getByLabel('All event types').waitFor();
    await axe('edit-endpoint dialog');
    await edit.getByLabel('All event types').uncheck();
    for (const type of ['organization.key_added', 'organization.key_rotated', 'organization.key_revoked']) await edit.getByLabel(type, { exact: true }).uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    check(await focusAfterDialog() === 'h2: e2e receiver', 'after saving, focus is on the endpoint’s heading');
    const events = await page.locator('dl.details').locator('div', { has: page.getByText('Events', { exact: true }) }).textContent();
    check(events.includes('member.created') && !events.includes('organization.key_added'), 'the endpoint now lists the chosen types');

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await rotate.getByText('also signs for 24 hours').waitFor();
    await axe('rotate-secret dialog');
    await rotate.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('heading', { name: 'Your new signing secret' }).waitFor();
    check(await focusAfterDialog() === 'h3: Your new signing secret', 'after rotating, focus is on the new secret’s heading');
    await page.getByRole('button', { name: 'Reveal' }).click();
    const newSecret = await page.getByLabel('Signing secret', { exact: true }).inputValue();
    check(newSecret.startsWith('whsec_') && newSecret !== secret, 'a new secret is shown');
    const tests = () => receiver.requests.filter((r) => r.json && r.json.type === 'webhook.test');
    const before = tests().length;
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').getByText(/^Test event: Delivered/).waitFor();
    const second = await until(() => tests().length > before && tests()[tests().length - 1], 'the second test event');
    check(signatureValid(second, newSecret) && signatureValid(second, secret), 'after rotation, deliveries verify with the new and the old secret');

    const enabled = page.getByLabel('Enabled', { exact: true });
    await enabled.uncheck();
    await page.locator('dl.details').getByText('Disabled', { exact: true }).waitFor();
    await enabled.check();
    await page.locator('dl.details').getByText('Enabled', { exact: true }).waitFor();
    check(true, 'the endpoint can be disabled and enabled again');

    // A second endpoint, toggled from the list and deleted.
    await tab('Webhooks').click();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await add.getByLabel('URL').fill(`${receiver.url}/short-lived`);
    await add.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('heading', { name: 'The signing secret of the new endpoint' }).waitFor();
    const shortLived = page.getByRole('row', { name: /short-lived/ });
    await shortLived.getByRole('button', { name: `Disable ${receiver.url}/short-lived` }).click();
    await shortLived.getByRole('button', { name: `Enable ${receiver.url}/short-lived` }).waitFor();
    check(await focused() === `button: Enable ${receiver.url}/short-lived`, 'the toggle keeps focus');
    check(await shortLived.getByText('Disabled', { exact: true }).isVisible(), 'the list shows it disabled');
    await shortLived.getByRole('link').click();
    await page.getByRole('button', { name: 'Delete' }).click();
    const remove = page.getByRole('dialog', { name: /Delete the endpoint/ });
    await remove.getByText('This cannot be undone.').waitFor();
    await axe('delete-endpoint dialog');
    await remove.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByText(`The endpoint ${receiver.url}/short-lived was deleted.`).waitFor();
    check(await page.getByRole('row', { name: /short-lived/ }).count() === 0, 'the deleted endpoint is gone');
    await until(async () => (await focused()).startsWith('h1: '), 'focus on the page heading after deleting');
    check(true, 'after deleting, focus is on the page heading');
  });

  await step('organizations list, rename and delete', async () => {
    await page.goto(`${base}/#/orgs`);
    await heading('Organizations').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Temporary');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await heading('Temporary').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Organizations' }).click();
    const acme = page.getByRole('row', { name: /Acme/ });
    await acme.waitFor();
    check(await acme.getByText('SCIM on').isVisible(), 'the list shows SCIM on');
    check(await acme.getByText('3 / 4').isVisible(), 'the list shows 3 active of 4 members');
    check(await acme.locator('time').count() === 1, 'the list shows the last provisioning activity');
    await shot('03-orgs');

    await page.getByRole('button', { name: 'Rename Temporary' }).click();
    const rename = page.getByRole('dialog');
    await rename.getByLabel('New name').waitFor();
    await axe('rename dialog');
    await rename.getByLabel('New name').fill('Short-lived');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('link', { name: 'Short-lived' }).waitFor();
    check(true, 'renamed through the dialog');
    await until(async () => (await focused()) === 'h1: Organizations', 'focus on the page heading after renaming');
    check(true, 'after renaming, the redrawn page’s heading has focus, not <body>');

    await page.getByRole('button', { name: 'Delete Short-lived' }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Delete organization' });
    check(await confirm.isDisabled(), 'delete is disabled until the name is typed');
    await axe('delete dialog');
    await dialog.getByLabel(/Type the organization name/).fill('Short-lived');
    check(await confirm.isEnabled(), 'typing the name enables delete');
    await confirm.click();
    await page.getByText('“Short-lived” was deleted.').waitFor();
    check(await page.getByRole('row', { name: /Short-lived/ }).count() === 0, 'the organization is gone');
  });

  await step('change the password', async () => {
    await page.getByRole('button', { name: 'Change password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Change the admin password' });
    await dialog.getByLabel('Current password').waitFor();
    await axe('change-password dialog');
    await dialog.getByLabel('Current password').fill(PASSWORD);
    await dialog.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await dialog.getByLabel('Confirm the new password').fill(NEW_PASSWORD);
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await page.locator('.banner-success', { hasText: 'The password was changed.' }).waitFor();
    check(await dialog.count() === 0, 'the dialog closes');
  });

  await step('a 375 px wide phone', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.goto(`${base}/#/orgs/${orgId}/members`);
    await page.getByRole('row', { name: new RegExp(USER_NAME.replace('.', '\\.')) }).waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 375, `nothing overflows the page horizontally (${width}px)`);
    await shot('11-mobile-members');
    await page.goto(`${base}/#/orgs/${orgId}`);
    await page.locator('svg.chart-svg').waitFor();
    check(await page.evaluate(() => document.documentElement.scrollWidth) <= 375, 'the overview fits too');
    await shot('12-mobile-overview');
    await page.goto(`${base}/#/orgs/${orgId}/settings`);
    await page.getByRole('table', { name: 'API keys' }).waitFor();
    check(await page.evaluate(() => document.documentElement.scrollWidth) <= 375, 'the API keys fit');
    await shot('12-mobile-keys');
    await page.goto(`${base}/#/orgs/${orgId}/ldap`);
    await snippet('Grafana').waitFor();
    check(await page.evaluate(() => document.documentElement.scrollWidth) <= 375, 'the LDAP view fits (settings scroll in their boxes)');
    await shot('12-mobile-ldap');
    await page.goto(`${base}/#/orgs/${orgId}/webhooks`);
    await page.getByRole('table', { name: 'Webhook endpoints' }).waitFor();
    check(await page.evaluate(() => document.documentElement.scrollWidth) <= 375, 'the webhook endpoints fit');
    await shot('12-mobile-webhooks');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('dialog', { name: 'Add a webhook endpoint' }).getByLabel('URL').waitFor();
    await axe('phone: add-endpoint dialog');
    await page.keyboard.press('Escape');
    await page.goto(`${base}/#/orgs/${orgId}/webhooks/${webhookId}`);
    await page.getByRole('table', { name: /Recent delivery attempts/ }).waitFor();
    check(await page.evaluate(() => document.documentElement.scrollWidth) <= 375, 'the deliveries fit');
    await shot('12-mobile-webhook');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await step('an expired session goes back to sign-in', async () => {
    await page.goto(`${base}/#/orgs/${orgId}/groups`);
    await page.getByRole('row', { name: /Engineering/ }).waitFor();
    await context.clearCookies();
    allowedConsole = /status of 401/;
    await tab('Event log').click();
    await heading('Sign in').waitFor();
    await page.getByText('Your session has expired.').waitFor();
    allowedConsole = null;
    check(true, 'a 401 from the API shows sign-in with a note');
    await page.getByLabel('Admin password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('cell', { name: 'OrganizationUser_Revoked' }).waitFor();
    check(true, 'signing in with the new password returns to the page that was open');
  });

  await step('dark color scheme', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/#/orgs/${orgId}`);
    await page.locator('svg.chart-svg').waitFor();
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(background !== 'rgb(244, 246, 249)', `prefers-color-scheme: dark changes the colors (${background})`);
    await shot('13-dark-overview');
    await page.goto(`${base}/#/orgs/${orgId}/settings`);
    await page.getByLabel('SCIM URL').waitFor();
    await page.getByRole('table', { name: 'API keys' }).waitFor();
    await shot('14-dark-settings');
    await page.getByRole('button', { name: /^Rotate Entra ID/ }).click();
    await page.getByRole('dialog', { name: /Rotate/ }).getByLabel('Stop the old key now').waitFor();
    await axe('dark: rotate-key dialog');
    await page.keyboard.press('Escape');
    await page.goto(`${base}/#/orgs/${orgId}/ldap`);
    await snippet('Grafana').waitFor();
    await shot('14-dark-ldap');
    await page.goto(`${base}/#/orgs/${orgId}/webhooks`);
    await page.getByRole('table', { name: 'Webhook endpoints' }).waitFor();
    await shot('14-dark-webhooks');
    await page.goto(`${base}/#/orgs/${orgId}/webhooks/${webhookId}`);
    await page.getByRole('table', { name: /Recent delivery attempts/ }).waitFor();
    await shot('14-dark-webhook');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  check(consoleProblems.length === 0, `no console errors, page errors or CSP violations${consoleProblems.length ? `:\n    ${consoleProblems.join('\n    ')}` : ''}`);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    process.exit(130);
  });
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  if (!error.message.startsWith('check failed') && !error.message.startsWith('timed out')) failed += 1;
  log(`FAIL: ${error.stack || error.message}`);
  if (consoleProblems.length) log(`console problems so far:\n  ${consoleProblems.join('\n  ')}`);
  if (page) {
    try {
      await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true });
      log(`  screenshot of the failure: ${join(artifacts, 'failure.png')}`);
    } catch { /* the browser may be gone */ }
  }
  log(`--- server log (tail)\n${serverLog.split('\n').slice(-30).join('\n')}`);
} finally {
  if (context) await context.close().catch(() => {});
  await stopServer().catch(() => {});
  if (receiver) receiver.server.close();
  try { writeFileSync(join(artifacts, 'server.log'), serverLog); } catch { /* best effort */ }
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}
log(`screenshots and the server log are in ${artifacts}`);
log(`browser-e2e: ${passed} passed, ${failed} failed`);
process.exit(exitCode || (failed ? 1 : 0));
