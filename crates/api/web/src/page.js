// What every part of the page shares: the DOM helpers, the API call, time and position formatting, the
// vehicle states, the session's state `S`, the map once it is built, and the page's navigation (`nav`),
// which the page's entry (main.js) fills so that its parts open one another without importing each other.
import { t } from './i18n.js';
import { disp } from './geo.js';

/** The page's navigation, set by main.js: the login form, a view, a case, a replay over a window. */
export const nav = {
  showLogin: () => {},
  switchView: (_view) => {},
  openCase: (_id) => {},
  openReplay: (_plate, _from, _to) => {},
  /** What the casework screens use of the page (their context). */
  casework: null,
};

/** The map, once built (main.js `initMap`). */
export let map = null;
export function setMap(m) { map = m; }

export const $ = (sel) => document.querySelector(sel);
export const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};

export async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { 'content-type': 'application/json' }, ...opts });
  if (res.status === 401 && !path.startsWith('/api/session')) { nav.showLogin(); throw new Error('unauthenticated'); }
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
export const pad = (n) => String(n).padStart(2, '0');
/** Instants are shown in China time (UTC+8), the zone of every schedule the page talks about. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return t('none');
  const d = new Date(ms + 8 * 3600e3);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
export const toLocalInput = (ms) => fmtTime(ms).replace(' ', 'T');
export const fromLocalInput = (s) => Date.parse(`${s.length === 16 ? `${s}:00` : s}+08:00`);
export const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
export function fmtDur(ms) { const m = Math.round(ms / 60000); return m >= 60 ? `${Math.floor(m / 60)}h${pad(m % 60)}m` : `${m}m`; }
export const parseTime = (v) => (typeof v === 'number' ? v : Date.parse(v));

// ---------- positions ----------
// Every position the API sends (live feed, vehicle detail, a terminal's answer) has one shape, the unit
// in each field's name: vehicle, fix_time (RFC 3339), latitude, longitude, speed_kmh, course_deg, acc_on,
// alarm, status, ...
/** The fix time of a position, UTC milliseconds. */
export const fixMs = (p) => Date.parse(p.fix_time);
/** Where a position is drawn on the basemap. */
export const at = (p) => disp(p.longitude, p.latitude);

// ---------- vehicle state ----------
export const OFFLINE_MS = 10 * 60 * 1000;
/** The rules' highest severity (`high`), highlighted and announced in the inbox and the alert feed. */
export const SEVERE = new Set(['high']);
/** "Now" for the offline test: the freshest fix seen, so a simulated or lagging clock does not grey out every car. */
export let latestFix = 0;
/** Sets the freshest fix seen (the live feed's snapshot, then its updates). */
export function setLatestFix(ms) { latestFix = ms; }
export function fleetNow() { return latestFix || Date.now(); }
export function stateOf(p, now) {
  if (!p) return 'offline';
  if (now - fixMs(p) > OFFLINE_MS) return 'offline';
  if (p.alarm) return 'alarm';
  if (p.speed_kmh >= 3) return 'moving';
  return p.acc_on ? 'idling' : 'parked';
}

// ---------- session ----------
export const S = {
  me: null, config: null, units: [], unitById: new Map(), vehicles: new Map(), positions: new Map(),
  selectedUnits: null, search: '', follow: null, cardVehicle: null, updates: 0, ws: null, view: 'live',
  replay: null, caseState: 'open', states: new Set(), fleetIn: false,
};
