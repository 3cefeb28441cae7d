// scim-appliance configuration page: a plain client of the admin API (docs/admin-api.md).
//
// No build step and no dependencies. Written for the page's Content-Security-Policy: no inline
// script or style, no eval, and the DOM is built with createElement/textContent only, because
// names and attributes come from identity providers and may contain markup.

const API = '/api/admin';
const SVG_NS = 'http://www.w3.org/2000/svg';
const PER_PAGE_CHOICES = [10, 25, 50, 100, 200];
const DEFAULT_PER_PAGE = 25;
const DEFAULT_EVENT_LIMIT = 50;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;

const state = {
  session: null, // the last answer of GET /api/admin/session (or login/setup/password)
  flash: null, // {kind, text}: a message for the next page shown
  freshKey: null, // {orgId, api_key, key, scim_url, replaced}: a key just issued, shown until leaving the page
  freshSecret: null, // {orgId, webhookId, url, secret, previousValidUntil}: a webhook secret just issued, likewise
};
let renderSeq = 0; // increases with every navigation; a render that is no longer current stops
let currentView = null; // {key, update(query)} of the page on screen, for query-only changes
let idCounter = 0;

const $main = document.getElementById('main');
const $announcer = document.getElementById('announcer');
const $nav = document.getElementById('main-nav');
const $navOrgs = document.getElementById('nav-orgs');
const $account = document.getElementById('account');
const $footer = document.getElementById('site-footer');

// ---------------------------------------------------------------- DOM helpers

function nextId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

function applyAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'style') throw new Error('inline styles are not allowed by the CSP; use a class');
    if (key === 'value' || key === 'checked') continue; // set after the children (select options)
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function appendChildren(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** Creates an HTML element: h('a', {href: '#/x', class: 'y'}, 'text', childNode, [more]). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  appendChildren(el, children);
  if (attrs && attrs.value !== undefined && attrs.value !== null) el.value = attrs.value;
  if (attrs && attrs.checked !== undefined) el.checked = Boolean(attrs.checked);
  return el;
}

/** Creates an SVG element (createElementNS). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  appendChildren(el, children);
  return el;
}

function enc(value) {
  return encodeURIComponent(value);
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function announce(message) {
  $announcer.textContent = '';
  // A fresh text node after a tick, so that repeating the same message is announced again.
  setTimeout(() => { $announcer.textContent = message; }, 60);
}

// ---------------------------------------------------------------- formatting

const fmtDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const fmtDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const fmtDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const fmtDayLong = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const fmtRelative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const fmtNumber = new Intl.NumberFormat();

function relativeTime(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  const steps = [
    [3600, 'minute', 60], [86400, 'hour', 3600], [86400 * 30, 'day', 86400],
    [86400 * 365, 'month', 86400 * 30], [Infinity, 'year', 86400 * 365],
  ];
  for (const [limit, unit, size] of steps) {
    if (abs < limit) return fmtRelative.format(Math.round(seconds / size), unit);
  }
  return '';
}

/** "5 minutes ago", with the exact time in the title. */
function timeRelative(iso, empty = 'Never') {
  if (!iso) return h('span', { class: 'muted' }, empty);
  return h('time', { datetime: iso, title: fmtDateTime.format(new Date(iso)) }, relativeTime(iso));
}

/** The exact local time, with the relative one in the title. */
function timeExact(iso, { dateOnly = false } = {}) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  return h('time', { datetime: iso, title: relativeTime(iso) }, dateOnly ? fmtDate.format(date) : fmtDateTime.format(date));
}

function dayLabel(isoDate, long = false) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? isoDate : (long ? fmtDayLong : fmtDay).format(date);
}

function plural(n, one, many) {
  return `${fmtNumber.format(n)} ${n === 1 ? one : many}`;
}

function formatDuration(seconds) {
  if (seconds < 60) return plural(Math.max(1, Math.ceil(seconds)), 'second', 'seconds');
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return plural(minutes, 'minute', 'minutes');
  return plural(Math.ceil(minutes / 60), 'hour', 'hours');
}

function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const detail = body && typeof body.detail === 'string' && body.detail ? body.detail : '';
    super(detail ? sentence(detail) : ApiError.fallback(status));
    this.status = status;
    this.code = (body && body.error) || '';
    this.retryAfter = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
    this.handled = false;
  }

  static fallback(status) {
    if (status === 0) return 'The server could not be reached. Check that scim-appliance is running and try again.';
    if (status >= 500) return 'The server had an internal error; its log has the cause.';
    return `The request failed (HTTP ${status}).`;
  }
}

/** "Too many failed attempts. Try again in 15 minutes." from a 429 and its Retry-After. */
function retryMessage(error) {
  const first = error.message.split(/[;,.]\s*try again/i)[0].replace(/[.]$/, '');
  return error.retryAfter ? `${first}. Try again in ${formatDuration(error.retryAfter)}.` : error.message;
}

async function api(method, path, body, { retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && state.session && state.session.csrf_token) {
    headers['X-CSRF-Token'] = state.session.csrf_token;
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, null, null);
  }
  const text = response.status === 204 ? '' : await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data, response.headers.get('Retry-After'));
    if (response.status === 403 && error.code === 'csrf' && !retried && state.session && state.session.signed_in) {
      // The session's token changed (e.g. the password was changed in another tab): fetch it
      // again and retry once.
      await loadSession();
      if (state.session.signed_in) return api(method, path, body, { retried: true });
      error.handled = true;
      sessionExpired(true);
      throw error;
    }
    if (error.status === 401 && error.code === 'unauthenticated') {
      error.handled = true;
      sessionExpired();
    }
    throw error;
  }
  return data;
}

function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  return search.toString();
}

async function loadSession() {
  state.session = await api('GET', '/session');
  updateChrome();
}

function signedOutSession() {
  return { ...(state.session || {}), signed_in: false, csrf_token: null, expires_at: null };
}

function sessionExpired(force = false) {
  if (!force && (!state.session || !state.session.signed_in)) return;
  state.session = signedOutSession();
  state.flash = { kind: 'info', text: 'Your session has expired. Sign in again to continue.' };
  closeDialogs();
  updateChrome();
  route();
}

// ---------------------------------------------------------------- routing

function setupToken() {
  const hash = location.hash.replace(/^#/, '');
  if (!hash.startsWith('token=')) return null;
  return new URLSearchParams(hash).get('token');
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const mark = raw.indexOf('?');
  const path = (mark < 0 ? raw : raw.slice(0, mark)) || '/';
  const query = Object.fromEntries(new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1)));
  let segments = [];
  try {
    segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    segments = [];
  }
  return { path, query, segments };
}

function hashFor(path, params = {}) {
  const query = qs(params);
  return `#${path}${query ? `?${query}` : ''}`;
}

/** Changes the query of the current page without a history entry and refreshes its results. */
function setQuery(path, params) {
  history.replaceState(history.state, '', hashFor(path, params));
  if (currentView && currentView.update) currentView.update(parseHash().query);
}

const ORG_TABS = [
  ['overview', 'Overview', ''],
  ['settings', 'SCIM provisioning', '/settings'],
  ['ldap', 'LDAP', '/ldap'],
  ['members', 'Members', '/members'],
  ['groups', 'Groups', '/groups'],
  ['webhooks', 'Webhooks', '/webhooks'],
  ['events', 'Event log', '/events'],
];

function matchRoute(segments) {
  if (segments[0] !== 'orgs') return null;
  if (segments.length === 1) return { key: 'orgs', render: renderOrgs, params: {} };
  const id = segments[1];
  const sub = segments[2];
  const base = `/orgs/${enc(id)}`;
  if (segments.length === 2) return { key: `overview:${id}`, render: renderOverview, params: { id } };
  if (segments.length === 3) {
    const pages = { settings: renderSettings, ldap: renderLdap, members: renderMembers, groups: renderGroups, webhooks: renderWebhooks, events: renderEvents };
    if (pages[sub]) return { key: `${sub}:${id}`, render: pages[sub], params: { id }, path: `${base}/${sub}` };
  }
  if (segments.length === 4 && sub === 'members') {
    return { key: `member:${id}:${segments[3]}`, render: renderMember, params: { id, memberId: segments[3] } };
  }
  if (segments.length === 4 && sub === 'webhooks') {
    return { key: `webhook:${id}:${segments[3]}`, render: renderWebhook, params: { id, webhookId: segments[3] } };
  }
  if (segments.length === 4 && sub === 'groups') {
    return {
      key: `group:${id}:${segments[3]}`, render: renderGroup, params: { id, groupId: segments[3] },
      path: `${base}/groups/${enc(segments[3])}`,
    };
  }
  return null;
}

async function route({ navigated = false, force = false } = {}) {
  renderSeq += 1;
  const seq = renderSeq;
  if (!state.session) {
    try {
      await loadSession();
    } catch (error) {
      if (seq === renderSeq) renderFatal(error);
      return;
    }
    if (seq !== renderSeq) return;
  }
  updateChrome();
  const session = state.session;
  const token = setupToken();

  if (session.setup_required) {
    currentView = null;
    if (token) renderSetup(token);
    else renderSetupMissing();
    return;
  }
  if (location.pathname !== '/' || token) {
    // A setup link opened after the password was set (or a reload of it): drop the token.
    history.replaceState(null, '', `/${token ? '#/orgs' : location.hash}`);
    if (token && !session.signed_in) {
      state.flash = state.flash || { kind: 'info', text: 'The admin password is already set. Sign in with it.' };
    }
  }
  if (!session.signed_in) {
    currentView = null;
    renderSignIn();
    return;
  }

  let location_ = parseHash();
  let match = matchRoute(location_.segments);
  if (!match) {
    history.replaceState(null, '', '#/orgs');
    location_ = parseHash();
    match = matchRoute(location_.segments);
  }
  $navOrgs.setAttribute('aria-current', match.key === 'orgs' ? 'page' : 'true');

  if (state.freshKey && match.key !== `settings:${state.freshKey.orgId}`) state.freshKey = null;
  if (state.freshSecret && match.key !== `webhooks:${state.freshSecret.orgId}`
    && match.key !== `webhook:${state.freshSecret.orgId}:${state.freshSecret.webhookId}`) state.freshSecret = null;

  if (!force && currentView && currentView.key === match.key && currentView.update) {
    currentView.update(location_.query);
    return;
  }

  currentView = null;
  const ctx = {
    key: match.key,
    params: match.params,
    path: match.path || location_.path,
    query: location_.query,
    live: () => seq === renderSeq,
  };
  showLoading();
  try {
    await match.render(ctx);
    if (navigated && ctx.live()) focusHeading();
  } catch (error) {
    if (!ctx.live() || error.handled) return;
    renderError(error);
  }
}

function focusHeading() {
  const heading = $main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: false });
  }
}

// ---------------------------------------------------------------- page chrome

function updateChrome() {
  const signedIn = Boolean(state.session && state.session.signed_in);
  $nav.hidden = !signedIn;
  $account.hidden = !signedIn;
  const parts = [];
  if (state.session && state.session.version) parts.push(`scim-appliance ${state.session.version}`);
  if (state.session && state.session.public_url) parts.push(state.session.public_url);
  $footer.replaceChildren(...parts.map((text, i) => h('span', { class: i ? 'footer-url' : null }, text)));
}

function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), 'scim-appliance'].join(' · ');
}

function clearMain() {
  closeDialogs();
  $main.replaceChildren();
  $main.removeAttribute('aria-busy');
}

function showLoading() {
  $main.setAttribute('aria-busy', 'true');
  $main.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
}

function banner(kind, text, ...extra) {
  const el = h('div', { class: ['banner', `banner-${kind}`], role: kind === 'error' ? 'alert' : 'status' },
    h('p', null, text, ...extra));
  const close = h('button', { type: 'button', class: 'banner-close', 'aria-label': 'Dismiss' }, '×');
  close.addEventListener('click', () => el.remove());
  el.append(close);
  return el;
}

function takeFlash() {
  const flash = state.flash;
  state.flash = null;
  return flash ? banner(flash.kind, flash.text) : null;
}

/** Shows an error at the top of the page content (above the first heading's block). */
function showErrorBanner(error, container = $main) {
  if (error && error.handled) return;
  const existing = container.querySelector(':scope > .banner-error');
  if (existing) existing.remove();
  const el = banner('error', error instanceof Error ? error.message : String(error));
  const heading = container.querySelector(':scope > .page-head, :scope > h1');
  if (heading) heading.after(el);
  else container.prepend(el);
  el.scrollIntoView({ block: 'nearest' });
}

function breadcrumbs(items) {
  return h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
    h('ol', null, items.map(([label, href], i) => h('li', null,
      i === items.length - 1 ? h('span', { 'aria-current': 'page' }, label) : h('a', { href }, label)))));
}

function scimBadge(enabled) {
  return h('span', { class: ['badge', enabled ? 'badge-on' : 'badge-off'] }, enabled ? 'SCIM on' : 'SCIM off');
}

function statusBadge(active) {
  return h('span', { class: ['badge', active ? 'badge-active' : 'badge-revoked'] }, active ? 'Active' : 'Revoked');
}

/** Clears the page and draws an organization's header and section tabs; returns the content box. */
function orgFrame(org, tab, { trail = [], docTitle } = {}) {
  clearMain();
  const base = `#/orgs/${enc(org.id)}`;
  const tabLabel = ORG_TABS.find(([key]) => key === tab)[1];
  setTitle(docTitle || (tab === 'overview' ? null : tabLabel), org.name);
  const crumbs = [['Organizations', '#/orgs'], [org.name, base]];
  if (trail.length) crumbs.push(...trail);
  else if (tab !== 'overview') crumbs.push([tabLabel, null]);
  const badge = scimBadge(org.scim_enabled);
  badge.id = 'org-scim-badge';
  $main.append(
    breadcrumbs(crumbs),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, org.name), badge),
    h('nav', { class: 'tabs', 'aria-label': 'Organization' },
      h('ul', null, ORG_TABS.map(([key, label, suffix]) => h('li', null,
        h('a', { href: base + suffix, class: 'tab', 'aria-current': key === tab ? 'page' : null }, label))))),
  );
  const flash = takeFlash();
  if (flash) $main.append(flash);
  const content = h('div', { class: 'content' });
  $main.append(content);
  return content;
}

function updateScimBadge(enabled) {
  const old = document.getElementById('org-scim-badge');
  if (!old) return;
  const badge = scimBadge(enabled);
  badge.id = 'org-scim-badge';
  old.replaceWith(badge);
}

function renderError(error) {
  clearMain();
  const notFound = error.status === 404;
  setTitle(notFound ? 'Not found' : 'Error');
  const retry = h('button', { type: 'button', class: 'btn' }, 'Try again');
  retry.addEventListener('click', () => route({ force: true }));
  $main.append(
    h('div', { class: 'empty-state' },
      h('h1', { tabindex: '-1' }, notFound ? 'Not found' : 'Something went wrong'),
      h('p', null, notFound
        ? 'This page does not exist, or what it showed was deleted (an identity provider may have removed it).'
        : error.message),
      h('p', { class: 'actions' }, notFound ? null : retry, h('a', { href: '#/orgs', class: 'btn' }, 'All organizations'))),
  );
}

function renderFatal(error) {
  clearMain();
  setTitle('Unavailable');
  const retry = h('button', { type: 'button', class: 'btn btn-primary' }, 'Try again');
  retry.addEventListener('click', () => { state.session = null; showLoading(); route(); });
  $main.append(h('div', { class: 'auth-wrap' }, h('div', { class: 'card auth-card' },
    h('h1', null, 'The server did not answer'),
    h('p', null, error.message),
    retry)));
}

// ---------------------------------------------------------------- tables, pagers, fields

/** A horizontally scrollable table: columns = [label | {label, class}], rows = arrays of cells. */
function dataTable({ caption, columns, rows, rowHref, rowClass }) {
  const cols = columns.map((col) => (typeof col === 'string' ? { label: col } : col));
  // Explicit roles keep the table semantics when narrow screens restyle rows as cards.
  const table = h('table', { class: 'data', role: 'table' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, cols.map((c) => h('th', { scope: 'col', role: 'columnheader', class: c.class }, c.label)))),
    h('tbody', { role: 'rowgroup' }, rows.map((cells, i) => {
      const tr = h('tr', { role: 'row' }, cells.map((cell, j) => {
        const c = cols[j] || {};
        const attrs = { class: c.class, 'data-label': c.label };
        const value = h('span', { class: 'cell-value' }, cell);
        return j === 0
          ? h('th', { scope: 'row', role: 'rowheader', ...attrs }, value)
          : h('td', { role: 'cell', ...attrs }, value);
      }));
      if (rowClass && rowClass(i)) tr.classList.add(rowClass(i));
      if (rowHref) {
        // The first cell holds a real link for keyboards and screen readers; a click anywhere
        // else in the row follows it too.
        tr.classList.add('row-link');
        tr.addEventListener('click', (event) => {
          if (event.target.closest('a, button, input, select, textarea')) return;
          if (window.getSelection && String(window.getSelection())) return;
          location.hash = rowHref(i);
        });
      }
      return tr;
    })));
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' }, table);
}

function field({ label, control, hint, id }) {
  const controlId = id || control.id || nextId('field');
  control.id = controlId;
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${controlId}-hint` }, hint);
    const described = control.getAttribute('aria-describedby');
    control.setAttribute('aria-describedby', [described, hintEl.id].filter(Boolean).join(' '));
  }
  return h('div', { class: 'field' }, h('label', { for: controlId }, label), control, hintEl);
}

function selectControl(options, value) {
  return h('select', { value: String(value) }, options.map(([v, label]) => h('option', { value: String(v) }, label)));
}

function formError() {
  return h('p', { class: 'form-error', role: 'alert', hidden: true });
}

function setFormError(el, message, invalidControl) {
  el.textContent = message || '';
  el.hidden = !message;
  if (!el.id) el.id = nextId('error');
  for (const control of el.closest('form, dialog, div')?.querySelectorAll('[aria-invalid]') || []) {
    control.removeAttribute('aria-invalid');
    const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== el.id);
    if (ids.length) control.setAttribute('aria-describedby', ids.join(' '));
    else control.removeAttribute('aria-describedby');
  }
  if (message && invalidControl) {
    invalidControl.setAttribute('aria-invalid', 'true');
    const ids = (invalidControl.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    invalidControl.setAttribute('aria-describedby', [...ids, el.id].join(' '));
    invalidControl.focus();
  }
}

function pageCount(total, perPage) {
  return Math.max(1, Math.ceil(total / perPage));
}

/** "1–25 of 120" with Previous/Next links to the given hashes. */
function pager({ total, page, perPage, hrefFor, noun }) {
  const from = total === 0 ? 0 : (page - 1) * perPage + 1;
  const to = Math.min(total, page * perPage);
  const pages = pageCount(total, perPage);
  const range = total === 0 ? `0 ${noun}` : `${fmtNumber.format(from)}–${fmtNumber.format(to)} of ${fmtNumber.format(total)}`;
  const link = (label, target, enabled, rel) => (enabled
    ? h('a', { href: hrefFor(target), class: 'btn btn-small', rel, 'data-pager': rel }, label)
    : h('span', { class: 'btn btn-small', 'aria-disabled': 'true' }, label));
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('p', { class: 'pager-range' }, range, pages > 1 ? h('span', { class: 'muted' }, ` · page ${page} of ${pages}`) : null),
    h('div', { class: 'pager-links' },
      link('Previous', page - 1, page > 1, 'prev'),
      link('Next', page + 1, page < pages, 'next')));
}

/** Re-focuses the pager link that had focus before the results were replaced. */
function keepPagerFocus(container, fn) {
  const active = document.activeElement;
  const which = active && container.contains(active) ? active.dataset.pager || 'other' : null;
  fn();
  if (!which) return;
  const again = which !== 'other' && container.querySelector(`[data-pager="${which}"]`);
  if (again) again.focus();
  else {
    const target = container.querySelector('.pager-range') || container;
    target.setAttribute('tabindex', '-1');
    target.focus();
  }
}

function intParam(value, fallback, min = 1, max = Infinity) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) && n >= min && n <= max ? n : fallback;
}

function emptyState(title, ...body) {
  return h('div', { class: 'empty-state' }, h('p', { class: 'empty-title' }, title), body.length ? h('p', null, ...body) : null);
}

// ---------------------------------------------------------------- clipboard

function legacyCopy(text, input) {
  let ok = false;
  if (input && input.type !== 'password') {
    input.focus();
    input.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    return ok;
  }
  // A password field cannot be copied from; copy through an off-screen text area instead.
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  area.value = text;
  document.body.append(area);
  area.select();
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  area.remove();
  if (input) input.focus();
  return ok;
}

async function copyToClipboard(text, button, input) {
  let ok = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      ok = false;
    }
  }
  if (!ok) ok = legacyCopy(text, input);
  if (ok) {
    // Only the visible word changes: a hidden rest of the name (what is copied) stays.
    const word = button.querySelector('.copy-word') || button;
    const label = button.dataset.label || word.textContent;
    button.dataset.label = label;
    word.textContent = 'Copied';
    button.classList.add('copied');
    clearTimeout(Number(button.dataset.timer));
    button.dataset.timer = String(setTimeout(() => {
      word.textContent = label;
      button.classList.remove('copied');
    }, 2000));
    announce('Copied');
  } else {
    if (input) { input.focus(); input.select(); }
    announce('Copying failed: the text is selected, press Ctrl+C or ⌘C to copy it');
  }
}

/** A Copy button whose name says what it copies (several share one view): "Copy" shows. */
function copyButtonFor(getText, what) {
  const button = h('button', { type: 'button', class: 'btn' },
    h('span', { class: 'copy-word' }, 'Copy'), h('span', { class: 'visually-hidden' }, ` ${what}`));
  button.addEventListener('click', () => copyToClipboard(getText(), button, null));
  return button;
}

function copyButton(getText, input, label = 'Copy') {
  const button = h('button', { type: 'button', class: 'btn' }, label);
  if (input) button.setAttribute('aria-controls', input.id);
  button.addEventListener('click', () => copyToClipboard(getText(), button, input));
  return button;
}

// ---------------------------------------------------------------- dialogs

function closeDialogs() {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}

/**
 * A modal <dialog> (focus stays inside; Escape cancels). onConfirm may throw to show an error
 * in the dialog, return false to keep it open, or return the element that shows the result:
 * it gets focus once the dialog has closed (while the dialog is open, the rest of the page is
 * inert and cannot take focus).
 */
function openDialog({ title, body = [], confirmLabel, danger = false, onConfirm, initialFocus }) {
  const opener = document.activeElement;
  const titleId = nextId('dialog-title');
  const error = formError();
  const confirm = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'] }, confirmLabel);
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const form = h('form', { class: 'dialog-form', novalidate: true },
    h('h2', { id: titleId }, title), body, error, h('div', { class: 'dialog-actions' }, cancel, confirm));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  document.body.append(dialog);
  let busy = false;
  let confirmed = false;
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('cancel', (event) => { if (busy) event.preventDefault(); });
  dialog.addEventListener('close', () => {
    const active = document.activeElement;
    const focusLost = !active || active === document.body || dialog.contains(active);
    dialog.remove();
    // Back to the opener only when the dialog was cancelled and focus is nowhere useful: a
    // confirmed dialog has put focus on its result, and the user may have moved on already.
    if (confirmed || !focusLost) return;
    if (opener && opener !== document.body && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    else focusHeading();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy || confirm.disabled) return;
    busy = true;
    confirm.disabled = true;
    setFormError(error, '');
    try {
      const result = await onConfirm({ dialog, error });
      if (result !== false) {
        confirmed = true;
        if (dialog.open) dialog.close();
        if (result instanceof Element && result.isConnected) focusElement(result);
      }
    } catch (e) {
      if (e.handled) { if (dialog.open) dialog.close(); return; }
      setFormError(error, e.message, e.control);
    } finally {
      busy = false;
      if (dialog.isConnected) confirm.disabled = Boolean(confirm.dataset.locked);
    }
  });
  dialog.showModal();
  if (initialFocus) initialFocus.focus();
  return { dialog, confirm, error };
}

/** Focuses any element, making it focusable by script (not by Tab) if it is not already. */
function focusElement(el) {
  if (!el.matches('a[href], button, input, select, textarea, [tabindex]')) el.setAttribute('tabindex', '-1');
  el.focus();
}

/** A set of radio buttons in a fieldset; options = [{value, label, hint}]. */
function radioGroup({ legend, options, value }) {
  const name = nextId('choice');
  const inputs = options.map((option) => {
    const input = h('input', { type: 'radio', name, value: option.value, id: nextId(name), checked: option.value === value });
    return { option, input };
  });
  const el = h('fieldset', { class: 'choice-group' }, h('legend', null, legend),
    inputs.map(({ option, input }) => {
      let hint = null;
      if (option.hint) {
        hint = h('p', { class: 'choice-hint', id: `${input.id}-hint` }, option.hint);
        input.setAttribute('aria-describedby', hint.id);
      }
      return h('div', { class: 'choice' }, input, h('div', { class: 'choice-text' }, h('label', { for: input.id }, option.label), hint));
    }));
  return { el, value: () => (inputs.find(({ input }) => input.checked) || inputs[0]).input.value };
}

function fieldError(message, control) {
  const error = new Error(message);
  error.control = control;
  return error;
}

function passwordProblem(password, confirmation) {
  const length = [...password].length;
  if (length < MIN_PASSWORD) return `The password must have at least ${MIN_PASSWORD} characters (it has ${length}).`;
  if (length > MAX_PASSWORD) return `The password must have at most ${MAX_PASSWORD} characters.`;
  if (password !== confirmation) return 'The two passwords are not the same.';
  return null;
}

function openChangePassword() {
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const fresh = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD });
  const again = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD });
  openDialog({
    title: 'Change the admin password',
    body: [
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'admin', hidden: true }),
      field({ label: 'Current password', control: current }),
      field({ label: 'New password', control: fresh, hint: `At least ${MIN_PASSWORD} characters.` }),
      field({ label: 'Confirm the new password', control: again }),
      h('p', { class: 'hint' }, 'Every other session (other browsers) is signed out.'),
    ],
    confirmLabel: 'Change password',
    initialFocus: current,
    onConfirm: async () => {
      if (!current.value) throw fieldError('Enter the current password.', current);
      const problem = passwordProblem(fresh.value, again.value);
      if (problem) throw fieldError(problem, problem.includes('same') ? again : fresh);
      try {
        state.session = await api('POST', '/password', { current_password: current.value, new_password: fresh.value });
      } catch (e) {
        if (e.code === 'wrong_password') e.control = current;
        else if (e.status === 400) e.control = fresh;
        throw e;
      }
      updateChrome();
      const flash = banner('success', 'The password was changed. Every other session was signed out.');
      const heading = $main.querySelector('.page-head, h1');
      if (heading) heading.after(flash);
      return true;
    },
  });
}

async function signOut() {
  try {
    await api('POST', '/logout');
  } catch (e) {
    if (!e.handled && e.status !== 401) {
      showErrorBanner(e);
      return;
    }
  }
  state.session = signedOutSession();
  state.flash = { kind: 'info', text: 'You have signed out.' };
  state.freshKey = null;
  state.freshSecret = null;
  updateChrome();
  route({ navigated: true });
}

// ---------------------------------------------------------------- sign-in and setup

function authPage(title, ...content) {
  clearMain();
  setTitle(title);
  const card = h('div', { class: 'card auth-card' }, h('h1', { tabindex: '-1' }, title), takeFlash(), content);
  $main.append(h('div', { class: 'auth-wrap' }, card));
  return card;
}

function renderSignIn() {
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'admin', hidden: true }),
    field({ label: 'Admin password', control: password }),
    error,
    submit);
  authPage('Sign in',
    h('p', { class: 'muted' }, 'Sign in to configure the organizations served by this scim-appliance.'),
    form,
    h('p', { class: 'hint' }, 'Forgot the password? On the server, run ', h('code', null, 'scim-appliance admin set-password'), '.'));
  password.focus();
  let lockedUntil = 0;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (Date.now() < lockedUntil) return;
    if (!password.value) {
      setFormError(error, 'Enter the admin password.', password);
      return;
    }
    submit.disabled = true;
    setFormError(error, '');
    try {
      state.session = await api('POST', '/login', { password: password.value });
      updateChrome();
      announce('Signed in');
      route({ navigated: true });
    } catch (e) {
      const message = e.status === 429 ? retryMessage(e) : e.message;
      if (e.status === 429) {
        const wait = e.retryAfter || 60;
        lockedUntil = Date.now() + wait * 1000;
        setTimeout(() => { submit.disabled = false; }, wait * 1000);
        setFormError(error, message, password);
        return;
      }
      setFormError(error, message, password);
      password.select();
      submit.disabled = false;
    }
    if (Date.now() >= lockedUntil) submit.disabled = false;
  });
}

function renderSetup(token) {
  const password = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD });
  const again = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD });
  const error = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Save password and sign in');
  const form = h('form', { novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'admin', hidden: true }),
    field({ label: 'New admin password', control: password, hint: `At least ${MIN_PASSWORD} characters. A passphrase of several words is easy to type and hard to guess.` }),
    field({ label: 'Confirm the password', control: again }),
    error,
    submit);
  authPage('Choose the admin password',
    h('p', null, 'Welcome to scim-appliance. This password protects this configuration page; there is one administrator. You can change it later here, or reset it on the server with ',
      h('code', null, 'scim-appliance admin set-password'), '.'),
    form);
  password.focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problem = passwordProblem(password.value, again.value);
    if (problem) {
      setFormError(error, problem, problem.includes('same') ? again : password);
      return;
    }
    submit.disabled = true;
    setFormError(error, '');
    try {
      state.session = await api('POST', '/setup', { token, password: password.value });
      history.replaceState(null, '', '/#/orgs');
      state.flash = { kind: 'success', text: 'The admin password is set and you are signed in. Create an organization to get its SCIM URL and API key.' };
      updateChrome();
      announce('Password saved. Signed in.');
      route({ navigated: true });
    } catch (e) {
      if (e.code === 'already_set_up') {
        state.session = null;
        history.replaceState(null, '', '/#/orgs');
        state.flash = { kind: 'info', text: 'The admin password was already set. Sign in with it.' };
        route({ navigated: true });
        return;
      }
      let message = e.message;
      if (e.code === 'invalid_setup_token') {
        message = 'This setup link is not valid any more: it was used already, or it is from an earlier start of the server. Use the link in the newest server log, or run scim-appliance admin set-password on the server.';
      } else if (e.status === 429) {
        message = retryMessage(e);
      }
      setFormError(error, message, e.status === 400 ? password : null);
      submit.disabled = false;
    }
  });
}

function renderSetupMissing() {
  authPage('Finish setting up scim-appliance',
    h('p', null, 'No admin password has been set yet.'),
    h('p', null, 'Open the setup link printed in the server log (it ends in ',
      h('code', null, '/setup#token=…'), '), or run ', h('code', null, 'scim-appliance admin set-password'),
      ' on the server and then reload this page.'),
    h('p', { class: 'hint' }, 'The link changes every time the server starts, and works once.'));
}

// ---------------------------------------------------------------- organizations list

async function renderOrgs(ctx) {
  const data = await api('GET', '/orgs');
  if (!ctx.live()) return;
  clearMain();
  setTitle('Organizations');
  const organizations = data.organizations || [];

  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', required: true, maxlength: 200 });
  const error = formError();
  const create = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create organization');
  const form = h('form', { class: 'inline-form', novalidate: true },
    field({ label: 'Name', control: name }), create, error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      setFormError(error, 'Enter a name for the organization.', name);
      return;
    }
    create.disabled = true;
    setFormError(error, '');
    try {
      const org = await api('POST', '/orgs', { name: name.value.trim() });
      state.flash = { kind: 'success', text: `“${org.name}” was created. To connect your identity provider, enable SCIM and add an API key.` };
      announce(`Organization ${org.name} created`);
      location.hash = `#/orgs/${enc(org.id)}/settings`;
    } catch (e) {
      if (!e.handled) setFormError(error, e.message, name);
      create.disabled = false;
    }
  });

  let list;
  if (!organizations.length) {
    list = emptyState('No organizations yet',
      'Each organization has its own SCIM URL, API key and directory of members and groups. Create one above, then connect your identity provider to it.');
  } else {
    list = dataTable({
      caption: 'Organizations',
      columns: ['Name', 'SCIM', { label: 'Members (active / total)', class: 'num' }, { label: 'Groups', class: 'num' },
        'Last provisioning activity', { label: 'Actions', class: 'actions-col' }],
      rows: organizations.map((org) => [
        h('a', { href: `#/orgs/${enc(org.id)}` }, org.name),
        scimBadge(org.scim_enabled),
        h('span', { title: `${org.active_members} active, ${org.revoked_members} revoked, ${org.members} in total` },
          `${fmtNumber.format(org.active_members)} / ${fmtNumber.format(org.members)}`),
        fmtNumber.format(org.groups),
        timeRelative(org.last_activity_at),
        h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Rename ${org.name}`, onclick: () => openRename(org) }, 'Rename'),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'aria-label': `Delete ${org.name}`, onclick: () => openDelete(org) }, 'Delete')),
      ]),
    });
  }

  $main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Organizations')),
    takeFlash() || '',
    h('p', { class: 'lede' }, 'Identity providers provision each organization through its own SCIM URL and API key, as with Bitwarden’s SCIM service.'),
    h('section', { class: 'card', 'aria-labelledby': 'create-org-title' },
      h('h2', { id: 'create-org-title' }, 'Create an organization'), form),
    h('section', { 'aria-labelledby': 'org-list-title' },
      h('h2', { id: 'org-list-title', class: 'section-title' }, organizations.length ? plural(organizations.length, 'organization', 'organizations') : 'Your organizations'),
      list),
  );
  currentView = { key: ctx.key };
}

function openRename(org, after) {
  const name = h('input', { type: 'text', autocomplete: 'off', required: true, maxlength: 200, value: org.name });
  openDialog({
    title: `Rename “${org.name}”`,
    body: [field({ label: 'New name', control: name })],
    confirmLabel: 'Rename',
    initialFocus: name,
    onConfirm: async () => {
      if (!name.value.trim()) throw fieldError('Enter a name for the organization.', name);
      const updated = await api('PATCH', `/orgs/${enc(org.id)}`, { name: name.value.trim() });
      state.flash = { kind: 'success', text: `Renamed to “${updated.name}”.` };
      announce(`Renamed to ${updated.name}`);
      // The page is drawn again: its heading takes focus, never <body>.
      setTimeout(() => (after ? after(updated) : route({ force: true, navigated: true })), 0);
      return true;
    },
  });
  name.select();
}

function openDelete(org) {
  const typed = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const { confirm } = openDialog({
    title: `Delete “${org.name}”?`,
    danger: true,
    body: [
      h('p', null, 'This permanently deletes the organization with its API key, ',
        plural(org.members, 'member', 'members'), ', ', plural(org.groups, 'group', 'groups'),
        ' and its event log. Its identity provider will no longer be able to provision it. This cannot be undone.'),
      field({ label: `Type the organization name, ${org.name}, to confirm`, control: typed }),
    ],
    confirmLabel: 'Delete organization',
    initialFocus: typed,
    onConfirm: async () => {
      if (typed.value !== org.name) throw fieldError('The name you typed does not match.', typed);
      await api('DELETE', `/orgs/${enc(org.id)}`);
      state.flash = { kind: 'success', text: `“${org.name}” was deleted.` };
      announce(`Organization ${org.name} deleted`);
      setTimeout(() => {
        if (location.hash === '#/orgs') route({ force: true, navigated: true });
        else location.hash = '#/orgs';
      }, 0);
      return true;
    },
  });
  confirm.disabled = true;
  confirm.dataset.locked = '1';
  typed.addEventListener('input', () => {
    const match = typed.value === org.name;
    confirm.disabled = !match;
    if (match) delete confirm.dataset.locked;
    else confirm.dataset.locked = '1';
  });
}

// ---------------------------------------------------------------- overview

async function renderOverview(ctx) {
  const { id } = ctx.params;
  const [org, events] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', `/orgs/${enc(id)}/events?${qs({ limit: 5 })}`).catch((e) => (e.handled ? Promise.reject(e) : null)),
  ]);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'overview');

  const seats = org.seat_limit === null || org.seat_limit === undefined
    ? { value: 'No limit', note: null }
    : { value: fmtNumber.format(org.seat_limit), note: `${fmtNumber.format(Math.max(0, org.seat_limit - org.active_members))} free` };
  const stat = (label, value, note, href) => h('div', { class: 'stat' },
    h('dt', null, label),
    h('dd', null, href ? h('a', { href }, value) : value, note ? h('span', { class: 'stat-note' }, note) : null));
  const base = `#/orgs/${enc(org.id)}`;
  const stats = h('dl', { class: 'stats' },
    stat('Members', fmtNumber.format(org.members), null, `${base}/members`),
    stat('Active', fmtNumber.format(org.active_members), null, hashFor(`/orgs/${enc(org.id)}/members`, { status: 'active' })),
    stat('Revoked', fmtNumber.format(org.revoked_members), null, hashFor(`/orgs/${enc(org.id)}/members`, { status: 'revoked' })),
    stat('Groups', fmtNumber.format(org.groups), null, `${base}/groups`),
    stat('Seat limit', seats.value, seats.note));

  const ready = org.scim_enabled && org.api_key;
  const status = h('section', { class: ['card', 'status-card', ready ? 'is-ready' : 'is-pending'], 'aria-labelledby': 'scim-status-title' },
    h('h2', { id: 'scim-status-title' }, 'SCIM provisioning'),
    h('ul', { class: 'checklist' },
      h('li', { class: org.scim_enabled ? 'done' : 'todo' }, org.scim_enabled ? 'SCIM is enabled.' : 'SCIM is disabled: identity providers get 401.'),
      h('li', { class: org.api_key ? 'done' : 'todo' }, org.api_key
        ? ['Provision key ', h('code', null, org.api_key.key_id), ' created ', timeRelative(org.api_key.created_at), '.',
          typeof org.keys === 'number' && org.keys > 1 ? ` ${plural(org.keys, 'key', 'keys')} in all.` : '']
        : 'No provision key yet.'),
      h('li', { class: 'info' }, 'Last provisioning activity: ', timeRelative(org.last_activity_at), '.')),
    h('p', null, h('a', { href: `${base}/settings`, class: ready ? 'btn' : 'btn btn-primary' },
      ready ? 'SCIM URL and API keys' : 'Set up SCIM provisioning')));

  const activity = Array.isArray(org.activity) ? org.activity : [];
  const total = activity.reduce((sum, day) => sum + (day.events || 0), 0);
  const figure = h('figure', { class: 'chart' });
  const chartCard = h('section', { class: 'card', 'aria-labelledby': 'activity-title' },
    h('h2', { id: 'activity-title' }, 'Provisioning events per day'),
    h('p', { class: 'hint' }, `Changes made through SCIM in the last 30 days (UTC): ${plural(total, 'event', 'events')}.`),
    figure);

  let recent = null;
  if (events && events.events) {
    recent = h('section', { class: 'card', 'aria-labelledby': 'recent-title' },
      h('h2', { id: 'recent-title' }, 'Recent events'),
      events.events.length
        ? h('ul', { class: 'recent' }, events.events.map((event) => h('li', null,
          timeRelative(event.at), ' ', h('span', { class: 'event-type' }, event.type), ' ', h('span', null, event.summary || ''))))
        : h('p', { class: 'muted' }, 'Nothing has happened yet.'),
      h('p', null, h('a', { href: `${base}/events` }, 'Open the event log')));
  }

  content.append(stats, h('div', { class: 'grid-2' }, status, recent), chartCard);
  drawActivityChart(figure, activity);
  currentView = { key: ctx.key };
}

function niceCeiling(max) {
  if (max <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(max));
  // Even ceilings, so that the middle grid line is a whole number of events too.
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (step * power >= max) return step * power;
  }
  return 10 * power;
}

/** A bar chart of events per day as inline SVG, with a text summary and a visually hidden table. */
function drawActivityChart(figure, activity) {
  const width = Math.max(300, Math.min(1000, Math.round(figure.clientWidth || 640)));
  const height = 220;
  const pad = { left: 40, right: 8, top: 14, bottom: 30 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = activity.reduce((m, d) => Math.max(m, d.events || 0), 0);
  const top = niceCeiling(max);
  const slot = plotW / Math.max(1, activity.length);
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const total = activity.reduce((sum, d) => sum + (d.events || 0), 0);
  const busiest = activity.reduce((best, d) => (!best || d.events > best.events ? d : best), null);
  const titleId = nextId('chart-title');
  const descId = nextId('chart-desc');
  const summary = activity.length
    ? `${plural(total, 'event', 'events')} from ${dayLabel(activity[0].date, true)} to ${dayLabel(activity[activity.length - 1].date, true)}`
      + (busiest && busiest.events ? `; the busiest day was ${dayLabel(busiest.date, true)} with ${plural(busiest.events, 'event', 'events')}.` : '; no events.')
    : 'No data.';

  const chart = s('svg', {
    class: 'chart-svg', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-labelledby': `${titleId} ${descId}`, preserveAspectRatio: 'xMidYMid meet',
  },
  s('title', { id: titleId }, 'Provisioning events per day, last 30 days'),
  s('desc', { id: descId }, summary));

  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + plotH - fraction * plotH;
    chart.append(
      s('line', { class: fraction === 0 ? 'chart-axis' : 'chart-grid', x1: pad.left, x2: width - pad.right, y1: y, y2: y }),
      s('text', { class: 'chart-label', x: pad.left - 6, y: y + 4, 'text-anchor': 'end' }, fmtNumber.format(top * fraction)));
  }
  activity.forEach((day, i) => {
    const x = pad.left + i * slot + (slot - barW) / 2;
    const barH = day.events ? Math.max(2, (day.events / top) * plotH) : 0;
    const isToday = i === activity.length - 1;
    const group = s('g', { class: ['chart-day', isToday ? 'is-today' : null].filter(Boolean).join(' ') },
      s('title', null, `${dayLabel(day.date, true)}: ${plural(day.events || 0, 'event', 'events')}`),
      // An invisible full-height target, so that hovering any day shows its tooltip.
      s('rect', { class: 'chart-hit', x: pad.left + i * slot, y: pad.top, width: slot, height: plotH }));
    if (barH) group.append(s('rect', { class: 'chart-bar', x, y: pad.top + plotH - barH, width: barW, height: barH, rx: Math.min(3, barW / 3) }));
    chart.append(group);
    if ((activity.length - 1 - i) % 7 === 0) {
      chart.append(s('text', { class: 'chart-label', x: x + barW / 2, y: height - 10, 'text-anchor': 'middle' },
        isToday ? 'Today' : dayLabel(day.date)));
    }
  });

  const table = h('table', null,
    h('caption', null, 'Provisioning events per day'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day (UTC)'), h('th', { scope: 'col' }, 'Events'))),
    h('tbody', null, activity.map((day) => h('tr', null,
      h('th', { scope: 'row' }, dayLabel(day.date, true)), h('td', null, fmtNumber.format(day.events || 0))))));
  figure.replaceChildren(chart, h('figcaption', { class: 'visually-hidden' }, summary), h('div', { class: 'visually-hidden' }, table));
}

// ---------------------------------------------------------------- SCIM provisioning (settings)

async function renderSettings(ctx) {
  const { id } = ctx.params;
  const [org, keys] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', `/orgs/${enc(id)}/keys`),
  ]);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'settings');

  // Enable SCIM
  const enabled = h('input', { type: 'checkbox', checked: org.scim_enabled });
  const enabledHint = h('p', { class: 'hint', id: nextId('scim-hint') });
  const describeEnabled = () => {
    enabledHint.textContent = org.scim_enabled
      ? 'Identity providers can create, update, revoke and remove members and groups with a provision key below.'
      : 'While SCIM is disabled, identity providers get 401 Unauthorized and nothing in the directory changes. Members and groups are kept.';
  };
  describeEnabled();
  enabled.setAttribute('aria-describedby', enabledHint.id);
  enabled.id = nextId('scim-enabled');
  enabled.addEventListener('change', async () => {
    const wanted = enabled.checked;
    enabled.disabled = true;
    try {
      const updated = await api('PATCH', `/orgs/${enc(org.id)}`, { scim_enabled: wanted });
      Object.assign(org, updated);
      enabled.checked = org.scim_enabled;
      describeEnabled();
      updateScimBadge(org.scim_enabled);
      announce(org.scim_enabled ? 'SCIM enabled' : 'SCIM disabled');
    } catch (e) {
      enabled.checked = !wanted;
      showErrorBanner(e, content);
    } finally {
      enabled.disabled = false;
    }
  });

  const urlInput = h('input', { type: 'text', readonly: true, value: org.scim_url, class: 'mono', spellcheck: 'false', autocomplete: 'off' });
  urlInput.id = nextId('scim-url');
  const scimSection = h('section', { class: 'card', 'aria-labelledby': 'scim-title' },
    h('h2', { id: 'scim-title' }, 'SCIM provisioning'),
    h('p', null, 'Automatically sync users and groups from your identity provider (Microsoft Entra ID, Okta, JumpCloud, OneLogin, Ping Identity, Google Workspace…): give it the SCIM URL and a provision key below.'),
    h('div', { class: 'checkbox-field' }, enabled, h('label', { for: enabled.id }, 'Enable SCIM')),
    enabledHint,
    h('div', { class: 'field' },
      h('label', { for: urlInput.id }, 'SCIM URL'),
      h('div', { class: 'input-row' }, urlInput, copyButton(() => urlInput.value, urlInput, 'Copy')),
      h('p', { class: 'hint' }, 'Called “Tenant URL” in Entra ID and “SCIM connector base URL” in Okta.')));

  const keySection = keysPanel(org, keys.keys || [], (url) => {
    org.scim_url = url;
    urlInput.value = url;
  });

  // Seat limit
  const seats = h('input', { type: 'number', min: 0, step: 1, inputmode: 'numeric', value: org.seat_limit ?? '' });
  const seatsError = formError();
  const seatsSave = h('button', { type: 'submit', class: 'btn' }, 'Save');
  seats.id = nextId('seats');
  const seatsHint = h('p', { class: 'hint', id: `${seats.id}-hint` }, 'The most active members this organization may have; revoked members hold no seat. Creating or restoring a member beyond it is refused with “Seat limit has been reached.” Leave empty for no limit.');
  seats.setAttribute('aria-describedby', seatsHint.id);
  const seatsForm = h('form', { novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: seats.id }, 'Seat limit'),
      h('div', { class: 'input-row' }, seats, seatsSave),
      seatsHint),
    seatsError);
  seatsForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const raw = seats.value.trim();
    if (raw !== '' && !/^\d+$/.test(raw)) {
      setFormError(seatsError, 'Enter a whole number, or leave the field empty for no limit.', seats);
      return;
    }
    if (seats.validity && seats.validity.badInput) {
      setFormError(seatsError, 'Enter a whole number, or leave the field empty for no limit.', seats);
      return;
    }
    seatsSave.disabled = true;
    setFormError(seatsError, '');
    try {
      const updated = await api('PATCH', `/orgs/${enc(org.id)}`, { seat_limit: raw === '' ? null : Number(raw) });
      Object.assign(org, updated);
      seats.value = org.seat_limit ?? '';
      announce(org.seat_limit === null ? 'Seat limit removed' : `Seat limit saved: ${org.seat_limit}`);
      seatsSave.textContent = 'Saved';
      setTimeout(() => { seatsSave.textContent = 'Save'; }, 2000);
    } catch (e) {
      if (!e.handled) setFormError(seatsError, e.message, seats);
    } finally {
      seatsSave.disabled = false;
    }
  });
  const seatSection = h('section', { class: 'card', 'aria-labelledby': 'seats-title' },
    h('h2', { id: 'seats-title' }, 'Seats'), seatsForm);

  // Organization: rename, delete
  const rename = h('button', { type: 'button', class: 'btn' }, 'Rename');
  rename.addEventListener('click', () => openRename(org, () => route({ force: true, navigated: true })));
  const remove = h('button', { type: 'button', class: 'btn btn-danger' }, 'Delete organization');
  remove.addEventListener('click', () => openDelete(org));
  const orgSection = h('section', { class: 'card danger-zone', 'aria-labelledby': 'org-title' },
    h('h2', { id: 'org-title' }, 'Organization'),
    h('dl', { class: 'meta' },
      h('div', null, h('dt', null, 'Name'), h('dd', null, org.name)),
      h('div', null, h('dt', null, 'Organization ID'), h('dd', null, h('code', null, org.id))),
      h('div', null, h('dt', null, 'Created'), h('dd', null, timeExact(org.created_at)))),
    h('p', { class: 'actions' }, rename, remove),
    h('p', { class: 'hint' }, 'Deleting removes the organization with its key, members, groups and event log.'));

  content.append(scimSection, keySection, seatSection, orgSection);
  currentView = { key: ctx.key };
}

// ---------------------------------------------------------------- API keys

const KEY_SCOPES = [
  { value: 'provision', label: 'Provision', hint: 'Everything SCIM allows: create, change, revoke and remove members and groups. What an identity provider needs.' },
  { value: 'read', label: 'Read only', hint: 'Lists and searches members and groups; every change is refused with 403. For your own scripts and sync jobs.' },
];
const KEY_EXPIRIES = [['', 'Never'], ['30', 'After 30 days'], ['90', 'After 90 days'], ['365', 'After 365 days']];
const ROTATE_GRACE = [
  { value: '0', label: 'Stop the old key now', hint: 'Anything still using it gets 401 until it has the new key.' },
  { value: '3600', label: 'Keep the old key valid for 1 hour' },
  { value: '86400', label: 'Keep the old key valid for 24 hours' },
  { value: '604800', label: 'Keep the old key valid for 7 days', hint: 'Time to switch the identity provider over without a provisioning gap.' },
];

function scopeBadge(scope) {
  return scope === 'read'
    ? h('span', { class: 'badge badge-read' }, 'Read only')
    : h('span', { class: 'badge badge-provision' }, 'Provision');
}

function keyLabel(key) {
  return `${key.name} (${key.key_id})`;
}

function keyExpiry(key) {
  if (key.expired) {
    return h('span', { class: 'expiry' }, h('span', { class: 'badge badge-revoked' }, 'Expired'), ' ', timeRelative(key.expires_at));
  }
  if (!key.expires_at) return h('span', { class: 'muted' }, 'Never');
  return timeRelative(key.expires_at);
}

function createdBy(actor) {
  if (actor === 'admin') return 'by the admin';
  if (actor === 'cli') return 'on the command line';
  return null;
}

/**
 * The organization's API keys: a table with rotate and revoke per key, and "Add key". A key
 * just issued is shown once above the table (state.freshKey) until the page is left.
 */
function keysPanel(org, initialKeys, onScimUrl) {
  let keys = initialKeys;
  const headingId = 'keys-title';
  const heading = h('h2', { id: headingId, tabindex: '-1' }, 'API keys');
  const status = h('p', { class: 'panel-status', role: 'status' });
  const freshArea = h('div');
  const list = h('div', { class: 'results' });
  const add = h('button', { type: 'button', class: 'btn btn-primary' }, 'Add key');
  const section = h('section', { class: 'card', 'aria-labelledby': headingId },
    h('div', { class: 'card-head' }, heading, add),
    h('p', null, 'Each key is sent as a bearer token: by the identity provider (“Secret token” in Entra ID, “API token” in Okta) or by your own scripts. A key is shown only once, when it is created.'),
    status, freshArea, list);

  const reload = async () => {
    const answer = await api('GET', `/orgs/${enc(org.id)}/keys`);
    keys = answer.keys || [];
  };
  const showFresh = (answer, replaced) => {
    state.freshKey = { orgId: org.id, ...answer, replaced: replaced || null };
    if (answer.scim_url) onScimUrl(answer.scim_url);
    status.textContent = '';
    draw();
    announce(`API key ${answer.key.name} ${replaced ? 'rotated' : 'added'}. Copy it now: it is shown only once.`);
    return freshArea.querySelector('.fresh-key h3');
  };

  const openAdd = () => {
    const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 100, required: true });
    const scope = radioGroup({ legend: 'Scope', options: KEY_SCOPES, value: keys.length ? 'read' : 'provision' });
    const expires = selectControl(KEY_EXPIRIES, '');
    openDialog({
      title: 'Add an API key',
      body: [
        field({ label: 'Name', control: name, hint: 'What uses the key, for example “Entra ID” or “wiki sync”.' }),
        scope.el,
        field({ label: 'Expires', control: expires }),
      ],
      confirmLabel: 'Add key',
      initialFocus: name,
      onConfirm: async () => {
        if (!name.value.trim()) throw fieldError('Enter a name for the key.', name);
        let answer;
        try {
          answer = await api('POST', `/orgs/${enc(org.id)}/keys`, {
            name: name.value.trim(),
            scope: scope.value(),
            expires_in_days: expires.value ? Number(expires.value) : null,
          });
        } catch (e) {
          if (e.status === 400) e.control = name;
          throw e;
        }
        await reload().catch(() => { keys = [...keys, answer.key]; });
        return showFresh(answer, null);
      },
    });
  };
  add.addEventListener('click', openAdd);

  const openRotate = (key) => {
    const grace = radioGroup({ legend: 'The old key', options: ROTATE_GRACE, value: '0' });
    openDialog({
      title: `Rotate “${key.name}”?`,
      danger: true,
      body: [
        h('p', null, 'A new key with the same name and scope (', scopeBadge(key.scope), ') replaces key ', h('code', null, key.key_id),
          '. Give the new key to whatever uses the old one.'),
        grace.el,
      ],
      confirmLabel: 'Rotate key',
      onConfirm: async () => {
        const answer = await api('POST', `/orgs/${enc(org.id)}/keys/${enc(key.key_id)}/rotate`, { grace_seconds: Number(grace.value()) });
        await reload().catch(() => { keys = [...keys.filter((k) => k.key_id !== key.key_id), answer.key]; });
        return showFresh(answer, answer.replaced || { key_id: key.key_id, expires_at: null });
      },
    });
  };

  const openRevoke = (key) => {
    openDialog({
      title: `Revoke “${key.name}”?`,
      danger: true,
      body: [h('p', null, 'Key ', h('code', null, key.key_id), ' stops working immediately: anything still using it gets 401. This cannot be undone.')],
      confirmLabel: 'Revoke key',
      onConfirm: async () => {
        try {
          await api('DELETE', `/orgs/${enc(org.id)}/keys/${enc(key.key_id)}`);
        } catch (e) {
          if (e.status !== 404) throw e; // already gone: the list below shows it
        }
        await reload().catch(() => { keys = keys.filter((k) => k.key_id !== key.key_id); });
        const fresh = state.freshKey;
        if (fresh && fresh.key && fresh.key.key_id === key.key_id) state.freshKey = null;
        else if (fresh && fresh.replaced && fresh.replaced.key_id === key.key_id) fresh.replaced = { ...fresh.replaced, expires_at: null };
        draw();
        status.textContent = `Key “${key.name}” (${key.key_id}) was revoked. ${keys.length ? plural(keys.length, 'key remains', 'keys remain') : 'No key remains'}.`;
        return heading;
      },
    });
  };

  const draw = () => {
    const fresh = state.freshKey && state.freshKey.orgId === org.id ? state.freshKey : null;
    freshArea.replaceChildren(fresh ? freshKeyBox(fresh) : '');
    add.className = keys.length ? 'btn' : 'btn btn-primary';
    if (!keys.length) {
      list.replaceChildren(emptyState('This organization has no API key yet.',
        'Add a provision key for your identity provider; add read keys for scripts that only look up members and groups.'));
      return;
    }
    list.replaceChildren(dataTable({
      caption: 'API keys',
      columns: ['Name', 'Scope', 'Key ID', 'Created', 'Last used', 'Expires', { label: 'Actions', class: 'actions-col' }],
      rows: keys.map((key) => [
        key.name,
        scopeBadge(key.scope),
        h('code', null, key.key_id),
        h('span', null, timeExact(key.created_at, { dateOnly: true }), createdBy(key.created_by) ? h('span', { class: 'muted small' }, ` ${createdBy(key.created_by)}`) : null),
        timeRelative(key.last_used_at),
        keyExpiry(key),
        h('div', { class: 'row-actions' },
          key.expired ? null : h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Rotate ${keyLabel(key)}`, onclick: () => openRotate(key) }, 'Rotate'),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'aria-label': `Revoke ${keyLabel(key)}`, onclick: () => openRevoke(key) }, 'Revoke')),
      ]),
      rowClass: (i) => (keys[i].expired ? 'is-expired' : null),
    }));
  };
  draw();
  return section;
}

/** A secret shown once: masked, with Reveal and Copy, a warning, and what it belongs to. */
function secretBox({ heading, label, secret, warning, meta = [], note = null }) {
  const input = h('input', { type: 'password', readonly: true, value: secret, class: 'mono', autocomplete: 'off', spellcheck: 'false' });
  input.id = nextId('secret');
  const reveal = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false', 'aria-controls': input.id }, 'Reveal');
  reveal.addEventListener('click', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    reveal.textContent = show ? 'Hide' : 'Reveal';
    reveal.setAttribute('aria-pressed', String(show));
    announce(show ? `${label} shown` : `${label} hidden`);
  });
  const warningId = nextId('secret-warning');
  input.setAttribute('aria-describedby', warningId);
  const headingId = nextId('secret-title');
  // A form (never submitted) only because browsers expect password fields inside one.
  return h('form', { class: 'fresh-key', role: 'group', 'aria-labelledby': headingId, onsubmit: (event) => event.preventDefault() },
    h('h3', { id: headingId, tabindex: '-1' }, heading),
    h('p', { class: 'callout callout-warning', id: warningId }, warning),
    h('div', { class: 'field' },
      h('label', { for: input.id }, label),
      h('div', { class: 'input-row' }, input, reveal, copyButton(() => input.value, input, 'Copy'))),
    meta.length ? h('dl', { class: 'meta' }, meta.map(([term, value]) => h('div', null, h('dt', null, term), h('dd', null, value)))) : null,
    note ? h('p', { class: 'hint' }, note) : null);
}

function freshKeyBox(fresh) {
  const key = fresh.key;
  const read = key.scope === 'read';
  const warning = read
    ? [h('strong', null, 'This API key can read your organization’s directory. '),
      'Keep it secret: anyone who has it can list every member and group. It is shown only now.']
    : [h('strong', null, 'This API key can manage your organization’s members. '),
      'Keep it secret: anyone who has it can add, change and remove members. It is shown only now.'];
  let note = null;
  if (fresh.replaced) {
    note = fresh.replaced.expires_at
      ? ['It replaces key ', h('code', null, fresh.replaced.key_id), ', which keeps working until ', timeExact(fresh.replaced.expires_at), '.']
      : ['It replaces key ', h('code', null, fresh.replaced.key_id), ', which has stopped working.'];
  }
  return secretBox({
    heading: `Your new API key “${key.name}”`,
    label: 'API key',
    secret: fresh.api_key,
    warning,
    meta: [
      ['Key ID', h('code', null, key.key_id)],
      ['Scope', scopeBadge(key.scope)],
      ['Expires', key.expires_at ? timeExact(key.expires_at) : 'Never'],
    ],
    note,
  });
}

// ---------------------------------------------------------------- LDAP

/**
 * Where applications reach the directory: LDAPS when it listens (the connection is encrypted),
 * else plain LDAP, else where plain LDAP would listen once enabled (for the settings to be
 * ready to copy anyway).
 */
function ldapConnection(ldap) {
  const url = ldap.ldaps_url || ldap.url;
  const secure = Boolean(ldap.ldaps_url);
  let host = location.hostname;
  let port = secure ? 636 : 3890;
  if (url) {
    try {
      const parsed = new URL(url);
      host = parsed.hostname;
      port = Number(parsed.port) || port;
    } catch { /* keep the defaults */ }
  }
  return { secure, host, port, url: url || `ldap://${host}:${port}`, listening: Boolean(url) };
}

/** XML text: escapes what could end a value early. */
function xmlText(value) {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Each application's settings, as docs/ldap.md gives them (tests/ops/ldap.sh runs their
 * searches against the real server), filled in with the organization's tree and the address;
 * over LDAPS with the CA the application is told to trust, over plain LDAP without TLS.
 */
function ldapSnippets(ldap, bindDn) {
  const c = ldapConnection(ldap);
  const base = ldap.base_dn;
  const people = ldap.people_dn;
  const groups = ldap.groups_dn;
  const password = '<the read key>';
  const tls = (...lines) => (c.secure ? lines : []);
  const gitea = [
    'gitea admin auth add-ldap \\',
    '  --name "scim-appliance" \\',
    `  --security-protocol ${c.secure ? 'LDAPS' : 'Unencrypted'} --host "${c.host}" --port ${c.port} \\`,
    `  --bind-dn "${bindDn}" --bind-password "${password}" \\`,
    `  --user-search-base "${people}" \\`,
    '  --user-filter "(&(objectClass=person)(|(uid=%[1]s)(mail=%[1]s)))" \\',
    `  --admin-filter "(memberOf=cn=gitea-admins,${groups})" \\`,
    '  --username-attribute uid --firstname-attribute givenName --surname-attribute sn \\',
    '  --email-attribute mail \\',
    '  --synchronize-users --page-size 500',
  ].join('\n');
  const occ = (key, value) => `occ ldap:set-config s01 ${key} ${value}`;
  const nextcloud = [
    'occ app:enable user_ldap',
    'occ ldap:create-empty-config                                   # prints the id, s01 here',
    occ('ldapHost', `"${c.secure ? 'ldaps://' : ''}${c.host}"`),
    occ('ldapPort', c.port),
    occ('ldapAgentName', `"${bindDn}"`),
    occ('ldapAgentPassword', `"${password}"`),
    occ('ldapBase', `"${base}"`),
    occ('ldapBaseUsers', `"${people}"`),
    occ('ldapBaseGroups', `"${groups}"`),
    occ('ldapUserFilterObjectclass', 'inetOrgPerson'),
    occ('ldapUserFilter', '"(|(objectclass=inetOrgPerson))"'),
    occ('ldapLoginFilterUsername', 1),
    occ('ldapLoginFilterEmail', 1),
    occ('ldapLoginFilter', '"(&(|(objectclass=inetOrgPerson))(|(uid=%uid)(|(mailPrimaryAddress=%uid)(mail=%uid))))"'),
    occ('ldapGroupFilterObjectclass', 'groupOfNames'),
    occ('ldapGroupFilter', '"(&(|(objectclass=groupOfNames)))"'),
    occ('ldapGroupMemberAssocAttr', 'member'),
    occ('ldapUserDisplayName', 'cn'),
    occ('ldapGroupDisplayName', 'cn'),
    occ('ldapEmailAttribute', 'mail'),
    occ('ldapExpertUsernameAttr', 'uid'),
    occ('ldapExpertUUIDUserAttr', 'entryUUID'),
    occ('ldapExpertUUIDGroupAttr', 'entryUUID'),
    occ('hasMemberOfFilterSupport', 1),
    occ('useMemberOfToDetectMembership', 1),
    occ('ldapNestedGroups', 0),
    occ('ldapPagingSize', 500),
    occ('turnOnPasswordChange', 0),
    occ('ldapConfigurationActive', 1),
    'occ ldap:test-config s01',
  ].join('\n');
  const xml = (tag, value) => `  <${tag}>${xmlText(value)}</${tag}>`;
  const jellyfin = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<PluginConfiguration xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">',
    xml('LdapServer', c.host),
    xml('LdapPort', c.port),
    xml('UseSsl', c.secure),
    xml('UseStartTls', false),
    xml('SkipSslVerify', false),
    ...tls(xml('LdapRootCaPath', '/config/scim-appliance-ca.pem')),
    xml('LdapBindUser', bindDn),
    xml('LdapBindPassword', password),
    xml('LdapBaseDn', base),
    xml('LdapSearchFilter', `(memberOf=cn=jellyfin-users,${groups})`),
    xml('LdapSearchAttributes', 'uid, mail'),
    '  <LdapAdminBaseDn></LdapAdminBaseDn>',
    xml('LdapAdminFilter', `(memberOf=cn=jellyfin-admins,${groups})`),
    xml('EnableLdapAdminFilterMemberUid', false),
    xml('LdapUidAttribute', 'uid'),
    xml('LdapUsernameAttribute', 'uid'),
    xml('CreateUsersFromLdap', true),
    xml('AllowPassChange', false),
    '</PluginConfiguration>',
  ].join('\n');
  const grafana = [
    '[[servers]]',
    `host = "${c.host}"`,
    `port = ${c.port}`,
    `use_ssl = ${c.secure}`,
    'start_tls = false',
    ...tls('ssl_skip_verify = false', 'root_ca_cert = "/etc/grafana/scim-appliance-ca.pem"'),
    `bind_dn = "${bindDn}"`,
    `bind_password = "${password}"`,
    'search_filter = "(uid=%s)"',
    `search_base_dns = ["${people}"]`,
    '',
    '[servers.attributes]',
    'username = "uid"',
    'name = "givenName"',
    'surname = "sn"',
    'email = "mail"',
    'member_of = "memberOf"',
    '',
    '[[servers.group_mappings]]',
    `group_dn = "cn=grafana-admins,${groups}"`,
    'org_role = "Admin"',
    'grafana_admin = true',
    '',
    '[[servers.group_mappings]]',
    `group_dn = "cn=grafana-editors,${groups}"`,
    'org_role = "Editor"',
    '',
    '[[servers.group_mappings]]',
    'group_dn = "*"',
    'org_role = "Viewer"',
  ].join('\n');
  const authelia = [
    'authentication_backend:',
    '  ldap:',
    `    address: '${c.secure ? 'ldaps' : 'ldap'}://${c.host}:${c.port}'`,
    "    implementation: 'custom'",
    "    timeout: '5s'",
    '    start_tls: false',
    ...tls('    tls:', `      server_name: '${c.host}'`, '      skip_verify: false', "      minimum_version: 'TLS1.2'"),
    `    base_dn: '${base}'`,
    "    additional_users_dn: 'ou=people'",
    "    users_filter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person))'",
    "    additional_groups_dn: 'ou=groups'",
    "    groups_filter: '(&(member={dn})(objectClass=groupOfNames))'",
    "    group_search_mode: 'filter'",
    '    permit_referrals: false',
    '    permit_unauthenticated_bind: false',
    `    user: '${bindDn}'`,
    `    password: '${password}'`,
    '    attributes:',
    "      username: 'uid'",
    "      display_name: 'cn'",
    "      mail: 'mail'",
    "      member_of: 'memberOf'",
    "      group_name: 'cn'",
  ].join('\n');
  const sssd = [
    '[sssd]',
    'services = nss, pam',
    'domains = scim',
    '',
    '[domain/scim]',
    'id_provider = ldap',
    'auth_provider = none',
    'access_provider = permit',
    `ldap_uri = ${c.secure ? 'ldaps' : 'ldap'}://${c.host}:${c.port}`,
    ...tls('ldap_tls_reqcert = demand', 'ldap_tls_cacert = /etc/sssd/scim-appliance-ca.pem'),
    'ldap_schema = rfc2307bis',
    `ldap_search_base = ${base}`,
    `ldap_user_search_base = ${people}`,
    `ldap_group_search_base = ${groups}`,
    `ldap_default_bind_dn = ${bindDn}`,
    'ldap_default_authtok_type = password',
    `ldap_default_authtok = ${password}`,
    'ldap_user_object_class = posixAccount',
    'ldap_group_object_class = posixGroup',
    'ldap_group_member = member',
    'ldap_user_uuid = entryUUID',
    'ldap_group_uuid = entryUUID',
    'ldap_id_mapping = false',
    'auto_private_groups = true',
    'ldap_page_size = 500',
    'enumerate = false',
    'cache_credentials = false',
  ].join('\n');
  const ca = c.secure ? ' Give it the CA of the HTTPS certificate where the settings name a CA file.' : '';
  return [
    { key: 'gitea', title: 'Gitea and Forgejo', where: ['An authentication source of type LDAP (via BindDN), from the command line (', h('code', null, 'forgejo admin auth add-ldap'), ' takes the same flags) or under Site Administration → Authentication Sources.'], text: gitea },
    { key: 'nextcloud', title: 'Nextcloud', where: ['The LDAP user and group backend (', h('code', null, 'user_ldap'), '), with ', h('code', null, 'occ'), '; the filters its own wizard writes.'], text: nextcloud },
    { key: 'jellyfin', title: 'Jellyfin', where: ['The LDAP-Auth plugin (Dashboard → Plugins → LDAP-Auth, or ', h('code', null, 'config/plugins/configurations/LDAP-Auth.xml'), '); members of ', h('code', null, 'jellyfin-users'), ' are found.'], text: jellyfin },
    { key: 'grafana', title: 'Grafana', where: [h('code', null, 'ldap.toml'), ' (with ', h('code', null, '[auth.ldap] enabled = true'), ' in ', h('code', null, 'grafana.ini'), '); group DNs in ', h('code', null, 'memberOf'), ' map to roles.'], text: grafana },
    { key: 'authelia', title: 'Authelia', where: ['The LDAP backend in ', h('code', null, 'configuration.yml'), '. Authelia’s first factor binds as the person, so it needs member sign-ins (coming).'], text: authelia },
    { key: 'sssd', title: 'SSSD (Linux hosts)', where: [h('code', null, '/etc/sssd/sssd.conf'), ' (mode 0600): members become Linux users and groups for ', h('code', null, 'getent'), ' and ', h('code', null, 'id'), '; people sign in with SSH keys or another PAM module until member sign-ins come.'], text: sssd },
  ].map((app) => ({ ...app, where: [...app.where, ca] }));
}

function listenerStatus({ address, url, off }) {
  return address
    ? h('span', null, h('span', { class: 'badge badge-on' }, 'Listening'), ' on ', h('code', null, url))
    : h('span', null, h('span', { class: 'badge badge-off' }, 'Off'), ' ', off);
}

async function renderLdap(ctx) {
  const { id } = ctx.params;
  const [org, keyList] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', `/orgs/${enc(id)}/keys`),
  ]);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'ldap');
  const readKeys = (keyList.keys || []).filter((key) => key.scope === 'read' && !key.expired);
  const settingsHref = `#/orgs/${enc(org.id)}/settings`;

  // Where the server listens
  const statusSection = h('section', { class: 'card', 'aria-labelledby': 'ldap-status-title' },
    h('h2', { id: 'ldap-status-title' }, 'LDAP directory'),
    h('p', null, 'Applications that read LDAP rather than receive SCIM (Gitea, Nextcloud, Jellyfin, Grafana, Authelia, Linux hosts) see this organization’s members and groups here, read-only, as soon as the identity provider changes them. Revoked members do not exist for LDAP.'),
    h('dl', { class: 'details ldap-listeners' },
      h('div', null, h('dt', null, 'LDAP'), h('dd', null, listenerStatus({
        address: org.ldap.listen,
        url: org.ldap.url,
        off: ['start the server with ', h('code', null, '--ldap-listen 127.0.0.1:3890'), ' (or ', h('code', null, 'SCIM_LDAP_LISTEN'), ', or ', h('code', null, 'ldap_listen'), ' in the configuration file).'],
      }))),
      h('div', null, h('dt', null, 'LDAPS'), h('dd', null, listenerStatus({
        address: org.ldap.ldaps_listen,
        url: org.ldap.ldaps_url,
        off: ['add ', h('code', null, '--ldaps-listen 0.0.0.0:636'), ' with the HTTPS certificate (', h('code', null, '--tls-cert'), ', ', h('code', null, '--tls-key'), ').'],
      })))),
    h('p', { class: 'hint' }, 'Members cannot sign in with a password over LDAP yet: applications can list and look up members and groups with a service account, and member sign-ins are coming.'));

  // Base DN
  const baseInput = h('input', { type: 'text', value: org.ldap.base_dn, class: 'mono', autocomplete: 'off', spellcheck: 'false', required: true });
  baseInput.id = nextId('ldap-base');
  const baseHint = h('p', { class: 'hint', id: `${baseInput.id}-hint` });
  baseInput.setAttribute('aria-describedby', baseHint.id);
  const baseError = formError();
  const baseSave = h('button', { type: 'submit', class: 'btn' }, 'Save');
  const baseForm = h('form', { novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: baseInput.id }, 'Base DN'),
      h('div', { class: 'input-row' }, baseInput, baseSave),
      baseHint),
    baseError);
  const baseSection = h('section', { class: 'card', 'aria-labelledby': 'ldap-base-title' },
    h('h2', { id: 'ldap-base-title' }, 'Directory tree'), baseForm);

  // Service accounts and application settings, redrawn when the base DN changes.
  const accounts = h('section', { class: 'card', 'aria-labelledby': 'ldap-accounts-title' });
  const apps = h('section', { class: 'card', 'aria-labelledby': 'ldap-apps-title' });

  const draw = () => {
    const { ldap } = org;
    baseHint.replaceChildren('Members are under ', h('code', null, ldap.people_dn), ' and groups under ', h('code', null, ldap.groups_dn),
      '. Components such as ', h('code', null, 'dc=example,dc=com'), '; unique across this server.');
    const bindDn = (key) => `cn=${key.key_id},${ldap.base_dn}`;
    accounts.replaceChildren(...[
      h('h2', { id: 'ldap-accounts-title' }, 'Service accounts'),
      h('p', null, 'Applications bind as ', h('code', { class: 'bind-dn-format' }, ldap.bind_dn_format),
        ' with a read key of this organization as the password. A read key reads and changes nothing else; revoke it to end the application’s access.'),
      readKeys.length
        ? h('ul', { class: 'bind-dns' }, readKeys.map((key) => {
          const dn = bindDn(key);
          return h('li', null,
            h('span', { class: 'bind-dn-name' }, key.name),
            h('code', null, dn),
            copyButtonFor(() => dn, `the bind DN of ${key.name}`));
        }))
        : h('p', { class: 'callout callout-info' }, 'This organization has no read key yet. ',
          h('a', { href: settingsHref }, 'Add one under API keys'), ' with the scope “Read only”: its id makes the bind DN, the key itself is the password.'),
      readKeys.length
        ? h('p', { class: 'hint' }, 'The key itself was shown once, when it was created. For a new application, ', h('a', { href: settingsHref }, 'add a read key'), ' of its own.')
        : null,
    ].filter(Boolean));
    const example = readKeys.length ? bindDn(readKeys[0]) : ldap.bind_dn_format;
    const connection = ldapConnection(ldap);
    apps.replaceChildren(
      h('h2', { id: 'ldap-apps-title' }, 'Application settings'),
      h('p', null, 'Ready to copy, with this organization’s base DN and ',
        connection.listening ? ['the address ', h('code', null, connection.url)] : ['the address LDAP will have once it listens (', h('code', null, connection.url), ')'],
        '. Replace ', h('code', null, '<the read key>'), ' with the key', readKeys.length ? ` “${readKeys[0].name}”` : '', '. Group names such as ', h('code', null, 'gitea-admins'), ' are examples: use groups your identity provider pushes. ',
        h('code', null, 'docs/ldap.md'), ' explains each setting and which searches the application sends.'),
      ...ldapSnippets(ldap, example).map((app) => {
        const headingId = `ldap-app-${app.key}`;
        // A named region, like a wide table: it scrolls, so the keyboard can reach it.
        const pre = h('pre', { class: 'snippet', role: 'region', tabindex: '0', 'aria-label': `${app.title} settings` }, h('code', null, app.text));
        return h('div', { class: 'snippet-block' },
          h('div', { class: 'card-head' }, h('h3', { id: headingId }, app.title), copyButtonFor(() => app.text, `the ${app.title} settings`)),
          h('p', { class: 'hint' }, app.where),
          pre);
      }));
  };
  draw();

  baseForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const wanted = baseInput.value.trim();
    if (!wanted) {
      setFormError(baseError, 'Enter a base DN, such as dc=example,dc=com.', baseInput);
      return;
    }
    baseSave.disabled = true;
    setFormError(baseError, '');
    try {
      const updated = await api('PATCH', `/orgs/${enc(org.id)}`, { ldap_base_dn: wanted });
      Object.assign(org, updated);
      baseInput.value = org.ldap.base_dn;
      draw();
      announce(`Base DN saved: ${org.ldap.base_dn}`);
      baseSave.textContent = 'Saved';
      setTimeout(() => { baseSave.textContent = 'Save'; }, 2000);
    } catch (e) {
      if (!e.handled) setFormError(baseError, e.message, baseInput);
    } finally {
      baseSave.disabled = false;
    }
  });

  content.append(statusSection, baseSection, accounts, apps);
  currentView = { key: ctx.key };
}

// ---------------------------------------------------------------- members

function membersQuery(query) {
  return {
    q: (query.q || '').trim(),
    status: ['active', 'revoked'].includes(query.status) ? query.status : '',
    page: intParam(query.page, 1),
    per_page: intParam(query.per_page, DEFAULT_PER_PAGE, 1, 200),
  };
}

function hashParams(q, defaults) {
  const out = {};
  for (const [key, value] of Object.entries(q)) {
    if (value === '' || value === null || value === undefined) continue;
    if (defaults[key] !== undefined && String(defaults[key]) === String(value)) continue;
    out[key] = value;
  }
  return out;
}

function perPageSelect(value, choices = PER_PAGE_CHOICES) {
  const options = choices.includes(value) ? choices : [...choices, value].sort((a, b) => a - b);
  return selectControl(options.map((n) => [n, String(n)]), value);
}

async function renderMembers(ctx) {
  const { id } = ctx.params;
  const org = await api('GET', `/orgs/${enc(id)}`);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'members');
  const initial = membersQuery(ctx.query);

  const search = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', value: initial.q, placeholder: 'userName, email, name or externalId' });
  const status = selectControl([['', 'All'], ['active', 'Active'], ['revoked', 'Revoked']], initial.status);
  const perPage = perPageSelect(initial.per_page);
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter members' },
    field({ label: 'Search', control: search }),
    field({ label: 'Status', control: status }),
    field({ label: 'Per page', control: perPage }));
  const results = h('div', { class: 'results' });
  content.append(h('h2', { class: 'visually-hidden' }, 'Members'), filters, results);

  const apply = () => setQuery(ctx.path, hashParams({
    q: search.value.trim(), status: status.value, per_page: Number(perPage.value),
  }, { per_page: DEFAULT_PER_PAGE }));
  const applySoon = debounce(apply, 300);
  search.addEventListener('input', applySoon);
  status.addEventListener('change', apply);
  perPage.addEventListener('change', apply);
  filters.addEventListener('submit', (event) => { event.preventDefault(); apply(); });

  const view = { key: ctx.key, seq: 0 };
  view.update = async (query) => {
    const q = membersQuery(query);
    if (document.activeElement !== search && search.value.trim() !== q.q) search.value = q.q;
    status.value = q.status;
    if (![...perPage.options].some((o) => o.value === String(q.per_page))) perPage.append(h('option', { value: String(q.per_page) }, String(q.per_page)));
    perPage.value = String(q.per_page);
    await loadResults(view, results, `/orgs/${enc(id)}/members?${qs(q)}`, (data) => membersResults(org, q, data, ctx.path));
  };
  currentView = view;
  await view.update(ctx.query);
}

// Loads one page of results into `results`: only the newest request of `view` draws (typing
// fast must not show an older answer), the region is aria-busy meanwhile, and a failure shows
// a banner in its place.
async function loadResults(view, results, path, draw) {
  view.seq += 1;
  const mine = view.seq;
  results.setAttribute('aria-busy', 'true');
  try {
    const data = await api('GET', path);
    if (mine !== view.seq || currentView !== view) return;
    const nodes = draw(data);
    keepPagerFocus(results, () => results.replaceChildren(...nodes));
  } catch (e) {
    if (mine !== view.seq || e.handled) return;
    results.replaceChildren(banner('error', e.message));
  } finally {
    if (mine === view.seq) results.removeAttribute('aria-busy');
  }
}

function membersResults(org, q, data, path) {
  const members = data.members || [];
  const base = `#/orgs/${enc(org.id)}`;
  const filtered = q.q || q.status;
  if (!members.length) {
    if (data.total === 0 && !filtered) {
      return [emptyState('No members yet — they appear when your identity provider provisions them.',
        org.scim_enabled && org.api_key
          ? 'SCIM is set up; assign users to the app in your identity provider and start provisioning.'
          : h('a', { href: `${base}/settings` }, 'Set up SCIM provisioning'))];
    }
    if (data.total > 0) {
      return [emptyState('There is nothing on this page.', h('a', { href: hashFor(path, hashParams({ ...q, page: 1 }, { page: 1, per_page: DEFAULT_PER_PAGE })) }, 'Go to the first page'))];
    }
    const clear = h('button', { type: 'button', class: 'btn' }, 'Clear the filters');
    clear.addEventListener('click', () => setQuery(path, hashParams({ per_page: q.per_page }, { per_page: DEFAULT_PER_PAGE })));
    return [emptyState('No members match these filters.', clear)];
  }
  const memberHref = (m) => `${base}/members/${enc(m.id)}`;
  return [
    dataTable({
      caption: 'Members',
      columns: ['userName', 'Email', 'Display name', 'Status', 'Groups', 'externalId', 'Last change'],
      rows: members.map((m) => [
        h('a', { href: memberHref(m) }, m.user_name),
        m.email || h('span', { class: 'muted' }, '—'),
        m.display_name || h('span', { class: 'muted' }, '—'),
        statusBadge(m.active),
        groupLinks(org, m.groups),
        m.external_id ? h('span', { class: 'mono small' }, m.external_id) : h('span', { class: 'muted' }, '—'),
        timeRelative(m.updated_at),
      ]),
      rowHref: (i) => memberHref(members[i]),
    }),
    pager({
      total: data.total, page: data.page || q.page, perPage: data.per_page || q.per_page, noun: 'members',
      hrefFor: (page) => hashFor(path, hashParams({ ...q, page }, { page: 1, per_page: DEFAULT_PER_PAGE })),
    }),
  ];
}

function groupLinks(org, groups) {
  if (!groups || !groups.length) return h('span', { class: 'muted' }, '—');
  const out = [];
  groups.forEach((g, i) => {
    if (i) out.push(', ');
    out.push(h('a', { href: `#/orgs/${enc(org.id)}/groups/${enc(g.id)}` }, g.display_name || g.id));
  });
  return h('span', null, out);
}

async function renderMember(ctx) {
  const { id, memberId } = ctx.params;
  const [org, data] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', `/orgs/${enc(id)}/members/${enc(memberId)}`),
  ]);
  if (!ctx.live()) return;
  const m = data.member;
  const base = `#/orgs/${enc(org.id)}`;
  const content = orgFrame(org, 'members', {
    trail: [['Members', `${base}/members`], [m.user_name, null]],
    docTitle: m.user_name,
  });
  const row = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
  const dash = h('span', { class: 'muted' }, '—');
  const json = JSON.stringify(data.resource, null, 2);
  const pre = h('pre', { class: 'json', tabindex: '0', 'aria-label': 'SCIM resource as JSON' }, h('code', null, json));
  const copyJson = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy JSON');
  copyJson.addEventListener('click', () => copyToClipboard(json, copyJson, null));
  content.append(
    h('section', { class: 'card', 'aria-labelledby': 'member-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'member-title' }, m.display_name || m.user_name, ' ', statusBadge(m.active)),
        h('a', { href: hashFor(`/orgs/${enc(org.id)}/events`, { member: m.id }), class: 'btn btn-small' }, 'Events of this member')),
      h('dl', { class: 'details' },
        row('userName', m.user_name),
        row('Email', m.email || dash.cloneNode(true)),
        row('Display name', m.display_name || dash.cloneNode(true)),
        row('Status', m.active ? 'Active' : 'Revoked (active: false) — kept in the directory, holds no seat'),
        row('Groups', groupLinks(org, m.groups)),
        row('externalId', m.external_id ? h('code', null, m.external_id) : dash.cloneNode(true)),
        row('ID', h('code', null, m.id)),
        row('Created', timeExact(m.created_at)),
        row('Last change', timeExact(m.updated_at)))),
    h('section', { class: 'card', 'aria-labelledby': 'resource-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'resource-title' }, 'SCIM resource'), copyJson),
      h('p', { class: 'hint' }, 'Every attribute as the identity provider sees it in GET /Users/', m.id, '.'),
      pre),
  );
  currentView = { key: ctx.key };
}

// ---------------------------------------------------------------- groups

function groupsQuery(query) {
  return {
    q: (query.q || '').trim(),
    page: intParam(query.page, 1),
    per_page: intParam(query.per_page, DEFAULT_PER_PAGE, 1, 200),
  };
}

async function renderGroups(ctx) {
  const { id } = ctx.params;
  const org = await api('GET', `/orgs/${enc(id)}`);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'groups');
  const initial = groupsQuery(ctx.query);
  const search = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', value: initial.q, placeholder: 'Name or externalId' });
  const perPage = perPageSelect(initial.per_page);
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter groups' },
    field({ label: 'Search', control: search }),
    field({ label: 'Per page', control: perPage }));
  const results = h('div', { class: 'results' });
  content.append(h('h2', { class: 'visually-hidden' }, 'Groups'), filters, results);
  const apply = () => setQuery(ctx.path, hashParams({ q: search.value.trim(), per_page: Number(perPage.value) }, { per_page: DEFAULT_PER_PAGE }));
  search.addEventListener('input', debounce(apply, 300));
  perPage.addEventListener('change', apply);
  filters.addEventListener('submit', (event) => { event.preventDefault(); apply(); });

  const base = `#/orgs/${enc(org.id)}`;
  const view = { key: ctx.key, seq: 0 };
  view.update = async (query) => {
    const q = groupsQuery(query);
    if (document.activeElement !== search && search.value.trim() !== q.q) search.value = q.q;
    if (![...perPage.options].some((o) => o.value === String(q.per_page))) perPage.append(h('option', { value: String(q.per_page) }, String(q.per_page)));
    perPage.value = String(q.per_page);
    await loadResults(view, results, `/orgs/${enc(id)}/groups?${qs(q)}`, (data) => {
      const groups = data.groups || [];
      let nodes;
      if (!groups.length) {
        if (data.total === 0 && !q.q) {
          nodes = [emptyState('No groups yet — they appear when your identity provider pushes groups.',
            'Most identity providers push groups only when you assign them to the app (Entra ID: “Provision Microsoft Entra ID Groups”; Okta: “Push Groups”).')];
        } else if (data.total > 0) {
          nodes = [emptyState('There is nothing on this page.', h('a', { href: hashFor(ctx.path, hashParams({ ...q, page: 1 }, { page: 1, per_page: DEFAULT_PER_PAGE })) }, 'Go to the first page'))];
        } else {
          nodes = [emptyState('No groups match this search.')];
        }
      } else {
        const groupHref = (g) => `${base}/groups/${enc(g.id)}`;
        nodes = [
          dataTable({
            caption: 'Groups',
            columns: ['Name', 'externalId', { label: 'Members', class: 'num' }, 'Last change'],
            rows: groups.map((g) => [
              h('a', { href: groupHref(g) }, g.display_name || g.id),
              g.external_id ? h('span', { class: 'mono small' }, g.external_id) : h('span', { class: 'muted' }, '—'),
              fmtNumber.format(g.member_count),
              timeRelative(g.updated_at),
            ]),
            rowHref: (i) => groupHref(groups[i]),
          }),
          pager({
            total: data.total, page: data.page || q.page, perPage: data.per_page || q.per_page, noun: 'groups',
            hrefFor: (page) => hashFor(ctx.path, hashParams({ ...q, page }, { page: 1, per_page: DEFAULT_PER_PAGE })),
          }),
        ];
      }
      return nodes;
    });
  };
  currentView = view;
  await view.update(ctx.query);
}

async function renderGroup(ctx) {
  const { id, groupId } = ctx.params;
  const initial = groupsQuery(ctx.query);
  const [org, first] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', `/orgs/${enc(id)}/groups/${enc(groupId)}?${qs({ page: initial.page, per_page: initial.per_page })}`),
  ]);
  if (!ctx.live()) return;
  const g = first.group;
  const base = `#/orgs/${enc(org.id)}`;
  const name = g.display_name || g.id;
  const content = orgFrame(org, 'groups', { trail: [['Groups', `${base}/groups`], [name, null]], docTitle: name });
  const row = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
  const results = h('div', { class: 'results' });
  content.append(
    h('section', { class: 'card', 'aria-labelledby': 'group-title' },
      h('h2', { id: 'group-title' }, name),
      h('dl', { class: 'details' },
        row('displayName', g.display_name || h('span', { class: 'muted' }, '—')),
        row('externalId', g.external_id ? h('code', null, g.external_id) : h('span', { class: 'muted' }, '—')),
        row('Members', fmtNumber.format(g.member_count)),
        row('ID', h('code', null, g.id)),
        row('Created', timeExact(g.created_at)),
        row('Last change', timeExact(g.updated_at)))),
    h('section', { 'aria-labelledby': 'group-members-title' },
      h('h2', { id: 'group-members-title', class: 'section-title' }, 'Members of this group'),
      results),
  );

  const draw = (q, data) => {
    const members = data.members || [];
    if (!members.length) {
      return [data.total > 0
        ? emptyState('There is nothing on this page.', h('a', { href: hashFor(ctx.path, hashParams({ per_page: q.per_page }, { per_page: DEFAULT_PER_PAGE })) }, 'Go to the first page'))
        : emptyState('This group has no members.')];
    }
    const memberHref = (m) => `${base}/members/${enc(m.id)}`;
    return [
      dataTable({
        caption: `Members of ${name}`,
        columns: ['userName', 'Email', 'Display name', 'Status'],
        rows: members.map((m) => [
          h('a', { href: memberHref(m) }, m.user_name),
          m.email || h('span', { class: 'muted' }, '—'),
          m.display_name || h('span', { class: 'muted' }, '—'),
          statusBadge(m.active),
        ]),
        rowHref: (i) => memberHref(members[i]),
      }),
      pager({
        total: data.total, page: data.page || q.page, perPage: data.per_page || q.per_page, noun: 'members',
        hrefFor: (page) => hashFor(ctx.path, hashParams({ page, per_page: q.per_page }, { page: 1, per_page: DEFAULT_PER_PAGE })),
      }),
    ];
  };
  results.replaceChildren(...draw(initial, first));

  const view = { key: ctx.key, seq: 0 };
  view.update = async (query) => {
    const q = groupsQuery(query);
    await loadResults(view, results, `/orgs/${enc(id)}/groups/${enc(groupId)}?${qs({ page: q.page, per_page: q.per_page })}`, (data) => draw(q, data));
  };
  currentView = view;
}

// ---------------------------------------------------------------- webhooks

function endpointStatus(ep) {
  if (!ep.enabled) {
    return h('span', { class: 'endpoint-status' }, h('span', { class: 'badge badge-off' }, 'Disabled'),
      ep.disabled_reason ? h('span', { class: 'status-note' }, sentence(ep.disabled_reason)) : null);
  }
  if (ep.failing_since) {
    return h('span', { class: 'endpoint-status' }, h('span', { class: 'badge badge-warn' }, 'Failing'),
      h('span', { class: 'status-note' }, 'since ', timeRelative(ep.failing_since)));
  }
  return h('span', { class: 'badge badge-on' }, 'Enabled');
}

function endpointEvents(ep, short = false) {
  if (!ep.event_types) return 'All events';
  if (!ep.event_types.length) return h('span', { class: 'muted' }, 'None');
  const shown = short ? ep.event_types.slice(0, 2) : ep.event_types;
  const more = ep.event_types.length - shown.length;
  return h('span', { class: 'event-list' },
    shown.map((t, i) => [i ? ', ' : '', h('span', { class: 'event-type' }, t)]),
    more > 0 ? h('span', { class: 'muted' }, ` and ${more} more`) : null);
}

function endpointBacklog(ep) {
  if (!ep.backlog) return h('span', { class: 'muted' }, 'None');
  return h('span', null, `${fmtNumber.format(ep.backlog)} pending`,
    ep.oldest_pending_at ? h('span', { class: 'status-note' }, 'oldest ', timeRelative(ep.oldest_pending_at)) : null);
}

function endpointName(ep) {
  return ep.description || ep.url;
}

/** Checkboxes for the event types an endpoint wants; "All" (null) also covers types added later. */
function eventTypesField(allTypes, selected) {
  const everything = h('input', { type: 'checkbox', id: nextId('all-types'), checked: selected === null || selected === undefined });
  const boxes = allTypes.map((type) => h('input', {
    type: 'checkbox', value: type, id: nextId('type'),
    checked: selected === null || selected === undefined || selected.includes(type),
  }));
  const sync = () => {
    for (const box of boxes) {
      box.disabled = everything.checked;
      if (everything.checked) box.checked = true;
    }
  };
  everything.addEventListener('change', sync);
  sync();
  const hintId = nextId('types-hint');
  everything.setAttribute('aria-describedby', hintId);
  const el = h('fieldset', { class: 'choice-group event-types' },
    h('legend', null, 'Events'),
    h('div', { class: 'checkbox-field' }, everything, h('label', { for: everything.id }, 'All event types')),
    h('p', { class: 'choice-hint', id: hintId }, 'Including types added by later versions. Clear it to choose.'),
    h('div', { class: 'type-grid' }, boxes.map((box) => h('div', { class: 'checkbox-field' }, box,
      h('label', { for: box.id, class: 'event-type' }, box.value)))));
  return {
    el,
    first: everything,
    value: () => (everything.checked ? null : boxes.filter((box) => box.checked).map((box) => box.value)),
  };
}

/** The add/edit dialog of an endpoint; resolves through onSaved(answer) like onConfirm. */
function openEndpointDialog({ org, types, endpoint = null, onSaved }) {
  const url = h('input', { type: 'url', autocomplete: 'off', spellcheck: 'false', maxlength: 2000, required: true, value: endpoint ? endpoint.url : '', placeholder: 'https://' });
  const description = h('input', { type: 'text', autocomplete: 'off', maxlength: 500, value: endpoint ? endpoint.description || '' : '' });
  const events = eventTypesField(types, endpoint ? endpoint.event_types : null);
  openDialog({
    title: endpoint ? 'Edit the endpoint' : 'Add a webhook endpoint',
    body: [
      field({ label: 'URL', control: url, hint: 'http or https; addresses on your network are allowed. Redirects are not followed.' }),
      field({ label: 'Description (optional)', control: description }),
      events.el,
    ],
    confirmLabel: endpoint ? 'Save' : 'Add endpoint',
    initialFocus: url,
    onConfirm: async () => {
      const target = url.value.trim();
      if (!/^https?:\/\/\S+$/i.test(target)) throw fieldError('Enter an http:// or https:// URL.', url);
      const eventTypes = events.value();
      if (eventTypes && !eventTypes.length) throw fieldError('Choose at least one event type, or all of them.', events.first);
      const body = { url: target, description: description.value.trim(), event_types: eventTypes };
      try {
        const answer = endpoint
          ? await api('PATCH', `/orgs/${enc(org.id)}/webhooks/${enc(endpoint.id)}`, body)
          : await api('POST', `/orgs/${enc(org.id)}/webhooks`, body);
        return await onSaved(answer);
      } catch (e) {
        if (e.status === 400) e.control = /event/i.test(e.message) ? events.first : url;
        throw e;
      }
    },
  });
}

function freshSecretBox(fresh) {
  return secretBox({
    heading: fresh.previousValidUntil ? 'Your new signing secret' : 'The signing secret of the new endpoint',
    label: 'Signing secret',
    secret: fresh.secret,
    warning: [h('strong', null, 'Your receiver verifies every delivery with this secret. '),
      'Keep it secret: anyone who has it can forge messages your receiver would trust. It is shown only now.'],
    meta: [['Endpoint', h('span', { class: 'mono small' }, fresh.url)]],
    note: fresh.previousValidUntil
      ? ['The old secret also signs every message until ', timeExact(fresh.previousValidUntil), ' (each delivery carries both signatures), so your receiver can switch over without rejecting any.']
      : 'Verify deliveries with a Standard Webhooks library (Python, JavaScript, Go, Rust…) or by hand: docs/integrations.md shows how.',
  });
}

async function renderWebhooks(ctx) {
  const { id } = ctx.params;
  const [org, first] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', `/orgs/${enc(id)}/webhooks`),
  ]);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'webhooks');
  let endpoints = first.webhooks || [];
  const types = first.event_types || [];
  const base = `#/orgs/${enc(org.id)}/webhooks`;

  const heading = h('h2', { id: 'webhooks-title', tabindex: '-1' }, 'Webhook endpoints');
  const add = h('button', { type: 'button', class: 'btn btn-primary' }, 'Add endpoint');
  const status = h('p', { class: 'panel-status', role: 'status' });
  const freshArea = h('div');
  const list = h('div', { class: 'results' });
  content.append(h('section', { class: 'card', 'aria-labelledby': heading.id },
    h('div', { class: 'card-head' }, heading, add),
    h('p', null, 'Every change to this organization’s directory is sent as a signed message (',
      h('a', { href: 'https://www.standardwebhooks.com/', rel: 'noreferrer' }, 'Standard Webhooks'),
      ') to each enabled endpoint that wants its type: at least once, in order per endpoint, retried for about a day.'),
    status, freshArea, list));

  const reload = async () => {
    const answer = await api('GET', `/orgs/${enc(org.id)}/webhooks`);
    endpoints = answer.webhooks || [];
  };
  const draw = () => {
    const fresh = state.freshSecret && state.freshSecret.orgId === org.id ? state.freshSecret : null;
    freshArea.replaceChildren(fresh ? freshSecretBox(fresh) : '');
    add.className = endpoints.length ? 'btn' : 'btn btn-primary';
    if (!endpoints.length) {
      list.replaceChildren(emptyState('No webhook endpoints yet.',
        'Add one to let your own services learn when someone joins, leaves, is revoked or changes groups.'));
      return;
    }
    list.replaceChildren(dataTable({
      caption: 'Webhook endpoints',
      columns: ['Endpoint', 'Events', 'Status', 'Backlog', { label: 'Failed', class: 'num' }, { label: 'Expired', class: 'num' },
        { label: 'Actions', class: 'actions-col' }],
      rows: endpoints.map((ep) => [
        h('span', { class: 'endpoint-cell' },
          h('a', { href: `${base}/${enc(ep.id)}`, class: 'endpoint-url' }, ep.url),
          ep.description ? h('span', { class: 'status-note' }, ep.description) : null),
        endpointEvents(ep, true),
        endpointStatus(ep),
        endpointBacklog(ep),
        fmtNumber.format(ep.failed || 0),
        fmtNumber.format(ep.expired || 0),
        h('div', { class: 'row-actions' },
          h('button', {
            type: 'button', class: 'btn btn-small', 'data-toggle': ep.id,
            'aria-label': `${ep.enabled ? 'Disable' : 'Enable'} ${ep.url}`, onclick: () => toggle(ep),
          }, ep.enabled ? 'Disable' : 'Enable')),
      ]),
      rowHref: (i) => `${base}/${enc(endpoints[i].id)}`,
    }));
  };
  const toggle = async (ep) => {
    try {
      await api('PATCH', `/orgs/${enc(org.id)}/webhooks/${enc(ep.id)}`, { enabled: !ep.enabled });
      await reload();
    } catch (e) {
      if (!e.handled) showErrorBanner(e, content);
      return;
    }
    draw();
    status.textContent = `${ep.url} is ${ep.enabled ? 'disabled' : 'enabled'}.`;
    const again = list.querySelector(`[data-toggle="${CSS.escape(ep.id)}"]`);
    if (again) again.focus();
  };
  add.addEventListener('click', () => openEndpointDialog({
    org,
    types,
    onSaved: async (answer) => {
      state.freshSecret = { orgId: org.id, webhookId: answer.webhook.id, url: answer.webhook.url, secret: answer.secret, previousValidUntil: null };
      await reload().catch(() => { endpoints = [...endpoints, answer.webhook]; });
      status.textContent = '';
      draw();
      announce('Endpoint added. Copy its signing secret now: it is shown only once.');
      return freshArea.querySelector('.fresh-key h3');
    },
  }));
  draw();
  currentView = { key: ctx.key };
}

function attemptOutcome(outcome) {
  const cls = { delivered: 'badge-on', failed: 'badge-revoked', gone: 'badge-off' }[outcome] || 'badge-off';
  const label = { delivered: 'Delivered', failed: 'Failed', gone: 'Gone (410)' }[outcome] || outcome;
  return h('span', { class: ['badge', cls] }, label);
}

/** "Delivered: HTTP 204 in 12 ms." for the result of a test event. */
function describeAttempt(attempt) {
  const parts = [attempt.outcome === 'delivered' ? 'Delivered' : attempt.outcome === 'gone' ? 'Gone' : 'Failed'];
  const how = [];
  if (attempt.status !== null && attempt.status !== undefined) how.push(`HTTP ${attempt.status}`);
  if (attempt.duration_ms !== null && attempt.duration_ms !== undefined) how.push(`in ${fmtNumber.format(attempt.duration_ms)} ms`);
  let text = `${parts[0]}${how.length ? `: ${how.join(' ')}` : ''}`;
  if (attempt.detail) text += ` — ${attempt.detail}`;
  return sentence(text);
}

function detailCell(text) {
  if (!text) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'attempt-detail mono small' }, text);
}

async function renderWebhook(ctx) {
  const { id, webhookId } = ctx.params;
  const path = `/orgs/${enc(id)}/webhooks/${enc(webhookId)}`;
  const [org, first, all, firstDeliveries] = await Promise.all([
    api('GET', `/orgs/${enc(id)}`),
    api('GET', path),
    api('GET', `/orgs/${enc(id)}/webhooks`),
    api('GET', `${path}/deliveries`),
  ]);
  if (!ctx.live()) return;
  let ep = first;
  let deliveries = firstDeliveries;
  const types = all.event_types || [];
  const base = `#/orgs/${enc(org.id)}`;
  const content = orgFrame(org, 'webhooks', { trail: [['Webhooks', `${base}/webhooks`], [endpointName(ep), null]], docTitle: endpointName(ep) });

  const freshArea = h('div');
  const drawFresh = () => {
    const fresh = state.freshSecret && state.freshSecret.webhookId === ep.id ? state.freshSecret : null;
    freshArea.replaceChildren(fresh ? freshSecretBox(fresh) : '');
  };

  // The endpoint and what can be done with it.
  const title = h('h2', { id: 'endpoint-title', tabindex: '-1' });
  const details = h('dl', { class: 'details' });
  const enabled = h('input', { type: 'checkbox', id: nextId('endpoint-enabled') });
  const testButton = h('button', { type: 'button', class: 'btn' }, 'Send test event');
  const testResult = h('p', { class: 'panel-status', role: 'status' });
  const edit = h('button', { type: 'button', class: 'btn' }, 'Edit');
  const rotate = h('button', { type: 'button', class: 'btn' }, 'Rotate secret');
  const remove = h('button', { type: 'button', class: 'btn btn-danger-quiet' }, 'Delete');
  const drawEndpoint = () => {
    title.textContent = endpointName(ep);
    setTitle(endpointName(ep), 'Webhooks', org.name);
    const row = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
    details.replaceChildren(
      row('URL', h('span', { class: 'mono' }, ep.url)),
      row('Description', ep.description || h('span', { class: 'muted' }, '—')),
      row('Events', endpointEvents(ep)),
      row('Status', endpointStatus(ep)),
      row('ID', h('code', null, ep.id)),
      row('Created', timeExact(ep.created_at)),
      row('Last change', timeExact(ep.updated_at)));
    enabled.checked = ep.enabled;
  };
  enabled.addEventListener('change', async () => {
    const wanted = enabled.checked;
    enabled.disabled = true;
    try {
      ep = await api('PATCH', path, { enabled: wanted });
      drawEndpoint();
      drawStats();
      announce(ep.enabled ? 'Endpoint enabled' : 'Endpoint disabled');
    } catch (e) {
      enabled.checked = !wanted;
      if (!e.handled) showErrorBanner(e, content);
    } finally {
      enabled.disabled = false;
    }
  });
  testButton.addEventListener('click', async () => {
    testButton.disabled = true;
    testResult.className = 'panel-status';
    testResult.textContent = 'Sending a test event…';
    try {
      const answer = await api('POST', `${path}/test`);
      const attempt = answer.attempt || {};
      testResult.className = `panel-status ${attempt.outcome === 'delivered' ? 'is-ok' : 'is-error'}`;
      testResult.textContent = `Test event: ${describeAttempt(attempt)}`;
      await refresh();
    } catch (e) {
      if (e.handled) return;
      testResult.className = 'panel-status is-error';
      testResult.textContent = `The test event could not be sent: ${e.message}`;
    } finally {
      testButton.disabled = false;
    }
  });
  edit.addEventListener('click', () => openEndpointDialog({
    org,
    types,
    endpoint: ep,
    onSaved: async (answer) => {
      ep = answer;
      drawEndpoint();
      drawStats();
      announce('Endpoint saved');
      return title;
    },
  }));
  rotate.addEventListener('click', () => openDialog({
    title: 'Rotate the signing secret?',
    body: [h('p', null, 'A new secret signs every message from now on. The old one also signs for 24 hours (each delivery carries both signatures), so your receiver can switch over without rejecting any.')],
    confirmLabel: 'Rotate secret',
    onConfirm: async () => {
      const answer = await api('POST', `${path}/rotate-secret`);
      state.freshSecret = { orgId: org.id, webhookId: ep.id, url: ep.url, secret: answer.secret, previousValidUntil: answer.previous_valid_until || null };
      drawFresh();
      announce('Secret rotated. Copy the new one now: it is shown only once.');
      return freshArea.querySelector('.fresh-key h3');
    },
  }));
  remove.addEventListener('click', () => openDialog({
    title: `Delete the endpoint ${ep.url}?`,
    danger: true,
    body: [h('p', null, 'It gets no more messages, and its backlog of ', plural(ep.backlog || 0, 'undelivered message', 'undelivered messages'),
      ' is dropped. This cannot be undone.')],
    confirmLabel: 'Delete endpoint',
    onConfirm: async () => {
      await api('DELETE', path);
      state.flash = { kind: 'success', text: `The endpoint ${ep.url} was deleted.` };
      announce('Endpoint deleted');
      setTimeout(() => { location.hash = `${base}/webhooks`; }, 0);
      return true;
    },
  }));

  // Delivery: counters, undelivered messages and recent attempts.
  const stats = h('dl', { class: 'stats' });
  const drawStats = () => {
    const stat = (label, value, note) => h('div', { class: 'stat' }, h('dt', null, label), h('dd', null, value, note ? h('span', { class: 'stat-note' }, note) : null));
    stats.replaceChildren(
      stat('Backlog', fmtNumber.format(ep.backlog || 0), ep.oldest_pending_at ? ['oldest ', timeRelative(ep.oldest_pending_at)] : 'nothing pending'),
      stat('Failed', fmtNumber.format(ep.failed || 0), 'gave up after retrying; retry below'),
      stat('Expired', fmtNumber.format(ep.expired || 0), 'removed by event retention undelivered'));
  };
  const refreshButton = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  const retryAll = h('button', { type: 'button', class: 'btn btn-small' }, 'Retry all');
  const pendingTitle = h('h2', { id: 'undelivered-title', tabindex: '-1' }, 'Undelivered messages');
  const pendingStatus = h('p', { class: 'panel-status', role: 'status' });
  const pendingArea = h('div', { class: 'results' });
  const attemptsArea = h('div', { class: 'results' });
  const drawDeliveries = () => {
    const pending = deliveries.undelivered || [];
    const failedCount = pending.filter((m) => m.state === 'failed').length;
    retryAll.hidden = !pending.length;
    retryAll.disabled = !failedCount && !pending.length;
    pendingArea.replaceChildren(pending.length
      ? dataTable({
        caption: 'Undelivered messages, oldest first',
        columns: ['Created', 'Type', 'State', { label: 'Attempts', class: 'num' }, 'Next attempt', 'Last error', { label: 'Actions', class: 'actions-col' }],
        rows: pending.map((m) => [
          timeExact(m.created_at),
          h('span', null, h('span', { class: 'event-type' }, m.type), h('span', { class: 'status-note mono msg-id' }, m.msg_id)),
          h('span', { class: ['badge', m.state === 'failed' ? 'badge-revoked' : 'badge-warn'] }, m.state === 'failed' ? 'Failed' : 'Pending'),
          fmtNumber.format(m.attempts || 0),
          m.state === 'failed' ? h('span', { class: 'muted' }, '—') : timeRelative(m.next_attempt_at, 'Now'),
          detailCell(m.last_error),
          // A failed message, or one waiting for its next try after a failed attempt.
          m.state === 'failed' || m.attempts > 0
            ? h('div', { class: 'row-actions' }, h('button', {
              type: 'button', class: 'btn btn-small', 'aria-label': `Retry ${m.type} message ${m.msg_id}`, onclick: () => retry(m.msg_id),
            }, 'Retry'))
            : '',
        ]),
      })
      : emptyState('Nothing is waiting: every message has been delivered.'));
    const attempts = deliveries.attempts || [];
    attemptsArea.replaceChildren(attempts.length
      ? dataTable({
        caption: 'Recent delivery attempts, newest first',
        columns: ['Time', 'Type', 'Outcome', { label: 'Status', class: 'num' }, { label: 'Attempt', class: 'num' }, { label: 'Duration', class: 'num' }, 'Detail'],
        rows: attempts.map((a) => [
          timeExact(a.at),
          h('span', null, h('span', { class: 'event-type' }, a.type), h('span', { class: 'status-note mono msg-id' }, a.msg_id)),
          attemptOutcome(a.outcome),
          a.status === null || a.status === undefined ? h('span', { class: 'muted' }, '—') : String(a.status),
          fmtNumber.format(a.attempt),
          a.duration_ms === null || a.duration_ms === undefined ? h('span', { class: 'muted' }, '—') : `${fmtNumber.format(a.duration_ms)} ms`,
          detailCell(a.detail),
        ]),
      })
      : emptyState('No delivery attempts yet.', 'Messages appear here when something changes in the directory, or after “Send test event”.'));
  };
  const refresh = async () => {
    const [fresh, answer] = await Promise.all([api('GET', path), api('GET', `${path}/deliveries`)]);
    ep = fresh;
    deliveries = answer;
    drawEndpoint();
    drawStats();
    drawDeliveries();
  };
  const retry = async (msgId) => {
    try {
      const answer = await api('POST', `${path}/retry`, msgId ? { msg_id: msgId } : {});
      await refresh();
      // The row's own button is gone after the redraw: the section heading takes focus.
      if (msgId || retryAll.hidden) focusElement(pendingTitle);
      const n = answer && typeof answer.retried === 'number' ? answer.retried : 0;
      pendingStatus.textContent = n
        ? `${plural(n, 'message is', 'messages are')} queued for delivery again.`
        : 'Nothing needed a retry.';
    } catch (e) {
      if (e.handled) return;
      if (msgId || retryAll.hidden) focusElement(pendingTitle);
      pendingStatus.textContent = `The retry failed: ${e.message}`;
    }
  };
  retryAll.addEventListener('click', () => retry(null));
  refreshButton.addEventListener('click', async () => {
    refreshButton.disabled = true;
    try {
      await refresh();
      announce('Deliveries refreshed');
    } catch (e) {
      if (!e.handled) showErrorBanner(e, content);
    } finally {
      refreshButton.disabled = false;
      refreshButton.focus();
    }
  });

  drawFresh();
  drawEndpoint();
  drawStats();
  drawDeliveries();
  content.append(
    freshArea,
    h('section', { class: 'card', 'aria-labelledby': title.id },
      h('div', { class: 'card-head' }, title),
      details,
      h('div', { class: 'checkbox-field' }, enabled, h('label', { for: enabled.id }, 'Enabled')),
      h('p', { class: 'hint' }, 'A disabled endpoint keeps its backlog and gets it once enabled again. An endpoint that answers 410 Gone is disabled, and so is one that keeps failing for days.'),
      h('p', { class: 'actions' }, testButton, edit, rotate, remove),
      testResult),
    h('section', { 'aria-labelledby': 'delivery-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'delivery-title' }, 'Delivery'), refreshButton),
      stats),
    h('section', { class: 'card', 'aria-labelledby': pendingTitle.id },
      h('div', { class: 'card-head' }, pendingTitle, retryAll),
      h('p', { class: 'hint' }, 'Messages are delivered in order: while the oldest one is retried, the later ones wait. One that failed for about a day is set aside as failed so the rest can go; “Retry” queues it again.'),
      pendingStatus, pendingArea),
    h('section', { class: 'card', 'aria-labelledby': 'attempts-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'attempts-title' }, 'Recent attempts')),
      attemptsArea),
  );
  currentView = { key: ctx.key };
}

// ---------------------------------------------------------------- event log

function eventsQuery(query) {
  const before = /^\d+$/.test(query.before || '') ? query.before : '';
  const newer = before ? (query.newer || '').split('.').filter((x) => x === 'top' || /^\d+$/.test(x)) : [];
  return {
    type: query.type || '',
    member: (query.member || '').trim(),
    before,
    newer,
    limit: intParam(query.limit, DEFAULT_EVENT_LIMIT, 1, 200),
  };
}

function eventsHash(path, q) {
  return hashFor(path, hashParams({
    type: q.type, member: q.member, before: q.before, newer: q.before ? q.newer.join('.') : '', limit: q.limit,
  }, { limit: DEFAULT_EVENT_LIMIT }));
}

function actorCell(event) {
  if (event.actor === 'SCIM') {
    return h('span', { class: 'actor' }, h('span', { class: 'badge badge-scim' }, 'SCIM'),
      event.key_id ? [' ', h('span', { class: 'muted small', title: 'API key id' }, 'key ', h('code', null, event.key_id))] : null);
  }
  if (event.actor === 'admin') return h('span', { class: 'badge badge-admin' }, 'Admin');
  if (event.actor === 'cli') return h('span', { class: 'badge badge-admin' }, 'CLI');
  if (event.actor === 'system') return h('span', { class: 'badge badge-admin', title: 'scim-appliance itself' }, 'System');
  return event.actor || '—';
}

async function renderEvents(ctx) {
  const { id } = ctx.params;
  const org = await api('GET', `/orgs/${enc(id)}`);
  if (!ctx.live()) return;
  const content = orgFrame(org, 'events');
  const initial = eventsQuery(ctx.query);
  const type = selectControl([['', 'All types']], '');
  if (initial.type) type.append(h('option', { value: initial.type }, initial.type));
  type.value = initial.type;
  const member = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', value: initial.member, placeholder: 'id, userName or email' });
  const limit = perPageSelect(initial.limit, [25, 50, 100, 200]);
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter events' },
    field({ label: 'Type', control: type }),
    field({ label: 'Member', control: member }),
    field({ label: 'Per page', control: limit }));
  const results = h('div', { class: 'results' });
  content.append(h('h2', { class: 'visually-hidden' }, 'Event log'), filters, results);
  const apply = () => setQuery(ctx.path, hashParams({
    type: type.value, member: member.value.trim(), limit: Number(limit.value),
  }, { limit: DEFAULT_EVENT_LIMIT }));
  type.addEventListener('change', apply);
  limit.addEventListener('change', apply);
  member.addEventListener('input', debounce(apply, 400));
  filters.addEventListener('submit', (event) => { event.preventDefault(); apply(); });

  let typesFilled = false;
  const base = `#/orgs/${enc(org.id)}`;
  const view = { key: ctx.key, seq: 0 };
  view.update = async (query) => {
    const q = eventsQuery(query);
    if (document.activeElement !== member && member.value.trim() !== q.member) member.value = q.member;
    if (q.type && ![...type.options].some((o) => o.value === q.type)) type.append(h('option', { value: q.type }, q.type));
    type.value = q.type;
    if (![...limit.options].some((o) => o.value === String(q.limit))) limit.append(h('option', { value: String(q.limit) }, String(q.limit)));
    limit.value = String(q.limit);
    await loadResults(view, results, `/orgs/${enc(id)}/events?${qs({ type: q.type, member: q.member, before: q.before, limit: q.limit })}`, (data) => {
      if (!typesFilled && Array.isArray(data.types)) {
        typesFilled = true;
        const chosen = type.value;
        type.replaceChildren(h('option', { value: '' }, 'All types'), ...data.types.map((t) => h('option', { value: t }, t)));
        if (chosen && !data.types.includes(chosen)) type.append(h('option', { value: chosen }, chosen));
        type.value = chosen;
      }
      return eventsResults(org, q, data, ctx.path, base);
    });
  };
  currentView = view;
  await view.update(ctx.query);
}

function eventsResults(org, q, data, path, base) {
  const events = data.events || [];
  const filtered = q.type || q.member;
  const nodes = [];
  if (!events.length) {
    nodes.push(q.before
      ? emptyState('No older events.')
      : filtered
        ? emptyState('No events match these filters.')
        : emptyState('No events yet — every change made through SCIM or on this page is logged here.'));
  } else {
    nodes.push(dataTable({
      caption: 'Events, newest first',
      columns: ['Time', 'Type', 'Actor', 'Summary'],
      rows: events.map((event) => {
        let summary = event.summary || '';
        if (event.member_id) summary = h('a', { href: `${base}/members/${enc(event.member_id)}` }, summary || event.member_id);
        else if (event.group_id) summary = h('a', { href: `${base}/groups/${enc(event.group_id)}` }, summary || event.group_id);
        return [timeExact(event.at), h('span', { class: 'event-type' }, event.type), actorCell(event), summary];
      }),
    }));
  }
  const newerTarget = () => {
    const stack = [...q.newer];
    const previous = stack.pop();
    const before = !previous || previous === 'top' ? '' : previous;
    return eventsHash(path, { ...q, before, newer: before ? stack : [] });
  };
  const olderTarget = () => eventsHash(path, { ...q, before: String(data.next_before), newer: [...q.newer, q.before || 'top'] });
  const hasNewer = Boolean(q.before);
  const hasOlder = data.next_before !== null && data.next_before !== undefined;
  if (hasNewer || hasOlder) {
    nodes.push(h('nav', { class: 'pager', 'aria-label': 'Pages' },
      h('p', { class: 'pager-range' }, hasNewer ? `${plural(events.length, 'older event', 'older events')}` : `The newest ${plural(events.length, 'event', 'events')}`),
      h('div', { class: 'pager-links' },
        hasNewer ? h('a', { href: newerTarget(), class: 'btn btn-small', 'data-pager': 'newer' }, 'Newer') : h('span', { class: 'btn btn-small', 'aria-disabled': 'true' }, 'Newer'),
        hasOlder ? h('a', { href: olderTarget(), class: 'btn btn-small', 'data-pager': 'older' }, 'Older') : h('span', { class: 'btn btn-small', 'aria-disabled': 'true' }, 'Older'))));
  }
  return nodes;
}

// ---------------------------------------------------------------- start

function start() {
  document.getElementById('change-password').addEventListener('click', openChangePassword);
  document.getElementById('sign-out').addEventListener('click', signOut);
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    const target = $main.querySelector('h1') || $main;
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus();
  });
  window.addEventListener('hashchange', () => route({ navigated: true }));
  route();
}

start();
