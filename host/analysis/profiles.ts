// Profiles by name for the analysis commands: the sourced JSON profiles of host/profiles/ (with
// `default` the alias every command shares, docs/profiles.md), or a user's FILE.json, resolved by
// host/sim/profiles.ts for a CPU.
import type { Profile } from "../sim/profile.js";
import { CPU_NAMES, loadProfile, PROFILE_NAMES } from "../sim/profiles.js";

/** Every built-in profile name, `default` first. */
export async function profileNames(): Promise<string[]> {
  return ["default", ...PROFILE_NAMES];
}

/** CPU names a profile file can be resolved for (host/profiles/cpus.json). */
export const PROFILE_CPUS: readonly string[] = CPU_NAMES;

/** The profile called `name` (or a FILE.json), for `cpu` when given; an Error names what exists. */
export async function loadProfileByName(name: string, cpu?: string): Promise<Profile> {
  return loadProfile(name, cpu === undefined ? {} : { cpu });
}
