// virtio-mmio legacy register layout (Version 1, 4.2.4): the Transport over QEMU's default
// virtio-mmio (force-legacy). 32 feature bits, GuestPageSize, QueueNum/QueueAlign/QueuePFN with
// the legacy contiguous ring layout, no QueueReady and no ConfigGeneration. Control registers are
// accessed with aligned 32-bit reads and writes (MMIO-DRV-04), the config at each field's width.
import { ABI, ABI_ERRNO, DEVICE_ID, LEGACY, LOG, LOG_LEVEL, MMIO, MMIO_VAL } from "../gen/constants";
import { log, mmio_read16, mmio_read32, mmio_read8, mmio_write32 } from "../hal";
import { Transport } from "./transport";

export class MmioLegacyTransport extends Transport {
  private r32(reg: u32): u32 {
    return mmio_read32(this.base + reg);
  }
  private w32(reg: u32, v: u32): void {
    mmio_write32(this.base + reg, v);
  }

  probe(): i32 {
    // 4.2.3.1.1 as for Version 2, expecting Version 1 (4.2.4).
    const magic = this.r32(MMIO.MagicValue);
    if (magic != MMIO_VAL.MAGIC) {
      log(LOG_LEVEL.WARN, LOG.PROBE_BAD_MAGIC, magic, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    const version = this.r32(MMIO.Version);
    if (version != MMIO_VAL.VERSION_LEGACY) {
      log(LOG_LEVEL.WARN, LOG.PROBE_BAD_VERSION, version, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    const id = this.r32(MMIO.DeviceID);
    if (id == 0) return -(ABI_ERRNO.ENODEV as i32); // placeholder: touch nothing else
    if (id != DEVICE_ID.NET) {
      log(LOG_LEVEL.WARN, LOG.PROBE_NOT_NET, id, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    return 0;
  }

  reset(): bool {
    // 4.2.4: writing 0 to Status resets the device and clears every QueuePFN.
    this.w32(MMIO.Status, 0);
    for (let i: u32 = 0; i < ABI.RESET_POLL_MAX; i++) {
      const s = this.r32(MMIO.Status);
      if (s == 0) return true;
      if (i + 1 == ABI.RESET_POLL_MAX) log(LOG_LEVEL.ERROR, LOG.RESET_TIMEOUT, s, this.base);
    }
    return false;
  }

  getStatus(): u32 {
    return this.r32(MMIO.Status) & 0xff;
  }
  setStatus(status: u32): void {
    this.w32(MMIO.Status, status & 0xff);
  }

  featureWords(): u32 {
    return 1; // HostFeatures / GuestFeatures word 0: the legacy interface has bits 0-31
  }
  getDeviceFeatures(word: u32): u32 {
    this.w32(MMIO.DeviceFeaturesSel, word); // HostFeaturesSel
    return this.r32(MMIO.DeviceFeatures); // HostFeatures
  }
  setDriverFeatures(word: u32, value: u32): void {
    this.w32(MMIO.DriverFeaturesSel, word); // GuestFeaturesSel
    this.w32(MMIO.DriverFeatures, value); // GuestFeatures
  }

  legacyRingLayout(): bool {
    return true;
  }
  isLegacy(): bool {
    return true;
  }

  selectQueue(index: u32): i32 {
    // 4.2.4: QueueSel, QueuePFN must read 0, then QueueNumMax.
    this.w32(MMIO.QueueSel, index);
    if (this.r32(MMIO.QueuePFN) != 0) {
      log(LOG_LEVEL.ERROR, LOG.QUEUE_ALREADY_READY, index, 0);
      return -1;
    }
    const max = this.r32(MMIO.QueueSizeMax);
    return max > 0x8000 ? 0x8000 : (max as i32);
  }
  activateQueue(size: u32, desc: u64, driver: u64, device: u64): void {
    // GuestPageSize before the queue is used; QueueNum, QueueAlign, then QueuePFN (the page of the
    // descriptor table; the avail and used rings follow it in the legacy layout, 2.7.2).
    this.w32(MMIO.GuestPageSize, LEGACY.PAGE_SIZE);
    this.w32(MMIO.QueueSize, size);
    this.w32(MMIO.QueueAlign, LEGACY.QUEUE_ALIGN);
    this.w32(MMIO.QueuePFN, <u32>(desc >> LEGACY.PFN_SHIFT));
  }

  notify(index: u32): void {
    this.w32(MMIO.QueueNotify, index);
  }

  interruptStatus(): u32 {
    return this.r32(MMIO.InterruptStatus);
  }
  interruptAck(bits: u32): void {
    this.w32(MMIO.InterruptACK, bits);
  }

  configGeneration(): u32 {
    return 0; // no ConfigGeneration register in Version 1
  }
  readConfig8(off: u32): u32 {
    return mmio_read8(this.base + MMIO.Config + off) & 0xff;
  }
  readConfig16(off: u32): u32 {
    return mmio_read16(this.base + MMIO.Config + off) & 0xffff;
  }
  readConfig32(off: u32): u32 {
    return mmio_read32(this.base + MMIO.Config + off);
  }
}
