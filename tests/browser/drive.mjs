// Drives Debian's chromium through the Tianshu page (playwright-core, no bundled browser).
//
//   node drive.mjs live-replay   log in as each role, see cars move, open a replay and play it
//   node drive.mjs case          log in as a supervisor, open an alert case and close it
//   node drive.mjs languages     an administrator walks every screen in Chinese, then in English: no
//                                interface text of the other language on any
//   node drive.mjs alert-feed    an alert on the live feed opens its case for a supervisor and the car
//                                for a dispatcher
//   node drive.mjs phone         the same on a 390x844 touch screen: the inbox fills the width, a case opens
//                                as a sheet over its map, every control is a 44 px touch target
//   node drive.mjs commands      a dispatcher queries a car's position, tracks it and texts its driver;
//                                a car whose terminal is not connected says so; an inspector has no
//                                command buttons and the API refuses its command (403)
//
//   node drive.mjs command-failures   a dispatcher's query times out and a text is refused (a scripted
//                                terminal behind the API); the card says so
//
//   node drive.mjs terminal   an administrator sees a terminal's clock found eight hours off and corrects
//                             it, reads its parameters and attributes and sets a parameter (a scripted
//                             terminal behind the API)
//   node drive.mjs clicks    a dispatcher finds cars by state, plate and unit (the state chips count the cars
//                            in scope, a unit fits the map to its cars); during live updates, 20 presses on
//                            the car list and 20 on Follow each take effect; Follow stops when the map is
//                            panned by hand and when replay opens
//   node drive.mjs manage   an administrator adds a unit, a vehicle, a terminal, a driver and a geofence drawn on the map
//                           (and drags one of its vertices), each bad field refused next to the field; the
//                           audit table shows each change; the management screens fit a phone
//   node drive.mjs orders   the administrator files an order; the dispatcher files one, is refused approving
//                           it alone, approves the administrator's and cancels their own
//   node drive.mjs month    an inspector replays a car's month (TIANSHU_PLATE, TIANSHU_FROM and TIANSHU_TO in
//                           ms, TIANSHU_POINTS stored), jumps to its case TIANSHU_CASE (starting at
//                           TIANSHU_CASE_TIME, Beijing time) and opens it: the map goes to TIANSHU_EVIDENCE
//                           (JSON: [[lon, lat], ...])
//   node drive.mjs reports  an inspector opens the Reports screen: a unit's month (TIANSHU_MONTH, TIANSHU_UNIT)
//                           with its chart, figures and CSV/XLSX download links that download, then one
//                           car's month (TIANSHU_PLATE)
//   node drive.mjs reregistration  an administrator requires approval for a unit and approves a terminal's
//                                pending re-registration in the Terminals view; a dispatcher sees the
//                                terminals masked and cannot decide
//   node drive.mjs basemap   with the network closed, the demo's own basemap draws its roads (a screenshot
//                            against the same view with the basemap hidden); plates are labelled at street zoom
//   node drive.mjs casework  a complaint about a car out on a holiday from the desk to the unit's answer, the
//                            finding with two people, the reply to the reporter and the figures
//   node drive.mjs tiles-fail  the basemap's tiles fail: the page says so once, in the user's language, and
//                              the map keeps working
//   node drive.mjs carpool   a requester asks for a car on a phone (TIANSHU_START, TIANSHU_END); the dispatcher
//                            is offered the free cars nearest first (not TIANSHU_BOOKED), TIANSHU_NEAREST
//                            suggested, and assigns it
//   node drive.mjs carpool-settle  the dispatcher settles request TIANSHU_REQUEST (km within 2 % of
//                            TIANSHU_METRES) and confirms it, then the planted TIANSHU_PLANTED, which opens
//                            a case; the unit's supervisor opens it
//   node drive.mjs fuel      an auditor uploads TIANSHU_STATEMENT, reads its refused rows and findings
//                            (filtered by check, unit TIANSHU_POLICE_UNIT and state), opens one on its
//                            map; the unit's supervisor has its case in the inbox
//
// The commands scenario also reads TIANSHU_OFFLINE_PLATE: a registered car whose terminal never connects;
// command-failures and terminal read TIANSHU_PLATE, the car to open.
//
// Environment: TIANSHU_URL (the page), TIANSHU_LOGINS (JSON: {"role": {"username": ..., "password": ...}}),
// TIANSHU_ARTIFACTS (directory for screenshots). Prints one line per check; exits 1 on the first failure.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.env.TIANSHU_URL;
const logins = JSON.parse(process.env.TIANSHU_LOGINS || '{}');
const artifacts = process.env.TIANSHU_ARTIFACTS || 'artifacts';
const scenario = process.argv[2];
mkdirSync(artifacts, { recursive: true });

const FLAGS = ['--headless', '--no-sandbox', '--enable-unsafe-swiftshader', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];

function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAILED'} ${what}`);
  if (!ok) throw new Error(what);
}

/** A fresh browser profile per role: nothing carries over between logins. */
async function browserFor(run, device = { viewport: { width: 1400, height: 900 } }) {
  const profile = mkdtempSync(join(tmpdir(), 'tianshu-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, ...device,
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
    return await run(page);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function login(page, role) {
  const who = logins[role];
  check(!!who, `a login for ${role}`);
  await page.goto(url);
  await page.waitForSelector('#login-username', { state: 'visible' });
  await page.fill('#login-username', who.username);
  await page.fill('#login-password', who.password);
  await page.click('#login-submit');
  // As long as a press may take (PRESS_MS): at a load average of 27 the 20 s this wait had ran out once
  // with the page shown.
  await page.waitForSelector('#app:not(.hidden)', { timeout: PRESS_MS });
  check(true, `${role} logged in`);
}

const num = async (page, sel) => Number((await page.textContent(sel)) || '0');

async function seeCarsMove(page, role) {
  await page.waitForFunction(() => Number(document.querySelector('#live-count').textContent) > 0, null, { timeout: 30000 });
  const shown = await num(page, '#live-count');
  check(shown > 0, `${role} sees ${shown} cars on the live map`);
  // Moving cars: the same vehicles' positions change as position deltas arrive.
  const before = await page.evaluate(() => Object.fromEntries([...window.tianshu.S.positions].map(([k, p]) => [k, [p.longitude, p.latitude]])));
  await page.waitForFunction(() => Number(document.querySelector('#live-updates').textContent) > 0, null, { timeout: 60000 });
  await page.waitForFunction((b) => [...window.tianshu.S.positions].some(([k, p]) => b[k] && (b[k][0] !== p.longitude || b[k][1] !== p.latitude)), before, { timeout: 60000 });
  check(true, `${role} sees cars move (${await num(page, '#live-updates')} position updates)`);
  // Let the map draw the latest picture before the screenshot.
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(artifacts, `live-${role}.png`) });
}

async function replay(page, role) {
  // A car that is moving now has a track in the default range (the last two hours of the fleet clock).
  const plate = await page.evaluate(() => {
    const S = window.tianshu.S;
    const moving = [...S.positions.values()].filter((p) => p.speed_kmh > 5).map((p) => S.vehicles.get(p.vehicle)).filter(Boolean);
    return moving.length ? moving[0].plate : null;
  });
  check(!!plate, `${role} found a moving car to replay`);
  await page.click('#tab-replay');
  await page.fill('#replay-plate', plate);
  await page.click('#replay-load');
  await page.waitForFunction(() => /\d+ /.test(document.querySelector('#replay-info').textContent), null, { timeout: 30000 });
  const info = await page.textContent('#replay-info');
  check(!/^0 /.test(info), `${role} replay of ${plate} loaded: ${info}`);
  const speeds = await page.$$eval('#replay-speed option', (os) => os.map((o) => o.textContent));
  check(speeds.length > 3 && speeds.every((x) => /^\d+× \(/.test(x)), `${role} picks play speeds as multiples of real time (${speeds.join(', ')})`);
  const ticks = await page.$$eval('#timeline-axis .tick', (ts) => ts.map((x) => x.textContent));
  check(ticks.length >= 2 && ticks.every((x) => /^\d\d[:-]\d\d$/.test(x)), `${role} reads the time axis (${ticks.join(' ')})`);
  const charted = await page.$eval('#speed-chart', (c) => Number(c.dataset.points || 0));
  check(charted > 1, `${role} sees the speed chart under the track (${charted} points)`);
  const t0 = await page.textContent('#replay-time');
  await page.selectOption('#replay-speed', '3600');
  await page.click('#replay-play');
  await page.waitForFunction((t) => document.querySelector('#replay-time').textContent !== t, t0, { timeout: 20000 });
  await page.waitForTimeout(1500);
  const t1 = await page.textContent('#replay-time');
  check(t1 > t0, `${role} replay plays on the time axis (${t0} -> ${t1})`);
  await page.screenshot({ path: join(artifacts, `replay-${role}.png`) });
  const exports = await page.$$eval('#replay-exports a', (as) => as.map((a) => a.textContent));
  check(exports.join(',') === 'GEOJSON,GPX,KML,CSV', `${role} has the export buttons`);
}

async function liveAndReplay() {
  for (const role of Object.keys(logins)) {
    await browserFor(async (page) => {
      await login(page, role);
      await seeCarsMove(page, role);
      if (role === 'inspector') await replay(page, role);
      if (role === 'dispatcher') {
        const hidden = await page.isHidden('#tab-replay');
        check(hidden, 'a dispatcher has no replay tab');
      }
    });
  }
}

async function closeCase() {
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await page.click('#tab-alerts');
    await page.waitForSelector('#cases-list .case-row', { timeout: 20000 });
    const n = await page.$$eval('#cases-list .case-row', (rows) => rows.length);
    check(n > 0, `the supervisor's inbox lists ${n} open case(s)`);
    await page.click('#cases-list .case-row');
    await page.waitForSelector('#case-page:not(.hidden) #case-close', { timeout: 20000 });
    const reasoning = await page.textContent('#case-page .reason');
    check(reasoning.includes('无已批准的派车单') && !reasoning.includes('working day'), 'the case page shows the rule\'s reasoning in the user\'s language');
    const title = await page.textContent('#case-title');
    check(title === '非工作时间用车', `the case is titled with the rule's name (${title})`);
    const evidence = await page.$$eval('#case-page table.evidence tbody tr', (rs) => rs.map((r) => r.textContent));
    check(evidence.length === 3 && evidence[0].includes('30.199871, 115.038312') && evidence[0].includes('36.5 公里/小时')
      && evidence[0].includes('2026-11-18 21:05:00'), `the evidence reads in degrees and km/h (${evidence[0]})`);
    const onMap = await page.waitForFunction(() => {
      const { map } = window.tianshu;
      if (map.isMoving()) return false;
      const b = map.getBounds();
      return b.contains([115.038312, 30.199871]) && b.contains([115.06122, 30.214518]) && map.getZoom() > 12;
    }, null, { timeout: 8000, polling: 200 }).then(() => true, () => false);
    check(onMap, 'the map went to the evidence');
    await page.screenshot({ path: join(artifacts, 'case-open.png') });
    await page.click('#case-ack');
    await page.waitForSelector('#case-state[data-state="acknowledged"]', { timeout: 20000 });
    check(true, 'the case was acknowledged');
    await page.fill('#case-note', '临时公务：市政府会议送材料，已补录派车单');
    await page.click('#case-explain');
    await page.waitForSelector('#case-state[data-state="explained"]', { timeout: 20000 });
    check(true, 'the unit\'s explanation was recorded');
    const history = await page.$$eval('#case-page table.history tbody tr', (rs) => rs.map((r) => r.textContent));
    check(history.length === 2 && history[0].includes('已签收') && history[1].includes('已说明') && history[1].includes('已补录派车单'),
      `the history shows each step with its note (${history.join(' | ')})`);
    await page.fill('#case-note', '已核实');
    await page.click('#case-close');
    await page.waitForSelector('#case-state[data-state="closed"]', { timeout: 20000 });
    check(true, 'the case was closed');
    await page.screenshot({ path: join(artifacts, 'case-closed.png') });
  });
}

/** An inspector replays a month of one car, jumps from the replay to one of its cases and reads it on the map. */
async function month() {
  const env = process.env;
  await browserFor(async (page) => {
    await login(page, 'inspector');
    await page.click('#tab-replay');
    const local = (ms) => new Date(Number(ms) + 8 * 3600e3).toISOString().slice(0, 16);
    await page.fill('#replay-plate', env.TIANSHU_PLATE);
    await page.fill('#replay-from', local(env.TIANSHU_FROM));
    await page.fill('#replay-to', local(env.TIANSHU_TO));
    await page.click('#replay-load');
    await page.waitForFunction(() => /^\d+ /.test(document.querySelector('#replay-info').textContent), null, { timeout: 60000 });
    const info = await page.textContent('#replay-info');
    check(info.startsWith(`${env.TIANSHU_POINTS} `), `every stored point of the month is counted (${info})`);
    const drawn = await page.waitForFunction(() => window.tianshu.map.queryRenderedFeatures({ layers: ['track'] }).length > 0,
      null, { timeout: 30000, polling: 200 }).then(() => true, () => false);
    check(drawn, 'the month\'s track is drawn on the map');
    // The track is fitted into the part of the map above the replay's bar: the whole track lies there and,
    // since this month's trips run east and back along one parallel, on that part's middle line.
    const fit = await page.evaluate(() => {
      const { S, map, at } = window.tianshu;
      const col = Object.fromEntries(S.replay.r.columns.map((c, i) => [c, i]));
      const box = map.getContainer().getBoundingClientRect();
      let top = Infinity; let bottom = -Infinity;
      for (const p of S.replay.pts) {
        const y = map.project(at({ longitude: p[col.longitude], latitude: p[col.latitude] })).y + box.top;
        top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
      const bar = document.querySelector('#replay-bar').getBoundingClientRect().top;
      return { top: Math.round(top), bottom: Math.round(bottom), mapTop: Math.round(box.top), mapBottom: Math.round(box.bottom), bar: Math.round(bar) };
    });
    const above = (fit.mapTop + fit.bar) / 2;
    check(fit.top >= fit.mapTop && fit.bottom < fit.bar && Math.abs((fit.top + fit.bottom) / 2 - above) < 40,
      `the fitted track lies above the replay's bar (track ${fit.top}-${fit.bottom} px, the map ${fit.mapTop}-${fit.mapBottom} px, the bar from ${fit.bar} px)`);
    const ticks = await page.$$eval('#timeline-axis .tick', (ts) => ts.map((x) => x.textContent));
    check(ticks.length >= 3 && ticks.every((x) => /^\d\d-\d\d$/.test(x)), `a month's axis reads in dates (${ticks.join(' ')})`);
    // Each rule's episodes in a lane of their own: the five days of silence hide neither night nor holiday.
    const lanes = await page.$$eval('#timeline-marks .episode', (es) => es.map((e) => `${e.dataset.rule}@${e.style.top}`));
    check(lanes.length === 3 && new Set(lanes.map((x) => x.split('@')[1])).size === 3, `each rule's episode has its own lane (${lanes.join(', ')})`);
    // Jump: a press on the case in the replay's list takes the cursor to the episode's start.
    await page.click(`#replay-cases .case-row[data-case="${env.TIANSHU_CASE}"]`);
    const at = await page.textContent('#replay-time');
    check(at === env.TIANSHU_CASE_TIME, `a press on the case takes the replay to its start (${at})`);
    // The car's arrow stands where the episode began: its first evidence point.
    const evidence = JSON.parse(env.TIANSHU_EVIDENCE);
    const cursor = await page.evaluate(() => {
      const c = document.querySelector('canvas.replay-cursor');
      if (!c) return null;
      const r = c.getBoundingClientRect();
      const box = window.tianshu.map.getContainer().getBoundingClientRect();
      const ll = window.tianshu.map.unproject([r.x + r.width / 2 - box.x, r.y + r.height / 2 - box.y]);
      return [ll.lng, ll.lat];
    });
    check(cursor && Math.abs(cursor[0] - evidence[0][0]) < 0.002 && Math.abs(cursor[1] - evidence[0][1]) < 0.002,
      `the car's arrow stands where the episode began (${cursor}, ${evidence[0]})`);
    await page.screenshot({ path: join(artifacts, 'month-jump.png') });
    // Its page: the rule's name, the evidence in degrees, and the map on the episode.
    await page.click(`#replay-cases .case-row[data-case="${env.TIANSHU_CASE}"] .open-case`);
    await page.waitForSelector('#case-page:not(.hidden) #case-title', { timeout: 20000 });
    const title = await page.textContent('#case-title');
    check(title === '非工作时间用车', `the case opens titled with its rule's name (${title})`);
    const rows = await page.$$eval('#case-page table.evidence tbody tr', (rs) => rs.length);
    check(rows === evidence.length, `the case lists its ${rows} evidence points`);
    const onMap = await page.waitForFunction((pts) => {
      const { map } = window.tianshu;
      if (map.isMoving()) return false;
      const b = map.getBounds();
      return pts.every((p) => b.contains(p)) && map.getZoom() > 12;
    }, evidence, { timeout: 8000, polling: 200 }).then(() => true, () => false);
    check(onMap, 'the map went to the episode');
    await page.screenshot({ path: join(artifacts, 'month-case.png') });
  });
}

/**
 * The interface's own words on screen (not data: plates, unit names, reasons a terminal gave): texts of
 * elements the catalogue fills, buttons, headings, table heads, field names, options and placeholders.
 */
const interfaceTexts = (page) => page.$$eval(
  '[data-i18n], button, th, dt, h2, h3, option, label > span, .field > span, .legend .chip, #replay-info, .pill, [placeholder]',
  (els) => els.filter((e) => e.getClientRects().length > 0 || e.tagName === 'OPTION')
    .filter((e) => !e.closest('.unit, .vrow, .case-row, .audit-row, .terminal-row, #card-plate, datalist, .data'))
    .flatMap((e) => [
      [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ').trim(),
      e.getAttribute('placeholder') || '',
    ]).filter(Boolean));

/** Every screen in each language: no word of the other language on it. */
async function languages() {
  await browserFor(async (page) => {
    await login(page, 'administrator');
    await page.waitForFunction(() => Number(document.querySelector('#live-updates').textContent) > 0, null, { timeout: 60000 });
    const words = await page.evaluate(() => window.tianshu.catalogue());
    const cjk = /[\u3400-\u9fff\uff00-\uffef]/;
    const english = new Set(Object.values(words).filter(([zh, en]) => zh !== en && /[a-z]{3}/i.test(en)).map(([, en]) => en));
    const screens = [
      ['live', async () => { await page.click('#tab-live'); await page.click('#vehicle-list .vrow:not([hidden])'); await page.waitForSelector('#car-card:not(.hidden) #card-follow'); }],
      ['replay', async () => {
        await page.click('#tab-replay');
        const plate = await page.evaluate(() => [...window.tianshu.S.vehicles.values()][0].plate);
        await page.fill('#replay-plate', plate); await page.click('#replay-load');
        await page.waitForFunction(() => /\d/.test(document.querySelector('#replay-info').textContent), null, { timeout: 30000 });
      }],
      ['alerts', async () => { await page.click('#tab-alerts'); await page.waitForSelector('#case-states button'); }],
      ['reports', async () => {
        await page.click('#tab-reports'); await page.click('#report-load-unit');
        await page.waitForSelector('#report-page:not(.hidden) .uplot canvas', { timeout: 60000 });
      }],
      ['terminals', async () => { await page.click('#tab-terminals'); await page.waitForSelector('#terminals-list > *', { timeout: 20000 }); }],
      ['audit', async () => { await page.click('#tab-audit'); await page.waitForSelector('#audit-list > *', { timeout: 20000 }); }],
      ['tokens', async () => { await page.click('#tab-tokens'); await page.waitForSelector('#token-add'); }],
      ['orders', async () => {
        await page.click('#tab-orders'); await page.click('#order-states [data-state="all"]');
        await page.click('#orders-table tbody tr'); await page.waitForSelector('#order-detail');
      }],
      // Each management screen with a record open in it.
      ...[['units', '#manage-unit-tree .unit-node', '#unit-detail #unit-timetable'], ['vehicles', '#vehicles-table tbody tr', '#vehicle-edit'],
        ['terminals', '#terminals-table tbody tr', '#terminal-edit'], ['drivers', '#drivers-table tbody tr', '#driver-edit'], ['geofences', '#fences-table tbody tr', '#fence-delete'],
        ['users', '#users-table tbody tr', '#user-toggle'], ['calendars', '#calendars-table tbody tr', '#holidays-table']].map(([screen, row, opened]) => [`manage ${screen}`, async () => {
        await page.click('#tab-manage');
        await page.click(`#manage-tabs [data-screen="${screen}"]`);
        await page.click(row);
        await page.waitForSelector(opened, { timeout: 20000 });
      }]),
      // A complaint: one entered through the desk's form the first time, then opened with its evidence.
      ['complaints', async () => {
        await page.click('#tab-complaints');
        await page.waitForSelector('#complaint-states');
        if (await page.locator('#complaints-list .complaint-row').count() === 0) {
          await page.click('#complaint-new');
          const plate = await page.evaluate(() => [...window.tianshu.S.vehicles.values()][0].plate);
          await page.fill('#complaint-add-plates', `${plate}, 鄂Z0000`);
          await page.fill('#complaint-add-reporter_phone', '13812345678');
          await page.fill('#complaint-add-text', '公车停在商场门口');
          await page.click('#complaint-add-submit');
        } else {
          await page.click('#complaints-list .complaint-row');
        }
        await page.waitForSelector('#complaint-page:not(.hidden) #complaint-forward', { timeout: 20000 });
      }],
      ['casework figures', async () => {
        await page.click('#tab-complaints');
        await page.click('#casework-figures');
        await page.waitForSelector('#figures-total', { timeout: 20000 });
      }],
      // The car pool: a request asked for through the form the first time (opened with its offers), then opened.
      ['carpool', async () => {
        await page.click('#tab-carpool');
        await page.waitForSelector('#pool-states');
        if (await page.locator('#pool-list .pool-row').count() === 0) {
          if (!await page.$('#pool-add')) await page.click('#pool-new');
          await page.selectOption('#pool-add-unit', { index: 1 });
          await page.fill('#pool-add-from-name', '市委大院');
          await page.fill('#pool-add-from-lon', '115.0');
          await page.fill('#pool-add-from-lat', '30.2');
          await page.fill('#pool-add-destinations', '东站, 115.1, 30.2');
          await page.fill('#pool-add-purpose', '调研');
          await page.click('#pool-add-submit');
        } else {
          await page.click('#pool-list .pool-row');
        }
        await page.waitForSelector('#pool-page:not(.hidden) #pool-title', { timeout: 20000 });
      }],
      ['carpool form', async () => {
        await page.click('#tab-carpool'); await page.waitForSelector('#pool-states');
        if (!await page.$('#pool-add')) await page.click('#pool-new');
        await page.waitForSelector('#pool-add');
      }],
      ['yearly figures', async () => {
        await page.click('#tab-reports'); await page.click('#yearly-load');
        await page.waitForSelector('#yearly-page:not(.hidden) #yearly-days', { timeout: 60000 });
        await page.waitForSelector('#yearly-page #yearly-casework tbody tr');
        await page.waitForSelector('#yearly-page #yearly-fuel tbody tr');
      }],
      ['fuel', async () => { await page.click('#tab-fuel'); await page.waitForSelector('#fuel-findings[data-filter]', { timeout: 20000 }); }],
      // The alert channels: one added through the screen's own form the first time, then opened.
      ['manage channels', async () => {
        await page.click('#tab-manage');
        await page.click('#manage-tabs [data-screen="channels"]');
        await page.waitForSelector('#channel-add');
        if (await page.locator('#channels-table tbody tr').count() === 0) {
          await page.fill('#channel-add-name', '值班室');
          await page.selectOption('#channel-add-kind', 'email');
          await page.fill('#channel-add-address', 'duty@example.invalid');
          await page.click('#channel-add-submit');
        } else {
          await page.click('#channels-table tbody tr');
        }
        await page.waitForSelector('#channel-edit', { timeout: 20000 });
      }],
    ];
    for (const lang of ['zh', 'en']) {
      if (await page.evaluate(() => window.tianshu.currentLang()) !== lang) {
        await page.click('header .lang-toggle');
        await page.waitForFunction((l) => window.tianshu.currentLang() === l, lang);
      }
      for (const [name, open] of screens) {
        await open();
        const texts = await interfaceTexts(page);
        const leaks = lang === 'en' ? texts.filter((x) => cjk.test(x)) : texts.filter((x) => english.has(x));
        check(leaks.length === 0, `${lang} ${name}: ${texts.length} texts, none in the other language (${leaks.join(' | ')})`);
      }
      await page.screenshot({ path: join(artifacts, `manage-${lang}.png`) });
      await page.click('#tab-audit');
      await page.waitForSelector('#audit-list tbody tr', { timeout: 20000 });
      await page.screenshot({ path: join(artifacts, `audit-${lang}.png`) });
      if (lang === 'zh') {
        // The audit table filters on any text of a row: the administrator's own records.
        const me = logins.administrator.username;
        const total = await page.$$eval('#audit-list tbody tr', (rs) => rs.length);
        await page.fill('#audit-filter', me);
        const shown = await page.$$eval('#audit-list tbody tr:not(.hidden)', (rs) => rs.map((r) => r.textContent));
        check(shown.length > 0 && shown.length <= total && shown.every((x) => x.includes(me)),
          `the audit table filtered by "${me}" shows ${shown.length} of ${total} records, each naming them`);
        await page.fill('#audit-filter', '');
      }
    }
  });
}

/** An alert on the live feed: the supervisor's opens its case, the dispatcher's (no cases) its car. */
async function alertFeed() {
  for (const [role, opens] of [['supervisor', '#case-page:not(.hidden) #case-title'], ['dispatcher', '#car-card:not(.hidden) #card-plate']]) {
    await browserFor(async (page) => {
      await login(page, role);
      await page.waitForSelector('#live-alerts .alert-row', { timeout: 20000 });
      const text = await page.textContent('#live-alerts .alert-row');
      check(text.includes('非工作时间用车'), `${role} reads the alert by the rule's name (${text})`);
      await page.click('#live-alerts .alert-row');
      await page.waitForSelector(opens, { timeout: 10000 });
      check(true, `${role}'s press on the alert opens ${role === 'dispatcher' ? 'the car' : 'the case'}`);
    });
  }
}

/** A phone: a supervisor reads the inbox, opens a case over its map and handles it by touch. */
async function phone() {
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await page.tap('#tab-alerts');
    await page.waitForSelector('#cases-list .case-row', { timeout: 20000 });
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    check(await fits(), 'the inbox fits the screen\'s width');
    const row = await page.locator('#cases-list .case-row').first().boundingBox();
    check(row.width >= 350 && row.height >= 44, `a case in the inbox is a full-width touch target (${Math.round(row.width)}x${Math.round(row.height)})`);
    await page.tap('#cases-list .case-row');
    await page.waitForSelector('#case-page:not(.hidden) #case-close', { timeout: 20000 });
    const sheet = await page.locator('#case-page').boundingBox();
    const mapBox = await page.locator('#map').boundingBox();
    check(sheet.width >= 385 && sheet.y > mapBox.y + 100, 'the case opens as a sheet with the map above it');
    const small = await page.$$eval('#case-page button', (bs) => bs.filter((b) => b.getBoundingClientRect().height < 44 || b.getBoundingClientRect().width < 44).map((b) => b.textContent));
    check(small.length === 0, `every button of the case is at least 44 px (${small.join(', ')})`);
    check(await fits(), 'the case fits the screen\'s width');
    const onMap = await page.waitForFunction((top) => {
      const { map } = window.tianshu;
      if (map.isMoving()) return false;
      // The evidence is on the part of the map the sheet leaves visible.
      return [[115.038312, 30.199871], [115.06122, 30.214518]].every((c) => {
        const p = map.project(c); return p.y > 0 && p.y < top && p.x > 0 && p.x < map.getContainer().clientWidth;
      });
    }, sheet.y - mapBox.y, { timeout: 8000, polling: 200 }).then(() => true, () => false);
    check(onMap, 'the evidence shows on the map above the sheet');
    await page.screenshot({ path: join(artifacts, 'phone-case.png') });
    await page.tap('#case-ack');
    await page.waitForSelector('#case-state[data-state="acknowledged"]', { timeout: 20000 });
    check(true, 'the case was acknowledged by touch');
    await page.tap('#case-page .close');
    await page.waitForSelector('#cases-list', { state: 'visible' });
    check(true, 'closing the sheet goes back to the inbox');
  }, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
}

/** The car list's rows drawn now (the list draws only the rows in view): each row's vehicle and dot colour,
 * read in one go. */
/** How many cars the list holds (its count, "shown / fleet"), whether drawn or reached by scrolling. */
const listNow = (page) => page.$$eval('#vehicle-list .vrow:not([hidden])', (rows) => rows.map((r) => ({
  id: Number(r.dataset.vehicle), plate: r.childNodes[1].textContent, color: getComputedStyle(r.querySelector('i')).backgroundColor,
})));

/** How long the live screen's checks wait for a press (or a filter, a fit) to show its effect. A lost press
 * never shows it, however long the wait, so the budget only has to outlast a slow one: with WebGL drawn
 * in software each frame of a moving map (a car flown to, a unit fitted, Follow's camera) holds the
 * page's main thread for 0.3-2 s on a loaded machine, and a press waits behind a few of them for its
 * element to be still and then for its effect: at load averages of 17-19 the slowest of 20 presses on the
 * car list took 5.0 s and 6.3 s in two runs (the checks print it), past the 5 s they used to allow. */
const PRESS_MS = 60000;

async function findCars(page) {
  await login(page, 'dispatcher');
  await page.waitForFunction(() => Number(document.querySelector('#live-updates').textContent) > 0, null, { timeout: 60000 });
  const chipCounts = () => page.$$eval('#legend .chip', (cs) => Object.fromEntries(cs.map((c) => [c.dataset.state, Number(c.querySelector('.count').textContent)])));
  // The chips count at the list's next refresh (once a second) after the fleet arrived.
  await page.waitForFunction(() => [...document.querySelectorAll('#legend .chip .count')].reduce((a, c) => a + Number(c.textContent), 0) > 0, null, { timeout: PRESS_MS });
  const counts = await chipCounts();
  const total = await page.evaluate(() => window.tianshu.S.vehicles.size);
  const sum = Object.values(counts).reduce((a, b) => a + b, 0);
  check(sum === total, `the state chips count every car once (${JSON.stringify(counts)}, ${total} cars)`);
  // Pressing "moving" lists moving cars only; the colours and the chip are read from one rendering.
  await page.click('#legend .chip[data-state="moving"]');
  await page.waitForSelector('#legend .chip.active[data-state="moving"]');
  const moving = await page.evaluate(() => {
    const rows = [...document.querySelectorAll('#vehicle-list .vrow:not([hidden])')];
    const want = getComputedStyle(document.querySelector('#legend .chip[data-state="moving"] i')).backgroundColor;
    return { rows: rows.length, same: rows.every((r) => getComputedStyle(r.querySelector('i')).backgroundColor === want),
      chip: Number(document.querySelector('#legend .chip[data-state="moving"] .count').textContent) };
  });
  check(moving.rows > 0 && moving.rows < total && moving.same, `"moving" lists the moving cars only (${moving.rows} of ${total}, chip ${moving.chip})`);
  await page.click('#legend .chip[data-state="moving"]');
  await page.waitForFunction((n) => Number(document.querySelector('#list-count').textContent.split('/')[0]) === n, total, { timeout: PRESS_MS });
  check(true, 'pressing the chip again lists every car');
  // A plate typed in part.
  const some = (await listNow(page))[3];
  const part = some.plate.slice(-4);
  await page.fill('#plate-search', part);
  await page.waitForFunction((n) => Number(document.querySelector('#list-count').textContent.split('/')[0]) < n, total, { timeout: PRESS_MS });
  const found = await listNow(page);
  check(found.some((r) => r.id === some.id) && found.every((r) => r.plate.includes(part)), `typing "${part}" lists the cars whose plates hold it (${found.length})`);
  await page.fill('#plate-search', '');
  // A unit with cars: the list holds its cars only and the map fits them.
  const unit = await page.$$eval('#unit-tree .unit[data-unit]', (us) => {
    const u = us.find((x) => Number(x.querySelector('.count').textContent) > 2 && x.nextSibling === null);
    return u ? { id: u.dataset.unit, cars: Number(u.querySelector('.count').textContent) } : null;
  });
  check(!!unit, 'a unit without sub-units has cars');
  await page.click(`#unit-tree .unit[data-unit="${unit.id}"]`);
  await page.waitForFunction((n) => Number(document.querySelector('#list-count').textContent.split('/')[0]) === n, unit.cars, { timeout: PRESS_MS });
  check(true, `picking a unit lists its ${unit.cars} cars`);
  const fits = await page.waitForFunction((u) => {
    const { S, map } = window.tianshu;
    if (map.isMoving()) return false;
    const b = map.getBounds();
    const cars = [...S.vehicles.values()].filter((v) => String(v.unit) === u && S.positions.get(v.id));
    return cars.length > 0 && cars.every((v) => { const p = S.positions.get(v.id); return b.contains([p.longitude, p.latitude]) || b.contains(window.tianshu.at(p)); });
  }, unit.id, { timeout: PRESS_MS, polling: 200 }).then(() => true, () => false);
  check(fits, 'the map fits the unit\'s cars');
  await page.screenshot({ path: join(artifacts, 'unit-picked.png') });
}

/** Every press on the live list and on Follow takes effect while the live feed updates the page. */
async function clicks() {
  await browserFor(findCars);
  await browserFor(async (page) => {
    await login(page, 'administrator');
    await page.waitForFunction(() => Number(document.querySelector('#live-updates').textContent) > 0, null, { timeout: 60000 });
    const updatesBefore = await num(page, '#live-updates');
    const total = await page.evaluate(() => window.tianshu.S.vehicles.size);
    await page.waitForFunction((n) => document.querySelector('#list-count').textContent === `${n} / ${n}`, total, { timeout: PRESS_MS });
    const drawn = await page.$$eval('#vehicle-list .vrow:not([hidden])', (rows) => rows.length);
    check(drawn > 0 && drawn < total, `the car list holds the whole fleet and draws the rows in view (${total} listed, ${drawn} drawn)`);
    let opened = 0;
    // The slowest press, from the press asked for to its effect: what a budget has to outlast.
    let slowest = 0;
    for (let i = 0; i < 20; i++) {
      const row = page.locator('#vehicle-list .vrow:not([hidden])').nth(i % 8);
      const id = await row.getAttribute('data-vehicle');
      const t0 = Date.now();
      await row.click({ timeout: PRESS_MS });
      const shown = await page.waitForFunction((v) => {
        const S = window.tianshu.S;
        return String(S.cardVehicle) === v && document.querySelector('#card-plate')?.textContent === S.vehicles.get(Number(v)).plate;
      }, id, { timeout: PRESS_MS }).then(() => true, () => false);
      if (shown) opened += 1;
      slowest = Math.max(slowest, Date.now() - t0);
    }
    check(opened === 20, `20 presses on the car list opened 20 cards (${opened}; the slowest took ${slowest} ms)`);
    // The fleet's last car, reached by scrolling the list to its end, opens with a press too.
    const last = await page.evaluate(() => { const vs = [...window.tianshu.S.vehicles.values()]; return vs[vs.length - 1]; });
    await page.locator('#vehicle-list').evaluate((e) => { e.scrollTop = e.scrollHeight; });
    const lastRow = page.locator(`#vehicle-list .vrow[data-vehicle="${last.id}"]`);
    await lastRow.waitFor({ timeout: PRESS_MS });
    check(await lastRow.textContent().then((x) => x.includes(last.plate)), `scrolling to the list's end draws the fleet's last car (${last.plate})`);
    await lastRow.click({ timeout: PRESS_MS });
    const lastOpened = await page.waitForFunction((v) => window.tianshu.S.cardVehicle === v.id
      && document.querySelector('#card-plate')?.textContent === v.plate, last, { timeout: PRESS_MS }).then(() => true, () => false);
    check(lastOpened, `a press on a row reached by scrolling opens its car (${last.plate})`);
    let toggled = 0;
    slowest = 0;
    for (let i = 0; i < 20; i++) {
      const want = i % 2 === 0;
      const t0 = Date.now();
      await page.click('#card-follow', { timeout: PRESS_MS });
      const ok = await page.waitForFunction((w) => (window.tianshu.S.follow !== null) === w
        && document.querySelector('#card-follow').dataset.following === String(w), want, { timeout: PRESS_MS }).then(() => true, () => false);
      if (ok) toggled += 1;
      slowest = Math.max(slowest, Date.now() - t0);
    }
    check(toggled === 20, `20 presses on Follow each took effect (${toggled}; the slowest took ${slowest} ms)`);
    const updatesAfter = await num(page, '#live-updates');
    check(updatesAfter > updatesBefore, `the live feed kept updating meanwhile (${updatesBefore} -> ${updatesAfter} updates)`);
    // Follow on, then a hand pan stops it.
    await page.click('#card-follow');
    await page.waitForFunction(() => window.tianshu.S.follow !== null);
    const box = await page.locator('#map').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 8 });
    await page.mouse.up();
    const stopped = await page.waitForFunction(() => window.tianshu.S.follow === null, null, { timeout: PRESS_MS }).then(() => true, () => false);
    check(stopped, 'panning the map by hand stops Follow');
    // Follow on, then opening replay stops it.
    await page.click('#card-follow');
    await page.waitForFunction(() => window.tianshu.S.follow !== null);
    await page.click('#tab-replay');
    const left = await page.waitForFunction(() => window.tianshu.S.follow === null, null, { timeout: PRESS_MS }).then(() => true, () => false);
    check(left, 'opening replay stops Follow');
  });
}

/** Opens the card of `plate` through the plate search and the vehicle list (works for cars with no fix yet). */
async function openCardOf(page, plate) {
  await page.fill('#plate-search', plate);
  await page.waitForSelector(`#vehicle-list .vrow:has-text("${plate}")`, { timeout: 20000 });
  await page.click(`#vehicle-list .vrow:has-text("${plate}")`);
  await page.waitForFunction((p) => document.querySelector('#card-plate')?.textContent === p, plate, { timeout: 20000 });
}

/** Waits until a command's result box leaves "pending"; returns its outcome and text. */
async function commandResult(page, kind) {
  return resultOf(page, `#cmd-${kind}-result`);
}

async function commands() {
  const offlinePlate = process.env.TIANSHU_OFFLINE_PLATE;
  check(!!offlinePlate, 'a plate whose terminal never connects');
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    // A car that is reporting now: its terminal is connected.
    await page.waitForFunction(() => Number(document.querySelector('#live-count').textContent) > 0, null, { timeout: 30000 });
    await page.waitForFunction(() => Number(document.querySelector('#live-updates').textContent) > 0, null, { timeout: 60000 });
    const plate = await page.evaluate(() => {
      const S = window.tianshu.S;
      const fresh = [...S.positions.values()].sort((a, b) => Date.parse(b.fix_time) - Date.parse(a.fix_time))[0];
      return fresh ? S.vehicles.get(fresh.vehicle).plate : null;
    });
    check(!!plate, `the dispatcher picked a reporting car (${plate})`);
    await openCardOf(page, plate);
    check(await page.isVisible('#cmd-query'), 'the dispatcher sees the query position button');

    await page.click('#cmd-query');
    const query = await commandResult(page, 'query');
    check(query.outcome === 'answered', `the terminal answered the position query: ${query.outcome} "${query.text}"`);
    const when = await page.textContent('#cmd-query-result .answer-time');
    const where = await page.textContent('#cmd-query-result .answer-position');
    const speed = await page.textContent('#cmd-query-result .answer-speed');
    check(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(when), `the card shows the reported fix time (${when})`);
    const [lat, lon] = where.split(',').map(Number);
    // The demo's cars drive around Huangshi.
    check(lat > 29 && lat < 31 && lon > 114 && lon < 116, `the card shows the reported position (${where})`);
    check(/^\d+\.\d /.test(speed), `the card shows the reported speed (${speed})`);

    await page.fill('#cmd-track-interval', '5');
    await page.fill('#cmd-track-minutes', '2');
    await page.click('#cmd-track');
    const track = await commandResult(page, 'track');
    check(track.outcome === 'answered', `the terminal accepted temporary tracking: "${track.text}"`);
    check(track.text.includes('5') && track.text.includes('2'), 'the card repeats the tracking interval and duration');

    await page.fill('#cmd-text', '请于十五时前返回市政府车库');
    await page.click('#cmd-send-text');
    const text = await commandResult(page, 'text');
    check(text.outcome === 'answered', `the terminal acknowledged the text: "${text.text}"`);
    check(/0x0001/.test(text.text) && /成功|success/.test(text.text), 'the card shows the 0x0001 result');
    await page.screenshot({ path: join(artifacts, 'commands-answered.png') });

    // An empty text is refused by the page before anything is sent.
    await page.fill('#cmd-text', '   ');
    await page.click('#cmd-send-text');
    const empty = await commandResult(page, 'text');
    check(empty.outcome === 'invalid', `an empty text is not sent: "${empty.text}"`);

    await openCardOf(page, offlinePlate);
    const noFix = await page.textContent('#cmd-query-result');
    check(noFix === '', 'another car\'s card starts without the last car\'s answers');
    await page.click('#cmd-query');
    const offline = await commandResult(page, 'query');
    check(offline.outcome === 'not_connected' && /终端未连接|not connected/.test(offline.text), `a car whose terminal is not connected says so: "${offline.text}"`);
    await page.screenshot({ path: join(artifacts, 'commands-not-connected.png') });
    // In English the panel and the answer it keeps read in English.
    await page.click('header .lang-toggle');
    await page.waitForFunction(() => document.querySelector('#cmd-query')?.textContent === 'Query position', null, { timeout: 10000 });
    const english = await page.textContent('#cmd-query-result');
    check(/not connected/.test(english), `the answer reads in English after switching: "${english}"`);
    await page.screenshot({ path: join(artifacts, 'commands-en.png') });
  });
  await browserFor(async (page) => {
    await login(page, 'inspector');
    await page.waitForFunction(() => Number(document.querySelector('#live-count').textContent) > 0, null, { timeout: 30000 });
    const vid = await page.evaluate(() => [...window.tianshu.S.positions.keys()][0]);
    const plate = await page.evaluate((v) => window.tianshu.S.vehicles.get(v).plate, vid);
    await openCardOf(page, plate);
    const buttons = await page.$$eval('#car-card button', (bs) => bs.map((b) => b.id).filter(Boolean));
    check(!buttons.some((b) => b.startsWith('cmd-')), `an inspector's card has no command buttons (${buttons.join(',')})`);
    const status = await page.evaluate(async (v) => (await fetch(`/api/vehicles/${v}/commands`, {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'query_position' }),
    })).status, vid);
    check(status === 403, `the API refuses an inspector's command (${status})`);
  });
}

/** Logged in as `role`, with the card of the car TIANSHU_PLATE names open: runs `steps(page)`. */
async function onPlateCard(role, steps) {
  const plate = process.env.TIANSHU_PLATE;
  check(!!plate, 'a plate to open');
  await browserFor(async (page) => {
    await login(page, role);
    await openCardOf(page, plate);
    await steps(page);
  });
}

async function commandFailures() {
  await onPlateCard('dispatcher', async (page) => {
    await page.click('#cmd-query');
    const query = await commandResult(page, 'query');
    check(query.outcome === 'timed_out' && /未在规定时间内应答/.test(query.text), `a query the terminal does not answer says so: "${query.text}"`);
    await page.fill('#cmd-text', '请回单位');
    await page.click('#cmd-send-text');
    const text = await commandResult(page, 'text');
    check(text.outcome === 'refused' && /拒绝/.test(text.text) && /3/.test(text.text) && /不支持/.test(text.text), `a text the terminal refuses says so, with its result: "${text.text}"`);
    await page.screenshot({ path: join(artifacts, 'commands-refused.png') });
  });
}

/** Waits until the result box `sel` (of a command or of the terminal panel) leaves "pending"; returns its outcome and text. */
async function resultOf(page, sel) {
  await page.waitForFunction((s) => { const b = document.querySelector(s); return b && b.dataset.outcome && b.dataset.outcome !== 'pending'; }, sel, { timeout: 60000 });
  return page.$eval(sel, (b) => ({ outcome: b.dataset.outcome, text: b.textContent }));
}

async function terminalPanel() {
  await onPlateCard('administrator', async (page) => {
    await page.waitForSelector('#term-clock-found', { timeout: 20000 });
    const found = await page.textContent('#term-clock-found');
    check(/^\+8 h/.test(found), `the panel shows the clock offset found in the fixes (${found})`);
    check(await page.isVisible('#term-clock-use-found'), 'an administrator is offered the offset found');
    await page.screenshot({ path: join(artifacts, 'terminal-clock-found.png') });
    await page.click('#term-clock-use-found');
    await page.waitForFunction(() => document.querySelector('#term-clock-set-now')?.textContent === '+8 h', null, { timeout: 20000 });
    check(!(await page.isVisible('#term-clock-use-found')), 'the correction set equals the offset found');
    check(true, 'the administrator corrected the clock by +8 h');

    await page.click('#term-params');
    const params = await resultOf(page, '#term-result');
    check(params.outcome === 'answered', `the terminal answered the parameter query: "${params.text}"`);
    const heartbeat = await page.textContent('#term-result tr[data-id="1"] .value');
    const server = await page.textContent('#term-result tr[data-id="19"] .value');
    check(heartbeat === '30' && server === 'gw.example.cn:6808', `the panel shows the parameters decoded (${heartbeat}, ${server})`);
    await page.screenshot({ path: join(artifacts, 'terminal-parameters.png') });
    await page.click('#term-attrs');
    await page.waitForSelector('#term-result .attr-model', { timeout: 20000 });
    check((await page.textContent('#term-result .attr-model')) === 'BSJ-A6', 'the panel shows the attributes');
    await page.fill('#term-set-id', '0x0055');
    await page.selectOption('#term-set-kind', 'number');
    await page.fill('#term-set-value', '100');
    await page.click('#term-set');
    const set = await resultOf(page, '#term-result');
    check(set.outcome === 'answered' && /0x0001/.test(set.text), `the terminal acknowledged the parameter: "${set.text}"`);
  });
}

async function reregistration() {
  const unit = process.env.TIANSHU_UNIT;
  check(!!unit, 'a unit to require approval for');
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    await page.click('#tab-terminals');
    await page.waitForSelector('.terminal-row');
    const rows = await page.$$eval('.terminal-row', (rs) => rs.map((r) => r.dataset.phone));
    check(rows.length > 0 && rows.every((p) => p.includes('*')), `a dispatcher sees the phones masked (${rows.join(',')})`);
    check((await page.$$('.terminal-row button')).length === 0, 'a dispatcher has no approve or reject buttons');
  });
  await browserFor(async (page) => {
    await login(page, 'administrator');
    await page.click('#tab-terminals');
    await page.waitForSelector('.pending-registration[data-state="awaiting_approval"] button.approve');
    check(true, 'the administrator sees a re-registration awaiting approval');
    await page.click(`input[data-unit="${unit}"]`);
    await page.waitForFunction((u) => window.tianshu.S.units.some((x) => String(x.id) === u && x.reregistration_approval), unit);
    check(true, 'the administrator required approval for the unit');
    await page.click('.pending-registration button.approve');
    await page.waitForSelector('.pending-registration[data-state="approved"]');
    check(true, 'the re-registration was approved');
    await page.screenshot({ path: join(artifacts, 'terminals-approved.png') });
  });
}

/** Waits until the map has drawn everything it asked for (sources loaded, no transition running). */
async function mapIdle(page) {
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.tianshu.map;
    map.once('idle', resolve);
    map.triggerRepaint();
  }));
}

/** Two PNG screenshots of the same size compared by the page itself (the driver has no image library):
 * how many of `points` differ clearly, and the share of all pixels that do. */
async function comparePixels(page, pngA, pngB, points) {
  return page.evaluate(async ([a64, b64, pts]) => {
    const decode = async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const c = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = c.getContext('2d');
      g.drawImage(bitmap, 0, 0);
      return { width: bitmap.width, data: g.getImageData(0, 0, bitmap.width, bitmap.height).data };
    };
    const [a, b] = [await decode(a64), await decode(b64)];
    const far = (i) => Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1]) + Math.abs(a.data[i + 2] - b.data[i + 2]) > 30;
    const differ = pts.filter((p) => far((p.y * a.width + p.x) * 4)).length;
    let changed = 0;
    for (let i = 0; i < a.data.length; i += 4) if (far(i)) changed += 1;
    return { differ, share: changed / (a.data.length / 4) };
  }, [pngA.toString('base64'), pngB.toString('base64'), points]);
}

// The demo's basemap with the network closed: every request to anything but the server is aborted, the
// map is shown at street zoom over the city, and a screenshot with the basemap's layers is compared with
// one of the same view without them (the empty map): the pixels along the roads differ. Then plate labels
// show at street zoom, and not when zoomed out.
async function basemapOffline() {
  await browserFor(async (page) => {
    const origin = new URL(url).origin;
    const blocked = [];
    await page.context().route('**/*', (route) => {
      const u = route.request().url();
      if (new URL(u).origin === origin) return route.continue();
      blocked.push(u);
      return route.abort('internetdisconnected');
    });
    await login(page, 'dispatcher');
    await page.waitForFunction(() => window.tianshu.map && window.tianshu.map.getSource('basemap') && window.tianshu.map.getLayer('cars'), null, { timeout: 20000 });
    // Only the map: cars, labels and the page's own overlays hidden in both pictures (cars move between them).
    await page.addStyleTag({ content: '.maplibregl-marker, .maplibregl-control-container, #car-card { display: none !important; }' });
    const own = ['clusters', 'cars', 'plates', 'fence-fill', 'fence-line'];
    await page.evaluate((own) => {
      const map = window.tianshu.map;
      for (const id of own) map.setLayoutProperty(id, 'visibility', 'none');
      map.jumpTo({ center: [115.04, 30.2], zoom: 13.5 });
    }, own);
    await mapIdle(page);
    const map = await page.$('#map');
    const withBasemap = await map.screenshot({ path: join(artifacts, 'basemap-offline.png') });
    // Road centre lines as drawn, in screen pixels.
    const roads = await page.evaluate(() => {
      const m = window.tianshu.map;
      const { width, height } = m.getCanvas().getBoundingClientRect();
      const points = [];
      for (const f of m.queryRenderedFeatures({ layers: ['bm-roads'] })) {
        const lines = f.geometry.type === 'LineString' ? [f.geometry.coordinates] : f.geometry.coordinates;
        for (const line of lines) {
          for (let i = 0; i + 1 < line.length; i += 1) {
            // Mid-points of segments: away from junctions, where other roads cross.
            const a = m.project(line[i]); const b = m.project(line[i + 1]);
            const p = { x: Math.round((a.x + b.x) / 2), y: Math.round((a.y + b.y) / 2) };
            if (p.x > 5 && p.y > 5 && p.x < width - 5 && p.y < height - 5) points.push(p);
          }
        }
      }
      return { points, kinds: [...new Set(m.queryRenderedFeatures({ layers: ['bm-roads'] }).map((f) => f.properties.kind))] };
    });
    check(roads.points.length >= 20, `roads of the demo basemap are drawn in view (${roads.points.length} segments, ${roads.kinds.join(', ')})`);
    await page.evaluate(() => {
      const map = window.tianshu.map;
      for (const id of window.tianshu.basemapLayers) map.setLayoutProperty(id, 'visibility', 'none');
    });
    await mapIdle(page);
    const empty = await map.screenshot({ path: join(artifacts, 'basemap-empty.png') });
    const { differ, share } = await comparePixels(page, withBasemap, empty, roads.points);
    check(differ >= roads.points.length * 0.9, `the screenshot differs from the empty map along the roads (${differ} of ${roads.points.length} road points)`);
    check(share > 0.01, `the basemap changes ${(share * 100).toFixed(1)}% of the map's pixels`);
    check(blocked.length === 0, `nothing was asked of the network beyond the server (${blocked.length} requests: ${blocked.slice(0, 3).join(' ')})`);
    // Plate labels: at street zoom over a car, its plate is drawn; zoomed out, none.
    await page.evaluate((own) => {
      const map = window.tianshu.map;
      for (const id of window.tianshu.basemapLayers) map.setLayoutProperty(id, 'visibility', 'visible');
      for (const id of own) map.setLayoutProperty(id, 'visibility', 'visible');
      const S = window.tianshu.S;
      const [id, p] = [...S.positions].find(([v]) => S.vehicles.has(v));
      window.plateCar = S.vehicles.get(id).plate;
      map.jumpTo({ center: window.tianshu.at(p), zoom: 15.5 });
    }, own);
    await page.waitForFunction(() => window.tianshu.map.queryRenderedFeatures({ layers: ['plates'] }).some((f) => f.properties.plate === window.plateCar), null, { timeout: 20000 });
    const plate = await page.evaluate(() => window.plateCar);
    await page.screenshot({ path: join(artifacts, 'basemap-plates.png') });
    check(true, `the plate ${plate} is labelled at street zoom`);
    await page.evaluate(() => window.tianshu.map.jumpTo({ zoom: 12 }));
    await mapIdle(page);
    const labels = await page.evaluate(() => window.tianshu.map.queryRenderedFeatures({ layers: ['plates'] }).length);
    check(labels === 0, `no plate labels below street zoom (${labels})`);
  });
}

// The basemap's tiles fail (an unreachable tile server and a configured archive that is not there): the
// page says so once, in the user's language, and the map keeps working.
async function tilesFail() {
  await browserFor(async (page) => {
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
    await login(page, 'administrator');
    await page.waitForSelector('#map-notice', { timeout: 20000 });
    // More tiles asked for (and failing) after the first failure.
    for (const zoom of [8, 11, 13, 9]) {
      await page.evaluate((z) => window.tianshu.map.jumpTo({ zoom: z, center: [115.0 + z / 100, 30.2] }), zoom);
      await mapIdle(page);
    }
    const notices = await page.$$eval('#map-notice', (ns) => ns.map((n) => n.textContent));
    const words = await page.evaluate(() => window.tianshu.catalogue().tiles_failed);
    check(notices.length === 1 && notices[0].includes(words[0]), `the page says once that the tiles fail (${notices.length}: ${notices[0]})`);
    await page.screenshot({ path: join(artifacts, 'tiles-failed.png') });
    await page.click('.lang-toggle >> visible=true');
    const english = await page.textContent('#map-notice');
    check(english.includes(words[1]), `the notice reads in English after switching (${english})`);
    const cars = await page.evaluate(() => window.tianshu.map.getSource('cars') && window.tianshu.map.isSourceLoaded('cars'));
    await page.evaluate(() => window.tianshu.map.jumpTo({ zoom: 14 }));
    await mapIdle(page);
    const zoom = await page.evaluate(() => window.tianshu.map.getZoom());
    check(cars && Math.round(zoom) === 14, 'the map keeps working (cars drawn, zooms)');
    await page.click('#map-notice .close');
    await page.evaluate(() => window.tianshu.map.jumpTo({ zoom: 10, center: [114.9, 30.1] }));
    await mapIdle(page);
    check(await page.$('#map-notice') === null, 'a closed notice does not come back');
    check(errors.length === 0, `the console is not flooded (${errors.length} errors: ${errors.slice(0, 2).join(' | ')})`);
  });
}

/** The text of the error shown next to `field` of form `form` once there is one. */
async function fieldError(page, form, field) {
  const sel = `#${form} [data-error-for="${field}"]`;
  await page.waitForFunction((q) => document.querySelector(q) && document.querySelector(q).textContent.length > 0, sel, { timeout: 10000 });
  return page.textContent(sel);
}

/** The API's answer to GET `path`, fetched by the page with its session. */
const apiGet = (page, path) => page.evaluate(async (p) => (await fetch(p)).json(), path);

/**
 * An administrator adds a unit, a vehicle of it, a terminal for the vehicle and a geofence drawn on the map
 * (then drags a vertex of it), each refusal of a bad field shown next to that field; the audit table shows
 * each change. The screens fit a phone's width.
 */
async function manage() {
  const UNIT = '测试处';
  const PLATE = '鄂A9T001';
  const PHONE = '13912345678';
  const FENCE = '测试禁入区';
  const DRIVER = '张师傅';
  await browserFor(async (page) => {
    await login(page, 'administrator');
    await page.click('#tab-manage');
    await page.waitForSelector('#manage-unit-tree .unit-node');
    // A unit below the first root; a name with '/' is refused next to the name.
    const parent = await page.$eval('#unit-add-parent option:nth-child(2)', (o) => o.value);
    await page.fill('#unit-add-name', '坏/名字');
    await page.selectOption('#unit-add-parent', parent);
    await page.click('#unit-add-submit');
    const nameError = await fieldError(page, 'unit-add', 'name');
    check(nameError.includes('/'), `a unit name with '/' is refused next to the name field (${nameError})`);
    await page.fill('#unit-add-name', UNIT);
    await page.click('#unit-add-submit');
    await page.waitForSelector('#manage-unit-tree .unit-node.selected');
    const unit = await page.$eval('#manage-unit-tree .unit-node.selected', (e) => ({ id: e.dataset.unit, text: e.textContent }));
    check(unit.text.startsWith(UNIT), `the new unit is in the tree, selected (${unit.text})`);
    const parentOfNew = await page.$eval(`#manage-unit-tree .unit-node[data-unit="${unit.id}"]`, (e) => e.closest('ul').closest('li').querySelector('.unit-node').dataset.unit);
    check(parentOfNew === parent, 'the new unit hangs below the parent chosen');

    // A vehicle of the new unit; an empty plate is refused next to the plate.
    await page.click('#manage-tabs [data-screen="vehicles"]');
    await page.waitForSelector('#vehicle-add');
    await page.selectOption('#vehicle-add-unit', unit.id);
    await page.click('#vehicle-add-submit');
    const plateError = await fieldError(page, 'vehicle-add', 'plate');
    check(/plate/.test(plateError), `an empty plate is refused next to the plate field (${plateError})`);
    await page.fill('#vehicle-add-plate', PLATE);
    await page.selectOption('#vehicle-add-class', 'confidential');
    await page.click('#vehicle-add-submit');
    await page.waitForSelector('#vehicles-table tr.selected');
    const vrow = await page.textContent('#vehicles-table tr.selected');
    check(vrow.includes(PLATE) && vrow.includes(UNIT), `the new vehicle is listed with its unit (${vrow})`);

    // A terminal for it; a phone that is not digits is refused next to the phone.
    await page.click('#manage-tabs [data-screen="terminals"]');
    await page.waitForSelector('#terminal-add');
    await page.fill('#terminal-add-phone', '13x');
    await page.fill('#terminal-add-terminal_id', 'T9T001');
    await page.fill('#terminal-add-plate', PLATE);
    await page.click('#terminal-add-submit');
    const phoneError = await fieldError(page, 'terminal-add', 'phone');
    check(/phone/.test(phoneError), `a phone that is not digits is refused next to the phone field (${phoneError})`);
    await page.fill('#terminal-add-phone', PHONE);
    await page.selectOption('#terminal-add-edition', '2019');
    await page.click('#terminal-add-submit');
    await page.waitForSelector('#terminals-table tr.selected');
    const trow = await page.textContent('#terminals-table tr.selected');
    check(trow.includes(PHONE) && trow.includes(PLATE) && trow.includes('2019'), `the new terminal is listed, bound to the car (${trow})`);

    // A driver of the new unit; a certificate with a space is refused next to the certificate.
    await page.click('#manage-tabs [data-screen="drivers"]');
    await page.waitForSelector('#driver-add');
    await page.fill('#driver-add-name', DRIVER);
    await page.fill('#driver-add-certificate', 'QC 1');
    await page.selectOption('#driver-add-unit', unit.id);
    await page.click('#driver-add-submit');
    const certError = await fieldError(page, 'driver-add', 'certificate');
    check(/^certificate/.test(certError), `a certificate with a space is refused next to the certificate field (${certError})`);
    await page.fill('#driver-add-certificate', 'QC-4202-0001');
    await page.click('#driver-add-submit');
    await page.waitForSelector('#drivers-table tr.selected');
    const drow = await page.textContent('#drivers-table tr.selected');
    check(drow.includes(DRIVER) && drow.includes(UNIT), `the new driver is listed with their unit (${drow})`);

    // An alert channel for the new unit; a URL that is not http(s) is refused next to the URL.
    const CHANNEL = '新单位值班群';
    await page.click('#manage-tabs [data-screen="channels"]');
    await page.waitForSelector('#channel-add');
    await page.fill('#channel-add-name', CHANNEL);
    await page.fill('#channel-add-url', 'ftp://127.0.0.1/hook');
    await page.selectOption('#channel-add-format', 'dingtalk');
    await page.selectOption('#channel-add-units', [unit.id]);
    await page.click('#channel-add-submit');
    const urlError = await fieldError(page, 'channel-add', 'url');
    check(/^url/.test(urlError), `a webhook URL that is not http(s) is refused next to the url field (${urlError})`);
    await page.fill('#channel-add-url', 'http://127.0.0.1:9/hook');
    await page.click('#channel-add-submit');
    await page.waitForSelector('#channels-table tr.selected');
    const crow = await page.textContent('#channels-table tr.selected');
    check(crow.includes(CHANNEL) && crow.includes(UNIT), `the new channel is listed with its unit (${crow})`);

    // A geofence drawn on the map: without a shape the form says so next to the shape.
    await page.click('#manage-tabs [data-screen="geofences"]');
    await page.waitForSelector('#fence-form');
    await page.fill('#fence-form-name', FENCE);
    await page.selectOption('#fence-form-kind', 'prohibited');
    await page.click('#fence-form-submit');
    const shapeError = await fieldError(page, 'fence-form', 'geometry');
    check(shapeError.length > 0, `a geofence without a shape is refused next to the shape (${shapeError})`);
    // Two pixels of the map in degrees: a press lands on a whole pixel.
    const twoPixels = () => page.evaluate(() => {
      const m = window.tianshu.map; const a = m.unproject([0, 0]); const b = m.unproject([2, 2]);
      return Math.max(Math.abs(a.lng - b.lng), Math.abs(a.lat - b.lat));
    });
    let tol = await twoPixels();
    await page.click('#draw-polygon');
    const box = await page.locator('#map').boundingBox();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const pixels = [[cx - 120, cy - 80], [cx + 110, cy - 70], [cx + 90, cy + 90], [cx - 100, cy + 70]];
    const clicked = [];
    for (const [i, [x, y]] of pixels.entries()) {
      await page.mouse.click(x, y);
      await page.waitForFunction((n) => window.tianshu.map.getCanvas().dataset.drawPoints === String(n), i + 1, { timeout: 5000 });
      clicked.push(await page.evaluate(([px, py]) => window.tianshu.map.unproject([px, py]).toArray(), [x - box.x, y - box.y]));
    }
    await page.click('#draw-finish');
    await page.waitForFunction(() => window.tianshu.map.getCanvas().dataset.drawClosed === 'true');
    await page.click('#fence-form-submit');
    await page.waitForSelector('#fences-table tr.selected');
    const frow = await page.textContent('#fences-table tr.selected');
    check(frow.includes(FENCE), `the drawn geofence is listed (${frow})`);
    const stored = async () => (await apiGet(page, '/api/geofences')).features.find((f) => f.properties.name === FENCE);
    const fence = await stored();
    const ring = fence.geometry.coordinates[0][0];
    const near = (a, b) => Math.abs(a[0] - b[0]) < tol && Math.abs(a[1] - b[1]) < tol;
    check(ring.length === 5 && clicked.every((c, i) => near(c, ring[i])) && ring[0].join() === ring[4].join(),
      `the stored polygon is the one clicked on the map (${ring.map((c) => c.map((x) => x.toFixed(5)).join(' ')).join(', ')})`);
    // Editing: the second vertex dragged 50 px right and saved.
    await page.waitForFunction(() => window.tianshu.map.queryRenderedFeatures({ layers: ['draw-vertex'] }).length === 4, null, { timeout: 10000 });
    // The map may still be moving to the saved fence: the vertex is found where it stands once still.
    await mapIdle(page);
    const at = await page.evaluate((c) => window.tianshu.map.project(c), ring[1]);
    tol = await twoPixels();
    await page.mouse.move(box.x + at.x, box.y + at.y);
    await page.mouse.down();
    await page.mouse.move(box.x + at.x + 25, box.y + at.y, { steps: 3 });
    await page.mouse.move(box.x + at.x + 50, box.y + at.y, { steps: 3 });
    await page.mouse.up();
    const moved = await page.evaluate(([x, y]) => window.tianshu.map.unproject([x, y]).toArray(), [at.x + 50, at.y]);
    await page.click('#fence-form-submit');
    await page.waitForFunction(async ([name, lon, t]) => {
      const fc = await (await fetch('/api/geofences')).json();
      const f = fc.features.find((x) => x.properties.name === name);
      return f && Math.abs(f.geometry.coordinates[0][0][1][0] - lon) < t;
    }, [FENCE, moved[0], tol], { timeout: 10000, polling: 300 });
    const edited = (await stored()).geometry.coordinates[0][0];
    const same = (a, b) => a.join() === b.join();
    check(near(edited[1], moved) && !near(edited[1], ring[1]) && same(edited[0], ring[0]) && same(edited[2], ring[2]) && same(edited[3], ring[3]), 'dragging a vertex moved that vertex only, and the change was saved');
    await page.screenshot({ path: join(artifacts, 'manage-geofence.png') });

    // The audit table shows each change: who, what, which car.
    await page.click('#tab-audit');
    await page.waitForSelector('#audit-list tbody tr');
    const rows = await page.$$eval('#audit-list tbody tr', (rs) => rs.map((r) => r.textContent));
    const me = logins.administrator.username;
    for (const [action, what] of [['unit.create', UNIT], ['vehicle.create', PLATE], ['terminal.create', PHONE], ['driver.create', DRIVER], ['channel.create', CHANNEL], ['geofence.create', FENCE], ['geofence.replace', FENCE]]) {
      const row = rows.find((r) => r.includes(action) && r.includes(what));
      check(!!row && row.includes(me), `the audit table shows ${action} of ${what} by ${me}`);
    }
    const vehicleRow = rows.find((r) => r.includes('vehicle.create'));
    check(vehicleRow.split(PLATE).length > 2, 'the vehicle\'s record names the car in its own column');
  });
  // The same screens on a phone: nothing wider than the screen.
  await browserFor(async (page) => {
    await login(page, 'administrator');
    await page.tap('#tab-manage');
    for (const screen of ['units', 'vehicles', 'terminals', 'drivers', 'geofences', 'users', 'calendars', 'channels']) {
      await page.tap(`#manage-tabs [data-screen="${screen}"]`);
      await page.waitForSelector(`#manage-tabs [data-screen="${screen}"].active`);
      await page.waitForSelector('#manage-body .msection');
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(wide <= 0, `the ${screen} screen fits a 390 px phone`);
    }
    await page.tap('#manage-tabs [data-screen="vehicles"]');
    await page.waitForSelector('#vehicle-add-plate');
    await page.screenshot({ path: join(artifacts, 'manage-phone.png') });
  }, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
}

/**
 * Orders: the administrator files one; the dispatcher files one (an end before its start refused next to the
 * end), is refused approving their own, approves the administrator's and cancels their own.
 */
async function orders() {
  const plate = async (page) => {
    await page.waitForFunction(() => window.tianshu.S.vehicles.size > 0, null, { timeout: 30000 });
    return page.evaluate(() => [...window.tianshu.S.vehicles.values()][0].plate);
  };
  const file = async (page, car, purpose) => {
    await page.fill('#order-add-plate', car);
    await page.fill('#order-add-purpose', purpose);
    await page.click('#order-add-submit');
    await page.waitForSelector('#order-detail[data-state="requested"]');
    return page.$eval('#order-detail', (e) => e.dataset.order);
  };
  let theirs;
  await browserFor(async (page) => {
    await login(page, 'administrator');
    const car = await plate(page);
    await page.click('#tab-orders');
    await page.waitForSelector('#order-add');
    theirs = await file(page, car, '市政府会议送材料');
    check(!!theirs, `the administrator filed order ${theirs}`);
  });
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    const car = await plate(page);
    await page.click('#tab-orders');
    await page.waitForSelector('#order-add');
    await page.fill('#order-add-id', `${theirs}-D`);
    const start = await page.inputValue('#order-add-start');
    const before = await page.evaluate((s) => { const d = new Date(`${s}:00Z`); d.setUTCHours(d.getUTCHours() - 1); return d.toISOString().slice(0, 16); }, start);
    await page.fill('#order-add-end', before);
    await page.fill('#order-add-plate', car);
    await page.click('#order-add-submit');
    const endError = await fieldError(page, 'order-add', 'end');
    check(/^end/.test(endError), `an order ending before its start is refused next to the end (${endError})`);
    const later = await page.evaluate((s) => { const d = new Date(`${s}:00Z`); d.setUTCHours(d.getUTCHours() + 2); return d.toISOString().slice(0, 16); }, start);
    await page.fill('#order-add-end', later);
    const mine = await file(page, car, '接待');
    check(mine === `${theirs}-D`, `the dispatcher filed order ${mine}`);
    await page.click('#order-approved');
    await page.waitForFunction(() => document.querySelector('#order-error').textContent.length > 0, null, { timeout: 10000 });
    const refusal = await page.textContent('#order-error');
    check(/second person/.test(refusal), `approving one's own order is refused, saying why (${refusal})`);
    await page.click(`#orders-table tr[data-key="${theirs}"]`);
    await page.waitForSelector(`#order-detail[data-order="${theirs}"] #order-approved`);
    await page.click('#order-approved');
    await page.waitForSelector(`#order-detail[data-order="${theirs}"][data-state="approved"]`);
    check(true, `the dispatcher approved ${theirs}`);
    await page.click('#order-states [data-state="requested"]');
    await page.click(`#orders-table tr[data-key="${mine}"]`);
    await page.waitForSelector(`#order-detail[data-order="${mine}"] #order-cancelled`);
    await page.click('#order-cancelled');
    await page.waitForSelector(`#order-detail[data-order="${mine}"][data-state="cancelled"]`);
    check(true, `the dispatcher cancelled ${mine}`);
    const all = await apiGet(page, '/api/orders');
    const a = all.find((o) => o.id === theirs);
    const b = all.find((o) => o.id === mine);
    const me = logins.dispatcher.username;
    check(a.state === 'approved' && a.approved_by === me && b.state === 'cancelled' && b.filed_by === me,
      `the API has ${theirs} approved by ${a.approved_by} and ${mine} cancelled`);
    await page.screenshot({ path: join(artifacts, 'orders.png') });
  });
}

/** The Reports screen: a unit's month with its chart and downloads, then one car's. */
async function reports() {
  await browserFor(async (page) => {
    await login(page, 'inspector');
    await page.click('#tab-reports');
    await page.waitForSelector('#view-reports:not(.hidden) #report-unit option', { state: 'attached' });
    await page.fill('#report-month', process.env.TIANSHU_MONTH);
    await page.selectOption('#report-unit', process.env.TIANSHU_UNIT);
    await page.click('#report-load-unit');
    await page.waitForSelector('#report-page:not(.hidden) .uplot canvas', { timeout: 30000 });
    const box = await page.$eval('#report-chart canvas', (c) => ({ w: c.clientWidth, h: c.clientHeight }));
    check(box.w > 200 && box.h > 100, `the unit's month is charted (${box.w}x${box.h})`);
    const trips = Number(await page.textContent('#report-page [data-figure="trips"]'));
    const rows = await page.$$eval('#report-page table.report-cars tbody tr', (rs) => rs.length);
    check(trips > 0 && rows > 0, `the unit's figures: ${trips} trips over ${rows} cars`);
    const links = await page.$$eval('#report-page a.download', (as) => as.map((a) => ({ format: a.dataset.format, href: a.getAttribute('href') })));
    check(links.length === 2 && links.some((l) => /format=csv/.test(l.href)) && links.some((l) => /format=xlsx/.test(l.href)),
      `the downloads are offered: ${links.map((l) => l.href).join(' ')}`);
    const xlsx = await page.$eval('#report-page a.download[data-format="xlsx"]', async (a) => {
      const r = await fetch(a.href); const b = new Uint8Array(await r.arrayBuffer());
      return { status: r.status, type: r.headers.get('content-type'), zip: b[0] === 0x50 && b[1] === 0x4b, size: b.length };
    });
    check(xlsx.status === 200 && xlsx.zip && /spreadsheetml/.test(xlsx.type), `the XLSX link downloads a workbook (${xlsx.size} bytes)`);
    const csv = await page.$eval('#report-page a.download[data-format="csv"]', async (a) => (await fetch(a.href)).text());
    check(csv.split('\n').length >= rows + 2, `the CSV link downloads a line per car and the total (${csv.split('\n').length - 1} lines)`);
    await page.screenshot({ path: join(artifacts, 'report-unit.png') });
    await page.fill('#report-plate', process.env.TIANSHU_PLATE);
    await page.click('#report-load-car');
    await page.waitForFunction((p) => document.querySelector('#report-page h2')?.textContent.includes(p)
      && document.querySelector('#report-page .uplot canvas'), process.env.TIANSHU_PLATE, { timeout: 30000 });
    const carTrips = Number(await page.textContent('#report-page [data-figure="trips"]'));
    check(carTrips > 0, `the car's month: ${carTrips} trips, charted`);
    await page.screenshot({ path: join(artifacts, 'report-car.png') });
  });
}

/**
 * A supervisor makes a personal API token on the page: the secret is shown once, a program using it reads the
 * supervisor's cars (and only theirs) without the session, the token is revoked from the page and is then
 * refused, and the audit log has both steps.
 */
async function tokens() {
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await page.click('#tab-tokens');
    await page.waitForSelector('#token-add');
    await page.click('#token-add-submit');
    const nameError = await fieldError(page, 'token-add', 'name');
    check(nameError.length > 0, `a token without a name is refused next to the name (${nameError})`);
    await page.fill('#token-add-name', 'report job');
    await page.click('#token-add-submit');
    await page.waitForSelector('#token-secret code');
    const secret = await page.textContent('#token-secret code');
    check(/^tsk_/.test(secret), 'the new token is shown once, in full');
    const mine = (await apiGet(page, '/api/vehicles')).map((v) => v.id).sort();
    // A program: no cookie, only the token.
    const asProgram = async (token) => {
      const res = await fetch(new URL('/api/vehicles', url), { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: res.ok ? await res.json() : null };
    };
    const used = await asProgram(secret);
    const seen = used.body ? used.body.map((v) => v.id).sort() : [];
    check(used.status === 200 && JSON.stringify(seen) === JSON.stringify(mine), `the token reads the supervisor's ${mine.length} cars (${used.status}, ${seen.length})`);
    await page.click('#tab-live');
    await page.click('#tab-tokens');
    await page.waitForSelector('#tokens-table tr.data-row');
    check(await page.$('#token-secret') === null, 'the secret is not shown again');
    await page.click('#tokens-table button[id^="token-revoke-"]');
    await page.waitForFunction(() => !document.querySelector('#tokens-table button[id^="token-revoke-"]'));
    const refused = await asProgram(secret);
    check(refused.status === 401, `the revoked token is refused (${refused.status})`);
  });
  // The audit log, which administrators read.
  await browserFor(async (page) => {
    await login(page, 'administrator');
    const audit = await apiGet(page, '/api/audit?last=50');
    const steps = audit.filter((r) => r.action.startsWith('token.') && r.actor === logins.supervisor.username).map((r) => r.action);
    check(steps.includes('token.create') && steps.includes('token.revoke'), `the audit log has the supervisor's token made and revoked (${steps.join(', ')})`);
  });
}

/**
 * Casework from the desk to the figures (TIANSHU_PLATE out on a holiday between TIANSHU_FROM and TIANSHU_TO,
 * the holiday case TIANSHU_CASE already raised, TIANSHU_OTHER_CASE a case of another unit): the dispatcher enters
 * a complaint naming the car and sees its track and the case, links the case by typing its number (an unknown
 * number and the other unit's case refused) and forwards the complaint; another unit's supervisor sees nothing, the
 * car's unit's supervisor answers; the inspector unmasks the number, accepts the answer, records a confirmed
 * violation with two people on the case and the reply to the reporter; the figures count exactly that; the
 * unit's supervisor reads the finding.
 */
async function casework() {
  const plate = process.env.TIANSHU_PLATE;
  const caseId = process.env.TIANSHU_CASE;
  const otherCase = process.env.TIANSHU_OTHER_CASE;
  const openComplaint = async (page) => {
    await page.click('#tab-complaints');
    await page.waitForSelector('#complaints-list .complaint-row', { timeout: 20000 });
    await page.click('#complaints-list .complaint-row');
    await page.waitForSelector('#complaint-page:not(.hidden) #complaint-title', { timeout: 20000 });
  };
  const stateIs = (page, state) => page.waitForSelector(`#complaint-state[data-state="${state}"]`, { timeout: 20000 });
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    await page.click('#tab-complaints');
    await page.click('#complaint-new');
    await page.selectOption('#complaint-add-channel', 'hotline');
    await page.fill('#complaint-add-reporter_name', '王先生');
    await page.fill('#complaint-add-reporter_phone', '138 1234 5678');
    // The caller remembers part of the plate only.
    await page.fill('#complaint-add-plates', plate.slice(-5));
    await page.fill('#complaint-add-place', '东方山景区停车场');
    await page.fill('#complaint-add-window_from', process.env.TIANSHU_FROM);
    await page.fill('#complaint-add-window_to', process.env.TIANSHU_TO);
    await page.fill('#complaint-add-text', '国庆假期公车开到景区');
    await page.click('#complaint-add-submit');
    await page.waitForSelector('#complaint-page:not(.hidden) #complaint-evidence .ev-car', { timeout: 30000 });
    const named = await page.textContent('#complaint-cars');
    check(named.includes(plate) && await page.$('#complaint-cars .unresolved') === null, `the named plate resolved to the car (${named})`);
    const track = await page.waitForFunction(() => {
      const src = window.tianshu.map.getSource('track');
      const f = src && src.serialize().data.features;
      return f && f.length && f[0].geometry.coordinates.length;
    }, null, { timeout: 20000 }).then((h) => h.jsonValue());
    const points = await page.textContent('#complaint-evidence .ev-car h4 small');
    check(track > 1 && /^[1-9]/.test(points), `the evidence shows the car's track on the map (${track} vertices, ${points})`);
    const where = await page.textContent('#complaint-evidence .ev-where');
    check(/\d{4}-\d\d-\d\d/.test(where), `the evidence says where the car was at the named time (${where})`);
    const cases = await page.$$eval('#complaint-evidence .ev-case', (ls) => ls.map((l) => [l.dataset.case, l.dataset.rule]));
    check(cases.some(([id, rule]) => id === caseId && rule === 'holiday_seal'), `the holiday case already raised is in the evidence (${JSON.stringify(cases)})`);
    await page.screenshot({ path: join(artifacts, 'complaint-evidence.png') });
    const phone = await page.textContent('#complaint-phone');
    check(phone === '138****5678' && await page.$('#complaint-unmask') === null, `the dispatcher sees the number masked and cannot unmask it (${phone})`);
    // The case linked by typing its number: an unknown number and another unit's case are refused first.
    const linkTyped = async (id, refusal) => {
      await page.fill('#complaint-link-id', String(id));
      await page.click('#complaint-link');
      if (refusal) await page.waitForFunction((want) => document.querySelector('#complaint-error').textContent.includes(want), refusal, { timeout: 20000 });
    };
    const unknown = Number(caseId) + Number(otherCase) + 1000;
    await linkTyped(unknown, `case ${unknown}`);
    check(await page.$('#complaint-cases') === null, `an unknown case number is refused (${await page.textContent('#complaint-error')})`);
    await linkTyped(otherCase, `case ${otherCase} is of`);
    check(await page.$('#complaint-cases') === null, `another unit's case is refused (${await page.textContent('#complaint-error')})`);
    await linkTyped(caseId);
    await page.waitForSelector(`#complaint-cases .linked-case[data-case="${caseId}"]`, { timeout: 20000 });
    await page.waitForSelector(`#complaint-evidence .ev-case[data-case="${caseId}"] .flag.ok`, { timeout: 20000 });
    check(true, 'the holiday case is linked to the complaint by its number');
    await page.click('#complaint-forward-submit');
    await stateIs(page, 'forwarded');
    const deadline = await page.textContent('#complaint-deadline');
    check(/\d{4}-\d\d-\d\d/.test(deadline), `the complaint was forwarded with a deadline (${deadline})`);
  });
  await browserFor(async (page) => {
    await login(page, 'other');
    await page.click('#tab-complaints');
    await page.waitForSelector('#complaints-count');
    const rows = await page.$$('#complaints-list .complaint-row');
    check(rows.length === 0 && await page.textContent('#complaints-count') === '0', 'another unit\'s supervisor sees no complaint');
  });
  // The unit's supervisor answers from a phone: the inbox fills the width, the complaint opens as a sheet.
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await page.tap('#tab-complaints');
    await page.waitForSelector('#complaints-list .complaint-row', { timeout: 20000 });
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    const row = await page.locator('#complaints-list .complaint-row').first().boundingBox();
    check(await fits() && row.width >= 350 && row.height >= 44, `on a phone the inbox of complaints fits the screen, each a full-width touch target (${Math.round(row.width)}x${Math.round(row.height)})`);
    await page.tap('#complaints-list .complaint-row');
    await page.waitForSelector('#complaint-page:not(.hidden) #complaint-answer', { timeout: 20000 });
    const sheet = await page.locator('#complaint-page').boundingBox();
    const mapBox = await page.locator('#map').boundingBox();
    const small = await page.$$eval('#complaint-page button', (bs) => bs.filter((b) => b.getClientRects().length && (b.getBoundingClientRect().height < 44 || b.getBoundingClientRect().width < 44)).map((b) => b.textContent));
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(wide <= 0 && sheet.width >= 385 && sheet.y > mapBox.y + 100 && small.length === 0,
      `the complaint opens as a sheet under its map, every button a 44 px target (${wide} px too wide, sheet ${Math.round(sheet.width)} px at ${Math.round(sheet.y)}, map at ${Math.round(mapBox.y)}; small: ${small.join(', ')})`);
    check(await page.$('#complaint-phone') === null && !(await page.textContent('#complaint-page')).includes('5678'), 'the unit\'s supervisor sees it without the reporter');
    await page.fill('#complaint-answer-text', '经查属实，已责令驾驶员作出检查，车辆收回统一停放');
    await page.tap('#complaint-answer-submit');
    await stateIs(page, 'answered');
    check(true, 'the unit answered');
    await page.screenshot({ path: join(artifacts, 'phone-complaint.png') });
  }, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await browserFor(async (page) => {
    await login(page, 'inspector');
    await openComplaint(page);
    await page.click('#complaint-unmask');
    await page.waitForFunction(() => document.querySelector('#complaint-phone').textContent === '13812345678', null, { timeout: 10000 });
    check(true, 'the inspector unmasked the number');
    await page.fill('#complaint-review-text', '整改到位');
    await page.click('#complaint-review-submit');
    await stateIs(page, 'accepted');
    check(true, 'the inspector accepted the answer');
    // The holiday case: escalated, then its finding with two people held to account.
    await page.click(`#complaint-cases .linked-case[data-case="${caseId}"]`);
    await page.waitForSelector('#case-page:not(.hidden) #case-escalate', { timeout: 20000 });
    await page.fill('#case-note', '群众举报，经核实属实');
    await page.click('#case-escalate');
    await page.waitForSelector('#case-state[data-state="escalated"]', { timeout: 20000 });
    await page.waitForSelector('#finding', { timeout: 20000 });
    await page.selectOption('#finding-outcome', 'confirmed');
    await page.selectOption('#finding-violation', '节假日违规用车');
    for (const [i, [name, post, measure]] of [['张某', '驾驶员', '党纪处分'], ['李某', '办公室主任', '诫勉谈话']].entries()) {
      await page.click('#finding-add-person');
      await page.fill(`#finding-name-${i}`, name);
      await page.fill(`#finding-post-${i}`, post);
      await page.fill(`#finding-unit-${i}`, '本单位');
      await page.selectOption(`#finding-measure-${i}`, measure);
    }
    await page.fill('#finding-recovered_yuan', '1280.50');
    await page.click('#finding-submit');
    await page.waitForSelector('#finding-shown[data-outcome="confirmed"]', { timeout: 20000 });
    const people = await page.$$eval('#finding-people tbody tr', (rs) => rs.map((r) => r.textContent));
    const closed = await page.getAttribute('#case-state', 'data-state');
    check(people.length === 2 && closed === 'closed', `the finding was recorded with two people (${people.join(' | ')}; the case ${closed})`);
    await page.screenshot({ path: join(artifacts, 'case-finding.png') });
    await openComplaint(page);
    await page.selectOption('#complaint-reply-how', 'phone');
    await page.fill('#complaint-reply-text', '已电话告知举报人核查和处理结果');
    await page.click('#complaint-reply-submit');
    await stateIs(page, 'replied');
    const steps = await page.$$eval('#complaint-history tbody tr', (rs) => rs.map((r) => r.dataset.action));
    check(steps.join(',') === 'received,linked,forwarded,answered,accepted,replied', `the reply to the reporter was recorded (${steps.join(', ')})`);
    await page.click('#casework-figures');
    await page.waitForSelector('#figures-total', { timeout: 20000 });
    const figures = await page.$$eval('#figures-total tr', (rs) => Object.fromEntries(rs.map((r) => [r.dataset.figure, r.querySelector('td').textContent])));
    const want = { received: '1', forwarded: '1', answered_in_time: '1', overdue: '0', replied: '1', findings: '1', confirmed: '1', people: '2', sanctioned: '1', judiciary: '0' };
    const types = await page.$$eval('#figures-types tr', (rs) => rs.map((r) => [r.dataset.type, r.lastChild.textContent]));
    const charted = await page.getAttribute('#figures-chart', 'data-months');
    check(Object.entries(want).every(([k, v]) => figures[k] === v) && figures.recovered_yuan.startsWith('1280.50')
      && JSON.stringify(types) === JSON.stringify([['节假日违规用车', '1']]) && !!charted && !!(await page.$('#figures-chart canvas')),
    `the figures count exactly that (${JSON.stringify(figures)}, ${JSON.stringify(types)}, months ${charted})`);
    const csv = await page.$eval('#complaint-page a.download[data-format="csv"]', async (a) => { const r = await fetch(a.href); return [r.status, await r.text()]; });
    check(csv[0] === 200 && csv[1].startsWith('单位,月份,') && /(^|\n)合计,/.test(csv[1]), `the figures download as CSV titled in the page's language (${csv[1].split('\n').length} lines)`);
    await page.screenshot({ path: join(artifacts, 'casework-figures.png') });
  });
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await openComplaint(page);
    await page.click(`#complaint-cases .linked-case[data-case="${caseId}"]`);
    await page.waitForSelector('#finding-shown', { timeout: 20000 });
    const people = await page.$$eval('#finding-people tbody tr', (rs) => rs.length);
    check(people === 2 && await page.$('#finding') === null, 'the unit\'s supervisor reads the finding (and has no form to change it)');
  });
}

/** A requester asks for a car on a phone; the dispatcher is offered the free cars and drivers and assigns. */
async function carpool() {
  const env = process.env;
  let id = null;
  await browserFor(async (page) => {
    await login(page, 'requester');
    await page.click('#tab-carpool');
    await page.click('#pool-new');
    await page.waitForSelector('#pool-add');
    await page.fill('#pool-add-start', env.TIANSHU_START);
    await page.fill('#pool-add-end', env.TIANSHU_END);
    await page.fill('#pool-add-from-name', '市委大院');
    await page.fill('#pool-add-from-lon', '115.0');
    await page.fill('#pool-add-from-lat', '30.2');
    await page.fill('#pool-add-passengers', '3');
    await page.fill('#pool-add-purpose', '防汛检查');
    await page.selectOption('#pool-add-kind', 'emergency');
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth
      && document.querySelector('#pool-add-submit').getBoundingClientRect().height >= 44);
    check(fits, 'on a phone the request form fits the screen');
    await page.fill('#pool-add-destinations', '东站');
    await page.click('#pool-add-submit');
    const refusal = await fieldError(page, 'pool-add', 'destinations');
    check(refusal.length > 0, `a destination without its position is refused next to the field (${refusal})`);
    await page.fill('#pool-add-destinations', '东站, 115.1, 30.2');
    await page.click('#pool-add-submit');
    await page.waitForSelector('#pool-title[data-state="pending"]', { timeout: 20000 });
    id = Number(await page.getAttribute('#pool-title', 'data-id'));
    check(id > 0, `the requester's request #${id} is pending`);
    await page.screenshot({ path: join(artifacts, 'carpool-request-phone.png') });
  }, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    await page.click('#tab-carpool');
    await page.click(`#pool-list .pool-row[data-id="${id}"]`);
    await page.waitForSelector('#pool-offers', { timeout: 20000 });
    const cars = await page.$$eval('#pool-cars tbody tr', (rs) => rs.map((r) => ({
      plate: r.querySelector('.plate').textContent, m: Number(r.querySelector('.distance').dataset.m), suggested: r.classList.contains('suggested'),
      checked: r.querySelector('input').checked })));
    const drivers = await page.$$eval('#pool-driver option', (os) => os.map((o) => o.textContent));
    check(cars.length > 0 && !cars.some((c) => c.plate === env.TIANSHU_BOOKED), `the booked car is not offered (${cars.map((c) => c.plate).join(', ')})`);
    check(drivers.length > 0 && !drivers.some((d) => d.startsWith('王五')), `the busy driver is not offered (${drivers.join(', ')})`);
    check(cars.every((c, i) => i === 0 || c.m >= cars[i - 1].m), `the cars are offered nearest first (${cars.map((c) => c.m).join(' ≤ ')} m)`);
    check(cars[0].plate === env.TIANSHU_NEAREST && cars[0].suggested && cars[0].checked, `the nearest free car ${cars[0].plate} is suggested`);
    await page.screenshot({ path: join(artifacts, 'carpool-offers.png') });
    await page.click('#pool-assign');
    await page.waitForSelector('#pool-title[data-state="assigned"]', { timeout: 20000 });
    const plate = await page.textContent('#pool-assignment .plate');
    const notices = await page.$$eval('#pool-notices li', (ls) => ls.length);
    check(plate === env.TIANSHU_NEAREST && notices === 2, `the request is assigned to ${plate} (${notices} notices: requester and driver)`);
  });
}

/** The dispatcher settles the driven trip and the planted one; the unit's supervisor opens the case. */
async function carpoolSettle() {
  const env = process.env;
  let caseId = null;
  const settle = async (page, id) => {
    await page.click('#tab-carpool');
    await page.click(`#pool-list .pool-row[data-id="${id}"]`);
    await page.waitForSelector(`#pool-title[data-id="${id}"]`);
    await page.click('#pool-settle');
    await page.waitForSelector(`#pool-title[data-id="${id}"][data-state="settled"]`, { timeout: 20000 });
  };
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    await settle(page, env.TIANSHU_REQUEST);
    const km = Number(await page.textContent('#pool-settled [data-figure="km"]'));
    const metres = Number(env.TIANSHU_METRES);
    check(Math.abs(km * 1000 - metres) / metres < 0.02, `the trip is settled within 2 % of the route driven (${km} km, ${metres} m driven)`);
    const reached = await page.$$eval('#pool-reached tr', (rs) => rs.map((r) => [r.querySelector('td').textContent, r.dataset.reached]));
    check(JSON.stringify(reached) === JSON.stringify([['东站', 'yes']]), '东站 was reached');
    await page.screenshot({ path: join(artifacts, 'carpool-settled.png') });
    await page.click('#pool-confirm-submit');
    await page.waitForSelector('#pool-confirmed-by', { timeout: 20000 });
    check((await page.textContent('#pool-confirmed-by')) === logins.dispatcher.username, 'the settlement is confirmed');
    await page.fill('#pool-confirm-km', '25');
    await page.fill('#pool-confirm-note', '');
    await page.click('#pool-confirm-submit');
    const refusal = await fieldError(page, 'pool-confirm', 'note');
    check(refusal.length > 0, `a correction without a note is refused next to the note (${refusal})`);
    await settle(page, env.TIANSHU_PLANTED);
    const planted = await page.$$eval('#pool-reached tr', (rs) => rs.map((r) => r.dataset.reached));
    check(JSON.stringify(planted) === '["no"]', 'the planted trip never reached 东站');
    caseId = await page.getAttribute('#pool-case', 'data-case');
    check(!!caseId, `the planted trip opened a case #${caseId}`);
  });
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await page.click('#tab-carpool');
    await page.click(`#pool-list .pool-row[data-id="${env.TIANSHU_PLANTED}"]`);
    await page.click(`#pool-case[data-case="${caseId}"] button`);
    await page.waitForSelector('#case-page:not(.hidden) #case-title', { timeout: 20000 });
    check(true, 'the unit\'s supervisor opens the trip\'s case');
  });
}

/** The auditor uploads a statement, filters its findings and opens one on its map; the unit's supervisor has its case. */
async function fuel() {
  const env = process.env;
  let caseId = null;
  const rows = (page) => page.$$eval('#fuel-findings .finding-row', (rs) => rs.length);
  // The list says which filters it shows (unit|check|state): wait until it shows the ones chosen.
  const filterTo = async (page, sel, value) => {
    await page.selectOption(sel, value);
    await page.waitForFunction(() => document.querySelector('#fuel-findings').dataset.filter
      === ['#fuel-unit', '#fuel-check', '#fuel-state'].map((q) => document.querySelector(q).value).join('|'), null, { timeout: 20000 });
  };
  await browserFor(async (page) => {
    await login(page, 'inspector');
    await page.click('#tab-fuel');
    await page.setInputFiles('#fuel-file', env.TIANSHU_STATEMENT);
    await page.click('#fuel-import');
    await page.waitForSelector('#fuel-result', { timeout: 30000 });
    const stored = await page.textContent('#fuel-result [data-figure="stored"]');
    const format = await page.textContent('#fuel-result dd.data');
    check(stored === '4' && /GBK/.test(format), `the statement is imported: ${stored} stored, GBK (${format})`);
    const bad = await page.$$eval('#fuel-errors tbody tr', (rs) => rs.map((r) => [r.dataset.line, r.children[1].textContent]));
    check(bad.length === 3 && bad.every(([, col]) => col && col !== '—'), `the bad rows are named by line and column: ${bad.map(([l]) => l).join(', ')} (${bad.map(([, c]) => c).join(' | ')})`);
    await page.waitForSelector('#fuel-findings .finding-row', { timeout: 20000 });
    check(await rows(page) === 5, `the findings are listed: ${await rows(page)}`);
    await filterTo(page, '#fuel-check', 'not_at_station');
    check(await rows(page) === 1, `filtered by check: ${await rows(page)} car not at the station`);
    await filterTo(page, '#fuel-check', '');
    await filterTo(page, '#fuel-unit', env.TIANSHU_POLICE_UNIT);
    // 公安局's car: 90 L into its tank, which is also far over its month's need.
    check(await rows(page) === 2, `filtered by unit: ${await rows(page)} of 公安局`);
    await filterTo(page, '#fuel-unit', '');
    await filterTo(page, '#fuel-state', 'open');
    const open = await rows(page);
    await filterTo(page, '#fuel-state', 'closed');
    const closed = await rows(page);
    check(open === 5 && closed === 0, `filtered by the case's state: ${open} open, ${closed} closed`);
    await filterTo(page, '#fuel-state', 'all');
    await page.click('#fuel-findings .finding-row[data-check="not_at_station"]');
    await page.waitForSelector('#fuel-page:not(.hidden) #fuel-title[data-check="not_at_station"]', { timeout: 20000 });
    const shown = await page.evaluate(() => ({
      metres: Number(document.querySelector('#fuel-nearest').dataset.m),
      positions: document.querySelectorAll('#fuel-positions tbody tr').length,
      marks: [...document.querySelectorAll('.map-mark')].map((m) => m.className),
      line: Number(document.querySelector('#fuel-page').dataset.drawn) > 1,
    }));
    check(shown.metres > 15000 && shown.positions > 0 && shown.line && shown.marks.some((c) => /station/.test(c)),
      `the finding's map shows the station and the car's positions (${shown.positions} positions, ${shown.metres} m from the station, line ${shown.line}, ${shown.marks.join(' ')})`);
    caseId = await page.getAttribute('#fuel-open-case', 'data-case');
    check(!!caseId, `the finding's case #${caseId}`);
    await page.screenshot({ path: join(artifacts, 'fuel-finding.png') });
  });
  await browserFor(async (page) => {
    await login(page, 'supervisor');
    await page.click('#tab-alerts');
    await page.waitForSelector(`#cases-list .case-row[data-case="${caseId}"]`, { timeout: 20000 });
    await page.click(`#cases-list .case-row[data-case="${caseId}"]`);
    await page.waitForSelector('#case-page:not(.hidden) #case-title', { timeout: 20000 });
    check(true, 'the unit\'s supervisor has the finding\'s case in their inbox');
  });
}

/**
 * Platform checks (TIANSHU_CHECK, a check from the upper platform past its deadline and unanswered): the
 * dispatcher finds it in red on the platform-check tab, an empty answer is refused in place, the typed answer
 * replaces the answer box and the row is no longer red; an alarm report a lower platform sent (TIANSHU_ALARM)
 * is listed below with the standard's name of its type.
 */
async function platformChecks() {
  const id = process.env.TIANSHU_CHECK;
  await browserFor(async (page) => {
    await login(page, 'dispatcher');
    await page.click('#tab-jt809');
    const row = `#jt809-table tr[data-key="${id}"]`;
    await page.waitForSelector(row);
    check(await page.$(`${row}.late`) !== null, 'the overdue check is shown in red');
    await page.click(`#jt809-answer-${id}`);
    await page.waitForFunction(() => document.querySelector('#jt809-error').textContent.length > 0);
    check((await page.textContent('#jt809-error')).includes('empty'), 'an empty answer is refused');
    await page.fill(`#jt809-text-${id}`, '值班员王五在岗');
    await page.click(`#jt809-answer-${id}`);
    await page.waitForFunction((sel) => !document.querySelector(`${sel} input`), row);
    check((await page.textContent(row)).includes('值班员王五在岗'), 'the answer is shown in its row');
    check(await page.$(`${row}.late`) === null, 'the answered check is no longer red');
    const alarm = `#jt809-alarms tr[data-key="${process.env.TIANSHU_ALARM}"]`;
    await page.waitForSelector(alarm);
    const text = await page.textContent(alarm);
    check(text.includes('越界报警') && text.includes('huangshi'), 'a lower platform\'s alarm report is listed with its type');
  });
}

try {
  if (scenario === 'basemap') await basemapOffline();
  else if (scenario === 'tiles-fail') await tilesFail();
  else if (scenario === 'live-replay') await liveAndReplay();
  else if (scenario === 'reports') await reports();
  else if (scenario === 'month') await month();
  else if (scenario === 'tokens') await tokens();
  else if (scenario === 'terminal') await terminalPanel();
  else if (scenario === 'clicks') await clicks();
  else if (scenario === 'reregistration') await reregistration();
  else if (scenario === 'command-failures') await commandFailures();
  else if (scenario === 'case') await closeCase();
  else if (scenario === 'phone') await phone();
  else if (scenario === 'alert-feed') await alertFeed();
  else if (scenario === 'languages') await languages();
  else if (scenario === 'commands') await commands();
  else if (scenario === 'manage') await manage();
  else if (scenario === 'orders') await orders();
  else if (scenario === 'casework') await casework();
  else if (scenario === 'carpool') await carpool();
  else if (scenario === 'carpool-settle') await carpoolSettle();
  else if (scenario === 'fuel') await fuel();
  else if (scenario === 'jt809') await platformChecks();
  else throw new Error(`unknown scenario ${scenario}`);
} catch (e) {
  console.log(`FAILED ${e.message}`);
  process.exit(1);
}
