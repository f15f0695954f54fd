// The Wasm driver end to end on every profile and every transport it supports: the loopback
// scenario byte-exact, no violations; plus the paths each transport adds (MSI-X vectors, INTx
// fallback, the 8259 EOI, the 10-byte legacy header, split header descriptors).
import { describe, expect, it } from "vitest";
import { runScenario } from "../../host/analysis/run.js";
import { parseScenario } from "../../host/analysis/scenario.js";
import { Machine } from "../../host/machine.js";
import { PCI_LAYOUT } from "../../host/platform.js";
import { loadProfile, PROFILE_NAMES, readProfileFile } from "../../host/sim/profiles.js";
import { featureSet } from "../../host/virtio/features.js";

const cells = PROFILE_NAMES.flatMap((name) => readProfileFile(name).transports.map((t) => [name, t] as const));

describe("every profile x transport", () => {
  it.each(cells)("%s over %s: loopback byte-exact, no violations", async (name, transport) => {
    const profile = loadProfile(name, { transport });
    const { summary } = await runScenario(parseScenario({ frames: 400, seed: 9 }), { profile, transport });
    expect(summary).toMatchObject({ framesSent: 400, framesReceived: 400, mismatches: 0, drops: 0, breaches: 0 });
    expect(summary.driverDead).toBeUndefined();
  });

  it.each([["qemu-virt", "mmio"], ["cloud-hypervisor", "pci"]] as const)("%s over %s on cortex-a53", async (name, transport) => {
    const profile = loadProfile(name, { transport, cpu: "cortex-a53" });
    const { summary } = await runScenario(parseScenario({ frames: 200, seed: 2 }), { profile, transport });
    expect(summary).toMatchObject({ framesReceived: 200, mismatches: 0, breaches: 0 });
  });
});

async function machine(name: string, o: { transport?: string; features?: string[]; msix?: boolean } = {}) {
  const profile = loadProfile(name, { transport: o.transport });
  const m = await Machine.create({ profile, transport: profile.transport, record: true, msix: o.msix, features: o.features && featureSet(o.features) });
  expect(m.attach()).toBe(0);
  return m;
}

const kinds = (m: Machine, k: string) => m.trace.events.filter((e) => e.k === k);

describe("transport paths of the Wasm driver", () => {
  it("virtio-pci modern: MSI-X vectors 0x40-0x42 programmed, the ISR never read on a queue vector", async () => {
    const m = await machine("qemu-kvm");
    const out = m.transmit(new Uint8Array(60).fill(7));
    expect(out).toBe(0);
    m.runIdle();
    const msi = kinds(m, "msi").map((e) => e.data);
    expect(msi.length).toBeGreaterThan(0);
    expect(msi.every((d) => d === 0x41 || d === 0x42)).toBe(true);
    expect(kinds(m, "mmio").filter((e) => e.reg === "isr")).toEqual([]);
    expect(kinds(m, "eoi").map((e) => e.line)).toEqual(msi);
    expect(m.transport.violations).toEqual([]);
  });

  it("virtio-pci modern without MSI-X falls back to INTx and reads the ISR", async () => {
    const m = await machine("qemu-kvm", { msix: false });
    m.transmit(new Uint8Array(60).fill(7));
    m.runIdle();
    expect(kinds(m, "msi")).toEqual([]);
    expect(kinds(m, "mmio").filter((e) => e.reg === "isr").length).toBeGreaterThan(0);
    expect(new Set(kinds(m, "eoi").map((e) => e.line))).toEqual(new Set([PCI_LAYOUT.intxLine]));
    expect(m.transport.violations).toEqual([]);
  });

  it("qemu-kvm over pci-legacy: MSI-X on the transitional device (20/22 mapped, config at 24), loopback byte-exact", async () => {
    const m = await machine("qemu-kvm", { transport: "pci-legacy" });
    const vec = (op: string) => kinds(m, "pio").filter((e) => e.op === op && /Vector$/.test(String(e.reg)));
    expect(vec("w").map((e) => [e.off, e.v])).toEqual([[20, 0], [22, 1], [22, 2]]);
    expect(vec("r").map((e) => e.v)).toEqual([0, 1, 2]); // each read back
    const got: Uint8Array[] = [];
    m.onFrame = (_d, b) => got.push(b);
    const frames = [60, 100, 1514].map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + k) & 0xff));
    for (const f of frames) expect(m.transmit(f)).toBe(0);
    m.runIdle();
    expect(got.map((b) => Array.from(b))).toEqual(frames.map((f) => Array.from(f)));
    const msi = kinds(m, "msi").map((e) => Number(e.data));
    expect(new Set(msi)).toEqual(new Set([0x41, 0x42]));
    expect(kinds(m, "eoi").map((e) => Number(e.line)).sort()).toEqual([...msi].sort()); // each vector EOI'd
    expect(kinds(m, "pio").filter((e) => e.reg === "ISRStatus")).toEqual([]); // PCI-DRV-26
    // A link change: the config vector (0x40), then the status field read at 24 + 6 (config moved).
    const before = kinds(m, "pio").length;
    m.net.setLink(false);
    m.runIdle();
    expect(kinds(m, "msi").map((e) => e.data)).toContain(0x40);
    const cfg = kinds(m, "pio").slice(before).filter((e) => e.reg === "Config").map((e) => Number(e.off));
    expect(cfg).toContain(30); // virtio_net_config.status (offset 6) at 24 + 6
    expect(cfg.every((off) => off >= 24)).toBe(true);
    expect(m.transport.violations).toEqual([]);
  });

  it("legacy MSI-X: a queue vector reading back NO_VECTOR makes the driver fall back to INTx (config back at 20)", async () => {
    const profile = loadProfile("qemu-kvm", { transport: "pci-legacy" });
    const m = await Machine.create({ profile, transport: "pci-legacy", record: true });
    m.platform.pciLegacy!.vectorLimit = 2; // entry 2 (transmitq1) cannot be backed
    expect(m.attach()).toBe(0);
    expect(kinds(m, "log").filter((e) => e.code === 24).map((e) => e.a)).toEqual([2]); // LOG.MSIX_FALLBACK, entry 2
    const got: Uint8Array[] = [];
    m.onFrame = (_d, b) => got.push(b);
    const f = Uint8Array.from({ length: 200 }, (_, i) => i & 0xff);
    m.transmit(f);
    m.runIdle();
    expect(Array.from(got[0])).toEqual(Array.from(f));
    expect(kinds(m, "msi")).toEqual([]);
    expect(new Set(kinds(m, "eoi").map((e) => e.line))).toEqual(new Set([PCI_LAYOUT.intxLine]));
    expect(kinds(m, "pio").filter((e) => e.reg === "ISRStatus").length).toBeGreaterThan(0);
    expect(m.transport.violations).toEqual([]);
  });

  it("rtems-pc386: found through 0xCF8/0xCFC, the header in its own descriptor, INTx on IRQ 11 with an ISR read and a PIC EOI", async () => {
    const m = await machine("rtems-pc386");
    expect(kinds(m, "pci.cfg").length).toBeGreaterThan(0);
    m.transmit(new Uint8Array(100).fill(1));
    m.runIdle();
    const tx = kinds(m, "vq.pop").filter((e) => e.q === 1);
    expect(tx.map((e) => [e.descs, e.rlen])).toEqual([[2, 112]]); // 12-byte header (MRG_RXBUF) + 100, two descriptors
    expect(kinds(m, "pio").filter((e) => e.reg === "ISRStatus").length).toBeGreaterThan(0);
    expect(new Set(kinds(m, "eoi").map((e) => e.line))).toEqual(new Set([11]));
    expect(kinds(m, "status").map((e) => e.to)).toEqual([1, 3, 7]); // no FEATURES_OK on a legacy interface
  });

  it("legacy without MRG_RXBUF: the 10-byte header, in its own descriptor both ways", async () => {
    const m = await machine("rtems-pc386", { features: ["MAC", "STATUS"] });
    const got: Uint8Array[] = [];
    m.onFrame = (_d, b) => got.push(b);
    const f = Uint8Array.from({ length: 80 }, (_, i) => i);
    m.transmit(f);
    m.runIdle();
    expect(kinds(m, "vq.pop").filter((e) => e.q === 1).map((e) => e.rlen)).toEqual([90]);
    expect(Array.from(got[0])).toEqual(Array.from(f));
    expect(kinds(m, "vq.pop").filter((e) => e.q === 0)[0].descs).toBe(2);
    expect(m.transport.violations).toEqual([]);
  });

  it("qemu-virt (Version 1 with ANY_LAYOUT): header and frame share one descriptor", async () => {
    const m = await machine("qemu-virt");
    m.transmit(new Uint8Array(64).fill(3));
    m.runIdle();
    expect(kinds(m, "vq.pop").filter((e) => e.q === 1).map((e) => [e.descs, e.rlen])).toEqual([[1, 76]]);
    expect(kinds(m, "mmio").some((e) => e.reg === "QueuePFN" && e.op === "w")).toBe(true);
  });
});
