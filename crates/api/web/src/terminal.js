// The car card's terminal panel: the terminal's clock (the offset set, the offset its fixes show, and for
// administrators the setting, PATCH /api/terminals/{phone}), and its parameters and attributes (0x8104,
// 0x8106, 0x8107 for dispatchers and administrators; 0x8103 for administrators), each answered by the
// terminal through POST /api/vehicles/{id}/commands. Built once per car, like the command panel.
import { t } from './i18n.js';

const ROLES = ['administrator', 'dispatcher'];
/** Names of the parameters an operator most often reads (JT/T 808 table 14); others show their id. */
const NAMES = { 0x0001: 'p_heartbeat', 0x0013: 'p_server', 0x0018: 'p_tcp_port', 0x0029: 'p_interval', 0x0055: 'p_max_speed', 0x0083: 'p_plate', 0x0084: 'p_plate_colour' };
const hexId = (id) => `0x${id.toString(16).padStart(4, '0')}`;
/** `+8 h`, `−0.5 h`, `0`. */
export function fmtOffset(secs) {
  if (secs === null || secs === undefined) return t('none');
  if (secs === 0) return '0';
  const h = secs / 3600;
  return `${h > 0 ? '+' : '−'}${Math.abs(h)} h`;
}
/** `1`, `0x13`, `19` -> a parameter id; NaN when not one. */
const parseId = (s) => (/^0x[0-9a-f]+$/i.test(s.trim()) ? parseInt(s.trim(), 16) : /^\d+$/.test(s.trim()) ? Number(s.trim()) : NaN);

/** Renders the panel of vehicle `vid` into `panel`; `ctx` carries the page's helpers. */
export async function renderTerminalPanel(panel, ctx) {
  const { vid, me, el, api, fmtTime, parseTime } = ctx;
  panel.dataset.vehicle = String(vid);
  if (!me || !ROLES.includes(me.role)) { panel.replaceChildren(); return; }
  let term = null;
  try { term = (await api('/api/terminals')).find((x) => x.vehicle === vid) || null; } catch (_) { /* shown as none */ }
  if (panel.dataset.vehicle !== String(vid)) return;
  if (!term) { panel.replaceChildren(el('h3', {}, t('terminal')), el('p', { class: 'muted' }, t('no_terminal'))); return; }
  const admin = me.role === 'administrator';
  const result = el('div', { id: 'term-result', class: 'cmd-result' });
  const clockResult = el('div', { id: 'term-clock-result', class: 'cmd-result' });
  const found = term.clock_offset_found_secs;
  const differs = found !== null && found !== undefined && found !== term.clock_offset_secs;
  const setClock = async (secs) => {
    try {
      const r = await api(`/api/terminals/${term.phone}`, { method: 'PATCH', body: JSON.stringify({ clock_offset_secs: secs }) });
      clockResult.dataset.outcome = 'answered';
      clockResult.textContent = `${t('clock_offset_set')}: ${fmtOffset(r.clock_offset_secs)}`;
      renderTerminalPanel(panel, ctx);
    } catch (e) { clockResult.dataset.outcome = 'error'; clockResult.textContent = e.message; }
  };
  const send = async (body) => {
    result.dataset.outcome = 'pending';
    result.replaceChildren(t('waiting_answer'));
    let r;
    try {
      const res = await fetch(`/api/vehicles/${vid}/commands`, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      r = await res.json().catch(() => ({}));
      if (!r.outcome) r = { outcome: 'error', message: `${res.status} ${r.error || res.statusText}` };
    } catch (e) { r = { outcome: 'error', message: e.message }; }
    showAnswer(result, r, el);
  };
  const hours = el('input', { id: 'term-clock-hours', type: 'number', step: '0.5', min: '-14', max: '14', value: String(term.clock_offset_secs / 3600) });
  const ids = el('input', { id: 'term-param-ids', placeholder: '0x0001, 0x0055' });
  const setId = el('input', { id: 'term-set-id', placeholder: '0x0055' });
  const setKind = el('select', { id: 'term-set-kind' }, ['number', 'text', 'hex'].map((k) => el('option', { value: k }, t(`kind_${k}`))));
  const setValue = el('input', { id: 'term-set-value' });
  // DOM's replaceChildren writes a null as text: the parts a role or a state leaves out are dropped first.
  panel.replaceChildren(...[
    el('h3', {}, `${t('terminal')} ${term.phone}`),
    el('dl', {},
      el('dt', {}, t('clock_offset_set')), el('dd', { id: 'term-clock-set-now' }, fmtOffset(term.clock_offset_secs)),
      el('dt', {}, t('clock_offset_found')), el('dd', { id: 'term-clock-found', class: differs ? 'warn' : '' },
        found === null || found === undefined ? t('not_found_yet') : `${fmtOffset(found)} (${fmtTime(parseTime(term.clock_offset_found_at))})`)),
    differs ? el('p', { class: 'warn' }, t('clock_differs').replace('{h}', fmtOffset(found - term.clock_offset_secs))) : null,
    admin ? el('div', { class: 'cmd-row' },
      el('label', { title: t('clock_hint') }, t('clock_offset_hours'), hours),
      el('button', { id: 'term-clock-set', onclick: () => {
        const h = Number(hours.value);
        if (!Number.isFinite(h) || Math.abs(h) > 14 || (h * 2) % 1 !== 0) { clockResult.dataset.outcome = 'invalid'; clockResult.textContent = t('clock_invalid'); return; }
        setClock(Math.round(h * 3600));
      } }, t('set')),
      differs ? el('button', { id: 'term-clock-use-found', onclick: () => setClock(found) }, t('use_found')) : null) : null,
    clockResult,
    el('div', { class: 'cmd' },
      el('div', { class: 'actions' },
        el('button', { id: 'term-params', onclick: () => send({ kind: 'query_parameters' }) }, t('query_parameters')),
        el('button', { id: 'term-attrs', onclick: () => send({ kind: 'query_attributes' }) }, t('query_attributes'))),
      el('div', { class: 'cmd-row' }, ids, el('button', { id: 'term-params-some', onclick: () => {
        const list = ids.value.split(/[\s,;]+/).filter(Boolean).map(parseId);
        if (!list.length || list.some(Number.isNaN)) { showAnswer(result, { outcome: 'invalid', message: t('ids_invalid') }, el); return; }
        send({ kind: 'query_parameters', ids: list });
      } }, t('query_these')))),
    admin ? el('div', { class: 'cmd-row' }, setId, setKind, setValue, el('button', { id: 'term-set', onclick: () => {
      const id = parseId(setId.value);
      const v = setValue.value.trim();
      const p = setKind.value === 'number' ? { id, value: Number(v) } : setKind.value === 'text' ? { id, value: v } : { id, hex: v };
      if (Number.isNaN(id) || (setKind.value === 'number' && !/^\d+$/.test(v))) { showAnswer(result, { outcome: 'invalid', message: t('parameter_invalid') }, el); return; }
      send({ kind: 'set_parameters', parameters: [p] });
    } }, t('set_parameter'))) : null,
    result].filter(Boolean));
}

/** The terminal's answer: a table of parameters, the attributes, or what came of the command. */
function showAnswer(box, r, el) {
  box.dataset.outcome = r.outcome;
  if (r.outcome === 'answered' && r.parameters) {
    box.replaceChildren(el('table', { class: 'params' },
      el('thead', {}, el('tr', {}, el('th', {}, 'id'), el('th', {}, t('value')), el('th', {}, 'hex'))),
      el('tbody', {}, r.parameters.map((p) => el('tr', { 'data-id': p.id },
        el('td', { title: NAMES[p.id] ? t(NAMES[p.id]) : '' }, NAMES[p.id] ? `${hexId(p.id)} ${t(NAMES[p.id])}` : hexId(p.id)),
        el('td', { class: 'value' }, p.value === undefined ? '' : String(p.value)),
        el('td', { class: 'hex' }, p.hex))))));
  } else if (r.outcome === 'answered' && r.attributes) {
    const a = r.attributes;
    box.replaceChildren(el('dl', { class: 'answer' }, ...[
      ['maker', a.maker_id], ['model', a.model], ['terminal_id', a.terminal_id], ['iccid', a.iccid],
      ['hardware', a.hardware_version], ['firmware', a.firmware_version],
    ].flatMap(([k, v]) => [el('dt', {}, t(`attr_${k}`)), el('dd', { class: `attr-${k}` }, v)])));
  } else if (r.outcome === 'answered') {
    box.replaceChildren(t('parameter_set'));
  } else if (r.outcome === 'refused') {
    box.replaceChildren(`${t('refused')} (0x0001 ${t('result')} ${r.result})`);
  } else if (r.outcome === 'not_connected' || r.outcome === 'timed_out') {
    box.replaceChildren(t(r.outcome));
  } else {
    box.replaceChildren(`${t('command_failed')}: ${r.message}`);
  }
}
