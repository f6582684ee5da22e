// SPDX-License-Identifier: GPL-2.0

//! MAC-level operations: reset, EEPROM, PHY access, station address, link state.
//!
//! Only [`reset`] sleeps (it runs at probe); the rest busy-waits, so it can be called with the
//! register space held through its RCU-protected [`DevresBar`](kernel::pci::DevresBar) guard.

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
    bar.write_reg(regs::IMC::from(regs::irq::ALL));
    // Flush the write and acknowledge whatever was pending.
    let _ = bar.read(regs::ICR);
}

/// Resets the MAC (CTRL.RST), leaving interrupts masked.
pub(crate) fn reset(bar: &Bar0<'_>) -> Result {
    disable_interrupts(bar);
    bar.write_reg(regs::RCTL::zeroed());
    bar.write_reg(regs::TCTL::zeroed().with_psp(true));
    let _ = bar.read(regs::STATUS);
    // The 8254x SDM asks for a 10 ms quiet time before a reset, so that pending PCI
    // transactions complete.
    fsleep(Delta::from_millis(10));
    bar.update(regs::CTRL, |c| c.with_rst(true));
    // The reset bit clears itself within microseconds; allow 5 ms as the C driver does.
    fsleep(Delta::from_millis(5));
    read_poll_timeout(
        || Ok(bar.read(regs::CTRL)),
        |c| !c.rst(),
        Delta::from_micros(100),
        Delta::from_millis(100),
    )?;
    disable_interrupts(bar);
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
            .with_const_op::<2>()
            .with_const_phyadd::<PHY_ADDR>()
            .try_with_regadd(reg)?,
    );
    Ok(mdic_wait(bar)?.data().get() as u16)
}

/// Writes PHY register `reg`.
pub(crate) fn phy_write(bar: &Bar0<'_>, reg: u32, val: u16) -> Result {
    bar.write_reg(
        regs::MDIC::zeroed()
            .with_const_op::<1>()
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
    let speed = match s.speed().get() {
        0 => 10,
        1 => 100,
        _ => 1000,
    };
    Some((speed, s.fd()))
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
pub(crate) const MTA_WORDS: usize = 128;

/// Writes the multicast hash table.
pub(crate) fn write_mta(bar: &Bar0<'_>, mta: &[u32; MTA_WORDS]) {
    for (i, &w) in mta.iter().enumerate() {
        if let Some(loc) = regs::MTA::try_at(i) {
            bar.write(loc, regs::MTA::from(w));
        }
    }
}

/// Clears the multicast hash table.
pub(crate) fn clear_mta(bar: &Bar0<'_>) {
    write_mta(bar, &[0; MTA_WORDS]);
}
