// A rules file: rules, links and the buffer pool.
import { z } from "zod";
import { linkSchema } from "./link.ts";
import { ruleSchema } from "./schema.ts";

export const poolSchema = z.strictObject({
  /** 2 KiB slots per worker pair (payloads up to 1,984 bytes). */
  slots: z.number().int().min(64).max(1 << 20).default(8192),
  /** 64 KiB slots per worker pair, for jumbo payloads and links' super-frames (touched only when
   *  used); 0 drops them as oversize. */
  jumboSlots: z.number().int().min(0).max(1 << 14).default(256),
});

export const configSchema = z.strictObject({
  rules: z.array(ruleSchema).default([]),
  links: z.array(linkSchema).default([]),
  pool: poolSchema.default({ slots: 8192, jumboSlots: 256 }),
});

export type Config = z.infer<typeof configSchema>;
