// Builds the pages' JavaScript and CSS into dist/ with esbuild. The dothi binary embeds dist/.
//   node build.mjs          one build (minified)
//   node build.mjs --watch  rebuild on change (debug builds of dothi read dist/ from disk)
import * as esbuild from "esbuild";
import { readdirSync, readFileSync, renameSync, rmSync } from "node:fs";

const watch = process.argv.includes("--watch");

// Every text must exist in both languages: compare the keys of each locales/vi/*.json with
// locales/en/*.json and stop the build on any difference.
for (const file of readdirSync("src/locales/vi")) {
  const vi = Object.keys(JSON.parse(readFileSync(`src/locales/vi/${file}`, "utf8")));
  const en = new Set(Object.keys(JSON.parse(readFileSync(`src/locales/en/${file}`, "utf8"))));
  const missingEn = vi.filter((k) => !en.has(k));
  const missingVi = [...en].filter((k) => !vi.includes(k));
  if (missingEn.length || missingVi.length) {
    console.error(`locales/${file}: missing in en: ${missingEn.join(", ") || "-"}; missing in vi: ${missingVi.join(", ") || "-"}`);
    process.exit(1);
  }
}
// Build into dist-next and swap it in only when the build succeeded, so a failed build never
// leaves the binary without assets.
const out = watch ? "dist" : "dist-next";
rmSync(out, { recursive: true, force: true });

const options = {
  entryPoints: { app: "src/main.jsx", style: "src/styles/app.css" },
  bundle: true,
  splitting: true,
  format: "esm",
  outdir: out,
  chunkNames: "chunks/[name]-[hash]",
  assetNames: "assets/[name]-[hash]",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  target: ["es2020", "chrome100", "safari15", "firefox100"],
  jsx: "automatic",
  jsxImportSource: "preact",
  loader: { ".png": "file", ".svg": "file", ".woff2": "file", ".json": "json" },
  legalComments: "linked",
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
  rmSync("dist", { recursive: true, force: true });
  renameSync(out, "dist");
}
