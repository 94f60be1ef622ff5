// The Tianshu page: login, live map, replay, alert inbox, reports (the month's and the year's), complaints,
// the car pool, fuel cards, terminals, audit log.
// Everything the page shows comes from the API, which enforces role and scope; the page only hides
// what a role cannot use.
import * as maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import { applyText, t, toggleLang, currentLang, catalogue } from './i18n.js';
import { disp, undisp, dispGeometry, setGcj02 } from './geo.js';
import { VECTOR_LAYERS, watchTiles } from './basemap.js';
import { COLORS, addCarImages, arrowImage, emptyFC, mapStyle } from './layers.js';
import { hideUntil, moveHidden } from './reveal.js';
import { renderTerminalPanel } from './terminal.js';
import { loadTerminals } from './terminals.js';
import { loadManage, leaveManage } from './admin/manage.js';
import { loadOrders } from './admin/orders.js';
import { loadTokens } from './tokens.js';
import { loadPlatform } from './platform.js';
import { initReports, loadReport, rerenderReport } from './reports.js';
import { loadComplaints, openComplaint, closeComplaint, openFigures, findingSection } from './casework.js';
import { loadCarpool, openRequest, closeRequest } from './carpool.js';
import { loadFuel, closeFinding } from './fuel.js';
import { yearlyControls, closeYearly, rerenderYearly } from './yearly.js';

maplibregl.setWorkerUrl('/assets/maplibre-gl-worker.mjs');
// The map's worker is fetched and started while the login form is shown, not after the login.
maplibregl.prewarm();

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};

async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { 'content-type': 'application/json' }, ...opts });
  if (res.status === 401 && !path.startsWith('/api/session')) { showLogin(); throw new Error('unauthenticated'); }
  if (!res.ok) {
    let m = res.statusText;
    try { m = (await res.json()).error || m; } catch (_) { /* not JSON */ }
    // The API's own message (`field: what is wrong`) stays apart, for the forms to place by its field.
    throw Object.assign(new Error(`${res.status} ${m}`), { status: res.status, detail: m });
  }
  if (res.status === 204) return null;
  return res.json();
}

// ---------- formatting ----------
const pad = (n) => String(n).padStart(2, '0');
/** Instants are shown in China time (UTC+8), the zone of every schedule the page talks about. */
function fmtTime(ms) {
  if (ms === null || ms === undefined) return t('none');
  const d = new Date(ms + 8 * 3600e3);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
const toLocalInput = (ms) => fmtTime(ms).replace(' ', 'T');
const fromLocalInput = (s) => Date.parse(`${s.length === 16 ? `${s}:00` : s}+08:00`);
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
function fmtDur(ms) { const m = Math.round(ms / 60000); return m >= 60 ? `${Math.floor(m / 60)}h${pad(m % 60)}m` : `${m}m`; }
const parseTime = (v) => (typeof v === 'number' ? v : Date.parse(v));

// ---------- positions ----------
// Every position the API sends (live feed, vehicle detail, a terminal's answer) has one shape, the unit
// in each field's name: vehicle, fix_time (RFC 3339), latitude, longitude, speed_kmh, course_deg, acc_on,
// alarm, status, ...
/** The fix time of a position, UTC milliseconds. */
const fixMs = (p) => Date.parse(p.fix_time);
/** Where a position is drawn on the basemap. */
const at = (p) => disp(p.longitude, p.latitude);

// ---------- vehicle state ----------
const OFFLINE_MS = 10 * 60 * 1000;
/** The rules' highest severity (`high`), highlighted and announced in the inbox and the alert feed. */
const SEVERE = new Set(['high']);
/** "Now" for the offline test: the freshest fix seen, so a simulated or lagging clock does not grey out every car. */
let latestFix = 0;
function fleetNow() { return latestFix || Date.now(); }
function stateOf(p, now) {
  if (!p) return 'offline';
  if (now - fixMs(p) > OFFLINE_MS) return 'offline';
  if (p.alarm) return 'alarm';
  if (p.speed_kmh >= 3) return 'moving';
  return p.acc_on ? 'idling' : 'parked';
}

// ---------- session ----------
const S = {
  me: null, config: null, units: [], unitById: new Map(), vehicles: new Map(), positions: new Map(),
  selectedUnits: null, search: '', follow: null, cardVehicle: null, updates: 0, ws: null, view: 'live',
  replay: null, caseState: 'open', states: new Set(), fleetIn: false,
};

function showLogin() {
  $('#app').classList.add('hidden');
  $('#login').classList.remove('hidden');
  if (S.ws) { S.ws.onclose = null; S.ws.close(); S.ws = null; }
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    await api('/api/session', { method: 'POST', body: JSON.stringify({ username: $('#login-username').value, password: $('#login-password').value }) });
    await start();
  } catch (e) {
    $('#login-error').textContent = t('wrong_login');
  }
});
$('#logout').addEventListener('click', async () => { await api('/api/session', { method: 'DELETE' }).catch(() => {}); showLogin(); });
document.querySelectorAll('.lang-toggle').forEach((a) => a.addEventListener('click', (e) => { e.preventDefault(); toggleLang(); rerender(); }));

// ---------- map ----------
let map = null;
function initMap(config) {
  if (map) return;
  // The cars are in the style the map starts with (layers.js). No fade-in of symbols: with the cars'
  // source updated every few seconds a fade would redraw the map for 300 ms after each update.
  const { features, drawn } = carsOnMap();
  map = new maplibregl.Map({ container: 'map', style: mapStyle(config, { type: 'FeatureCollection', features }), center: disp(...config.center), zoom: config.zoom, attributionControl: { compact: true }, fadeDuration: 0 });
  // Built before the live feed's snapshot is in, the map is given the fleet as soon as it comes.
  [drawnCars, drawnView, mapDataAt, fleetOnMap] = [drawn, 'live', Date.now(), S.fleetIn];
  addCarImages(map);
  revealMap = showWithCars(map);
  // The fleet is on the map once a tile of the cars' source was cut from it (`fleetSent`: the worker holds it).
  map.on('sourcedata', (e) => { if (fleetSent && !fleetOnMap && e.sourceId === 'cars' && e.tile) { fleetOnMap = true; revealMap(); } });
  watchTiles(map, $('#map-wrap'));
  map.addControl(new maplibregl.NavigationControl(), 'top-left');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  // The geofences are asked for now and drawn once the map has drawn its first view (cars and basemap),
  // so their tiles do not come between the map and its cars.
  const fences = fetchFences();
  map.once('load', async () => { const fc = await fences; if (fc) map.getSource('fences').setData(fc); });
  map.once('style.load', () => {
    map.on('click', 'cars', (e) => { const f = e.features[0]; if (f) openCard(f.properties.id); });
    map.on('click', 'clusters', async (e) => {
      const f = e.features[0];
      const zoom = await map.getSource('cars').getClusterExpansionZoom(f.properties.cluster_id);
      map.easeTo({ center: f.geometry.coordinates, zoom });
    });
    for (const l of ['cars', 'clusters']) {
      map.on('mouseenter', l, () => { map.getCanvas().style.cursor = 'pointer'; });
      map.on('mouseleave', l, () => { map.getCanvas().style.cursor = ''; });
    }
    // Counts follow the clusters: after the cars' source changed (its tiles loaded) or the camera moved,
    // at most five times a second, and not at all while nothing changed.
    let labelTimer = 0;
    let labelsStale = true;
    map.on('sourcedata', (e) => { if (e.sourceId === 'cars') labelsStale = true; });
    for (const e of ['zoom', 'moveend']) map.on(e, () => { labelsStale = true; });
    map.on('render', () => {
      if (!labelTimer && labelsStale) labelTimer = setTimeout(() => { labelTimer = 0; labelsStale = false; updateClusterLabels(); }, 200);
    });
    map.on('zoomend', maybeDetail);
    // Panning by hand takes the map back from Follow.
    map.on('dragstart', () => { if (S.follow !== null) { S.follow = null; if (S.cardVehicle) renderCard(); } });
    showViewLayers();
    // A snapshot that came before the style was read is given to the map now.
    redrawCars(S.fleetIn && !fleetOnMap);
  });
}

/** Whether the map's cars' source holds the live feed's first snapshot, and whether the wait for it is over
 * (the feed closed or took too long: the map is shown without its cars). */
let fleetOnMap = false;
let fleetWaitOver = false;
/** Whether the map's worker holds the live feed's first snapshot (its tiles are then cut again). */
let fleetSent = false;
/** Shows the map once it is ready (see `showWithCars`); called again when what it waits for comes. */
let revealMap = () => {};
/** Shows the map from its first frame with the cars and the land in it (reveal.js); returns the check that
 * shows it. The map is built while the live feed's snapshot is still on its way, so its style, its worker
 * and the basemap's first tiles are under way meanwhile. */
function showWithCars(m) {
  const ready = () => (fleetOnMap || fleetWaitOver || S.view !== 'live') && ['cars', 'land'].every((s) => m.getSource(s) && m.isSourceLoaded(s));
  return hideUntil(m, ready, MAP_HIDDEN_MAX_MS);
}
/** The longest the map is kept hidden at login, whatever it waits for. */
const MAP_HIDDEN_MAX_MS = 10000;

/** The geofences as the map draws them, or null when none are served. */
async function fetchFences() {
  try {
    const fc = await api('/api/geofences');
    fc.features = fc.features.map((f) => ({ ...f, geometry: dispGeometry(f.geometry) }));
    return fc;
  } catch (_) { return null; /* no geofences served: the land outline alone */ }
}
async function loadFences() {
  const fc = await fetchFences();
  if (fc && map) map.getSource('fences').setData(fc);
}

// Cluster counts as HTML markers: the offline basemap has no glyph server for map text.
/** The clusters' counts as HTML labels (the page carries no glyphs for map text), from a pool reused
 * from one redraw to the next: clusters get new ids on every update of the source, labels need not. */
const clusterMarkers = [];
function updateClusterLabels() {
  if (!map.getSource('cars')) return;
  const clusters = [];
  if (S.view === 'live') {
    const seen = new Set();
    for (const f of map.querySourceFeatures('cars', { filter: ['has', 'point_count'] })) {
      if (seen.has(f.properties.cluster_id)) continue;
      seen.add(f.properties.cluster_id);
      clusters.push(f);
    }
  }
  clusters.forEach((f, i) => {
    let m = clusterMarkers[i];
    if (!m) {
      m = new maplibregl.Marker({ element: el('div', { class: 'cluster-count' }) });
      clusterMarkers.push(m);
    }
    const text = String(f.properties.point_count_abbreviated);
    if (m.getElement().textContent !== text) m.getElement().textContent = text;
    m.setLngLat(f.geometry.coordinates);
    if (!m._map) m.addTo(map);
  });
  for (const m of clusterMarkers.splice(clusters.length)) m.remove();
}

// ---------- live ----------
/** Whether a car is in the chosen unit and matches the plate search (the state chips count these). */
function inScope(v) {
  if (S.selectedUnits && !S.selectedUnits.has(v.unit)) return false;
  if (S.search && !v.plate.toUpperCase().includes(S.search.toUpperCase())) return false;
  return true;
}
/** Whether a car is shown: in scope and, when states are picked, in one of them. */
function visible(v, now = fleetNow()) {
  return inScope(v) && (!S.states.size || S.states.has(stateOf(S.positions.get(v.id), now)));
}

// The live feed only records what it brings; the counts, the list and the card follow at most once a
// second, in one animation frame. The map's source is given new data at most every three seconds and only
// when what it draws changed by what the eye can see at the current zoom (a car moved by two pixels or
// more, turned by ten degrees or more, changed state; a car came or went): each new set of data costs the
// map a redraw of its canvas, the page's dearest work (BENCHMARKS.md, "The page in a browser").
let redrawPending = false;
function scheduleRedraw() {
  if (redrawPending) return;
  redrawPending = true;
  setTimeout(() => requestAnimationFrame(() => { redrawPending = false; redrawCars(); }), 1000);
}

const MAP_DATA_EVERY_MS = 3000;
let mapDataAt = 0;
/** What the map shows of each car now (vehicle id -> its drawn look), to tell whether it changed. */
let drawnCars = new Map();
let drawnView = '';
/** A car's look on the map at `zoom`: its place to two pixels, its course to ten degrees, its state. */
function lookOf(coordinates, state, course, zoom) {
  const scale = 256 * 2 ** zoom / 2;
  const x = Math.round(((coordinates[0] + 180) / 360) * scale);
  const s = Math.sin((coordinates[1] * Math.PI) / 180);
  const y = Math.round((0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale);
  return `${x},${y},${state},${Math.round(course / 10)}`;
}
/** The cars shown, as the map's features, and each one's look (see `lookOf`). */
function carsOnMap(now = fleetNow()) {
  const zoom = Math.round(map ? map.getZoom() : (S.config ? S.config.zoom : 0));
  const features = [];
  const drawn = new Map();
  for (const v of S.vehicles.values()) {
    const p = S.positions.get(v.id);
    if (!p || !visible(v, now)) continue;
    const coordinates = at(p);
    const state = stateOf(p, now);
    drawn.set(v.id, lookOf(coordinates, state, p.course_deg, zoom));
    features.push({ type: 'Feature', geometry: { type: 'Point', coordinates }, properties: { id: v.id, plate: v.plate, state, course: p.course_deg } });
  }
  return { features, drawn };
}
function redrawCars(force = false) {
  const now = fleetNow();
  const { features, drawn } = carsOnMap(now);
  let changed = drawn.size !== drawnCars.size;
  for (const [id, look] of drawn) if (!changed && drawnCars.get(id) !== look) changed = true;
  const count = String(features.length);
  if ($('#live-count').textContent !== count) $('#live-count').textContent = count;
  const updates = String(S.updates);
  if ($('#live-updates').textContent !== updates) $('#live-updates').textContent = updates;
  const source = map && map.getSource('cars');
  const wall = Date.now();
  if (source && S.view === 'live' && (force || drawnView !== 'live' || (changed && wall - mapDataAt >= MAP_DATA_EVERY_MS))) {
    const sent = source.setData({ type: 'FeatureCollection', features });
    if (S.fleetIn && !fleetOnMap) sent.then(() => { fleetSent = true; });
    drawnCars = drawn;
    mapDataAt = wall;
  } else if (changed && source && S.view === 'live') {
    // Changed but drawn too recently: the next feed message's redraw, or this one's, comes back to it.
    scheduleRedraw();
  }
  if (source) drawnView = S.view;
  if (S.follow && S.view === 'live' && S.positions.get(S.follow) && map) {
    const c = at(S.positions.get(S.follow));
    const centre = map.getCenter();
    if (Math.abs(centre.lng - c[0]) > 1e-6 || Math.abs(centre.lat - c[1]) > 1e-6) map.easeTo({ center: c, duration: 500 });
  }
  if (S.cardVehicle) renderCard();
  renderVehicleList();
}

// The legend is the state filter: a chip per state with the number of cars in scope in it; pressing
// chips shows only those states (none pressed: all). Chips are made once per language and their counts
// updated in place.
const stateChips = new Map();
function renderLegend() {
  stateChips.clear();
  $('#legend').replaceChildren(...Object.entries(COLORS).map(([k, c]) => {
    const count = el('b', { class: 'count' }, '0');
    const chip = el('button', {
      class: `chip${S.states.has(k) ? ' active' : ''}`, 'data-state': k, 'aria-pressed': String(S.states.has(k)),
      onclick: () => { if (!S.states.delete(k)) S.states.add(k); renderLegend(); listTimer = 0; redrawCars(true); },
    }, el('i', { style: `background:${c}` }), t(k), ' ', count);
    stateChips.set(k, count);
    return chip;
  }));
  updateStateCounts();
}
function updateStateCounts(now = fleetNow()) {
  const counts = Object.fromEntries(Object.keys(COLORS).map((k) => [k, 0]));
  for (const v of S.vehicles.values()) if (inScope(v)) counts[stateOf(S.positions.get(v.id), now)] += 1;
  for (const [k, b] of stateChips) { const n = String(counts[k]); if (b.textContent !== n) b.textContent = n; }
}

/** Fits the map to the cars of `units` that have a position. */
function fitUnits(units) {
  if (!map) return;
  let b = null;
  for (const v of S.vehicles.values()) {
    const p = S.positions.get(v.id);
    if (!p || !units.has(v.unit)) continue;
    const c = at(p);
    b = b ? b.extend(c) : new maplibregl.LngLatBounds(c, c);
  }
  if (b) map.fitBounds(b, { padding: 60, maxZoom: 15, duration: 600 });
}

function renderUnitTree() {
  const kids = new Map();
  for (const u of S.units) { const p = u.parent ?? 0; if (!kids.has(p)) kids.set(p, []); kids.get(p).push(u); }
  const roots = S.units.filter((u) => u.parent === null || !S.unitById.has(u.parent));
  const subtree = (id) => { const out = new Set([id]); const st = [id]; while (st.length) { for (const c of kids.get(st.pop()) || []) { out.add(c.id); st.push(c.id); } } return out; };
  const cars = new Map();
  for (const v of S.vehicles.values()) cars.set(v.unit, (cars.get(v.unit) || 0) + 1);
  const carsIn = (id) => { let n = 0; for (const u of subtree(id)) n += cars.get(u) || 0; return n; };
  const pick = (u) => { S.follow = null; S.selectedRoot = u.id; S.selectedUnits = subtree(u.id); renderUnitTree(); listTimer = 0; redrawCars(true); fitUnits(S.selectedUnits); };
  const node = (u) => el('div', {},
    el('div', { class: `unit${S.selectedRoot === u.id ? ' selected' : ''}`, title: u.name, 'data-unit': u.id, onclick: () => pick(u) }, u.name, ' ', el('span', { class: 'count' }, String(carsIn(u.id)))),
    (kids.get(u.id) || []).length ? el('div', { class: 'unit-children' }, (kids.get(u.id) || []).map(node)) : null);
  $('#unit-tree').replaceChildren(
    el('div', { class: `unit${S.selectedUnits ? '' : ' selected'}`, onclick: () => { S.selectedRoot = null; S.selectedUnits = null; renderUnitTree(); listTimer = 0; redrawCars(true); } }, t('all_units')),
    ...roots.map(node));
}

// The car list: every car the filters let through, in the fleet's order, drawn as only the rows in view
// (a fixed row height and a spacer as tall as the whole list, so the whole fleet is reached by scrolling).
// The rows are a small pool reused in place: list index k is always drawn by row k % pool size, so a
// scroll rebinds only the rows that came into view, and a row whose car did not change keeps its element
// and its text, so a click lands on the car it aimed at whatever the live feed does meanwhile.
let listTimer = 0;
/** The cars the list shows now, in order. */
let listShown = [];
/** { row, dot, plate, speed, id, index, color, text, selected }: the drawn rows. */
let listPool = [];
let listRowH = 0;
function listRowHeight() {
  if (!listRowH && listPool.length && listPool[0].row.offsetHeight) listRowH = listPool[0].row.offsetHeight;
  return listRowH || 22;
}
function poolRow() {
  const dot = el('i');
  const plate = document.createTextNode('');
  const speed = el('span', { class: 'sp' });
  const r = { dot, plate, speed, id: null, index: -1, color: '', text: '', selected: false };
  r.row = el('div', { class: 'vrow', onclick: () => { if (r.id !== null) openCard(r.id, true); } }, dot, plate, speed);
  return r;
}
function renderVehicleList(force = false) {
  const wall = Date.now();
  if (!force && wall - listTimer < 1000) return;
  listTimer = wall;
  const now = fleetNow();
  updateStateCounts(now);
  listShown = [];
  for (const v of S.vehicles.values()) if (visible(v, now)) listShown.push(v);
  const count = `${listShown.length} / ${S.vehicles.size}`;
  if ($('#list-count').textContent !== count) $('#list-count').textContent = count;
  renderListWindow(now);
}
/** Draws the rows in view of `listShown` (on every list refresh and every scroll). */
function renderListWindow(now = fleetNow()) {
  const box = $('#vehicle-list');
  let space = box.querySelector('.vlist-space');
  if (!space) { space = el('div', { class: 'vlist-space' }); box.replaceChildren(space); listPool = []; }
  const h = listRowHeight();
  const height = `${listShown.length * h}px`;
  if (space.style.height !== height) space.style.height = height;
  // Rows in view and a few either side; the pool grows to the most ever in view (the list's height).
  const view = box.clientHeight || 240;
  const size = Math.ceil(view / h) + 6;
  while (listPool.length < size) { const r = poolRow(); listPool.push(r); box.append(r.row); }
  const first = Math.max(0, Math.floor(box.scrollTop / h) - 3);
  const last = Math.min(listShown.length, first + listPool.length);
  const used = new Set();
  for (let k = first; k < last; k++) {
    const r = listPool[k % listPool.length];
    used.add(r);
    const v = listShown[k];
    if (r.id !== v.id) { r.id = v.id; r.row.dataset.vehicle = String(v.id); r.plate.data = v.plate; }
    if (r.index !== k) { r.index = k; r.row.style.top = `${k * h}px`; }
    if (r.row.hidden) r.row.hidden = false;
    const p = S.positions.get(v.id);
    const color = COLORS[stateOf(p, now)];
    const text = p ? `${p.speed_kmh.toFixed(0)} ${t('kmh')}` : t('none');
    if (r.color !== color) { r.color = color; r.dot.style.background = color; }
    if (r.text !== text) { r.text = text; r.speed.textContent = text; }
    const selected = S.cardVehicle === v.id;
    if (r.selected !== selected) { r.selected = selected; r.row.classList.toggle('selected', selected); }
  }
  for (const r of listPool) {
    if (used.has(r) || r.row.hidden) continue;
    r.row.hidden = true; r.id = null; r.index = -1; delete r.row.dataset.vehicle;
  }
}
$('#vehicle-list').addEventListener('scroll', () => renderListWindow(), { passive: true });

function openCard(id, fly = false) {
  S.cardVehicle = Number(id);
  S.cardDetail = null;
  // Driver and current order come from the vehicle's detail (sign-ins and orders), fetched on open.
  api(`/api/vehicles/${S.cardVehicle}`).then((d) => { if (d.id === S.cardVehicle) { S.cardDetail = d; renderCard(); } }).catch(() => {});
  const p = S.positions.get(S.cardVehicle);
  if (S.follow !== S.cardVehicle) S.follow = null;
  if (fly && p && map) map.flyTo({ center: at(p), zoom: Math.max(map.getZoom(), 14) });
  renderCard();
  renderVehicleList(true);
}

function orderText(o) {
  if (!o) return t('none');
  const span = `${fmtTime(parseTime(o.start)).slice(11, 16)}–${fmtTime(parseTime(o.end)).slice(11, 16)}`;
  return `${o.id} ${o.purpose || ''} (${span})`;
}

async function renderCard() {
  const v = S.vehicles.get(S.cardVehicle);
  const card = $('#car-card');
  if (!v) { card.classList.add('hidden'); return; }
  const p = S.positions.get(v.id);
  const unit = S.unitById.get(v.unit);
  const canReplay = S.me.role !== 'dispatcher';
  // The card redraws with every position update; the command panel beside it is built once per car
  // (see renderCommandPanel) so a half-typed text and the terminal's answers survive the redraws.
  let main = $('#card-main');
  if (!main) card.replaceChildren(main = el('div', { id: 'card-main' }), el('div', { id: 'card-commands' }), el('div', { id: 'card-terminal' }));
  // The card's elements are made once per car and language; the live feed changes only their text, so a
  // press on Follow or Replay is never lost to a redraw.
  const built = `${v.id}/${currentLang()}`;
  if (main.dataset.built !== built) {
    main.dataset.built = built;
    const row = (key, id) => [el('dt', {}, t(key)), el('dd', { id })];
    main.replaceChildren(
      el('button', { class: 'close', onclick: () => { S.cardVehicle = null; S.follow = null; card.classList.add('hidden'); renderVehicleList(true); } }, '×'),
      el('h2', { id: 'card-plate' }, v.plate),
      el('dl', {}, row('unit', 'card-unit'), row('state', 'card-state'), row('speed', 'card-speed'), row('course', 'card-course'),
        row('last_fix', 'card-fix'), row('driver', 'card-driver'), row('order', 'card-order')),
      el('div', { class: 'actions' },
        el('button', { id: 'card-follow', onclick: () => { S.follow = S.follow === v.id ? null : v.id; renderCard(); redrawCars(); } }),
        canReplay ? el('button', { id: 'card-replay', onclick: () => { switchView('replay'); $('#replay-plate').value = v.plate; loadReplay(); } }, t('open_replay')) : null));
  }
  const show = (id, text) => { const e = main.querySelector(`#${id}`); if (e.textContent !== text) e.textContent = text; };
  show('card-unit', unit ? unit.name : String(v.unit));
  show('card-state', t(stateOf(p, fleetNow())));
  show('card-speed', p ? `${p.speed_kmh.toFixed(1)} ${t('kmh')}` : t('none'));
  show('card-course', p ? `${p.course_deg}°` : t('none'));
  show('card-fix', p ? fmtTime(fixMs(p)) : t('none'));
  show('card-driver', (S.cardDetail && S.cardDetail.driver) || t('none'));
  show('card-order', orderText(S.cardDetail && S.cardDetail.order));
  show('card-follow', S.follow === v.id ? t('unfollow') : t('follow'));
  main.querySelector('#card-follow').dataset.following = String(S.follow === v.id);
  if ($('#card-commands').dataset.vehicle !== String(v.id)) renderCommandPanel();
  if ($('#card-terminal').dataset.vehicle !== String(v.id)) terminalPanel();
  card.classList.remove('hidden');
}

// ---------- downlink commands ----------
// Query position (0x8201, answered by the terminal's 0x0201), temporary tracking (0x8202) and text to the
// driver (0x8300), both answered by the terminal's 0x0001. The API waits for the answer and says what came
// of the command; the card shows it. Only the roles the API lets send commands see the panel.
const COMMAND_ROLES = ['administrator', 'dispatcher'];
/** The last answer of each command per car: vehicle id -> { query, track, text }. */
const commandResults = new Map();

function renderCommandPanel() {
  const panel = $('#card-commands');
  if (!panel) return;
  const vid = S.cardVehicle;
  if (!S.me || !COMMAND_ROLES.includes(S.me.role) || vid === null) { panel.replaceChildren(); delete panel.dataset.vehicle; return; }
  // Keep what was typed when only the language changed.
  const same = panel.dataset.vehicle === String(vid);
  const keep = (sel, dflt) => (same && $(sel) ? $(sel).value : dflt);
  const interval = keep('#cmd-track-interval', '10');
  const minutes = keep('#cmd-track-minutes', '10');
  const text = keep('#cmd-text', '');
  panel.dataset.vehicle = String(vid);
  panel.replaceChildren(
    el('h3', {}, t('commands')),
    el('div', { class: 'cmd' },
      el('button', { id: 'cmd-query', onclick: () => sendCommand(vid, 'query', { kind: 'query_position' }) }, t('query_position')),
      el('div', { id: 'cmd-query-result', class: 'cmd-result' })),
    el('div', { class: 'cmd' },
      el('div', { class: 'cmd-row' },
        el('label', { title: t('interval_zero_stops') }, t('interval_secs'), el('input', { id: 'cmd-track-interval', type: 'number', min: '0', max: '65535', value: interval })),
        el('label', {}, t('duration_min'), el('input', { id: 'cmd-track-minutes', type: 'number', min: '1', max: '1440', value: minutes })),
        el('button', { id: 'cmd-track', onclick: () => {
          const i = Number($('#cmd-track-interval').value);
          const m = Number($('#cmd-track-minutes').value);
          if (!Number.isInteger(i) || i < 0 || i > 65535 || !Number.isInteger(m) || m < 1 || m > 1440) { showCommandResult(vid, 'track', { outcome: 'invalid', message: t('track_invalid') }); return; }
          sendCommand(vid, 'track', { kind: 'temporary_tracking', interval_secs: i, duration_secs: m * 60 });
        } }, t('temporary_tracking'))),
      el('div', { id: 'cmd-track-result', class: 'cmd-result' })),
    el('div', { class: 'cmd' },
      el('textarea', { id: 'cmd-text', maxlength: '200', placeholder: t('text_placeholder') }),
      el('button', { id: 'cmd-send-text', onclick: () => {
        const body = $('#cmd-text').value.trim();
        if (!body) { showCommandResult(vid, 'text', { outcome: 'invalid', message: t('text_empty') }); return; }
        sendCommand(vid, 'text', { kind: 'text', text: body });
      } }, t('send_text')),
      el('div', { id: 'cmd-text-result', class: 'cmd-result' })));
  $('#cmd-text').value = text;
  for (const kind of ['query', 'track', 'text']) renderCommandResult(vid, kind);
}

/** The terminal panel of the open card (terminal.js). */
function terminalPanel() {
  const panel = $('#card-terminal');
  if (panel && S.cardVehicle !== null) renderTerminalPanel(panel, { vid: S.cardVehicle, me: S.me, el, api, fmtTime, parseTime });
}

function showCommandResult(vid, kind, result) {
  if (!commandResults.has(vid)) commandResults.set(vid, {});
  commandResults.get(vid)[kind] = { ...result, at: Date.now() };
  renderCommandResult(vid, kind);
}

async function sendCommand(vid, kind, body) {
  showCommandResult(vid, kind, { outcome: 'pending', request: body });
  let result;
  try {
    const res = await fetch(`/api/vehicles/${vid}/commands`, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status === 401) { showLogin(); return; }
    let json = null;
    try { json = await res.json(); } catch (_) { /* not JSON */ }
    // 200 answered or refused, 409 not connected, 504 timed out: each carries its outcome.
    result = json && json.outcome ? json : { outcome: 'error', message: `${res.status} ${(json && json.error) || res.statusText}` };
  } catch (e) {
    result = { outcome: 'error', message: e.message };
  }
  showCommandResult(vid, kind, { ...result, request: body });
}

const RESULT_CODES = { 1: 'result_failed', 2: 'result_bad_message', 3: 'result_unsupported' };

function renderCommandResult(vid, kind) {
  const box = $(`#cmd-${kind}-result`);
  if (!box || $('#card-commands').dataset.vehicle !== String(vid)) return;
  const r = (commandResults.get(vid) || {})[kind];
  if (!r) { box.replaceChildren(); delete box.dataset.outcome; return; }
  box.dataset.outcome = r.outcome;
  // When the answer came, on the page's clock (a simulated fleet's fix times may run elsewhere).
  box.title = fmtTime(r.at);
  let content;
  switch (r.outcome) {
    case 'pending': content = [t('waiting_answer')]; break;
    case 'answered':
      if (kind === 'query' && r.position) {
        const q = r.position;
        content = [t('position_answered'), el('dl', { class: 'answer' },
          el('dt', {}, t('time')), el('dd', { class: 'answer-time' }, fmtTime(parseTime(q.fix_time))),
          el('dt', {}, t('position')), el('dd', { class: 'answer-position' }, `${q.latitude.toFixed(5)}, ${q.longitude.toFixed(5)}`),
          el('dt', {}, t('speed')), el('dd', { class: 'answer-speed' }, `${q.speed_kmh.toFixed(1)} ${t('kmh')}`),
          el('dt', {}, t('course')), el('dd', {}, `${q.course_deg}°`))];
      } else if (kind === 'track') {
        const { interval_secs: i, duration_secs: d } = r.request;
        content = [i === 0 ? t('tracking_stopped') : t('tracking_accepted').replace('{i}', i).replace('{m}', Math.round(d / 60))];
      } else {
        content = [t('text_acknowledged')];
      }
      break;
    case 'refused': content = [`${t('refused')} (0x0001 ${t('result')} ${r.result}: ${t(RESULT_CODES[r.result] || 'result_other')})`]; break;
    case 'not_connected': content = [t('not_connected')]; break;
    case 'timed_out': content = [t('timed_out')]; break;
    default: content = [`${t('command_failed')}: ${r.message}`];
  }
  box.replaceChildren(...content);
}

function beep() {
  try {
    const ctx = new AudioContext();
    const o = ctx.createOscillator(); const g = ctx.createGain();
    o.frequency.value = 880; o.connect(g); g.connect(ctx.destination); g.gain.value = 0.15;
    o.start(); o.stop(ctx.currentTime + 0.4);
  } catch (_) { /* audio not allowed before a user gesture */ }
}

/** Roles that read cases; a dispatcher follows the car instead. */
const CASE_ROLES = ['administrator', 'inspector', 'supervisor'];
function addLiveAlert(a) {
  const v = S.vehicles.get(a.vehicle);
  // The feed's notice carries the rule's name in both languages (`title` English, `title_zh`).
  const title = (currentLang() === 'zh' ? a.title_zh || a.title : a.title || a.title_zh) || a.rule || '';
  const open = () => {
    const id = a.case_id || a.case;
    if (id && CASE_ROLES.includes(S.me.role)) openCase(id);
    else { switchView('live'); openCard(a.vehicle, true); }
  };
  const row = el('div', { class: `alert-row ${SEVERE.has(a.severity) ? 'severe' : ''}`, 'data-vehicle': a.vehicle, onclick: open },
    el('b', {}, v ? v.plate : a.vehicle), ' ', title, el('div', { class: 'muted' }, fmtTime(parseTime(a.time || a.start || Date.now()))));
  const list = $('#live-alerts');
  list.prepend(row);
  while (list.children.length > 50) list.lastChild.remove();
  if (SEVERE.has(a.severity)) beep();
}

/** Opens the live feed; resolves once its first snapshot is in, or once it closed without one. */
function connectLive() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/live`);
  S.ws = ws;
  let fleetIn;
  const fleet = new Promise((resolve) => { fleetIn = resolve; });
  const pill = $('#conn-state');
  ws.onopen = () => { pill.dataset.i18n = 'connected'; pill.textContent = t('connected'); pill.className = 'pill ok'; };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'snapshot') {
      S.vehicles = new Map(m.vehicles.map((v) => [v.id, v]));
      S.positions = new Map(m.positions.map((p) => [p.vehicle, p]));
      latestFix = m.positions.reduce((a, p) => Math.max(a, fixMs(p)), 0);
      S.fleetIn = true;
      fleetIn();
      if (!S.replayRangeSet && latestFix) {
        // Default replay range: the last two hours of the fleet's own clock.
        S.replayRangeSet = true;
        $('#replay-from').value = toLocalInput(latestFix - 2 * 3600e3);
        $('#replay-to').value = toLocalInput(latestFix + 60e3);
      }
      fillPlates();
      renderUnitTree();
      // The fleet is drawn at once; later updates are gathered into one redraw a second.
      listTimer = 0;
      redrawCars(true);
    } else if (m.type === 'positions') {
      for (const p of m.points) {
        const old = S.positions.get(p.vehicle);
        const fix = fixMs(p);
        if (!old || fixMs(old) <= fix) S.positions.set(p.vehicle, p);
        if (fix > latestFix && fix < Date.now() + 3600e3) latestFix = fix;
      }
      S.updates += m.points.length;
    } else if (m.type === 'alert') {
      addLiveAlert(m.alert);
    }
    scheduleRedraw();
  };
  // Reconnect with a backoff; the server sends a fresh snapshot, so nothing needs resuming.
  ws.onclose = () => { fleetIn(); pill.dataset.i18n = 'disconnected'; pill.textContent = t('disconnected'); pill.className = 'pill bad'; if (S.ws === ws) setTimeout(() => { if (S.ws === ws) connectLive(); }, 2000); };
  return fleet;
}

function fillPlates() {
  $('#plates').replaceChildren(...[...S.vehicles.values()].slice(0, 2000).map((v) => el('option', { value: v.plate })));
}

// ---------- replay ----------
/** Play speeds as multiples of real time (600: ten minutes of track per second). */
const SPEEDS = [10, 60, 300, 600, 1800, 3600, 14400];
const DEFAULT_SPEED = 600;
/** A colour per rule on the replay's axis (the rule ids of the rules crate). */
const RULE_COLORS = {
  out_of_hours: '#d32f2f', no_order: '#e65100', off_route: '#8e24aa', region_exit: '#6a1b9a', prohibited_place: '#ad1457',
  night_parking: '#3949ab', holiday_seal: '#c62828', tamper: '#000000', silence: '#757575', overspeed: '#f9a825',
};
// The replay's points are compact rows, for size; the API names their columns once (`columns`:
// fix_time_ms, longitude, latitude, speed_kmh, course_deg, acc_on, alarm) and the page reads them by name.
let COL = {};
const rowMs = (p) => p[COL.fix_time_ms];
const rowAt = (p) => disp(p[COL.longitude], p[COL.latitude]);
function vehicleByPlate(plate) { for (const v of S.vehicles.values()) if (v.plate === plate.trim()) return v; return null; }

async function loadReplay() {
  const v = vehicleByPlate($('#replay-plate').value);
  if (!v) { $('#replay-info').textContent = `${t('plate')}?`; return; }
  const from = fromLocalInput($('#replay-from').value);
  const to = fromLocalInput($('#replay-to').value);
  $('#replay-info').textContent = '…';
  let r;
  try { r = await api(`/api/vehicles/${v.id}/replay?from=${iso(from)}&to=${iso(to)}&tolerance_m=${replayTolerance()}`); } catch (e) { $('#replay-info').textContent = e.message; return; }
  stopPlay();
  COL = Object.fromEntries(r.columns.map((c, i) => [c, i]));
  S.replay = { v, from, to, r, pts: r.points, time: r.points.length ? rowMs(r.points[0]) : from, playing: false, speed: Number($('#replay-speed').value) || DEFAULT_SPEED };
  $('#replay-info').textContent = `${r.total_points} ${t('points')}, ${r.points.length} ${t('shown')}`;
  $('#replay-exports').replaceChildren(el('span', {}, `${t('export')}:`), ...['geojson', 'gpx', 'kml', 'csv'].map((f) =>
    el('a', { href: `/api/vehicles/${v.id}/track?from=${iso(from)}&to=${iso(to)}&format=${f}`, download: '' }, f.toUpperCase())));
  $('#replay-bar').classList.remove('hidden');
  placeTrack(S.replay);
  // Timeline: stops and episodes, placed on the time axis.
  const span = to - from;
  const pct = (ms) => `${Math.max(0, Math.min(100, ((ms - from) / span) * 100))}%`;
  const marks = [];
  for (const s of r.stops) { const a = parseTime(s.from); const b = parseTime(s.to); marks.push(el('div', { class: 'stop', style: `left:${pct(a)};width:calc(${pct(b)} - ${pct(a)})`, title: `${fmtTime(a)} ${fmtDur(b - a)}`, 'data-t': a })); }
  // Episodes in one lane per rule, so a long one (a day of silence) hides no other rule's; within a lane
  // the longer ones first, the shorter drawn over them.
  const rules = [...new Set(r.cases.map((c) => c.rule))].sort();
  const lane = 100 / Math.max(1, rules.length);
  $('#timeline').style.height = `${Math.max(26, rules.length * 8)}px`;
  const byLength = [...r.cases].sort((x, y) => (parseTime(y.end || y.start) - parseTime(y.start)) - (parseTime(x.end || x.start) - parseTime(x.start)));
  for (const c of byLength) {
    const a = parseTime(c.start || c.opened); const b = parseTime(c.end || c.start || c.opened);
    const i = rules.indexOf(c.rule);
    marks.push(el('div', { class: 'episode', 'data-rule': c.rule, 'data-case': c.id, style: `left:${pct(a)};width:calc(${pct(b)} - ${pct(a)});top:${i * lane}%;height:${lane}%;background:${RULE_COLORS[c.rule] || '#d32f2f'}`, title: `${caseTitle(c)} ${fmtTime(a)} ${fmtDur(b - a)}`, 'data-t': a }));
  }
  $('#timeline-marks').replaceChildren(...marks);
  $('#timeline-rules').replaceChildren(...rules.map((id) => el('span', { 'data-rule': id }, el('i', { style: `background:${RULE_COLORS[id] || '#d32f2f'}` }), caseTitle({ rule: id, ...r.cases.find((c) => c.rule === id) }))));
  renderAxis(from, to);
  drawSpeedChart();
  $('#trips-table tbody').replaceChildren(...r.trips.map((tr) => { const a = parseTime(tr.from); const b = parseTime(tr.to); return el('tr', { class: 'clickable', onclick: () => seek(a) }, el('td', {}, fmtTime(a)), el('td', {}, fmtDur(b - a)), el('td', {}, `${(tr.distance_m / 1000).toFixed(1)} ${t('km')}`), el('td', {}, `${tr.max_kmh.toFixed(0)}`)); }));
  $('#replay-cases').replaceChildren(...(r.cases.length ? r.cases.map((c) => {
    const row = caseRow(c);
    // In replay a case first takes the cursor to its start; its page opens from the case's own button.
    row.onclick = () => seek(parseTime(c.start || c.opened));
    row.append(el('button', { class: 'open-case', onclick: (e) => { e.stopPropagation(); openCase(c.id); } }, t('open_case')));
    return row;
  }) : [el('p', { class: 'muted' }, t('no_cases'))]));
  seek(S.replay.time);
}

/** The longest the map stays hidden while it moves to a replay's track (reveal.js). */
const TRACK_REVEAL_MS = 2000;
/** Whether a replay's track is placed on the map: until then the track's layers stay hidden in the replay. */
let trackPlaced = false;
/** Puts the replay's track and stops on the map. The data goes to the map's worker first, and the camera
 * moves to the track once the worker holds it, in the same task: the map's next frame asks for the track's
 * tiles at the zoom it is seen at and the frame after draws them; the first of the two is not shown
 * (reveal.js). Moving first would cut the track twice
 * (its tiles are reloaded when new data arrives), and every frame in between costs a software-rendered
 * read-back where WebGL has no GPU (BENCHMARKS.md, "The page in a browser"). */
function placeTrack(R) {
  const track = trackBySpeed(R.pts);
  for (const st of R.r.stops) track.features.push({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: disp(st.longitude, st.latitude) } });
  if (detailShown) { detailShown = false; map.getSource('track-detail').setData(emptyFC()); }
  map.getSource('track').setData(track).then(() => {
    if (S.replay !== R) return;
    const place = (camera) => { if (camera) map.jumpTo(camera); trackPlaced = true; showViewLayers(); };
    if (!R.pts.length) { place(null); return; }
    const b = new maplibregl.LngLatBounds();
    for (const p of R.pts) b.extend(rowAt(p));
    const camera = map.cameraForBounds(b, { padding: trackPadding(), maxZoom: 15 });
    const here = map.getCenter();
    // The map is shown again with the track's tiles cut at the place it moved to; the frame in between
    // (the new place without its track) is not shown (reveal.js). Where the camera stays, nothing to hide.
    if (camera && (Math.abs(camera.zoom - map.getZoom()) > 1e-6 || here.distanceTo(maplibregl.LngLat.convert(camera.center)) > 0.5)) {
      moveHidden(map, 'track', () => place(camera), TRACK_REVEAL_MS);
    } else place(camera);
  });
}

/** The margins a track is fitted within: the replay's bar lies over the map's bottom, so the track is fitted
 * above it. */
function trackPadding() {
  const bar = $('#replay-bar');
  const covered = bar.classList.contains('hidden') ? 0 : map.getContainer().getBoundingClientRect().bottom - bar.getBoundingClientRect().top;
  return { top: 60, left: 60, right: 60, bottom: Math.max(60, covered + 30) };
}

/** The track coloured by speed, as one multi-line per band of 10 km/h (a segment takes the band of its end
 * point's speed) and its runs within a band joined: a month is a dozen features, not one per segment. */
function trackBySpeed(points) {
  const bands = new Map();
  let run = null; let runBand = -1;
  for (let i = 1; i < points.length; i++) {
    const kmh = points[i][COL.speed_kmh];
    const band = Math.min(13, Math.floor(kmh / 10));
    if (band !== runBand) {
      if (!bands.has(band)) bands.set(band, []);
      run = [rowAt(points[i - 1])];
      bands.get(band).push(run);
      runBand = band;
    }
    run.push(rowAt(points[i]));
  }
  return { type: 'FeatureCollection', features: [...bands].map(([band, lines]) => ({ type: 'Feature', properties: { kmh: band * 10 + 5 }, geometry: { type: 'MultiLineString', coordinates: lines } })) };
}

/** The replay's display tolerance, metres: about a pixel at the zoom a track is first seen at (a city's
 * worth of track: zoom 12 or closer), never below the server's street-level 8 m. Closer in, `maybeDetail`
 * fetches every point around the cursor. */
function replayTolerance() {
  const zoom = Math.max(12, map ? map.getZoom() : 12);
  const lat = map ? map.getCenter().lat : 30;
  const perPixel = (40075016 * Math.cos((lat * Math.PI) / 180)) / (512 * 2 ** zoom);
  return Math.max(8, Math.round(perPixel));
}

/** Whether the full-detail track is drawn (so a new replay has it to clear). */
let detailShown = false;
/** The replay's cursor: an arrow placed over the map, not drawn in it, so moving it while the replay
 * plays costs no redraw of the map's canvas. */
let cursorMarker = null;
function replayCursor() {
  if (!cursorMarker) {
    const c = el('canvas', { class: 'replay-cursor', width: '40', height: '40' });
    c.getContext('2d').putImageData(arrowImage(COLORS.moving), 0, 0);
    cursorMarker = new maplibregl.Marker({ element: c, rotationAlignment: 'map' });
  }
  return cursorMarker;
}

/** The interpolated position at time `ms` (the axis is time, not point index). */
function positionAt(ms) {
  const pts = S.replay.pts;
  if (!pts.length) return null;
  let lo = 0; let hi = pts.length - 1;
  if (ms <= rowMs(pts[0])) return pts[0];
  if (ms >= rowMs(pts[hi])) return pts[hi];
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (rowMs(pts[mid]) <= ms) lo = mid; else hi = mid; }
  const a = pts[lo]; const b = pts[hi];
  const f = (ms - rowMs(a)) / Math.max(1, rowMs(b) - rowMs(a));
  const out = a.slice();
  for (const c of ['longitude', 'latitude', 'speed_kmh']) out[COL[c]] = a[COL[c]] + (b[COL[c]] - a[COL[c]]) * f;
  out[COL.fix_time_ms] = ms;
  out[COL.course_deg] = b[COL.course_deg];
  return out;
}

function seek(ms) {
  const R = S.replay;
  if (!R) return;
  R.time = Math.max(R.from, Math.min(R.to, ms));
  const p = positionAt(R.time);
  $('#replay-time').textContent = fmtTime(R.time);
  const at01 = `${((R.time - R.from) / (R.to - R.from)) * 100}%`;
  $('#timeline-cursor').style.left = at01;
  $('#speed-cursor').style.left = at01;
  if (p) {
    $('#replay-speed-now').textContent = `${p[COL.speed_kmh].toFixed(0)} ${t('kmh')}`;
    replayCursor().setLngLat(rowAt(p)).setRotation(p[COL.course_deg]);
    if (S.view === 'replay' && !replayCursor()._map) replayCursor().addTo(map);
  }
}

/** Ticks under the replay's axis: a step that gives a handful of labels, dates where a day begins (China time). */
const TICK_STEPS = [3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3];
function renderAxis(from, to) {
  const span = to - from;
  const step = TICK_STEPS.find((s) => span / s <= 8) || TICK_STEPS[TICK_STEPS.length - 1];
  const CN = 8 * 3600e3;
  const first = Math.ceil((from + CN) / step) * step - CN;
  const ticks = [];
  for (let ms = first; ms <= to; ms += step) {
    const text = fmtTime(ms);
    const label = step >= 86400e3 || text.endsWith('00:00:00') ? text.slice(5, 10) : text.slice(11, 16);
    ticks.push(el('span', { class: 'tick', style: `left:${((ms - from) / span) * 100}%`, 'data-t': ms }, label));
  }
  $('#timeline-axis').replaceChildren(...ticks);
}

/** The speed under the track as a line over the same time axis, the cursor drawn on it by `seek`. */
function drawSpeedChart() {
  const R = S.replay; const canvas = $('#speed-chart');
  if (!R || !canvas) return;
  const w = canvas.clientWidth; const h = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.clearRect(0, 0, w, h);
  const top = R.pts.reduce((m, p) => Math.max(m, p[COL.speed_kmh]), 60);
  const x = (ms) => ((ms - R.from) / (R.to - R.from)) * w;
  const y = (kmh) => h - 2 - (kmh / top) * (h - 6);
  g.strokeStyle = '#e0e6ec'; g.fillStyle = '#66788a'; g.font = '10px sans-serif';
  for (const k of [60, 120].filter((k) => k <= top)) { g.beginPath(); g.moveTo(0, y(k)); g.lineTo(w, y(k)); g.stroke(); g.fillText(`${k}`, 2, y(k) - 2); }
  g.strokeStyle = '#1f6fb5'; g.lineWidth = 1.2; g.beginPath();
  R.pts.forEach((p, i) => { const px = x(rowMs(p)); const py = y(p[COL.speed_kmh]); if (i) g.lineTo(px, py); else g.moveTo(px, py); });
  g.stroke();
  canvas.dataset.points = String(R.pts.length);
}

/** "600× (10 min/s)": the multiple of real time and what a second of play covers. */
function speedLabel(x) {
  const per = x >= 3600 ? `${x / 3600} ${t('h_per_s')}` : x >= 60 ? `${x / 60} ${t('min_per_s')}` : `${x} ${t('s_per_s')}`;
  return `${x}× (${per})`;
}

function renderSpeeds() {
  const now = S.replay ? S.replay.speed : DEFAULT_SPEED;
  $('#replay-speed').replaceChildren(...SPEEDS.map((s) => el('option', { value: s, selected: s === now ? '' : null }, speedLabel(s))));
}

let raf = 0; let lastFrame = 0;
function frame(now) {
  const R = S.replay;
  if (!R || !R.playing) return;
  const dt = lastFrame ? now - lastFrame : 0;
  lastFrame = now;
  // The speed is a multiple of real time: 600 plays ten minutes of track per second.
  seek(R.time + dt * R.speed);
  if (R.time >= R.to) { stopPlay(); return; }
  raf = requestAnimationFrame(frame);
}
function startPlay() { if (!S.replay) return; S.replay.playing = true; lastFrame = 0; $('#replay-play').textContent = t('pause'); raf = requestAnimationFrame(frame); }
function stopPlay() { if (S.replay) S.replay.playing = false; cancelAnimationFrame(raf); $('#replay-play').textContent = t('play'); }
function step(dir) {
  const R = S.replay; if (!R) return;
  const pts = R.pts;
  let i = pts.findIndex((p) => rowMs(p) > R.time);
  if (dir < 0) { i = pts.length - 1; while (i >= 0 && rowMs(pts[i]) >= R.time) i--; }
  if (i >= 0 && i < pts.length) seek(rowMs(pts[i]));
}

// Full detail on zoom: the simplified track is enough overall; close in, fetch every point around the cursor.
let detailTimer = 0;
function maybeDetail() {
  const R = S.replay;
  if (S.view !== 'replay' || !R || map.getZoom() < 15) return;
  clearTimeout(detailTimer);
  detailTimer = setTimeout(async () => {
    const from = Math.max(R.from, R.time - 30 * 60e3); const to = Math.min(R.to, R.time + 30 * 60e3);
    try {
      const d = await api(`/api/vehicles/${R.v.id}/replay?from=${iso(from)}&to=${iso(to)}&tolerance_m=0`);
      map.getSource('track-detail').setData({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: d.points.map(rowAt) } }] });
      detailShown = true;
    } catch (_) { /* keep the simplified track */ }
  }, 400);
}

// ---------- alert cases ----------
const CASE_STATES = ['open', 'acknowledged', 'explained', 'escalated', 'closed', 'all'];
/** A case's title: the rule's name in the user's language. */
function caseTitle(c) { return c[`title_${currentLang()}`] || c.title || c.rule || c.id; }
function caseRow(c) {
  const v = S.vehicles.get(c.vehicle);
  return el('div', { class: `case-row ${SEVERE.has(c.severity) ? 'severe' : ''}`, 'data-case': c.id, onclick: () => openCase(c.id) },
    el('span', { class: 'st' }, t(`s_${c.state}`)), el('b', {}, v ? v.plate : c.vehicle), ' ', caseTitle(c),
    el('div', { class: 'muted' }, fmtTime(parseTime(c.start || c.opened))));
}

async function loadCases() {
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

async function openCase(id) {
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
    el('button', { class: 'close', 'aria-label': t('close_panel'), onclick: () => { page.classList.add('hidden'); document.body.classList.remove('case-open'); for (const m of caseMarkers.splice(0)) m.remove(); if (map) map.resize(); } }, '×'),
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
      S.me.role !== 'dispatcher' ? el('button', { onclick: () => {
        const b = c.end ? parseTime(c.end) : start + 3600e3;
        switchView('replay'); if (v) $('#replay-plate').value = v.plate;
        $('#replay-from').value = toLocalInput(start - 15 * 60e3); $('#replay-to').value = toLocalInput(b + 15 * 60e3); loadReplay();
      } }, t('open_replay')) : null),
    el('p', { class: 'error' })].filter(Boolean));
  page.classList.remove('hidden');
  document.body.classList.add('case-open');
  showCaseOnMap(c);
  // The finding and the people held to account, below the steps.
  const finding = await findingSection(caseworkCtx, c, () => openCase(id));
  if (finding && page.querySelector('#case-title')) page.querySelector('.error').before(finding);
}

// ---------- audit ----------
// The audit log as a table (newest first), filtered on the page by any text of a row: who, what, which
// car, when, from where.
async function loadAudit() {
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

// ---------- views ----------
/** The live cars (and their plates) in every view but the replay, the track in every view but the live
 * one (in the replay once one is placed). */
function showViewLayers() {
  const show = (l, on) => { const v = on ? 'visible' : 'none'; if (map.getLayoutProperty(l, 'visibility') !== v) map.setLayoutProperty(l, 'visibility', v); };
  for (const l of ['cars', 'clusters', 'plates']) show(l, S.view !== 'replay');
  for (const l of ['track', 'track-detail', 'stops']) show(l, S.view !== 'live' && (S.view !== 'replay' || trackPlaced));
}

function switchView(view) {
  S.view = view;
  document.body.dataset.view = view;
  // Follow belongs to the live map: leaving it (replay, the inbox, ...) stops it.
  if (view !== 'live' && S.follow !== null) { S.follow = null; if (S.cardVehicle) renderCard(); }
  // The management screens are built on entering, in the language of the moment: none is kept hidden.
  if (view !== 'manage') { leaveManage(); $('#view-manage').replaceChildren(); }
  if (view !== 'orders') $('#view-orders').replaceChildren();
  if (view !== 'tokens') $('#view-tokens').replaceChildren();
  if (view !== 'jt809') $('#view-jt809').replaceChildren();
  // Likewise the terminal and audit tables: a table left from another language is not shown again.
  if (view !== 'terminals') $('#terminals-list').replaceChildren();
  if (view !== 'audit') $('#audit-list').replaceChildren();
  if (view !== 'complaints') { $('#view-complaints').replaceChildren(); closeComplaint(caseworkCtx); }
  if (view !== 'carpool') { $('#view-carpool').replaceChildren(); closeRequest(serviceCtx); }
  if (view !== 'fuel') { $('#view-fuel').replaceChildren(); closeFinding(serviceCtx); }
  if (view !== 'reports') { closeYearly(); $('#yearly-box').replaceChildren(); }
  for (const v of VIEWS) {
    $(`#view-${v}`).classList.toggle('hidden', v !== view);
    $(`#tab-${v}`).classList.toggle('active', v === view);
  }
  $('#replay-bar').classList.toggle('hidden', view !== 'replay' || !S.replay);
  $('#case-page').classList.add('hidden');
  $('#report-page').classList.toggle('hidden', view !== 'reports' || !$('#report-page').hasChildNodes());
  document.body.classList.remove('case-open');
  for (const m of caseMarkers.splice(0)) m.remove();
  // Left before its cars were drawn, the map is shown without waiting for them.
  if (view !== 'live') revealMap();
  if (map && map.getSource('cars')) {
    showViewLayers();
    if (view !== 'replay' && cursorMarker) cursorMarker.remove();
    else if (view === 'replay' && cursorMarker && S.replay) cursorMarker.addTo(map);
    updateClusterLabels();
    redrawCars(true);
  }
  if (view === 'alerts') loadCases();
  if (view === 'audit') loadAudit();
  if (view === 'terminals') loadTerminals({ api, el, t, fmtTime, S });
  if (view === 'orders') loadOrders(adminCtx);
  if (view === 'manage') loadManage(adminCtx);
  if (view === 'tokens') loadTokens(adminCtx);
  if (view === 'jt809') loadPlatform(adminCtx);
  if (view === 'reports') initReports(reportCtx);
  if (view === 'complaints') loadComplaints(caseworkCtx);
  if (view === 'carpool') loadCarpool(serviceCtx);
  if (view === 'fuel') loadFuel(serviceCtx);
  if (view === 'reports') $('#yearly-box').replaceChildren(yearlyControls(serviceCtx));
}
const VIEWS = ['live', 'replay', 'alerts', 'reports', 'complaints', 'carpool', 'fuel', 'terminals', 'orders', 'manage', 'audit', 'tokens', 'jt809'];

/** What the car pool, fuel and yearly screens use of the page: the casework's, and the map's inverse
 * projection, the drivers' registry, a case opened over their panel. */
const serviceCtx = {
  api, el, t, fmtTime, toLocalInput, fromLocalInput, currentLang, S, disp, undisp,
  getMap: () => map,
  openCase: (id) => { $('#pool-page').classList.add('hidden'); $('#fuel-page').classList.add('hidden'); openCase(id); },
  openDrivers: () => { switchView('manage'); loadManage(adminCtx, 'drivers'); },
};

/** What the casework screens use of the page: the management screens' helpers, the map, cases, replay. */
const caseworkCtx = {
  api, el, t, fmtTime, toLocalInput, fromLocalInput, currentLang, S, disp,
  getMap: () => map,
  /** A case over the complaint: the complaint's panel gives way (its row opens it again). */
  openCase: (id) => { $('#complaint-page').classList.add('hidden'); openCase(id); },
  /** Replay of `plate` over a window (15 minutes either side). */
  openReplay: (plate, from, to) => {
    switchView('replay'); $('#replay-plate').value = plate;
    $('#replay-from').value = toLocalInput(from - 15 * 60e3); $('#replay-to').value = toLocalInput(to + 15 * 60e3); loadReplay();
  },
};

/** What the management screens (`admin/`) use of the page. */
const adminCtx = {
  api, el, t, fmtTime, toLocalInput, fromLocalInput, currentLang, S, disp, undisp,
  getMap: () => map,
  reloadFences: () => { if (map) loadFences(); },
  /** The units again after a change: the live view's tree and the forms' choices follow. */
  refreshUnits: async () => { S.units = await api('/api/units'); S.unitById = new Map(S.units.map((u) => [u.id, u])); renderUnitTree(); },
};

function rerender() {
  renderLegend();
  if (S.me) { renderUnitTree(); $('#whoami').textContent = `${S.me.username} · ${S.me.role}`; }
  if (S.cardVehicle) { renderCard(); renderCommandPanel(); terminalPanel(); }
  renderSpeeds();
  if (S.view === 'alerts') loadCases();
  if (S.view === 'orders') loadOrders(adminCtx);
  if (S.view === 'manage') loadManage(adminCtx);
  if (S.view === 'tokens') loadTokens(adminCtx);
  if (S.view === 'jt809') loadPlatform(adminCtx);
  if (S.view === 'reports') { rerenderReport(reportCtx); rerenderYearly(serviceCtx); $('#yearly-box').replaceChildren(yearlyControls(serviceCtx)); }
  if (S.view === 'carpool') { loadCarpool(serviceCtx); if (!$('#pool-page').classList.contains('hidden') && $('#pool-title')) openRequest(serviceCtx, Number($('#pool-title').dataset.id)); }
  if (S.view === 'fuel') { loadFuel(serviceCtx); closeFinding(serviceCtx); }
  if (S.view === 'complaints') {
    loadComplaints(caseworkCtx);
    const p = $('#complaint-page');
    if (!p.classList.contains('hidden')) { if (p.querySelector('#complaint-title')) openComplaint(caseworkCtx, Number(p.querySelector('#complaint-title').dataset.id)); else openFigures(caseworkCtx); }
  }
}

/** How long the map waits for the live feed's first snapshot before it is shown without its cars. */
const FLEET_WAIT_MS = 3000;

async function start() {
  // What the page needs first, asked for together with the live feed's snapshot.
  const fleet = connectLive();
  [S.me, S.config, S.units] = await Promise.all([api('/api/me'), api('/api/config'), api('/api/units')]);
  S.unitById = new Map(S.units.map((u) => [u.id, u]));
  setGcj02(S.config.gcj02);
  $('#login').classList.add('hidden');
  $('#app').classList.remove('hidden');
  $('#tab-audit').classList.toggle('hidden', S.me.role !== 'administrator');
  $('#tab-terminals').classList.toggle('hidden', !COMMAND_ROLES.includes(S.me.role));
  $('#tab-orders').classList.toggle('hidden', !COMMAND_ROLES.includes(S.me.role));
  $('#tab-manage').classList.toggle('hidden', S.me.role !== 'administrator');
  $('#tab-replay').classList.toggle('hidden', S.me.role === 'dispatcher');
  $('#tab-alerts').classList.toggle('hidden', S.me.role === 'dispatcher');
  $('#tab-reports').classList.toggle('hidden', S.me.role === 'dispatcher');
  $('#tab-fuel').classList.toggle('hidden', !CASE_ROLES.includes(S.me.role));
  $('#tab-jt809').classList.toggle('hidden', !['administrator', 'dispatcher', 'inspector'].includes(S.me.role));
  applyText();
  rerender();
  if (!S.replayRangeSet) {
    const now = Date.now();
    $('#replay-from').value = toLocalInput(now - 2 * 3600e3);
    $('#replay-to').value = toLocalInput(now);
  }
  switchView('live');
  // The map is built now, hidden until the live feed's snapshot (it comes in the same round trip) is drawn
  // in it: with WebGL drawn in software every frame shown of a map without its cars would cost a read-back.
  initMap(S.config);
  let waited;
  await Promise.race([fleet, new Promise((resolve) => { waited = setTimeout(resolve, FLEET_WAIT_MS); })]);
  clearTimeout(waited);
  // Without the snapshot (the feed closed, or it is late) the map is shown as it is; with it, once the
  // fleet's tiles are cut.
  fleetWaitOver = !S.fleetIn;
  revealMap();
}

// Static wiring.
document.querySelectorAll('header nav button').forEach((b) => b.addEventListener('click', () => switchView(b.dataset.view)));
$('#plate-search').addEventListener('input', (e) => { S.search = e.target.value; listTimer = 0; redrawCars(true); });
$('#replay-load').addEventListener('click', loadReplay);
$('#replay-play').addEventListener('click', () => (S.replay && S.replay.playing ? stopPlay() : startPlay()));
$('#replay-step').addEventListener('click', () => step(1));
$('#replay-step-back').addEventListener('click', () => step(-1));
$('#replay-speed').addEventListener('change', (e) => { if (S.replay) S.replay.speed = Number(e.target.value); });
$('#speed-wrap').addEventListener('click', (e) => {
  const R = S.replay; if (!R) return;
  const box = $('#speed-wrap').getBoundingClientRect();
  seek(R.from + ((e.clientX - box.left) / box.width) * (R.to - R.from));
});
$('#timeline').addEventListener('click', (e) => {
  const R = S.replay; if (!R) return;
  const mark = e.target.dataset && e.target.dataset.t;
  if (mark) { seek(Number(mark)); return; }
  const box = $('#timeline').getBoundingClientRect();
  seek(R.from + ((e.clientX - box.left) / box.width) * (R.to - R.from));
});
$('#audit-refresh').addEventListener('click', loadAudit);
$('#terminals-refresh').addEventListener('click', () => loadTerminals({ api, el, t, fmtTime, S }));
const reportCtx = { api, el, t, S, currentLang };
$('#report-load-unit').addEventListener('click', () => { closeYearly(); loadReport(reportCtx, 'unit'); });
$('#report-load-car').addEventListener('click', () => { closeYearly(); loadReport(reportCtx, 'car'); });

applyText();
renderLegend();
renderSpeeds();
// An existing session goes straight to the map; otherwise the login form.
api('/api/me').then(() => start()).catch(() => showLogin());
window.tianshu = { S, currentLang, catalogue, at, basemapLayers: VECTOR_LAYERS, get map() { return map; } };
