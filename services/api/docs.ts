// /docs: Swagger UI from the swagger-ui-dist package, served from here (no CDN: relays often
// run on networks without the internet).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const ASSETS = new Set(["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"]);
const TYPES: Record<string, string> = { css: "text/css", js: "text/javascript", png: "image/png" };

function assetDir(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

export function docsAsset(file: string): Response | null {
  if (!ASSETS.has(file)) return null;
  const body = readFileSync(join(assetDir(), file));
  return new Response(body, { headers: { "content-type": TYPES[file.split(".").pop()!], "cache-control": "max-age=3600" } });
}

export function docsPage(specUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcrelay API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" href="/docs/assets/favicon-32x32.png"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: "#ui", persistAuthorization: true });</script>
</body></html>`;
}
