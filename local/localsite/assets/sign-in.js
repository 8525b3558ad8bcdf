// The local stack's sign-in: mint a session token (POST /local/sign-in),
// keep it where the settings page reads it (this tab's sessionStorage, under
// the same names as settingsui's app.js), and open the page.
'use strict';

(() => {
  const form = document.getElementById('sign-in-form');

  function clearErrors() {
    for (const slot of form.querySelectorAll('[data-error-for]')) {
      slot.hidden = true;
      slot.textContent = '';
    }
    for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  }

  function showError(body, status) {
    const e = (body && body.error) || {};
    const message = e.message || `The sign-in failed (status ${status}).`;
    let first = null;
    for (const d of e.details || []) {
      const slot = form.querySelector(`[data-error-for="${d.field}"]`);
      if (!slot) continue;
      slot.textContent = message;
      slot.hidden = false;
      const control = form.querySelector(`[aria-describedby~="${slot.id}"]`);
      if (control) {
        control.setAttribute('aria-invalid', 'true');
        first = first || (control.tagName === 'FIELDSET' ? control.querySelector('input') : control);
      }
    }
    if (first) {
      first.focus();
      return;
    }
    const general = form.querySelector('[data-error-for=""]');
    general.textContent = message;
    general.hidden = false;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const role = form.querySelector('input[name="role"]:checked');
    const request = {
      org_id: document.getElementById('org').value,
      user_id: document.getElementById('user').value,
      role: role ? role.value : '',
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const res = await fetch('/local/sign-in', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(request),
        credentials: 'omit',
        cache: 'no-store',
      });
      const body = await res.json().catch(() => null);
      if (!res.ok || !body || !body.token) {
        showError(body, res.status);
        return;
      }
      sessionStorage.setItem('flowella.session', body.token);
      sessionStorage.setItem('flowella.session.who', JSON.stringify({ user_id: body.user_id, org_id: body.org_id, role: body.role }));
      window.location.assign('/settings/api-keys');
    } catch {
      showError(null, 0);
    } finally {
      button.disabled = false;
    }
  });
})();
