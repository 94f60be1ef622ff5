// What a panel over the map draws on it: labelled places, a line in the track's source, and the map fitted
// to them clear of the panel (beside it on a wide screen, above it where it is a sheet on a phone).
// Positions come in WGS-84 and are drawn where the basemap shows them (`disp`).
import * as maplibregl from 'maplibre-gl';

const markers = [];

/** Takes the markers and the line off the map. */
export function clearOverlay(ctx) {
  for (const m of markers.splice(0)) m.remove();
  const map = ctx.getMap();
  if (map && map.getSource('track')) map.getSource('track').setData({ type: 'FeatureCollection', features: [] });
}

/** A labelled marker at a WGS-84 place (class `cls` for its look); where it is drawn, or null. */
export function markAt(ctx, lon, lat, text, cls) {
  const map = ctx.getMap();
  if (!map) return null;
  const p = ctx.disp(lon, lat);
  const element = ctx.el('div', { class: `map-mark ${cls}` }, ctx.el('span', { class: 'data' }, text));
  markers.push(new maplibregl.Marker({ element }).setLngLat(p).addTo(map));
  return p;
}

/** A line through WGS-84 `[lon, lat]` points in the track's source; the points as drawn. */
export function drawLine(ctx, points) {
  const map = ctx.getMap();
  if (!map || !map.getSource('track') || points.length < 2) return [];
  const line = points.map(([lon, lat]) => ctx.disp(lon, lat));
  map.getSource('track').setData({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { kmh: 30 }, geometry: { type: 'LineString', coordinates: line } }] });
  return line;
}

/** Fits the map to the drawn points, keeping them clear of `panel`. */
export function fitOverlay(ctx, coords, panel) {
  const map = ctx.getMap();
  const pts = coords.filter(Boolean);
  if (!map || !pts.length) return;
  const b = pts.reduce((acc, p) => acc.extend(p), new maplibregl.LngLatBounds(pts[0], pts[0]));
  map.resize();
  const box = panel.getBoundingClientRect();
  const area = map.getContainer().getBoundingClientRect();
  const padding = { top: 40, bottom: 40, left: 40, right: 40 };
  if (box.width >= 0.9 * area.width) padding.bottom = Math.min(Math.max(area.bottom - box.top, 0) + 30, area.height - 120);
  // Beside the panel: what it covers is left out, keeping at least 200 px of map for the places.
  else padding.right = Math.max(40, Math.min(box.width + 40, area.width - 240));
  map.fitBounds(b, { padding, maxZoom: 15, duration: 0 });
}
