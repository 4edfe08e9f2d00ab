// A rule's outputs as the send loop reads them: flat typed arrays, one entry per output, built
// when a configuration is applied (never per packet). Raw outputs point at their header
// template, kept in C memory (a template's address must not move while a send is queued: C
// copies it into the send's own header when the send is queued, so a template may be freed as
// soon as no rule uses it).
import { allocStable, freeStable, type Mapping } from "../../c/sys.ts";
import { RAW_TEMPLATE } from "../../c/uring.ts";
import type { EgressRule } from "../protocol/worker.ts";
import { Pending } from "./gso.ts";
import { writeTemplate } from "./raw-frame.ts";

export interface RuleOutputs {
  n: number;
  fds: Int32Array;
  /** where the output copies the input's DSCP (socket sends; raw ones do it in the template): 1 by
   *  IP_TOS, 2 by IPV6_TCLASS; 0: not */
  preserve: Uint8Array;
  /** the raw header template's address, 0: sent on the output's UDP socket */
  tmpl: Float64Array;
  /** the largest payload the output's MTU takes */
  maxLen: Uint32Array;
  /** the output's counter row + 1 (what its completions carry as their tag), 0: none */
  tag: Uint32Array;
  /** 1: a GSO output (raw, its socket takes a virtio_net_hdr: every send goes by sendGso) */
  gso: Uint8Array;
  /** 1: the output copies each packet's TOS (a GSO super-frame then carries datagrams of one TOS) */
  keepTos: Uint8Array;
  /** the GSO outputs' slots not yet sent (null when the rule has none) */
  pending: Pending | null;
}

/** Header templates by what they hold: outputs with the same header share one (and its IP ID). */
export class Templates {
  private readonly byKey = new Map<string, Mapping>();

  address(r: EgressRule, i: number): number {
    const spec = r.outputs[i].raw;
    if (!spec) return 0;
    const key = JSON.stringify(spec);
    let m = this.byKey.get(key);
    if (!m) {
      m = allocStable(RAW_TEMPLATE.size);
      writeTemplate(new Uint8Array(m.buf), spec);
      this.byKey.set(key, m);
    }
    return m.addr;
  }

  /** Frees the templates no rule among `rules` uses. */
  keepOnly(rules: Iterable<EgressRule>): void {
    const used = new Set<string>();
    for (const r of rules) for (const o of r.outputs) if (o.raw) used.add(JSON.stringify(o.raw));
    for (const [k, m] of this.byKey) {
      if (used.has(k)) continue;
      freeStable(m);
      this.byKey.delete(k);
    }
  }

  close(): void {
    this.keepOnly([]);
  }
}

/** The rule's outputs whose sockets this egress holds (the others could not be opened). */
export function ruleOutputs(r: EgressRule, sockets: ReadonlyMap<string, number>, templates: Templates): RuleOutputs {
  const idx = r.outputs.map((_, i) => i).filter((i) => sockets.has(r.outputs[i].socket));
  const pick = <A>(f: (i: number) => number, A: new (xs: number[]) => A) => new A(idx.map(f));
  // The supervisor marks gso only raw outputs (configure.ts, egressOutput).
  const gso = pick((i) => (r.outputs[i].gso ? 1 : 0), Uint8Array);
  return {
    n: idx.length,
    fds: pick((i) => sockets.get(r.outputs[i].socket)!, Int32Array),
    preserve: pick((i) => (r.outputs[i].preserve && !r.outputs[i].raw ? (r.outputs[i].v6 ? 2 : 1) : 0), Uint8Array),
    tmpl: pick((i) => templates.address(r, i), Float64Array),
    maxLen: pick((i) => r.outputs[i].maxPayload, Uint32Array),
    tag: pick((i) => r.outputs[i].row + 1, Uint32Array),
    gso,
    keepTos: pick((i) => (r.outputs[i].preserve ? 1 : 0), Uint8Array),
    pending: gso.includes(1) ? new Pending(idx.length) : null,
  };
}
