// bench:plot — delivered vs offered pps per relay, one panel per payload size, as an SVG, from a
// bench:relay result (default: the newest that has all three relays).
// Usage: bun bench/plot.ts [--in bench/results/relay-….json] [--out docs/relay-plot.svg]
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: v } = parseArgs({ options: { in: { type: "string" }, out: { type: "string", default: join(import.meta.dir, "..", "docs", "relay-plot.svg") } } });
const dir = join(import.meta.dir, "results");
type Row = { variant: string; size: number; offeredPps: number; deliveredPps: number };
const load = (f: string) => JSON.parse(readFileSync(f, "utf8")) as { rows: Row[]; meta?: { date?: string } };
const file = v.in ?? readdirSync(dir).filter((f) => f.startsWith("relay-")).sort().reverse().map((f) => join(dir, f))
  .find((f) => new Set(load(f).rows.map((r) => r.variant)).size === 3)!;
const rows = load(file).rows;
const sizes = [...new Set(rows.map((r) => r.size))].sort((a, b) => a - b);
const colours: Record<string, string> = { mcrelay: "#1a7f37", "mcrelay-v3": "#8a4fff", "mcrelay-ll": "#e37400", kernel: "#0b57d0", socat: "#b3261e" };
const VARIANT_NAMES = Object.keys(colours).filter((n) => rows.some((r) => r.variant === n));
const W = 460, H = 340, M = { l: 60, r: 16, t: 36, b: 46 };
const max = Math.ceil(Math.max(...rows.map((r) => Math.max(r.offeredPps, r.deliveredPps))) / 100_000) * 100_000;
const x = (p: number) => M.l + (p / max) * (W - M.l - M.r);
const y = (p: number) => H - M.b - (p / max) * (H - M.t - M.b);
const k = (p: number) => `${Math.round(p / 1000)}k`;

const panel = (size: number, dx: number) => {
  const g: string[] = [`<g transform="translate(${dx},0)">`, `<text x="${W / 2}" y="20" text-anchor="middle" font-weight="600">${size} B payloads</text>`];
  for (let t = 0; t <= max; t += 100_000) {
    g.push(`<line x1="${x(0)}" x2="${x(max)}" y1="${y(t)}" y2="${y(t)}" stroke="#e3e3e3"/>`,
      `<text x="${x(0) - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${k(t)}</text>`,
      `<text x="${x(t)}" y="${H - M.b + 16}" text-anchor="middle" font-size="11">${k(t)}</text>`);
  }
  g.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(max)}" y2="${y(max)}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="12">offered pps</text>`,
    `<text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle" font-size="12">delivered pps</text>`);
  for (const variant of VARIANT_NAMES) {
    const pts = rows.filter((r) => r.size === size && r.variant === variant).sort((a, b) => a.offeredPps - b.offeredPps);
    if (!pts.length) continue;
    g.push(`<polyline fill="none" stroke="${colours[variant]}" stroke-width="2" points="${pts.map((p) => `${x(p.offeredPps).toFixed(1)},${y(p.deliveredPps).toFixed(1)}`).join(" ")}"/>`);
    for (const p of pts) g.push(`<circle cx="${x(p.offeredPps).toFixed(1)}" cy="${y(p.deliveredPps).toFixed(1)}" r="3" fill="${colours[variant]}"/>`);
  }
  g.push("</g>");
  return g.join("\n");
};

const legend = VARIANT_NAMES.map((n, i) =>
  `<g transform="translate(${M.l + 20 + i * 160},${H + 8})"><rect width="14" height="4" y="-6" fill="${colours[n]}"/><text x="20" font-size="12">${n === "kernel" ? "kernel (smcroute)" : n}</text></g>`).join("\n");
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W * sizes.length}" height="${H + 24}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${sizes.map((s, i) => panel(s, i * W)).join("\n")}
${legend}
</svg>
`;
writeFileSync(v.out!, svg);
console.log(`${v.out} from ${file}`);
