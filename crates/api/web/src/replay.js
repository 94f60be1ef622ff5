// Replay: a car's track over a window, coloured by speed, its stops, trips and cases on a time axis with
// the speed under it, played at a multiple of real time, full detail fetched close in.
import * as maplibregl from 'maplibre-gl';
import { t } from './i18n.js';
import { disp } from './geo.js';
import { COLORS, arrowImage, emptyFC } from './layers.js';
import { moveHidden } from './reveal.js';
import { $, el, api, S, map, nav, fmtTime, fmtDur, parseTime, iso, fromLocalInput } from './page.js';
import { caseRow, caseTitle } from './cases.js';

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

export async function loadReplay() {
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
    row.append(el('button', { class: 'open-case', onclick: (e) => { e.stopPropagation(); nav.openCase(c.id); } }, t('open_case')));
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

export function seek(ms) {
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

export function renderSpeeds() {
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
export function startPlay() { if (!S.replay) return; S.replay.playing = true; lastFrame = 0; $('#replay-play').textContent = t('pause'); raf = requestAnimationFrame(frame); }
export function stopPlay() { if (S.replay) S.replay.playing = false; cancelAnimationFrame(raf); $('#replay-play').textContent = t('play'); }
export function step(dir) {
  const R = S.replay; if (!R) return;
  const pts = R.pts;
  let i = pts.findIndex((p) => rowMs(p) > R.time);
  if (dir < 0) { i = pts.length - 1; while (i >= 0 && rowMs(pts[i]) >= R.time) i--; }
  if (i >= 0 && i < pts.length) seek(rowMs(pts[i]));
}

// Full detail on zoom: the simplified track is enough overall; close in, fetch every point around the cursor.
let detailTimer = 0;
export function maybeDetail() {
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

/** The live cars (and their plates) in every view but the replay, the track in every view but the live
 * one (in the replay once one is placed). */
export function showViewLayers() {
  const show = (l, on) => { const v = on ? 'visible' : 'none'; if (map.getLayoutProperty(l, 'visibility') !== v) map.setLayoutProperty(l, 'visibility', v); };
  for (const l of ['cars', 'clusters', 'plates']) show(l, S.view !== 'replay');
  for (const l of ['track', 'track-detail', 'stops']) show(l, S.view !== 'live' && (S.view !== 'replay' || trackPlaced));
}

/** The replay's cursor is on the map in the replay only (once a track is loaded). */
export function showCursorIn(view) {
  if (view !== 'replay' && cursorMarker) cursorMarker.remove();
  else if (view === 'replay' && cursorMarker && S.replay) cursorMarker.addTo(map);
}

