// A local OTLP/HTTP trace receiver for the tests: accepts POST /v1/traces in both encodings
// (application/json and application/x-protobuf, decoded from the wire format here) and prints
// one JSON line per span: {name, service, attrs, startNs, endNs, encoding}.
import { parseArgs } from "node:util";

const { values: v } = parseArgs({ options: { port: { type: "string", default: "4318" } } });

type Attrs = Record<string, string | number | boolean>;
interface Span { name: string; service: string; attrs: Attrs; startNs: number; endNs: number; encoding: string }

// --- protobuf wire format: just enough of opentelemetry.proto.trace.v1 ---
function* fields(b: Uint8Array): Generator<[number, number, any]> {
  let o = 0;
  const varint = () => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      const c = b[o++];
      x |= BigInt(c & 0x7f) << shift;
      if (!(c & 0x80)) return x;
      shift += 7n;
    }
  };
  while (o < b.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wt = key & 7;
    if (wt === 0) yield [no, wt, varint()];
    else if (wt === 1) {
      yield [no, wt, new DataView(b.buffer, b.byteOffset + o, 8).getBigUint64(0, true)];
      o += 8;
    } else if (wt === 2) {
      const len = Number(varint());
      yield [no, wt, b.subarray(o, o + len)];
      o += len;
    } else if (wt === 5) {
      yield [no, wt, new DataView(b.buffer, b.byteOffset + o, 4).getUint32(0, true)];
      o += 4;
    } else throw new Error(`wire type ${wt}`);
  }
}
const text = (b: Uint8Array) => new TextDecoder().decode(b);
function anyValue(b: Uint8Array): string | number | boolean {
  for (const [no, , val] of fields(b)) {
    if (no === 1) return text(val);
    if (no === 2) return val !== 0n;
    if (no === 3) return Number(BigInt.asIntN(64, val));
    if (no === 4) return new DataView(new BigUint64Array([val]).buffer).getFloat64(0, true);
  }
  return "";
}
function keyValues(list: Uint8Array[]): Attrs {
  const a: Attrs = {};
  for (const kv of list) {
    let k = "";
    let val: any = "";
    for (const [no, , x] of fields(kv)) {
      if (no === 1) k = text(x);
      if (no === 2) val = anyValue(x);
    }
    a[k] = val;
  }
  return a;
}
function decodeProtobuf(body: Uint8Array): Span[] {
  const spans: Span[] = [];
  for (const [no, , rs] of fields(body)) {
    if (no !== 1) continue; // resource_spans
    let service = "";
    const scopes: Uint8Array[] = [];
    for (const [n2, , x] of fields(rs)) {
      if (n2 === 1) service = String(keyValues([...fields(x)].filter(([n]) => n === 1).map(([, , y]) => y))["service.name"] ?? "");
      if (n2 === 2) scopes.push(x);
    }
    for (const ss of scopes) {
      for (const [n3, , sp] of fields(ss)) {
        if (n3 !== 2) continue;
        const s: Span = { name: "", service, attrs: {}, startNs: 0, endNs: 0, encoding: "protobuf" };
        const attrs: Uint8Array[] = [];
        for (const [n4, , f] of fields(sp)) {
          if (n4 === 5) s.name = text(f);
          if (n4 === 7) s.startNs = Number(f);
          if (n4 === 8) s.endNs = Number(f);
          if (n4 === 9) attrs.push(f);
        }
        s.attrs = keyValues(attrs);
        spans.push(s);
      }
    }
  }
  return spans;
}

// --- JSON encoding ---
function jsonValue(v: any): string | number | boolean {
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return "";
}
function decodeJson(body: any): Span[] {
  const spans: Span[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = String(jsonValue((rs.resource?.attributes ?? []).find((a: any) => a.key === "service.name")?.value ?? {}));
    for (const ss of rs.scopeSpans ?? []) {
      for (const sp of ss.spans ?? []) {
        const attrs: Attrs = {};
        for (const a of sp.attributes ?? []) attrs[a.key] = jsonValue(a.value);
        spans.push({ name: sp.name, service, attrs, startNs: Number(sp.startTimeUnixNano), endNs: Number(sp.endTimeUnixNano), encoding: "json" });
      }
    }
  }
  return spans;
}

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(v.port),
  async fetch(req) {
    if (req.method !== "POST" || new URL(req.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
    const type = req.headers.get("content-type") ?? "";
    const spans = type.includes("json") ? decodeJson(await req.json()) : decodeProtobuf(new Uint8Array(await req.arrayBuffer()));
    for (const s of spans) console.log(JSON.stringify(s));
    return type.includes("json") ? Response.json({}) : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
  },
});
console.error("ready");
