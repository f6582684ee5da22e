// SPDX-License-Identifier: GPL-2.0

//! MAC-level operations: reset, EEPROM, PHY access, station address, link state.
//!
//! Only [`reset`] sleeps (it takes the register space step by step); the rest busy-waits, so it
//! can be called with the register space held through its RCU-protected
//! [`DevresBar`](kernel::pci::DevresBar) guard.

use crate::regs::{self, BAR0_SIZE};
use kernel::{
    io::{
        poll::{read_poll_timeout, read_poll_timeout_atomic},
        register::Array,
        Io,
    },
    net::dev::MacAddress,
    pci,
    prelude::*,
    time::{delay::fsleep, Delta},
};

/// The register space.
pub(crate) type Bar0<'a> = pci::Bar<'a, BAR0_SIZE>;

/// Words in the 82540EM's EEPROM that the checksum covers.
const EEPROM_CHECKSUM_WORDS: u16 = 0x40;
/// The sum of those words, when valid.
const EEPROM_SUM: u16 = 0xbaba;
/// Address of the (only) PHY.
const PHY_ADDR: u32 = 1;

/// PHY registers (IEEE 802.3 clause 22), from the UAPI `<linux/mii.h>`.
pub(crate) mod phy {
    use kernel::uapi;

    /// Control.
    pub(crate) const BMCR: u32 = uapi::MII_BMCR;
    /// BMCR: restart auto-negotiation.
    pub(crate) const BMCR_ANRESTART: u16 = uapi::BMCR_ANRESTART as u16;
    /// BMCR: auto-negotiation enable.
    pub(crate) const BMCR_ANENABLE: u16 = uapi::BMCR_ANENABLE as u16;
}

/// Masks every interrupt cause and clears pending ones.
pub(crate) fn disable_interrupts(bar: &Bar0<'_>) {
    bar.write_reg(regs::IMC::all());
    // Flush the write and acknowledge whatever was pending.
    let _ = bar.read(regs::ICR);
}

/// Stops the receiver and the transmitter and masks every interrupt; DMA in flight still
/// needs [`QUIESCE_DELAY`] to finish.
pub(crate) fn stop_dma(bar: &Bar0<'_>) {
    bar.write_reg(regs::RCTL::zeroed());
    bar.write_reg(regs::TCTL::zeroed().with_psp(true));
    disable_interrupts(bar);
}

/// How long the receiver and transmitter get to finish DMA in flight after [`stop_dma`] (the
/// 8254x SDM's quiet time before a reset, and `e1000_down()`'s wait).
pub(crate) const QUIESCE_DELAY: Delta = Delta::from_millis(10);

/// Resets the MAC (CTRL.RST), leaving it with no DMA and interrupts masked.
///
/// It sleeps between steps; `io` gives each step the register space, and a caller whose access
/// is an RCU read section (a [`DevresBar`](kernel::pci::DevresBar) guard) takes it for each
/// step rather than across the sleeps. When `io` has no register space (the device is gone),
/// the step is skipped.
pub(crate) fn reset(io: impl Fn(&mut dyn FnMut(&Bar0<'_>))) -> Result {
    io(&mut |bar| stop_dma(bar));
    fsleep(QUIESCE_DELAY);
    io(&mut |bar| bar.update(regs::CTRL, |c| c.with_rst(true)));
    // The reset bit clears itself within microseconds; allow 5 ms as the C driver does.
    fsleep(Delta::from_millis(5));
    read_poll_timeout(
        || {
            let mut rst = false;
            io(&mut |bar| rst = bar.read(regs::CTRL).rst());
            Ok(rst)
        },
        |&rst| !rst,
        Delta::from_micros(100),
        Delta::from_millis(100),
    )?;
    io(&mut |bar| disable_interrupts(bar));
    Ok(())
}

/// Reads EEPROM word `addr` through EERD.
pub(crate) fn eeprom_read(bar: &Bar0<'_>, addr: u16) -> Result<u16> {
    let addr = u8::try_from(addr).map_err(|_| EINVAL)?;
    bar.write_reg(regs::EERD::zeroed().with_addr(addr).with_start(true));
    let v = read_poll_timeout_atomic(
        || Ok(bar.read(regs::EERD)),
        |r| r.done(),
        Delta::from_micros(5),
        2000,
    )?;
    Ok(v.data().get() as u16)
}

/// Checks the EEPROM checksum (words 0..0x40 sum to 0xBABA).
pub(crate) fn eeprom_validate(bar: &Bar0<'_>) -> Result {
    let mut sum = 0u16;
    for w in 0..EEPROM_CHECKSUM_WORDS {
        sum = sum.wrapping_add(eeprom_read(bar, w)?);
    }
    if sum != EEPROM_SUM {
        return Err(EIO);
    }
    Ok(())
}

/// Reads the permanent MAC address from EEPROM words 0..3.
pub(crate) fn eeprom_mac(bar: &Bar0<'_>) -> Result<MacAddress> {
    let mut b = [0u8; 6];
    for (i, pair) in b.chunks_exact_mut(2).enumerate() {
        let w = eeprom_read(bar, i as u16)?;
        pair.copy_from_slice(&w.to_le_bytes());
    }
    MacAddress::new(b)
}

fn mdic_wait(bar: &Bar0<'_>) -> Result<regs::MDIC> {
    let v = read_poll_timeout_atomic(
        || Ok(bar.read(regs::MDIC)),
        |m| m.ready(),
        Delta::from_micros(10),
        1000,
    )?;
    if v.error() {
        return Err(EIO);
    }
    Ok(v)
}

/// Reads PHY register `reg`.
pub(crate) fn phy_read(bar: &Bar0<'_>, reg: u32) -> Result<u16> {
    bar.write_reg(
        regs::MDIC::zeroed()
            .with_op(regs::MdicOp::Read)
            .with_const_phyadd::<PHY_ADDR>()
            .try_with_regadd(reg)?,
    );
    Ok(mdic_wait(bar)?.data().get() as u16)
}

/// Writes PHY register `reg`.
pub(crate) fn phy_write(bar: &Bar0<'_>, reg: u32, val: u16) -> Result {
    bar.write_reg(
        regs::MDIC::zeroed()
            .with_op(regs::MdicOp::Write)
            .with_const_phyadd::<PHY_ADDR>()
            .try_with_regadd(reg)?
            .with_data(val),
    );
    mdic_wait(bar).map(|_| ())
}

/// Sets the link up (CTRL.SLU with auto speed detection) and, if the link is down, restarts
/// auto-negotiation; the result arrives as a link status change interrupt.
pub(crate) fn setup_link(bar: &Bar0<'_>) -> Result {
    bar.update(regs::CTRL, |c| {
        c.with_slu(true)
            .with_asde(true)
            .with_frcspd(false)
            .with_frcdpx(false)
            .with_phy_rst(false)
    });
    if !bar.read(regs::STATUS).lu() {
        let bmcr = phy_read(bar, phy::BMCR)?;
        phy_write(
            bar,
            phy::BMCR,
            bmcr | phy::BMCR_ANENABLE | phy::BMCR_ANRESTART,
        )?;
    }
    Ok(())
}

/// Link state as reported by STATUS: `None` when down, else (speed in Mb/s, full duplex).
pub(crate) fn link(bar: &Bar0<'_>) -> Option<(u32, bool)> {
    let s = bar.read(regs::STATUS);
    if !s.lu() {
        return None;
    }
    Some((s.speed().mbps(), s.fd()))
}

/// Programs receive address 0 (the station address) and marks it valid.
pub(crate) fn set_station_address(bar: &Bar0<'_>, mac: &MacAddress) {
    let b = mac.as_bytes();
    let low = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let high = u16::from_le_bytes([b[4], b[5]]);
    bar.write(regs::RAL::at(0), regs::RAL::from(low));
    bar.write(
        regs::RAH::at(0),
        regs::RAH::zeroed().with_value(high).with_av(true),
    );
}

/// Words in the multicast hash table.
const MTA_WORDS: usize = 128;

/// The multicast hash filter: a 4096-bit table indexed by 12 bits of the destination address.
///
/// With RCTL.MO = 0 (as the driver programs it) the index is bits 47:36 of the address, that is
/// the high nibble of byte 4 and all of byte 5 (8254x SDM 13.5.1, `e1000_hash_mc_addr()`).
pub(crate) struct MulticastTable([u32; MTA_WORDS]);

impl MulticastTable {
    /// An empty table: no multicast frame passes the filter.
    pub(crate) const fn new() -> Self {
        Self([0; MTA_WORDS])
    }

    /// The bit of the table that `addr` selects: (word, bit within the word).
    pub(crate) fn position(addr: &[u8; 6]) -> (usize, u32) {
        let hash = ((u32::from(addr[4]) >> 4) | (u32::from(addr[5]) << 4)) & 0xfff;
        ((hash >> 5) as usize, hash & 0x1f)
    }

    /// Lets frames to `addr` (and to every address with the same hash) pass.
    pub(crate) fn add(&mut self, addr: &[u8; 6]) {
        let (word, bit) = Self::position(addr);
        self.0[word] |= 1 << bit;
    }

    /// Writes the table to the device.
    pub(crate) fn write(&self, bar: &Bar0<'_>) {
        for (i, &w) in self.0.iter().enumerate() {
            if let Some(loc) = regs::MTA::try_at(i) {
                bar.write(loc, regs::MTA::from(w));
            }
        }
    }
}

#[kernel::macros::kunit_tests(e1000_rust_hw)]
mod tests {
    use super::MulticastTable;

    #[test]
    fn multicast_hash_matches_the_datasheet() {
        // 01:00:5e:00:00:01 (all-hosts): byte 5 = 0x01, high nibble of byte 4 = 0 -> 0x010.
        assert_eq!(
            MulticastTable::position(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]),
            (0, 16)
        );
        // 33:33:ff:7f:ff:fa: 0xfa << 4 | 0xf = 0xfaf -> word 0x7d, bit 0xf.
        assert_eq!(
            MulticastTable::position(&[0x33, 0x33, 0xff, 0x7f, 0xff, 0xfa]),
            (0x7d, 0xf)
        );
        // Only bits 47:36 count: the low nibble of byte 4 and bytes 0..4 do not.
        assert_eq!(
            MulticastTable::position(&[0x01, 0x00, 0x5e, 0x12, 0x3f, 0xff]),
            MulticastTable::position(&[0x33, 0x33, 0x00, 0x00, 0x30, 0xff])
        );
        // The last bit of the table.
        assert_eq!(
            MulticastTable::position(&[0, 0, 0, 0, 0xf0, 0xff]),
            (127, 31)
        );
    }

    #[test]
    fn multicast_table_sets_one_bit_per_hash() {
        let mut t = MulticastTable::new();
        t.add(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
        t.add(&[0x33, 0x33, 0x00, 0x00, 0x00, 0x01]);
        t.add(&[0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa]);
        assert_eq!(t.0[0], 1 << 16);
        assert_eq!(t.0[0x7d], 1 << 0xf);
        assert_eq!(t.0.iter().map(|w| w.count_ones()).sum::<u32>(), 2);
    }
}
