// Legacy virtio-pci over port I/O (4.1.4.10), the RTEMS pc386 path (virtio_pci.c): the function is
// found by scanning bus 0 through configuration mechanism #1 (ports 0xCF8 / 0xCFC) for vendor
// 0x1AF4 with a transitional device id and subsystem device 1 (net); I/O BAR0 holds the legacy
// header. INTx only: the ISR is read (which clears it) on every interrupt, and the line is EOI'd.
import {
  ABI, ABI_ERRNO, LEGACY, LOG, LOG_LEVEL, PCI_BAR, PCI_CFG, PCI_CMD, PCI_ECAM, PCI_IDS, PCI_PORT,
  VIRTIO_PCI_LEGACY as L,
} from "../gen/constants";
import { io_in16, io_in32, io_in8, io_out16, io_out32, io_out8, log } from "../hal";
import { Transport } from "./transport";

export class PciLegacyTransport extends Transport {
  /** CONFIG_ADDRESS of the function found (bus 0, device, function 0, register 0, enable bit). */
  cfgAddr: u32 = 0;
  /** I/O BAR0 port base. */
  io: u32 = 0;
  /** Interrupt Line register (the PIC input INTA# is routed to). */
  irqLine: u32 = 0;

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
    return 0;
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
  }

  notify(index: u32): void {
    io_out16(this.io + L.QUEUE_NOTIFY, index);
  }

  interruptStatus(): u32 {
    return io_in8(this.io + L.ISR) & 0xff; // reading clears it and deasserts INTx
  }
  interruptAck(bits: u32): void {}

  configGeneration(): u32 {
    return 0; // the legacy header has none
  }
  readConfig8(off: u32): u32 {
    return io_in8(this.io + L.CONFIG + off) & 0xff;
  }
  readConfig16(off: u32): u32 {
    return io_in16(this.io + L.CONFIG + off) & 0xffff;
  }
  readConfig32(off: u32): u32 {
    return io_in32(this.io + L.CONFIG + off);
  }
}
