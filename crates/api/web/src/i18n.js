// Interface text in Chinese and English; the choice is remembered in localStorage.
const TEXT = {
  zh: {
    username: '用户名', password: '密码', login: '登录', logout: '退出', live: '实时监控', replay: '轨迹回放',
    alerts: '告警处置', audit: '审计日志', search_plate: '搜索车牌', vehicles_shown: '车辆', updates: '更新',
    recent_alerts: '最新告警', plate: '车牌', from: '开始', to: '结束', load: '查询', trips: '行程',
    start: '开始', duration: '时长', distance: '里程', max_speed: '最高速度', cases_in_range: '区间内告警',
    refresh: '刷新', play: '播放', pause: '暂停', moving: '行驶', idling: '停车未熄火', parked: '停放',
    offline: '离线', alarm: '报警', unit: '单位', driver: '驾驶员', speed: '速度', last_fix: '最后定位',
    order: '当前派车单', follow: '跟随', unfollow: '取消跟随', open_replay: '回放', query_position: '点名',
    all_units: '全部单位', wrong_login: '用户名或密码错误', connected: '已连接', disconnected: '已断开',
    points: '个点', shown: '显示', acknowledge: '签收', explain: '填写说明', close: '办结', escalate: '上报',
    state: '状态', rule: '规则', severity: '级别', reasoning: '研判依据', history: '处置记录', vehicle: '车辆',
    no_cases: '暂无告警', full_detail: '完整细节', export: '导出', explanation: '说明', none: '—',
    s_open: '待处理', s_acknowledged: '已签收', s_explained: '已说明', s_escalated: '已上报', s_closed: '已办结', s_all: '全部',
    course: '方向', time: '时间', not_connected: '终端未连接，指令未下发', km: '公里', kmh: '公里/小时',
    commands: '终端指令', temporary_tracking: '临时跟踪', interval_secs: '间隔（秒）', interval_zero_stops: '0 停止跟踪', duration_min: '时长（分钟）',
    send_text: '下发文本', text_placeholder: '发给驾驶员的文字（屏显并语音播报）', text_empty: '请先填写文字',
    track_invalid: '间隔应为 0–65535 秒，时长应为 1–1440 分钟', waiting_answer: '已下发，等待终端应答…',
    position_answered: '终端已应答位置', position: '位置', tracking_accepted: '终端已接受：每 {i} 秒上报一次，持续 {m} 分钟',
    tracking_stopped: '终端已停止临时跟踪', text_acknowledged: '终端已确认收到（0x0001 结果 0：成功）',
    refused: '终端拒绝执行', result: '结果', result_failed: '失败', result_bad_message: '消息有误', result_unsupported: '不支持',
    result_other: '未知', timed_out: '终端未在规定时间内应答', command_failed: '下发失败',
  },
  en: {
    username: 'Username', password: 'Password', login: 'Log in', logout: 'Log out', live: 'Live map', replay: 'Replay',
    alerts: 'Alerts', audit: 'Audit log', search_plate: 'Search plate', vehicles_shown: 'Vehicles', updates: 'updates',
    recent_alerts: 'Recent alerts', plate: 'Plate', from: 'From', to: 'To', load: 'Load', trips: 'Trips',
    start: 'Start', duration: 'Duration', distance: 'Distance', max_speed: 'Top speed', cases_in_range: 'Cases in range',
    refresh: 'Refresh', play: 'Play', pause: 'Pause', moving: 'Moving', idling: 'Stopped, ignition on', parked: 'Parked',
    offline: 'Offline', alarm: 'Alarm', unit: 'Unit', driver: 'Driver', speed: 'Speed', last_fix: 'Last fix',
    order: 'Current order', follow: 'Follow', unfollow: 'Unfollow', open_replay: 'Replay', query_position: 'Query position',
    all_units: 'All units', wrong_login: 'Wrong username or password', connected: 'connected', disconnected: 'disconnected',
    points: 'points', shown: 'shown', acknowledge: 'Acknowledge', explain: 'Explain', close: 'Close', escalate: 'Escalate',
    state: 'State', rule: 'Rule', severity: 'Severity', reasoning: 'Reasoning', history: 'History', vehicle: 'Vehicle',
    no_cases: 'No cases', full_detail: 'Full detail', export: 'Export', explanation: 'Explanation', none: '—',
    s_open: 'Open', s_acknowledged: 'Acknowledged', s_explained: 'Explained', s_escalated: 'Escalated', s_closed: 'Closed', s_all: 'All',
    course: 'Course', time: 'Time', not_connected: 'Terminal not connected: nothing was sent', km: 'km', kmh: 'km/h',
    commands: 'Terminal commands', temporary_tracking: 'Temporary tracking', interval_secs: 'Interval (s)', interval_zero_stops: '0 stops tracking', duration_min: 'Duration (min)',
    send_text: 'Send text', text_placeholder: 'Text for the driver (shown and spoken)', text_empty: 'Write the text first',
    track_invalid: 'Interval must be 0–65535 s and duration 1–1440 min', waiting_answer: 'sent, waiting for the terminal…',
    position_answered: 'The terminal reported its position', position: 'Position', tracking_accepted: 'Accepted by the terminal: a report every {i} s for {m} min',
    tracking_stopped: 'The terminal stopped temporary tracking', text_acknowledged: 'Acknowledged by the terminal (0x0001 result 0: success)',
    refused: 'Refused by the terminal', result: 'result', result_failed: 'failed', result_bad_message: 'bad message', result_unsupported: 'unsupported',
    result_other: 'unknown', timed_out: 'The terminal did not answer in time', command_failed: 'Not sent',
  },
};

// Chinese unless the user picked English on this browser.
let lang = localStorage.getItem('tianshu.lang') === 'en' ? 'en' : 'zh';

export function t(key) {
  return (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
}

export function currentLang() {
  return lang;
}

export function applyText(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll('.lang-toggle').forEach((el) => { el.textContent = lang === 'zh' ? 'English' : '中文'; });
}

export function toggleLang() {
  lang = lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem('tianshu.lang', lang);
  applyText();
}
