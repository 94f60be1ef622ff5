// Bundles the page into the directory given as the first argument (crates/api/build.rs passes OUT_DIR/web).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const out = process.argv[2] || 'dist';
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: ['src/main.js'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outfile: `${out}/app.js`,
  legalComments: 'external',
  logLevel: 'warning',
});
// MapLibre runs its tile work in a module worker loaded from its own file.
copyFileSync('node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs', `${out}/maplibre-gl-worker.mjs`);
copyFileSync('index.html', `${out}/index.html`);
copyFileSync('favicon.svg', `${out}/favicon.svg`);
