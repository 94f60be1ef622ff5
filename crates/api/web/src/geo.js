// Coordinates: WGS-84 -> GCJ-02 for display on GCJ-02 basemaps, distances, and the offline land outline.
import { feature } from 'topojson-client';
import land110m from 'world-atlas/land-110m.json';

const A = 6378245.0;
const EE = 0.00669342162296594323;

function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function tLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  r += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
  r += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
  return r;
}

function tLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  r += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
  r += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
  return r;
}

/** WGS-84 [lon, lat] to GCJ-02 (the offset AMap and Tencent tiles are drawn in); unchanged outside China. */
export function wgsToGcj(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  let dLat = tLat(lon - 105.0, lat - 35.0);
  let dLon = tLon(lon - 105.0, lat - 35.0);
  const radLat = lat / 180.0 * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
  dLon = (dLon * 180.0) / (A / sqrtMagic * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

let gcj = false;
/** Switches display conversion on when the configured basemap is GCJ-02. */
export function setGcj02(on) { gcj = !!on; }
/** A stored WGS-84 position as the basemap wants it. */
export function disp(lon, lat) { return gcj ? wgsToGcj(lon, lat) : [lon, lat]; }

/** A point of the basemap back to WGS-84 (what is stored): the inverse of `disp`, by iteration. */
export function undisp(lon, lat) {
  if (!gcj) return [lon, lat];
  let w = [lon, lat];
  for (let i = 0; i < 6; i++) {
    const g = wgsToGcj(w[0], w[1]);
    w = [w[0] - (g[0] - lon), w[1] - (g[1] - lat)];
  }
  return w;
}

/** Converts every coordinate of a GeoJSON geometry for display. */
export function dispGeometry(g) {
  if (!gcj || !g) return g;
  const conv = (c) => (typeof c[0] === 'number' ? disp(c[0], c[1]) : c.map(conv));
  return { ...g, coordinates: conv(g.coordinates) };
}

/** The coarse world land outline (Natural Earth 1:110m via world-atlas), as GeoJSON. */
export function landOutline() {
  return feature(land110m, land110m.objects.land);
}

export function haversineM(a, b) {
  const R = 6371008.8;
  const toR = Math.PI / 180;
  const dLat = (b[1] - a[1]) * toR;
  const dLon = (b[0] - a[0]) * toR;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * toR) * Math.cos(b[1] * toR) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}
