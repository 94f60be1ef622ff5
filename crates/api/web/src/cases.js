// Alert cases: the inbox by state, one case with its reasoning, evidence (on the map too), history and
// the workflow's steps, and below them the finding and the people held to account (casework.js).
import * as maplibregl from 'maplibre-gl';
import { t, currentLang } from './i18n.js';
import { disp } from './geo.js';
import { findingSection } from './casework.js';
import { $, el, api, S, map, nav, fmtTime, parseTime, SEVERE } from './page.js';

const CASE_STATES = ['open', 'acknowledged', 'explained', 'escalated', 'closed', 'all'];
/** A case's title: the rule's name in the user's language. */
export function caseTitle(c) { return c[`title_${currentLang()}`] || c.title || c.rule || c.id; }
export function caseRow(c) {
  const v = S.vehicles.get(c.vehicle);
  return el('div', { class: `case-row ${SEVERE.has(c.severity) ? 'severe' : ''}`, 'data-case': c.id, onclick: () => openCase(c.id) },
    el('span', { class: 'st' }, t(`s_${c.state}`)), el('b', {}, v ? v.plate : c.vehicle), ' ', caseTitle(c),
    el('div', { class: 'muted' }, fmtTime(parseTime(c.start || c.opened))));
}

export async function loadCases() {
  $('#case-states').replaceChildren(...CASE_STATES.map((s) => el('button', { class: S.caseState === s ? 'active' : '', 'data-state': s, onclick: () => { S.caseState = s; loadCases(); } }, t(`s_${s}`))));
  try {
    const q = S.caseState === 'all' ? '' : `?state=${S.caseState}`;
    const list = await api(`/api/cases${q}`);
    $('#cases-list').replaceChildren(...(list.length ? list.map(caseRow) : [el('p', { class: 'muted' }, t('no_cases'))]));
  } catch (e) { $('#cases-list').replaceChildren(el('p', { class: 'error' }, e.message)); }
}

/** The evidence points of the open case on the map. */
const caseMarkers = [];
function showCaseOnMap(c) {
  for (const m of caseMarkers.splice(0)) m.remove();
  const points = (c.evidence || []).filter((e) => Number.isFinite(e.longitude) && Number.isFinite(e.latitude));
  if (!map || !points.length) return;
  const coords = points.map((e) => disp(e.longitude, e.latitude));
  if (map.getSource('track')) {
    map.getSource('track').setData({ type: 'Feature', properties: { kmh: 0 }, geometry: { type: 'LineString', coordinates: coords } });
  }
  points.forEach((e, i) => {
    const dot = el('div', { class: 'evidence-dot', title: `${fmtTime(parseTime(e.fix_time))} · ${e.speed_kmh.toFixed(1)} ${t('kmh')}` }, String(i + 1));
    caseMarkers.push(new maplibregl.Marker({ element: dot }).setLngLat(coords[i]).addTo(map));
  });
  const b = coords.reduce((acc, p) => acc.extend(p), new maplibregl.LngLatBounds(coords[0], coords[0]));
  // The case page covers the map's right side (or, on a phone, its bottom): keep the episode clear of it.
  map.resize();
  const panel = $('#case-page').getBoundingClientRect();
  const box = map.getContainer().getBoundingClientRect();
  const sheet = panel.width >= 0.9 * box.width;
  const padding = { top: 40, bottom: 40, left: 40, right: 40 };
  // A sheet may cover most of a phone's map: the episode goes in the strip above it (at least 120 px kept).
  if (sheet) padding.bottom = Math.min(Math.max(box.bottom - panel.top, 0) + 30, box.height - 120);
  else padding.right = Math.min(panel.width + 40, box.width / 2);
  map.fitBounds(b, { padding, maxZoom: 16, duration: 600 });
}

const deg = (v) => (Number.isFinite(v) ? v.toFixed(6) : t('none'));
function evidenceTable(c) {
  const rows = (c.evidence || []).map((e, i) => el('tr', {},
    el('td', {}, String(i + 1)), el('td', {}, fmtTime(parseTime(e.fix_time))),
    el('td', {}, `${deg(e.latitude)}, ${deg(e.longitude)}`), el('td', {}, `${e.speed_kmh.toFixed(1)} ${t('kmh')}`),
    el('td', {}, t(e.acc_on ? 'on' : 'off'))));
  if (!rows.length) return null;
  return el('table', { class: 'evidence' },
    el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, t('time')), el('th', {}, t('position')), el('th', {}, t('speed')), el('th', {}, t('ignition')))),
    el('tbody', {}, rows));
}

/** The catalogue's word for `key`, or null when it has none. */
const wordFor = (key) => (t(key) !== key ? t(key) : null);
function historyTable(c) {
  const rows = (c.history || []).map((h) => el('tr', {},
    el('td', {}, h.time ? fmtTime(parseTime(h.time)) : ''), el('td', {}, h.actor || ''),
    el('td', {}, wordFor(`s_${h.action}`) || wordFor(h.action) || h.action), el('td', {}, h.note || h.text || '')));
  if (!rows.length) return null;
  return el('table', { class: 'history' },
    el('thead', {}, el('tr', {}, el('th', {}, t('time')), el('th', {}, t('actor')), el('th', {}, t('action')), el('th', {}, t('note')))),
    el('tbody', {}, rows));
}

export async function openCase(id) {
  let c;
  try { c = await api(`/api/cases/${encodeURIComponent(id)}`); } catch (e) { return; }
  const v = S.vehicles.get(c.vehicle);
  const page = $('#case-page');
  const act = async (body) => {
    try { await api(`/api/cases/${encodeURIComponent(id)}/actions`, { method: 'POST', body: JSON.stringify(body) }); await openCase(id); if (S.view === 'alerts') loadCases(); } catch (e) { page.querySelector('.error').textContent = e.message; }
  };
  const note = el('textarea', { id: 'case-note', placeholder: t('explanation') });
  // The engine gives its reasoning in Chinese and English: the user's language first, the other not shown.
  const why = Array.isArray(c.reasoning) ? c.reasoning : [c.reasoning].filter(Boolean);
  const reasoning = why.length === 2 ? why[currentLang() === 'zh' ? 0 : 1] : why.join('\n');
  const start = parseTime(c.start || c.opened);
  page.replaceChildren(...[
    el('button', { class: 'close', 'aria-label': t('close_panel'), onclick: () => { page.classList.add('hidden'); document.body.classList.remove('case-open'); clearCaseMarkers(); if (map) map.resize(); } }, '×'),
    el('h2', { id: 'case-title' }, caseTitle(c)),
    el('dl', {},
      el('dt', {}, t('vehicle')), el('dd', {}, v ? v.plate : c.vehicle),
      el('dt', {}, t('state')), el('dd', { id: 'case-state', 'data-state': c.state }, t(`s_${c.state}`)),
      el('dt', {}, t('severity')), el('dd', { class: `sev-${c.severity}` }, c.severity ? t(`sev_${c.severity}`) : t('none')),
      el('dt', {}, t('time')), el('dd', {}, `${fmtTime(start)} – ${c.end ? fmtTime(parseTime(c.end)) : t('ongoing')} ${t('beijing_time')}`),
      c.subject ? el('dt', {}, t('subject')) : null, c.subject ? el('dd', {}, c.subject) : null,
      c.late ? el('dt', {}, t('late_data')) : null, c.late ? el('dd', {}, t('late_data_note')) : null,
      c.escalate_at && c.state !== 'closed' ? el('dt', {}, t('escalates_at')) : null,
      c.escalate_at && c.state !== 'closed' ? el('dd', {}, fmtTime(parseTime(c.escalate_at))) : null),
    el('h3', {}, t('reasoning')), el('div', { class: 'reason' }, reasoning),
    c.evidence && c.evidence.length ? el('h3', {}, t('evidence')) : null,
    evidenceTable(c),
    c.history && c.history.length ? el('h3', {}, t('history')) : null,
    historyTable(c),
    c.state !== 'closed' ? note : null,
    el('div', { class: 'actions' },
      c.state !== 'closed' ? el('button', { id: 'case-ack', onclick: () => act({ action: 'acknowledge' }) }, t('acknowledge')) : null,
      c.state !== 'closed' ? el('button', { id: 'case-explain', onclick: () => act({ action: 'explain', text: note.value }) }, t('explain')) : null,
      c.state !== 'closed' ? el('button', { id: 'case-close', class: 'primary', onclick: () => act({ action: 'close', note: note.value || null }) }, t('close')) : null,
      c.state !== 'closed' ? el('button', { id: 'case-escalate', onclick: () => act({ action: 'escalate', note: note.value || null }) }, t('escalate')) : null,
      S.me.role !== 'dispatcher' && v ? el('button', { onclick: () => nav.openReplay(v.plate, start, c.end ? parseTime(c.end) : start + 3600e3) }, t('open_replay')) : null),
    el('p', { class: 'error' })].filter(Boolean));
  page.classList.remove('hidden');
  document.body.classList.add('case-open');
  showCaseOnMap(c);
  // The finding and the people held to account, below the steps.
  const finding = await findingSection(nav.casework, c, () => openCase(id));
  if (finding && page.querySelector('#case-title')) page.querySelector('.error').before(finding);
}

/** Takes the open case's evidence off the map. */
export function clearCaseMarkers() { for (const m of caseMarkers.splice(0)) m.remove(); }

