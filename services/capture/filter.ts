// Which captured frames belong to the rule: parsed as ingress parses them (parse.ts, the one
// parser), then compared with the rule's input (received) or its outputs (sent).
import { F, PARSED_FIELDS, PARSE_OK, NOT_UDP_CODE, parseFrame } from "../ingress/parse.ts";
import type { CaptureMatch } from "../protocol/capture.ts";

const out = new Uint32Array(PARSED_FIELDS);

/** Does the frame (VLAN tag, if any, in its bytes) match any of the matches? null: every frame. */
export function keep(frame: Uint8Array, len: number, matches: CaptureMatch[] | null): boolean {
  if (matches === null) return true;
  const rc = parseFrame(frame, 0, len, -1, out);
  if (rc !== PARSE_OK && rc !== NOT_UDP_CODE) return false;
  const proto = rc === PARSE_OK ? 17 : out[F.proto];
  for (const m of matches) {
    if (out[F.family] !== m.family || out[F.dst] !== m.dst || proto !== m.protocol) continue;
    if (m.dport !== undefined && (rc !== PARSE_OK || out[F.dport] !== m.dport)) continue;
    if (m.src !== undefined && out[F.src] !== m.src) continue;
    if (m.vlan !== undefined && out[F.vlan] !== m.vlan) continue;
    return true;
  }
  return false;
}
