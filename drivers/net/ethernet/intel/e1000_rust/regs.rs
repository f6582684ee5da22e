// SPDX-License-Identifier: GPL-2.0

//! Registers of the 8254x MAC, as the 82540EM (and QEMU's model of it) implements them.
//!
//! Offsets and bit layouts from Intel's "PCI/PCI-X Family of Gigabit Ethernet Controllers
//! Software Developer's Manual" (8254x SDM), chapter 13, and `drivers/net/ethernet/intel/e1000/
//! e1000_hw.h`.

use kernel::io::register;

/// Size of BAR 0 (the memory-mapped register space) on the 82540EM.
pub(crate) const BAR0_SIZE: usize = 0x2_0000;

register! {
    /// Device Control.
    pub(crate) CTRL(u32) @ 0x0000 {
        /// PHY reset.
        31:31 phy_rst => bool;
        /// VLAN mode enable.
        30:30 vme => bool;
        /// Device reset (self-clearing).
        26:26 rst => bool;
        /// Force duplex.
        12:12 frcdpx => bool;
        /// Force speed.
        11:11 frcspd => bool;
        /// Transmit flow control (pause) enable.
        28:28 tfce => bool;
        /// Receive flow control (pause) enable.
        27:27 rfce => bool;
        /// Set link up.
        6:6 slu => bool;
        /// Auto-speed detection enable.
        5:5 asde => bool;
        /// Full duplex.
        0:0 fd => bool;
    }

    /// Device Status (read only).
    pub(crate) STATUS(u32) @ 0x0008 {
        /// Link speed: 0 = 10, 1 = 100, 2 or 3 = 1000 Mb/s.
        7:6 speed;
        /// Link up.
        1:1 lu => bool;
        /// Full duplex.
        0:0 fd => bool;
    }

    /// EEPROM Read.
    pub(crate) EERD(u32) @ 0x0014 {
        /// Data read.
        31:16 data;
        /// Word address.
        15:8 addr;
        /// Read done.
        4:4 done => bool;
        /// Start read.
        0:0 start => bool;
    }

    /// MDI Control: access to the PHY registers.
    pub(crate) MDIC(u32) @ 0x0020 {
        /// Error.
        30:30 error => bool;
        /// Ready: the access completed.
        28:28 ready => bool;
        /// Opcode: 1 = write, 2 = read.
        27:26 op;
        /// PHY address.
        25:21 phyadd;
        /// PHY register address.
        20:16 regadd;
        /// Data.
        15:0 data;
    }

    /// VLAN Ether Type.
    pub(crate) VET(u32) @ 0x0038 {
        15:0 value;
    }

    /// Interrupt Cause Read (reading clears the causes).
    pub(crate) ICR(u32) @ 0x00c0 {
        31:0 causes;
    }

    /// Interrupt Cause Set: raises the written causes (as if the device had).
    pub(crate) ICS(u32) @ 0x00c8 {
        31:0 causes;
    }

    /// Interrupt Throttling: minimum interval between interrupts, in 256 ns units.
    pub(crate) ITR(u32) @ 0x00c4 {
        15:0 interval;
    }

    /// Interrupt Mask Set/Read.
    pub(crate) IMS(u32) @ 0x00d0 {
        31:0 mask;
    }

    /// Interrupt Mask Clear.
    pub(crate) IMC(u32) @ 0x00d8 {
        31:0 mask;
    }

    /// Receive Control.
    pub(crate) RCTL(u32) @ 0x0100 {
        /// Strip the Ethernet CRC from received frames.
        26:26 secrc => bool;
        /// Buffer size extension (sizes ×16).
        25:25 bsex => bool;
        /// VLAN filter enable.
        18:18 vfe => bool;
        /// Receive buffer size: 0 = 2048, 1 = 1024, 2 = 512, 3 = 256 bytes (×16 with BSEX).
        17:16 bsize;
        /// Accept broadcast.
        15:15 bam => bool;
        /// Multicast offset (which destination bits index the MTA).
        13:12 mo;
        /// RX descriptor minimum threshold size (0 = 1/2 of the ring).
        9:8 rdmts;
        /// Long packet (jumbo frame) enable.
        5:5 lpe => bool;
        /// Multicast promiscuous.
        4:4 mpe => bool;
        /// Unicast promiscuous.
        3:3 upe => bool;
        /// Store bad packets.
        2:2 sbp => bool;
        /// Receiver enable.
        1:1 en => bool;
    }

    /// Transmit Control.
    pub(crate) TCTL(u32) @ 0x0400 {
        /// Re-transmit on late collision.
        24:24 rtlc => bool;
        /// Collision distance.
        21:12 cold;
        /// Collision threshold.
        11:4 ct;
        /// Pad short packets.
        3:3 psp => bool;
        /// Transmitter enable.
        1:1 en => bool;
    }

    /// Transmit Inter-Packet Gap.
    pub(crate) TIPG(u32) @ 0x0410 {
        29:20 ipgr2;
        19:10 ipgr1;
        9:0 ipgt;
    }

    /// RX descriptor ring base, low 32 bits.
    pub(crate) RDBAL(u32) @ 0x2800 { 31:0 value; }
    /// RX descriptor ring base, high 32 bits.
    pub(crate) RDBAH(u32) @ 0x2804 { 31:0 value; }
    /// RX descriptor ring length in bytes (multiple of 128).
    pub(crate) RDLEN(u32) @ 0x2808 { 31:0 value; }
    /// RX descriptor head.
    pub(crate) RDH(u32) @ 0x2810 { 15:0 value; }
    /// RX descriptor tail.
    pub(crate) RDT(u32) @ 0x2818 { 15:0 value; }
    /// RX interrupt delay timer.
    pub(crate) RDTR(u32) @ 0x2820 { 15:0 value; }
    /// RX interrupt absolute delay timer.
    pub(crate) RADV(u32) @ 0x282c { 15:0 value; }

    /// TX descriptor ring base, low 32 bits.
    pub(crate) TDBAL(u32) @ 0x3800 { 31:0 value; }
    /// TX descriptor ring base, high 32 bits.
    pub(crate) TDBAH(u32) @ 0x3804 { 31:0 value; }
    /// TX descriptor ring length in bytes (multiple of 128).
    pub(crate) TDLEN(u32) @ 0x3808 { 31:0 value; }
    /// TX descriptor head.
    pub(crate) TDH(u32) @ 0x3810 { 15:0 value; }
    /// TX descriptor tail.
    pub(crate) TDT(u32) @ 0x3818 { 15:0 value; }
    /// TX interrupt delay value.
    pub(crate) TIDV(u32) @ 0x3820 { 15:0 value; }
    /// TX absolute interrupt delay value.
    pub(crate) TADV(u32) @ 0x382c { 15:0 value; }

    /// Multicast Table Array: a 4096-bit hash filter.
    pub(crate) MTA(u32)[128] @ 0x5200 { 31:0 value; }

    /// Receive Address Low (entry 0: the station address).
    pub(crate) RAL(u32)[16, stride = 8] @ 0x5400 { 31:0 value; }
    /// Receive Address High.
    pub(crate) RAH(u32)[16, stride = 8] @ 0x5404 {
        /// Address valid.
        31:31 av => bool;
        /// Bytes 4 and 5 of the address.
        15:0 value;
    }
}

/// Interrupt causes (ICR, IMS, IMC bits).
pub(crate) mod irq {
    /// TX descriptor written back.
    pub(crate) const TXDW: u32 = 1 << 0;
    /// Link status change.
    pub(crate) const LSC: u32 = 1 << 2;
    /// RX descriptor minimum threshold reached.
    pub(crate) const RXDMT0: u32 = 1 << 4;
    /// RX overrun.
    pub(crate) const RXO: u32 = 1 << 6;
    /// RX timer (a frame was received).
    pub(crate) const RXT0: u32 = 1 << 7;
    /// What the driver enables.
    pub(crate) const ENABLED: u32 = TXDW | LSC | RXDMT0 | RXO | RXT0;
    /// Every cause.
    pub(crate) const ALL: u32 = !0;
}

/// Statistics registers (clear on read), offsets of the 32-bit counters.
pub(crate) mod stat {
    /// CRC errors.
    pub(crate) const CRCERRS: usize = 0x4000;
    /// Missed packets (no RX buffer).
    pub(crate) const MPC: usize = 0x4010;
    /// Good packets received.
    pub(crate) const GPRC: usize = 0x4074;
    /// Good packets transmitted.
    pub(crate) const GPTC: usize = 0x4080;
    /// Good octets received, low/high.
    pub(crate) const GORCL: usize = 0x4088;
    /// Good octets transmitted, low/high.
    pub(crate) const GOTCL: usize = 0x4090;
    /// XON received.
    pub(crate) const XONRXC: usize = 0x4048;
    /// XON transmitted.
    pub(crate) const XONTXC: usize = 0x404c;
    /// XOFF received.
    pub(crate) const XOFFRXC: usize = 0x4050;
    /// XOFF transmitted.
    pub(crate) const XOFFTXC: usize = 0x4054;
    /// Receive errors.
    pub(crate) const RXERRC: usize = 0x400c;
    /// Receive no buffers.
    pub(crate) const RNBC: usize = 0x40a0;
}
