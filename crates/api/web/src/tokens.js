// Personal API tokens, for every role: a user names a token for a machine client, sees its secret once,
// lists their tokens and revokes one. The API keeps only a hash of each secret and audits both steps; a
// token acts with its user's role and unit scope (api/src/resources/tokens.rs).
import { form, table, actionButton } from './admin/form.js';

/** Fills `#view-tokens`; `ctx` is the page's helpers (see main.js). */
export async function loadTokens(ctx, shown = null) {
  const { el, t, api, fmtTime } = ctx;
  const root = document.querySelector('#view-tokens');
  let list;
  try { list = await api('/api/tokens'); } catch (e) { root.replaceChildren(el('p', { class: 'error' }, e.detail || e.message)); return; }
  const add = form(ctx, {
    id: 'token-add', submitLabel: 'create_token',
    fields: [{ name: 'name', label: 'token_name', placeholder: t('token_name_hint') }],
    submit: (v) => api('/api/tokens', { method: 'POST', body: JSON.stringify({ name: v.name }) }),
    done: (created) => loadTokens(ctx, created),
  });
  // The secret of the token just made: shown this once, selectable, with what to send.
  const secret = shown ? el('div', { class: 'token-secret', id: 'token-secret' },
    el('p', {}, t('token_once')),
    el('code', { 'data-token': shown.id }, shown.token),
    el('p', { class: 'muted' }, `Authorization: Bearer ${shown.token.slice(0, 8)}…`)) : null;
  const errorLine = el('p', { class: 'error', id: 'tokens-error' });
  const rows = table(ctx, {
    id: 'tokens-table',
    key: (k) => k.id,
    columns: [
      { label: 'token_name', get: (k) => k.name },
      { label: 'token_created', get: (k) => fmtTime(Date.parse(k.created)) },
      { label: 'token_state', get: (k) => (k.revoked ? `${t('token_revoked')} ${fmtTime(Date.parse(k.revoked))}` : t('token_live')) },
    ],
    rows: list.slice().reverse(),
  });
  // A revoke button in each live token's row.
  for (const tr of rows.querySelectorAll('tr.data-row')) {
    const k = list.find((x) => String(x.id) === tr.dataset.key);
    if (!k || k.revoked) continue;
    tr.append(el('td', {}, actionButton(ctx, {
      label: 'token_revoke', id: `token-revoke-${k.id}`, where: errorLine,
      action: async () => { await api(`/api/tokens/${k.id}`, { method: 'DELETE' }); loadTokens(ctx); },
    })));
  }
  root.replaceChildren(
    el('h3', {}, t('tokens')),
    el('p', { class: 'muted' }, t('tokens_intro')),
    add, ...(secret ? [secret] : []), errorLine, rows,
  );
}
