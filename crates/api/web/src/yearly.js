// The office's yearly figures (年度统计) in the Reports view: the reform's figures, cars by unit and class,
// the pool's service by kind and unit served, violations by rule, the year's complaints and findings and
// its fuel cards; charted, downloadable as CSV and XLSX
// (the API writes both), and printable on A4 as the office's own report (the print rules in services.css).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './services.css';

const charts = [];
/** The year and unit shown, to show again in the other language. */
let shown = null;
const REFORM = ['kept', 'disposed', 'reduction_rate', 'installed', 'exempt', 'install_rate', 'marked', 'marking_exempt'];

const page = () => document.querySelector('#yearly-page');

/** The year and unit choices, filled once per visit of the Reports view. */
export function yearlyControls(ctx) {
  const { el, t, S } = ctx;
  const year = Number(ctx.fmtTime(Date.now()).slice(0, 4));
  const input = el('input', { id: 'yearly-year', type: 'number', min: '2000', max: '2100', value: shown ? shown.year : year });
  const unit = el('select', { id: 'yearly-unit' }, el('option', { value: '' }, t('all_units')),
    ...S.units.map((u) => el('option', { value: u.id, class: 'data', selected: shown && String(u.id) === shown.unit ? '' : null }, u.name)));
  return el('section', { id: 'yearly-controls' },
    el('h3', {}, t('yr_title')),
    el('label', {}, el('span', {}, t('year')), input),
    el('label', {}, el('span', {}, t('unit')), unit),
    el('button', { id: 'yearly-load', onclick: () => loadYearly(ctx, input.value, unit.value) }, t('yr_load')));
}

/** Hides the yearly figures (the month's report takes the panel's place). */
export function closeYearly() {
  page().classList.add('hidden');
  shown = null;
}

/** Shows them again after the language changed. */
export function rerenderYearly(ctx) {
  if (shown && !page().classList.contains('hidden')) loadYearly(ctx, shown.year, shown.unit);
}

/** Loads and shows the figures of `year` (below `unit` when given). */
export async function loadYearly(ctx, year, unit) {
  const { el, t, api, currentLang } = ctx;
  shown = { year, unit };
  document.querySelector('#report-page').classList.add('hidden');
  const out = page();
  out.classList.remove('hidden');
  out.replaceChildren(el('p', { class: 'muted' }, t('report_loading')));
  const q = new URLSearchParams({ year });
  if (unit) q.set('unit', unit);
  let f;
  try { f = await api(`/api/report/yearly?${q}`); } catch (e) { out.replaceChildren(el('p', { class: 'error' }, e.detail || e.message)); return; }
  const dl = (format) => el('a', { class: 'download', 'data-format': format, href: `/api/report/yearly?${q}&format=${format}&lang=${currentLang()}`, download: '' }, t(`download_${format}`));
  const unitText = unit ? (ctx.S.unitById.get(Number(unit)) || {}).name : t('all_units');
  const carsChart = el('div', { class: 'yearly-chart', id: 'yearly-chart-cars' });
  const serviceChart = el('div', { class: 'yearly-chart', id: 'yearly-chart-service' });
  out.replaceChildren(
    el('button', { class: 'close no-print', 'aria-label': t('close_panel'), onclick: closeYearly }, '×'),
    el('h2', { class: 'office-title' }, `${f.year} ${t('yr_heading')}`),
    el('p', { class: 'office-sub' }, `${t('unit')}: `, el('span', { class: 'data' }, unitText), ` · ${ctx.fmtTime(Date.now()).slice(0, 10)}`),
    el('div', { class: 'exports no-print' }, dl('csv'), ' ', dl('xlsx'), ' ', el('button', { id: 'yearly-print', onclick: () => window.print() }, t('yr_print'))),
    officeTable(ctx, 'yearly-reform', t('yr_reform'), [t('yr_item'), t('yr_value')],
      REFORM.map((k) => [t(`yr_${k}`), num(f.reform[k])]), REFORM),
    el('h3', {}, t('yr_chart_cars')), carsChart,
    officeTable(ctx, 'yearly-cars', t('yr_cars'), [t('unit'), t('vehicle_class'), t('yr_kept'), t('yr_disposed')],
      withTotal(ctx, f.cars.map((c) => [data(c.unit), t(`class_${c.class}`), num(c.kept), num(c.disposed)]), [2, 3], 2)),
    el('h3', {}, t('yr_chart_service')), serviceChart,
    officeTable(ctx, 'yearly-service', t('yr_service'), [t('pool_kind'), t('yr_served_unit'), t('yr_trips'), t('km')],
      withTotal(ctx, f.service.map((s) => [t(`sk_${s.kind}`), data(s.unit), num(s.trips), num(Math.round(s.km * 10) / 10)]), [2, 3], 2)),
    officeTable(ctx, 'yearly-violations', t('yr_violations'), [t('rule'), t('yr_count')],
      withTotal(ctx, f.violations.map(([rule, n]) => [data(rule), num(n)]), [1], 1)),
    officeTable(ctx, 'yearly-days', t('yr_days'), [t('yr_item'), t('yr_value')],
      [[t('yr_days_summarised'), num(f.days.days)], [t('yr_online_share'), num(f.days.online_share)],
        [t('km'), num(f.days.km)], [t('yr_trips'), num(f.days.trips)],
        ...f.days.cases.map(([rule, n]) => [data(rule), num(n)])]),
    officeTable(ctx, 'yearly-casework', t('yr_casework'), [t('yr_item'), t('yr_value')], caseworkRows(ctx, f.casework), CASEWORK),
    officeTable(ctx, 'yearly-fuel', t('yr_fuel'), [t('yr_item'), t('yr_value')], fuelRows(ctx, f.fuel)));
  for (const c of charts.splice(0)) c.destroy();
  const byUnit = sumBy(f.cars, (c) => c.unit, ['kept', 'disposed']);
  bars(carsChart, byUnit.labels, [['#4a6fa5', byUnit.sums.kept], ['#d32f2f', byUnit.sums.disposed]]);
  const served = sumBy(f.service, (s) => s.unit, ['km']);
  bars(serviceChart, served.labels, [['#2e7d32', served.sums.km]]);
}

/** The casework summary's total of the year: its counts, then the amount recovered. */
const CASEWORK = ['received', 'forwarded', 'answered_in_time', 'overdue', 'replied', 'findings', 'confirmed',
  'people', 'sanctioned', 'judiciary'];
function caseworkRows({ t }, c) {
  return [...CASEWORK.map((k) => [t(`fg_${k}`), num(c[k])]), [t('yr_recovered'), hundredths(c.recovered_fen)],
    ...Object.entries(c.confirmed_by_type).map(([type, n]) => [data(type), num(n)])];
}

/** The fuel report's total of the year. */
function fuelRows({ t }, f) {
  return [[t('yr_fuel_cards_used'), num(f.cards_used)], [t('yr_fuel_fills'), num(f.fills)],
    [t('yr_fuel_litres'), hundredths(f.litres_cl)], [t('yr_fuel_amount'), hundredths(f.amount_fen)],
    [t('yr_fuel_flagged'), num(f.flagged_fills)], [t('yr_fuel_at_stake'), hundredths(f.at_stake_fen)],
    [t('yr_fuel_cancelled'), num(f.cancelled)], [t('yr_fuel_suspended'), num(f.suspended)],
    [t('yr_recovered'), hundredths(f.recovered_fen)]];
}

/** Hundredths (fen, centilitres) as a figure with two decimals. */
const hundredths = (h) => ({ text: (h / 100).toFixed(2), num: true, value: h / 100 });

/** A cell of data (a unit's path, a rule's id) rather than interface text. */
const data = (text) => ({ text, data: true });
/** A number's cell, right-aligned as an office report writes figures. */
const num = (n) => ({ text: Number.isInteger(n) ? String(n) : Number(n).toFixed(1), num: true, value: Number(n) });

/** The rows and, under them, the total of the figures of `cols` (the label in column `span` - 1). */
function withTotal(ctx, rows, cols, span) {
  if (!rows.length) return [];
  const total = Array(rows[0].length).fill('');
  total[0] = ctx.t('yr_total');
  for (const c of cols) total[c] = num(Math.round(rows.reduce((a, r) => a + r[c].value, 0) * 10) / 10);
  total.span = span;
  return [...rows, total];
}

/** A table as the office's report sets it: a caption, ruled cells, figures right-aligned. */
function officeTable(ctx, id, caption, head, rows, keys) {
  const { el, t } = ctx;
  const cell = (c) => (typeof c === 'object' && c !== null
    ? el('td', { class: `${c.num ? 'num' : ''}${c.data ? ' data' : ''}` }, c.text) : el('td', {}, c));
  const body = rows.length ? rows.map((r, i) => el('tr', { 'data-key': keys ? keys[i] : null, class: r.span ? 'total' : null },
    ...(r.span ? [el('td', { colspan: r.span }, r[0]), ...r.slice(r.span).map(cell)] : r.map(cell))))
    : [el('tr', {}, el('td', { colspan: head.length, class: 'muted' }, t('yr_none')))];
  return el('table', { class: 'office', id }, el('caption', {}, caption),
    el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)))), el('tbody', {}, body));
}

/** `items` summed by `key` over the figures `fields`: the labels in order of first appearance. */
function sumBy(items, key, fields) {
  const labels = [];
  const sums = Object.fromEntries(fields.map((f) => [f, []]));
  for (const it of items) {
    let i = labels.indexOf(key(it));
    if (i < 0) { i = labels.push(key(it)) - 1; for (const f of fields) sums[f].push(0); }
    for (const f of fields) sums[f][i] += it[f];
  }
  return { labels, sums };
}

/** Bars per label, one series per colour (each narrower than the one before, drawn over it); the labels'
 * last part under the axis. */
function bars(box, labels, series) {
  if (!labels.length) return;
  const width = Math.max(280, box.parentElement.clientWidth - 24);
  const short = (s) => s.split('/').pop();
  charts.push(new uPlot({
    width, height: 180, legend: { show: false }, cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [-0.6, labels.length - 0.4] } },
    axes: [{ values: (u, splits) => splits.map((v) => (Number.isInteger(v) && labels[v] ? short(labels[v]) : '')) }, { size: 44 }],
    series: [{}, ...series.map(([color], i) => ({ stroke: color, fill: `${color}aa`, paths: uPlot.paths.bars({ size: [0.7 / (i + 1), 60] }), points: { show: false } }))],
  }, [labels.map((_, i) => i), ...series.map(([, values]) => values)], box));
  box.dataset.labels = labels.join(',');
}
