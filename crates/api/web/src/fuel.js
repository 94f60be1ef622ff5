// Fuel cards (公务加油卡) for the auditor: an issuer's statement uploaded (CSV or XLSX, UTF-8 or GBK) with the
// import's result and each refused row named by line and column; the findings of the checks, filtered by
// unit, check and their case's state; a finding opened with its evidence, on the map for a car that was
// not at the station (its positions around the fill, the station, the distance). The checks, their
// thresholds and the cases are the API's; the page shows them.
import { clearOverlay, markAt, drawLine, fitOverlay } from './overlay.js';
import './services.css';

const INSPECT = ['administrator', 'inspector'];
const CHECKS = ['not_at_station', 'over_tank', 'over_consumption', 'double_fill', 'off_hours', 'card_state', 'unbound', 'other_car', 'product', 'over_limit'];
const CASE_STATES = ['all', 'open', 'acknowledged', 'explained', 'escalated', 'closed', 'withdrawn'];
const LAYOUTS = ['', 'sinopec', 'petrochina', 'tianshu'];
const ENCODINGS = ['', 'utf8', 'gbk'];
const F = { unit: '', check: '', state: 'all', report: null, open: null, seq: 0 };

const ms = (v) => (v === null || v === undefined ? null : Date.parse(v));
const panel = () => document.querySelector('#fuel-page');
const yuan = (ctx, fen) => `${(fen / 100).toFixed(2)} ${ctx.t('yuan')}`;
const unitName = (ctx, id) => { const u = ctx.S.unitById.get(id); return u ? u.name : `#${id}`; };
const reasonOf = (ctx, f) => (ctx.currentLang() === 'zh' ? f.reason_zh : f.reason);

/** Fills `#view-fuel`: the upload (for auditors), its last result, the findings and their filters. */
export async function loadFuel(ctx) {
  const { el } = ctx;
  const root = document.querySelector('#view-fuel');
  const list = el('div', { id: 'fuel-findings' });
  root.replaceChildren(...[
    INSPECT.includes(ctx.S.me.role) ? uploadSection(ctx) : null,
    F.report ? reportSection(ctx, F.report) : null,
    filters(ctx), list].filter(Boolean));
  await listFindings(ctx, list);
}

function uploadSection(ctx) {
  const { el, t, api } = ctx;
  const file = el('input', { type: 'file', id: 'fuel-file', accept: '.csv,.txt,.xlsx' });
  const layout = el('select', { id: 'fuel-layout' }, ...LAYOUTS.map((l) => el('option', { value: l, class: l ? 'data' : null }, l || t('fuel_detect'))));
  const encoding = el('select', { id: 'fuel-encoding' }, ...ENCODINGS.map((e) => el('option', { value: e, class: e ? 'data' : null }, e ? e.toUpperCase() : t('fuel_detect'))));
  const error = el('p', { class: 'error', id: 'fuel-upload-error' });
  const go = el('button', { class: 'primary', id: 'fuel-import', onclick: async () => {
    error.textContent = '';
    const f = file.files[0];
    if (!f) { error.textContent = t('fuel_no_file'); return; }
    const q = new URLSearchParams({ name: f.name });
    if (layout.value) q.set('layout', layout.value);
    if (encoding.value) q.set('encoding', encoding.value);
    go.disabled = true;
    try {
      F.report = await api(`/api/fuel/statements?${q}`, { method: 'POST', body: f, headers: { 'content-type': 'application/octet-stream' } });
    } catch (e) { error.textContent = e.detail || e.message; go.disabled = false; return; }
    loadFuel(ctx);
  } }, t('fuel_import'));
  return el('section', { class: 'msection', id: 'fuel-upload' }, el('h3', {}, t('fuel_upload')),
    el('label', {}, el('span', {}, t('fuel_file')), file),
    el('div', { class: 'cw-tools' }, el('label', {}, el('span', {}, t('fuel_layout')), layout), el('label', {}, el('span', {}, t('fuel_encoding')), encoding), go),
    error);
}

/** What the last upload stored, found and refused (each refused row by line and column). */
function reportSection(ctx, r) {
  const { el, t } = ctx;
  const figure = (k, label, v) => [el('dt', {}, t(label)), el('dd', { 'data-figure': k }, String(v))];
  return el('section', { class: 'msection', id: 'fuel-result' }, el('h3', {}, t('fuel_result')),
    el('dl', { class: 'figures' },
      el('dt', {}, t('fuel_format')), el('dd', { class: 'data' }, `${r.format}${r.encoding ? ` · ${r.encoding.toUpperCase()}` : ''}`),
      figure('stored', 'fuel_stored', r.stored), figure('duplicates', 'fuel_duplicates', r.duplicates),
      figure('errors', 'fuel_refused', r.errors.length), figure('findings', 'fuel_findings_made', r.findings),
      figure('cases_opened', 'fuel_cases_opened', r.cases_opened)),
    r.errors.length ? el('div', { class: 'table-scroll' }, el('table', { id: 'fuel-errors' },
      el('thead', {}, el('tr', {}, el('th', {}, t('fuel_line')), el('th', {}, t('fuel_column')), el('th', {}, t('fuel_reason')))),
      el('tbody', {}, r.errors.map((e) => el('tr', { 'data-line': e.line },
        el('td', {}, String(e.line)), el('td', { class: 'data' }, e.column || '—'), el('td', { class: 'data' }, e.reason)))))) : null);
}

function filters(ctx) {
  const { el, t } = ctx;
  const pick = (id, key, options) => el('select', { id, onchange: (e) => { F[key] = e.target.value; listFindings(ctx, document.querySelector('#fuel-findings')); } },
    ...options.map(([v, text, data]) => el('option', { value: v, class: data ? 'data' : null, selected: v === F[key] ? '' : null }, text)));
  return el('section', { id: 'fuel-filters' }, el('h3', {}, t('fuel_findings')),
    el('div', { class: 'cw-tools' },
      el('label', {}, el('span', {}, t('unit')), pick('fuel-unit', 'unit', [['', t('all_units')], ...ctx.S.units.map((u) => [String(u.id), u.name, true])])),
      el('label', {}, el('span', {}, t('fuel_check')), pick('fuel-check', 'check', [['', t('fuel_all')], ...CHECKS.map((c) => [c, t(`fc_${c}`)])])),
      el('label', {}, el('span', {}, t('fuel_case_state')), pick('fuel-state', 'state', CASE_STATES.map((s) => [s, t(`s_${s}`)])))));
}

/** The findings the filters pass, newest first; a case's state is read from the cases in scope. */
async function listFindings(ctx, box) {
  const { el, t, api, fmtTime } = ctx;
  const q = new URLSearchParams({ limit: '1000' });
  if (F.unit) q.set('unit', F.unit);
  if (F.check) q.set('check', F.check);
  // Only the latest choice's answer is shown, whichever comes back first.
  const seq = ++F.seq;
  let list;
  try {
    list = await api(`/api/fuel/findings?${q}`);
    if (F.state !== 'all') {
      const cases = new Set((await api(`/api/cases?state=${F.state}&limit=2000`)).map((c) => String(c.id)));
      list = list.filter((f) => f.case_id !== null && cases.has(String(f.case_id)));
    }
  } catch (e) { box.replaceChildren(el('p', { class: 'error' }, e.detail || e.message)); return; }
  if (seq !== F.seq) return;
  const rows = list.map((f) => el('div', {
    class: `finding-row severity-${f.severity}`, 'data-check': f.check, 'data-case': f.case_id ?? '', 'data-transaction': f.transaction_id,
    onclick: () => openFinding(ctx, f),
  },
  el('span', { class: 'st' }, t(`fc_${f.check}`)), ' ', el('span', { class: `sev sev-${f.severity}` }, t(`sev_${f.severity}`)), ' ',
  el('b', {}, yuan(ctx, f.at_stake_fen)),
  el('div', { class: 'muted' }, fmtTime(ms(f.time)), ' · ', el('span', { class: 'data' }, unitName(ctx, f.unit))),
  el('div', { class: 'data text' }, reasonOf(ctx, f))));
  box.replaceChildren(el('div', { class: 'stats' }, el('span', {}, t('fuel_findings')), ' ', el('b', { id: 'fuel-count' }, String(rows.length))),
    ...(rows.length ? rows : [el('p', { class: 'muted' }, t('fuel_none'))]));
  box.dataset.filter = [F.unit, F.check, F.state].join('|');
}

/** Closes the finding's panel. */
export function closeFinding(ctx) {
  if (!panel().hasChildNodes()) return;
  F.open = null;
  delete panel().dataset.drawn;
  panel().classList.add('hidden');
  panel().replaceChildren();
  document.body.classList.remove('case-open');
  clearOverlay(ctx);
}

/** A finding in the panel: what, when, whose, the money at stake, its case, and its evidence. */
async function openFinding(ctx, f) {
  const { el, t, fmtTime } = ctx;
  F.open = f;
  const c = f.case_id !== null ? await ctx.api(`/api/cases/${f.case_id}`).catch(() => null) : null;
  const v = c && ctx.S.vehicles.get(c.vehicle);
  panel().replaceChildren(
    el('button', { class: 'close', 'aria-label': t('close_panel'), onclick: () => closeFinding(ctx) }, '×'),
    el('h2', { id: 'fuel-title', 'data-check': f.check, 'data-transaction': f.transaction_id }, t(`fc_${f.check}`)),
    el('dl', {},
      el('dt', {}, t('fuel_fill_time')), el('dd', {}, `${fmtTime(ms(f.time))} ${t('beijing_time')}`),
      el('dt', {}, t('unit')), el('dd', { class: 'data' }, unitName(ctx, f.unit)),
      v ? [el('dt', {}, t('vehicle')), el('dd', { class: 'data plate' }, v.plate)] : null,
      el('dt', {}, t('severity')), el('dd', { class: `sev-${f.severity}` }, t(`sev_${f.severity}`)),
      el('dt', {}, t('fuel_at_stake')), el('dd', {}, yuan(ctx, f.at_stake_fen)),
      el('dt', {}, t('fuel_transaction')), el('dd', {}, `#${f.transaction_id}`),
      f.case_id !== null ? [el('dt', {}, t('cw_cases')), el('dd', {}, el('button', { id: 'fuel-open-case', 'data-case': f.case_id, onclick: () => ctx.openCase(String(f.case_id)) },
        `#${f.case_id}${c ? ` · ${t(`s_${c.state}`)}` : ''}`))] : null),
    el('h3', {}, t('reasoning')), el('div', { class: 'reason data', id: 'fuel-reason' }, reasonOf(ctx, f)),
    el('h3', {}, t('fuel_details')),
    f.check === 'not_at_station' ? stationEvidence(ctx, f.evidence) : genericEvidence(ctx, f.evidence));
  panel().classList.remove('hidden');
  document.body.classList.add('case-open');
  clearOverlay(ctx);
  if (f.check === 'not_at_station') showStation(ctx, f.evidence);
}

/** The car's positions around the fill and its nearest approach to the station. */
function stationEvidence(ctx, e) {
  const { el, t, fmtTime } = ctx;
  const pos = e.positions || [];
  const deg = (x) => x.toFixed(6);
  return el('section', { id: 'fuel-evidence' },
    el('dl', {},
      el('dt', {}, t('fuel_station')), el('dd', { class: 'data' }, `${deg(e.station[1])}, ${deg(e.station[0])}`),
      el('dt', {}, t('fuel_nearest')), el('dd', { id: 'fuel-nearest', 'data-m': e.nearest_m ?? '' },
        e.nearest_m === null ? t('fuel_no_positions') : `${(e.nearest_m / 1000).toFixed(2)} ${t('km')}`),
      e.nearest_at ? [el('dt', {}, t('fuel_nearest_at')), el('dd', {}, fmtTime(ms(e.nearest_at)))] : null),
    el('p', { class: 'muted' }, t(ctx.S.config.gcj02 ? 'fuel_gcj_note' : 'fuel_wgs_note')),
    el('h3', {}, t('fuel_positions')),
    pos.length ? el('div', { class: 'table-scroll' }, el('table', { id: 'fuel-positions' },
      el('thead', {}, el('tr', {}, el('th', {}, t('time')), el('th', {}, t('position')))),
      el('tbody', {}, pos.map((p) => el('tr', {}, el('td', {}, fmtTime(ms(p.time))), el('td', { class: 'data' }, `${deg(p.lat)}, ${deg(p.lon)}`))))))
      : el('p', { class: 'muted' }, t('fuel_no_positions')));
}

/** The station and the car's positions on the map. */
function showStation(ctx, e) {
  const pos = e.positions || [];
  const coords = [markAt(ctx, e.station[0], e.station[1], ctx.t('fuel_station'), 'station')];
  const line = drawLine(ctx, pos.map((p) => [p.lon, p.lat]));
  panel().dataset.drawn = String(line.length);
  coords.push(...line);
  if (pos.length) coords.push(markAt(ctx, pos[0].lon, pos[0].lat, ctx.fmtTime(ms(pos[0].time)).slice(11, 16), 'car'));
  fitOverlay(ctx, coords, panel());
}

/** Any other check's evidence: its figures as the API names them. */
function genericEvidence(ctx, e) {
  const { el } = ctx;
  const entries = Object.entries(e || {});
  return el('dl', { id: 'fuel-evidence', class: 'data' }, ...entries.flatMap(([k, v]) => [el('dt', { class: 'data' }, k), el('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
}
