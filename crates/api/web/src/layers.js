// The map's whole style: the basemap (basemap.js) and, over it, the page's own sources and layers:
// geofences, the cars (clustered) with their plates, the replay's track with its stops and its
// full-detail stretch.
//
// The page's layers are part of the style the map is created with, and the cars' source comes first and
// already holds the fleet when the live feed's snapshot is in: the map's worker cuts the cars before any
// basemap tile, and the first frames drawn with the basemap have the cars in them. Each frame is the
// page's dearest work where WebGL is drawn in software (BENCHMARKS.md, "The page in a browser"), so no
// frame is spent on a map without its cars.
import { basemapStyle, plateLayer } from './basemap.js';

/** A car's colour by its state (the map's arrows, the list's dots, the legend's chips). */
export const COLORS = { moving: '#2e7d32', idling: '#f0a500', parked: '#4a6fa5', offline: '#9e9e9e', alarm: '#d32f2f' };

export const emptyFC = () => ({ type: 'FeatureCollection', features: [] });

/** A car's arrow in `color`, 40x40 pixels (drawn at half size). */
export function arrowImage(color) {
  const size = 40;
  const c = document.createElement('canvas');
  c.width = size; c.height = size;
  const g = c.getContext('2d');
  g.translate(size / 2, size / 2);
  g.beginPath(); g.moveTo(0, -16); g.lineTo(11, 13); g.lineTo(0, 7); g.lineTo(-11, 13); g.closePath();
  g.fillStyle = color; g.strokeStyle = '#fff'; g.lineWidth = 3; g.stroke(); g.fill();
  return g.getImageData(0, 0, size, size);
}

/** The arrows the cars' layer names (`car-<state>`), added to `map` once. */
export function addCarImages(map) {
  for (const [state, color] of Object.entries(COLORS)) {
    if (!map.hasImage(`car-${state}`)) map.addImage(`car-${state}`, arrowImage(color), { pixelRatio: 2 });
  }
}

const kindColor = ['match', ['get', 'kind'], 'prohibited', '#d32f2f', 'depot', '#1f6fb5', 'speed_zone', '#f0a500', '#2e7d32'];

/** The page's layers, above the basemap's. */
function pageLayers() {
  return [
    { id: 'fence-fill', type: 'fill', source: 'fences', paint: { 'fill-color': kindColor, 'fill-opacity': ['match', ['get', 'kind'], 'region', 0.03, 0.15] } },
    { id: 'fence-line', type: 'line', source: 'fences', paint: { 'line-color': kindColor, 'line-width': ['match', ['get', 'kind'], 'region', 2, 1], 'line-dasharray': [2, 1] } },
    { id: 'clusters', type: 'circle', source: 'cars', filter: ['has', 'point_count'], paint: { 'circle-color': '#1f6fb5', 'circle-opacity': 0.85, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2, 'circle-radius': ['step', ['get', 'point_count'], 14, 20, 18, 100, 24] } },
    { id: 'cars', type: 'symbol', source: 'cars', filter: ['!', ['has', 'point_count']], layout: { 'icon-image': ['concat', 'car-', ['get', 'state']], 'icon-rotate': ['get', 'course'], 'icon-rotation-alignment': 'map', 'icon-allow-overlap': true, 'icon-ignore-placement': true } },
    plateLayer('cars'),
    { id: 'track', type: 'line', source: 'track', filter: ['!=', ['geometry-type'], 'Point'], layout: { 'line-cap': 'round', 'line-join': 'round', visibility: 'none' }, paint: { 'line-width': 4, 'line-color': ['interpolate', ['linear'], ['get', 'kmh'], 0, '#4a6fa5', 30, '#2e7d32', 60, '#f0a500', 90, '#d32f2f', 120, '#6a1b9a'] } },
    { id: 'track-detail', type: 'line', source: 'track-detail', layout: { visibility: 'none' }, paint: { 'line-width': 2, 'line-color': '#222', 'line-opacity': 0.6 } },
    // The stops are points of the track's own source: one set of tiles to cut and wait for, not two.
    { id: 'stops', type: 'circle', source: 'track', filter: ['==', ['geometry-type'], 'Point'], layout: { visibility: 'none' }, paint: { 'circle-radius': 5, 'circle-color': '#fff', 'circle-stroke-color': '#4a6fa5', 'circle-stroke-width': 2 } },
  ];
}

/** The map's style for `config` (`GET /api/config`), its cars' source holding `cars` (a FeatureCollection). */
export function mapStyle(config, cars) {
  const base = basemapStyle(config);
  const sources = {
    cars: { type: 'geojson', data: cars, cluster: true, clusterMaxZoom: 11, clusterRadius: 45 },
    ...base.sources,
    fences: { type: 'geojson', data: emptyFC() },
    track: { type: 'geojson', data: emptyFC() },
    'track-detail': { type: 'geojson', data: emptyFC() },
  };
  return { version: 8, sources, layers: [...base.layers, ...pageLayers()], ...(base.glyphs ? { glyphs: base.glyphs } : {}) };
}
