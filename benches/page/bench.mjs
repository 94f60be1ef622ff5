// The page's figures in headless Chromium against `tianshu demo` with its 700 cars (BENCHMARKS.md, "The
// page in a browser"):
//   - cars on the map after login: from pressing "log in" to cars (or their clusters) painted on the map;
//   - the main thread's busy share while the live feed runs (Chrome's TaskDuration over 30 s), and how
//     often the map redrew its canvas meanwhile;
//   - where that busy time goes (a 15 s CPU profile: the page's scripts against the browser's native work);
//   - replay: from pressing "load" to the month drawn (the track, its stops and the axis's spans), for a
//     month of one car's history (history.mjs: a car added through the API whose terminal sends the month
//     as blind-area backfill over JT/T 808), each run in a fresh browser context (nothing cached).
// "Painted" is the map's own word, not a guess: a frame the map rendered (its `render` event) had every
// tile of the named sources loaded and features of the named layers in view, and the browser went on to
// its next frame, so that frame reached the screen. Basemap tiles still arriving at the new zoom are not
// waited for: they come on in later frames over a map that already shows the cars or the track.
//
//   cargo build -p tianshu && (cd tests/browser && npm ci) && node benches/page/bench.mjs target/debug/tianshu
//   cargo build --release -p tianshu && node benches/page/bench.mjs target/release/tianshu
//
// PAGE_BENCH_TRACE=1 adds each timed run's frames read back; PAGE_BENCH_KEEP_TRACES=DIR keeps its Chrome
// trace, which `node benches/page/timeline.mjs FILE` lists.
// Uses Debian's chromium and tests/browser's playwright-core. Prints one line per figure.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from '../../tests/browser/node_modules/playwright-core/index.mjs';
import { monthOfFixes, seedMonth } from './history.mjs';

const bin = resolve(process.argv[2] || 'target/debug/tianshu');
const VEHICLES = Number(process.env.PAGE_BENCH_VEHICLES || 700);
const RUNS = Number(process.env.PAGE_BENCH_RUNS || 3);
const BUSY_SECS = Number(process.env.PAGE_BENCH_BUSY_SECS || 30);
const PROFILE_SECS = Number(process.env.PAGE_BENCH_PROFILE_SECS ?? 15);
/** PAGE_BENCH_TRACE=1: each timed run is also traced (Chrome's trace) and its read-back frames counted. */
const TRACE = Boolean(process.env.PAGE_BENCH_TRACE);
/** PAGE_BENCH_KEEP_TRACES=DIR: the traces are kept there, one file per timed run (`timeline.mjs` reads one). */
const KEEP = process.env.PAGE_BENCH_KEEP_TRACES;
const FLAGS = ['--headless', '--no-sandbox', '--enable-unsafe-swiftshader', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the demo; resolves with its URL and an administrator's login once it printed them. */
function startDemo(dir) {
  const child = spawn(bin, ['demo', '--http', '127.0.0.1:0', '--vehicles', String(VEHICLES), '--store', join(dir, 'demo.db')],
    { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((done, fail) => {
    let url = null; let admin = null; let jt808 = null;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const w = line.trim().split(/\s+/);
      if (w[0] === 'Open') url = w[1];
      if (w[0] === 'administrator') admin = { username: w[1], password: w[2] };
      if (line.startsWith('JT/T 808 terminals connect') && url && admin) {
        jt808 = line.match(/connect to (\S+?)\.? Stop/)[1];
        done({ child, url, admin, jt808 });
      }
    });
    child.on('exit', (code) => fail(new Error(`the demo stopped (${code})`)));
  });
}

/** Waits until the demo's fleet has reported: most cars with a latest position. */
async function waitForFleet(url, admin) {
  const cookie = await cookieOf(url, admin);
  for (let i = 0; i < 240; i++) {
    const latest = await (await fetch(new URL('/api/positions/latest', url), { headers: { cookie } })).json();
    if (latest.length >= VEHICLES * 0.95) return latest;
    await sleep(500);
  }
  throw new Error('the fleet did not report');
}

/** In the page: whether the map painted, under the probe `name`, a frame in which every tile of
 * `sources` was loaded, some layer of `anyOf` and every layer of `allOf` had features in view, and (for
 * the replay) its text and the axis's marks were shown; true from the browser's next frame on. */
function painted({ name, sources, anyOf, allOf, replay }) {
  const m = window.tianshu && window.tianshu.map;
  if (!m) return false;
  window.benchProbes = window.benchProbes || {};
  let probe = window.benchProbes[name];
  if (!probe) {
    probe = { done: 0 };
    window.benchProbes[name] = probe;
    const has = (l) => m.getLayer(l) && m.queryRenderedFeatures({ layers: [l] }).length > 0;
    const ready = () => (!replay || (/\d/.test(document.querySelector('#replay-info').textContent)
        && document.querySelector('#timeline-marks').children.length > 0))
      && sources.every((s) => m.getSource(s) && m.isSourceLoaded(s)) && (!anyOf.length || anyOf.some(has)) && allOf.every(has);
    const onRender = () => {
      if (!ready()) return;
      m.off('render', onRender);
      // The render event comes inside the frame's animation callbacks; the next frame's come after the
      // browser has drawn this one.
      requestAnimationFrame(() => { probe.done = performance.now(); });
    };
    m.on('render', onRender);
  }
  return probe.done > 0;
}

/** Runs `act` (a press, then a wait), traced by Chrome when PAGE_BENCH_TRACE is set; resolves with its
 * wall time and, traced, the frames whose canvas the main thread waited to read back (software WebGL:
 * each is the whole map drawn on the CPU) and the time it waited in them. */
async function timed(browser, page, dir, act) {
  const file = join(KEEP || dir, KEEP ? `trace-${Date.now()}.json` : 'trace.json');
  if (TRACE) await browser.startTracing(page, { path: file, categories: ['devtools.timeline', 'gpu'] });
  const t0 = Date.now();
  await act();
  const ms = Date.now() - t0;
  if (!TRACE) return { ms, traced: '' };
  await browser.stopTracing();
  const events = JSON.parse(readFileSync(file, 'utf8')).traceEvents;
  const main = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const reads = events.filter((e) => e.ph === 'X' && e.name === 'GLES2::ReadPixels' && main.has(`${e.pid}:${e.tid}`));
  return { ms, traced: `${reads.length} frames read back, ${Math.round(reads.reduce((a, e) => a + e.dur, 0) / 1000)} ms` };
}

/** Logs in; resolves with the time from "log in" pressed to the cars painted (see `timed`). */
async function login(browser, page, url, admin, dir) {
  await page.goto(url);
  await page.waitForSelector('#login-username', { state: 'visible' });
  await page.fill('#login-username', admin.username);
  await page.fill('#login-password', admin.password);
  return timed(browser, page, dir, async () => {
    await page.click('#login-submit');
    await page.waitForFunction(painted, { name: 'cars', sources: ['cars'], anyOf: ['cars', 'clusters'], allOf: [] }, { timeout: 60000, polling: 'raf' });
  });
}

/** Logs in afresh, opens the replay and times the month's "load" pressed to drawn; also the API's answer. */
async function replayOnce(browser, url, admin, month, dir) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  try {
    const page = await context.newPage();
    await login(browser, page, url, admin, dir);
    await page.click('#tab-replay');
    const local = (ms) => new Date(ms + 8 * 3600e3).toISOString().slice(0, 16);
    await page.fill('#replay-plate', month.plate);
    await page.fill('#replay-from', local(month.from));
    await page.fill('#replay-to', local(month.to + 60e3));
    const { ms, traced } = await timed(browser, page, dir, async () => {
      await page.click('#replay-load');
      await page.waitForFunction(painted, { name: 'replay', sources: ['track'], anyOf: [], allOf: ['track', 'stops'], replay: true }, { timeout: 60000, polling: 'raf' });
    });
    // Of which the API's answer (request sent to its last byte, as the browser timed it).
    const apiMs = await page.evaluate(() => { const e = performance.getEntriesByType('resource').filter((x) => x.name.includes('/replay?')).pop(); return Math.round(e.responseEnd - e.startTime); });
    return { ms, traced, apiMs, info: await page.textContent('#replay-info') };
  } finally {
    await context.close();
  }
}

async function cookieOf(url, admin) {
  const r = await fetch(new URL('/api/session', url), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin),
  });
  return r.headers.get('set-cookie').split(';')[0];
}

/** Seeds the month (the 30 days before the fleet's day, China time) and waits until the store holds all of it. */
async function seedReplayMonth(url, admin, jt808, fleetNow) {
  const cookie = await cookieOf(url, admin);
  const config = await (await fetch(new URL('/api/config', url), { headers: { cookie } })).json();
  const DAY = 86400e3; const CN = 8 * 3600e3;
  const today = Math.floor((fleetNow + CN) / DAY) * DAY - CN;
  const fixes = monthOfFixes(config.center, today);
  const t0 = Date.now();
  const seeded = await seedMonth({ url, cookie, jt808, fixes });
  const from = fixes[0].ms; const to = fixes[fixes.length - 1].ms + 1000;
  const q = `/api/vehicles/${seeded.vehicle}/replay?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  for (let i = 0; ; i++) {
    const r = await (await fetch(new URL(q, url), { headers: { cookie } })).json();
    if (r.total_points >= fixes.length) break;
    if (i > 300) throw new Error(`the month was not stored (${r.total_points} of ${fixes.length})`);
    await sleep(1000);
  }
  console.log(`replay month: ${fixes.length} fixes of ${seeded.plate} sent as backfill and stored in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return { plate: seeded.plate, from, to };
}

/** Where the busy time goes: Chrome's sampling profiler over PROFILE_SECS of the live page (15 s;
 * PAGE_BENCH_PROFILE_SECS=0 skips it), the samples' self time split into the browser's native work
 * ("(program)": layout, paint, software WebGL here), garbage collection, idle, and the page's scripts (its
 * own and MapLibre's). */
async function profileLive(cdp) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 1000 });
  await cdp.send('Profiler.start');
  await sleep(PROFILE_SECS * 1000);
  const { profile } = await cdp.send('Profiler.stop');
  const kind = new Map(profile.nodes.map((n) => [n.id, ['(program)', '(idle)', '(garbage collector)'].includes(n.callFrame.functionName) ? n.callFrame.functionName : 'scripts']));
  const spent = {};
  let all = 0;
  profile.samples.forEach((id, i) => { const us = profile.timeDeltas[i] || 0; spent[kind.get(id)] = (spent[kind.get(id)] || 0) + us; all += us; });
  const share = (k) => `${((spent[k] || 0) / 1000).toFixed(0)} ms (${(((spent[k] || 0) / all) * 100).toFixed(1)} %)`;
  console.log(`profile over ${(all / 1e6).toFixed(1)} s: scripts ${share('scripts')}, browser native ${share('(program)')}, garbage collection ${share('(garbage collector)')}, idle ${share('(idle)')}`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tianshu-page-bench-'));
  const { child, url, admin, jt808 } = await startDemo(dir);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
  try {
    const latest = await waitForFleet(url, admin);
    console.log(`fleet: ${latest.length} of ${VEHICLES} cars reporting`);
    // The month ends before the fleet's clock (simulated time) so no car of the fleet looks offline beside it.
    const month = await seedReplayMonth(url, admin, jt808, Math.min(...latest.map((p) => Date.parse(p.fix_time))));
    const logins = [];
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      logins.push(await login(browser, page, url, admin, dir));
      await context.close();
    }
    const loginMs = logins.map((r) => r.ms);
    console.log(`cars on the map after login: median ${median(loginMs)} ms (runs: ${loginMs.join(', ')} ms)${TRACE ? `; traced: ${logins.map((r) => r.traced).join('; ')}` : ''}`);

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await login(browser, page, url, admin, dir);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metric = async (name) => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === name).value;
    // How often the map redrew its canvas meanwhile: with software WebGL each redraw blocks the main thread
    // while the canvas is read back, so this count is the busy share's main driver, and unlike the share it
    // does not grow when other work on the machine slows each redraw down.
    await page.evaluate(() => { const w = window.tianshu; w.redraws = 0; w.map.on('render', () => { w.redraws += 1; }); });
    const redraws0 = await page.evaluate(() => window.tianshu.redraws);
    const updates0 = Number(await page.textContent('#live-updates'));
    const busy0 = await metric('TaskDuration');
    const wall0 = Date.now();
    await sleep(BUSY_SECS * 1000);
    const busy = (await metric('TaskDuration')) - busy0;
    const wall = (Date.now() - wall0) / 1000;
    const updates = Number(await page.textContent('#live-updates')) - updates0;
    const redraws = (await page.evaluate(() => window.tianshu.redraws)) - redraws0;
    console.log(`main thread busy with the live feed running: ${((busy / wall) * 100).toFixed(1)} % over ${wall.toFixed(0)} s (${updates} position updates, ${(updates / wall).toFixed(0)}/s; the map redrew ${redraws} times, ${(redraws / wall).toFixed(1)}/s)`);

    if (PROFILE_SECS > 0) await profileLive(cdp);
    await context.close();

    // Replay: the month of the seeded car, from pressing "load" to the month drawn, each run from a fresh login.
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await replayOnce(browser, url, admin, month, dir));
    console.log(`replay of a month click to drawn: median ${median(runs.map((r) => r.ms))} ms (runs: ${runs.map((r) => r.ms).join(', ')} ms; of which the API's answer ${runs.map((r) => r.apiMs).join(', ')} ms; ${runs[0].info})${TRACE ? `; traced: ${runs.map((r) => r.traced).join('; ')}` : ''}`);
  } finally {
    await browser.close();
    child.kill('SIGINT');
    await sleep(1000);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
