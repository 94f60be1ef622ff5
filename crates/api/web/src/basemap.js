// The basemap under the live map and replay, from `GET /api/config`:
// - vector tiles served by Tianshu itself from a PMTiles archive (a province extract in the Protomaps
//   basemap schema, or the demo's own: roads by class, towns, depots), read through the `pmtiles`
//   protocol with range requests; map text is drawn with the browser's fonts unless glyphs are served;
// - a raster tile server (an intranet server, Tianditu with its key, a GCJ-02 one with `gcj02`), drawn
//   over the vector tiles when both are set;
// - under both, the coarse world land outline, so that the map is never blank.
// When the tiles fail, the page says so once (`#map-notice`) and the map keeps working.
import * as maplibregl from 'maplibre-gl';
import { Protocol } from 'pmtiles';
import { landOutline } from './geo.js';
import { t } from './i18n.js';

const LAND = '#f2efe6';
const WATER = '#a9c9e4';
/** The sources whose tiles are the basemap (a failure of one of them is a tile failure). */
export const BASEMAP_SOURCES = new Set(['tiles', 'basemap']);
/** The vector basemap's layers (the browser test hides them to compare with an empty map). */
export const VECTOR_LAYERS = [];

let protocolAdded = false;
function addPmtilesProtocol() {
  if (protocolAdded) return;
  maplibregl.addProtocol('pmtiles', new Protocol().tile);
  protocolAdded = true;
}

const roadWidth = (highway, major, minor) => ['interpolate', ['exponential', 1.6], ['zoom'],
  6, ['match', ['get', 'kind'], 'highway', highway[0], 'major_road', major[0], minor[0]],
  16, ['match', ['get', 'kind'], 'highway', highway[1], 'major_road', major[1], minor[1]]];

/** The layers drawing a vector basemap in the Protomaps schema (`earth`, `water`, `landuse`, `roads`,
 * `places`) and the demo's `depots`. */
function vectorLayers(font) {
  const text = (extra) => ({ 'text-field': ['get', 'name'], ...(font ? { 'text-font': font } : {}), ...extra });
  const halo = { 'text-color': '#333', 'text-halo-color': '#fff', 'text-halo-width': 1.5 };
  const roads = ['match', ['get', 'kind'], ['highway', 'major_road', 'minor_road'], true, false];
  return [
    { id: 'bm-earth', type: 'fill', source: 'basemap', 'source-layer': 'earth', paint: { 'fill-color': LAND } },
    { id: 'bm-landuse', type: 'fill', source: 'basemap', 'source-layer': 'landuse', filter: ['match', ['get', 'kind'], ['park', 'forest', 'wood', 'grass', 'nature_reserve', 'farmland'], true, false], paint: { 'fill-color': '#dcebd2', 'fill-opacity': 0.7 } },
    { id: 'bm-water', type: 'fill', source: 'basemap', 'source-layer': 'water', paint: { 'fill-color': WATER } },
    { id: 'bm-depots', type: 'fill', source: 'basemap', 'source-layer': 'depots', paint: { 'fill-color': '#dfe6f0', 'fill-outline-color': '#8fa3bf' } },
    { id: 'bm-road-casing', type: 'line', source: 'basemap', 'source-layer': 'roads', filter: roads, layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#a99f8d', 'line-width': roadWidth([1.8, 18], [1.4, 15], [0.8, 13]) } },
    { id: 'bm-roads', type: 'line', source: 'basemap', 'source-layer': 'roads', filter: roads, layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': ['match', ['get', 'kind'], 'highway', '#f2a65a', 'major_road', '#ffd873', '#ffffff'], 'line-width': roadWidth([1.1, 15], [0.9, 12], [0.4, 10]) } },
    { id: 'bm-road-names', type: 'symbol', source: 'basemap', 'source-layer': 'roads', minzoom: 13, filter: roads, layout: text({ 'symbol-placement': 'line', 'text-size': 12 }), paint: halo },
    { id: 'bm-depot-names', type: 'symbol', source: 'basemap', 'source-layer': 'depots', minzoom: 15, layout: text({ 'text-size': 11 }), paint: { ...halo, 'text-color': '#4a6fa5' } },
    { id: 'bm-places', type: 'symbol', source: 'basemap', 'source-layer': 'places', filter: ['match', ['get', 'kind'], ['locality', 'region'], true, false], layout: text({ 'text-size': ['interpolate', ['linear'], ['zoom'], 6, 12, 12, 16] }), paint: { ...halo, 'text-halo-width': 2 } },
  ];
}

/** The basemap's sources and layers (the page adds its own above them), and the glyphs URL if any. */
export function basemapStyle(config) {
  const sources = { land: { type: 'geojson', data: landOutline() } };
  const layers = [
    { id: 'water', type: 'background', paint: { 'background-color': WATER } },
    { id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': LAND, 'fill-outline-color': '#8aa' } },
  ];
  if (config.pmtiles_url) {
    addPmtilesProtocol();
    sources.basemap = { type: 'vector', url: `pmtiles://${new URL(config.pmtiles_url, window.location.href).href}`, attribution: config.attribution || '' };
    const vector = vectorLayers(config.glyphs_url ? ['Noto Sans Regular'] : null);
    VECTOR_LAYERS.splice(0, VECTOR_LAYERS.length, ...vector.map((l) => l.id));
    layers.push(...vector.filter((l) => l.type !== 'symbol'));
    if (config.tile_url) {
      sources.tiles = { type: 'raster', tiles: [config.tile_url], tileSize: 256, attribution: config.attribution || '' };
      layers.push({ id: 'tiles', type: 'raster', source: 'tiles' });
    }
    // Labels above the raster tiles.
    layers.push(...vector.filter((l) => l.type === 'symbol'));
  } else if (config.tile_url) {
    sources.tiles = { type: 'raster', tiles: [config.tile_url], tileSize: 256, attribution: config.attribution || '' };
    layers.push({ id: 'tiles', type: 'raster', source: 'tiles' });
  }
  return { sources, layers, glyphs: config.glyphs_url ? window.location.origin + config.glyphs_url : undefined };
}

/** Plate labels over the cars at street zoom: only cars drawn (in view, not clustered) get one. */
export function plateLayer(source) {
  return {
    id: 'plates', type: 'symbol', source, minzoom: 14, filter: ['!', ['has', 'point_count']],
    layout: { 'text-field': ['get', 'plate'], 'text-size': 12, 'text-offset': [0, 1.5], 'text-anchor': 'top', 'text-optional': true },
    paint: { 'text-color': '#1a2b3c', 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
  };
}

/** Says once, over the map, that its tiles fail; other map errors go to the console as before. The
 * notice can be closed; it does not come back. */
export function watchTiles(map, container) {
  let told = false;
  map.on('error', (e) => {
    if (!BASEMAP_SOURCES.has(e.sourceId)) { console.error(e.error || e); return; }
    if (told) return;
    told = true;
    const notice = document.createElement('div');
    notice.id = 'map-notice';
    notice.setAttribute('role', 'status');
    const text = document.createElement('span');
    text.dataset.i18n = 'tiles_failed';
    text.textContent = t('tiles_failed');
    const close = document.createElement('button');
    close.className = 'close';
    close.textContent = '×';
    close.setAttribute('aria-label', t('close_panel'));
    close.addEventListener('click', () => notice.remove());
    notice.append(text, close);
    container.append(notice);
  });
}
