// The fan-out benchmark's plot: delivered vs offered output pps, one panel per N and payload size.
import type { Trial } from "./trial.ts";

const COLOURS: Record<string, string> = { mcrelay: "#1a7f37", "mcrelay-socket": "#8a4fff", "mcrelay-gso": "#e8710a", kernel: "#0b57d0", socat: "#b3261e" };
const W = 300, H = 260, M = { l: 54, r: 12, t: 30, b: 40 };

export function fanoutPlot(trials: Trial[], ns: number[], relays: string[]): string {
  const sizes = [...new Set(trials.map((t) => t.size))].sort((a, b) => a - b);
  const panel = (n: number, size: number, dx: number, dy: number) => {
    const ts = trials.filter((t) => t.n === n && t.size === size);
    const max = Math.max(100_000, ...ts.map((t) => Math.max(t.offeredOutPps, t.deliveredPps))) * 1.05;
    const step = max > 1e6 ? 500_000 : max > 400_000 ? 200_000 : 100_000;
    const x = (p: number) => M.l + (p / max) * (W - M.l - M.r);
    const y = (p: number) => H - M.b - (p / max) * (H - M.t - M.b);
    const lbl = (p: number) => (p >= 1e6 ? `${p / 1e6}M` : `${p / 1000}k`);
    const g = [`<g transform="translate(${dx},${dy})">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="600">1:${n}, ${size} B</text>`];
    for (let t = 0; t <= max; t += step) {
      g.push(`<line x1="${x(0)}" x2="${x(max)}" y1="${y(t)}" y2="${y(t)}" stroke="#e3e3e3"/>`,
        `<text x="${x(0) - 5}" y="${y(t) + 4}" text-anchor="end" font-size="10">${lbl(t)}</text>`,
        `<text x="${x(t)}" y="${H - M.b + 14}" text-anchor="middle" font-size="10">${lbl(t)}</text>`);
    }
    g.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(max)}" y2="${y(max)}" stroke="#999" stroke-dasharray="4 4"/>`,
      `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">offered output pps</text>`,
      `<text transform="translate(12,${H / 2}) rotate(-90)" text-anchor="middle" font-size="11">delivered pps</text>`);
    for (const r of relays) {
      const pts = ts.filter((t) => t.relay === r).sort((a, b) => a.offeredOutPps - b.offeredOutPps);
      if (!pts.length) continue;
      g.push(`<polyline fill="none" stroke="${COLOURS[r]}" stroke-width="2" points="${pts.map((p) => `${x(p.offeredOutPps).toFixed(1)},${y(p.deliveredPps).toFixed(1)}`).join(" ")}"/>`);
      for (const p of pts) g.push(`<circle cx="${x(p.offeredOutPps).toFixed(1)}" cy="${y(p.deliveredPps).toFixed(1)}" r="2.5" fill="${COLOURS[r]}"/>`);
    }
    g.push("</g>");
    return g.join("\n");
  };
  const panels = sizes.flatMap((s, row) => ns.map((n, col) => panel(n, s, col * W, row * H)));
  const legend = relays.map((r, i) => `<g transform="translate(${M.l + i * 170},${sizes.length * H + 14})"><rect width="14" height="4" y="-6" fill="${COLOURS[r]}"/>` +
    `<text x="20" font-size="12">${r === "kernel" ? "kernel (smcroute)" : r}</text></g>`).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * ns.length}" height="${H * sizes.length + 24}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${panels.join("\n")}
${legend}
</svg>
`;
}
