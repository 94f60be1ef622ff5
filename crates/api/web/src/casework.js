// Casework: the complaints register (list with filters and pages, one complaint with its evidence, its
// steps and deadline, the forms of each step), the finding and accountability record of a case, and the
// office's figures with a chart per month. The API decides who may take which step and says why not;
// the page offers the forms a role may use and shows refusals where they belong (`admin/form.js`).
import * as maplibregl from 'maplibre-gl';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { form, actionButton } from './admin/form.js';

const STATES = ['all', 'received', 'forwarded', 'answered', 'accepted', 'replied'];
const CHANNELS = ['hotline', '12345', 'letter', 'web_form', 'in_person', 'discipline_commission'];
const REPLY_HOW = ['phone', 'sms', 'letter', 'in_person'];
const PAGE = 20;
/** Who enters, forwards and replies; who answers for a unit; who reviews and records findings. */
const DESK = ['administrator', 'dispatcher', 'inspector'];
const ANSWER = ['administrator', 'supervisor'];
const INSPECT = ['administrator', 'inspector'];
const CASES = ['administrator', 'inspector', 'supervisor'];
const C = { state: 'all', overdue: false, unit: '', offset: 0, open: null, adding: false, figures: null };

const may = (ctx, roles) => roles.includes(ctx.S.me.role);
const ms = (v) => (v === null || v === undefined ? null : Date.parse(v));
const page = () => document.querySelector('#complaint-page');
const plateOf = (ctx, id) => { const v = ctx.S.vehicles.get(id); return v ? v.plate : `#${id}`; };
const unitName = (ctx, id) => { const u = ctx.S.unitById.get(id); return u ? u.name : (id ? `#${id}` : ctx.t('none')); };

/** A named car: its plate when resolved, else what was written, flagged. */
function namedCar(ctx, n) {
  const { el, t } = ctx;
  if (n.vehicle) return el('span', { class: 'named resolved data', 'data-vehicle': n.vehicle }, n.plate || plateOf(ctx, n.vehicle));
  return el('span', { class: 'named unresolved' }, el('span', { class: 'data' }, n.text), ' ', el('span', { class: 'flag' }, t('cw_unresolved')),
    n.candidates && n.candidates.length ? el('span', { class: 'muted data' }, ` (${n.candidates.join(', ')})`) : null);
}

/** Fills `#view-complaints`: filters, the new complaint form, a page of complaints. */
export async function loadComplaints(ctx) {
  const { el, t, api, fmtTime } = ctx;
  const root = document.querySelector('#view-complaints');
  const chips = el('div', { class: 'chips', id: 'complaint-states' }, ...STATES.map((s) => el('button', {
    class: C.state === s ? 'active' : '', 'data-state': s, onclick: () => { C.state = s; C.offset = 0; loadComplaints(ctx); },
  }, t(`cs_${s}`))));
  const overdue = el('input', { type: 'checkbox', id: 'complaint-overdue', checked: C.overdue ? '' : null, onchange: (e) => { C.overdue = e.target.checked; C.offset = 0; loadComplaints(ctx); } });
  const unit = el('select', { id: 'complaint-unit', onchange: (e) => { C.unit = e.target.value; C.offset = 0; loadComplaints(ctx); } },
    el('option', { value: '' }, t('cw_all_units')), ...ctx.S.units.map((u) => el('option', { value: u.id, class: 'data', selected: String(u.id) === C.unit ? '' : null }, u.name)));
  const tools = el('div', { class: 'cw-tools' },
    el('label', { class: 'check' }, overdue, el('span', {}, t('cw_overdue_only'))),
    el('label', {}, el('span', {}, t('unit')), unit),
    may(ctx, DESK) ? el('button', { id: 'complaint-new', class: C.adding ? 'active' : '', onclick: () => { C.adding = !C.adding; loadComplaints(ctx); } }, t('cw_new')) : null,
    may(ctx, CASES) ? el('button', { id: 'casework-figures', onclick: () => openFigures(ctx) }, t('cw_figures')) : null);
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(C.offset) });
  if (C.state !== 'all') q.set('state', C.state);
  if (C.overdue) q.set('overdue', 'true');
  if (C.unit) q.set('unit', C.unit);
  let list;
  try { list = await api(`/api/complaints?${q}`); } catch (e) {
    root.replaceChildren(chips, tools, el('p', { class: 'error' }, e.detail || e.message)); return;
  }
  const rows = list.items.map((c) => el('div', {
    class: `complaint-row${c.overdue ? ' overdue' : ''}${c.id === C.open ? ' selected' : ''}`, 'data-id': c.id, 'data-state': c.state,
    onclick: () => openComplaint(ctx, c.id),
  },
  el('span', { class: 'st' }, t(`cs_${c.state}`)), ' ', el('b', {}, `#${c.id}`), ' ',
  ...c.cars.map((n) => [namedCar(ctx, n), ' ']),
  c.overdue ? el('span', { class: 'flag' }, t('cw_overdue')) : null,
  el('div', { class: 'muted' }, fmtTime(ms(c.received)), c.deadline ? ` · ${t('cw_deadline')} ${fmtTime(ms(c.deadline))}` : ''),
  el('div', { class: 'data text' }, c.text)));
  const last = Math.min(C.offset + PAGE, list.total);
  const pager = el('div', { class: 'pager' },
    el('button', { id: 'complaints-prev', disabled: C.offset === 0 ? '' : null, onclick: () => { C.offset = Math.max(0, C.offset - PAGE); loadComplaints(ctx); } }, '‹'),
    el('span', { id: 'complaints-count' }, list.total ? `${C.offset + 1}–${last} / ${list.total}` : '0'),
    el('button', { id: 'complaints-next', disabled: last >= list.total ? '' : null, onclick: () => { C.offset += PAGE; loadComplaints(ctx); } }, '›'));
  root.replaceChildren(chips, tools, C.adding ? entryForm(ctx) : null,
    el('div', { id: 'complaints-list' }, ...(rows.length ? rows : [el('p', { class: 'muted' }, t('cw_none'))])), pager);
}

/** The entry form: what the desk takes down from the caller. */
function entryForm(ctx) {
  const { el, t, api, toLocalInput } = ctx;
  const hour = 3600e3;
  const now = Date.now();
  const f = form(ctx, {
    id: 'complaint-add', submitLabel: 'cw_enter',
    fields: [
      { name: 'channel', label: 'cw_channel', type: 'select', options: CHANNELS.map((c) => [c, t(`ch_${c}`)]) },
      { name: 'received', label: 'cw_received', type: 'datetime', value: toLocalInput(now).slice(0, 16) },
      { name: 'reporter_name', label: 'cw_reporter_name', placeholder: t('cw_anonymous') },
      { name: 'reporter_phone', label: 'cw_reporter_phone' },
      { name: 'plates', label: 'cw_plates', placeholder: t('cw_plates_hint'), list: 'plates' },
      { name: 'place', label: 'cw_place' },
      { name: 'window_from', label: 'cw_window_from', type: 'datetime', value: toLocalInput(now - 2 * hour).slice(0, 16) },
      { name: 'window_to', label: 'cw_window_to', type: 'datetime', value: toLocalInput(now - hour).slice(0, 16) },
      { name: 'text', label: 'cw_text', type: 'textarea', rows: 3 },
    ],
    submit: (v) => {
      const when = (ms2) => (Number.isFinite(ms2) ? new Date(ms2).toISOString() : undefined);
      const body = {
        channel: v.channel, text: v.text, place: v.place,
        plates: v.plates.split(/[,，、\s]+/).filter(Boolean),
        received: when(v.received), window_from: when(v.window_from), window_to: when(v.window_to),
      };
      if (v.reporter_name) body.reporter_name = v.reporter_name;
      if (v.reporter_phone) body.reporter_phone = v.reporter_phone;
      return api('/api/complaints', { method: 'POST', body: JSON.stringify(body) });
    },
    done: (c) => { C.adding = false; C.state = 'all'; C.offset = 0; loadComplaints(ctx); openComplaint(ctx, c.id); },
  });
  return el('section', { class: 'msection', id: 'complaint-entry' }, el('h3', {}, t('cw_new')), f);
}

// ---------- one complaint ----------
const markers = [];
function clearMap(ctx) {
  for (const m of markers.splice(0)) m.remove();
  const map = ctx.getMap();
  if (map && map.getSource('track')) map.getSource('track').setData({ type: 'FeatureCollection', features: [] });
}

/** Closes the complaint or figures panel (leaving the view, or its × pressed). */
export function closeComplaint(ctx) {
  if (page().classList.contains('hidden') && !page().hasChildNodes()) return;
  C.open = null;
  page().classList.add('hidden');
  page().replaceChildren();
  document.body.classList.remove('case-open');
  clearMap(ctx);
  const map = ctx.getMap();
  if (map) map.resize();
}

/** The evidence's tracks on the map, each car's place at the named time marked. */
function showEvidence(ctx, ev) {
  clearMap(ctx);
  const map = ctx.getMap();
  if (!map || !map.getSource('track')) return;
  const features = ev.cars.filter((c) => c.line.length > 1).map((c) => ({
    type: 'Feature', properties: { kmh: 30, vehicle: c.vehicle }, geometry: { type: 'LineString', coordinates: c.line.map(([lon, lat]) => ctx.disp(lon, lat)) },
  }));
  map.getSource('track').setData({ type: 'FeatureCollection', features });
  const coords = features.flatMap((f) => f.geometry.coordinates);
  for (const c of ev.cars) {
    if (!c.at_time) continue;
    const p = ctx.disp(c.at_time.longitude, c.at_time.latitude);
    coords.push(p);
    markers.push(new maplibregl.Marker({ element: ctx.el('div', { class: 'evidence-dot', title: c.plate }, '●') }).setLngLat(p).addTo(map));
  }
  if (!coords.length) return;
  const b = coords.reduce((acc, p) => acc.extend(p), new maplibregl.LngLatBounds(coords[0], coords[0]));
  map.resize();
  const panel = page().getBoundingClientRect();
  const box = map.getContainer().getBoundingClientRect();
  const padding = { top: 40, bottom: 40, left: 40, right: 40 };
  if (panel.width >= 0.9 * box.width) padding.bottom = Math.min(Math.max(box.bottom - panel.top, 0) + 30, box.height - 120);
  else padding.right = Math.min(panel.width + 40, box.width / 2);
  map.fitBounds(b, { padding, maxZoom: 16, duration: 0 });
}

/** An alert case in the evidence: its rule's account in the user's language, its state, what may be done. */
function evidenceCase(ctx, c, k) {
  const { el, t, fmtTime, currentLang } = ctx;
  const linked = c.cases.includes(k.id);
  return el('li', { class: 'ev-case', 'data-case': k.id, 'data-rule': k.rule },
    el('span', { class: 'data' }, `#${k.id} ${currentLang() === 'zh' ? (k.reasoning_zh || k.reasoning) : k.reasoning}`), ' ',
    el('span', { class: 'pill' }, t(`s_${k.state}`)), ' ', el('span', { class: 'muted' }, fmtTime(ms(k.start))), ' ',
    may(ctx, CASES) ? el('button', { class: 'ev-open-case', onclick: () => ctx.openCase(k.id) }, t('cw_open_case')) : null,
    linked ? el('span', { class: 'flag ok' }, t('cw_linked'))
      : (may(ctx, DESK) ? el('button', { class: 'ev-link-case', onclick: () => step(ctx, c.id, 'cases', { case: k.id }) }, t('cw_link_case')) : null));
}

function evidenceSection(ctx, c, ev) {
  const { el, t, fmtTime } = ctx;
  if (!ev) return null;
  const cars = ev.cars.map((e) => el('div', { class: 'ev-car', 'data-vehicle': e.vehicle },
    el('h4', {}, el('span', { class: 'data' }, e.plate), ' ', el('small', {}, `${e.points} ${t('cw_points')}`)),
    el('dl', {},
      el('dt', {}, t('cw_where')),
      el('dd', { class: 'ev-where' }, e.at_time
        ? `${fmtTime(ms(e.at_time.fix_time))} · ${e.at_time.latitude.toFixed(5)}, ${e.at_time.longitude.toFixed(5)} · ${e.at_time.speed_kmh.toFixed(0)} ${t('kmh')}`
        : t('none')),
      el('dt', {}, t('cw_orders')),
      el('dd', { class: 'ev-orders' }, e.orders.length
        ? el('ul', {}, e.orders.map((o) => el('li', { class: 'data' }, `${o.id} · ${t(`ok_${o.kind}`)} · ${t(`o_${o.state}`)} · ${fmtTime(ms(o.start))} – ${fmtTime(ms(o.end))}`)))
        : t('cw_no_orders')),
      el('dt', {}, t('cw_cases')),
      el('dd', { class: 'ev-cases' }, e.cases.length ? el('ul', {}, e.cases.map((k) => evidenceCase(ctx, c, k))) : t('no_cases'))),
    el('div', { class: 'actions' },
      ctx.S.me.role !== 'dispatcher' ? el('button', { class: 'ev-replay', onclick: () => ctx.openReplay(e.plate, ms(ev.from), ms(ev.to)) }, t('open_replay')) : null,
      may(ctx, DESK) ? el('button', { class: 'ev-open', onclick: () => step(ctx, c.id, 'cases', { open: e.vehicle }) }, t('cw_case_from')) : null)));
  return el('section', { id: 'complaint-evidence' },
    el('h3', {}, t('cw_evidence')),
    ev.from ? el('p', { class: 'muted' }, `${fmtTime(ms(ev.from))} – ${fmtTime(ms(ev.to))} ${t('beijing_time')}`) : el('p', { class: 'muted' }, t('cw_no_window')),
    ...cars,
    ev.unresolved.length ? el('p', { class: 'unresolved' }, `${t('cw_unresolved')}: `, el('span', { class: 'data' }, ev.unresolved.join(', '))) : null);
}

/** What a step's timeline shows: the reply's way in the user's words, the rest as written. */
function noteText(ctx, h) {
  const m = /^\[(\w+)\] ([\s\S]*)$/.exec(h.note || '');
  return m && REPLY_HOW.includes(m[1]) ? `${ctx.t(`how_${m[1]}`)}: ${m[2]}` : h.note;
}

function timeline(ctx, c) {
  const { el, t, fmtTime } = ctx;
  return el('table', { class: 'history', id: 'complaint-history' },
    el('thead', {}, el('tr', {}, el('th', {}, t('time')), el('th', {}, t('actor')), el('th', {}, t('action')), el('th', {}, t('note')))),
    el('tbody', {}, (c.history || []).map((h) => el('tr', { 'data-action': h.action },
      el('td', {}, fmtTime(ms(h.time))), el('td', { class: 'data' }, h.actor), el('td', {}, t(`ce_${h.action}`)), el('td', { class: 'data' }, noteText(ctx, h))))));
}

/** Posts a step and shows the complaint again, or the refusal in the panel. */
async function step(ctx, id, what, body) {
  try {
    await ctx.api(`/api/complaints/${id}/${what}`, { method: 'POST', body: JSON.stringify(body) });
  } catch (e) { const err = page().querySelector('#complaint-error'); if (err) err.textContent = e.detail || e.message; return; }
  await openComplaint(ctx, id);
  if (ctx.S.view === 'complaints') loadComplaints(ctx);
}

/** The form of the step the complaint waits for, when the user's role takes it. */
function stepForms(ctx, c) {
  const { el, t } = ctx;
  const post = (what, body) => ctx.api(`/api/complaints/${c.id}/${what}`, { method: 'POST', body: JSON.stringify(body) });
  const done = () => { openComplaint(ctx, c.id); loadComplaints(ctx); };
  const out = [];
  if (c.state === 'received' && may(ctx, DESK)) {
    const carUnit = (c.cars.find((n) => n.unit) || {}).unit;
    out.push(el('h3', {}, t('cw_forward')), form(ctx, {
      id: 'complaint-forward', submitLabel: 'cw_forward',
      fields: [
        { name: 'unit', label: 'unit', type: 'select', data: true, value: carUnit, options: ctx.S.units.map((u) => [u.id, u.name]) },
        { name: 'days', label: 'cw_days', type: 'number', value: ctx.S.config.casework.answer_days },
      ],
      submit: (v) => post('forward', { unit: Number(v.unit), days: v.days }),
      done,
    }));
  }
  if (c.state === 'forwarded' && may(ctx, ANSWER)) {
    out.push(el('h3', {}, t('cw_answer')), form(ctx, {
      id: 'complaint-answer', submitLabel: 'cw_answer',
      fields: [{ name: 'text', label: 'cw_answer_text', type: 'textarea', rows: 3 }],
      submit: (v) => post('answer', { text: v.text }), done,
    }));
  }
  if (c.state === 'answered' && may(ctx, INSPECT)) {
    const review = (decision) => (v) => post('review', { decision, text: v.text });
    const f = form(ctx, {
      id: 'complaint-review', submitLabel: 'cw_accept',
      fields: [{ name: 'text', label: 'cw_review_text', type: 'textarea', rows: 2 }],
      submit: review('accept'), done,
      extra: [actionButton(ctx, {
        label: 'cw_send_back', id: 'complaint-send-back', where: page().querySelector('#complaint-error'),
        action: async () => { try { await review('send_back')(f.values()); done(); } catch (e) { f.showError(e.detail || e.message); } },
      })],
    });
    out.push(el('h3', {}, t('cw_review')), f);
  }
  if (c.state === 'accepted' && may(ctx, DESK)) {
    out.push(el('h3', {}, t('cw_reply')), form(ctx, {
      id: 'complaint-reply', submitLabel: 'cw_reply',
      fields: [
        { name: 'how', label: 'cw_reply_how', type: 'select', options: REPLY_HOW.map((h) => [h, t(`how_${h}`)]) },
        { name: 'text', label: 'cw_reply_text', type: 'textarea', rows: 3 },
      ],
      submit: (v) => post('reply', { how: v.how, text: v.text }), done,
    }));
  }
  return out;
}

/** Links a case by the number typed; an unknown case or one of another unit is refused in the panel. */
function linkById(ctx, c) {
  const { el, t } = ctx;
  const input = el('input', { id: 'complaint-link-id', type: 'number', min: '1', inputmode: 'numeric', placeholder: t('cw_case_number'), autocomplete: 'off' });
  const link = () => {
    const id = Number(input.value);
    if (!Number.isInteger(id) || id < 1) { page().querySelector('#complaint-error').textContent = t('cw_case_number_bad'); return; }
    step(ctx, c.id, 'cases', { case: id });
  };
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') link(); });
  return el('span', { class: 'link-by-id' }, input, ' ', el('button', { id: 'complaint-link', onclick: link }, t('cw_link_case')));
}

/** Shows one complaint: its fields, deadline, evidence (on the map too), timeline and the next step. */
export async function openComplaint(ctx, id) {
  const { el, t, api, fmtTime } = ctx;
  let c;
  try { c = await api(`/api/complaints/${id}`); } catch (e) { return; }
  C.open = id;
  let ev = null;
  try { ev = await api(`/api/complaints/${id}/evidence`); } catch (_) { /* shown without it */ }
  document.querySelectorAll('#complaints-list .complaint-row').forEach((r) => r.classList.toggle('selected', Number(r.dataset.id) === id));
  const phone = el('dd', { id: 'complaint-phone', class: 'data' }, c.reporter_phone || t('none'));
  const unmask = c.reporter_phone && ctx.S.config.casework.unmask_roles.includes(ctx.S.me.role)
    ? el('button', { id: 'complaint-unmask', onclick: async (e) => {
      try { const r = await api(`/api/complaints/${id}/reporter`); phone.textContent = r.phone || t('none'); e.target.remove(); } catch (x) { phone.textContent = x.detail || x.message; }
    } }, t('cw_unmask')) : null;
  const supervisor = ctx.S.me.role === 'supervisor';
  const p = page();
  p.replaceChildren(...[
    el('button', { class: 'close', 'aria-label': t('close_panel'), onclick: () => closeComplaint(ctx) }, '×'),
    el('h2', { id: 'complaint-title', 'data-id': c.id }, `${t('cw_complaint')} #${c.id}`),
    el('dl', {},
      el('dt', {}, t('state')), el('dd', { id: 'complaint-state', 'data-state': c.state }, t(`cs_${c.state}`)),
      el('dt', {}, t('cw_received')), el('dd', {}, fmtTime(ms(c.received))),
      el('dt', {}, t('cw_channel')), el('dd', {}, t(`ch_${c.channel}`)),
      supervisor ? null : [el('dt', {}, t('cw_reporter_name')), el('dd', { class: 'data' }, c.reporter_name || t('cw_anonymous'))],
      supervisor ? null : [el('dt', {}, t('cw_reporter_phone')), phone, unmask ? el('dd', {}, unmask) : null],
      el('dt', {}, t('cw_text')), el('dd', { class: 'data', id: 'complaint-text' }, c.text),
      c.place ? [el('dt', {}, t('cw_place')), el('dd', { class: 'data' }, c.place)] : null,
      el('dt', {}, t('cw_window')), el('dd', {}, c.window_from ? `${fmtTime(ms(c.window_from))} – ${fmtTime(ms(c.window_to))}` : t('none')),
      el('dt', {}, t('cw_plates')), el('dd', { id: 'complaint-cars' }, ...c.cars.map((n) => [namedCar(ctx, n), ' '])),
      el('dt', {}, t('unit')), el('dd', { class: 'data', id: 'complaint-unit' }, c.unit ? unitName(ctx, c.unit) : t('none')),
      el('dt', {}, t('cw_deadline')), el('dd', { id: 'complaint-deadline', class: c.overdue ? 'overdue' : '' },
        c.deadline ? fmtTime(ms(c.deadline)) : t('none'), c.overdue ? el('span', { class: 'flag' }, ` ${t('cw_overdue')}`) : null),
      c.cases.length ? [el('dt', {}, t('cw_cases')), el('dd', { id: 'complaint-cases' }, ...c.cases.map((k) => (may(ctx, CASES)
        ? el('button', { class: 'linked-case', 'data-case': k, onclick: () => ctx.openCase(k) }, `#${k}`) : el('span', { class: 'linked-case', 'data-case': k }, `#${k} `))))] : null,
      may(ctx, DESK) ? [el('dt', {}, t('cw_link_by_id')), el('dd', {}, linkById(ctx, c))] : null),
    evidenceSection(ctx, c, ev),
    el('h3', {}, t('cw_timeline')),
    timeline(ctx, c),
    ...stepForms(ctx, c),
    el('p', { class: 'error', id: 'complaint-error' })].filter(Boolean));
  p.classList.remove('hidden');
  document.body.classList.add('case-open');
  if (ev) showEvidence(ctx, ev);
}

// ---------- findings ----------
/** A case's finding: shown to those who read it; the form to inspectors once the case may take one. */
export async function findingSection(ctx, c, reopen) {
  const { el, t, api } = ctx;
  let f = null;
  try { f = await api(`/api/cases/${c.id}/finding`); } catch (e) { if (e.status !== 404) return el('p', { class: 'error' }, e.detail || e.message); }
  const parts = [el('h3', {}, t('fd_finding'))];
  if (f) {
    parts.push(el('dl', { id: 'finding-shown', 'data-outcome': f.outcome },
      el('dt', {}, t('fd_outcome')), el('dd', {}, t(`fo_${f.outcome}`)),
      f.violation ? [el('dt', {}, t('fd_violation')), el('dd', { class: 'data' }, f.violation)] : null,
      el('dt', {}, t('fd_recovered')), el('dd', {}, `${(f.recovered_fen / 100).toFixed(2)} ${t('yuan')}`),
      el('dt', {}, t('fd_decided')), el('dd', {}, f.decided),
      f.note ? [el('dt', {}, t('note')), el('dd', { class: 'data' }, f.note)] : null));
    if (f.people.length) {
      parts.push(el('table', { id: 'finding-people' },
        el('thead', {}, el('tr', {}, ['fd_name', 'fd_post', 'unit', 'fd_measure'].map((k) => el('th', {}, t(k))))),
        el('tbody', {}, f.people.map((x) => el('tr', {}, el('td', { class: 'data' }, x.name), el('td', { class: 'data' }, x.post), el('td', { class: 'data' }, x.unit), el('td', {}, t(`m_${x.measure}`)))))));
    }
  } else parts.push(el('p', { class: 'muted', id: 'finding-none' }, t('fd_none')));
  if (!may(ctx, INSPECT)) return el('section', { id: 'case-finding' }, ...parts);
  if (!['explained', 'escalated', 'closed'].includes(c.state)) {
    parts.push(el('p', { class: 'muted' }, t('fd_not_yet')));
    return el('section', { id: 'case-finding' }, ...parts);
  }
  // People held to account: a row each, added as needed.
  const measures = ctx.S.config.casework.measures;
  const people = el('tbody', {});
  const addPerson = (x = {}) => {
    const n = people.children.length;
    const input = (name, v) => { const i = el('input', { name, id: `finding-${name}-${n}`, autocomplete: 'off' }); i.value = v || ''; return i; };
    people.append(el('tr', { class: 'person' },
      el('td', {}, input('name', x.name)), el('td', {}, input('post', x.post)), el('td', {}, input('unit', x.unit)),
      el('td', {}, el('select', { name: 'measure', id: `finding-measure-${n}` }, measures.map((m) => el('option', { value: m, selected: m === x.measure ? '' : null }, t(`m_${m}`))))),
      el('td', {}, el('button', { type: 'button', class: 'remove-person', onclick: (e) => e.target.closest('tr').remove() }, '×'))));
  };
  (f ? f.people : []).forEach(addPerson);
  const peopleWidget = el('div', { class: 'people' },
    el('table', {}, el('thead', {}, el('tr', {}, ['fd_name', 'fd_post', 'unit', 'fd_measure', ''].map((k) => el('th', {}, k ? t(k) : '')))), people),
    el('button', { type: 'button', id: 'finding-add-person', onclick: () => addPerson() }, t('fd_add_person')));
  const today = ctx.fmtTime(Date.now()).slice(0, 10);
  const fm = form(ctx, {
    id: 'finding', submitLabel: 'fd_record',
    fields: [
      { name: 'outcome', label: 'fd_outcome', type: 'select', value: f ? f.outcome : 'confirmed', options: ['unfounded', 'explained', 'confirmed'].map((o) => [o, t(`fo_${o}`)]) },
      { name: 'violation', label: 'fd_violation', type: 'select', data: true, value: f ? f.violation : '', options: [['', '—'], ...ctx.S.config.casework.violation_types.map((v) => [v, v])] },
      { name: 'recovered_yuan', label: 'fd_recovered', type: 'number', step: '0.01', value: f ? (f.recovered_fen / 100).toFixed(2) : '0' },
      { name: 'decided', label: 'fd_decided', type: 'date', value: f ? f.decided : today },
      { name: 'people', label: 'fd_people', widget: peopleWidget, read: () => [...people.querySelectorAll('tr.person')].map((tr) => ({
        name: tr.querySelector('[name=name]').value.trim(), post: tr.querySelector('[name=post]').value.trim(),
        unit: tr.querySelector('[name=unit]').value.trim(), measure: tr.querySelector('[name=measure]').value,
      })) },
      { name: 'note', label: 'note', type: 'textarea', rows: 2, value: f ? f.note : '' },
    ],
    submit: (v) => {
      const body = { outcome: v.outcome, recovered_yuan: v.recovered_yuan || 0, decided: v.decided || undefined, note: v.note };
      if (v.outcome === 'confirmed') { body.violation = v.violation || null; body.people = v.people; }
      return api(`/api/cases/${c.id}/finding`, { method: 'PUT', body: JSON.stringify(body) });
    },
    done: () => reopen(),
  });
  parts.push(fm);
  return el('section', { id: 'case-finding' }, ...parts);
}

// ---------- figures ----------
const FIGURES = ['received', 'forwarded', 'answered_in_time', 'overdue', 'replied', 'findings', 'confirmed', 'people', 'sanctioned', 'judiciary'];
let chart = null;

/** This year's first day and tomorrow, China dates. */
function defaultPeriod(ctx) {
  const today = ctx.fmtTime(Date.now()).slice(0, 10);
  const tomorrow = ctx.fmtTime(Date.now() + 86400e3).slice(0, 10);
  return [`${today.slice(0, 4)}-01-01`, tomorrow];
}

/** The office's figures in the panel: a period and a unit, the totals, by unit and month, a chart. */
export async function openFigures(ctx) {
  const { el, t } = ctx;
  const [from, to] = C.figures || defaultPeriod(ctx);
  C.open = null;
  clearMap(ctx);
  const p = page();
  const fromIn = el('input', { type: 'date', id: 'figures-from', value: from });
  const toIn = el('input', { type: 'date', id: 'figures-to', value: to });
  const unit = el('select', { id: 'figures-unit' }, el('option', { value: '' }, t('cw_all_units')), ...ctx.S.units.map((u) => el('option', { value: u.id, class: 'data' }, u.name)));
  const out = el('div', { id: 'figures-out' });
  const load = () => { C.figures = [fromIn.value, toIn.value]; loadFigures(ctx, out, fromIn.value, toIn.value, unit.value); };
  p.replaceChildren(
    el('button', { class: 'close', 'aria-label': t('close_panel'), onclick: () => closeComplaint(ctx) }, '×'),
    el('h2', {}, t('cw_figures')),
    el('div', { class: 'cw-tools' }, el('label', {}, el('span', {}, t('from')), fromIn), el('label', {}, el('span', {}, t('to')), toIn),
      el('label', {}, el('span', {}, t('unit')), unit), el('button', { id: 'figures-load', onclick: load }, t('load'))),
    out);
  p.classList.remove('hidden');
  document.body.classList.add('case-open');
  load();
}

async function loadFigures(ctx, out, from, to, unit) {
  const { el, t, api } = ctx;
  const q = new URLSearchParams({ from, to });
  if (unit) q.set('unit', unit);
  let s;
  try { s = await api(`/api/casework/summary?${q}`); } catch (e) { out.replaceChildren(el('p', { class: 'error' }, e.detail || e.message)); return; }
  const dl = (format) => el('a', { class: 'download', 'data-format': format, href: `/api/casework/summary?${q}&format=${format}&lang=${ctx.currentLang()}`, download: '' }, t(`download_${format}`));
  const yuan = (fen) => (fen / 100).toFixed(2);
  const cells = (f) => [...FIGURES.map((k) => String(f[k])), yuan(f.recovered_fen)];
  const byType = Object.entries(s.total.confirmed_by_type || {});
  const chartBox = el('div', { id: 'figures-chart' });
  out.replaceChildren(
    el('div', { class: 'exports' }, dl('csv'), ' ', dl('xlsx')),
    el('table', { id: 'figures-total' }, el('tbody', {},
      ...FIGURES.map((k) => el('tr', { 'data-figure': k }, el('th', {}, t(`fg_${k}`)), el('td', {}, String(s.total[k])))),
      el('tr', { 'data-figure': 'recovered_yuan' }, el('th', {}, t('fd_recovered')), el('td', {}, `${yuan(s.total.recovered_fen)} ${t('yuan')}`)))),
    el('h3', {}, t('fg_by_type')),
    byType.length ? el('table', { id: 'figures-types' }, el('tbody', {}, byType.map(([k, n]) => el('tr', { 'data-type': k }, el('td', { class: 'data' }, k), el('td', {}, String(n))))))
      : el('p', { class: 'muted' }, t('none')),
    el('h3', {}, t('fg_per_month')),
    el('div', { class: 'legend' }, ...CHART.map(([k, color]) => el('span', { class: 'chip' }, el('i', { style: `background:${color}` }), t(`fg_${k}`)))),
    chartBox,
    el('h3', {}, t('fg_by_unit')),
    el('div', { class: 'table-scroll' }, el('table', { id: 'figures-rows' },
      el('thead', {}, el('tr', {}, el('th', {}, t('unit')), el('th', {}, t('month')), ...FIGURES.map((k) => el('th', {}, t(`fg_${k}`))), el('th', {}, t('fd_recovered')))),
      el('tbody', {}, s.rows.map((r) => el('tr', { 'data-unit': r.unit ?? '', 'data-month': r.month },
        el('td', { class: 'data' }, r.unit_name || t('cw_no_unit')), el('td', {}, r.month), ...cells(r).map((x) => el('td', {}, x))))))));
  drawMonths(chartBox, s.rows);
}

const CHART = [['received', '#4a6fa5'], ['confirmed', '#d32f2f'], ['people', '#f0a500']];

/** A bar per month for each charted figure, the units added up. */
function drawMonths(box, rows) {
  if (chart) { chart.destroy(); chart = null; }
  const months = [...new Set(rows.map((r) => r.month))].sort();
  if (!months.length) return;
  const sum = (k) => months.map((m) => rows.filter((r) => r.month === m).reduce((a, r) => a + r[k], 0));
  const width = Math.max(280, box.parentElement.clientWidth - 24);
  chart = new uPlot({
    width, height: 180, legend: { show: false }, cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [-0.6, months.length - 0.4] } },
    axes: [{ values: (u, splits) => splits.map((v) => (Number.isInteger(v) && months[v] ? months[v] : '')) }, { size: 36 }],
    // Complaints received as bars, confirmed cases and people dealt with as lines over them.
    series: [{}, ...CHART.map(([, color], i) => (i === 0
      ? { stroke: color, fill: `${color}99`, paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } }
      : { stroke: color, width: 2, points: { show: true, size: 6 } }))],
  }, [months.map((_, i) => i), ...CHART.map(([k]) => sum(k))], box);
  box.dataset.months = months.join(',');
}
