// The console's build: console/ into dist/console, served by the gateway at
// /console/ (src/gateway/plugins/console.ts). Nothing is fetched at run time.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // No source maps in what the gateway serves; the sources are in the repository.
    sourcemap: false,
    rollupOptions: {
      output: {
        // The editor (CodeMirror, each language apart) and the charts (uPlot) in chunks of their own, loaded by the pages that use them.
        manualChunks: (id) => {
          if (/node_modules\/(@codemirror\/lang-javascript|@lezer\/javascript)\//.test(id)) return 'lang-javascript';
          if (/node_modules\/(@codemirror\/lang-python|@lezer\/python)\//.test(id)) return 'lang-python';
          if (/node_modules\/(@codemirror|@lezer|codemirror|style-mod|w3c-keyname|crelt)\//.test(id)) return 'codemirror';
          if (id.includes('node_modules/uplot/')) return 'uplot';
          return undefined;
        },
      },
    },
  },
});
