// virtio-mmio, modern register layout (Version 2, 4.2.2): the Transport over memory-mapped
// registers. Control registers (0x000-0x0fc) are only ever accessed with aligned 32-bit reads and
// writes (MMIO-DRV-04); configuration space (0x100+) at each field's own width (MMIO-DRV-05).
// Only registers listed in 4.2.2 are touched (MMIO-DRV-01), never SHM* (MMIO-DRV-28).
import { ABI, ABI_ERRNO, DEVICE_ID, LOG, LOG_LEVEL, MMIO, MMIO_VAL } from "../gen/constants";
import { log, mmio_read16, mmio_read32, mmio_read8, mmio_write32 } from "../hal";
import { Transport } from "./transport";

export class MmioTransport extends Transport {
  private r32(reg: u32): u32 {
    return mmio_read32(this.base + reg);
  }
  private w32(reg: u32, v: u32): void {
    mmio_write32(this.base + reg, v);
  }

  probe(): i32 {
    // 4.2.3.1.1: read and check MagicValue and Version first (MMIO-DRV-24).
    const magic = this.r32(MMIO.MagicValue);
    if (magic != MMIO_VAL.MAGIC) {
      log(LOG_LEVEL.WARN, LOG.PROBE_BAD_MAGIC, magic, this.base); // MMIO-DRV-06/07
      return -(ABI_ERRNO.ENODEV as i32);
    }
    const version = this.r32(MMIO.Version);
    if (version != MMIO_VAL.VERSION_MODERN) {
      // Legacy (Version 1) is a separate transport, not in this build (MMIO-DRV-08/09).
      log(LOG_LEVEL.WARN, LOG.PROBE_BAD_VERSION, version, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    // MMIO-DRV-25: then DeviceID. 0 is a placeholder: stop, touch nothing else, report no
    // error (MMIO-DRV-10/11/26/27).
    const id = this.r32(MMIO.DeviceID);
    if (id == 0) return -(ABI_ERRNO.ENODEV as i32);
    if (id != DEVICE_ID.NET) {
      log(LOG_LEVEL.WARN, LOG.PROBE_NOT_NET, id, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    return 0;
  }

  reset(): bool {
    // 2.4: writing 0 to Status resets the device; RESET-DRV-01: finished only once it reads 0.
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
    // Feature bits 0-95: net defines bits up to 70, so word 2 exists (layouts.md 2b).
    return 3;
  }
  getDeviceFeatures(word: u32): u32 {
    this.w32(MMIO.DeviceFeaturesSel, word); // MMIO-DRV-12: before each read
    return this.r32(MMIO.DeviceFeatures);
  }
  setDriverFeatures(word: u32, value: u32): void {
    this.w32(MMIO.DriverFeaturesSel, word); // MMIO-DRV-13: before each write
    this.w32(MMIO.DriverFeatures, value);
  }

  selectQueue(index: u32): i32 {
    // 4.2.3.2 steps 1-3: QueueSel, QueueReady must read 0, QueueSizeMax (0: no such queue).
    this.w32(MMIO.QueueSel, index);
    if (this.r32(MMIO.QueueReady) != 0) {
      log(LOG_LEVEL.ERROR, LOG.QUEUE_ALREADY_READY, index, 0);
      return -1;
    }
    const max = this.r32(MMIO.QueueSizeMax);
    return max > 0x8000 ? 0x8000 : (max as i32);
  }
  activateQueue(size: u32, desc: u64, driver: u64, device: u64): void {
    // 4.2.3.2 steps 5-7 (the caller zeroed the rings, step 4). QueueReady is 0 while these are
    // written (MMIO-DRV-15); QueueSize <= QueueSizeMax (MMIO-DRV-14).
    this.w32(MMIO.QueueSize, size);
    this.w32(MMIO.QueueDescLow, <u32>desc);
    this.w32(MMIO.QueueDescHigh, <u32>(desc >> 32));
    this.w32(MMIO.QueueDriverLow, <u32>driver);
    this.w32(MMIO.QueueDriverHigh, <u32>(driver >> 32));
    this.w32(MMIO.QueueDeviceLow, <u32>device);
    this.w32(MMIO.QueueDeviceHigh, <u32>(device >> 32));
    this.w32(MMIO.QueueReady, 1);
  }

  notify(index: u32): void {
    // 4.2.3.3 without VIRTIO_F_NOTIFICATION_DATA: the queue index.
    this.w32(MMIO.QueueNotify, index);
  }

  interruptStatus(): u32 {
    return this.r32(MMIO.InterruptStatus);
  }
  interruptAck(bits: u32): void {
    this.w32(MMIO.InterruptACK, bits);
  }

  configGeneration(): u32 {
    return this.r32(MMIO.ConfigGeneration);
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

