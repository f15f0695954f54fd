// Hypervisor profiles: every built-in file validates and resolves to the Profile fields in ns/ps;
// aliases, CPUs and transports are checked; a bad file gets one error per field, naming it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfile, parseProfileFile, PROFILE_NAMES, ProfileError, readProfileFile, resolveProfile } from "../../host/sim/profiles.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";

const errors = (input: unknown): string[] => {
  try {
    parseProfileFile(input, "bad.json");
  } catch (e) {
    if (e instanceof ProfileError) return e.issues;
    throw e;
  }
  return [];
};

describe("profiles", () => {
  it.each(PROFILE_NAMES.map((n) => [n]))("%s validates and resolves to whole ns / ps", (name) => {
    const p = loadProfile(name);
    for (const k of ["psPerInstruction", "registerAccessNs", "doorbellNs", "irqDeliveryNs", "eoiNs", "devicePerFrameNs", "devicePerBytePs", "portIoNs"] as const) {
      expect(Number.isInteger(p[k]), k).toBe(true);
    }
    expect(p.transports).toContain(p.transport);
    expect(p.name).toBe(name);
  });

  it("resolves each profile's sourced numbers (timing-sources.md section 2)", () => {
    const pick = (n: string) => {
      const p = loadProfile(n);
      return [p.transport, p.doorbellNs, p.registerAccessNs, p.irqDeliveryNs, p.eoiNs, p.devicePerFrameNs, p.portIoNs];
    };
    expect(pick("qemu-kvm")).toEqual(["pci", 800, 2700, 1900, 20, 4400, 2700]);
    expect(pick("qemu-virt")).toEqual(["mmio-legacy", 1000, 2700, 1900, 20, 4400, 2700]);
    expect(pick("firecracker")).toEqual(["mmio", 1000, 2700, 1900, 20, 7300, 2700]);
    expect(pick("cloud-hypervisor")).toEqual(["pci", 800, 2700, 1900, 20, 3800, 2700]);
    expect(pick("rtems-pc386")).toEqual(["pci-legacy", 800, 2700, 1900, 800, 4400, 2700]);
  });

  it("default is an alias of qemu-kvm, whose numbers the built-in DEFAULT_PROFILE carries", () => {
    const d = loadProfile("default");
    expect(d.name).toBe("qemu-kvm");
    for (const k of ["psPerInstruction", "registerAccessNs", "doorbellNs", "irqDeliveryNs", "eoiNs", "devicePerFrameNs", "devicePerBytePs", "linkBitsPerSecond", "ramBase", "queueSizeMax"] as const) {
      expect(d[k], k).toBe(DEFAULT_PROFILE[k]);
    }
  });

  it("--cpu cortex-a53 takes the arm64 exit costs of row 10 and 1 ns per instruction", () => {
    const p = loadProfile("firecracker", { cpu: "cortex-a53" });
    expect([p.cpu, p.psPerInstruction, p.registerAccessNs, p.doorbellNs, p.eoiNs]).toEqual(["cortex-a53", 1000, 20177, 7053, 103]);
  });

  it("refuses a transport or cpu the profile cannot present, naming what it supports", () => {
    expect(() => loadProfile("firecracker", { transport: "pci" })).toThrow("profile firecracker cannot present transport pci: it supports mmio");
    expect(() => loadProfile("rtems-pc386", { transport: "mmio" })).toThrow("it supports pci-legacy");
    expect(() => loadProfile("rtems-pc386", { cpu: "cortex-a53" })).toThrow("profile rtems-pc386 does not run on cpu cortex-a53: it supports x86-server");
    expect(() => loadProfile("vmware")).toThrow(/unknown profile "vmware": built-in profiles are qemu-kvm, .*default/);
  });

  it("a bad profile file gives one specific error per field", () => {
    const good = readProfileFile("qemu-kvm");
    expect(errors(good)).toEqual([]);
    const bad = structuredClone(good) as Record<string, unknown> & { timing: Record<string, Record<string, unknown>> };
    bad.timing.doorbell.unit = "ms";
    bad.timing.eoi.source = "a blog post";
    bad.timing.irqDelivery.mark = "guessed";
    bad.timing.devicePerFrame.source = "timing-sources.md row 99";
    delete bad.timing.portIo;
    bad.queueSizeMax = 300;
    bad.features = ["VERSION_1", "TURBO"];
    bad.transports = ["pci", "usb"];
    bad.ramBase = "0x1234";
    bad.extra = 1;
    const e = errors(bad);
    const fields = e.map((l) => l.split(": ")[1]);
    expect(fields.sort()).toEqual([
      "(top level)", "features.1", "queueSizeMax", "ramBase", "timing.devicePerFrame.source", "timing.doorbell.unit",
      "timing.eoi.source", "timing.irqDelivery.mark", "timing.portIo", "transports.1",
    ].sort());
    expect(e).toContain("bad.json: timing.doorbell.unit: unit must be one of ps, ns, us");
    expect(e).toContain("bad.json: timing.devicePerFrame.source: row 99 does not exist (timing-sources.md has rows 1-40)");
    expect(e).toContain("bad.json: features.1: not a feature name of the constants table (F or NET_F)");
    expect(e).toContain("bad.json: queueSizeMax: a power of 2");
  });

  it("loads a user's FILE.json, and reports an unreadable or non-JSON file", () => {
    const dir = mkdtempSync(join(tmpdir(), "virtio-rt-profile-"));
    const f = join(dir, "mine.json");
    writeFileSync(f, JSON.stringify({ ...readProfileFile("firecracker"), name: "mine", queueSizeMax: 64 }));
    const p = loadProfile(f);
    expect([p.name, p.queueSizeMax, p.transport]).toEqual(["mine", 64, "mmio"]);
    writeFileSync(f, "{");
    expect(() => loadProfile(f)).toThrow(/is not valid JSON/);
    expect(() => loadProfile(join(dir, "none.json"))).toThrow(/cannot read profile .*ENOENT/);
    expect(() => resolveProfile(readProfileFile("qemu-kvm"), { transport: "mmio" })).toThrow(/supports pci, pci-legacy/);
  });
});
