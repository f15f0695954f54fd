// The `virtio-rt run` scenario: its schema, defaults, and the one-line errors for bad input.
import { readFileSync } from "node:fs";
import { z } from "zod";

export const ScenarioSchema = z
  .object({
    /** Frames sent through loopback. */
    frames: z.number().int().min(0).max(10_000_000).default(1000),
    /** Seed of the frame sizes and payloads (and the driver's fallback MAC). */
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** Frame sizes, inclusive, Ethernet header included (no FCS). */
    minSize: z.number().int().min(14).max(1514).default(60),
    maxSize: z.number().int().min(14).max(1514).default(1514),
    /** Frames handed to the driver and not yet back. */
    window: z.number().int().min(1).max(4096).default(32),
    /** Receive buffer size passed to attach (0: the driver's default). */
    rxBufSize: z.number().int().min(0).max(65536).default(0),
    /** Link down/up at these virtual times (ns), alternating, starting with down. */
    linkFlaps: z.array(z.number().int().min(0)).default([]),
  })
  .strict()
  .refine((s) => s.minSize <= s.maxSize, { message: "minSize must not exceed maxSize" });

export type Scenario = z.infer<typeof ScenarioSchema>;

/** Validate a scenario object; throws an Error whose message names the first problem in one line. */
export function parseScenario(input: unknown, origin = "scenario"): Scenario {
  const r = ScenarioSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.length ? issue.path.join(".") : "(top level)";
    throw new Error(`${origin}: ${where}: ${issue.message}`);
  }
  return r.data;
}

/** Read and validate a scenario JSON file. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read scenario ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`scenario ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseScenario(json, path);
}
