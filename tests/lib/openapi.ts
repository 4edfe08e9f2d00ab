// Checks HTTP answers against an OpenAPI 3.1 document: the operation is found by its path
// template, the status must be documented for it, and a JSON body must validate against the
// documented schema (JSON Schema 2020-12, by ajv, with the document's own $refs resolved).
// Every (method, path template, status) checked is recorded, so a test can tell what it covered.
import Ajv2020 from "ajv/dist/2020";
import type { ErrorObject, ValidateFunction } from "ajv";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  description?: string;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  responses?: Record<string, ResponseObject>;
}
export interface OpenApiDocument {
  openapi: string;
  paths?: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  [k: string]: unknown;
}

/** An operation of the document: its method (upper case) and path template. */
export interface OperationRef {
  method: string;
  path: string;
  operationId?: string;
}

const DOC_ID = "openapi.json";

/** One JSON pointer segment, escaped for a pointer and then for a URI fragment. */
const segment = (s: string) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"));
const mediaType = (ct: string) => ct.split(";")[0]!.trim().toLowerCase();
const isJson = (mt: string) => mt === "application/json" || mt.endsWith("+json");

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message ?? e.keyword}${e.keyword === "additionalProperties" ? ` (${JSON.stringify(e.params.additionalProperty)})` : ""}`).join("; ");
}

export class OpenApiValidator {
  private readonly ajv: InstanceType<typeof Ajv2020>;
  private readonly templates: { path: string; re: RegExp; params: number }[];
  private readonly validators = new Map<string, ValidateFunction>();
  /** `METHOD /path/{template} status`, for every answer checked against a documented operation. */
  readonly seen = new Set<string>();

  constructor(readonly doc: OpenApiDocument) {
    if (!/^3\.1\./.test(doc.openapi)) throw new Error(`not an OpenAPI 3.1 document (openapi: ${doc.openapi})`);
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    this.ajv.addFormat("binary", true); // OpenAPI's: a body of bytes (a pcap), no text to check
    // The document itself, so the response schemas' "#/components/schemas/X" resolve.
    this.ajv.addSchema(doc as object, DOC_ID);
    // Literal templates first, then the ones with fewer parameters: /rules/new before /rules/{id}.
    this.templates = Object.keys(doc.paths ?? {})
      .map((path) => {
        const parts = path.split(/(\{[^}]+\})/).map((p) => (/^\{[^}]+\}$/.test(p) ? "([^/]+)" : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
        return { path, re: new RegExp(`^${parts.join("")}$`), params: (path.match(/\{/g) ?? []).length };
      })
      .sort((a, b) => a.params - b.params);
  }

  /** Every operation of the document. */
  operations(): OperationRef[] {
    return Object.entries(this.doc.paths ?? {}).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, operationId: item[m]!.operationId })));
  }

  /** Every documented (method, path template, status), as in `seen`. */
  responses(): string[] {
    return this.operations().flatMap((o) => Object.keys(this.operation(o.method, o.path)!.responses ?? {}).map((s) => `${o.method} ${o.path} ${s}`));
  }

  /** Operations no checked answer has come from yet. */
  unexercised(): OperationRef[] {
    const hit = new Set([...this.seen].map((k) => k.split(" ").slice(0, 2).join(" ")));
    return this.operations().filter((o) => !hit.has(`${o.method} ${o.path}`));
  }

  private operation(method: string, template: string): Operation | undefined {
    return this.doc.paths?.[template]?.[method.toLowerCase() as (typeof METHODS)[number]];
  }

  /** The documented operation a request is for, or null when the document has none. */
  find(method: string, path: string): { path: string; operation: Operation } | null {
    const p = path.split(/[?#]/)[0]!;
    for (const t of this.templates) {
      if (!t.re.test(p)) continue;
      const operation = this.operation(method, t.path);
      if (operation) return { path: t.path, operation };
    }
    return null;
  }

  private validator(pointer: string[]): ValidateFunction {
    const ref = `${DOC_ID}#/${pointer.map(segment).join("/")}`;
    let v = this.validators.get(ref);
    if (!v) {
      v = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, v);
    }
    return v;
  }

  /**
   * Checks one answer. `contentType` is its Content-Type header (null when absent), `body` its
   * text as received ("" or null when it has none). Returns what does not match the document:
   * empty when the answer is as documented.
   */
  check(method: string, path: string, status: number, contentType: string | null, body: string | null | undefined): string[] {
    const what = `${method.toUpperCase()} ${path} → ${status}`;
    const found = this.find(method, path);
    if (!found) return [`${what}: the document has no operation ${method.toUpperCase()} for this path`];
    const responses = found.operation.responses ?? {};
    const key = [String(status), `${String(status)[0]}XX`, "default"].find((k) => k in responses);
    this.seen.add(`${method.toUpperCase()} ${found.path} ${key ?? status}`);
    if (!key) return [`${what}: status ${status} is not documented for ${method.toUpperCase()} ${found.path} (documented: ${Object.keys(responses).join(", ")})`];

    const content = responses[key]!.content ?? {};
    const text = body ?? "";
    const documented = Object.keys(content);
    if (text === "") {
      return documented.length ? [`${what}: no body, but the document describes one (${documented.join(", ")})`] : [];
    }
    if (!documented.length) return [`${what}: a body (${contentType ?? "no Content-Type"}), but the document describes none`];
    if (!contentType) return [`${what}: a body without a Content-Type (documented: ${documented.join(", ")})`];

    const mt = mediaType(contentType);
    const byType = new Map(documented.map((k) => [mediaType(k), k]));
    const media = byType.get(mt) ?? byType.get(`${mt.split("/")[0]}/*`) ?? byType.get("*/*");
    if (!media) return [`${what}: Content-Type ${contentType} is not documented (documented: ${documented.join(", ")})`];
    if (content[media]!.schema === undefined) return [];

    let value: unknown = text;
    if (isJson(mt)) {
      try {
        value = JSON.parse(text);
      } catch (e) {
        return [`${what}: the body is not JSON (${(e as Error).message}): ${text.slice(0, 200)}`];
      }
    }
    const validate = this.validator(["paths", found.path, method.toLowerCase(), "responses", key, "content", media, "schema"]);
    if (validate(value)) return [];
    return [`${what}: the body does not match the documented schema: ${describe(validate.errors)}; body: ${text.slice(0, 500)}`];
  }
}
