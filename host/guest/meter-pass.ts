// The metering pass itself (binaryen): counts executed Wasm instructions into an imported i32
// global, split at every call, and memory.copy / memory.fill bytes into a second one. Loaded only
// when host/guest/meter.ts has no cached result, since binaryen takes a second to load.
import binaryen from "binaryen";
import { METER_BYTES, METER_INSTRUCTIONS, METER_MODULE } from "./meter.js";

type Expr = number;
type Seg = { n: number; konst: Expr[] };

const b = binaryen as unknown as Record<string, any>;

/**
 * Children of each expression kind in evaluation order: [class, field] for single children, or
 * [class, "*Operand"/"*Child"] for lists. Kinds not listed and not handled below are refused.
 */
const SIMPLE: Record<number, [string, string[]]> = {
  [b.NopId]: ["Nop", []],
  [b.LocalGetId]: ["LocalGet", []],
  [b.LocalSetId]: ["LocalSet", ["Value"]],
  [b.GlobalGetId]: ["GlobalGet", []],
  [b.GlobalSetId]: ["GlobalSet", ["Value"]],
  [b.LoadId]: ["Load", ["Ptr"]],
  [b.StoreId]: ["Store", ["Ptr", "Value"]],
  [b.ConstId]: ["Const", []],
  [b.UnaryId]: ["Unary", ["Value"]],
  [b.BinaryId]: ["Binary", ["Left", "Right"]],
  [b.SelectId]: ["Select", ["IfTrue", "IfFalse", "Condition"]],
  [b.DropId]: ["Drop", ["Value"]],
  [b.MemorySizeId]: ["MemorySize", []],
  [b.MemoryGrowId]: ["MemoryGrow", ["Delta"]],
  [b.MemoryInitId]: ["MemoryInit", ["Dest", "Offset", "Size"]],
  [b.DataDropId]: ["DataDrop", []],
  [b.MemoryCopyId]: ["MemoryCopy", ["Dest", "Source", "Size"]],
  [b.MemoryFillId]: ["MemoryFill", ["Dest", "Value", "Size"]],
  [b.RefNullId]: ["RefNull", []],
  [b.RefIsNullId]: ["RefIsNull", ["Value"]],
  [b.RefFuncId]: ["RefFunc", []],
  [b.RefEqId]: ["RefEq", ["Left", "Right"]],
  [b.TableGetId]: ["TableGet", ["Index"]],
  [b.TableSetId]: ["TableSet", ["Index", "Value"]],
  [b.TableSizeId]: ["TableSize", []],
  [b.TableGrowId]: ["TableGrow", ["Value", "Delta"]],
  [b.SIMDExtractId]: ["SIMDExtract", ["Vec"]],
  [b.SIMDReplaceId]: ["SIMDReplace", ["Vec", "Value"]],
  [b.SIMDShuffleId]: ["SIMDShuffle", ["Left", "Right"]],
  [b.SIMDTernaryId]: ["SIMDTernary", ["A", "B", "C"]],
  [b.SIMDShiftId]: ["SIMDShift", ["Vec", "Shift"]],
  [b.SIMDLoadId]: ["SIMDLoad", ["Ptr"]],
};


export function instrument(input: Uint8Array): { bytes: Uint8Array; points: number } {
  const m = binaryen.readBinary(input);
  try {
    // What Node 20's V8 runs (no compact imports or other newer encodings in the output).
    const F = b.Features;
    m.setFeatures(F.MutableGlobals | F.NontrappingFPToInt | F.SIMD128 | F.BulkMemory | F.SignExt | F.ReferenceTypes | F.Multivalue | F.TailCall | F.BulkMemoryOpt);
    const ic = "__meter_instructions";
    const bc = "__meter_bytes";
    m.addGlobalImport(ic, METER_MODULE, METER_INSTRUCTIONS, b.i32, true);
    m.addGlobalImport(bc, METER_MODULE, METER_BYTES, b.i32, true);
    let points = 0;
    for (let i = 0, n = m.getNumFunctions(); i < n; i++) {
      const fn = m.getFunctionByIndex(i);
      const info = b.getFunctionInfo(fn);
      if (info.module !== "" && info.module !== null) continue; // an import: nothing to meter
      points += new FunctionMeter(m, fn, ic, bc).run();
    }
    if (!m.validate()) throw new Error("meter: the metered module does not validate (binaryen printed why)");
    return { bytes: m.emitBinary(), points };
  } finally {
    m.dispose();
  }
}

/** The pass over one function body (see the rules at `visit`). */
class FunctionMeter {
  private temps = new Map<number, number>();
  private segs: Seg[] = [];
  private cur!: Seg;

  constructor(
    private readonly m: binaryen.Module,
    private readonly fn: number,
    private readonly ic: string,
    private readonly bc: string,
  ) {}

  run(): number {
    const body = b.Function.getBody(this.fn);
    if (!body) return 0;
    this.cur = this.newSeg();
    const start = this.cur;
    b.Function.setBody(this.fn, this.before(start, this.visit(body)));
    for (const s of this.segs) for (const k of s.konst) b.Const.setValueI32(k, s.n | 0);
    return this.segs.filter((s) => s.konst.length > 0).length;
  }

  private newSeg(): Seg {
    const s: Seg = { n: 0, konst: [] };
    this.segs.push(s);
    return s;
  }

  /** `global += seg.n`, the constant filled in once the segment's length is known. */
  private charge(seg: Seg): Expr {
    const k = this.m.i32.const(0);
    seg.konst.push(k);
    return this.m.global.set(this.ic, this.m.i32.add(this.m.global.get(this.ic, b.i32), k));
  }

  /** `e`, with `seg` charged just before it runs. */
  private before(seg: Seg, e: Expr): Expr {
    return this.m.block(null, [this.charge(seg), e], b.getExpressionType(e));
  }

  /** `e`, then a new segment charged right after it (the value of `e`, if any, kept in a temp). */
  private after(e: Expr): Expr {
    const t = b.getExpressionType(e);
    const seg = this.newSeg();
    this.cur = seg;
    if (t === b.unreachable) return e;
    if (t === b.none) return this.m.block(null, [e, this.charge(seg)], b.none);
    if (b.expandType(t).length !== 1) throw new Error("meter: multi-value results are not supported");
    const tmp = this.temp(t);
    return this.m.block(null, [this.m.local.set(tmp, e), this.charge(seg), this.m.local.get(tmp, t)], t);
  }

  private temp(t: number): number {
    let i = this.temps.get(t);
    if (i === undefined) {
      i = b._BinaryenFunctionAddVar(this.fn, t) as number;
      this.temps.set(t, i);
    }
    return i;
  }

  /** After an unconditional transfer the rest of the straight line is dead: charge nothing there. */
  private dead(): void {
    this.cur = { n: 0, konst: [] };
  }

  /**
   * Rules. Every instruction counts 1 (an unnamed block, which emits no instruction, counts 0).
   * A segment is charged where it starts and covers the straight line up to the next call, branch
   * or merge, so at every call the counter holds exactly the instructions executed so far,
   * the call included. Segments start: at the function's entry, after each call, at each arm of
   * an `if` and after it, at a loop's body (its branch target), after a named block (a merge),
   * and after a `br_if` (its fall-through).
   */
  private visit(e: Expr): Expr {
    const id = b.getExpressionId(e);
    switch (id) {
      case b.BlockId: {
        const named = !!b.Block.getName(e);
        if (named) this.cur.n++;
        for (let i = 0, n = b.Block.getNumChildren(e); i < n; i++) b.Block.setChildAt(e, i, this.visit(b.Block.getChildAt(e, i)));
        return named ? this.after(e) : e;
      }
      case b.IfId: {
        b.If.setCondition(e, this.visit(b.If.getCondition(e)));
        this.cur.n++;
        for (const arm of ["IfTrue", "IfFalse"] as const) {
          const x = b.If["get" + arm](e);
          if (!x) continue;
          const seg = (this.cur = this.newSeg());
          b.If["set" + arm](e, this.before(seg, this.visit(x)));
        }
        return this.after(e);
      }
      case b.LoopId: {
        this.cur.n++;
        const seg = (this.cur = this.newSeg());
        b.Loop.setBody(e, this.before(seg, this.visit(b.Loop.getBody(e))));
        return e; // falling out of the loop continues the body's last segment
      }
      case b.BreakId: {
        const v = b.Break.getValue(e);
        if (v) b.Break.setValue(e, this.visit(v));
        const c = b.Break.getCondition(e);
        if (c) b.Break.setCondition(e, this.visit(c));
        this.cur.n++;
        if (c) return this.after(e);
        this.dead();
        return e;
      }
      case b.SwitchId: {
        const v = b.Switch.getValue(e);
        if (v) b.Switch.setValue(e, this.visit(v));
        b.Switch.setCondition(e, this.visit(b.Switch.getCondition(e)));
        this.cur.n++;
        this.dead();
        return e;
      }
      case b.ReturnId: {
        const v = b.Return.getValue(e);
        if (v) b.Return.setValue(e, this.visit(v));
        this.cur.n++;
        this.dead();
        return e;
      }
      case b.UnreachableId:
        this.cur.n++;
        this.dead();
        return e;
      case b.CallId:
      case b.CallIndirectId: {
        const cls = id === b.CallId ? b.Call : b.CallIndirect;
        for (let i = 0, n = cls.getNumOperands(e); i < n; i++) cls.setOperandAt(e, i, this.visit(cls.getOperandAt(e, i)));
        if (id === b.CallIndirectId) b.CallIndirect.setTarget(e, this.visit(b.CallIndirect.getTarget(e)));
        this.cur.n++;
        if (cls.isReturn(e)) {
          this.dead();
          return e;
        }
        return this.after(e);
      }
    }
    const simple = SIMPLE[id];
    if (!simple) throw new Error(`meter: unsupported instruction kind (binaryen expression id ${id}) in ${b.getFunctionInfo(this.fn).name}`);
    const [cls, fields] = simple;
    for (const f of fields) {
      const child = b[cls]["get" + f](e);
      if (child) b[cls]["set" + f](e, this.visit(child));
    }
    this.cur.n++;
    if (id === b.MemoryCopyId || id === b.MemoryFillId) return this.countBytes(cls, e);
    return e;
  }

  /** memory.copy / memory.fill: add the size operand to the byte counter after the operation. */
  private countBytes(cls: string, e: Expr): Expr {
    const size = b[cls].getSize(e);
    const t = b.getExpressionType(size);
    if (t !== b.i32) throw new Error("meter: memory64 bulk operations are not supported");
    const tmp = this.temp(b.i32);
    b[cls].setSize(e, this.m.local.tee(tmp, size, b.i32));
    const add = this.m.global.set(this.bc, this.m.i32.add(this.m.global.get(this.bc, b.i32), this.m.local.get(tmp, b.i32)));
    return this.m.block(null, [e, add], b.none);
  }
}
