// SPDX-License-Identifier: GPL-2.0

//! Rust driver for the Intel 82540EM Gigabit Ethernet controller (8086:100e), as QEMU's
//! `-device e1000` emulates it.
//!
//! Layout by concern: [`regs`] (typed registers), [`hw`] (reset, EEPROM, PHY, station address,
//! link), [`ring`] (descriptor rings and their buffers), [`netdev`] (the network device
//! operations and the NAPI poll), [`ethtool`], [`probe`] (the PCI driver), and here the
//! device's private data and the operations shared by them. The C `e1000` driver is the
//! reference for every behaviour.

#![forbid(unsafe_code)]

mod ethtool;
mod hw;
mod netdev;
mod probe;
mod regs;
mod ring;

use hw::Bar0;
use kernel::{
    io::Io,
    net::{
        dev::{self, Device, Feature, Features, Rtnl, TxQueue},
        napi::{Napi, PollContext},
        skb::{SkBuff, ETH_HLEN, VLAN_HLEN},
    },
    netdev_info, pci,
    prelude::*,
    sync::{
        atomic::{Atomic, AtomicFlag, Relaxed},
        Mutex, SpinLockBh, SpinLockIrq,
    },
    time::delay::fsleep,
    uapi,
};
use regs::BAR0_SIZE;
use ring::{RxRing, RxStatus, TxContext, TxRing};

/// Driver name, as `ethtool -i` reports it.
const DRV_NAME: &CStr = c"e1000_rust";

/// Largest MTU the C driver allows on this device (16128-byte frames with FCS).
const MAX_MTU: u32 = 16110;
/// Ethernet FCS length.
const ETH_FCS_LEN: u32 = uapi::ETH_FCS_LEN;
/// The 802.1Q EtherType.
const ETH_P_8021Q: u16 = uapi::ETH_P_8021Q as u16;

/// Stop the queue when fewer descriptors than this are free: the largest packet (64 KiB of GSO)
/// needs one descriptor per piece (the linear part and each fragment), one more for every
/// [`ring::TX_MAX_DATA`] bytes a piece crosses, and a context descriptor.
const TX_STOP_THRESHOLD: usize =
    kernel::net::skb::MAX_SKB_FRAGS + 1 + (65536 / ring::TX_MAX_DATA as usize) + 1;
/// Wake it again when this many are free (less than the smallest ring, whose empty state has
/// `MIN_DESCS - 1` free, so that a stopped queue always wakes).
const TX_WAKE_THRESHOLD: usize = if 2 * TX_STOP_THRESHOLD < ring::MIN_DESCS - 1 {
    2 * TX_STOP_THRESHOLD
} else {
    ring::MIN_DESCS - 1
};
const _: () = assert!(TX_STOP_THRESHOLD < TX_WAKE_THRESHOLD);
/// Completed packets freed per batch, outside the ring lock.
const RECLAIM_BATCH: usize = 32;

/// The registers; revoked when the PCI device unbinds (after the netdev is gone).
///
/// Dropped first of the private data, after the network device is unregistered (at remove,
/// or if probe fails after the device was built), before the rings: the MAC is left reset,
/// with no DMA and no interrupts, as `e1000_remove()` leaves it (its `ndo_stop` resets the
/// MAC).
struct Regs(pci::DevresBar<BAR0_SIZE>);

impl core::ops::Deref for Regs {
    type Target = pci::DevresBar<BAR0_SIZE>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for Regs {
    fn drop(&mut self) {
        let _ = hw::reset(|step| {
            if let Some(bar) = self.0.try_access() {
                step(&bar);
            }
        });
    }
}

/// The network device's private data.
#[pin_data]
struct Nic {
    /// The registers (first: dropped, resetting the MAC, before the rings).
    bar: Regs,
    /// TX ring; transmit and completion both also hold the TX queue lock.
    ///
    /// IRQ-disabling, because netpoll (netconsole) may transmit from hard-IRQ context, which
    /// would deadlock against a holder it interrupted on the same CPU.
    #[pin]
    tx: SpinLockIrq<TxRing>,
    /// RX ring; used by the NAPI poll (softirq, never with a zero budget), and by
    /// open/stop/reconfiguration (process context). BH-disabling, as returning pages to the
    /// page pool requires interrupts enabled.
    #[pin]
    rx: SpinLockBh<RxRing>,
    /// The one RX/TX NAPI instance.
    #[pin]
    napi: Napi<Nic>,
    /// The device is open: interrupts may be unmasked.
    up: AtomicFlag,
    /// Unicast promiscuous mode, as last programmed by `set_rx_mode`.
    promisc: AtomicFlag,
    /// Multicast promiscuous mode, as last programmed by `set_rx_mode`.
    allmulti: AtomicFlag,
    /// Set by the interrupt handler on a link status change, handled in poll.
    link_changed: AtomicFlag,
    /// The TX completion interrupt (TXDW) is wanted: packets were left in the ring after the
    /// last transmit. Changed by `start_xmit` (under the TX ring lock), which writes IMS or IMC
    /// on each change, and cleared by `configure` (rings empty, interrupts masked, transmit
    /// disabled); `rearm` and `unmask` include TXDW when it is set.
    ///
    /// Under QEMU the tail write transmits at once and `start_xmit` reclaims everything, so
    /// TX raises no interrupt at all (and opens no mitigation window that would delay the next
    /// RX interrupt). On real hardware packets are still in flight after the tail write, the
    /// flag stays set and completion works as in the C driver. A stale value costs at most an
    /// extra interrupt: only `start_xmit` with an empty ring clears TXDW (IMC), and the
    /// interrupt handler's IMC is always followed by a poll that reclaims and a `rearm`.
    tx_irq: AtomicFlag,
    /// Transmit timeouts seen (each schedules a reset).
    tx_timeouts: Atomic<u32>,
    /// Serialises the read-modify-write of RCTL (and of the filter flags above that it
    /// reflects) between `set_rx_mode` (address lock, BH off, without RTNL) and
    /// `set_features`/`configure` (RTNL).
    #[pin]
    rctl_lock: SpinLockIrq<()>,
    /// Accumulated hardware statistics (process context only).
    #[pin]
    hw_stats: Mutex<ethtool::HwCounters>,
}

/// Offloads the device has: TX scatter-gather, checksum and TSO; RX checksum results, VLAN
/// tag stripping, delivery of errored frames and of the FCS.
///
/// TSO is for IPv4 only, as in the C driver. QEMU's model of the 8254x writes an IPv6
/// segment's payload length with the 40-byte header included, so the receiver drops every
/// hardware-segmented IPv6 packet; IPv6 TCP is segmented by the stack instead.
fn hw_features() -> Features {
    Feature::Sg
        | Feature::HwCsum
        | Feature::Tso
        | Feature::Rxcsum
        | Feature::HwVlanCtagRx
        | Feature::Rxall
        | Feature::Rxfcs
}

/// Enabled at probe (as the C driver): all but RXALL and RXFCS.
fn default_features() -> Features {
    hw_features() & !(Feature::Rxall | Feature::Rxfcs)
}

impl Nic {
    /// Maximum frame size on the wire for `mtu`, without FCS.
    fn frame_len(mtu: u32) -> u32 {
        mtu + ETH_HLEN + VLAN_HLEN
    }

    /// Stops the receiver and transmitter, masks interrupts and waits for DMA in flight. Must
    /// be called without the register guard held (it sleeps).
    fn quiesce(&self) {
        if let Some(bar) = self.bar.try_access() {
            // Under the RCTL lock: `set_rx_mode` (without RTNL) must not write back the
            // enabled receiver it read before this, while the RX pages go back to the pool.
            let _rctl = self.rctl_lock.lock();
            hw::stop_dma(&bar);
        }
        fsleep(hw::QUIESCE_DELAY);
    }

    /// Programs the rings (resized to `counts` if given) into the quiesced device, with RX
    /// buffers for `mtu`, and enables the receiver and transmitter. Buffers still in the rings
    /// are freed; in-flight TX is forgotten (BQL reset). Interrupts stay masked and the TX
    /// queue stays as it is: the caller starts it.
    fn configure(
        &self,
        dev: &Device<Self>,
        rtnl: &mut Rtnl<'_>,
        mtu: u32,
        counts: Option<(usize, usize)>,
    ) -> Result {
        let bar = self.bar.try_access().ok_or(ENXIO)?;

        dev.with_tx_queue_locked(rtnl, 0, |txq| -> Result {
            let mut tx = self.tx.lock();
            if let Some((_, n)) = counts {
                tx.count = n;
            }
            tx.reset();
            txq.reset();
            self.tx_irq.store(false, Relaxed);
            let base = tx.dma_address();
            bar.write_reg(regs::TDBAL::from(base as u32));
            bar.write_reg(regs::TDBAH::from((base >> 32) as u32));
            bar.write_reg(regs::TDLEN::from((tx.count * 16) as u32));
            bar.write_reg(regs::TDH::zeroed());
            bar.write_reg(regs::TDT::zeroed());
            Ok(())
        })??;
        bar.write_reg(
            regs::TIPG::zeroed()
                .with_const_ipgt::<8>()
                .with_const_ipgr1::<8>()
                .with_const_ipgr2::<6>(),
        );
        bar.write_reg(
            regs::TCTL::zeroed()
                .with_en(true)
                .with_psp(true)
                .with_const_ct::<0x0f>()
                .with_const_cold::<0x40>()
                .with_rtlc(true),
        );

        {
            let mut rx = self.rx.lock();
            if let Some((n, _)) = counts {
                rx.count = n;
            }
            rx.max_frame = Self::frame_len(mtu) + ETH_FCS_LEN;
            rx.reset()?;
            let base = rx.dma_address();
            bar.write_reg(regs::RDBAL::from(base as u32));
            bar.write_reg(regs::RDBAH::from((base >> 32) as u32));
            bar.write_reg(regs::RDLEN::from((rx.count * 16) as u32));
            bar.write_reg(regs::RDH::zeroed());
            bar.write_reg(regs::RDT::zeroed().try_with_value(rx.tail() as u32)?);
        }
        let features = dev.features();
        bar.write_reg(regs::VET::zeroed().with_value(ETH_P_8021Q));
        bar.update(regs::CTRL, |c| {
            c.with_vme(features.contains(Feature::HwVlanCtagRx))
        });
        bar.write_reg(regs::RDTR::zeroed());
        bar.write_reg(regs::RADV::zeroed());
        let _rctl = self.rctl_lock.lock();
        bar.write_reg(
            regs::RCTL::zeroed()
                .with_en(true)
                .with_bam(true)
                // Keep the promiscuous modes `set_rx_mode` chose.
                .with_upe(self.promisc.load(Relaxed))
                .with_mpe(self.allmulti.load(Relaxed))
                .with_secrc(!features.contains(Feature::Rxfcs))
                .with_sbp(features.contains(Feature::Rxall))
                .with_lpe(mtu > dev::ETH_DATA_LEN)
                // 2048-byte buffers: larger frames span descriptors.
                .with_bsex(false)
                .with_bsize(regs::RxBufSize::B2048),
        );
        Ok(())
    }

    /// Unmasks the interrupts the driver handles (TXDW only while `tx_irq` is set).
    fn unmask(&self) {
        if let Some(bar) = self.bar.try_access() {
            bar.write_reg(regs::IMS::handled(self.tx_irq.load(Relaxed)));
        }
    }

    /// Stops a running device, reprograms it (new MTU or ring sizes) and restarts it. If that
    /// fails, the old settings are restored; the interface stays up either way.
    fn restart(
        &self,
        dev: &Device<Self>,
        rtnl: &mut Rtnl<'_>,
        mtu: u32,
        counts: Option<(usize, usize)>,
    ) -> Result {
        let old = (self.rx.lock().count, self.tx.lock().count);
        // No poll while the rings are rebuilt, and none that unmasks interrupts after
        // `quiesce` masked them; no transmit either, which would touch the ring and unmask
        // TXDW (as the C driver's `e1000_down`/`e1000_up`).
        let paused = self.napi.pause(rtnl);
        dev.tx_disable();
        self.quiesce();
        let mut res = self.configure(dev, rtnl, mtu, counts);
        if res.is_err() {
            res = self.configure(dev, rtnl, dev.mtu(), Some(old)).and(res);
        }
        drop(paused);
        self.unmask();
        // The quiet time swallowed any link change: have the poll look again (as `e1000_up`).
        if let Some(bar) = self.bar.try_access() {
            bar.write_reg(regs::ICS::zeroed().with_lsc(true));
        }
        dev.wake_all_queues();
        res
    }

    /// The context descriptor `skb` needs: TSO for TCP GSO packets, a checksum for
    /// `CHECKSUM_PARTIAL` ones. The context fields are one byte wide (headers up to 255
    /// bytes); a checksum beyond that is computed in software, TSO beyond that fails (the
    /// core does not hand such packets to a device with 8254x limits in practice).
    fn tx_context(txq: &TxQueue<'_>, skb: &mut SkBuff) -> Result<Option<TxContext>> {
        let b = |v: u32| u8::try_from(v).map_err(|_| EINVAL);
        if let Some(t) = skb.tso_prepare()? {
            return Ok(Some(TxContext::Tso {
                ipv4: t.ipv4,
                ipcss: b(t.ip_start)?,
                ipcso: b(t.ip_csum)?,
                ipcse: u16::try_from(t.ip_end).map_err(|_| EINVAL)?,
                tucss: b(t.tcp_start)?,
                tucso: b(t.tcp_csum)?,
                hdr_len: b(t.hdr_len)?,
                mss: u16::try_from(t.mss).map_err(|_| EINVAL)?,
                payload_len: t.payload_len,
            }));
        }
        let Some((start, off)) = skb.checksum_partial() else {
            return Ok(None);
        };
        match (b(start), b(start + off)) {
            (Ok(start), Ok(offset)) => Ok(Some(TxContext::Csum { start, offset })),
            _ => txq.checksum_help(skb).map(|()| None),
        }
    }

    /// Reads the link state and updates the carrier, waking the queue on link up.
    fn update_link(dev: &Device<Self>, bar: &Bar0<'_>) {
        match hw::link(bar) {
            Some((speed, fd)) => {
                if !dev.carrier_ok() {
                    netdev_info!(
                        dev,
                        "link up, {} Mb/s, {} duplex\n",
                        speed,
                        if fd { "full" } else { "half" }
                    );
                    dev.carrier_on();
                    dev.wake_all_queues();
                }
            }
            None => {
                if dev.carrier_ok() {
                    netdev_info!(dev, "link down\n");
                    dev.carrier_off();
                }
            }
        }
    }

    /// Hands a received frame to GRO with what its descriptor's status word `w1` says.
    fn receive(
        dev: &Device<Self>,
        ctx: &mut PollContext<'_, Self>,
        mut skb: SkBuff,
        w1: RxStatus,
        rx_csum: bool,
    ) {
        let len = skb.len() as usize;
        // QEMU's model always sets IXSM (it checks nothing): CHECKSUM_NONE there.
        if rx_csum && w1.checksum_good() {
            skb.set_checksum_unnecessary();
        }
        // VP means the device stripped a tag (whatever the setting is now): report it.
        if let Some(tag) = w1.vlan_tag() {
            skb.put_vlan_tag(tag);
        }
        if skb.eth_type_trans(dev).is_ok() {
            ctx.stats().add(1, len);
            ctx.gro_receive(skb);
        } else {
            ctx.stats().add_drops(1);
        }
    }
}

kernel::module_pci_driver! {
    type: probe::E1000Driver,
    name: "e1000_rust",
    authors: ["rustnic"],
    description: "Intel PRO/1000 (82540EM) network driver, in Rust",
    license: "GPL v2",
}
