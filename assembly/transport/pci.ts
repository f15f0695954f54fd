// virtio-pci modern (4.1): the Transport over a PCI function found by scanning bus 0 through ECAM.
// The vendor capability list locates the common, notify, ISR and device configuration structures
// in memory BARs (4.1.4); MSI-X (one vector for config, one per queue) is used when the function
// has it and every mapping reads back, else INTx with the read-to-clear ISR (4.1.5.1.2, 4.1.5.3).
import {
  ABI_ERRNO, IRQ_VEC, LOG, LOG_LEVEL, MSIX, PCI_BAR, PCI_CAP, PCI_CFG, PCI_CMD, PCI_ECAM, PCI_IDS, PCI_STS,
  VIRTIO_MSI, VIRTIO_PCI_CAP as CAP, VIRTIO_PCI_CAP_TYPE as TYPE, VIRTIO_PCI_COMMON as C, ABI,
} from "../gen/constants";
import { log, mmio_read16, mmio_read32, mmio_read8, mmio_write16, mmio_write32, mmio_write8 } from "../hal";
import { Transport } from "./transport";

/** Capability list walk bound: 256 bytes of config space hold at most 48 four-byte-aligned entries. */
const CAP_WALK_MAX: u32 = 48;

export class PciTransport extends Transport {
  /** Config space of the function found (ECAM address). */
  cfg: u32 = 0;
  common: u32 = 0;
  notifyBase: u32 = 0;
  notifyMult: u32 = 0;
  isr: u32 = 0;
  device: u32 = 0;
  msixCap: u32 = 0;
  sel: u32 = 0;
  notifyRx: u32 = 0;
  notifyTx: u32 = 0;

  // ---- configuration space through ECAM (PCIe memory-mapped configuration) ----
  private c8(reg: u32): u32 {
    return mmio_read8(this.cfg + reg) & 0xff;
  }
  private c16(reg: u32): u32 {
    return mmio_read16(this.cfg + reg) & 0xffff;
  }
  private c32(reg: u32): u32 {
    return mmio_read32(this.cfg + reg);
  }

  /** Guest-physical address of memory BAR `bar` (a 64-bit BAR's high half must be 0: 32-bit HAL). */
  private barAddr(bar: u32): u32 {
    const lo = this.c32(PCI_CFG.BAR0 + 4 * bar);
    if ((lo & PCI_BAR.IO) != 0) return 0;
    if ((lo & 6) == PCI_BAR.MEM_TYPE_64 && bar < 5 && this.c32(PCI_CFG.BAR0 + 4 * (bar + 1)) != 0) return 0;
    return lo & PCI_BAR.MEM_MASK;
  }

  probe(): i32 {
    // 4.1.2.2: vendor 0x1AF4 with device 0x1041 (PCI-DRV-01), or the transitional 0x1000 whose
    // subsystem device id says net (PCI-DRV-02); any revision (PCI-DRV-03).
    this.cfg = 0;
    for (let dev: u32 = 0; dev < PCI_ECAM.MAX_DEVS; dev++) {
      const at = this.base + (dev << PCI_ECAM.DEV_SHIFT);
      const id = mmio_read32(at + PCI_CFG.VENDOR_ID);
      if ((id & 0xffff) != PCI_IDS.VENDOR_VIRTIO) continue;
      const did = id >> 16;
      const sub = mmio_read32(at + PCI_CFG.SUBSYS_VENDOR_ID) >> 16;
      if (did == PCI_IDS.DEVICE_NET_MODERN || (did == PCI_IDS.DEVICE_NET_TRANSITIONAL && sub == PCI_IDS.SUBSYS_NET)) {
        this.cfg = at;
        break;
      }
    }
    if (this.cfg == 0) {
      log(LOG_LEVEL.WARN, LOG.PCI_NO_DEVICE, PCI_ECAM.MAX_DEVS, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    // Memory space and bus mastering on (the device DMAs the rings).
    mmio_write16(this.cfg + PCI_CFG.COMMAND, this.c16(PCI_CFG.COMMAND) | PCI_CMD.MEMORY | PCI_CMD.MASTER);
    this.common = 0;
    this.notifyBase = 0;
    this.isr = 0;
    this.device = 0;
    this.msixCap = 0;
    if ((this.c16(PCI_CFG.STATUS) & PCI_STS.CAP_LIST) != 0) this.walkCapabilities();
    let missing: u32 = 0;
    if (this.device == 0) missing = TYPE.DEVICE_CFG;
    if (this.isr == 0) missing = TYPE.ISR_CFG;
    if (this.notifyBase == 0) missing = TYPE.NOTIFY_CFG;
    if (this.common == 0) missing = TYPE.COMMON_CFG;
    if (missing != 0) {
      log(LOG_LEVEL.ERROR, LOG.PCI_NO_CAP, missing, (this.cfg - this.base) >> PCI_ECAM.DEV_SHIFT);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    return 0;
  }

  /** 4.1.4: the first capability of each type (PCI-DRV-08), reserved types and BARs ignored (PCI-DRV-07/10). */
  private walkCapabilities(): void {
    let ptr = this.c8(PCI_CFG.CAP_PTR) & 0xfc;
    for (let n: u32 = 0; n < CAP_WALK_MAX && ptr >= 0x40; n++) {
      const id = this.c8(ptr);
      if (id == PCI_CAP.ID_MSIX && this.msixCap == 0) this.msixCap = ptr;
      if (id == PCI_CAP.ID_VNDR) {
        const type = this.c8(ptr + CAP.cfg_type);
        const bar = this.c8(ptr + CAP.bar);
        if (bar <= 5) {
          const addr = this.barAddr(bar);
          const at = addr == 0 ? 0 : addr + this.c32(ptr + CAP.offset);
          if (type == TYPE.COMMON_CFG && this.common == 0) this.common = at;
          else if (type == TYPE.NOTIFY_CFG && this.notifyBase == 0) {
            this.notifyBase = at;
            this.notifyMult = this.c32(ptr + CAP.notify_off_multiplier);
          } else if (type == TYPE.ISR_CFG && this.isr == 0) this.isr = at;
          else if (type == TYPE.DEVICE_CFG && this.device == 0) this.device = at;
        }
      }
      ptr = this.c8(ptr + CAP.cap_next) & 0xfc;
    }
  }

  reset(): bool {
    // 4.1.4.3: write 0 to device_status, then wait until it reads 0 (PCI-DRV-19).
    mmio_write8(this.common + C.device_status, 0);
    for (let i: u32 = 0; i < ABI.RESET_POLL_MAX; i++) {
      const s = mmio_read8(this.common + C.device_status) & 0xff;
      if (s == 0) return true;
      if (i + 1 == ABI.RESET_POLL_MAX) log(LOG_LEVEL.ERROR, LOG.RESET_TIMEOUT, s, this.base);
    }
    return false;
  }

  getStatus(): u32 {
    return mmio_read8(this.common + C.device_status) & 0xff;
  }
  setStatus(status: u32): void {
    mmio_write8(this.common + C.device_status, status & 0xff);
  }

  featureWords(): u32 {
    return 2;
  }
  getDeviceFeatures(word: u32): u32 {
    mmio_write32(this.common + C.device_feature_select, word);
    return mmio_read32(this.common + C.device_feature);
  }
  setDriverFeatures(word: u32, value: u32): void {
    mmio_write32(this.common + C.driver_feature_select, word);
    mmio_write32(this.common + C.driver_feature, value);
  }

  /**
   * MSI-X (4.1.5.1.2): entries 0 (config), 1 (receiveq1), 2 (transmitq1) get message data
   * IRQ_VEC.MSIX_BASE + unit * PER_DEV + entry, unmasked; MSI-X is enabled; config_msix_vector is
   * mapped and read back (PCI-DRV-35). Too small a table or a failed mapping: INTx (PCI-DRV-32/36).
   */
  setupInterrupts(unit: u32): void {
    this.useMsix = false;
    this.vecBase = IRQ_VEC.MSIX_BASE + unit * IRQ_VEC.PER_DEV;
    if (this.msixCap == 0) return;
    const ctrl = this.c16(this.msixCap + MSIX.CTRL);
    if ((ctrl & MSIX.CTRL_SIZE_MASK) + 1 < 3) return; // PCI-DRV-34: never a vector beyond Table Size
    const t = this.c32(this.msixCap + MSIX.TABLE);
    const table = this.barAddr(t & MSIX.BIR_MASK);
    if (table == 0) return;
    const base = table + (t & ~MSIX.BIR_MASK);
    for (let e: u32 = 0; e < 3; e++) {
      const at = base + e * MSIX.ENTRY_SIZE;
      mmio_write32(at + MSIX.ENTRY_ADDR_LO, MSIX.MSG_ADDR);
      mmio_write32(at + MSIX.ENTRY_ADDR_HI, 0);
      mmio_write32(at + MSIX.ENTRY_DATA, this.vecBase + e);
      mmio_write32(at + MSIX.ENTRY_CTRL, 0);
    }
    mmio_write16(this.cfg + this.msixCap + MSIX.CTRL, MSIX.CTRL_ENABLE);
    mmio_write16(this.common + C.config_msix_vector, IRQ_VEC.CONFIG);
    if ((mmio_read16(this.common + C.config_msix_vector) & 0xffff) == VIRTIO_MSI.NO_VECTOR) {
      this.disableMsix(IRQ_VEC.CONFIG);
      return;
    }
    this.useMsix = true;
  }

  private disableMsix(entry: u32): void {
    log(LOG_LEVEL.WARN, LOG.MSIX_FALLBACK, entry, (this.cfg - this.base) >> PCI_ECAM.DEV_SHIFT);
    mmio_write16(this.common + C.config_msix_vector, VIRTIO_MSI.NO_VECTOR);
    mmio_write16(this.cfg + this.msixCap + MSIX.CTRL, 0);
    this.useMsix = false;
  }


  selectQueue(index: u32): i32 {
    // 4.1.5.1.3: queue_select, queue_size (0: absent); the queue must not be live yet.
    this.sel = index;
    mmio_write16(this.common + C.queue_select, index);
    if ((mmio_read16(this.common + C.queue_enable) & 0xffff) != 0) {
      log(LOG_LEVEL.ERROR, LOG.QUEUE_ALREADY_READY, index, 0);
      return -1;
    }
    return <i32>(mmio_read16(this.common + C.queue_size) & 0xffff);
  }

  activateQueue(size: u32, desc: u64, driver: u64, device: u64): void {
    const c = this.common;
    mmio_write16(c + C.queue_size, size); // a power of 2 (PCI-DRV-17)
    if (this.useMsix) {
      const entry = this.sel == 0 ? IRQ_VEC.RX : IRQ_VEC.TX;
      mmio_write16(c + C.queue_msix_vector, entry);
      if ((mmio_read16(c + C.queue_msix_vector) & 0xffff) == VIRTIO_MSI.NO_VECTOR) this.disableMsix(entry);
    }
    mmio_write32(c + C.queue_desc, <u32>desc);
    mmio_write32(c + C.queue_desc + 4, <u32>(desc >> 32));
    mmio_write32(c + C.queue_driver, <u32>driver);
    mmio_write32(c + C.queue_driver + 4, <u32>(driver >> 32));
    mmio_write32(c + C.queue_device, <u32>device);
    mmio_write32(c + C.queue_device + 4, <u32>(device >> 32));
    // Notify address = notify offset + queue_notify_off * notify_off_multiplier (4.1.4.4).
    const at = this.notifyBase + (mmio_read16(c + C.queue_notify_off) & 0xffff) * this.notifyMult;
    if (this.sel == 0) this.notifyRx = at;
    else this.notifyTx = at;
    mmio_write16(c + C.queue_enable, 1); // after every other queue field (PCI-DRV-18)
  }

  notify(index: u32): void {
    // 4.1.5.2 without NOTIFICATION_DATA: a 16-bit write of the queue index (PCI-DRV-37/39).
    mmio_write16(index == 0 ? this.notifyRx : this.notifyTx, index);
  }

  interruptStatus(): u32 {
    return mmio_read8(this.isr) & 0xff; // read-to-clear (4.1.4.5)
  }
  interruptAck(bits: u32): void {}

  configGeneration(): u32 {
    return mmio_read8(this.common + C.config_generation) & 0xff;
  }
  readConfig8(off: u32): u32 {
    return mmio_read8(this.device + off) & 0xff;
  }
  readConfig16(off: u32): u32 {
    return mmio_read16(this.device + off) & 0xffff;
  }
  readConfig32(off: u32): u32 {
    return mmio_read32(this.device + off);
  }
}
