// The administrator's management screens: units as a tree (with their settings and working hours),
// vehicles, terminals, drivers, geofences drawn and edited on the map, users and their roles, the holiday
// calendars, and the alert channels (those added here editable, the configured ones listed read-only). Each lists its records in one table helper and edits them through one form helper
// (`form.js`), which shows the API's refusals next to the field they name. Every change is the API's
// (checked, audited); the page keeps nothing of its own.
import { form, table, actionButton } from './form.js';
import { drawing } from './draw.js';

export const SCREENS = ['units', 'vehicles', 'terminals', 'drivers', 'geofences', 'users', 'calendars', 'channels'];
const CLASSES = ['general', 'confidential', 'emergency', 'law_enforcement', 'special'];
const ROLES = ['administrator', 'dispatcher', 'inspector', 'supervisor', 'requester'];
const FENCE_KINDS = ['region', 'depot', 'prohibited', 'speed_zone'];
const EDITIONS = ['', '2011', '2013', '2019'];
/** The licence classes (准驾车型) an official car needs. */
const LICENCES = ['A1', 'A2', 'A3', 'B1', 'B2', 'C1', 'C2'];

const M = { screen: 'units', unit: null, vehicle: null, terminal: null, driver: null, channel: null, fence: null, user: null, year: null, draw: null };

/** Unit paths by id ("黄石市/市委办公室"), the key geofences name a depot's unit by. */
function unitPaths(units) {
  const byId = new Map(units.map((u) => [u.id, u]));
  const path = (u, seen = 0) => (u.parent && byId.has(u.parent) && seen < 64 ? `${path(byId.get(u.parent), seen + 1)}/${u.name}` : u.name);
  return new Map(units.map((u) => [u.id, path(u)]));
}
const unitOptions = (ctx, withNone) => {
  const paths = unitPaths(ctx.S.units);
  const opts = [...paths].sort((a, b) => a[1].localeCompare(b[1])).map(([id, p]) => [String(id), p]);
  return withNone ? [['', ctx.t('none')], ...opts] : opts;
};

/** Fills `#view-manage`; `ctx` is the page's helpers (see main.js). */
export function loadManage(ctx, screen = M.screen) {
  const { el, t } = ctx;
  if (M.draw && screen !== 'geofences') { M.draw.detach(); M.draw = null; }
  M.screen = screen;
  document.body.dataset.manage = screen;
  const root = document.querySelector('#view-manage');
  root.replaceChildren(
    el('div', { class: 'chips', id: 'manage-tabs' }, ...SCREENS.map((s) => el('button', { class: s === screen ? 'active' : '', 'data-screen': s, onclick: () => loadManage(ctx, s) }, t(`m_${s}`)))),
    el('div', { id: 'manage-body' }, el('p', { class: 'muted' }, t('loading'))));
  const body = root.querySelector('#manage-body');
  const fill = { units, vehicles, terminals, drivers, geofences, users, calendars, channels }[screen];
  fill(ctx, body).catch((e) => body.replaceChildren(el('p', { class: 'error' }, e.detail || e.message)));
}

/** Leaves the management screens: the drawing goes off the map. */
export function leaveManage() {
  if (M.draw) { M.draw.detach(); M.draw = null; }
  delete document.body.dataset.manage;
}

const again = (ctx) => () => loadManage(ctx, M.screen);
const section = (ctx, title, ...kids) => ctx.el('section', { class: 'msection' }, ctx.el('h3', {}, ctx.t(title)), ...kids);

// ---------- units ----------
async function units(ctx, body) {
  const { el, t, api, S } = ctx;
  await ctx.refreshUnits();
  const vehicles = await api('/api/vehicles');
  const cars = new Map();
  for (const v of vehicles) cars.set(v.unit, (cars.get(v.unit) || 0) + 1);
  const kids = new Map();
  for (const u of S.units) { const p = u.parent ?? 0; if (!kids.has(p)) kids.set(p, []); kids.get(p).push(u); }
  const roots = S.units.filter((u) => u.parent === null || !S.unitById.has(u.parent));
  const node = (u) => el('li', {},
    el('span', { class: `unit-node data${M.unit === u.id ? ' selected' : ''}`, 'data-unit': u.id, onclick: () => { M.unit = u.id; loadManage(ctx, 'units'); } },
      u.name, ' ', el('small', { class: 'muted' }, String(cars.get(u.id) || 0))),
    (kids.get(u.id) || []).length ? el('ul', {}, (kids.get(u.id) || []).map(node)) : null);
  const tree = el('ul', { class: 'unit-tree', id: 'manage-unit-tree' }, roots.map(node));
  const add = form(ctx, {
    id: 'unit-add',
    fields: [
      { name: 'name', label: 'unit_name', required: true },
      { name: 'parent', label: 'parent_unit', type: 'select', data: true, options: unitOptions(ctx, true), value: M.unit ?? '' },
    ],
    submitLabel: 'add',
    submit: (v) => api('/api/units', { method: 'POST', body: JSON.stringify({ name: v.name, parent: v.parent ? Number(v.parent) : null }) }),
    done: (u) => { M.unit = u.id; again(ctx)(); },
  });
  const parts = [section(ctx, 'unit_tree', tree), section(ctx, 'add_unit', add)];
  const u = M.unit !== null ? S.unitById.get(M.unit) : null;
  if (u) parts.push(await unitDetail(ctx, u));
  body.replaceChildren(...parts);
}

async function unitDetail(ctx, u) {
  const { el, t, api } = ctx;
  const edit = form(ctx, {
    id: 'unit-edit',
    fields: [
      { name: 'name', label: 'unit_name', value: u.name },
      { name: 'parent', label: 'parent_unit', type: 'select', data: true, options: unitOptions(ctx, true).filter(([id]) => id !== String(u.id)), value: u.parent ?? '' },
      { name: 'reregistration_approval', label: 'approval_required_one', type: 'checkbox', value: u.reregistration_approval },
    ],
    submit: (v) => api(`/api/units/${u.id}`, { method: 'PATCH', body: JSON.stringify({ name: v.name, parent: v.parent ? Number(v.parent) : null, reregistration_approval: v.reregistration_approval }) }),
    done: again(ctx),
  });
  const err = edit.querySelector('.form-error');
  edit.querySelector('.form-actions').append(actionButton(ctx, {
    label: 'delete', id: 'unit-delete', where: err,
    action: async () => { await api(`/api/units/${u.id}`, { method: 'DELETE' }); M.unit = null; again(ctx)(); },
  }));
  const settings = await api(`/api/units/${u.id}/settings`);
  const settingsForm = form(ctx, {
    id: 'unit-settings',
    fields: [{ name: 'second_person_approval', label: 'second_person_approval', type: 'checkbox', value: settings.second_person_approval }],
    submit: (v) => api(`/api/units/${u.id}/settings`, { method: 'PUT', body: JSON.stringify(v) }),
    done: again(ctx),
  });
  const tt = await api(`/api/units/${u.id}/timetable`);
  const own = tt.source === 'own';
  const periods = tt.timetable ? tt.timetable.periods.join(', ') : '';
  const seasons = tt.timetable && tt.timetable.seasons.length ? JSON.stringify(tt.timetable.seasons, null, 1) : '';
  const timetable = form(ctx, {
    id: 'unit-timetable',
    fields: [
      { name: 'periods', label: 'periods', value: periods, placeholder: '08:30-12:00, 14:30-18:00' },
      { name: 'seasons', label: 'seasons_json', type: 'textarea', rows: 3, value: seasons, placeholder: '[{"name":"summer","from":"05-01","to":"09-30","periods":["08:00-12:00","15:00-18:00"]}]' },
    ],
    submit: (v) => {
      let s = [];
      if (v.seasons) { try { s = JSON.parse(v.seasons); } catch (e) { throw Object.assign(new Error(`seasons: ${e.message}`), { detail: `seasons: ${e.message}` }); } }
      return api(`/api/units/${u.id}/timetable`, { method: 'PUT', body: JSON.stringify({ periods: v.periods.split(/[,，\s]+/).filter(Boolean), seasons: s }) });
    },
    done: again(ctx),
  });
  if (own) {
    timetable.querySelector('.form-actions').append(actionButton(ctx, {
      label: 'inherit', id: 'unit-timetable-delete', where: timetable.querySelector('.form-error'),
      action: async () => { await api(`/api/units/${u.id}/timetable`, { method: 'DELETE' }); again(ctx)(); },
    }));
  }
  const from = own ? t('tt_own') : tt.source === 'configuration' && !tt.from_unit ? t('tt_default') : `${t('tt_inherited')} ${tt.from_path || ''}`;
  return el('div', { id: 'unit-detail' },
    section(ctx, 'edit_unit', edit),
    section(ctx, 'unit_settings', settingsForm),
    section(ctx, 'working_hours', el('p', { class: 'muted', id: 'unit-timetable-source' }, from), timetable));
}

// ---------- vehicles ----------
async function vehicles(ctx, body) {
  const { el, t, api, S } = ctx;
  const list = await api('/api/vehicles');
  const paths = unitPaths(S.units);
  const v = list.find((x) => x.id === M.vehicle);
  const fields = (x) => [
    { name: 'plate', label: 'plate', value: x ? x.plate : '' },
    { name: 'unit', label: 'unit', type: 'select', data: true, options: unitOptions(ctx, !x), value: x ? x.unit : '' },
    { name: 'class', label: 'vehicle_class', type: 'select', options: CLASSES.map((c) => [c, t(`class_${c}`)]), value: x ? x.class : 'general' },
  ];
  const payload = (f) => ({ plate: f.plate, unit: f.unit === '' ? null : Number(f.unit), class: f.class });
  const add = form(ctx, {
    id: 'vehicle-add', fields: fields(null), submitLabel: 'add',
    submit: (f) => api('/api/vehicles', { method: 'POST', body: JSON.stringify(payload(f)) }),
    done: (x) => { S.vehicles.set(x.id, x); M.vehicle = x.id; again(ctx)(); },
  });
  const parts = [
    section(ctx, 'm_vehicles', table(ctx, {
      id: 'vehicles-table', rows: list, key: (x) => x.id, selected: M.vehicle,
      columns: [{ label: 'plate', get: (x) => x.plate }, { label: 'unit', get: (x) => paths.get(x.unit) || x.unit }, { label: 'vehicle_class', get: (x) => t(`class_${x.class}`) }],
      onpick: (x) => { M.vehicle = x.id; again(ctx)(); },
    })),
    section(ctx, 'add_vehicle', add),
  ];
  if (v) {
    const edit = form(ctx, {
      id: 'vehicle-edit', fields: fields(v),
      submit: (f) => api(`/api/vehicles/${v.id}`, { method: 'PATCH', body: JSON.stringify(payload(f)) }),
      done: (x) => { S.vehicles.set(x.id, { ...S.vehicles.get(x.id), ...x }); again(ctx)(); },
    });
    edit.querySelector('.form-actions').append(actionButton(ctx, {
      label: 'delete', id: 'vehicle-delete', where: edit.querySelector('.form-error'),
      action: async () => { await api(`/api/vehicles/${v.id}`, { method: 'DELETE' }); M.vehicle = null; again(ctx)(); },
    }));
    parts.splice(1, 0, section(ctx, 'edit_vehicle', el('p', { class: 'data' }, v.plate), edit));
  }
  body.replaceChildren(...parts);
}

/** A datalist of the plates in scope, for fields that name a car by plate. */
function plateList(ctx, id, list) {
  return ctx.el('datalist', { id }, list.map((v) => ctx.el('option', { value: v.plate })));
}

// ---------- terminals ----------
async function terminals(ctx, body) {
  const { el, t, api, fmtTime } = ctx;
  const [list, vehicles] = await Promise.all([api('/api/terminals'), api('/api/vehicles')]);
  const plateOf = new Map(vehicles.map((v) => [v.id, v.plate]));
  const x = list.find((r) => r.phone === M.terminal);
  const add = form(ctx, {
    id: 'terminal-add', submitLabel: 'add',
    fields: [
      { name: 'phone', label: 'phone', placeholder: '013800000001' },
      { name: 'terminal_id', label: 'attr_terminal_id' },
      { name: 'plate', label: 'plate', list: 'manage-plates' },
      { name: 'edition', label: 'edition', type: 'select', options: EDITIONS.map((e) => [e, e || t('unknown')]) },
    ],
    submit: (f) => api('/api/terminals', { method: 'POST', body: JSON.stringify({ phone: f.phone, terminal_id: f.terminal_id, plate: f.plate || undefined, edition: f.edition || undefined }) }),
    done: (r) => { M.terminal = r.phone; again(ctx)(); },
  });
  const parts = [
    plateList(ctx, 'manage-plates', vehicles),
    section(ctx, 'm_terminals', table(ctx, {
      id: 'terminals-table', rows: list, key: (r) => r.phone, selected: M.terminal,
      columns: [
        { label: 'phone', get: (r) => r.phone }, { label: 'attr_terminal_id', get: (r) => r.terminal_id },
        { label: 'plate', get: (r) => (r.vehicle ? plateOf.get(r.vehicle) || `#${r.vehicle}` : '') },
        { label: 'edition', get: (r) => r.edition || '' },
        { label: 'registered', get: (r) => t(r.registered ? 'yes' : 'no') },
        { label: 'clock_offset', get: (r) => String(r.clock_offset_secs) },
      ],
      onpick: (r) => { M.terminal = r.phone; again(ctx)(); },
    })),
    section(ctx, 'add_terminal', add),
  ];
  if (x) {
    const path = `/api/terminals/${encodeURIComponent(x.phone)}`;
    const edit = form(ctx, {
      id: 'terminal-edit',
      fields: [
        { name: 'terminal_id', label: 'attr_terminal_id', value: x.terminal_id },
        { name: 'plate', label: 'plate', list: 'manage-plates', value: x.vehicle ? plateOf.get(x.vehicle) || '' : '' },
        { name: 'clock_offset_secs', label: 'clock_offset', type: 'number', step: '1800', value: x.clock_offset_secs },
        { name: 'reset_auth_code', label: 'reset_auth_code', type: 'checkbox' },
      ],
      submit: (f) => {
        const patch = { terminal_id: f.terminal_id, clock_offset_secs: f.clock_offset_secs, reset_auth_code: f.reset_auth_code };
        const bound = x.vehicle ? plateOf.get(x.vehicle) || '' : '';
        if (f.plate !== bound) { if (f.plate) patch.plate = f.plate; else patch.vehicle = null; }
        return api(path, { method: 'PATCH', body: JSON.stringify(patch) });
      },
      done: again(ctx),
    });
    edit.querySelector('.form-actions').append(actionButton(ctx, {
      label: 'delete', id: 'terminal-delete', where: edit.querySelector('.form-error'),
      action: async () => { await api(path, { method: 'DELETE' }); M.terminal = null; again(ctx)(); },
    }));
    const seen = x.last_reregistered ? `${t('reregistrations')}: ${x.reregistrations} (${fmtTime(Date.parse(x.last_reregistered))})` : `${t('reregistrations')}: ${x.reregistrations}`;
    parts.splice(2, 0, section(ctx, 'edit_terminal', el('p', { class: 'data' }, x.phone), el('p', { class: 'muted' }, seen), edit));
  }
  body.replaceChildren(...parts);
}

// ---------- drivers ----------
async function drivers(ctx, body) {
  const { el, api, S } = ctx;
  const list = await api('/api/drivers');
  const paths = unitPaths(S.units);
  const d = list.find((x) => x.id === M.driver);
  const fields = (x) => [
    { name: 'name', label: 'driver_name', value: x ? x.name : '' },
    { name: 'certificate', label: 'certificate', value: x ? x.certificate : '' },
    { name: 'phone', label: 'driver_phone', value: x ? x.phone || '' : '' },
    { name: 'unit', label: 'unit', type: 'select', data: true, options: unitOptions(ctx, !x), value: x ? x.unit : '' },
    // The pool dispatches a driver only with a licence class on record and while active.
    { name: 'licence', label: 'pool_licence', type: 'select', data: true, options: [['', ctx.t('none')], ...LICENCES.map((l) => [l, l])], value: x ? x.licence || '' : 'C1' },
    { name: 'active', label: 'pool_active', type: 'checkbox', value: x ? x.active : true },
  ];
  const payload = (f) => JSON.stringify({
    name: f.name, certificate: f.certificate, phone: f.phone || null, unit: f.unit === '' ? null : Number(f.unit), licence: f.licence || null, active: f.active,
  });
  const add = form(ctx, {
    id: 'driver-add', fields: fields(null), submitLabel: 'add',
    submit: (f) => api('/api/drivers', { method: 'POST', body: payload(f) }),
    done: (x) => { M.driver = x.id; again(ctx)(); },
  });
  const parts = [
    section(ctx, 'm_drivers', table(ctx, {
      id: 'drivers-table', rows: list, key: (x) => x.id, selected: M.driver,
      columns: [{ label: 'driver_name', get: (x) => x.name }, { label: 'certificate', get: (x) => x.certificate }, { label: 'driver_phone', get: (x) => x.phone || '' }, { label: 'unit', get: (x) => paths.get(x.unit) || x.unit },
        { label: 'pool_licence', get: (x) => x.licence || '' }, { label: 'pool_active', get: (x) => ctx.t(x.active ? 'yes' : 'no') }],
      onpick: (x) => { M.driver = x.id; again(ctx)(); },
    })),
    section(ctx, 'add_driver', add),
  ];
  if (d) {
    const edit = form(ctx, {
      id: 'driver-edit', fields: fields(d),
      submit: (f) => api(`/api/drivers/${d.id}`, { method: 'PUT', body: payload(f) }),
      done: again(ctx),
    });
    edit.querySelector('.form-actions').append(actionButton(ctx, {
      label: 'delete', id: 'driver-delete', where: edit.querySelector('.form-error'),
      action: async () => { await api(`/api/drivers/${d.id}`, { method: 'DELETE' }); M.driver = null; again(ctx)(); },
    }));
    parts.splice(1, 0, section(ctx, 'edit_driver', el('p', { class: 'data' }, d.name), edit));
  }
  body.replaceChildren(...parts);
}

// ---------- alert channels ----------
const SEVERITIES = ['low', 'medium', 'high'];
const FORMATS = ['generic', 'dingtalk', 'wecom'];
async function channels(ctx, body) {
  const { el, t, api, S } = ctx;
  const list = await api('/api/channels');
  const paths = unitPaths(S.units);
  const c = list.stored.find((x) => x.id === M.channel);
  // The units served: a list of several choices standing for the `units` field.
  const unitsWidget = (id, chosen) => {
    const sel = el('select', { id, multiple: '', size: 5, class: 'data', name: 'units' },
      ...unitOptions(ctx, false).map(([v, p]) => el('option', { value: v, selected: chosen.includes(Number(v)) ? '' : null }, p)));
    return { widget: sel, read: () => [...sel.selectedOptions].map((o) => Number(o.value)) };
  };
  const fields = (x, id) => {
    const units = unitsWidget(`${id}-units`, x ? x.units : []);
    return [
      { name: 'name', label: 'ch_name', value: x ? x.name : '' },
      { name: 'kind', label: 'ch_kind', type: 'select', options: [['webhook', t('ch_webhook')], ['email', t('ch_email')]], value: x ? x.kind : 'webhook' },
      { name: 'url', label: 'ch_url', value: x ? x.url || '' : '', placeholder: 'https://oapi.dingtalk.com/robot/send?access_token=…' },
      { name: 'format', label: 'ch_format', type: 'select', options: FORMATS.map((f) => [f, t(`fmt_${f}`)]), value: x ? x.format : 'generic' },
      { name: 'address', label: 'ch_address', value: x ? x.address || '' : '', placeholder: 'name@example.gov.cn' },
      { name: 'units', label: 'ch_units', widget: units.widget, read: units.read },
      { name: 'min_severity', label: 'ch_min_severity', type: 'select', options: SEVERITIES.map((v) => [v, t(`sev_${v}`)]), value: x ? x.min_severity : 'low' },
      { name: 'enabled', label: 'ch_enabled', type: 'checkbox', value: x ? x.enabled : true },
    ];
  };
  // Only the fields of the kind chosen are sent: a webhook's URL and format, or an e-mail's address.
  const payload = (f) => JSON.stringify({
    name: f.name, kind: f.kind, units: f.units, min_severity: f.min_severity, enabled: f.enabled,
    ...(f.kind === 'email' ? { address: f.address } : { url: f.url, format: f.format }),
  });
  const served = (units) => (units.length ? units.map((u) => paths.get(u) || u).join(', ') : t('ch_all_units'));
  const add = form(ctx, {
    id: 'channel-add', fields: fields(null, 'channel-add'), submitLabel: 'add',
    submit: (f) => api('/api/channels', { method: 'POST', body: payload(f) }),
    done: (x) => { M.channel = x.id; again(ctx)(); },
  });
  const parts = [
    section(ctx, 'ch_stored', table(ctx, {
      id: 'channels-table', rows: list.stored, key: (x) => x.id, selected: M.channel,
      columns: [
        { label: 'ch_name', get: (x) => x.name },
        { label: 'ch_kind', get: (x) => t(`ch_${x.kind}`) },
        { label: 'ch_target', get: (x) => x.url || x.address || '' },
        { label: 'unit', get: (x) => served(x.units) },
        { label: 'ch_min_severity', get: (x) => t(`sev_${x.min_severity}`) },
        { label: 'ch_enabled', get: (x) => t(x.enabled ? 'yes' : 'no') },
      ],
      onpick: (x) => { M.channel = x.id; again(ctx)(); },
    })),
    section(ctx, 'add_channel', add),
    section(ctx, 'ch_configured', table(ctx, {
      id: 'channels-configured-table', rows: list.configured,
      columns: [
        { label: 'ch_name', get: (x) => x.name },
        { label: 'ch_kind', get: (x) => t(`ch_${x.kind}`) },
        { label: 'ch_target', get: (x) => x.url || x.address || (x.url_env ? `${t('ch_from_env')} ${x.url_env}` : '') },
        { label: 'unit', get: (x) => (x.units.length ? x.units.join(', ') : t('ch_all_units')) },
        { label: 'ch_min_severity', get: (x) => t(`sev_${x.min_severity}`) },
      ],
    })),
  ];
  if (c) {
    const edit = form(ctx, {
      id: 'channel-edit', fields: fields(c, 'channel-edit'),
      submit: (f) => api(`/api/channels/${c.id}`, { method: 'PUT', body: payload(f) }),
      done: again(ctx),
    });
    edit.querySelector('.form-actions').append(actionButton(ctx, {
      label: 'delete', id: 'channel-delete', where: edit.querySelector('.form-error'),
      action: async () => { await api(`/api/channels/${c.id}`, { method: 'DELETE' }); M.channel = null; again(ctx)(); },
    }));
    parts.splice(1, 0, section(ctx, 'edit_channel', el('p', { class: 'data' }, c.name), edit));
  }
  body.replaceChildren(...parts);
}

// ---------- geofences ----------
async function geofences(ctx, body) {
  const { el, t, api, S } = ctx;
  const map = ctx.getMap();
  const fc = await api('/api/geofences');
  const paths = [...unitPaths(S.units).values()].sort();
  const f = fc.features.find((x) => x.id === M.fence);
  if (M.draw) M.draw.detach();
  const status = el('span', { class: 'muted', id: 'draw-status' });
  const describe = () => {
    const s = M.draw.state;
    status.textContent = s.mode === 'polygon' ? `${t('draw_polygon_hint')} (${s.points.length})`
      : s.mode === 'circle' ? t('draw_circle_hint') : s.closed ? `${t('shape_ready')} (${s.points.length})` : t('no_shape');
  };
  M.draw = drawing(map, { disp: ctx.disp, undisp: ctx.undisp, onchange: describe });
  const tools = el('div', { class: 'draw-tools' },
    el('button', { type: 'button', id: 'draw-polygon', onclick: () => M.draw.startPolygon() }, t('draw_polygon')),
    el('button', { type: 'button', id: 'draw-circle', onclick: () => M.draw.startCircle() }, t('draw_circle')),
    el('button', { type: 'button', id: 'draw-finish', onclick: () => M.draw.finish() }, t('finish_shape')),
    el('button', { type: 'button', id: 'draw-clear', onclick: () => M.draw.clear() }, t('clear_shape')),
    status);
  const props = (f && f.properties) || {};
  const fenceForm = form(ctx, {
    id: 'fence-form', submitLabel: f ? 'save' : 'add',
    fields: [
      { name: 'name', label: 'fence_name', value: props.name || '' },
      { name: 'kind', label: 'fence_kind', type: 'select', options: FENCE_KINDS.map((k) => [k, t(`fk_${k}`)]), value: props.kind || 'prohibited' },
      { name: 'unit', label: 'depot_unit', type: 'select', data: true, options: [['', t('none')], ...paths.map((p) => [p, p])], value: props.unit || '' },
      { name: 'category', label: 'category', value: props.category || '' },
      { name: 'speed_limit_kmh', label: 'speed_limit', type: 'number', value: props.speed_limit_kmh ?? '' },
      { name: 'geometry', label: 'shape', widget: tools, read: () => M.draw.read() },
    ],
    submit: (v) => {
      if (!v.geometry) throw Object.assign(new Error(t('geometry_missing')), { detail: `geometry: ${t('geometry_missing')}` });
      const properties = { name: v.name, kind: v.kind };
      if (v.unit) properties.unit = v.unit;
      if (v.category) properties.category = v.category;
      if (v.speed_limit_kmh !== null) properties.speed_limit_kmh = v.speed_limit_kmh;
      const feature = { type: 'Feature', properties, geometry: v.geometry };
      return f ? api(`/api/geofences/${f.id}`, { method: 'PUT', body: JSON.stringify(feature) })
        : api('/api/geofences', { method: 'POST', body: JSON.stringify(feature) });
    },
    done: (saved) => { M.fence = saved.id; ctx.reloadFences(); again(ctx)(); },
  });
  if (f) {
    fenceForm.querySelector('.form-actions').append(
      actionButton(ctx, { label: 'delete', id: 'fence-delete', where: fenceForm.querySelector('.form-error'), action: async () => { await api(`/api/geofences/${f.id}`, { method: 'DELETE' }); M.fence = null; ctx.reloadFences(); again(ctx)(); } }),
      el('button', { type: 'button', id: 'fence-new', onclick: () => { M.fence = null; again(ctx)(); } }, t('new_fence')));
  }
  body.replaceChildren(
    section(ctx, f ? 'edit_fence' : 'add_fence', el('p', { class: 'muted' }, t(f ? 'edit_fence_hint' : 'add_fence_hint')), fenceForm),
    section(ctx, 'm_geofences', table(ctx, {
      id: 'fences-table', rows: fc.features, key: (x) => x.id, selected: M.fence,
      columns: [{ label: 'fence_name', get: (x) => x.properties.name }, { label: 'fence_kind', get: (x) => t(`fk_${x.properties.kind}`) }, { label: 'unit', get: (x) => x.properties.unit || '' }],
      onpick: (x) => { M.fence = x.id; again(ctx)(); },
    })));
  if (f) {
    const pts = M.draw.load(f.geometry);
    if (pts.length && map) {
      const b = pts.reduce((acc, p) => [[Math.min(acc[0][0], p[0]), Math.min(acc[0][1], p[1])], [Math.max(acc[1][0], p[0]), Math.max(acc[1][1], p[1])]], [pts[0], pts[0]]);
      map.fitBounds(b, { padding: 80, maxZoom: 16, duration: 0 });
    }
  }
  describe();
}

// ---------- users ----------
async function users(ctx, body) {
  const { el, t, api, S } = ctx;
  const list = await api('/api/users');
  const paths = unitPaths(S.units);
  const u = list.find((x) => x.username === M.user);
  const add = form(ctx, {
    id: 'user-add', submitLabel: 'add',
    fields: [
      { name: 'username', label: 'username' },
      { name: 'password', label: 'password', type: 'password' },
      { name: 'role', label: 'role', type: 'select', options: ROLES.map((r) => [r, t(`role_${r}`)]), value: 'dispatcher' },
      { name: 'unit', label: 'unit', type: 'select', data: true, options: unitOptions(ctx, true) },
    ],
    submit: (f) => api('/api/users', { method: 'POST', body: JSON.stringify({ username: f.username, password: f.password, role: f.role, unit: f.unit ? Number(f.unit) : null }) }),
    done: (x) => { M.user = x.username; again(ctx)(); },
  });
  const parts = [
    section(ctx, 'm_users', table(ctx, {
      id: 'users-table', rows: list, key: (x) => x.username, selected: M.user,
      columns: [
        { label: 'username', get: (x) => x.username }, { label: 'role', get: (x) => t(`role_${x.role}`) },
        { label: 'unit', get: (x) => (x.unit ? paths.get(x.unit) || x.unit : t('all_units')) },
        { label: 'state', get: (x) => t(x.disabled ? 'disabled' : 'enabled') },
      ],
      onpick: (x) => { M.user = x.username; again(ctx)(); },
    })),
    section(ctx, 'add_user', add),
    section(ctx, 'roles', el('dl', { class: 'roles' }, ...ROLES.flatMap((r) => [el('dt', {}, t(`role_${r}`)), el('dd', {}, t(`role_${r}_does`))]))),
  ];
  if (u) {
    const err = el('p', { class: 'error' });
    parts.splice(1, 0, section(ctx, 'edit_user',
      el('p', { class: 'data' }, `${u.username} · `, t(`role_${u.role}`)),
      el('div', { class: 'form-actions' },
        actionButton(ctx, { label: u.disabled ? 'enable' : 'disable', id: 'user-toggle', where: err, action: async () => { await api(`/api/users/${encodeURIComponent(u.username)}`, { method: 'PATCH', body: JSON.stringify({ disabled: !u.disabled }) }); again(ctx)(); } }),
        actionButton(ctx, { label: 'delete', id: 'user-delete', where: err, action: async () => { await api(`/api/users/${encodeURIComponent(u.username)}`, { method: 'DELETE' }); M.user = null; again(ctx)(); } })),
      err));
  }
  body.replaceChildren(...parts);
  void S;
}

// ---------- calendars ----------
/** A year of the calendar as the `calendar import` TOML file, to edit and put back. */
function toToml(c) {
  const q = (s) => JSON.stringify(s);
  const lines = [`year = ${c.year}`];
  if (c.notice) lines.push(`notice = ${q(c.notice)}`);
  for (const h of c.holidays) {
    lines.push('', '[[holiday]]', `name = ${q(h.name)}`);
    if (h.name_en) lines.push(`name_en = ${q(h.name_en)}`);
    lines.push(`first = ${q(h.first)}`, `last = ${q(h.last)}`, `working = [${h.working.map(q).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

async function calendars(ctx, body) {
  const { el, t, api } = ctx;
  const list = await api('/api/calendars');
  const c = list.find((x) => x.year === M.year) || list[list.length - 1];
  const en = ctx.currentLang() === 'en';
  const edit = form(ctx, {
    id: 'calendar-form',
    fields: [
      { name: 'year', label: 'year', type: 'number', value: c ? c.year : new Date().getFullYear() },
      { name: 'file', label: 'calendar_file', type: 'textarea', rows: 14, value: c ? toToml(c) : '' },
    ],
    submit: (f) => api(`/api/calendars/${f.year}`, { method: 'PUT', body: f.file, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
    done: (x) => { M.year = x.year; again(ctx)(); },
  });
  body.replaceChildren(
    section(ctx, 'm_calendars', table(ctx, {
      id: 'calendars-table', rows: list, key: (x) => x.year, selected: c && c.year,
      columns: [{ label: 'year', get: (x) => x.year }, { label: 'source', get: (x) => t(`cal_${x.source}`) }, { label: 'holidays', get: (x) => x.holidays.length }],
      onpick: (x) => { M.year = x.year; again(ctx)(); },
    })),
    c ? section(ctx, 'holidays', table(ctx, {
      id: 'holidays-table', rows: c.holidays,
      columns: [{ label: 'holiday', get: (h) => (en && h.name_en ? h.name_en : h.name) }, { label: 'days_off', get: (h) => `${h.first} – ${h.last}` }, { label: 'working_days', get: (h) => h.working.join(', ') }],
    })) : null,
    section(ctx, 'edit_calendar', edit));
}
