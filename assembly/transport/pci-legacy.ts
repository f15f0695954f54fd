// Legacy virtio-pci over port I/O (4.1.4.10), the RTEMS pc386 path (virtio_pci.c): the function is
// found by scanning bus 0 through configuration mechanism #1 (ports 0xCF8 / 0xCFC) for vendor
// 0x1AF4 with a transitional device id and subsystem device 1 (net); I/O BAR0 holds the legacy
// header. INTx by default: the ISR is read (which clears it) on every interrupt, and the line is
// EOI'd. MSI-X (4.1.4.10, 4.1.5.1.2) only when attach says the platform delivers MSI-X messages
// (ABI_TRANSPORT.FLAG_MSIX; the RTEMS pc386 BSP has only the 8259, so it never passes it) and the
// capability list has an MSI-X capability: then config_msix_vector (20) and queue_msix_vector
// (22) are programmed and read back, the device config moves to 24, and NO_VECTOR falls back to INTx.
import {
  ABI, ABI_ERRNO, ABI_TRANSPORT, IRQ_VEC, LEGACY, LOG, LOG_LEVEL, MSIX, PCI_BAR, PCI_CAP, PCI_CFG, PCI_CMD,
  PCI_ECAM, PCI_IDS, PCI_PORT, PCI_STS, VIRTIO_MSI, VIRTIO_PCI_LEGACY as L,
} from "../gen/constants";
import { io_in16, io_in32, io_in8, io_out16, io_out32, io_out8, log, mmio_write32 } from "../hal";
import { Transport } from "./transport";

/** Capability list walk bound: 256 bytes of config space hold at most 48 four-byte-aligned entries. */
const CAP_WALK_MAX: u32 = 48;

export class PciLegacyTransport extends Transport {
  /** CONFIG_ADDRESS of the function found (bus 0, device, function 0, register 0, enable bit). */
  cfgAddr: u32 = 0;
  /** I/O BAR0 port base. */
  io: u32 = 0;
  /** Interrupt Line register (the PIC input INTA# is routed to). */
  irqLine: u32 = 0;
  /** Config-space offset of the MSI-X capability (0: none, or not looked for). */
  msixCap: u32 = 0;
  /** MSI-X is enabled in the function: the header has 20/22 and the device config is at 24. */
  msixOn: bool = false;
  /** Every vector mapped: interrupts arrive per vector and the ISR is not read (PCI-DRV-26). */
  sel: u32 = 0;

  // ---- configuration mechanism #1: address to 0xCF8, data at 0xCFC + (reg & 3) ----
  private cfgRead32(addr: u32, reg: u32): u32 {
    io_out32(PCI_PORT.CONFIG_ADDRESS, addr | (reg & 0xfc));
    return io_in32(PCI_PORT.CONFIG_DATA);
  }
  private cfgRead8(reg: u32): u32 {
    io_out32(PCI_PORT.CONFIG_ADDRESS, this.cfgAddr | (reg & 0xfc));
    return io_in8(PCI_PORT.CONFIG_DATA + (reg & 3)) & 0xff;
  }
  private cfgWrite16(reg: u32, v: u32): void {
    io_out32(PCI_PORT.CONFIG_ADDRESS, this.cfgAddr | (reg & 0xfc));
    io_out16(PCI_PORT.CONFIG_DATA + (reg & 2), v);
  }
  private cfgRead16(reg: u32): u32 {
    io_out32(PCI_PORT.CONFIG_ADDRESS, this.cfgAddr | (reg & 0xfc));
    return io_in16(PCI_PORT.CONFIG_DATA + (reg & 2)) & 0xffff;
  }

  probe(): i32 {
    // 4.1.2.2 (PCI-DRV-02): a transitional id (0x1000-0x103f) whose Subsystem Device ID is 1 (net).
    this.cfgAddr = 0;
    for (let dev: u32 = 0; dev < PCI_ECAM.MAX_DEVS; dev++) {
      const addr = PCI_PORT.ENABLE | (dev << 11);
      const id = this.cfgRead32(addr, PCI_CFG.VENDOR_ID);
      if ((id & 0xffff) != PCI_IDS.VENDOR_VIRTIO) continue;
      const did = id >> 16;
      if (did < PCI_IDS.DEVICE_NET_TRANSITIONAL || did > PCI_IDS.DEVICE_LEGACY_MAX) continue;
      if (this.cfgRead32(addr, PCI_CFG.SUBSYS_VENDOR_ID) >> 16 != PCI_IDS.SUBSYS_NET) continue;
      this.cfgAddr = addr;
      break;
    }
    if (this.cfgAddr == 0) {
      log(LOG_LEVEL.WARN, LOG.PCI_NO_DEVICE, PCI_ECAM.MAX_DEVS, this.base);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    const bar0 = this.cfgRead32(this.cfgAddr, PCI_CFG.BAR0);
    if ((bar0 & PCI_BAR.IO) == 0) {
      log(LOG_LEVEL.ERROR, LOG.PCI_NO_CAP, 0, (this.cfgAddr >> 11) & 31);
      return -(ABI_ERRNO.ENODEV as i32);
    }
    this.io = bar0 & PCI_BAR.IO_MASK & 0xffff;
    this.irqLine = this.cfgRead8(PCI_CFG.INTERRUPT_LINE);
    // I/O space and bus mastering on; a 16-bit write so the Status half is left alone.
    io_out32(PCI_PORT.CONFIG_ADDRESS, this.cfgAddr | PCI_CFG.COMMAND);
    const cmd = io_in16(PCI_PORT.CONFIG_DATA) & 0xffff;
    this.cfgWrite16(PCI_CFG.COMMAND, cmd | PCI_CMD.IO | PCI_CMD.MASTER);
    this.msixCap = 0;
    this.msixOn = false;
    this.useMsix = false;
    if ((this.flags & ABI_TRANSPORT.FLAG_MSIX) != 0) this.findMsix();
    return 0;
  }

  /**
   * The MSI-X capability (PCI 6.8.2), looked for only where the platform delivers MSI-X: it may be
   * left enabled by an earlier attach, so its state says where the device config is now.
   */
  private findMsix(): void {
    if ((this.cfgRead16(PCI_CFG.STATUS) & PCI_STS.CAP_LIST) == 0) return;
    let ptr = this.cfgRead8(PCI_CFG.CAP_PTR) & 0xfc;
    for (let n: u32 = 0; n < CAP_WALK_MAX && ptr >= 0x40; n++) {
      if (this.cfgRead8(ptr) == PCI_CAP.ID_MSIX) {
        this.msixCap = ptr;
        this.msixOn = (this.cfgRead16(ptr + MSIX.CTRL) & MSIX.CTRL_ENABLE) != 0;
        return;
      }
      ptr = this.cfgRead8(ptr + 1) & 0xfc;
    }
  }

  /** A 32-bit memory BAR's address (0: an I/O BAR or a 64-bit one above 4 GiB). */
  private memBar(bar: u32): u32 {
    if (bar > 5) return 0;
    const lo = this.cfgRead32(this.cfgAddr, PCI_CFG.BAR0 + 4 * bar);
    if ((lo & PCI_BAR.IO) != 0) return 0;
    if ((lo & 6) == PCI_BAR.MEM_TYPE_64 && bar < 5 && this.cfgRead32(this.cfgAddr, PCI_CFG.BAR0 + 4 * (bar + 1)) != 0) return 0;
    return lo & PCI_BAR.MEM_MASK;
  }

  /**
   * MSI-X (4.1.5.1.2), as pci.ts does it: entries 0 (config), 1 (receiveq1), 2 (transmitq1) get
   * message data IRQ_VEC.MSIX_BASE + unit * PER_DEV + entry, unmasked; memory space goes on for the
   * table BAR; MSI-X is enabled (the header grows to 24); config_msix_vector at 20 is mapped and
   * read back (PCI-DRV-35). Too small a table or NO_VECTOR: INTx (PCI-DRV-32/36).
   */
  setupInterrupts(unit: u32): void {
    this.useMsix = false;
    this.vecBase = IRQ_VEC.MSIX_BASE + unit * IRQ_VEC.PER_DEV;
    if (this.msixCap == 0) return;
    const ctrl = this.cfgRead16(this.msixCap + MSIX.CTRL);
    if ((ctrl & MSIX.CTRL_SIZE_MASK) + 1 < 3) return; // PCI-DRV-34: never a vector beyond Table Size
    const t = this.cfgRead32(this.cfgAddr, this.msixCap + MSIX.TABLE);
    const table = this.memBar(t & MSIX.BIR_MASK);
    if (table == 0) return;
    this.cfgWrite16(PCI_CFG.COMMAND, this.cfgRead16(PCI_CFG.COMMAND) | PCI_CMD.MEMORY);
    const base = table + (t & ~MSIX.BIR_MASK);
    for (let e: u32 = 0; e < 3; e++) {
      const at = base + e * MSIX.ENTRY_SIZE;
      mmio_write32(at + MSIX.ENTRY_ADDR_LO, MSIX.MSG_ADDR);
      mmio_write32(at + MSIX.ENTRY_ADDR_HI, 0);
      mmio_write32(at + MSIX.ENTRY_DATA, this.vecBase + e);
      mmio_write32(at + MSIX.ENTRY_CTRL, 0);
    }
    this.cfgWrite16(this.msixCap + MSIX.CTRL, MSIX.CTRL_ENABLE);
    this.msixOn = true; // config_msix_vector / queue_msix_vector now at 20 / 22, the device config at 24
    io_out16(this.io + L.CONFIG_MSIX_VECTOR, IRQ_VEC.CONFIG);
    if ((io_in16(this.io + L.CONFIG_MSIX_VECTOR) & 0xffff) == VIRTIO_MSI.NO_VECTOR) {
      this.disableMsix(IRQ_VEC.CONFIG);
      return;
    }
    this.useMsix = true;
  }

  /** Back to INTx: unmap config, disable MSI-X (the device config returns to 20). */
  private disableMsix(entry: u32): void {
    log(LOG_LEVEL.WARN, LOG.MSIX_FALLBACK, entry, (this.cfgAddr >> 11) & 31);
    io_out16(this.io + L.CONFIG_MSIX_VECTOR, VIRTIO_MSI.NO_VECTOR);
    this.cfgWrite16(this.msixCap + MSIX.CTRL, 0);
    this.msixOn = false;
    this.useMsix = false;
  }


  /** Device config: at 24 while MSI-X is enabled, else at 20 (4.1.4.10). */
  private cfgBase(): u32 {
    return this.io + (this.msixOn ? L.CONFIG_MSIX : L.CONFIG);
  }

  reset(): bool {
    io_out8(this.io + L.STATUS, 0);
    for (let i: u32 = 0; i < ABI.RESET_POLL_MAX; i++) {
      const s = io_in8(this.io + L.STATUS) & 0xff;
      if (s == 0) return true;
      if (i + 1 == ABI.RESET_POLL_MAX) log(LOG_LEVEL.ERROR, LOG.RESET_TIMEOUT, s, this.base);
    }
    return false;
  }

  getStatus(): u32 {
    return io_in8(this.io + L.STATUS) & 0xff;
  }
  setStatus(status: u32): void {
    io_out8(this.io + L.STATUS, status & 0xff);
  }

  featureWords(): u32 {
    return 1;
  }
  getDeviceFeatures(word: u32): u32 {
    return word == 0 ? io_in32(this.io + L.HOST_FEATURES) : 0;
  }
  setDriverFeatures(word: u32, value: u32): void {
    if (word == 0) io_out32(this.io + L.GUEST_FEATURES, value);
  }

  legacyRingLayout(): bool {
    return true;
  }
  isLegacy(): bool {
    return true;
  }
  fixedQueueSize(): bool {
    return true;
  }

  selectQueue(index: u32): i32 {
    this.sel = index;
    io_out16(this.io + L.QUEUE_SEL, index);
    if (io_in32(this.io + L.QUEUE_PFN) != 0) {
      log(LOG_LEVEL.ERROR, LOG.QUEUE_ALREADY_READY, index, 0);
      return -1;
    }
    return <i32>(io_in16(this.io + L.QUEUE_NUM) & 0xffff);
  }
  activateQueue(size: u32, desc: u64, driver: u64, device: u64): void {
    // The size is the device's; the rings start at a 4096-byte page (QueueAddress = gpa >> 12).
    io_out32(this.io + L.QUEUE_PFN, <u32>(desc >> LEGACY.PFN_SHIFT));
    if (this.useMsix) {
      // queue_msix_vector (22) of the selected queue, read back (PCI-DRV-35); NO_VECTOR: INTx.
      const entry = this.sel == 0 ? IRQ_VEC.RX : IRQ_VEC.TX;
      io_out16(this.io + L.QUEUE_MSIX_VECTOR, entry);
      if ((io_in16(this.io + L.QUEUE_MSIX_VECTOR) & 0xffff) == VIRTIO_MSI.NO_VECTOR) this.disableMsix(entry);
    }
  }

  notify(index: u32): void {
    io_out16(this.io + L.QUEUE_NOTIFY, index);
  }

  interruptStatus(): u32 {
    return io_in8(this.io + L.ISR) & 0xff; // reading clears it and deasserts INTx (not read per MSI-X vector)
  }
  interruptAck(bits: u32): void {}

  configGeneration(): u32 {
    return 0; // the legacy header has none
  }
  readConfig8(off: u32): u32 {
    return io_in8(this.cfgBase() + off) & 0xff;
  }
  readConfig16(off: u32): u32 {
    return io_in16(this.cfgBase() + off) & 0xffff;
  }
  readConfig32(off: u32): u32 {
    return io_in32(this.cfgBase() + off);
  }
}
