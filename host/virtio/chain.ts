// The split-virtqueue descriptor-chain walker (2.7.5): turns a head index into checked buffers.
// One unit, as rust-vmm's virtio-queue chain.rs; each check names the clause it enforces.
import type { ClauseId } from "../gen/clauses.js";
import { VIRTQ, VIRTQ_DESC_F } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";

/** One buffer of a chain: guest-physical address, checked linear offset in memory, length. */
export interface Buf {
  gpa: number;
  off: number;
  len: number;
}

/** A walked chain: device-readable buffers first, then device-writable ones (FRAME-DRV-01). */
export interface Chain {
  head: number;
  readable: Buf[];
  writable: Buf[];
  readableLen: number;
  writableLen: number;
  /** Buffer descriptors (direct and indirect-table entries; not the descriptor pointing to a table). */
  descCount: number;
}

/** A chain the driver got wrong: the clause it breaks and what was seen. */
export interface ChainBreach {
  clause: ClauseId;
  detail: string;
}

const F_NEXT = VIRTQ_DESC_F.NEXT;
const F_WRITE = VIRTQ_DESC_F.WRITE;
const F_INDIRECT = VIRTQ_DESC_F.INDIRECT;
const DESC = VIRTQ.DESC_SIZE;
/** A chain's total length must stay below 2^32 (SPLIT-DRV-02); used.len is an le32 too. */
const MAX_TOTAL = 0xffff_ffff;

export function isChainBreach(r: Chain | ChainBreach): r is ChainBreach {
  return (r as ChainBreach).clause !== undefined;
}

/** The raw le64 at `off`, in hex, for a breach detail (r64 collapses addresses above 2^53). */
function rawAddr(mem: GuestMemory, off: number): string {
  return "0x" + mem.dv.getBigUint64(off, true).toString(16);
}

function hex(v: number): string {
  return "0x" + v.toString(16);
}

/** Which descriptor, for a breach detail (built only on failure: this is the per-frame path). */
function where(inIndirect: boolean, idx: number): string {
  return inIndirect ? `indirect entry ${idx}` : `descriptor ${idx}`;
}

function fail(clause: ClauseId, detail: string): ChainBreach {
  return { clause, detail };
}

/**
 * Walk the chain starting at descriptor `head` of the table at guest-physical `descAddr` holding
 * `size` (QueueSize) descriptors. `indirect` says whether VIRTIO_F_INDIRECT_DESC was negotiated.
 * Never throws and never loops more than `size` + (indirect table entries) times.
 */
export function walkChain(
  mem: GuestMemory,
  size: number,
  descAddr: number,
  head: number,
  indirect: boolean,
): Chain | ChainBreach {
  const tableOff = mem.dma(descAddr, size * DESC, "r");
  if (tableOff < 0) return fail("DERIVED-MEM", `descriptor table ${hex(descAddr)} (${size} entries) outside RAM`);
  if (head >= size) return fail("DERIVED-SPLIT-IDX", `head ${head} >= QueueSize ${size}`);

  const readable: Buf[] = [];
  const writable: Buf[] = [];
  let readableLen = 0;
  let writableLen = 0;
  let count = 0;
  // The table being walked: the descriptor table, or after an INDIRECT descriptor its table.
  let base = tableOff;
  let limit = size;
  let inIndirect = false;
  let idx = head;
  let steps = 0;

  for (;;) {
    // A TTL of the table's entry count: more steps than entries means a loop (SPLIT-DRV-06;
    // a loop also makes the chain's total length unbounded, SPLIT-DRV-02).
    if (++steps > limit) {
      return fail(
        "SPLIT-DRV-06",
        inIndirect
          ? `chain from head ${head} loops inside its indirect table (${limit} entries)`
          : `chain from head ${head} longer than QueueSize ${size} (a loop)`,
      );
    }
    const d = base + idx * DESC;
    const addr = mem.r64(d);
    const len = mem.r32(d + 8);
    const flags = mem.r16(d + 12);
    const next = mem.r16(d + 14);

    if (flags & F_INDIRECT) {
      // The WRITE flag of a descriptor pointing to a table means nothing (SPLIT-DEV-05).
      if (inIndirect) return fail("SPLIT-DRV-05", `indirect entry ${idx} of head ${head} sets INDIRECT inside an indirect table`);
      if (!indirect) return fail("SPLIT-DRV-04", `descriptor ${idx} sets INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`);
      if (flags & F_NEXT) return fail("SPLIT-DRV-07", `descriptor ${idx} sets both INDIRECT and NEXT`);
      // No numbered clause: a table of zero entries has no entry 0 to start from, and a partial
      // entry is a descriptor index the table does not hold.
      if (len === 0 || len % DESC !== 0) {
        return fail("DERIVED-SPLIT-IDX", `descriptor ${idx}: indirect table len ${len} is not a nonzero multiple of 16`);
      }
      const t = mem.dma(addr, len, "r");
      if (t < 0) return fail("DERIVED-MEM", `descriptor ${idx}: indirect table ${rawAddr(mem, d)} len ${len} outside RAM`);
      base = t;
      limit = len / DESC;
      inIndirect = true;
      idx = 0;
      steps = 0;
      continue;
    }

    const off = mem.dma(addr, len, flags & F_WRITE ? "w" : "r");
    if (off < 0) return fail("DERIVED-MEM", `${where(inIndirect, idx)} of head ${head}: buffer ${rawAddr(mem, d)} len ${len} outside RAM`);
    if (++count > size) {
      return fail("SPLIT-DRV-06", `chain from head ${head} has more than QueueSize ${size} descriptors`);
    }
    if (flags & F_WRITE) {
      writable.push({ gpa: addr, off, len });
      writableLen += len;
    } else {
      if (writable.length > 0) {
        return fail("FRAME-DRV-01", `${where(inIndirect, idx)} of head ${head} is device-readable after a device-writable one`);
      }
      readable.push({ gpa: addr, off, len });
      readableLen += len;
    }
    if (readableLen + writableLen > MAX_TOTAL) {
      return fail("SPLIT-DRV-02", `chain from head ${head} totals ${readableLen + writableLen} bytes (>= 2^32)`);
    }
    if (!(flags & F_NEXT)) break;
    if (next >= limit) {
      return fail(
        "DERIVED-SPLIT-IDX",
        inIndirect
          ? `indirect entry ${idx} of head ${head}: next ${next} >= indirect table entries ${limit}`
          : `descriptor ${idx} of head ${head}: next ${next} >= QueueSize ${size}`,
      );
    }
    idx = next;
  }
  return { head, readable, writable, readableLen, writableLen, descCount: count };
}
