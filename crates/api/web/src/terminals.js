// The terminals view: every terminal with how often it registered again and its pending re-registration,
// which an administrator approves or rejects; and, per unit, whether re-registrations its cars' terminals
// cannot prove wait for approval. The API masks phones and terminal ids for every role but administrators,
// and refuses the changes to the others; the page only hides the buttons.

const PENDING_STATES = ['unproven', 'same_address', 'awaiting_approval', 'approved'];

/** Fills `#terminals-list` and `#units-approval`; `ctx` is the page's { api, el, t, fmtTime, S }. */
export async function loadTerminals(ctx) {
  const { api, el, t, fmtTime, S } = ctx;
  const admin = S.me && S.me.role === 'administrator';
  const list = document.querySelector('#terminals-list');
  const units = document.querySelector('#units-approval');
  let terminals;
  try { terminals = await api('/api/terminals'); } catch (e) { list.replaceChildren(el('p', { class: 'error' }, e.message)); return; }
  const decide = async (phone, decision) => {
    try {
      await api(`/api/terminals/${encodeURIComponent(phone)}/reregistration`, { method: 'POST', body: JSON.stringify({ decision }) });
    } catch (e) { list.prepend(el('p', { class: 'error' }, e.message)); return; }
    loadTerminals(ctx);
  };
  // Those awaiting a decision first, then by how often they registered again.
  const rank = (x) => (x.pending_registration ? PENDING_STATES.length - PENDING_STATES.indexOf(x.pending_registration.state) : 0);
  terminals.sort((a, b) => rank(b) - rank(a) || b.reregistrations - a.reregistrations);
  list.replaceChildren(...(terminals.length ? terminals.map((x) => {
    const v = S.vehicles.get(x.vehicle);
    const p = x.pending_registration;
    return el('div', { class: `terminal-row${p ? ' pending' : ''}`, 'data-phone': x.phone },
      el('b', {}, v ? v.plate : (x.vehicle ?? t('none'))), ' ', x.phone, ' · ', x.terminal_id, ' · ', x.edition || '',
      el('div', { class: 'muted' }, `${t('reregistrations')}: ${x.reregistrations}`, x.last_reregistered ? ` (${fmtTime(Date.parse(x.last_reregistered))})` : ''),
      p ? el('div', { class: 'pending-registration', 'data-state': p.state },
        `${t('pending_registration')}: ${t(`p_${p.state}`)} · ${fmtTime(Date.parse(p.since))} · ${p.address}`,
        admin && p.state === 'awaiting_approval' ? el('button', { class: 'approve', onclick: () => decide(x.phone, 'approve') }, t('approve')) : null,
        admin ? el('button', { class: 'reject', onclick: () => decide(x.phone, 'reject') }, t('reject')) : null) : null);
  }) : [el('p', { class: 'muted' }, t('none'))]));
  if (!admin) { units.replaceChildren(); return; }
  const toggle = async (u, on) => {
    try {
      const changed = await api(`/api/units/${u.id}`, { method: 'PATCH', body: JSON.stringify({ reregistration_approval: on }) });
      Object.assign(u, changed);
    } catch (e) { units.prepend(el('p', { class: 'error' }, e.message)); }
  };
  units.replaceChildren(el('h3', {}, t('approval_required')), ...S.units.map((u) => el('label', { class: 'unit-approval' },
    el('input', { type: 'checkbox', 'data-unit': u.id, checked: u.reregistration_approval ? '' : null, onchange: (e) => toggle(u, e.target.checked) }),
    u.name)));
}
