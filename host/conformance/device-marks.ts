// Every in-scope device clause marked: implemented by the device model (where, and the test file
// that exercises it by clause id), or not applicable with a one-line reason. Counts are computed
// here (deviceCoverage); tests/conformance/device-marks.test.ts fails on an unmarked clause.
import type { ClauseId } from "../gen/clauses.js";
import { allClauses, DEFAULT_SCOPE, inScope, levelOf, type Scope } from "./registry.js";
import type { ClauseRow } from "../gen/clauses.js";

export type DeviceMark =
  | { kind: "implemented"; where: string; test: string }
  | { kind: "not-applicable"; reason: string };

const DC = "tests/conformance/device-clauses.test.ts";
const HD = "tests/conformance/hostile-driver.property.test.ts";
const I = (where: string, test = DC): DeviceMark => ({ kind: "implemented", where, test });
const NA = (reason: string): DeviceMark => ({ kind: "not-applicable", reason });

const MAY = NA("a permission (MAY): nothing to hold");
const NO_CTRLQ = NA("needs the control virtqueue: the device model has two queues and never serves CTRL_VQ commands");
const NO_SUSPEND = NA("VIRTIO_F_SUSPEND is never offered; a SUSPEND write is refused with DEVICE_NEEDS_RESET (SUSP-DEV-06)");
const NO_RX_GSO = NA("applies when the device delivers GSO / checksum-offloaded packets: it never does (header flags and gso_type stay 0)");
const NO_TUNNEL = NA("UDP tunnel GSO features are never offered: no packet carries tunnel fields");
const NO_OUT_HDR = NA("VIRTIO_NET_F_OUT_NET_HEADER is never offered: the header has no outer_nh_offset");
const RX_HDR = I("net.ts deliver: the receive header is zeroed but for num_buffers");

export const DEVICE_MARKS: Partial<Record<ClauseId, DeviceMark>> = {
  // 2.1 Device status
  "STATUS-DEV-01": I("core.ts: the device is activated only at DRIVER_OK; earlier kicks are dropped (INIT-DRV-14)"),
  "STATUS-DEV-02": I("core.ts needsReset on every breach", HD),
  "STATUS-DEV-03": I("core.ts needsReset: config interrupt when DRIVER_OK was set"),
  // 2.2 Feature bits
  "FEAT-DEV-01": I("net-features.ts: the offered set meets the 5.1.3.1 dependency table (built-in profile and every VMM profile)"),
  "FEAT-DEV-02": I("net.ts checkFeatures: any offered subset meeting the dependencies is accepted"),
  "FEAT-DEV-03": I("status.ts: a refused set leaves FEATURES_OK clear"),
  "FEAT-DEV-04": I("built-in profile offers only bits the model honours; VMM profiles' extra bits are listed in docs/conformance.md"),
  "FEAT-DEV-05": I("net.ts checkFeatures is a pure function of the set"),
  // 2.4 Reset
  "RESET-DEV-01": I("core.ts reset"),
  "RESET-DEV-02": I("core.ts epoch: work scheduled before a reset is dropped"),
  // 2.5 Configuration space
  "CFG-DEV-01": I("net.ts configRead answers at any status"),
  // 2.6 Virtqueue reset
  "VQRST-DEV-01": I("mmio-queues.ts writeReset drops the queue object; net.ts drops an in-flight completion"),
  "VQRST-DEV-02": I("mmio-queues.ts writeReset: registers back to defaults"),
  "VQRST-DEV-03": I("mmio-queues.ts: re-enable builds a new queue from the registers"),
  // 2.7 Split virtqueues
  "FRAME-DEV-01": I("split-queue.ts read/write walk any split of buffers across descriptors"),
  "FRAME-DEV-02": MAY,
  "SPLIT-DEV-01": I("split-queue.ts write: writable buffers only"),
  "SPLIT-DEV-02": I("split-queue.ts read: readable buffers only"),
  "SPLIT-DEV-03": MAY,
  "SPLIT-DEV-04": I("chain.ts reads descriptors; nothing writes the table"),
  "SPLIT-DEV-05": I("chain.ts walkChain ignores WRITE on an INDIRECT descriptor"),
  "SPLIT-DEV-06": I("chain.ts walkChain: direct descriptors then one INDIRECT"),
  "SPLIT-DEV-07": I("split-queue.ts publishUsed: used_event read only with EVENT_IDX"),
  "SPLIT-DEV-08": I("split-queue.ts publishUsed: NO_INTERRUPT honoured"),
  "SPLIT-DEV-09": I("split-queue.ts publishUsed"),
  "SPLIT-DEV-10": I("split-queue.ts publishUsed: avail.flags ignored with EVENT_IDX"),
  "SPLIT-DEV-11": I("split-queue.ts publishUsed: vring_need_event"),
  "SPLIT-DEV-12": I("split-queue.ts publishUsed: vring_need_event"),
  "SPLIT-DEV-13": I("split-queue.ts addUsed writes the element, publishUsed the index"),
  "SPLIT-DEV-14": I("net.ts deliver writes the data before addUsed/publishUsed"),
  "SPLIT-DEV-15": MAY,
  "SPLIT-DEV-16": I("split-queue.ts setKickSuppression"),
  "SPLIT-DEV-17": MAY,
  "SPLIT-DEV-18": I("split-queue.ts setKickSuppression"),
  "SPLIT-DEV-19": MAY,
  "SPLIT-DEV-20": I("net.ts notify with nothing available does nothing"),
  // 2.10 Shared memory regions
  "SHM-DEV-01": I("mmio.ts: no shared memory regions (SHMLen reads all ones)"),
  // 3.4 Suspend
  "SUSP-DEV-01": NO_SUSPEND,
  "SUSP-DEV-02": NO_SUSPEND,
  "SUSP-DEV-03": NO_SUSPEND,
  "SUSP-DEV-04": NO_SUSPEND,
  "SUSP-DEV-05": NO_SUSPEND,
  "SUSP-DEV-06": I("status.ts suspendGate: SUSPEND cannot be honoured, DEVICE_NEEDS_RESET", "tests/virtio/status.test.ts"),
  "SUSP-DEV-07": NO_SUSPEND,
  "SUSP-DEV-08": NO_SUSPEND,
  // 6 Reserved feature bits
  "RSVD-DEV-01": I("every profile offers VERSION_1 on a modern transport"),
  "RSVD-DEV-02": MAY,
  "RSVD-DEV-03": I("machine.ts: with an IOMMU (--iommu, profile `iommu`) the device offers ACCESS_PLATFORM", "tests/virtio/iommu.test.ts"),
  "RSVD-DEV-04": MAY,
  "RSVD-DEV-05": NA("IN_ORDER is never offered"),
  "RSVD-DEV-06": MAY,
  "RSVD-DEV-07": MAY,
  "RSVD-DEV-08": NA("not an add-in PCI card"),
  "RSVD-DEV-09": NA("no SR-IOV capability"),
  "RSVD-DEV-10": I("SR_IOV is never offered"),
  // 4.2 virtio-mmio
  "MMIO-DEV-01": I("mmio.ts register table"),
  "MMIO-DEV-02": I("mmio.ts register table"),
  "MMIO-DEV-03": I("core.ts: ISR bits clear only on InterruptACK"),
  "MMIO-DEV-04": I("core.ts: a bit is set only by its event"),
  "MMIO-DEV-05": I("core.ts reset + mmio-queues.ts reset"),
  "MMIO-DEV-06": I("net.ts setLink bumps the generation with the status field"),
  "MMIO-DEV-07": I("mmio-queues.ts: no queue object while QueueReady is 0; net.ts drops an in-flight completion of a stopped queue"),
  "MMIO-DEV-08": I("mmio.ts: QueueReset reads 0 (resets complete at once)"),
  "MMIO-DEV-09": I("mmio.ts: QueueReset reads 0"),
  "MMIO-DEV-10": I("mmio-queues.ts writeReset"),
  "MMIO-DEV-11": NA("a queue reset completes within the register write: it is never in progress when read"),
  "MMIO-DEV-12": I("mmio-queues.ts writeReset: QueueReady and QueueReset read 0 after it"),
  // 5.1.4 virtio-net configuration
  "NET-CFG-DEV-01": I("net.ts configByte: max_virtqueue_pairs reads 1"),
  "NET-CFG-DEV-02": I("profile mtu 68..65535 (1500 in every profile)"),
  "NET-CFG-DEV-03": I("profile mtu >= 1280"),
  "NET-CFG-DEV-04": I("net.ts: mtu comes from the profile and never changes"),
  "NET-CFG-DEV-05": I("net.ts onBackendFrame drops a frame over mtu + 14 with MTU negotiated"),
  "NET-CFG-DEV-06": I("net.ts takeTxFrame forwards up to mtu + 14 whole"),
  "NET-CFG-DEV-07": NA("RSS and HASH_REPORT are never offered"),
  "NET-CFG-DEV-08": NA("RSS is never offered"),
  "NET-CFG-DEV-09": MAY,
  "NET-CFG-DEV-10": NA("SPEED_DUPLEX is never offered"),
  "NET-CFG-DEV-11": NA("SPEED_DUPLEX is never offered"),
  "NET-CFG-DEV-12": NA("SPEED_DUPLEX is never offered"),
  "NET-CFG-DEV-13": I("HASH_REPORT is never offered"),
  "NET-CFG-DEV-14": I("CTRL_RX_EXTRA is never offered"),
  // 5.1.9.2 transmit
  "NET-TX-DEV-01": I("net.ts takeTxFrame: unknown flag bits change nothing"),
  "NET-TX-DEV-02": I("net.ts takeTxFrame: csum_start/csum_offset never read"),
  "NET-TX-DEV-03": MAY,
  "NET-TX-DEV-04": NO_OUT_HDR,
  "NET-TX-DEV-05": MAY,
  "NET-TX-DEV-06": MAY,
  "NET-TX-DEV-07": I("net.ts takeTxFrame: hdr_len never read"),
  "NET-TX-DEV-08": NO_TUNNEL,
  "NET-TX-DEV-09": NO_TUNNEL,
  "NET-TX-DEV-10": NO_TUNNEL,
  "NET-TX-DEV-11": NO_TUNNEL,
  "NET-TX-DEV-12": NA("the device model forwards bytes: it neither checks nor relies on any checksum"),
  // 5.1.9.3-4 receive
  "NET-RXB-DEV-01": I("net.ts deliver: num_buffers = buffers used"),
  "NET-RXB-DEV-02": I("net.ts deliver: one buffer without MRG_RXBUF"),
  "NET-RX-DEV-01": I("net.ts deliver"),
  "NET-RX-DEV-02": I("net.ts deliver"),
  "NET-RX-DEV-03": I("net.ts deliver: every buffer but the last filled"),
  "NET-RX-DEV-04": I("net.ts deliver: all buffers of a packet added, then one publishUsed"),
  "NET-RX-DEV-05": RX_HDR,
  "NET-RX-DEV-06": NA("frames come from the backend as they were on the wire; the device computes no partial checksums"),
  "NET-RX-DEV-07": RX_HDR,
  "NET-RX-DEV-08": RX_HDR,
  "NET-RX-DEV-09": RX_HDR,
  "NET-RX-DEV-10": RX_HDR,
  "NET-RX-DEV-11": RX_HDR,
  "NET-RX-DEV-12": RX_HDR,
  "NET-RX-DEV-13": RX_HDR,
  "NET-RX-DEV-14": NO_RX_GSO,
  "NET-RX-DEV-15": MAY,
  "NET-RX-DEV-16": NO_OUT_HDR,
  "NET-RX-DEV-17": MAY,
  "NET-RX-DEV-18": NO_RX_GSO,
  "NET-RX-DEV-19": NO_RX_GSO,
  "NET-RX-DEV-20": NO_RX_GSO,
  "NET-RX-DEV-21": RX_HDR,
  "NET-RX-DEV-22": NO_TUNNEL,
  "NET-RX-DEV-23": NO_TUNNEL,
  "NET-RX-DEV-24": NO_TUNNEL,
  "NET-RX-DEV-25": RX_HDR,
  "NET-RX-DEV-26": RX_HDR,
  "NET-RX-DEV-27": NO_RX_GSO,
  "NET-RX-DEV-28": NO_RX_GSO,
  "NET-RX-DEV-29": NA("RSC_EXT is never offered"),
  "NET-RX-DEV-30": RX_HDR,
  "NET-RX-DEV-31": NO_RX_GSO,
  "NET-RX-DEV-32": MAY,
  "NET-RX-DEV-33": NO_RX_GSO,
  "NET-RX-DEV-34": RX_HDR,
  "NET-RX-DEV-35": MAY,
  "NET-RX-DEV-36": NO_TUNNEL,
  "NET-RX-DEV-37": NO_TUNNEL,
  // 5.1.9.5 control virtqueue facilities
  "NET-VLAN-DEV-01": I("net.ts: every frame is delivered, VLAN-tagged or not (no filtering without CTRL_VLAN)"),
  "NET-MQ-DEV-04": I("net.ts: receiveq1 is the only receive queue"),
};

/** Control-queue clauses (filters, MAC table, announce, MQ steering, RSS, coalescing, hash config) default to NO_CTRLQ. */
function fallback(row: ClauseRow): DeviceMark | undefined {
  if (/^NET-(HASH|RXF|MAC|VLAN|ANN|MQ|RSS|COAL)-DEV-/.test(row.id)) return levelOf(row.keyword) === "none" ? MAY : NO_CTRLQ;
  return undefined;
}

export function deviceClausesInScope(scope: Scope = DEFAULT_SCOPE): ClauseRow[] {
  return allClauses().filter((r) => r.who === "device" && inScope(r, scope));
}

export function deviceMarkOf(row: ClauseRow): DeviceMark | undefined {
  return DEVICE_MARKS[row.id as ClauseId] ?? fallback(row);
}

export interface DeviceCoverage {
  total: number;
  implemented: number;
  notApplicable: number;
  /** Implemented clauses by keyword level. */
  implementedMust: number;
  implementedShould: number;
  unmarked: string[];
}

/** Coverage of the in-scope device clauses, computed from the marks. */
export function deviceCoverage(scope: Scope = DEFAULT_SCOPE): DeviceCoverage {
  const c: DeviceCoverage = { total: 0, implemented: 0, notApplicable: 0, implementedMust: 0, implementedShould: 0, unmarked: [] };
  for (const r of deviceClausesInScope(scope)) {
    c.total++;
    const m = deviceMarkOf(r);
    if (!m) c.unmarked.push(r.id);
    else if (m.kind === "implemented") {
      c.implemented++;
      if (levelOf(r.keyword) === "fail") c.implementedMust++;
      else c.implementedShould++;
    } else c.notApplicable++;
  }
  return c;
}
