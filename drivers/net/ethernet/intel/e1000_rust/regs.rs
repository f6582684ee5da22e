// SPDX-License-Identifier: GPL-2.0

//! Registers of the 8254x MAC, as the 82540EM (and QEMU's model of it) implements them.
//!
//! Offsets and bit layouts from Intel's "PCI/PCI-X Family of Gigabit Ethernet Controllers
//! Software Developer's Manual" (8254x SDM), chapter 13, and `drivers/net/ethernet/intel/e1000/
//! e1000_hw.h`.

use kernel::{
    io::{register, register::Register},
    num::Bounded,
    prelude::*,
};

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
        /// Link speed.
        7:6 speed => LinkSpeed;
        /// Link up.
        1:1 lu => bool;
        /// Full duplex.
        0:0 fd => bool;
    }

    /// Extended Device Control (in the register dump only).
    pub(crate) CTRL_EXT(u32) @ 0x0018 {
        31:0 value;
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
        /// Opcode.
        27:26 op ?=> MdicOp;
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

    /// Interrupt Throttling: minimum interval between interrupts, in 256 ns units.
    pub(crate) ITR(u32) @ 0x00c4 {
        15:0 interval;
    }

    /// Receive Control.
    pub(crate) RCTL(u32) @ 0x0100 {
        /// Strip the Ethernet CRC from received frames.
        26:26 secrc => bool;
        /// Buffer size extension (sizes ×16).
        25:25 bsex => bool;
        /// VLAN filter enable.
        18:18 vfe => bool;
        /// Receive buffer size (×16 with BSEX).
        17:16 bsize => RxBufSize;
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

/// Declares the four interrupt registers, which share one layout: a bit per cause.
macro_rules! cause_registers {
    ($($(#[$attr:meta])* $name:ident @ $offset:literal;)*) => {
        register! {
            $(
                $(#[$attr])*
                pub(crate) $name(u32) @ $offset {
                    /// RX timer: a frame was received (and the RX delay timers expired).
                    7:7 rxt0 => bool;
                    /// RX overrun: the receive FIFO overflowed.
                    6:6 rxo => bool;
                    /// RX descriptor minimum threshold reached (RCTL.RDMTS).
                    4:4 rxdmt0 => bool;
                    /// Link status change.
                    2:2 lsc => bool;
                    /// TX descriptor written back (a descriptor with RS completed).
                    0:0 txdw => bool;
                }
            )*
        }

        $(
            impl $name {
                /// Every cause, including those the driver does not name.
                #[allow(dead_code)]
                pub(crate) fn all() -> Self {
                    Self::from(u32::MAX)
                }

                /// The causes the driver handles: every RX cause and the link change, and TX
                /// completion if `txdw`.
                #[allow(dead_code)]
                pub(crate) fn handled(txdw: bool) -> Self {
                    Self::zeroed()
                        .with_rxt0(true)
                        .with_rxo(true)
                        .with_rxdmt0(true)
                        .with_lsc(true)
                        .with_txdw(txdw)
                }
            }
        )*
    };
}

cause_registers! {
    /// Interrupt Cause Read: the pending causes (reading clears them).
    ICR @ 0x00c0;
    /// Interrupt Cause Set: raises the written causes (as if the device had).
    ICS @ 0x00c8;
    /// Interrupt Mask Set/Read: unmasks the written causes.
    IMS @ 0x00d0;
    /// Interrupt Mask Clear: masks the written causes.
    IMC @ 0x00d8;
}

/// Declares statistics registers: 32-bit counters that clear on read.
macro_rules! stat_registers {
    ($($(#[$attr:meta])* $name:ident @ $offset:literal;)*) => {
        register! {
            $(
                $(#[$attr])*
                pub(crate) $name(u32) @ $offset {
                    31:0 count;
                }
            )*
        }
    };
}

stat_registers! {
    /// CRC errors.
    CRCERRS @ 0x4000;
    /// Receive errors.
    RXERRC @ 0x400c;
    /// Missed packets (no RX buffer).
    MPC @ 0x4010;
    /// XON received.
    XONRXC @ 0x4048;
    /// XON transmitted.
    XONTXC @ 0x404c;
    /// XOFF received.
    XOFFRXC @ 0x4050;
    /// XOFF transmitted.
    XOFFTXC @ 0x4054;
    /// Good packets received.
    GPRC @ 0x4074;
    /// Good packets transmitted.
    GPTC @ 0x4080;
    /// Good octets received, low 32 bits (read first).
    GORCL @ 0x4088;
    /// Good octets received, high 32 bits (reading it clears both).
    GORCH @ 0x408c;
    /// Good octets transmitted, low 32 bits (read first).
    GOTCL @ 0x4090;
    /// Good octets transmitted, high 32 bits (reading it clears both).
    GOTCH @ 0x4094;
    /// Receive no buffers.
    RNBC @ 0x40a0;
}

/// Link speed (STATUS.SPEED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkSpeed {
    /// 10 Mb/s.
    Mbps10 = 0,
    /// 100 Mb/s.
    Mbps100 = 1,
    /// 1000 Mb/s (encoded as 2 or 3).
    Mbps1000 = 2,
}

impl LinkSpeed {
    /// The speed in Mb/s.
    pub(crate) fn mbps(self) -> u32 {
        match self {
            LinkSpeed::Mbps10 => 10,
            LinkSpeed::Mbps100 => 100,
            LinkSpeed::Mbps1000 => 1000,
        }
    }
}

impl From<Bounded<u32, 2>> for LinkSpeed {
    fn from(v: Bounded<u32, 2>) -> Self {
        match v.get() {
            0 => LinkSpeed::Mbps10,
            1 => LinkSpeed::Mbps100,
            _ => LinkSpeed::Mbps1000,
        }
    }
}

impl From<LinkSpeed> for Bounded<u32, 2> {
    fn from(s: LinkSpeed) -> Self {
        match s {
            LinkSpeed::Mbps10 => Bounded::<u32, 2>::new::<0>(),
            LinkSpeed::Mbps100 => Bounded::<u32, 2>::new::<1>(),
            LinkSpeed::Mbps1000 => Bounded::<u32, 2>::new::<2>(),
        }
    }
}

/// MDI Control opcode (MDIC.OP); 0 and 3 are reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MdicOp {
    /// Write the PHY register.
    Write = 1,
    /// Read the PHY register.
    Read = 2,
}

impl TryFrom<Bounded<u32, 2>> for MdicOp {
    type Error = Error;

    fn try_from(v: Bounded<u32, 2>) -> Result<Self> {
        match v.get() {
            1 => Ok(MdicOp::Write),
            2 => Ok(MdicOp::Read),
            _ => Err(EINVAL),
        }
    }
}

impl From<MdicOp> for Bounded<u32, 2> {
    fn from(op: MdicOp) -> Self {
        match op {
            MdicOp::Write => Bounded::<u32, 2>::new::<1>(),
            MdicOp::Read => Bounded::<u32, 2>::new::<2>(),
        }
    }
}

/// Receive buffer size (RCTL.BSIZE), in bytes with RCTL.BSEX clear (×16 with it set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RxBufSize {
    /// 2048 bytes (32768 with BSEX).
    B2048 = 0,
    /// 1024 bytes (16384 with BSEX).
    B1024 = 1,
    /// 512 bytes (8192 with BSEX).
    B512 = 2,
    /// 256 bytes (4096 with BSEX).
    B256 = 3,
}

impl From<Bounded<u32, 2>> for RxBufSize {
    fn from(v: Bounded<u32, 2>) -> Self {
        match v.get() {
            0 => RxBufSize::B2048,
            1 => RxBufSize::B1024,
            2 => RxBufSize::B512,
            _ => RxBufSize::B256,
        }
    }
}

impl From<RxBufSize> for Bounded<u32, 2> {
    fn from(s: RxBufSize) -> Self {
        match s {
            RxBufSize::B2048 => Bounded::<u32, 2>::new::<0>(),
            RxBufSize::B1024 => Bounded::<u32, 2>::new::<1>(),
            RxBufSize::B512 => Bounded::<u32, 2>::new::<2>(),
            RxBufSize::B256 => Bounded::<u32, 2>::new::<3>(),
        }
    }
}

/// The registers in the `ethtool -d` dump, in order.
pub(crate) const DUMP: [usize; 20] = [
    CTRL::OFFSET,
    STATUS::OFFSET,
    CTRL_EXT::OFFSET,
    ITR::OFFSET,
    IMS::OFFSET,
    RCTL::OFFSET,
    RDBAL::OFFSET,
    RDBAH::OFFSET,
    RDLEN::OFFSET,
    RDH::OFFSET,
    RDT::OFFSET,
    RDTR::OFFSET,
    TCTL::OFFSET,
    TIPG::OFFSET,
    TDBAL::OFFSET,
    TDBAH::OFFSET,
    TDLEN::OFFSET,
    TDH::OFFSET,
    TDT::OFFSET,
    TIDV::OFFSET,
];
