// Interface text: each key once, with its Chinese and its English; the choice is remembered in localStorage.
const WORDS = {
  username: ['用户名', 'Username'],
  password: ['密码', 'Password'],
  login: ['登录', 'Log in'],
  logout: ['退出', 'Log out'],
  live: ['实时监控', 'Live map'],
  replay: ['轨迹回放', 'Replay'],
  alerts: ['告警处置', 'Alerts'],
  audit: ['审计日志', 'Audit log'],
  search_plate: ['搜索车牌', 'Search plate'],
  vehicles_shown: ['车辆', 'Vehicles'],
  updates: ['更新', 'updates'],
  recent_alerts: ['最新告警', 'Recent alerts'],
  plate: ['车牌', 'Plate'],
  from: ['开始', 'From'],
  to: ['结束', 'To'],
  load: ['查询', 'Load'],
  trips: ['行程', 'Trips'],
  start: ['开始', 'Start'],
  duration: ['时长', 'Duration'],
  distance: ['里程', 'Distance'],
  max_speed: ['最高速度', 'Top speed'],
  cases_in_range: ['区间内告警', 'Cases in range'],
  refresh: ['刷新', 'Refresh'],
  play: ['播放', 'Play'],
  pause: ['暂停', 'Pause'],
  moving: ['行驶', 'Moving'],
  idling: ['停车未熄火', 'Stopped, ignition on'],
  parked: ['停放', 'Parked'],
  offline: ['离线', 'Offline'],
  alarm: ['报警', 'Alarm'],
  unit: ['单位', 'Unit'],
  driver: ['驾驶员', 'Driver'],
  speed: ['速度', 'Speed'],
  last_fix: ['最后定位', 'Last fix'],
  order: ['当前派车单', 'Current order'],
  follow: ['跟随', 'Follow'],
  unfollow: ['取消跟随', 'Unfollow'],
  open_replay: ['回放', 'Replay'],
  query_position: ['点名', 'Query position'],
  all_units: ['全部单位', 'All units'],
  wrong_login: ['用户名或密码错误', 'Wrong username or password'],
  connected: ['已连接', 'connected'],
  disconnected: ['已断开', 'disconnected'],
  points: ['个点', 'points'],
  shown: ['显示', 'shown'],
  acknowledge: ['签收', 'Acknowledge'],
  explain: ['填写说明', 'Explain'],
  close: ['办结', 'Close'],
  escalate: ['上报', 'Escalate'],
  state: ['状态', 'State'],
  rule: ['规则', 'Rule'],
  severity: ['级别', 'Severity'],
  reasoning: ['研判依据', 'Reasoning'],
  history: ['处置记录', 'History'],
  vehicle: ['车辆', 'Vehicle'],
  no_cases: ['暂无告警', 'No cases'],
  full_detail: ['完整细节', 'Full detail'],
  export: ['导出', 'Export'],
  explanation: ['说明', 'Explanation'],
  none: ['—', '—'],
  s_open: ['待处理', 'Open'],
  s_acknowledged: ['已签收', 'Acknowledged'],
  s_explained: ['已说明', 'Explained'],
  s_escalated: ['已上报', 'Escalated'],
  s_closed: ['已办结', 'Closed'],
  s_all: ['全部', 'All'],
  course: ['方向', 'Course'],
  time: ['时间', 'Time'],
  not_connected: ['终端未连接，指令未下发', 'Terminal not connected: nothing was sent'],
  km: ['公里', 'km'],
  kmh: ['公里/小时', 'km/h'],
  commands: ['终端指令', 'Terminal commands'],
  temporary_tracking: ['临时跟踪', 'Temporary tracking'],
  interval_secs: ['间隔（秒）', 'Interval (s)'],
  interval_zero_stops: ['0 停止跟踪', '0 stops tracking'],
  duration_min: ['时长（分钟）', 'Duration (min)'],
  send_text: ['下发文本', 'Send text'],
  text_placeholder: ['发给驾驶员的文字（屏显并语音播报）', 'Text for the driver (shown and spoken)'],
  text_empty: ['请先填写文字', 'Write the text first'],
  track_invalid: ['间隔应为 0–65535 秒，时长应为 1–1440 分钟', 'Interval must be 0–65535 s and duration 1–1440 min'],
  waiting_answer: ['已下发，等待终端应答…', 'sent, waiting for the terminal…'],
  position_answered: ['终端已应答位置', 'The terminal reported its position'],
  position: ['位置', 'Position'],
  tracking_accepted: ['终端已接受：每 {i} 秒上报一次，持续 {m} 分钟', 'Accepted by the terminal: a report every {i} s for {m} min'],
  tracking_stopped: ['终端已停止临时跟踪', 'The terminal stopped temporary tracking'],
  text_acknowledged: ['终端已确认收到（0x0001 结果 0：成功）', 'Acknowledged by the terminal (0x0001 result 0: success)'],
  refused: ['终端拒绝执行', 'Refused by the terminal'],
  result: ['结果', 'result'],
  result_failed: ['失败', 'failed'],
  result_bad_message: ['消息有误', 'bad message'],
  result_unsupported: ['不支持', 'unsupported'],
  result_other: ['未知', 'unknown'],
  timed_out: ['终端未在规定时间内应答', 'The terminal did not answer in time'],
  command_failed: ['下发失败', 'Not sent'],
  terminal: ['终端', 'Terminal'],
  no_terminal: ['该车未绑定终端', 'No terminal is fitted to this car'],
  clock_offset_set: ['时钟校正', 'Clock correction'],
  clock_offset_found: ['定位时间偏差', 'Clock offset in its fixes'],
  not_found_yet: ['尚未测出', 'not found yet'],
  clock_differs: ['定位时间仍偏差 {h}：该终端的时间按此存储', 'Its fixes are still {h} off: they are stored that far off'],
  clock_offset_hours: ['校正（小时）', 'Correction (h)'],
  clock_hint: ['加到终端定位时间上的小时数，整点或半点；按 UTC 上报却标为北京时间的终端为 +8', 'Hours added to its fix times, whole or half; +8 for a terminal sending UTC as China time'],
  clock_invalid: ['校正应为整点或半点，不超过 ±14 小时', 'A correction is whole or half hours, at most ±14 h'],
  set: ['设置', 'Set'],
  use_found: ['按测出的偏差校正', 'Correct by the offset found'],
  query_parameters: ['查询全部参数', 'Query all parameters'],
  query_attributes: ['查询终端属性', 'Query attributes'],
  query_these: ['查询指定参数', 'Query these'],
  ids_invalid: ['参数 ID 以逗号分隔，十进制或 0x 十六进制', 'Parameter ids, comma-separated, decimal or 0x hex'],
  kind_number: ['数值', 'number'],
  kind_text: ['文本', 'text'],
  kind_hex: ['十六进制', 'hex'],
  set_parameter: ['设置参数', 'Set parameter'],
  parameter_invalid: ['参数 ID 或取值有误', 'Bad parameter id or value'],
  parameter_set: ['终端已确认设置（0x0001 结果 0：成功）', 'Set, acknowledged by the terminal (0x0001 result 0: success)'],
  value: ['取值', 'Value'],
  attr_maker: ['制造商', 'Maker'],
  attr_model: ['型号', 'Model'],
  attr_terminal_id: ['终端 ID', 'Terminal id'],
  attr_iccid: ['ICCID', 'ICCID'],
  attr_hardware: ['硬件版本', 'Hardware'],
  attr_firmware: ['固件版本', 'Firmware'],
  p_heartbeat: ['心跳间隔（秒）', 'heartbeat (s)'],
  p_server: ['主服务器地址', 'main server'],
  p_tcp_port: ['服务器 TCP 端口', 'server TCP port'],
  p_interval: ['缺省汇报间隔（秒）', 'report interval (s)'],
  p_max_speed: ['最高速度（公里/小时）', 'maximum speed (km/h)'],
  p_plate: ['车牌', 'plate'],
  p_plate_colour: ['车牌颜色', 'plate colour'],
};

const TEXT = { zh: {}, en: {} };
for (const [key, [zh, en]] of Object.entries(WORDS)) {
  TEXT.zh[key] = zh;
  TEXT.en[key] = en;
}

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
