// Hypervisor profiles as JSON files (host/profiles/*.json, or a user's file), validated by one
// schema: every timing number is {value, unit, source, mark} with `source` citing a row (or the
// suggested-values section) of shared/spec/timing-sources.md. A file resolves, for a CPU and a
// transport, to the `Profile` of profile.ts (integer ns / ps fields).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { PROJECT_ROOT } from "../paths.js";
import { featureBit } from "../virtio/features.js";
import type { Profile } from "./profile.js";

export const PROFILES_DIR = join(PROJECT_ROOT, "host", "profiles");
export const PROFILE_NAMES = ["qemu-kvm", "qemu-virt", "firecracker", "cloud-hypervisor", "rtems-pc386"] as const;
/** `default` is qemu-kvm: the numbers of the built-in DEFAULT_PROFILE come from its column (docs/profiles.md). */
export const PROFILE_ALIASES: Record<string, string> = { default: "qemu-kvm" };
export const CPU_NAMES = ["x86-server", "cortex-a53"] as const;
const TRANSPORTS = ["mmio", "mmio-legacy", "pci", "pci-legacy"] as const;
/** Rows of timing-sources.md section 1. */
const SOURCE_ROWS = 40;

const TIME_UNITS: Record<string, number> = { ps: 1, ns: 1000, us: 1_000_000 };
const RATE_UNITS: Record<string, number> = { "bit/s": 1, "Mbit/s": 1e6, "Gbit/s": 1e9 };

/** A sourced number. `source` names timing-sources.md and a row ("row 19", "rows 1, 12") or "§2". */
const Sourced = z
  .object({
    value: z.number().nonnegative().finite(),
    unit: z.string(),
    source: z.string().regex(/^timing-sources\.md (§[1-4]|rows? \d+)/, "must cite timing-sources.md: `timing-sources.md row N ...` or `timing-sources.md §2 ...`"),
    mark: z.enum(["measured", "derived", "assumed"]),
  })
  .strict()
  .superRefine((v, ctx) => {
    for (const m of v.source.matchAll(/rows? ([\d, ]+)/g)) {
      for (const n of m[1].split(/[ ,]+/).filter(Boolean).map(Number)) {
        if (n < 1 || n > SOURCE_ROWS) ctx.addIssue({ code: "custom", path: ["source"], message: `row ${n} does not exist (timing-sources.md has rows 1-${SOURCE_ROWS})` });
      }
    }
  });

const time = (...units: string[]) => Sourced.refine((v) => units.includes(v.unit), { path: ["unit"], message: `unit must be one of ${units.join(", ")}` });
const T = time("ps", "ns", "us");

const TimingSchema = z
  .object({
    instruction: T,
    copyPerByte: time("ps").optional(),
    registerAccess: T,
    doorbell: T,
    portIo: T,
    irqDelivery: T,
    eoi: T,
    devicePerFrame: T,
    hostPath: T.optional(),
    devicePerByte: time("ps"),
    linkRate: Sourced.refine((v) => v.unit in RATE_UNITS, { path: ["unit"], message: `unit must be one of ${Object.keys(RATE_UNITS).join(", ")}` }),
  })
  .strict();

const FeatureName = z.string().refine((n) => {
  try {
    featureBit(n);
    return true;
  } catch {
    return false;
  }
}, { message: "not a feature name of the constants table (F or NET_F)" });

export const ProfileFileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    description: z.string(),
    featureSource: z.string(),
    transports: z.array(z.enum(TRANSPORTS)).min(1),
    cpus: z.array(z.enum(CPU_NAMES)).min(1),
    msix: z.boolean(),
    /** DMA windows: an IOMMU in front of the device (ACCESS_PLATFORM offered); absent = none. */
    iommu: z.boolean().optional(),
    interruptController: z.enum(["apic", "pic8259"]),
    ramBase: z.string().regex(/^0x[0-9a-f]+$/i, "a hex string").refine((s) => Number(s) % 65536 === 0 && Number(s) < 2 ** 32, "a multiple of 64 KiB below 4 GiB"),
    queueSizeMax: z.number().int().min(1).max(32768).refine((n) => (n & (n - 1)) === 0, "a power of 2"),
    mtu: z.number().int().min(68).max(65535),
    features: z.array(FeatureName),
    timing: TimingSchema,
  })
  .strict();

export type ProfileFile = z.infer<typeof ProfileFileSchema>;
type TimingKey = keyof ProfileFile["timing"];

const CpuFileSchema = z.record(z.enum(CPU_NAMES), z.object({ description: z.string(), timing: TimingSchema.partial() }).strict());

/** A profile that does not validate: one line per problem, each naming its field. */
export class ProfileError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join("\n"));
    this.name = "ProfileError";
  }
}

function issuesOf(origin: string, e: z.ZodError): string[] {
  return e.issues.map((i) => `${origin}: ${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`);
}

/** Validate a profile object (a parsed JSON file). */
export function parseProfileFile(input: unknown, origin = "profile"): ProfileFile {
  const r = ProfileFileSchema.safeParse(input);
  if (!r.success) throw new ProfileError(issuesOf(origin, r.error));
  return r.data;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ProfileError([`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ProfileError([`${what} ${path} is not valid JSON: ${(e as Error).message}`]);
  }
}

/** A built-in name (or alias), or a path ending in .json. */
export function readProfileFile(nameOrFile: string): ProfileFile {
  if (nameOrFile.endsWith(".json")) return parseProfileFile(readJson(nameOrFile, "profile"), nameOrFile);
  const name = PROFILE_ALIASES[nameOrFile] ?? nameOrFile;
  if (!(PROFILE_NAMES as readonly string[]).includes(name)) {
    throw new ProfileError([`unknown profile ${JSON.stringify(nameOrFile)}: built-in profiles are ${[...PROFILE_NAMES, ...Object.keys(PROFILE_ALIASES)].join(", ")}, or give a FILE.json`]);
  }
  return parseProfileFile(readJson(join(PROFILES_DIR, `${name}.json`), "profile"), `${name}.json`);
}

let cpuTable: z.infer<typeof CpuFileSchema> | undefined;
function cpus(): z.infer<typeof CpuFileSchema> {
  if (!cpuTable) {
    const r = CpuFileSchema.safeParse(readJson(join(PROFILES_DIR, "cpus.json"), "cpu table"));
    if (!r.success) throw new ProfileError(issuesOf("cpus.json", r.error));
    cpuTable = r.data;
  }
  return cpuTable;
}

/** A sourced time in whole units of `to` (ps or ns); a fraction is an error naming the field. */
function convert(origin: string, key: string, v: { value: number; unit: string }, to: "ps" | "ns"): number {
  const x = (v.value * TIME_UNITS[v.unit]) / TIME_UNITS[to];
  const r = Math.round(x);
  if (Math.abs(x - r) > 1e-6) throw new ProfileError([`${origin}: timing.${key}: ${v.value} ${v.unit} is not a whole number of ${to}`]);
  return r;
}

export interface ResolveOptions {
  cpu?: string;
  transport?: string;
}

/** The Profile for a file, a CPU (default: the file's first) and a transport (default: its first). */
export function resolveProfile(f: ProfileFile, o: ResolveOptions = {}, origin = f.name): Profile {
  const cpu = o.cpu ?? f.cpus[0];
  if (!(f.cpus as string[]).includes(cpu)) throw new ProfileError([`profile ${f.name} does not run on cpu ${cpu}: it supports ${f.cpus.join(", ")}`]);
  const transport = o.transport ?? f.transports[0];
  if (!(f.transports as string[]).includes(transport)) {
    throw new ProfileError([`profile ${f.name} cannot present transport ${transport}: it supports ${f.transports.join(", ")}`]);
  }
  const timing = { ...f.timing, ...cpus()[cpu as (typeof CPU_NAMES)[number]].timing } as ProfileFile["timing"];
  const ns = (k: TimingKey) => convert(origin, k, timing[k]!, "ns");
  const ps = (k: TimingKey) => convert(origin, k, timing[k]!, "ps");
  return {
    name: f.name,
    ramBase: Number(f.ramBase),
    psPerInstruction: ps("instruction"),
    ...(timing.copyPerByte && { copyPsPerByte: ps("copyPerByte") }),
    registerAccessNs: ns("registerAccess"),
    doorbellNs: ns("doorbell"),
    irqDeliveryNs: ns("irqDelivery"),
    eoiNs: ns("eoi"),
    devicePerFrameNs: ns("devicePerFrame"),
    ...(timing.hostPath && { hostPathNs: ns("hostPath") }),
    devicePerBytePs: ps("devicePerByte"),
    linkBitsPerSecond: Math.round(timing.linkRate.value * RATE_UNITS[timing.linkRate.unit]),
    queueSizeMax: f.queueSizeMax,
    features: [...f.features],
    mtu: f.mtu,
    transport: transport as Profile["transport"],
    transports: [...f.transports],
    portIoNs: ns("portIo"),
    cpu,
    msix: f.msix,
    ...(f.iommu && { iommu: true }),
  };
}

/** `--profile NAME|FILE.json [--cpu C] [--transport T]` in one call. */
export function loadProfile(nameOrFile: string, o: ResolveOptions = {}): Profile {
  const f = readProfileFile(nameOrFile);
  return resolveProfile(f, o, nameOrFile.endsWith(".json") ? nameOrFile : f.name);
}
