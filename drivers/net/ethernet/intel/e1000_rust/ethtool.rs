// SPDX-License-Identifier: GPL-2.0

//! ethtool operations.

use crate::{
    hw, regs,
    ring::{DESC_MULTIPLE, MAX_DESCS, MIN_DESCS},
    Nic,
};
use kernel::{
    io::Io,
    net::{
        dev::{Device, Rtnl},
        ethtool::{self, Channels, Coalesce, Duplex, LinkMode, LinkSettings, PauseParam},
        ethtool::{PauseStats, RingParam, Stats},
    },
    prelude::*,
    sync::atomic::Relaxed,
};

/// Hardware counters, accumulated from the clear-on-read statistics registers.
#[derive(Default)]
pub(crate) struct HwCounters {
    gprc: u64,
    gptc: u64,
    gorc: u64,
    gotc: u64,
    mpc: u64,
    crcerrs: u64,
    rxerrc: u64,
    rnbc: u64,
    xonrxc: u64,
    xontxc: u64,
    xoffrxc: u64,
    xofftxc: u64,
}

impl HwCounters {
    /// Reads and accumulates the statistics registers.
    fn update(&mut self, nic: &Nic) {
        let Some(bar) = nic.bar.try_access() else {
            return;
        };
        macro_rules! rd {
            ($reg:ident) => {
                u64::from(bar.read(regs::$reg).count().get())
            };
        }
        self.gprc += rd!(GPRC);
        self.gptc += rd!(GPTC);
        // The octet counters are 64-bit: low first, then high (reading high clears both).
        self.gorc += rd!(GORCL) | rd!(GORCH) << 32;
        self.gotc += rd!(GOTCL) | rd!(GOTCH) << 32;
        self.mpc += rd!(MPC);
        self.crcerrs += rd!(CRCERRS);
        self.rxerrc += rd!(RXERRC);
        self.rnbc += rd!(RNBC);
        self.xonrxc += rd!(XONRXC);
        self.xontxc += rd!(XONTXC);
        self.xoffrxc += rd!(XOFFRXC);
        self.xofftxc += rd!(XOFFTXC);
    }
}

/// ITR is in 256 ns units.
const ITR_UNIT_NS: u32 = 256;

#[vtable]
impl ethtool::Operations for Nic {
    const SUPPORTED_COALESCE: u32 = ethtool::coalesce::RX_USECS;

    fn get_link_ksettings(dev: &Device<Self>, ks: &mut LinkSettings<'_>) -> Result {
        for m in [
            LinkMode::M10_HALF,
            LinkMode::M10_FULL,
            LinkMode::M100_HALF,
            LinkMode::M100_FULL,
            LinkMode::M1000_FULL,
            LinkMode::AUTONEG,
            LinkMode::TP,
        ] {
            ks.add_supported(m);
            ks.add_advertising(m);
        }
        ks.set_port_tp();
        ks.set_phy_address(1);
        ks.set_autoneg(true);
        let link = dev.data().bar.try_access().and_then(|bar| hw::link(&bar));
        match link {
            Some((speed, fd)) if dev.carrier_ok() => {
                ks.set_speed(Some(speed));
                ks.set_duplex(if fd { Duplex::Full } else { Duplex::Half });
            }
            _ => {
                ks.set_speed(None);
                ks.set_duplex(Duplex::Unknown);
            }
        }
        Ok(())
    }

    fn get_ringparam(dev: &Device<Self>) -> RingParam {
        let nic = dev.data();
        RingParam {
            rx_max: MAX_DESCS as u32,
            tx_max: MAX_DESCS as u32,
            rx: nic.rx.lock().count as u32,
            tx: nic.tx.lock().count as u32,
        }
    }

    fn set_ringparam(dev: &Device<Self>, rtnl: &mut Rtnl<'_>, rp: &RingParam) -> Result {
        // Exactly what was asked, or an error (as `ethtool -G` users and the ring_reconfig
        // selftest expect), never a silently different size.
        let size = |n: u32| -> Result<usize> {
            let n = n as usize;
            if !(MIN_DESCS..=MAX_DESCS).contains(&n) || n % DESC_MULTIPLE != 0 {
                return Err(EINVAL);
            }
            Ok(n)
        };
        let nic = dev.data();
        let counts = (size(rp.rx)?, size(rp.tx)?);
        if !dev.is_running() {
            nic.rx.lock().resize(counts.0);
            nic.tx.lock().resize(counts.1);
            return Ok(());
        }
        nic.restart(dev, rtnl, dev.mtu(), Some(counts))
    }

    fn get_channels(_dev: &Device<Self>) -> Channels {
        Channels {
            max_combined: 1,
            combined: 1,
            ..Channels::default()
        }
    }

    fn set_channels(_dev: &Device<Self>, ch: &Channels) -> Result {
        // One queue pair is all the device has.
        if ch.combined != 1 || ch.rx != 0 || ch.tx != 0 || ch.other != 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    fn get_stats(dev: &Device<Self>, out: &mut Stats<'_>) {
        let nic = dev.data();
        let mut hw = nic.hw_stats.lock();
        hw.update(nic);
        out.add(c"rx_packets", hw.gprc);
        out.add(c"tx_packets", hw.gptc);
        out.add(c"rx_bytes", hw.gorc);
        out.add(c"tx_bytes", hw.gotc);
        out.add(c"rx_missed_errors", hw.mpc);
        out.add(c"rx_crc_errors", hw.crcerrs);
        out.add(c"rx_errors", hw.rxerrc);
        out.add(c"rx_no_buffer_count", hw.rnbc);
        drop(hw);
        let rx = nic.napi.rx_stats().read();
        out.add(c"rx_queue_0_packets", rx.packets);
        out.add(c"rx_queue_0_bytes", rx.bytes);
        out.add(c"rx_queue_0_drops", rx.drops);
        out.add(c"rx_queue_0_alloc_fail", rx.alloc_fail);
        let tx = dev.tx_stats_total();
        out.add(c"tx_queue_0_packets", tx.packets);
        out.add(c"tx_queue_0_bytes", tx.bytes);
        out.add(c"tx_queue_0_drops", tx.drops);
        out.add(
            c"tx_timeout_count",
            u64::from(nic.tx_timeouts.load(Relaxed)),
        );
    }

    fn get_regs_len(_dev: &Device<Self>) -> usize {
        regs::DUMP.len() * 4
    }

    fn get_regs(dev: &Device<Self>, buf: &mut [u32]) -> u32 {
        if let Some(bar) = dev.data().bar.try_access() {
            for (slot, &off) in buf.iter_mut().zip(regs::DUMP.iter()) {
                *slot = bar.try_read32(off).unwrap_or(0);
            }
        }
        // Format 1, device 0x100e (as C e1000: version << 24 | revision << 16 | device).
        (1 << 24) | 0x100e
    }

    fn get_coalesce(dev: &Device<Self>) -> Result<Coalesce> {
        let bar = dev.data().bar.try_access().ok_or(ENXIO)?;
        let itr = u32::from(bar.read(regs::ITR).interval());
        Ok(Coalesce {
            rx_usecs: itr * ITR_UNIT_NS / 1000,
            ..Coalesce::default()
        })
    }

    fn set_coalesce(dev: &Device<Self>, c: &Coalesce) -> Result {
        // The minimum interval between interrupts, up to 16.7 ms (a 16-bit count of 256 ns).
        let itr = c
            .rx_usecs
            .checked_mul(1000)
            .map(|ns| ns / ITR_UNIT_NS)
            .filter(|&v| v <= 0xffff)
            .ok_or(EINVAL)?;
        let bar = dev.data().bar.try_access().ok_or(ENXIO)?;
        bar.write_reg(regs::ITR::zeroed().try_with_interval(itr)?);
        Ok(())
    }

    fn get_pauseparam(dev: &Device<Self>) -> PauseParam {
        let ctrl = dev.data().bar.try_access().map(|bar| bar.read(regs::CTRL));
        PauseParam {
            autoneg: true,
            rx: ctrl.is_some_and(|c| c.rfce()),
            tx: ctrl.is_some_and(|c| c.tfce()),
        }
    }

    fn get_pause_stats(dev: &Device<Self>) -> PauseStats {
        let nic = dev.data();
        let mut hw = nic.hw_stats.lock();
        hw.update(nic);
        PauseStats {
            tx_frames: hw.xontxc + hw.xofftxc,
            rx_frames: hw.xonrxc + hw.xoffrxc,
        }
    }
}
