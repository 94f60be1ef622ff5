// Dispatch orders and holiday filings, for dispatchers and administrators: the orders of the cars in scope
// filtered by state, a form to file one, and the steps of a chosen one (approve, cancel, complete). A step
// names the order's version, so a change somebody else made meanwhile is refused (409) rather than
// overwritten; an approval one person may not make alone is refused (403) with the reason. Refusals are
// shown where they belong (`form.js`).
import { form, table, actionButton } from './form.js';

const STATES = ['requested', 'approved', 'cancelled', 'completed', 'all'];
/** The steps offered from each state (the API checks them again: `rules::workflow`). */
const STEPS = { requested: ['approved', 'cancelled'], approved: ['completed', 'cancelled'], cancelled: [], completed: [] };
const O = { state: 'requested', order: null };

/** A fresh order id: PC-YYYYMMDD-HHMMSS in China time. */
function newId(ctx) {
  return `PC-${ctx.fmtTime(Date.now()).replace(/[-:]/g, '').replace(' ', '-')}`;
}

/** Fills `#view-orders`; `ctx` is the page's helpers (see main.js). */
export async function loadOrders(ctx) {
  const { el, t, api, fmtTime } = ctx;
  const root = document.querySelector('#view-orders');
  const chips = el('div', { class: 'chips', id: 'order-states' }, ...STATES.map((s) => el('button', { class: O.state === s ? 'active' : '', 'data-state': s, onclick: () => { O.state = s; loadOrders(ctx); } }, t(`o_${s}`))));
  let list;
  let vehicles;
  try {
    [list, vehicles] = await Promise.all([api(`/api/orders${O.state === 'all' ? '' : `?state=${O.state}`}`), api('/api/vehicles')]);
  } catch (e) { root.replaceChildren(chips, el('p', { class: 'error' }, e.detail || e.message)); return; }
  list.reverse();
  const now = Date.now();
  const hour = 3600e3;
  const add = form(ctx, {
    id: 'order-add', submitLabel: 'file_order',
    fields: [
      { name: 'id', label: 'order_id', value: newId(ctx) },
      { name: 'kind', label: 'order_kind', type: 'select', options: [['order', t('ok_order')], ['filing', t('ok_filing')]] },
      { name: 'plate', label: 'plate', list: 'order-plates' },
      { name: 'driver', label: 'driver' },
      { name: 'purpose', label: 'purpose' },
      { name: 'start', label: 'start', type: 'datetime', value: ctx.toLocalInput(Math.ceil(now / hour) * hour).slice(0, 16) },
      { name: 'end', label: 'end', type: 'datetime', value: ctx.toLocalInput(Math.ceil(now / hour) * hour + 4 * hour).slice(0, 16) },
    ],
    submit: (f) => {
      const when = (name, ms) => {
        if (!Number.isFinite(ms)) throw Object.assign(new Error(t('time_missing')), { detail: `${name}: ${t('time_missing')}` });
        return new Date(ms).toISOString();
      };
      const order = { id: f.id, kind: f.kind, plate: f.plate, state: 'requested', start: when('start', f.start), end: when('end', f.end) };
      if (f.driver) order.driver = f.driver;
      if (f.purpose) order.purpose = f.purpose;
      return api('/api/orders', { method: 'POST', body: JSON.stringify(order) });
    },
    done: (o) => { O.order = o.id; O.state = 'requested'; loadOrders(ctx); },
  });
  const o = list.find((x) => x.id === O.order);
  const parts = [
    chips,
    el('datalist', { id: 'order-plates' }, vehicles.map((v) => el('option', { value: v.plate }))),
    table(ctx, {
      id: 'orders-table', rows: list, key: (x) => x.id, selected: O.order,
      columns: [
        { label: 'order_id', get: (x) => x.id }, { label: 'plate', get: (x) => x.plate },
        { label: 'order_kind', get: (x) => t(`ok_${x.kind}`) }, { label: 'state', get: (x) => t(`o_${x.state}`) },
        { label: 'start', get: (x) => fmtTime(Date.parse(x.start)) }, { label: 'end', get: (x) => fmtTime(Date.parse(x.end)) },
        { label: 'purpose', get: (x) => x.purpose || '' }, { label: 'driver', get: (x) => x.driver || '' },
        { label: 'filed_by', get: (x) => x.filed_by || '' }, { label: 'approved_by', get: (x) => x.approved_by || '' },
      ],
      onpick: (x) => { O.order = x.id; loadOrders(ctx); },
    }),
  ];
  if (o) {
    const err = el('p', { class: 'error', id: 'order-error' });
    const step = (state) => actionButton(ctx, {
      label: `step_${state}`, id: `order-${state}`, where: err, cls: state === 'approved' ? 'primary' : null,
      action: async () => {
        const changed = await api(`/api/orders/${encodeURIComponent(o.id)}`, { method: 'PATCH', body: JSON.stringify({ state, version: o.version }) });
        O.state = changed.state;
        loadOrders(ctx);
      },
    });
    parts.push(el('section', { class: 'msection', id: 'order-detail', 'data-order': o.id, 'data-state': o.state },
      el('h3', {}, t('order_steps')),
      el('p', { class: 'data' }, `${o.id} · ${o.plate} · `, t(`o_${o.state}`)),
      el('div', { class: 'form-actions' }, ...(STEPS[o.state] || []).map(step)),
      err));
  }
  parts.push(el('section', { class: 'msection' }, el('h3', {}, t('new_order')), add));
  root.replaceChildren(...parts);
}
