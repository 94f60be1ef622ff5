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
    course: '方向', time: '时间', sent: '已发送', not_connected: '终端未连接', km: '公里', kmh: '公里/小时',
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
    course: 'Course', time: 'Time', sent: 'sent', not_connected: 'terminal not connected', km: 'km', kmh: 'km/h',
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
