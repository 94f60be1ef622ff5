// JT/T 809 platform checks (平台查岗) and supervision requests (报警督办), for the dispatch office: what
// the upper platforms asked, newest first, an unanswered one past its deadline in red, each answered in
// its row (a check with a text, a supervision with its result); and, for an inspector, a check or a
// supervision sent to a lower platform with its answer when it comes, and the alarm reports lower
// platforms sent (api/src/resources/jt809.rs).
import { form, actionButton } from './admin/form.js';

const RESULTS = ['handling', 'handled', 'not_handled', 'later'];

/** The answer cell of a received request: its answer, or the means to give it. */
function answerCell(ctx, r, errorLine) {
  const { el, api } = ctx;
  if (r.answer !== null || r.direction !== 'received') return el('td', {}, r.answer ?? '');
  const input = r.kind === 'check'
    ? el('input', { id: `jt809-text-${r.id}`, class: 'jt809-text' })
    : el('select', { id: `jt809-result-${r.id}` }, ...RESULTS.map((v) => el('option', { value: v }, ctx.t(`jt809_${v}`))));
  const send = actionButton(ctx, {
    label: 'jt809_answer', id: `jt809-answer-${r.id}`, where: errorLine,
    action: async () => {
      const body = r.kind === 'check' ? { text: input.value } : { result: input.value };
      await api(`/api/jt809/requests/${r.id}/answer`, { method: 'POST', body: JSON.stringify(body) });
      loadPlatform(ctx);
    },
  });
  return el('td', {}, input, send);
}

/** The alarm reports lower platforms sent here, newest first. */
function alarmsTable(ctx, alarms) {
  const { el, t, fmtTime } = ctx;
  if (!alarms.length) return el('p', { class: 'muted' }, t('jt809_alarms_none'));
  const head = el('tr', {}, ...['jt809_peer', 'jt809_plate', 'jt809_warn_type', 'jt809_warn_time', 'jt809_question']
    .map((k) => el('th', {}, t(k))));
  const rows = alarms.map((a) => el('tr', { class: 'data-row', 'data-key': a.id },
    el('td', {}, a.peer),
    el('td', {}, a.plate),
    el('td', {}, a.warn_type_name ?? `0x${a.warn_type.toString(16).padStart(4, '0')}`),
    el('td', {}, fmtTime(Date.parse(a.warn_time))),
    el('td', {}, a.info)));
  return el('table', { id: 'jt809-alarms', class: 'jt809' }, head, ...rows);
}

/** Fills `#view-jt809`; `ctx` is the page's helpers (see main.js). */
export async function loadPlatform(ctx) {
  const { el, t, api, fmtTime, S } = ctx;
  const root = document.querySelector('#view-jt809');
  let list;
  try { list = await api('/api/jt809/requests'); } catch (e) { root.replaceChildren(el('p', { class: 'error' }, e.detail || e.message)); return; }
  const errorLine = el('p', { class: 'error', id: 'jt809-error' });
  const rows = list.map((r) => el('tr', {
    class: `data-row${r.late && r.answer === null ? ' late' : ''}`, 'data-key': r.id, 'data-kind': r.kind,
  },
  el('td', {}, t(`jt809_${r.kind}`)),
  el('td', {}, `${t(`jt809_${r.direction}`)} ${r.peer}`),
  el('td', {}, r.plate ? `${r.plate} · ${r.question}` : r.question),
  el('td', {}, fmtTime(Date.parse(r.created))),
  el('td', {}, fmtTime(Date.parse(r.deadline))),
  answerCell(ctx, r, errorLine)));
  const head = el('tr', {}, ...['jt809_kind', 'jt809_peer', 'jt809_question', 'jt809_created', 'jt809_deadline', 'jt809_answer']
    .map((k) => el('th', {}, t(k))));
  const parts = [el('h3', {}, t('jt809')), el('p', { class: 'muted' }, t('jt809_intro')), errorLine,
    list.length ? el('table', { id: 'jt809-table', class: 'jt809' }, head, ...rows) : el('p', { class: 'muted' }, t('jt809_none'))];
  if (['administrator', 'inspector'].includes(S.me.role)) {
    parts.push(el('h4', {}, t('jt809_ask')), form(ctx, {
      id: 'jt809-check', submitLabel: 'jt809_send',
      fields: [
        { name: 'peer', label: 'jt809_peer' },
        { name: 'question', label: 'jt809_question' },
        { name: 'answer_minutes', label: 'jt809_minutes', placeholder: '10' },
      ],
      submit: (v) => api('/api/jt809/checks', {
        method: 'POST',
        body: JSON.stringify({ peer: v.peer, question: v.question, ...(v.answer_minutes ? { answer_minutes: Number(v.answer_minutes) } : {}) }),
      }),
      done: () => loadPlatform(ctx),
    }));
  }
  let alarms = [];
  try { alarms = await api('/api/jt809/alarms'); } catch (e) { errorLine.textContent = e.detail || e.message; }
  parts.push(el('h4', {}, t('jt809_alarms')), alarmsTable(ctx, alarms));
  root.replaceChildren(...parts);
}
