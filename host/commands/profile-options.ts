// `--profile NAME|FILE.json`, `--cpu`, `--transport`, `--iommu` of `virtio-rt run`: the Machine options they
// select, or a one-line refusal naming what the profile supports (docs/profiles.md).
import type { MachineOptions } from "../machine.js";
import { TRANSPORT_KINDS } from "../platform.js";
import { CPU_NAMES, loadProfile, ProfileError } from "../sim/profiles.js";
import { fail } from "./common.js";

export function profileOptions(o: { profile?: string; cpu?: string; transport?: string; iommu?: boolean }): Pick<MachineOptions, "profile" | "transport"> {
  // Without --profile: the `default` profile (an alias of qemu-kvm, docs/profiles.md), the same
  // thing `--profile default` gives, so a flag-less run and every command agree on "default".
  const name = o.profile ?? "default";
  if (o.transport !== undefined && !(TRANSPORT_KINDS as readonly string[]).includes(o.transport)) {
    fail(`unknown transport ${JSON.stringify(o.transport)}: one of ${TRANSPORT_KINDS.join(", ")}`);
  }
  if (o.cpu !== undefined && !(CPU_NAMES as readonly string[]).includes(o.cpu)) fail(`unknown cpu ${JSON.stringify(o.cpu)}: one of ${CPU_NAMES.join(", ")}`);
  try {
    const loaded = loadProfile(name, { cpu: o.cpu, transport: o.transport });
    // --iommu: DMA windows on top of any profile (the profile's own `iommu` field does the same).
    const profile = o.iommu ? { ...loaded, iommu: true } : loaded;
    return { profile, transport: profile.transport };
  } catch (e) {
    if (e instanceof ProfileError) fail(e.issues.join("\nvirtio-rt: "));
    throw e;
  }
}
