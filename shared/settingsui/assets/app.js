// Settings → API keys. Plain JavaScript, no build step, no third-party code.
// It calls only the admin HTTP API of its own origin, with the signed-in
// user's session token as a bearer token. The token lives in this tab's
// sessionStorage and is never logged, put in a URL or sent anywhere else.
// Every value from the API is rendered as text (textContent), never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'flowella.session';
  const WHO_KEY = 'flowella.session.who';
  const PAGE_SIZE = 25;
  const AUDIT_PAGE_SIZE = 25;

  const el = (id) => document.getElementById(id);

  // h builds an element: h('a', {href: '#x', class: 'c'}, 'text', child…).
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // ---- time ----------------------------------------------------------------

  const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const relativeFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

  function formatAbsolute(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : absolute.format(d);
  }

  function formatRelative(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const seconds = Math.round((d.getTime() - Date.now()) / 1000);
    const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relativeFmt.format(Math.round(seconds / size), unit);
    }
    return seconds >= 0 ? 'in a few seconds' : 'just now';
  }

  // time renders an RFC 3339 instant: local time shown, UTC in the title.
  function time(iso, relative) {
    if (!iso) return null;
    return h('time', { datetime: iso, title: iso.replace('T', ' ').replace('Z', ' UTC') },
      relative ? formatRelative(iso) : formatAbsolute(iso));
  }

  // ---- session -------------------------------------------------------------

  const session = {
    token: () => sessionStorage.getItem(TOKEN_KEY),
    who() {
      try { return JSON.parse(sessionStorage.getItem(WHO_KEY) || 'null'); } catch { return null; }
    },
    set(token, who) {
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(WHO_KEY, JSON.stringify(who || {}));
    },
    clear() {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(WHO_KEY);
    },
  };

  // claimsOf reads a JWT's payload for display only; the API verifies it.
  function claimsOf(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')));
    } catch {
      return null;
    }
  }

  // ---- API -----------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      const e = body && typeof body.error === 'object' ? body.error : null;
      let message = (e && e.message) || (body && body.message);
      if (!message) {
        message = status === 0
          ? 'The API could not be reached. Check your connection and try again.'
          : `The API answered with status ${status}.`;
      }
      super(message);
      this.status = status;
      this.code = (e && e.code) || '';
      this.details = e && Array.isArray(e.details) ? e.details : [];
      this.requestId = (body && body.request_id) || '';
      this.body = body;
      this.handled = false;
    }
  }

  async function api(method, path, opts) {
    const { query, body, headers } = opts || {};
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
    }
    const init = {
      method,
      headers: { Accept: 'application/json', Authorization: `Bearer ${session.token()}`, ...(headers || {}) },
      cache: 'no-store',
      credentials: 'omit',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      throw new ApiError(0, null);
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data);
      if (res.status === 401) {
        err.handled = true;
        signedOut('Your session has ended, or its token was refused. Sign in again.');
      } else if (res.status === 403 && (err.code === 'forbidden' || err.code === '')) {
        err.handled = true;
        noAccess();
      }
      throw err;
    }
    return data;
  }

  function withRequestId(err) {
    return err.requestId && (err.status === 0 || err.status >= 500)
      ? `${err.message} (request id ${err.requestId})` : err.message;
  }

  function newIdempotencyKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // ---- page-level views ----------------------------------------------------

  const pageViews = ['view-loading', 'view-signed-out', 'view-no-access', 'view-failed', 'view-app'];
  const appViews = ['view-keys', 'view-detail', 'view-audit'];

  function showPage(id) {
    for (const v of pageViews) el(v).hidden = v !== id;
    // Signed out or refused: no dialog of the keys screen stays open.
    if (id !== 'view-app') for (const d of document.querySelectorAll('dialog[open]')) d.close();
  }

  function showApp(id) {
    showPage('view-app');
    for (const v of appViews) el(v).hidden = v !== id;
    const [current, other] = id === 'view-audit' ? ['tab-audit', 'tab-keys'] : ['tab-keys', 'tab-audit'];
    el(current).setAttribute('aria-current', 'page');
    el(other).removeAttribute('aria-current');
  }

  function announce(message) {
    const live = el('announce');
    live.textContent = '';
    window.setTimeout(() => { live.textContent = message; }, 50);
  }

  function showWho() {
    const who = session.who() || {};
    const parts = [who.user_id, who.role, who.org_id].filter(Boolean);
    el('who-text').textContent = parts.length ? `Signed in as ${parts.join(' · ')}` : 'Signed in';
    el('who').hidden = false;
  }

  function signedOut(reason) {
    session.clear();
    el('who').hidden = true;
    showPage('view-signed-out');
    const r = el('signed-out-reason');
    r.textContent = reason || '';
    r.hidden = !reason;
    // Offer the local stack's sign-in where there is one (make run only).
    fetch('/local/sign-in', { method: 'HEAD', cache: 'no-store', credentials: 'omit' })
      .then((res) => { el('local-sign-in').hidden = !res.ok; })
      .catch(() => { el('local-sign-in').hidden = true; });
  }

  function noAccess() {
    const who = session.who() || {};
    const role = who.role ? ` Your role is ${who.role.replace('_', '-')}.` : '';
    el('no-access-text').textContent = 'Only owners and admins of an organisation can see and manage its API keys.' +
      `${role} Ask an owner or admin of your organisation if you need a key.`;
    showPage('view-no-access');
  }

  function failed(err) {
    el('failed-text').textContent = withRequestId(err);
    showPage('view-failed');
  }

  function inlineError(node, err) {
    node.textContent = withRequestId(err);
    node.hidden = false;
  }

  // ---- scope catalog -------------------------------------------------------

  let catalog = null; // [{name, description}] or [] when it could not be read

  async function loadCatalog() {
    if (catalog) return catalog;
    try {
      const res = await fetch('/settings/assets/scopes.json', { cache: 'no-cache', credentials: 'omit' });
      if (!res.ok) throw new Error(String(res.status));
      catalog = (await res.json()).scopes || [];
    } catch {
      catalog = [];
    }
    return catalog;
  }

  function scopeId(prefix, name) {
    return `${prefix}-scope-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  }

  function renderScopeChoices(form, prefix, checked) {
    const list = form.querySelector('[data-scope-list]');
    const names = new Set(catalog.map((s) => s.name));
    const entries = catalog.slice();
    for (const s of checked) if (s !== '*' && !names.has(s)) entries.push({ name: s, description: 'not in the catalog' });
    if (!entries.length) {
      list.replaceChildren(h('p', { class: 'hint' }, "The scope catalog couldn't be loaded, so keys get the whole plan."));
      form.querySelector('input[value="choose"]').disabled = true;
      return;
    }
    list.replaceChildren(...entries.map((s) => {
      const id = scopeId(prefix, s.name);
      return h('div', { class: 'choice' },
        h('input', { type: 'checkbox', id, value: s.name, checked: checked.includes(s.name) }),
        h('label', { for: id }, h('code', {}, s.name), ' ', h('span', { class: 'hint' }, s.description)));
    }));
  }

  function setScopeMode(form, mode) {
    const radio = form.querySelector(`input[type="radio"][value="${mode}"]`);
    radio.checked = true;
    form.querySelector('[data-scope-list]').hidden = mode !== 'choose';
  }

  function chosenScopes(form) {
    return Array.from(form.querySelectorAll('[data-scope-list] input[type="checkbox"]:checked'), (c) => c.value);
  }

  function scopeMode(form) {
    const r = form.querySelector('input[type="radio"]:checked');
    return r ? r.value : 'plan';
  }

  function isWholePlan(scopes) {
    return !scopes || scopes.length === 0 || (scopes.length === 1 && scopes[0] === '*');
  }

  function lines(text) {
    return text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  }

  // ---- form errors ---------------------------------------------------------

  function clearErrors(form) {
    for (const slot of form.querySelectorAll('[data-error-for]')) {
      slot.textContent = '';
      slot.hidden = true;
    }
    for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  }

  // fieldError puts message next to the control of field (its data-error-for
  // slot) and marks the control invalid; it returns the control.
  function fieldError(form, field, message) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!slot) return null;
    slot.textContent = message;
    slot.hidden = false;
    const details = slot.closest('details');
    if (details) details.open = true;
    let control = null;
    for (const c of form.querySelectorAll(`[aria-describedby~="${CSS.escape(slot.id)}"]`)) {
      if (c.hidden) continue;
      c.setAttribute('aria-invalid', 'true');
      control = control || c;
    }
    // A fieldset takes no focus: its first usable control does.
    if (control && control.tagName === 'FIELDSET') control = focusables(control)[0] || null;
    return control;
  }

  // showFormErrors places an API error next to the fields its details name;
  // an error that names no field of the form goes to the top of the form.
  function showFormErrors(form, err) {
    clearErrors(form);
    if (err.handled) return;
    let first = null;
    const done = new Set();
    for (const d of err.details) {
      if (!d.field || done.has(d.field)) continue;
      const control = fieldError(form, d.field, err.message);
      if (control !== null || form.querySelector(`[data-error-for="${CSS.escape(d.field)}"]`)) {
        done.add(d.field);
        first = first || control;
      }
    }
    if (!done.size) {
      const general = form.querySelector('[data-error-for=""]');
      general.textContent = withRequestId(err);
      general.hidden = false;
      general.setAttribute('tabindex', '-1');
      general.focus();
      return;
    }
    if (first) first.focus();
  }

  // ---- dialogs -------------------------------------------------------------

  const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
    'select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  const openers = new WeakMap();

  function focusables(root) {
    return Array.from(root.querySelectorAll(FOCUSABLE)).filter((n) => !n.hidden && n.getClientRects().length > 0);
  }

  function openDialog(dlg, focus) {
    openers.set(dlg, document.activeElement);
    dlg.showModal();
    (focus || focusables(dlg)[0] || dlg).focus();
  }

  function wireDialog(dlg) {
    // Keep Tab and Shift+Tab inside the dialog; Escape closes it.
    dlg.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        dlg.close();
        return;
      }
      if (e.key !== 'Tab') return;
      const f = focusables(dlg);
      if (!f.length) return;
      const first = f[0];
      const last = f[f.length - 1];
      if (e.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !dlg.contains(document.activeElement))) {
        e.preventDefault();
        first.focus();
      }
    });
    dlg.addEventListener('close', () => {
      const back = openers.get(dlg);
      if (back && back.isConnected && !back.closest('[hidden]')) back.focus();
    });
    for (const b of dlg.querySelectorAll('[data-close]')) b.addEventListener('click', () => dlg.close());
  }

  function busy(form, on) {
    form.setAttribute('aria-busy', on ? 'true' : 'false');
    for (const b of form.querySelectorAll('button[type="submit"]')) b.disabled = on;
  }

  // ---- keys list -----------------------------------------------------------

  const list = { status: 'all', items: [], next: null, loaded: false };
  const keysById = new Map();

  async function loadKeys(append) {
    const errorNode = el('keys-error');
    errorNode.hidden = true;
    const more = el('keys-more');
    more.disabled = true;
    try {
      const data = await api('GET', '/v1/api-keys', {
        query: { status: list.status, limit: PAGE_SIZE, cursor: append ? list.next : undefined },
      });
      const before = list.items.length;
      list.items = append ? list.items.concat(data.items) : data.items;
      list.next = data.next_cursor || null;
      list.loaded = true;
      for (const k of data.items) keysById.set(k.id, k);
      if (currentRoute().view === 'keys') showApp('view-keys');
      renderWarnings(data.warnings || []);
      renderKeys();
      if (append) {
        const firstNew = el('keys-body').children[before];
        if (firstNew) firstNew.querySelector('a').focus();
      }
    } catch (err) {
      if (err.handled) return;
      if (!list.loaded) failed(err);
      else inlineError(errorNode, err);
    } finally {
      more.disabled = false;
    }
  }

  function renderWarnings(warnings) {
    el('warnings').replaceChildren(...warnings.map((w) => h('p', { class: 'notice notice-warning', 'data-warning': w.code },
      h('strong', {}, w.code === 'many_active_keys' ? 'Many active keys: ' : ''), w.message)));
  }

  function renderKeys() {
    const body = el('keys-body');
    body.replaceChildren(...list.items.map(keyRow));
    const empty = list.items.length === 0;
    el('keys-table').hidden = empty;
    el('keys-empty').hidden = !empty;
    el('keys-empty').textContent = list.status === 'all'
      ? 'No keys yet. Create one to call the Flowella API from a script or tool.'
      : `No ${list.status} keys.`;
    el('keys-more').hidden = !list.next;
  }

  const FLAG_TEXT = {
    exposed: ['Found in public', 'GitHub found this key in public code; it still works because your organisation chose to be notified. Roll it.'],
    older_than_12_months: ['Older than 12 months', 'Consider rolling it: long-lived keys are more likely to have leaked.'],
    unused_90_days: ['Unused for 90 days', 'Consider revoking it if nothing needs it any more.'],
  };

  function flagBadges(k) {
    return (k.flags || []).map((f) => {
      const [text, why] = FLAG_TEXT[f] || [f, ''];
      return h('span', { class: 'badge badge-flag', title: why, 'data-flag': f }, text);
    });
  }

  // The key's scopes its organisation's plan does not grant, from the
  // answer's scopes_not_in_plan warning: kept, but unusable until the plan
  // grants them.
  function outsidePlan(k) {
    const w = (k.warnings || []).find((w) => w.code === 'scopes_not_in_plan');
    return new Set(w ? w.scopes : []);
  }

  function scopeSummary(k) {
    if (isWholePlan(k.scopes)) return h('span', { class: 'scopes' }, 'Whole plan');
    const outside = outsidePlan(k);
    return h('span', { class: 'scopes' }, ...k.scopes.map((s) => outside.has(s)
      ? h('code', { class: 'scope scope-outside', 'data-outside-plan': true,
        title: "Not in your organisation's plan: this key cannot use it until the plan grants it." }, s)
      : h('code', { class: 'scope' }, s)));
  }

  function statusCell(k) {
    if (k.status === 'revoked') {
      return [h('span', { class: 'badge badge-revoked' }, 'Revoked'), h('span', { class: 'sub' }, time(k.revoked_at)),
        k.revoked_by ? h('span', { class: 'sub' }, `by ${k.revoked_by}`) : null,
        k.revoke_reason ? h('span', { class: 'sub' }, `“${k.revoke_reason}”`) : null];
    }
    if (k.status === 'expired') {
      return [h('span', { class: 'badge badge-expired' }, 'Expired'), h('span', { class: 'sub' }, time(k.expires_at))];
    }
    return [h('span', { class: 'badge badge-active' }, 'Active'),
      k.expires_at ? h('span', { class: 'sub' }, k.rolled_to ? 'Replaced; works until ' : 'Expires ', time(k.expires_at)) : null];
  }

  function restrictions(k) {
    const out = [];
    if (k.allowed_ips && k.allowed_ips.length) out.push(h('span', { class: 'sub' }, 'IPs: ', k.allowed_ips.join(', ')));
    if (k.channels && k.channels.length) out.push(h('span', { class: 'sub' }, 'Channels: ', k.channels.join(', ')));
    return out.length ? out : h('span', { class: 'muted' }, 'None');
  }

  function actionButtons(k) {
    if (k.status !== 'active') return [];
    const name = `${k.label} (${k.prefix})`;
    return [
      h('button', { type: 'button', class: 'button small', 'data-action': 'edit', 'aria-label': `Edit ${name}`, onclick: () => openEdit(k) }, 'Edit'),
      h('button', { type: 'button', class: 'button small', 'data-action': 'roll', 'aria-label': `Roll ${name}`, onclick: () => openRoll(k) }, 'Roll'),
      h('button', { type: 'button', class: 'button small danger', 'data-action': 'revoke', 'aria-label': `Revoke ${name}`, onclick: () => openRevoke(k) }, 'Revoke'),
    ];
  }

  function keyRow(k) {
    const inactive = k.status !== 'active';
    return h('tr', { class: inactive ? 'inactive' : null, 'data-key-id': k.id, 'data-status': k.status },
      h('td', { 'data-label': 'Label' }, h('a', { href: `#${k.id}`, class: 'key-label' }, k.label), ...flagBadges(k)),
      h('td', { 'data-label': 'Prefix' }, h('code', {}, `${k.prefix}…`)),
      h('td', { 'data-label': 'Scopes' }, scopeSummary(k)),
      h('td', { 'data-label': 'Created' }, time(k.created_at), h('span', { class: 'sub' }, `by ${k.created_by}`)),
      h('td', { 'data-label': 'Last used' }, k.last_used_at ? time(k.last_used_at, true) : h('span', { class: 'muted' }, 'Never')),
      h('td', { 'data-label': 'Status', class: 'status' }, statusCell(k)),
      h('td', { 'data-label': 'Restrictions' }, restrictions(k)),
      h('td', { class: 'row-actions' }, actionButtons(k)));
  }

  // ---- key detail ----------------------------------------------------------

  async function showDetail(id) {
    showApp('view-detail');
    el('detail-title').textContent = 'Key';
    el('detail-error').hidden = true;
    el('detail-body').replaceChildren(h('p', {}, 'Loading…'));
    el('detail-activity').replaceChildren();
    el('detail-audit').replaceChildren();
    let k;
    try {
      k = await api('GET', `/v1/api-keys/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err.handled) return;
      el('detail-body').replaceChildren();
      if (err.status === 404) err.message = 'There is no key with this id in your organisation.';
      inlineError(el('detail-error'), err);
      return;
    }
    keysById.set(k.id, k);
    renderDetail(k);
    loadActivity(k);
    loadAudit(el('detail-audit'), { key_id: k.id });
  }

  function keyLink(id) {
    const known = keysById.get(id);
    return h('a', { href: `#${id}` }, known ? `${known.label} (${known.prefix}…)` : id);
  }

  function renderDetail(k) {
    el('detail-title').textContent = k.label;
    const row = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
    const dl = h('dl', { class: 'detail' + (k.status !== 'active' ? ' inactive' : '') },
      row('Status', statusCell(k)),
      row('Prefix', h('code', {}, `${k.prefix}…`)),
      row('Id', h('code', {}, k.id)),
      row('Scopes', scopeSummary(k), outsidePlan(k).size
        ? h('span', { class: 'sub' }, "Crossed-out scopes are not in your organisation's plan: the key cannot use them until the plan grants them.")
        : null),
      row('Created', time(k.created_at), ` by ${k.created_by}`),
      row('Last used', k.last_used_at ? time(k.last_used_at) : 'Never'),
      row('Expires', k.expires_at ? time(k.expires_at) : 'Never'),
      row('Allowed IPs', k.allowed_ips.length ? k.allowed_ips.join(', ') : 'Any address'),
      row('Channels', k.channels.length ? k.channels.join(', ') : 'Every channel'),
      k.rolled_from ? row('Replaces', keyLink(k.rolled_from)) : null,
      k.rolled_to ? row('Replaced by', keyLink(k.rolled_to)) : null,
      k.flags.length ? row('Hygiene', ...flagBadges(k)) : null);
    el('detail-body').replaceChildren(dl, h('div', { class: 'detail-actions' }, actionButtons(k)));
  }

  // Activity and usage come from the key activity endpoints where the
  // deployment has them; a 404 for the route says it does not (yet).
  async function loadActivity(k) {
    const box = el('detail-activity');
    box.replaceChildren(h('p', {}, 'Loading…'));
    const base = `/v1/api-keys/${encodeURIComponent(k.id)}`;
    const [usage, activity] = await Promise.allSettled([
      api('GET', `${base}/usage`, { query: { granularity: 'day' } }),
      api('GET', `${base}/activity`, { query: { limit: 20 } }),
    ]);
    const failures = [usage, activity].filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failures.some((e) => e.handled)) return;
    if (failures.length === 2 && failures.every((e) => e.status === 404)) {
      box.replaceChildren(h('p', { class: 'notice notice-info' },
        "This deployment doesn't record per-key activity yet. Until it does, the API's access log names each request's key id and prefix."));
      return;
    }
    const parts = [];
    if (usage.status === 'fulfilled' && usage.value && usage.value.totals) {
      const t = usage.value.totals;
      const n = t.requests ?? 0;
      parts.push(h('p', { class: 'usage' }, `${n} request${n === 1 ? '' : 's'} in the last 90 days: ${t.allowed ?? 0} allowed, ${t.refused ?? 0} refused.`));
    }
    if (activity.status === 'fulfilled' && activity.value) {
      const items = activity.value.items || [];
      parts.push(items.length ? activityTable(items) : h('p', { class: 'muted' }, 'No requests with this key yet.'));
    }
    for (const e of failures) if (e.status !== 404) parts.push(h('p', { class: 'notice notice-error' }, withRequestId(e)));
    box.replaceChildren(...parts);
  }

  function activityTable(items) {
    return h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
      h('caption', { class: 'visually-hidden' }, 'Latest requests made with this key'),
      h('thead', {}, h('tr', {}, ['When', 'Request', 'Status', 'Outcome', 'From'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((a) => h('tr', {},
        h('td', { 'data-label': 'When' }, time(a.occurred_at)),
        h('td', { 'data-label': 'Request' }, h('code', {}, `${a.method || ''} ${a.path || a.route || ''}`)),
        h('td', { 'data-label': 'Status' }, String(a.status ?? '')),
        h('td', { 'data-label': 'Outcome' }, a.outcome || '', a.reason ? ` (${a.reason})` : ''),
        h('td', { 'data-label': 'From' }, a.source_ip || ''))))));
  }

  // ---- audit log -----------------------------------------------------------

  const AUDIT_TEXT = {
    'api_key.created': 'Key created',
    'api_key.revoked': 'Key revoked',
    'api_key.scopes_changed': 'Scopes changed',
    'api_key.label_changed': 'Label changed',
    'api_key.rolled': 'Key rolled',
    'api_key.allowed_ips_changed': 'Allowed IPs changed',
    'api_key.channels_changed': 'Channels changed',
    'api_key.expired': 'Key expired',
    'api_key.exposed': 'Key found exposed',
  };

  function showValue(v) {
    if (v === null || v === undefined) return '—';
    if (Array.isArray(v)) return v.length ? v.join(', ') : '(none)';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function changes(e) {
    const before = e.before || {};
    const after = e.after || {};
    const fields = Array.from(new Set([...Object.keys(before), ...Object.keys(after)]))
      .filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]));
    if (!fields.length) return h('span', { class: 'muted' }, '—');
    return h('ul', { class: 'changes' }, fields.map((f) => h('li', {},
      h('span', { class: 'field-name' }, f.replace(/_/g, ' ')), ': ',
      e.before ? [h('del', {}, showValue(before[f])), ' → '] : null,
      h('ins', {}, showValue(after[f])))));
  }

  async function loadAudit(box, filter, cursor, rows) {
    if (!cursor) box.replaceChildren(h('p', {}, 'Loading…'));
    let data;
    try {
      data = await api('GET', '/v1/audit-events', { query: { ...filter, limit: AUDIT_PAGE_SIZE, cursor } });
    } catch (err) {
      if (err.handled) return;
      if (err.code === 'feature_not_enabled') {
        box.replaceChildren(h('p', { class: 'notice notice-info', 'data-feature': 'audit_log' },
          h('strong', {}, 'The audit log is not part of your organisation’s plan. '),
          'Plans with the audit log record who created, changed, rolled and revoked each key, from which address. ' +
          'Keys work the same either way.'));
        return;
      }
      box.replaceChildren(h('p', { class: 'notice notice-error', role: 'alert' }, withRequestId(err)));
      return;
    }
    const all = (rows || []).concat(data.items || []);
    if (!all.length) {
      box.replaceChildren(h('p', { class: 'muted' }, 'No audit records yet. Records appear a moment after each change.'));
      return;
    }
    const more = data.next_cursor
      ? h('div', { class: 'pager' }, h('button', {
        type: 'button', class: 'button', onclick: () => loadAudit(box, filter, data.next_cursor, all),
      }, 'Show more records'))
      : null;
    box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
      h('caption', { class: 'visually-hidden' }, 'Audit records, newest first'),
      h('thead', {}, h('tr', {}, ['When', 'Event', 'Key', 'By', 'Changes'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, all.map((e) => h('tr', { 'data-audit-type': e.type },
        h('td', { 'data-label': 'When' }, time(e.occurred_at)),
        h('td', { 'data-label': 'Event' }, AUDIT_TEXT[e.type] || e.type),
        h('td', { 'data-label': 'Key' }, h('a', { href: `#${e.key_id}` }, h('code', {}, `${e.key_prefix}…`))),
        h('td', { 'data-label': 'By' }, (e.actor && e.actor.user_id) || '—',
          e.actor && e.actor.ip ? h('span', { class: 'sub', title: e.actor.user_agent || '' }, `from ${e.actor.ip}`) : null),
        h('td', { 'data-label': 'Changes' }, changes(e))))))), ...(more ? [more] : []));
  }

  // ---- create --------------------------------------------------------------

  let createIdempotencyKey = '';

  async function openCreate() {
    if (el('create-dialog').open) return;
    const form = el('create-form');
    form.reset();
    clearErrors(form);
    await loadCatalog();
    renderScopeChoices(form, 'create', []);
    setScopeMode(form, 'plan');
    syncExpiry();
    form.querySelector('details').open = false;
    createIdempotencyKey = newIdempotencyKey();
    openDialog(el('create-dialog'), el('create-label'));
  }

  function syncExpiry() {
    const custom = el('create-expiry').value === 'custom';
    el('create-expiry-date').hidden = !custom;
    document.querySelector('label[for="create-expiry-date"]').hidden = !custom;
  }

  function expiryOf() {
    const v = el('create-expiry').value;
    if (!v) return undefined;
    if (v === 'custom') {
      const d = new Date(el('create-expiry-date').value);
      return Number.isNaN(d.getTime()) ? null : d.toISOString();
    }
    return new Date(Date.now() + Number(v) * 86400000).toISOString();
  }

  async function submitCreate(e) {
    e.preventDefault();
    const form = el('create-form');
    clearErrors(form);
    const label = el('create-label').value;
    const body = { label };
    let invalid = null;
    if (!label.trim()) invalid = invalid || fieldError(form, 'label', 'Give the key a label, such as what will use it.');
    if (scopeMode(form) === 'choose') {
      body.scopes = chosenScopes(form);
      if (!body.scopes.length) {
        fieldError(form, 'scopes', 'Choose at least one scope, or give the key the whole plan.');
        invalid = invalid || form.querySelector('[data-scope-list] input');
      }
    }
    const expires = expiryOf();
    if (expires === null) invalid = invalid || fieldError(form, 'expires_at', 'Choose the date and time the key expires.');
    else if (expires) body.expires_at = expires;
    const ips = lines(el('create-ips').value);
    if (ips.length) body.allowed_ips = ips;
    const channels = lines(el('create-channels').value);
    if (channels.length) body.channels = channels;
    if (invalid) {
      invalid.focus();
      return;
    }
    busy(form, true);
    try {
      const created = await api('POST', '/v1/api-keys', { body, headers: { 'Idempotency-Key': createIdempotencyKey } });
      el('create-dialog').close();
      showSecret(created, `“${created.label}” is ready.`);
      announce(`Key ${created.label} created.`);
      loadKeys();
    } catch (err) {
      // Retry a lost answer with the same Idempotency-Key, so it never makes two keys.
      if (err.status !== 0 && err.status < 500) createIdempotencyKey = newIdempotencyKey();
      if (err.body && err.body.error && err.body.error.code === 'idempotent_replay' && err.body.key) {
        err.message = `An earlier attempt already created this key (${err.body.key.prefix}…). ` +
          'Its secret cannot be shown again: roll that key to get a new secret, or revoke it.';
        err.details = [];
        loadKeys();
      }
      showFormErrors(form, err);
    } finally {
      busy(form, false);
    }
  }

  // ---- secret, shown once --------------------------------------------------

  let secretKeyId = '';

  function showSecret(key, context) {
    secretKeyId = key.id;
    el('secret-value').value = key.secret;
    el('secret-copied').textContent = '';
    el('secret-context').textContent = context || '';
    el('secret-context').hidden = !context;
    openDialog(el('secret-dialog'), el('secret-copy'));
  }

  async function copySecret() {
    const input = el('secret-value');
    let ok = false;
    try {
      // A browser that asks the user for permission may never answer.
      const timeout = new Promise((resolve, reject) => { window.setTimeout(() => reject(new Error('timeout')), 1500); });
      await Promise.race([navigator.clipboard.writeText(input.value), timeout]);
      ok = true;
    } catch {
      input.focus();
      input.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    el('secret-copied').textContent = ok ? 'Copied to the clipboard.' : 'Select the key and copy it with Ctrl+C (⌘C on a Mac).';
  }

  // ---- revoke --------------------------------------------------------------

  let revoking = null;

  function openRevoke(k) {
    revoking = k;
    const form = el('revoke-form');
    form.reset();
    clearErrors(form);
    el('revoke-title').textContent = `Revoke “${k.label}”?`;
    el('revoke-text').textContent = `Anything that uses ${k.prefix}… gets 401 Unauthorized from its next request. ` +
      "A revoked key can't be used again; to replace it without downtime, roll it instead.";
    openDialog(el('revoke-dialog'), form.querySelector('[data-close]'));
  }

  async function submitRevoke(e) {
    e.preventDefault();
    const form = el('revoke-form');
    const k = revoking;
    const reason = el('revoke-reason').value.trim();
    busy(form, true);
    try {
      const revoked = await api('POST', `/v1/api-keys/${encodeURIComponent(k.id)}/revoke`, { body: reason ? { reason } : {} });
      keysById.set(revoked.id, revoked);
      el('revoke-dialog').close();
      announce(`Key ${revoked.label} revoked.`);
      await refreshView();
      focusKey(revoked.id);
    } catch (err) {
      if (err.code === 'already_revoked') refreshView();
      showFormErrors(form, err);
    } finally {
      busy(form, false);
    }
  }

  // ---- roll ----------------------------------------------------------------

  let rolling = null;
  let rollIdempotencyKey = '';

  function openRoll(k) {
    rolling = k;
    rollIdempotencyKey = newIdempotencyKey();
    const form = el('roll-form');
    form.reset();
    clearErrors(form);
    el('roll-title').textContent = `Roll “${k.label}”?`;
    el('roll-text').textContent = `A new key with the same label, scopes, restrictions and expiry replaces ${k.prefix}…. ` +
      'Its secret is shown once. Keep the old key working long enough to switch everything that uses it.';
    openDialog(el('roll-dialog'), el('roll-grace'));
  }

  async function submitRoll(e) {
    e.preventDefault();
    const form = el('roll-form');
    const k = rolling;
    busy(form, true);
    try {
      const rolled = await api('POST', `/v1/api-keys/${encodeURIComponent(k.id)}/roll`, {
        body: { grace_period_seconds: Number(el('roll-grace').value) },
        headers: { 'Idempotency-Key': rollIdempotencyKey },
      });
      el('roll-dialog').close();
      const old = rolled.replaced || {};
      const context = old.status === 'revoked' || !old.expires_at
        ? `The old key ${k.prefix}… was revoked.`
        : `The old key ${k.prefix}… keeps working until ${formatAbsolute(old.expires_at)}.`;
      showSecret(rolled, context);
      announce(`Key ${k.label} rolled.`);
      await refreshView();
    } catch (err) {
      if (err.status !== 0 && err.status < 500) rollIdempotencyKey = newIdempotencyKey();
      showFormErrors(form, err);
    } finally {
      busy(form, false);
    }
  }

  // ---- edit ----------------------------------------------------------------

  let editing = null;

  async function openEdit(k) {
    if (el('edit-dialog').open) return;
    editing = k;
    const form = el('edit-form');
    form.reset();
    clearErrors(form);
    await loadCatalog();
    el('edit-title').textContent = `Edit “${k.label}”`;
    el('edit-label').value = k.label;
    renderScopeChoices(form, 'edit', isWholePlan(k.scopes) ? [] : k.scopes);
    setScopeMode(form, isWholePlan(k.scopes) ? 'plan' : 'choose');
    el('edit-ips').value = (k.allowed_ips || []).join('\n');
    el('edit-channels').value = (k.channels || []).join('\n');
    openDialog(el('edit-dialog'), el('edit-label'));
  }

  const sameList = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

  async function submitEdit(e) {
    e.preventDefault();
    const form = el('edit-form');
    const k = editing;
    clearErrors(form);
    const patch = {};
    const label = el('edit-label').value;
    if (!label.trim()) {
      fieldError(form, 'label', 'Give the key a label.').focus();
      return;
    }
    if (label !== k.label) patch.label = label;
    const scopes = scopeMode(form) === 'plan' ? ['*'] : chosenScopes(form);
    if (!scopes.length) {
      fieldError(form, 'scopes', 'Choose at least one scope, or give the key the whole plan.');
      form.querySelector('[data-scope-list] input').focus();
      return;
    }
    if (!(isWholePlan(scopes) && isWholePlan(k.scopes)) && !sameList(scopes, k.scopes)) patch.scopes = scopes;
    const ips = lines(el('edit-ips').value);
    if (!sameList(ips, k.allowed_ips || [])) patch.allowed_ips = ips;
    const channels = lines(el('edit-channels').value);
    if (!sameList(channels, k.channels || [])) patch.channels = channels;
    if (!Object.keys(patch).length) {
      el('edit-dialog').close();
      announce('Nothing changed.');
      return;
    }
    busy(form, true);
    try {
      const saved = await api('PATCH', `/v1/api-keys/${encodeURIComponent(k.id)}`, { body: patch });
      keysById.set(saved.id, saved);
      el('edit-dialog').close();
      announce(`Key ${saved.label} saved.`);
      await refreshView();
      focusKey(saved.id);
    } catch (err) {
      showFormErrors(form, err);
    } finally {
      busy(form, false);
    }
  }

  // ---- routing -------------------------------------------------------------

  function currentRoute() {
    const hash = decodeURIComponent(window.location.hash.slice(1));
    if (hash === 'audit') return { view: 'audit' };
    if (/^key_[0-9A-Za-z]{26}$/.test(hash)) return { view: 'detail', id: hash };
    return { view: 'keys' };
  }

  function refreshView() {
    const r = currentRoute();
    if (r.view === 'detail') return showDetail(r.id);
    if (r.view === 'audit') return showAudit();
    return loadKeys();
  }

  // focusKey puts focus back on a key after its row or detail was redrawn.
  function focusKey(id) {
    if (currentRoute().view === 'detail') {
      focusHeading('detail-title');
      return;
    }
    const link = document.querySelector(`tr[data-key-id="${CSS.escape(id)}"] a`);
    if (link) link.focus();
  }

  function showAudit() {
    showApp('view-audit');
    return loadAudit(el('audit-body'), {});
  }

  function route(moveFocus) {
    if (!session.token()) {
      signedOut('');
      return;
    }
    showWho();
    const r = currentRoute();
    if (r.view === 'detail') {
      showDetail(r.id);
      if (moveFocus) focusHeading('detail-title');
    } else if (r.view === 'audit') {
      showAudit();
      if (moveFocus) focusHeading('audit-title');
    } else {
      if (list.loaded) showApp('view-keys');
      loadKeys();
      if (moveFocus) focusHeading('keys-title');
    }
  }

  function focusHeading(id) {
    const node = el(id);
    node.setAttribute('tabindex', '-1');
    node.focus();
  }

  function useToken(e) {
    e.preventDefault();
    const form = el('token-form');
    clearTokenError();
    const token = el('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (token.split('.').length !== 3) {
      const slot = el('token-error');
      slot.textContent = "That isn't a session token: a session token has three parts separated by dots.";
      slot.hidden = false;
      el('token-input').setAttribute('aria-invalid', 'true');
      el('token-input').focus();
      return;
    }
    const c = claimsOf(token) || {};
    session.set(token, { user_id: c.sub, org_id: c.org_id, role: c.role });
    form.reset();
    list.loaded = false;
    showPage('view-loading');
    route(false);
  }

  function clearTokenError() {
    el('token-error').hidden = true;
    el('token-input').removeAttribute('aria-invalid');
  }

  function start() {
    for (const d of document.querySelectorAll('dialog')) wireDialog(d);
    el('create-open').addEventListener('click', openCreate);
    el('create-form').addEventListener('submit', submitCreate);
    el('create-expiry').addEventListener('change', syncExpiry);
    for (const form of [el('create-form'), el('edit-form')]) {
      for (const r of form.querySelectorAll('input[type="radio"]')) {
        r.addEventListener('change', () => setScopeMode(form, r.value));
      }
    }
    el('secret-copy').addEventListener('click', copySecret);
    // The secret leaves the page when its dialog closes.
    el('secret-dialog').addEventListener('close', () => {
      el('secret-value').value = '';
      el('secret-copied').textContent = '';
      focusKey(secretKeyId);
    });
    el('revoke-form').addEventListener('submit', submitRevoke);
    el('roll-form').addEventListener('submit', submitRoll);
    el('edit-form').addEventListener('submit', submitEdit);
    el('status-filter').addEventListener('change', (e) => {
      list.status = e.target.value;
      loadKeys();
    });
    el('keys-more').addEventListener('click', () => loadKeys(true));
    el('retry').addEventListener('click', () => {
      showPage('view-loading');
      route(false);
    });
    el('sign-out').addEventListener('click', () => {
      session.clear();
      list.loaded = false;
      window.location.hash = '';
      signedOut('');
      el('signed-out-title').setAttribute('tabindex', '-1');
      el('signed-out-title').focus();
    });
    el('token-form').addEventListener('submit', useToken);
    window.addEventListener('hashchange', () => route(true));
    route(false);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
