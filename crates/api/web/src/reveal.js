// The map's canvas hidden while the map gets ready for what the user asked to see, and shown for the frame
// that has it. Where WebGL is drawn in software (no GPU: SwiftShader) every frame shown holds the page's
// main thread while the whole map is drawn on the CPU and read back, 130-375 ms each on a quiet machine;
// frames of a hidden canvas are not read back. So the frames in which the map has only part of the
// picture (the sea before the land, the basemap before the cars, the new place before the track's tiles
// are cut) are not shown and do not delay the one that has it (BENCHMARKS.md, "The page in a browser").

/**
 * Hides the canvas of `map` until `ready()` holds, checked after each source's data event and whenever the
 * returned function is called (when something `ready` waits for changed outside the map). After `maxMs`
 * the canvas is shown whatever is loaded. Returns that check.
 */
export function hideUntil(map, ready, maxMs, onShown = () => {}) {
  const canvas = map.getCanvas();
  canvas.style.visibility = 'hidden';
  let shown = false;
  let timer = 0;
  const show = (force) => {
    if (shown || (force !== true && !ready())) return;
    shown = true;
    clearTimeout(timer);
    map.off('sourcedata', check);
    canvas.style.visibility = '';
    map.triggerRepaint();
    onShown();
  };
  const check = () => show(false);
  map.on('sourcedata', check);
  if (maxMs) timer = setTimeout(() => show(true), maxMs);
  return check;
}

/**
 * Hides the canvas of `map` until the tiles of `source` for the view it moves to are loaded: `move` moves
 * the camera. A source's tiles for a new view are only asked for in the frame after the move, so until one
 * of them has loaded the source counts as loaded with the old view's.
 */
export function moveHidden(map, source, move, maxMs) {
  let asked = false;
  const onData = (e) => { if (e.sourceId === source && e.tile) asked = true; };
  map.on('sourcedata', onData);
  const check = hideUntil(map, () => asked && map.isSourceLoaded(source), maxMs, () => map.off('sourcedata', onData));
  move();
  return check;
}
