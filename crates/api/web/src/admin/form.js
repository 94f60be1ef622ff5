// The one form and table of the management screens. A form renders a resource's fields, submits them, and
// puts the API's refusal next to the field it names: every 4xx answers `{"error": "field: message"}` (or
// "field message"), the field first, so the message goes under that field; a message naming no field of
// the form goes under the form. Tables list records with a filter over any text of a row.

/** The field of `names` an API message is about: its leading word (`properties.kind` counts as `kind`,
 * `seasons[0].periods` as `seasons`), else the first of `names` it mentions as a word; null for none. */
export function fieldOf(message, names) {
  const lead = /^([\w.[\]]+)[: ]/.exec(message || '');
  if (lead) {
    const parts = lead[1].split('.').map((p) => p.replace(/\[\d+\]$/, ''));
    for (const p of [parts[parts.length - 1], parts[0]]) if (names.includes(p)) return p;
  }
  const mentioned = names
    .map((n) => ({ n, at: (message || '').search(new RegExp(`(^|[^\\w])(properties\\.)?${n}([^\\w]|$)`)) }))
    .filter((x) => x.at >= 0)
    .sort((a, b) => a.at - b.at);
  return mentioned.length ? mentioned[0].n : null;
}

/**
 * A form. `spec`: { id, fields: [{ name, label, type: text|number|password|select|checkbox|datetime|textarea,
 * options: [[value, text]], value, placeholder, required, data (the options are data, not interface words),
 * widget: an element standing for the field (the map drawing) }], submit: async (values) => result,
 * submitLabel, done: (result) => void, extra: [elements after the button] }.
 * Returns the form element; `form.showError(message)` places a message as a refusal would be.
 */
export function form(ctx, spec) {
  const { el, t } = ctx;
  const inputs = new Map();
  const errors = new Map();
  const formError = el('p', { class: 'error form-error', 'data-error-for': '' });
  const rows = spec.fields.map((f) => {
    let input;
    const common = { name: f.name, id: `${spec.id}-${f.name}` };
    if (f.widget) input = f.widget;
    else if (f.type === 'select') {
      input = el('select', { ...common, class: f.data ? 'data' : null },
        ...(f.options || []).map(([v, text]) => el('option', { value: v, selected: String(v) === String(f.value ?? '') ? '' : null }, text)));
    } else if (f.type === 'checkbox') {
      input = el('input', { ...common, type: 'checkbox', checked: f.value ? '' : null });
    } else if (f.type === 'textarea') {
      input = el('textarea', { ...common, rows: f.rows || 6, placeholder: f.placeholder || null });
      input.value = f.value ?? '';
    } else {
      const type = f.type === 'datetime' ? 'datetime-local' : (f.type || 'text');
      input = el('input', { ...common, type, step: f.type === 'datetime' ? '60' : (f.step || null), placeholder: f.placeholder || null, list: f.list || null, autocomplete: 'off' });
      input.value = f.value ?? '';
    }
    inputs.set(f.name, input);
    const err = el('small', { class: 'error field-error', 'data-error-for': f.name });
    errors.set(f.name, err);
    return el('label', { class: `field${f.type === 'checkbox' ? ' check' : ''}`, 'data-field': f.name },
      el('span', {}, t(f.label || f.name)), input, err);
  });
  const button = el('button', { type: 'submit', class: 'primary', id: `${spec.id}-submit` }, t(spec.submitLabel || 'save'));
  const node = el('form', { class: 'rform', id: spec.id, novalidate: '' }, ...rows, el('div', { class: 'form-actions' }, button, ...(spec.extra || [])), formError);
  const clear = () => { formError.textContent = ''; for (const e of errors.values()) e.textContent = ''; node.querySelectorAll('.invalid').forEach((x) => x.classList.remove('invalid')); };
  node.showError = (message) => {
    const name = fieldOf(message, [...inputs.keys()]);
    if (name) { errors.get(name).textContent = message; inputs.get(name).classList.add('invalid'); } else formError.textContent = message;
  };
  node.values = () => {
    const out = {};
    for (const f of spec.fields) {
      const input = inputs.get(f.name);
      if (f.widget) out[f.name] = f.read ? f.read() : null;
      else if (f.type === 'checkbox') out[f.name] = input.checked;
      else if (f.type === 'number') out[f.name] = input.value.trim() === '' ? null : Number(input.value);
      else if (f.type === 'datetime') out[f.name] = input.value ? ctx.fromLocalInput(input.value) : null;
      else out[f.name] = input.value.trim();
    }
    return out;
  };
  node.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear();
    button.disabled = true;
    try {
      const result = await spec.submit(node.values());
      if (spec.done) spec.done(result);
    } catch (e) {
      node.showError(e.detail || e.message);
    } finally { button.disabled = false; }
  });
  return node;
}

/** A button that runs `action` and shows its refusal in `where` (a form's or a panel's error line). */
export function actionButton(ctx, { label, id, cls, action, where, confirmText }) {
  const { el, t } = ctx;
  return el('button', {
    type: 'button', id, class: cls || null,
    onclick: async (ev) => {
      if (confirmText && !window.confirm(confirmText)) return;
      ev.target.disabled = true;
      if (where) where.textContent = '';
      try { await action(); } catch (e) { if (where) where.textContent = e.detail || e.message; } finally { ev.target.disabled = false; }
    },
  }, t(label));
}

/**
 * A table of records: `columns` [{ label, get: (row) => text }], `rows`, `onpick(row)` when a row is pressed,
 * `key(row)` for its data-key. A filter input above it hides the rows whose text does not contain it.
 */
export function table(ctx, { id, columns, rows, onpick, key, selected }) {
  const { el, t } = ctx;
  const trs = rows.map((r) => {
    const cells = columns.map((c) => String(c.get(r) ?? ''));
    const tr = el('tr', { class: `data-row${onpick ? ' clickable' : ''}${selected !== undefined && key && key(r) === selected ? ' selected' : ''}`, 'data-key': key ? key(r) : null, onclick: onpick ? () => onpick(r) : null },
      ...cells.map((x) => el('td', {}, x)));
    tr.dataset.text = cells.join(' ').toLowerCase();
    return tr;
  });
  const count = el('span', { class: 'muted' });
  const filter = el('input', { class: 'table-filter', placeholder: t('filter_rows'), id: id ? `${id}-filter` : null });
  const apply = () => {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of trs) { const on = !q || tr.dataset.text.includes(q); tr.classList.toggle('hidden', !on); shown += on ? 1 : 0; }
    count.textContent = `${shown} / ${trs.length}`;
  };
  filter.addEventListener('input', apply);
  apply();
  return el('div', { class: 'rtable', id },
    el('div', { class: 'table-tools' }, filter, count),
    el('div', { class: 'table-scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, ...columns.map((c) => el('th', {}, t(c.label))))),
      el('tbody', {}, trs))));
}
