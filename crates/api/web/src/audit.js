import { t } from './i18n.js';
import { $, el, api, S, fmtTime, parseTime } from './page.js';

// The audit log as a table (newest first), filtered on the page by any text of a row: who, what, which
// car, when, from where.
export async function loadAudit() {
  try {
    const list = await api('/api/audit?last=1000');
    const plateOf = (id) => { const v = S.vehicles.get(id); return v ? v.plate : (id ? `#${id}` : ''); };
    const rows = list.reverse().map((r) => {
      const cells = [String(r.seq), fmtTime(parseTime(r.time)), `${r.actor} (${r.role})`, r.action, plateOf(r.vehicle),
        r.from ? `${fmtTime(parseTime(r.from))} – ${fmtTime(parseTime(r.to))}` : '', r.rows ? String(r.rows) : '', r.remote || '', r.detail || ''];
      const tr = el('tr', { class: 'audit-row' }, ...cells.map((c) => el('td', {}, c)));
      tr.dataset.text = cells.join(' ').toLowerCase();
      return tr;
    });
    const filter = $('#audit-filter');
    const apply = () => {
      const q = filter.value.trim().toLowerCase();
      let shown = 0;
      for (const tr of rows) { const on = !q || tr.dataset.text.includes(q); tr.classList.toggle('hidden', !on); shown += on ? 1 : 0; }
      $('#audit-count').textContent = `${shown} / ${rows.length}`;
    };
    filter.oninput = apply;
    $('#audit-list').replaceChildren(el('table', { class: 'audit' },
      el('thead', {}, el('tr', {}, ...['seq', 'time', 'who', 'action', 'vehicle', 'range', 'rows', 'from_where', 'detail'].map((k) => el('th', {}, k === 'seq' ? '#' : t(k))))),
      el('tbody', {}, rows)));
    apply();
  } catch (e) { $('#audit-list').replaceChildren(el('p', { class: 'error' }, e.message)); }
}
