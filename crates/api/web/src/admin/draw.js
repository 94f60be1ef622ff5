// Drawing a geofence on the map: a polygon point by point (a press on its first point, or Finish, closes
// it), or a circle (a press at the centre, another on its edge) made a polygon of CIRCLE_POINTS vertices,
// the only shape the geofence format knows. Every vertex can be dragged to edit the shape, a drawn one or
// a stored one. The map shows display coordinates (GCJ-02 on such basemaps); what is read back is WGS-84.

const CIRCLE_POINTS = 48;
const SOURCE = 'draw';
const empty = () => ({ type: 'FeatureCollection', features: [] });

/** A ring of `n` points at `radius` metres around `centre` ([lon, lat]), on a local flat projection. */
export function circleRing(centre, radiusM, n = CIRCLE_POINTS) {
  const mPerDegLat = 111320;
  const mPerDegLon = 111320 * Math.cos((centre[1] * Math.PI) / 180);
  const ring = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    ring.push([centre[0] + (radiusM * Math.sin(a)) / mPerDegLon, centre[1] + (radiusM * Math.cos(a)) / mPerDegLat]);
  }
  return ring;
}

/** Metres between two [lon, lat] points (short distances). */
function metres(a, b) {
  const dx = (b[0] - a[0]) * 111320 * Math.cos((a[1] * Math.PI) / 180);
  const dy = (b[1] - a[1]) * 111320;
  return Math.hypot(dx, dy);
}

/**
 * The drawing tool on `map`. `disp`/`undisp` convert WGS-84 to the map's coordinates and back; `onchange`
 * is told whenever the shape changes. Returns { startPolygon, startCircle, finish, load, clear, read,
 * detach, state }.
 */
export function drawing(map, { disp, undisp, onchange = () => {} }) {
  const S = { mode: null, points: [], closed: false, centre: null, original: null, changed: false };
  let drag = null;
  let dragged = false;

  const render = () => {
    const src = map.getSource(SOURCE);
    if (!src) return;
    const fc = empty();
    const pts = S.points;
    if (S.closed && pts.length >= 3) fc.features.push({ type: 'Feature', properties: { part: 'shape' }, geometry: { type: 'Polygon', coordinates: [[...pts, pts[0]]] } });
    else if (pts.length >= 2) fc.features.push({ type: 'Feature', properties: { part: 'shape' }, geometry: { type: 'LineString', coordinates: pts } });
    pts.forEach((p, i) => fc.features.push({ type: 'Feature', properties: { part: 'vertex', i, first: i === 0 }, geometry: { type: 'Point', coordinates: p } }));
    if (S.centre) fc.features.push({ type: 'Feature', properties: { part: 'vertex', i: -1, first: true }, geometry: { type: 'Point', coordinates: S.centre } });
    src.setData(fc);
    map.getCanvas().dataset.drawPoints = String(pts.length);
    map.getCanvas().dataset.drawClosed = String(S.closed);
  };
  const changed = () => { S.changed = true; render(); onchange(); };

  const ensure = () => {
    if (map.getSource(SOURCE)) return;
    map.addSource(SOURCE, { type: 'geojson', data: empty() });
    map.addLayer({ id: 'draw-fill', type: 'fill', source: SOURCE, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#6a1b9a', 'fill-opacity': 0.15 } });
    map.addLayer({ id: 'draw-line', type: 'line', source: SOURCE, filter: ['==', ['get', 'part'], 'shape'], paint: { 'line-color': '#6a1b9a', 'line-width': 2 } });
    map.addLayer({ id: 'draw-vertex', type: 'circle', source: SOURCE, filter: ['==', ['get', 'part'], 'vertex'], paint: { 'circle-radius': ['case', ['get', 'first'], 7, 5], 'circle-color': '#fff', 'circle-stroke-color': '#6a1b9a', 'circle-stroke-width': 2 } });
    map.on('click', onClick);
    map.on('mousedown', 'draw-vertex', onDown);
    map.on('touchstart', 'draw-vertex', onDown);
  };
  if (map.isStyleLoaded()) ensure(); else map.once('load', ensure);

  function vertexAt(point) {
    const hits = map.queryRenderedFeatures([[point.x - 6, point.y - 6], [point.x + 6, point.y + 6]], { layers: ['draw-vertex'] });
    return hits.length ? hits[0].properties.i : null;
  }
  function onClick(e) {
    if (dragged) { dragged = false; return; }
    const p = [e.lngLat.lng, e.lngLat.lat];
    if (S.mode === 'polygon') {
      const hit = vertexAt(e.point);
      if (hit === 0 && S.points.length >= 3) { finish(); return; }
      S.points.push(p);
      changed();
    } else if (S.mode === 'circle') {
      if (!S.centre) { S.centre = p; changed(); return; }
      const r = metres(S.centre, p);
      S.points = circleRing(S.centre, Math.max(r, 1));
      S.centre = null;
      S.closed = true;
      S.mode = null;
      setCursor();
      changed();
    }
  }
  function onDown(e) {
    const f = e.features && e.features[0];
    if (!f || f.properties.i < 0) return;
    e.preventDefault();
    drag = f.properties.i;
    dragged = false;
    map.on('mousemove', onMove);
    map.on('touchmove', onMove);
    map.once('mouseup', onUp);
    map.once('touchend', onUp);
  }
  function onMove(e) {
    if (drag === null) return;
    dragged = true;
    S.points[drag] = [e.lngLat.lng, e.lngLat.lat];
    changed();
  }
  function onUp() {
    drag = null;
    map.off('mousemove', onMove);
    map.off('touchmove', onMove);
  }
  function setCursor() { map.getCanvas().style.cursor = S.mode ? 'crosshair' : ''; }
  /** Cars on the map would take the presses meant for the drawing: hidden while it is on screen. */
  const carsVisible = (on) => { for (const l of ['cars', 'clusters']) if (map.getLayer(l)) map.setLayoutProperty(l, 'visibility', on ? 'visible' : 'none'); };

  function start(mode) {
    ensure();
    S.mode = mode; S.points = []; S.closed = false; S.centre = null; S.original = null;
    carsVisible(false);
    setCursor();
    changed();
  }
  function finish() {
    if (S.mode === 'polygon' && S.points.length >= 3) S.closed = true;
    S.mode = null;
    setCursor();
    changed();
  }
  /** Shows a stored fence (WGS-84 GeoJSON geometry) for editing its first polygon's outer ring. */
  function load(geometry) {
    ensure();
    const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
    const ring = (polys[0] && polys[0][0]) || [];
    const open = ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1] ? ring.slice(0, -1) : ring;
    S.mode = null; S.centre = null; S.closed = true; S.original = geometry; S.changed = false;
    S.points = open.map((c) => disp(c[0], c[1]));
    carsVisible(false);
    render();
    return S.points;
  }
  function clear() { S.mode = null; S.points = []; S.closed = false; S.centre = null; S.original = null; S.changed = false; setCursor(); render(); }
  /** The shape as a WGS-84 GeoJSON geometry, null when none is closed. A stored fence not edited keeps its
   * own geometry (all its polygons and holes). */
  function read() {
    if (S.original && !S.changed) return S.original;
    if (!S.closed || S.points.length < 3) return null;
    const ring = S.points.map((p) => undisp(p[0], p[1]).map((x) => Math.round(x * 1e7) / 1e7));
    // A stored fence with more polygons keeps the others; its first polygon's outer ring is the one edited.
    if (S.original && S.original.type === 'MultiPolygon' && S.original.coordinates.length > 1) {
      return { type: 'MultiPolygon', coordinates: [[[...ring, ring[0]], ...S.original.coordinates[0].slice(1)], ...S.original.coordinates.slice(1)] };
    }
    return { type: 'Polygon', coordinates: [[...ring, ring[0]]] };
  }
  function detach() {
    clear();
    carsVisible(true);
    map.off('click', onClick);
    map.off('mousedown', 'draw-vertex', onDown);
    map.off('touchstart', 'draw-vertex', onDown);
    for (const l of ['draw-vertex', 'draw-line', 'draw-fill']) if (map.getLayer(l)) map.removeLayer(l);
    if (map.getSource(SOURCE)) map.removeSource(SOURCE);
  }
  return { startPolygon: () => start('polygon'), startCircle: () => start('circle'), finish, load, clear, read, detach, state: S };
}
