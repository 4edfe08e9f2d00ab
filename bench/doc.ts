// Each benchmark owns one section of docs/PERFORMANCE.md, between <!-- bench:NAME:begin/end -->.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PERFORMANCE_MD = join(import.meta.dir, "..", "docs", "PERFORMANCE.md");

const INTRO = `# Performance

Benchmarks of mcrelay, how to run them, and the latest results. Each section between
\`bench:*\` markers is rewritten by its benchmark; edit the text outside the markers freely.
`;

/** Replaces the section's text between its markers (adding the file or the markers if missing). */
export function writeSection(name: string, heading: string, body: string, path = PERFORMANCE_MD): void {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  let doc = existsSync(path) ? readFileSync(path, "utf8") : INTRO;
  const block = `${begin}\n${heading}\n\n${body.trim()}\n${end}`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  doc = a >= 0 && b > a ? doc.slice(0, a) + block + doc.slice(b + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, doc);
}
