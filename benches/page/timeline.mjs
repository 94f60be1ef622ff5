// The page's main thread in one trace kept by the bench (PAGE_BENCH_TRACE=1 PAGE_BENCH_KEEP_TRACES=DIR):
// its requests sent, and its work of `min` ms or more (animation frames, scripts, layout, the frames read
// back in `GLES2::ReadPixels`, the map worker's longer tasks), in ms from the trace's start (the press).
//
//   node benches/page/timeline.mjs DIR/trace-….json [min]
import { readFileSync } from 'node:fs';

const [file, minArg] = process.argv.slice(2);
const min = Number(minArg || 15) * 1000;
const events = JSON.parse(readFileSync(file, 'utf8')).traceEvents;
const threads = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}:${e.tid}`, e.args.name]));
const thread = (e) => threads.get(`${e.pid}:${e.tid}`) || '?';
const t0 = Math.min(...events.filter((e) => thread(e) === 'CrRendererMain' && e.ts > 0).map((e) => e.ts));
const WORK = new Set(['FireAnimationFrame', 'FunctionCall', 'Layout', 'UpdateLayoutTree', 'GLES2::ReadPixels', 'TimerFire',
  'HandlePostMessage', 'EventDispatch', 'MinorGC', 'MajorGC', 'ImplementationBase::GetBucketContents']);
const at = (ts) => ((ts - t0) / 1000).toFixed(0).padStart(6);
const rows = [];
for (const e of events) {
  const name = thread(e);
  if (e.name === 'ResourceSendRequest' && name === 'CrRendererMain') {
    rows.push([e.ts, `${at(e.ts)}        request ${e.args.data.url.replace(/^https?:\/\/[^/]+/, '').slice(0, 80)}`]);
  } else if (e.ph === 'X' && WORK.has(e.name) && e.dur >= min && (name === 'CrRendererMain' || (name.startsWith('DedicatedWorker') && e.dur >= 2 * min))) {
    const d = (e.args && e.args.data) || {};
    const what = d.functionName || (d.url || '').split('/').pop().split('?')[0] || '';
    rows.push([e.ts, `${at(e.ts)} ${(e.dur / 1000).toFixed(0).padStart(6)} ${name === 'CrRendererMain' ? '' : 'worker '}${e.name} ${what}`]);
  }
}
rows.sort((a, b) => a[0] - b[0]);
console.log('    at    took  what (ms from the trace\'s start)');
for (const [, line] of rows) console.log(line);
