// The pinned-digest file shared by the determinism test and `npm run digests`.
import { join } from "node:path";
import type { MachineOptions } from "../machine.js";
import { PROJECT_ROOT } from "../paths.js";
import { loadProfile } from "../sim/profiles.js";

export interface PinnedDigest {
  name: string;
  scenario: Record<string, unknown>;
  /** A hypervisor profile (host/profiles) and transport; absent: the built-in DEFAULT_PROFILE on virtio-mmio. */
  profile?: string;
  transport?: string;
  digest: string;
}

/** The Machine options a pinned entry runs with. */
export function pinnedMachineOptions(p: PinnedDigest): Pick<MachineOptions, "profile" | "transport"> {
  if (p.profile === undefined) return {};
  const profile = loadProfile(p.profile, { transport: p.transport });
  return { profile, transport: profile.transport };
}

/** The `virtio-rt run` flags for the same. */
export function pinnedCliArgs(p: PinnedDigest): string[] {
  return p.profile === undefined ? [] : ["--profile", p.profile, ...(p.transport ? ["--transport", p.transport] : [])];
}

export const DIGESTS_FILE = join(PROJECT_ROOT, "tests", "e2e", "digests.json");
