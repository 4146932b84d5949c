// Builds the console into console/dist: the shell in console/src, the pages every domain ships in
// src/huoli/<domain>/console/ (found by import.meta.glob in src/pages.js). `make install` runs it.
import { fileURLToPath } from "node:url";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
// Where the domains' console folders are: src/huoli, or (the demo walk's probe pages) another folder.
const domains = process.env.HUOLI_CONSOLE_DOMAINS ? path.resolve(process.env.HUOLI_CONSOLE_DOMAINS) : path.join(repo, "src", "huoli");

// Page files live outside this folder, where Node's lookup would not find console/node_modules: a bare
// import from them ("vue", "element-plus") resolves as if the shell had written it.
function pagesUseConsoleModules() {
  const anchor = path.join(here, "src", "main.js");
  return {
    name: "huoli-pages-resolve",
    enforce: "pre",
    async resolveId(source, importer, options) {
      if (!importer || !importer.startsWith(domains) || source.startsWith(".") || source.startsWith("/")
          || source.startsWith("@console") || source.startsWith("\0") || path.isAbsolute(source)) return null;
      return this.resolve(source, anchor, { ...options, skipSelf: true });
    },
  };
}

// Each asset also as .gz, written once here so the server sends it compressed without spending CPU per request.
function precompress(outDir) {
  return {
    name: "huoli-precompress",
    apply: "build",
    closeBundle() {
      const dir = path.join(outDir, "assets");
      if (!existsSync(dir)) return; // a failed build: let its own error be the one reported
      for (const name of readdirSync(dir)) {
        if (!/\.(js|css|svg)$/.test(name)) continue;
        const file = path.join(dir, name);
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
      }
    },
  };
}

const outDir = process.env.HUOLI_CONSOLE_OUT ? path.resolve(process.env.HUOLI_CONSOLE_OUT) : path.join(here, "dist");

export default defineConfig({
  root: here,
  base: "/console/",
  plugins: [pagesUseConsoleModules(), vue(), precompress(outDir)],
  resolve: { alias: { "@console": path.join(here, "src"), "@domains": domains } },
  server: { fs: { allow: [repo, domains] } },
  build: {
    outDir,
    emptyOutDir: true,
    // No inline scripts: the console's CSP allows only files from this origin.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
});
