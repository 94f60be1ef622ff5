// A month of one car's history for the page bench's replay figure, stored the way a real terminal's
// would be: a vehicle and its terminal added through the API, then the terminal registers, authenticates
// and sends the month as blind-area backfill (0x0704 type 1) over JT/T 808 (2013) to the running server.
//
// The month: a car of an office around the map's centre, parked overnight (a report every 5 minutes, ignition
// off), out on two trips each working day (09:00 and 14:00 China time, about 90 minutes each, a fix every
// 10 s while moving).
import { connect } from 'node:net';

const PHONE = '013900008080';
const TERMINAL_ID = 'BENCH01';

/** A small deterministic generator (the same month every run). */
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

/** The month's fixes, oldest first: { ms, lon, lat, kmh, course, acc }. */
export function monthOfFixes(center, endMs, days = 30) {
  const rand = rng(808);
  const DAY = 86400e3;
  const CN = 8 * 3600e3;
  const startDay = Math.floor((endMs + CN) / DAY) * DAY - CN - days * DAY;
  let lon = center[0]; let lat = center[1]; let heading = rand() * 360;
  const out = [];
  const park = (from, to) => { for (let ms = from; ms < to; ms += 300e3) out.push({ ms, lon, lat, kmh: 0, course: Math.round(heading) % 360, acc: false }); };
  const drive = (from, minutes) => {
    let ms = from;
    let kmh = 0;
    for (let i = 0; i < (minutes * 60) / 10; i++) {
      kmh = Math.max(5, Math.min(80, kmh + (rand() - 0.45) * 12));
      // Turn now and then; head back towards the centre when far from it.
      const dx = (lon - center[0]) * 96000; const dy = (lat - center[1]) * 111000;
      if (Math.hypot(dx, dy) > 12000) heading = (Math.atan2(-dx, -dy) * 180) / Math.PI;
      else if (rand() < 0.08) heading += (rand() < 0.5 ? -90 : 90);
      heading = (heading + 360) % 360;
      const m = (kmh / 3.6) * 10;
      lon += (Math.sin((heading * Math.PI) / 180) * m) / 96000;
      lat += (Math.cos((heading * Math.PI) / 180) * m) / 111000;
      out.push({ ms, lon, lat, kmh, course: Math.round(heading) % 360, acc: true });
      ms += 10e3;
    }
    return ms;
  };
  for (let d = 0; d < days; d++) {
    const day = startDay + d * DAY;
    const weekday = new Date(day + CN).getUTCDay();
    if (weekday === 0 || weekday === 6) { park(day, day + DAY); continue; }
    park(day, day + 9 * 3600e3);
    let t = drive(day + 9 * 3600e3, 80 + Math.floor(rand() * 20));
    park(t, day + 14 * 3600e3);
    t = drive(day + 14 * 3600e3, 80 + Math.floor(rand() * 20));
    park(t, day + DAY);
  }
  return out.filter((p) => p.ms < endMs);
}

// ---------- JT/T 808 (2013) frames ----------
const bcd = (digits) => Buffer.from(digits.match(/../g).map((d) => parseInt(d, 16)));
function frame(msgId, serial, body) {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(msgId, 0);
  head.writeUInt16BE(body.length, 2);
  bcd(PHONE).copy(head, 4);
  head.writeUInt16BE(serial & 0xffff, 10);
  const raw = Buffer.concat([head, body]);
  let x = 0;
  for (const b of raw) x ^= b;
  const out = [0x7e];
  for (const b of [...raw, x]) {
    if (b === 0x7e) out.push(0x7d, 0x02); else if (b === 0x7d) out.push(0x7d, 0x01); else out.push(b);
  }
  out.push(0x7e);
  return Buffer.from(out);
}
function location(p) {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(0, 0);
  b.writeUInt32BE((p.acc ? 1 : 0) | 2, 4);
  b.writeUInt32BE(Math.round(p.lat * 1e6), 8);
  b.writeUInt32BE(Math.round(p.lon * 1e6), 12);
  b.writeUInt16BE(30, 16);
  b.writeUInt16BE(Math.round(p.kmh * 10), 18);
  b.writeUInt16BE(p.course, 20);
  const d = new Date(p.ms + 8 * 3600e3);
  const two = (n) => String(n).padStart(2, '0');
  bcd(`${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`).copy(b, 22);
  return b;
}

/** Reads frames off a socket: resolves `next(pred)` with the first frame { id, body } matching. */
function frames(sock) {
  let buf = Buffer.alloc(0);
  const queue = [];
  const waiting = [];
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const a = buf.indexOf(0x7e);
      const b = a < 0 ? -1 : buf.indexOf(0x7e, a + 1);
      if (b < 0) break;
      const esc = buf.subarray(a + 1, b);
      buf = buf.subarray(b + 1);
      if (!esc.length) continue;
      const raw = [];
      for (let i = 0; i < esc.length; i++) {
        if (esc[i] === 0x7d) { raw.push(esc[i + 1] === 0x02 ? 0x7e : 0x7d); i++; } else raw.push(esc[i]);
      }
      const f = Buffer.from(raw);
      const id = f.readUInt16BE(0);
      const len = f.readUInt16BE(2) & 0x3ff;
      const msg = { id, body: f.subarray(12, 12 + len) };
      const w = waiting.findIndex((x) => x.pred(msg));
      if (w >= 0) waiting.splice(w, 1)[0].done(msg); else queue.push(msg);
    }
  });
  return (pred) => new Promise((done, fail) => {
    const q = queue.findIndex(pred);
    if (q >= 0) { done(queue.splice(q, 1)[0]); return; }
    const timer = setTimeout(() => fail(new Error('the server did not answer')), 30000);
    waiting.push({ pred, done: (m) => { clearTimeout(timer); done(m); } });
  });
}

/** Adds the car and its terminal, then sends `fixes` as backfill. Returns the car's plate and id. */
export async function seedMonth({ url, cookie, jt808, fixes }) {
  const call = async (method, path, body) => {
    const r = await fetch(new URL(path, url), { method, headers: { cookie, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const units = await call('GET', '/api/units');
  const plate = '鄂BM0808';
  const vehicle = await call('POST', '/api/vehicles', { plate, unit: units[units.length - 1].id, class: 'general' });
  await call('POST', '/api/terminals', { phone: PHONE, terminal_id: TERMINAL_ID, vehicle: vehicle.id });

  const [host, port] = [jt808.slice(0, jt808.lastIndexOf(':')), Number(jt808.slice(jt808.lastIndexOf(':') + 1))];
  const sock = connect(port, host);
  await new Promise((done, fail) => { sock.once('connect', done); sock.once('error', fail); });
  const next = frames(sock);
  let serial = 0;
  // 0x0100: province, city, maker (5), model (20), terminal id (7), plate colour 0 (a VIN follows).
  const reg = Buffer.alloc(4 + 5 + 20 + 7 + 1);
  Buffer.from('TSBEN').copy(reg, 4); Buffer.from('PAGEBENCH').copy(reg, 9); Buffer.from(TERMINAL_ID).copy(reg, 29);
  sock.write(frame(0x0100, serial++, Buffer.concat([reg, Buffer.from('LBENCH00000000808')])));
  const ack = await next((m) => m.id === 0x8100);
  if (ack.body[2] !== 0) throw new Error(`registration refused (${ack.body[2]})`);
  const code = ack.body.subarray(3);
  const authSerial = serial++;
  sock.write(frame(0x0102, authSerial, code));
  const authed = await next((m) => m.id === 0x8001 && m.body.readUInt16BE(0) === authSerial);
  if (authed.body[4] !== 0) throw new Error(`authentication refused (${authed.body[4]})`);
  // 0x0704 type 1, 30 fixes a frame (a frame's body stays under 1,023 bytes), a window of frames in flight.
  const batches = [];
  for (let i = 0; i < fixes.length; i += 30) batches.push(fixes.slice(i, i + 30));
  const WINDOW = 32;
  let sent = 0;
  const inFlight = [];
  for (const b of batches) {
    const items = b.map((p) => { const body = location(p); const len = Buffer.alloc(2); len.writeUInt16BE(body.length); return Buffer.concat([len, body]); });
    const head = Buffer.alloc(3); head.writeUInt16BE(b.length, 0); head[2] = 1;
    const s = serial++ & 0xffff;
    sock.write(frame(0x0704, s, Buffer.concat([head, ...items])));
    inFlight.push(next((m) => m.id === 0x8001 && m.body.readUInt16BE(0) === s).then((m) => { if (m.body[4] !== 0) throw new Error(`backfill refused (${m.body[4]})`); }));
    if (inFlight.length >= WINDOW) await inFlight.shift();
    sent += b.length;
  }
  await Promise.all(inFlight);
  sock.end();
  return { plate, vehicle: vehicle.id, sent };
}
