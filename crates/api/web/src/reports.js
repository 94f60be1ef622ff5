// The reports view: a unit's month (each car of the unit and its sub-units, with the totals) or one
// car's month, as figures, a chart of each day's kilometres and hours, the violations by rule and the
// cases by state, with the CSV and XLSX downloads the API writes (titles in the page's language).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

let chart = null;
/** The report shown, to show again in the other language. */
let shown = null;

const pad = (n) => String(n).padStart(2, '0');

/** This month in China time, `YYYY-MM`. */
function thisMonth() {
  const d = new Date(Date.now() + 8 * 3600e3);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/** Fills the unit choice and the month once; `ctx` is the page's { api, el, t, S, currentLang }. */
export function initReports(ctx) {
  const { el, S } = ctx;
  const month = document.querySelector('#report-month');
  if (!month.value) month.value = thisMonth();
  const units = document.querySelector('#report-unit');
  const chosen = units.value;
  units.replaceChildren(...S.units.map((u) => el('option', { value: u.id, class: 'data' }, u.name)));
  if (chosen) units.value = chosen;
}

/** Loads and shows the report the user asked for: `kind` is 'unit' or 'car'. */
export async function loadReport(ctx, kind) {
  const { api, el, t, S, currentLang } = ctx;
  shown = kind;
  const out = document.querySelector('#report-page');
  const month = document.querySelector('#report-month').value;
  let path;
  if (kind === 'unit') {
    path = `/api/units/${document.querySelector('#report-unit').value}/report`;
  } else {
    const plate = document.querySelector('#report-plate').value.trim();
    const v = [...S.vehicles.values()].find((x) => x.plate === plate);
    if (!v) { out.replaceChildren(el('p', { class: 'error' }, t('report_no_plate'))); out.classList.remove('hidden'); return; }
    path = `/api/vehicles/${v.id}/report`;
  }
  const q = `?month=${encodeURIComponent(month)}`;
  out.classList.remove('hidden');
  out.replaceChildren(el('p', { class: 'muted' }, t('report_loading')));
  let r;
  try { r = await api(path + q); } catch (e) { out.replaceChildren(el('p', { class: 'error' }, e.message)); return; }
  const lang = currentLang();
  const totals = kind === 'unit' ? r.totals : r;
  const ruleName = (id) => (r.rule_titles[id] ? r.rule_titles[id][lang] : id);
  const title = kind === 'unit' ? r.unit.name : r.vehicle.plate;
  const dl = (format) => el('a', { class: 'download', 'data-format': format, href: `${path}${q}&format=${format}&lang=${lang}`, download: '' }, t(`download_${format}`));
  const figures = el('dl', {},
    kind === 'unit' ? [el('dt', {}, t('report_cars')), el('dd', {}, String(r.vehicles))] : null,
    el('dt', {}, t('trips')), el('dd', { 'data-figure': 'trips' }, String(totals.trips)),
    el('dt', {}, t('distance')), el('dd', { 'data-figure': 'distance_km' }, `${totals.distance_km} ${t('km')}`),
    el('dt', {}, t('odometer')), el('dd', {}, totals.odometer_km === null ? t('none') : `${totals.odometer_km} ${t('km')}`),
    el('dt', {}, t('hours_in_use')), el('dd', { 'data-figure': 'hours_in_use' }, `${totals.hours_in_use} ${t('hours')}`),
    el('dt', {}, t(kind === 'unit' ? 'car_days_used' : 'days_used')), el('dd', {}, String(totals.days_used)),
    el('dt', {}, t('points_stored')), el('dd', {}, String(totals.points)));
  const violations = Object.entries(totals.violations);
  const states = Object.entries(totals.cases_by_state);
  const chartBox = el('div', { id: 'report-chart' });
  const legend = el('div', { class: 'legend' },
    el('span', { class: 'chip' }, el('i', { style: 'background:#4a6fa5' }), t('distance')),
    el('span', { class: 'chip' }, el('i', { style: 'background:#f0a500' }), t('hours_in_use')));
  out.replaceChildren(
    el('button', { class: 'close', onclick: () => { out.classList.add('hidden'); shown = null; } }, '×'),
    el('h2', {}, el('span', { class: 'data' }, title), ' ', el('small', {}, month)),
    el('div', { class: 'exports' }, dl('csv'), ' ', dl('xlsx')),
    figures,
    el('h3', {}, t('per_day')), legend, chartBox,
    el('h3', {}, t('violations_by_rule')),
    violations.length
      ? el('table', { class: 'report-rules' }, el('tbody', {}, violations.map(([id, n]) => el('tr', { 'data-rule': id }, el('td', {}, ruleName(id)), el('td', {}, String(n))))))
      : el('p', { class: 'muted' }, t('no_cases')),
    el('h3', {}, t('cases_by_state')),
    states.length
      ? el('div', { class: 'chips' }, states.map(([s, n]) => el('span', { class: 'pill', 'data-state': s }, `${t(`s_${s}`)} ${n}`)))
      : el('p', { class: 'muted' }, t('no_cases')),
    kind === 'unit' ? carTable(ctx, r) : null);
  drawChart(chartBox, totals.per_day, month);
}

/** Shows the open report again (after the language changed). */
export function rerenderReport(ctx) {
  if (shown && !document.querySelector('#report-page').classList.contains('hidden')) loadReport(ctx, shown);
}

/** One line per car of a unit's report. */
function carTable({ el, t }, r) {
  const cols = ['plate', 'trips', 'distance', 'hours_in_use', 'days_used', 'report_cases'];
  return el('table', { class: 'report-cars' },
    el('thead', {}, el('tr', {}, cols.map((k) => el('th', {}, t(k))))),
    el('tbody', {}, r.cars.map((c) => el('tr', { 'data-vehicle': c.vehicle.id },
      el('td', { class: 'data' }, c.vehicle.plate), el('td', {}, String(c.trips)), el('td', {}, String(c.distance_km)),
      el('td', {}, String(c.hours_in_use)), el('td', {}, String(c.days_used)),
      el('td', {}, String(Object.values(c.violations).reduce((a, b) => a + b, 0)))))));
}

/** Every day of `month` (China midnight, Unix seconds) with its kilometres and hours (0 without trips). */
function series(perDay, month) {
  const [y, m] = month.split('-').map(Number);
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const byDate = new Map(perDay.map((d) => [d.date, d]));
  const xs = []; const km = []; const hours = [];
  for (let d = 1; d <= days; d += 1) {
    xs.push(Date.UTC(y, m - 1, d) / 1000 - 8 * 3600);
    const day = byDate.get(`${y}-${pad(m)}-${pad(d)}`);
    km.push(day ? day.distance_km : 0);
    hours.push(day ? day.hours_in_use : 0);
  }
  return [xs, km, hours];
}

function drawChart(box, perDay, month) {
  if (chart) { chart.destroy(); chart = null; }
  const width = Math.max(280, box.parentElement.clientWidth - 24);
  const dayOf = (s) => new Date((s + 8 * 3600) * 1000).getUTCDate();
  chart = new uPlot({
    width,
    height: 200,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false }, km: {}, h: {} },
    axes: [
      { values: (u, splits) => splits.map((s) => String(dayOf(s))) },
      { scale: 'km', size: 44 },
      { scale: 'h', side: 1, grid: { show: false }, size: 40 },
    ],
    series: [
      {},
      { scale: 'km', stroke: '#4a6fa5', fill: 'rgba(74,111,165,.55)', paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
      { scale: 'h', stroke: '#f0a500', width: 2, points: { show: true, size: 4 } },
    ],
  }, series(perDay, month), box);
}
