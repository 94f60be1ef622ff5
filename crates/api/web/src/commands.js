// The open card's downlink commands and terminal panel.
import { t } from './i18n.js';
import { renderTerminalPanel } from './terminal.js';
import { $, el, api, S, nav, fmtTime, parseTime } from './page.js';

// Query position (0x8201, answered by the terminal's 0x0201), temporary tracking (0x8202) and text to the
// driver (0x8300), both answered by the terminal's 0x0001. The API waits for the answer and says what came
// of the command; the card shows it. Only the roles the API lets send commands see the panel.
export const COMMAND_ROLES = ['administrator', 'dispatcher'];
/** The last answer of each command per car: vehicle id -> { query, track, text }. */
const commandResults = new Map();

export function renderCommandPanel() {
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
export function terminalPanel() {
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
    if (res.status === 401) { nav.showLogin(); return; }
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
