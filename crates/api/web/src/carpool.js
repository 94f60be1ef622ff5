// The car pool (用车保障): a unit's requests for a car of the office's pool, the dispatch office's choice of
// a free car and driver (nearest to the pickup first, the suggested pair), and the trip settled from its
// track with the dispatcher's confirmation or correction. The API decides what is free, who may do what
// and why not; the page shows its answers and places each refusal next to the field it names
// (`admin/form.js`).
import { form } from './admin/form.js';
import { clearOverlay, markAt, drawLine, fitOverlay } from './overlay.js';
import './services.css';

const REQUEST = ['administrator', 'supervisor', 'requester'];
const OPERATE = ['administrator', 'dispatcher'];
const KINDS = ['regular', 'emergency', 'campaign'];
const STATES = ['all', 'pending', 'assigned', 'settled', 'cancelled'];
const CLASSES = ['general', 'confidential', 'emergency', 'law_enforcement', 'special'];
const P = { state: 'all', adding: false, open: null, cases: new Map() };

const may = (ctx, roles) => roles.includes(ctx.S.me.role);
const ms = (v) => (v === null || v === undefined ? null : Date.parse(v));
const panel = () => document.querySelector('#pool-page');
const unitName = (ctx, id) => { const u = ctx.S.unitById.get(id); return u ? u.name : `#${id}`; };
const minutes = (ctx, s) => `${Math.round(s / 60)} ${ctx.t('pool_minutes')}`;

/** A request's window as one line: the start in full, the end's time (its date too when another day). */
function windowText(ctx, f) {
  const a = ctx.fmtTime(ms(f.start)).slice(0, 16);
  const b = ctx.fmtTime(ms(f.end)).slice(0, 16);
  return `${a} – ${a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b}`;
}

/** Fills `#view-carpool`: the states, the request form, the requests in scope. */
export async function loadCarpool(ctx) {
  const { el, t, api } = ctx;
  const root = document.querySelector('#view-carpool');
  const chips = el('div', { class: 'chips', id: 'pool-states' }, ...STATES.map((s) => el('button', {
    class: P.state === s ? 'active' : '', 'data-state': s, onclick: () => { P.state = s; loadCarpool(ctx); },
  }, t(`ps_${s}`))));
  const tools = el('div', { class: 'cw-tools' },
    may(ctx, REQUEST) ? el('button', { id: 'pool-new', class: P.adding ? 'active' : '', onclick: () => { P.adding = !P.adding; loadCarpool(ctx); } }, t('pool_new')) : null,
    ctx.S.me.role === 'administrator' ? el('button', { id: 'pool-drivers', onclick: () => ctx.openDrivers() }, t('pool_drivers')) : null);
  let list;
  try { list = await api('/api/carpool/requests'); } catch (e) {
    root.replaceChildren(chips, tools, el('p', { class: 'error' }, e.detail || e.message)); return;
  }
  const rows = list.filter((r) => P.state === 'all' || r.state === P.state).map((r) => el('div', {
    class: `pool-row${r.id === P.open ? ' selected' : ''}`, 'data-id': r.id, 'data-state': r.state, onclick: () => openRequest(ctx, r.id),
  },
  el('span', { class: 'st' }, t(`ps_${r.state}`)), ' ', el('b', {}, `#${r.id}`), ' ', el('span', { class: 'data' }, unitName(ctx, r.unit)), ' ',
  el('span', {}, t(`sk_${r.fields.kind}`)),
  r.assignment ? el('span', { class: 'data plate' }, ` ${r.assignment.plate}`) : null,
  el('div', { class: 'muted' }, windowText(ctx, r.fields)),
  el('div', { class: 'data text' }, `${r.fields.from.name} → ${r.fields.destinations.map((d) => d.name).join('、')}`)));
  root.replaceChildren(...[chips, tools, P.adding ? requestForm(ctx) : null,
    el('div', { id: 'pool-list' }, ...(rows.length ? rows : [el('p', { class: 'muted' }, t('pool_none'))]))].filter(Boolean));
}

/** The next click on the map, as WGS-84 degrees to six places. */
function pickOnMap(ctx, fill) {
  const map = ctx.getMap();
  if (!map) return;
  map.getCanvas().style.cursor = 'crosshair';
  map.once('click', (e) => {
    map.getCanvas().style.cursor = '';
    const [lon, lat] = ctx.undisp(e.lngLat.lng, e.lngLat.lat);
    fill(lon.toFixed(6), lat.toFixed(6));
  });
}

/** The pickup: its name and position, typed or picked on the map. */
function placeWidget(ctx) {
  const { el, t } = ctx;
  const name = el('input', { id: 'pool-add-from-name', placeholder: t('pool_place_name'), autocomplete: 'off' });
  const lon = el('input', { id: 'pool-add-from-lon', placeholder: t('pool_lon'), inputmode: 'decimal', autocomplete: 'off' });
  const lat = el('input', { id: 'pool-add-from-lat', placeholder: t('pool_lat'), inputmode: 'decimal', autocomplete: 'off' });
  const pick = el('button', { type: 'button', id: 'pool-pick-from', title: t('pool_pick_hint'), onclick: () => pickOnMap(ctx, (x, y) => { lon.value = x; lat.value = y; }) }, t('pool_pick'));
  const widget = el('div', { class: 'place' }, name, lon, lat, pick);
  const num = (i) => (i.value.trim() === '' ? null : Number(i.value));
  return { widget, read: () => ({ name: name.value.trim(), lon: num(lon), lat: num(lat) }) };
}

/** The destinations as the textarea writes them: `name, lon, lat` a line; a line that is not is refused. */
function destinations(ctx, text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((line, i) => {
    const parts = line.split(/\s*[,，]\s*/);
    const [lon, lat] = parts.slice(-2).map(Number);
    if (parts.length < 3 || !Number.isFinite(lon) || !Number.isFinite(lat)) {
      const m = `destinations: ${i + 1}: ${ctx.t('pool_dest_format')}`;
      throw Object.assign(new Error(m), { detail: m });
    }
    return { name: parts.slice(0, -2).join(', '), lon, lat };
  });
}

/** The request form: when, from where, where to, who and why, what kind of car. */
function requestForm(ctx) {
  const { el, t, api, toLocalInput } = ctx;
  const hour = 3600e3;
  const next = Math.ceil(Date.now() / hour) * hour + hour;
  const from = placeWidget(ctx);
  const fields = [
    { name: 'start', label: 'start', type: 'datetime', value: toLocalInput(next).slice(0, 16) },
    { name: 'end', label: 'end', type: 'datetime', value: toLocalInput(next + 2 * hour).slice(0, 16) },
    { name: 'from', label: 'pool_from', widget: from.widget, read: from.read },
    { name: 'destinations', label: 'pool_destinations', type: 'textarea', rows: 2, placeholder: t('pool_destinations_hint') },
    { name: 'passengers', label: 'pool_passengers', type: 'number', value: 1 },
    { name: 'purpose', label: 'purpose' },
    { name: 'kind', label: 'pool_kind', type: 'select', options: KINDS.map((k) => [k, t(`sk_${k}`)]) },
    { name: 'class', label: 'pool_class', type: 'select', options: [['', t('pool_any_class')], ...CLASSES.map((c) => [c, t(`class_${c}`)])] },
  ];
  if (ctx.S.me.role !== 'requester') {
    fields.push({ name: 'unit', label: 'unit', type: 'select', data: true, options: [['', t('pool_own_unit')], ...ctx.S.units.map((u) => [u.id, u.name])] });
  }
  const f = form(ctx, {
    id: 'pool-add', submitLabel: 'pool_send', fields,
    submit: (v) => {
      const when = (x) => (Number.isFinite(x) ? new Date(x).toISOString() : undefined);
      const body = {
        start: when(v.start), end: when(v.end), from: v.from, destinations: destinations(ctx, v.destinations),
        passengers: v.passengers ?? 0, purpose: v.purpose, kind: v.kind, class: v.class || null,
      };
      if (v.unit) body.unit = Number(v.unit);
      return api('/api/carpool/requests', { method: 'POST', body: JSON.stringify(body) });
    },
    done: (r) => { P.adding = false; P.state = 'all'; loadCarpool(ctx); openRequest(ctx, r.id); },
  });
  const dest = f.querySelector('#pool-add-destinations');
  const addDest = el('button', { type: 'button', id: 'pool-pick-destination', onclick: () => pickOnMap(ctx, (x, y) => {
    dest.value = `${dest.value.trim()}${dest.value.trim() ? '\n' : ''}${t('pool_destinations')} ${dest.value.split('\n').filter(Boolean).length + 1}, ${x}, ${y}`;
  }) }, t('pool_add_destination'));
  dest.after(addDest);
  return el('section', { class: 'msection', id: 'pool-entry' }, el('h3', {}, t('pool_new')), f);
}

// ---------- one request ----------
/** Closes the request's panel (leaving the view, or its × pressed). */
export function closeRequest(ctx) {
  if (!panel().hasChildNodes()) return;
  P.open = null;
  panel().classList.add('hidden');
  panel().replaceChildren();
  document.body.classList.remove('case-open');
  clearOverlay(ctx);
}

/** The pickup, the destinations and the offered cars on the map, and the trip's track when settled. */
function showOnMap(ctx, r, cars, track) {
  clearOverlay(ctx);
  const f = r.fields;
  const coords = [markAt(ctx, f.from.lon, f.from.lat, f.from.name, 'from')];
  f.destinations.forEach((d) => coords.push(markAt(ctx, d.lon, d.lat, d.name, 'to')));
  for (const c of cars || []) if (c.position) coords.push(markAt(ctx, c.position[0], c.position[1], c.plate, 'car'));
  coords.push(...drawLine(ctx, track || []));
  fitOverlay(ctx, coords, panel());
}

/** Opens request `id` in the panel over the map: what was asked, and what the user's role may do next. */
export async function openRequest(ctx, id) {
  const { el, t, api } = ctx;
  let r;
  try { r = await api(`/api/carpool/requests/${id}`); } catch (e) { return; }
  P.open = id;
  document.querySelectorAll('#pool-list .pool-row').forEach((row) => row.classList.toggle('selected', Number(row.dataset.id) === id));
  const f = r.fields;
  const drivers = await api('/api/drivers').catch(() => []);
  const parts = [
    el('button', { class: 'close', 'aria-label': t('close_panel'), onclick: () => closeRequest(ctx) }, '×'),
    el('h2', { id: 'pool-title', 'data-id': r.id, 'data-state': r.state }, `${t('pool_request')} #${r.id} `, el('small', {}, t(`ps_${r.state}`))),
    el('dl', {},
      el('dt', {}, t('unit')), el('dd', { class: 'data' }, unitName(ctx, r.unit)),
      el('dt', {}, t('pool_requester')), el('dd', { class: 'data' }, r.requester),
      el('dt', {}, t('pool_window')), el('dd', {}, `${windowText(ctx, f)} ${t('beijing_time')}`),
      el('dt', {}, t('pool_from')), el('dd', { class: 'data' }, f.from.name),
      el('dt', {}, t('pool_destinations')), el('dd', { class: 'data', id: 'pool-destinations' }, f.destinations.map((d) => d.name).join('、')),
      el('dt', {}, t('pool_passengers')), el('dd', {}, String(f.passengers)),
      el('dt', {}, t('purpose')), el('dd', { class: 'data' }, f.purpose),
      el('dt', {}, t('pool_kind')), el('dd', {}, t(`sk_${f.kind}`)),
      el('dt', {}, t('pool_class')), el('dd', {}, f.class ? t(`class_${f.class}`) : t('pool_any_class'))),
  ];
  let offers = null;
  if (r.state === 'pending' && may(ctx, OPERATE)) {
    try { offers = await api(`/api/carpool/requests/${id}/offers`); parts.push(offersSection(ctx, r, offers)); } catch (e) { parts.push(el('p', { class: 'error' }, e.detail || e.message)); }
  }
  if (r.assignment) parts.push(assignmentSection(ctx, r, drivers));
  if (r.settlement) parts.push(await settlementSection(ctx, r));
  if (r.notices.length) {
    parts.push(el('h3', {}, t('pool_notices')), el('ul', { id: 'pool-notices' }, r.notices.map((n) => el('li', { class: 'data' }, `${n.to}: ${n.text}`))));
  }
  parts.push(el('p', { class: 'error', id: 'pool-error' }));
  panel().replaceChildren(...parts);
  panel().classList.remove('hidden');
  document.body.classList.add('case-open');
  showOnMap(ctx, r, offers && offers.cars, await trackOf(ctx, r));
}

/** The settled trip's track, `[lon, lat]` each, when the user may read it. */
async function trackOf(ctx, r) {
  const s = r.settlement;
  if (!s || !s.departure || !s.returned) return null;
  const q = `from=${encodeURIComponent(s.departure)}&to=${encodeURIComponent(s.returned)}&tolerance_m=10`;
  try {
    const rp = await ctx.api(`/api/vehicles/${r.assignment.vehicle}/replay?${q}`);
    const c = Object.fromEntries(rp.columns.map((k, i) => [k, i]));
    return rp.points.map((p) => [p[c.longitude], p[c.latitude]]);
  } catch (_) { return null; }
}

/** A step on the request (assign, settle): its refusal under the panel, else the request shown again. */
function stepButton(ctx, r, id, label, action) {
  return ctx.el('button', { class: 'primary', id, onclick: async () => {
    const err = panel().querySelector('#pool-error');
    err.textContent = '';
    try { await action(); } catch (e) { err.textContent = e.detail || e.message; return; }
    await openRequest(ctx, r.id);
    loadCarpool(ctx);
  } }, ctx.t(label));
}

/** The free cars (nearest first) and drivers, the suggested pair chosen; the dispatcher assigns. */
function offersSection(ctx, r, o) {
  const { el, t, api } = ctx;
  const suggested = o.suggested || {};
  const km = (m) => (m === null || m === undefined ? t('pool_no_position') : `${(m / 1000).toFixed(1)} ${t('km')}`);
  const cars = o.cars.map((c, i) => el('tr', { 'data-vehicle': c.vehicle, class: c.vehicle === suggested.vehicle ? 'suggested' : '' },
    el('td', {}, el('input', { type: 'radio', name: 'pool-car', value: c.vehicle, id: `pool-car-${c.vehicle}`, checked: (suggested.vehicle ? c.vehicle === suggested.vehicle : i === 0) ? '' : null })),
    el('td', { class: 'data plate' }, c.plate), el('td', {}, t(`class_${c.class}`)), el('td', { class: 'data' }, c.licence_needed),
    el('td', { class: 'distance', 'data-m': c.distance_m ?? '' }, km(c.distance_m)),
    el('td', {}, c.vehicle === suggested.vehicle ? el('span', { class: 'flag ok' }, t('pool_suggested')) : '')));
  const driver = el('select', { id: 'pool-driver', class: 'data' }, ...o.drivers.map((d) => el('option', { value: d.driver, selected: d.driver === suggested.driver ? '' : null }, `${d.name} (${d.licence || '—'})`)));
  const assign = stepButton(ctx, r, 'pool-assign', 'pool_assign', () => {
    const picked = panel().querySelector('input[name="pool-car"]:checked');
    const body = { vehicle: picked ? Number(picked.value) : null, driver: driver.value ? Number(driver.value) : null };
    return api(`/api/carpool/requests/${r.id}/assign`, { method: 'POST', body: JSON.stringify(body) });
  });
  // Nothing to assign without a free car and a free driver.
  if (!cars.length || !o.drivers.length) assign.disabled = true;
  return el('section', { id: 'pool-offers' },
    el('h3', {}, t('pool_offers')),
    cars.length ? el('div', { class: 'table-scroll' }, el('table', { id: 'pool-cars' },
      el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, t('plate')), el('th', {}, t('vehicle_class')), el('th', {}, t('pool_licence_needed')), el('th', {}, t('pool_to_pickup')), el('th', {}, ''))),
      el('tbody', {}, cars))) : el('p', { class: 'muted' }, t('pool_no_cars')),
    el('label', { class: 'field' }, el('span', {}, t('pool_free_drivers')), o.drivers.length ? driver : el('span', { class: 'muted' }, t('pool_no_drivers'))),
    el('div', { class: 'actions' }, assign));
}

function assignmentSection(ctx, r, drivers) {
  const { el, t, api, fmtTime } = ctx;
  const a = r.assignment;
  const d = drivers.find((x) => x.id === a.driver);
  const settle = stepButton(ctx, r, 'pool-settle', 'pool_settle', async () => {
    const s = await api(`/api/carpool/requests/${r.id}/settle`, { method: 'POST' });
    if (s.case) P.cases.set(r.id, s.case);
  });
  return el('section', { id: 'pool-assignment' },
    el('h3', {}, t('pool_assignment')),
    el('dl', {},
      el('dt', {}, t('plate')), el('dd', { class: 'data plate', 'data-vehicle': a.vehicle }, a.plate),
      el('dt', {}, t('driver')), el('dd', { class: 'data', 'data-driver': a.driver }, d ? `${d.name}${d.phone ? ` ${d.phone}` : ''}` : `#${a.driver}`),
      el('dt', {}, t('pool_order')), el('dd', { class: 'data' }, a.order),
      el('dt', {}, t('pool_assigned_by')), el('dd', { class: 'data' }, `${a.by} · ${fmtTime(ms(a.at))}`)),
    r.state === 'assigned' && may(ctx, OPERATE) ? el('div', { class: 'actions' }, settle) : null);
}

/** The case a settlement's differences opened: known from the settling answer, else looked up. */
async function caseOf(ctx, r) {
  if (P.cases.has(r.id)) return P.cases.get(r.id);
  if (!r.settlement.differences.length || !['administrator', 'inspector', 'supervisor'].includes(ctx.S.me.role)) return null;
  const list = await ctx.api(`/api/cases?vehicle=${r.assignment.vehicle}&limit=500`).catch(() => []);
  const [from, to] = [ms(r.fields.start) - 3600e3, ms(r.fields.end) + 6 * 3600e3];
  const c = list.find((x) => x.rule === 'carpool_trip' && ms(x.start) >= from && ms(x.start) <= to);
  return c ? c.id : null;
}

async function settlementSection(ctx, r) {
  const { el, t, api, fmtTime } = ctx;
  const s = r.settlement;
  const at = (v) => (v ? fmtTime(ms(v)) : t('none'));
  const caseId = await caseOf(ctx, r);
  const reached = el('table', { id: 'pool-reached' }, el('tbody', {}, s.destinations.map((d) => el('tr', { 'data-reached': d.at ? 'yes' : 'no' },
    el('td', { class: 'data' }, d.name), el('td', { class: d.at ? '' : 'flag' }, d.at ? `${t('pool_reached')} ${at(d.at)}` : t('pool_not_reached'))))));
  const parts = [
    el('h3', {}, t('pool_settlement')),
    el('dl', { id: 'pool-settled' },
      el('dt', {}, t('pool_departure')), el('dd', {}, at(s.departure)),
      el('dt', {}, t('pool_returned')), el('dd', {}, at(s.returned)),
      el('dt', {}, t('pool_km')), el('dd', { 'data-figure': 'km' }, s.km.toFixed(2)),
      el('dt', {}, t('pool_route_km')), el('dd', { 'data-figure': 'route_km' }, s.route_km.toFixed(2)),
      el('dt', {}, t('pool_outside_corridor')), el('dd', { 'data-figure': 'outside_corridor_s', 'data-s': s.outside_corridor_s }, minutes(ctx, s.outside_corridor_s)),
      el('dt', {}, t('pool_idle')), el('dd', { 'data-figure': 'idle_s', 'data-s': s.idle_s }, minutes(ctx, s.idle_s)),
      el('dt', {}, t('pool_differences')), el('dd', { id: 'pool-differences' }, s.differences.length
        ? el('ul', {}, s.differences.map((x) => el('li', { class: 'data flag' }, x))) : t('pool_no_differences')),
      caseId ? [el('dt', {}, t('pool_case_opened')), el('dd', { id: 'pool-case', 'data-case': caseId },
        ['administrator', 'inspector', 'supervisor'].includes(ctx.S.me.role) ? el('button', { class: 'linked-case', onclick: () => ctx.openCase(caseId) }, `#${caseId}`) : `#${caseId}`)] : null,
      s.confirmed_by ? [el('dt', {}, t('pool_confirmed_by')), el('dd', { class: 'data', id: 'pool-confirmed-by' }, s.confirmed_by)] : null,
      s.note ? [el('dt', {}, t('note')), el('dd', { class: 'data' }, s.note)] : null),
    el('h3', {}, t('pool_destinations')), reached,
  ];
  if (may(ctx, OPERATE)) {
    parts.push(form(ctx, {
      id: 'pool-confirm', submitLabel: 'pool_confirm',
      fields: [
        { name: 'km', label: 'pool_km', type: 'number', step: '0.01', value: s.km.toFixed(2) },
        { name: 'note', label: 'pool_correction_note', value: s.note || '' },
      ],
      // The km sent only when changed: a confirmation as settled needs no note.
      submit: (v) => api(`/api/carpool/requests/${r.id}/settlement`, { method: 'PUT', body: JSON.stringify({
        km: v.km !== null && Math.abs(v.km - s.km) >= 0.005 ? v.km : null, note: v.note || null,
      }) }),
      done: () => openRequest(ctx, r.id),
    }));
  }
  return el('section', { id: 'pool-settlement' }, ...parts);
}
