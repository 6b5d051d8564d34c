// @ts-check
// Builds the explorer's page: web/main.tsx (Preact, uPlot) bundled by esbuild into
// dist/web/app.js and app.css, and web/index.html copied beside them. The devnet's process
// serves dist/web (src/server.ts); nothing is fetched from elsewhere at run time.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "web");
await mkdir(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { app: "web/main.tsx" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  minify: true,
  sourcemap: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
});
await copyFile(join(root, "web", "index.html"), join(out, "index.html"));
