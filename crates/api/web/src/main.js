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
import { COLORS, addCarImages, mapStyle } from './layers.js';
import { hideUntil } from './reveal.js';
import { loadTerminals } from './terminals.js';
import { loadManage, leaveManage } from './admin/manage.js';
import { loadOrders } from './admin/orders.js';
import { loadTokens } from './tokens.js';
import { loadPlatform } from './platform.js';
import { initReports, loadReport, rerenderReport } from './reports.js';
import { loadComplaints, openComplaint, closeComplaint, openFigures } from './casework.js';
import { loadCarpool, openRequest, closeRequest } from './carpool.js';
import { loadFuel, closeFinding } from './fuel.js';
import { yearlyControls, closeYearly, rerenderYearly } from './yearly.js';
import { $, el, api, S, map, setMap, nav, latestFix, setLatestFix, fmtTime, toLocalInput, fromLocalInput, parseTime, fixMs, at, SEVERE, fleetNow, stateOf } from './page.js';
import { loadReplay, renderSpeeds, startPlay, stopPlay, step, seek, maybeDetail, showViewLayers, showCursorIn } from './replay.js';
import { loadCases, openCase, clearCaseMarkers } from './cases.js';
import { COMMAND_ROLES, renderCommandPanel, terminalPanel } from './commands.js';
import { loadAudit } from './audit.js';

maplibregl.setWorkerUrl('/assets/maplibre-gl-worker.mjs');
// The map's worker is fetched and started while the login form is shown, not after the login.
maplibregl.prewarm();

// ---------- session ----------

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
function initMap(config) {
  if (map) return;
  // The cars are in the style the map starts with (layers.js). No fade-in of symbols: with the cars'
  // source updated every few seconds a fade would redraw the map for 300 ms after each update.
  const { features, drawn } = carsOnMap();
  setMap(new maplibregl.Map({ container: 'map', style: mapStyle(config, { type: 'FeatureCollection', features }), center: disp(...config.center), zoom: config.zoom, attributionControl: { compact: true }, fadeDuration: 0 }));
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
      setLatestFix(m.positions.reduce((a, p) => Math.max(a, fixMs(p)), 0));
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
        if (fix > latestFix && fix < Date.now() + 3600e3) setLatestFix(fix);
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
  clearCaseMarkers();
  // Left before its cars were drawn, the map is shown without waiting for them.
  if (view !== 'live') revealMap();
  if (map && map.getSource('cars')) {
    showViewLayers();
    showCursorIn(view);
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

// The page's parts open one another through `nav` (page.js).
Object.assign(nav, {
  showLogin, switchView, openCase, casework: caseworkCtx,
  openReplay: caseworkCtx.openReplay,
});
$('#report-load-unit').addEventListener('click', () => { closeYearly(); loadReport(reportCtx, 'unit'); });
$('#report-load-car').addEventListener('click', () => { closeYearly(); loadReport(reportCtx, 'car'); });

applyText();
renderLegend();
renderSpeeds();
// An existing session goes straight to the map; otherwise the login form.
api('/api/me').then(() => start()).catch(() => showLogin());
window.tianshu = { S, currentLang, catalogue, at, basemapLayers: VECTOR_LAYERS, get map() { return map; } };
