// Drives Debian's chromium through the Tianshu page (playwright-core, no bundled browser).
//
//   node drive.mjs live-replay   log in as each role, see cars move, open a replay and play it
//   node drive.mjs case          log in as a supervisor, open an alert case and close it
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
async function browserFor(run) {
  const profile = mkdtempSync(join(tmpdir(), 'tianshu-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: { width: 1400, height: 900 },
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
  await page.waitForSelector('#app:not(.hidden)', { timeout: 20000 });
  check(true, `${role} logged in`);
}

const num = async (page, sel) => Number((await page.textContent(sel)) || '0');

async function seeCarsMove(page, role) {
  await page.waitForFunction(() => Number(document.querySelector('#live-count').textContent) > 0, null, { timeout: 30000 });
  const shown = await num(page, '#live-count');
  check(shown > 0, `${role} sees ${shown} cars on the live map`);
  // Moving cars: the same vehicles' positions change as position deltas arrive.
  const before = await page.evaluate(() => Object.fromEntries([...window.tianshu.S.positions].map(([k, p]) => [k, [p.lon, p.lat]])));
  await page.waitForFunction(() => Number(document.querySelector('#live-updates').textContent) > 0, null, { timeout: 60000 });
  await page.waitForFunction((b) => [...window.tianshu.S.positions].some(([k, p]) => b[k] && (b[k][0] !== p.lon || b[k][1] !== p.lat)), before, { timeout: 60000 });
  check(true, `${role} sees cars move (${await num(page, '#live-updates')} position updates)`);
  // Let the map draw the latest picture before the screenshot.
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(artifacts, `live-${role}.png`) });
}

async function replay(page, role) {
  // A car that is moving now has a track in the default range (the last two hours of the fleet clock).
  const plate = await page.evaluate(() => {
    const S = window.tianshu.S;
    const moving = [...S.positions.values()].filter((p) => p.kmh > 5).map((p) => S.vehicles.get(p.v)).filter(Boolean);
    return moving.length ? moving[0].plate : null;
  });
  check(!!plate, `${role} found a moving car to replay`);
  await page.click('#tab-replay');
  await page.fill('#replay-plate', plate);
  await page.click('#replay-load');
  await page.waitForFunction(() => /\d+ /.test(document.querySelector('#replay-info').textContent), null, { timeout: 30000 });
  const info = await page.textContent('#replay-info');
  check(!/^0 /.test(info), `${role} replay of ${plate} loaded: ${info}`);
  const t0 = await page.textContent('#replay-time');
  await page.selectOption('#replay-speed', '64');
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
    check(reasoning.trim().length > 0, 'the case page shows the rule\'s reasoning');
    await page.screenshot({ path: join(artifacts, 'case-open.png') });
    await page.click('#case-ack');
    await page.waitForSelector('#case-state[data-state="acknowledged"]', { timeout: 20000 });
    check(true, 'the case was acknowledged');
    await page.fill('#case-note', '临时公务：市政府会议送材料，已补录派车单');
    await page.click('#case-explain');
    await page.waitForSelector('#case-state[data-state="explained"]', { timeout: 20000 });
    check(true, 'the unit\'s explanation was recorded');
    await page.fill('#case-note', '已核实');
    await page.click('#case-close');
    await page.waitForSelector('#case-state[data-state="closed"]', { timeout: 20000 });
    check(true, 'the case was closed');
    await page.screenshot({ path: join(artifacts, 'case-closed.png') });
  });
}

try {
  if (scenario === 'live-replay') await liveAndReplay();
  else if (scenario === 'case') await closeCase();
  else throw new Error(`unknown scenario ${scenario}`);
} catch (e) {
  console.log(`FAILED ${e.message}`);
  process.exit(1);
}
