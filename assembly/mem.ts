// Static memory: everything the driver will ever use is reserved here, once, when the module is
// instantiated (the start function). No entry point allocates afterwards (heap_top() is constant).
import { ABI } from "./gen/constants";

function reserve(size: u32, align: u32): u32 {
  const p = <u32>heap.alloc(<usize>(size + align));
  return (p + align - 1) & ~(align - 1);
}

/** io_buffer(): where the host-side stack places a frame before transmit(). */
export const IO_BUFFER: u32 = reserve(ABI.IO_BUFFER_SIZE, 16);
/** [MEM_BASE, MEM_BASE + MEM_SIZE): one DEV_REGION_SIZE slot per device handle. */
export const MEM_SIZE: u32 = ABI.MAX_DEVICES * ABI.DEV_REGION_SIZE;
export const MEM_BASE: u32 = reserve(MEM_SIZE, 4096);

/** Bytes of linear memory (initial == maximum, so this never changes). */
// @ts-ignore: decorator
@inline export function linear_size(): u32 {
  return (<u32>memory.size()) << 16;
}
