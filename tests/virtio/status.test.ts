// Tests of the device status transition table (2.1, 3.1.1): accepted writes, refused bits and their clauses.
import { describe, expect, it } from "vitest";
import { F, STATUS } from "../../host/gen/constants.js";
import { decideStatusWrite, type NegotiationState, STATUS_TABLE, statusNames } from "../../host/virtio/status.js";

const { ACKNOWLEDGE: ACK, DRIVER, FEATURES_OK, DRIVER_OK, SUSPEND, DEVICE_NEEDS_RESET, FAILED } = STATUS;
const VERSION_1 = 1n << BigInt(F.VERSION_1);

function ctx(offered = VERSION_1, accepted = VERSION_1, verdict: string | null = null): NegotiationState & { checked: bigint[] } {
  const checked: bigint[] = [];
  return {
    offered,
    accepted,
    checked,
    checkFeatures: (a) => {
      checked.push(a);
      return verdict;
    },
  };
}

/** [clause, outcome] of every step that was not a plain "set". */
function refusals(d: ReturnType<typeof decideStatusWrite>) {
  return d.steps.filter((s) => s.outcome !== "set").map((s) => [s.name, s.outcome, s.clause]);
}

describe("decideStatusWrite: the init sequence", () => {
  it("accepts 3.1.1 one step per write", () => {
    let s = 0;
    for (const bit of [ACK, DRIVER, FEATURES_OK, DRIVER_OK]) {
      const d = decideStatusWrite(s, s | bit, ctx());
      expect(refusals(d)).toEqual([]);
      expect(d.steps.map((x) => x.bit)).toEqual([bit]);
      s = d.next;
    }
    expect(s).toBe(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  });

  it("applies several bits of one write in table order", () => {
    const c = ctx();
    const d = decideStatusWrite(0, ACK | DRIVER | FEATURES_OK | DRIVER_OK, c);
    expect(d.next).toBe(0x0f);
    expect(d.steps.map((x) => x.name)).toEqual(["ACKNOWLEDGE", "DRIVER", "FEATURES_OK", "DRIVER_OK"]);
    expect(c.checked).toEqual([VERSION_1]);
  });

  it("treats 0 as a reset from any status", () => {
    expect(decideStatusWrite(0x4f, 0, ctx())).toEqual({ reset: true, next: 0, steps: [] });
    expect(decideStatusWrite(0, 0, ctx())).toEqual({ reset: true, next: 0, steps: [] });
  });

  it("produces no step for bits already set (rewriting the same status is a no-op)", () => {
    const d = decideStatusWrite(0x0f, 0x0f, ctx());
    expect(d).toEqual({ reset: false, next: 0x0f, steps: [] });
  });
});

describe("decideStatusWrite: refusals", () => {
  it("refuses a write clearing a set bit as a whole (STATUS-DRV-02)", () => {
    const d = decideStatusWrite(ACK | DRIVER, ACK | FEATURES_OK, ctx());
    expect(d.next).toBe(ACK | DRIVER);
    expect(refusals(d)).toEqual([["clear", "violation", "STATUS-DRV-02"]]);
    expect(d.steps[0].bit).toBe(DRIVER);
  });

  it("names the step set out of order", () => {
    expect(refusals(decideStatusWrite(0, DRIVER, ctx()))).toEqual([["DRIVER", "violation", "INIT-DRV-03"]]);
    expect(refusals(decideStatusWrite(ACK, ACK | FEATURES_OK, ctx()))).toEqual([["FEATURES_OK", "violation", "INIT-DRV-07"]]);
    const d = decideStatusWrite(ACK | DRIVER, ACK | DRIVER | DRIVER_OK, ctx());
    expect(refusals(d)).toEqual([["DRIVER_OK", "violation", "INIT-DRV-11"]]);
    expect(d.next).toBe(ACK | DRIVER);
    expect(d.steps[0].detail).toMatch(/DRIVER_OK before FEATURES_OK/);
  });

  it("goes on with later bits after a refused one, against what is set so far", () => {
    // DRIVER refused, so FEATURES_OK and DRIVER_OK lack it too; FAILED is legal at any time.
    const d = decideStatusWrite(0, DRIVER | FEATURES_OK | DRIVER_OK | FAILED, ctx());
    expect(d.next).toBe(FAILED);
    expect(refusals(d).map((r) => r[2])).toEqual(["INIT-DRV-03", "INIT-DRV-07", "INIT-DRV-11"]);
  });

  it("leaves FEATURES_OK clear for bits not offered (FEAT-DRV-01) without asking the device", () => {
    const c = ctx(VERSION_1, VERSION_1 | (1n << 70n));
    const d = decideStatusWrite(ACK | DRIVER, ACK | DRIVER | FEATURES_OK, c);
    expect(d.next).toBe(ACK | DRIVER);
    expect(refusals(d)).toEqual([["FEATURES_OK", "violation", "FEAT-DRV-01"]]);
    expect(d.steps[0].detail).toMatch(/bit70/);
    expect(c.checked).toEqual([]);
  });

  it("leaves FEATURES_OK clear when the device refuses the subset (FEAT-DEV-03), as a refusal, not a violation", () => {
    const d = decideStatusWrite(ACK | DRIVER, ACK | DRIVER | FEATURES_OK | DRIVER_OK, ctx(VERSION_1, 0n, "VERSION_1 required"));
    expect(d.next).toBe(ACK | DRIVER);
    expect(refusals(d)).toEqual([
      ["FEATURES_OK", "refused", "FEAT-DEV-03"],
      ["DRIVER_OK", "violation", "INIT-DRV-11"],
    ]);
    expect(d.steps[0].detail).toBe("VERSION_1 required");
  });

  it("refuses a driver setting DEVICE_NEEDS_RESET, but a read-modify-write keeping it is fine", () => {
    expect(refusals(decideStatusWrite(ACK, ACK | DEVICE_NEEDS_RESET, ctx()))).toEqual([["DEVICE_NEEDS_RESET", "violation", "STATUS-DRV-01"]]);
    const d = decideStatusWrite(0x4f, 0x4f | FAILED, ctx());
    expect(d).toEqual({ reset: false, next: 0xcf, steps: [{ bit: FAILED, name: "FAILED", outcome: "set" }] });
    // Writing back a status read before the device set DEVICE_NEEDS_RESET does not clear it.
    expect(decideStatusWrite(0x4f, 0x0f | FAILED, ctx()).next).toBe(0xcf);
  });

  it("refuses new init steps after FAILED until a reset (STATUS-DRV-03)", () => {
    const d = decideStatusWrite(ACK | FAILED, ACK | DRIVER | FAILED, ctx());
    expect(refusals(d)).toEqual([["DRIVER", "violation", "STATUS-DRV-03"]]);
    expect(decideStatusWrite(0, FAILED, ctx()).next).toBe(FAILED);
  });

  it("refuses undefined status bits (2.1)", () => {
    const d = decideStatusWrite(0, ACK | 0x20 | 0x100, ctx());
    expect(d.next).toBe(ACK);
    expect(refusals(d)).toEqual([["undefined", "violation", "STATUS-DRV-01"]]);
    expect(d.steps[0].bit).toBe(0x120);
  });

  it("refuses SUSPEND without VIRTIO_F_SUSPEND (SUSP-DRV-01) and reports it unsupported with it (SUSP-DEV-06)", () => {
    expect(refusals(decideStatusWrite(0x0f, 0x0f | SUSPEND, ctx()))).toEqual([["SUSPEND", "violation", "SUSP-DRV-01"]]);
    const susp = VERSION_1 | (1n << BigInt(F.SUSPEND));
    expect(refusals(decideStatusWrite(0x0b, 0x0b | SUSPEND, ctx(susp, susp)))).toEqual([["SUSPEND", "violation", "SUSP-DRV-01"]]);
    const d = decideStatusWrite(0x0f, 0x0f | SUSPEND, ctx(susp, susp));
    expect(refusals(d)).toEqual([["SUSPEND", "unsupported", "SUSP-DEV-06"]]);
    expect(d.next).toBe(0x0f);
  });
});

describe("STATUS_TABLE", () => {
  it("covers each status bit of 2.1 once, driver bits before the device's", () => {
    expect(STATUS_TABLE.map((r) => r.bit).sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 64, 128]);
    expect(STATUS_TABLE.filter((r) => r.owner === "device").map((r) => r.name)).toEqual(["DEVICE_NEEDS_RESET"]);
    expect(statusNames(0x0f | 0x20)).toEqual(["ACKNOWLEDGE", "DRIVER", "FEATURES_OK", "DRIVER_OK", "0x20"]);
  });
});
