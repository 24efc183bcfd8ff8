// Bundles the console into assets/console/ (console.js, console.css): one file each, minified,
// no source map, no external request at run time. `node build.mjs --out DIR` writes elsewhere
// (scripts/console.sh --check compares that with the checked-in files).
import * as esbuild from "esbuild";

const i = process.argv.indexOf("--out");
const out = i > 0 ? process.argv[i + 1] : "../assets/console";

await esbuild.build({
  entryPoints: { console: "src/main.tsx" },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  loader: { ".graphql": "text" },
  legalComments: "none",
  outdir: out,
  logLevel: "warning",
});
await esbuild.build({
  entryPoints: { console: "src/style.css" },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
