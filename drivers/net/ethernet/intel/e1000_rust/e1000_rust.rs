// SPDX-License-Identifier: GPL-2.0

//! Rust driver for the Intel 82540EM Gigabit Ethernet controller (8086:100e), as QEMU's
//! `-device e1000` emulates it.
//!
//! Layout by concern: [`regs`] (typed registers), [`hw`] (reset, EEPROM, PHY, station address,
//! link), [`ring`] (descriptor rings and their buffers), and here the PCI driver and the
//! network device operations. The C `e1000` driver is the reference for every behaviour.

#![forbid(unsafe_code)]

mod ethtool;
mod hw;
mod regs;
mod ring;

use hw::Bar0;
use kernel::{
    device::Core,
    io::Io,
    irq::IrqReturn,
    net::{
        dev::{self, Builder, Device, NetdevTx, OpenContext, Registration, RxMode, TxQueue},
        napi::{self, Napi, PollContext},
        skb::{SkBuff, ETH_HLEN},
        stats::{QueueStatsSnapshot, RtnlLinkStats64},
    },
    new_mutex, new_spinlock_bh, new_spinlock_irq, pci,
    prelude::*,
    sync::{
        atomic::{Atomic, AtomicFlag, Relaxed},
        Mutex, SpinLockBh, SpinLockIrq,
    },
    time::{delay::fsleep, Delta},
};
use regs::BAR0_SIZE;
use ring::{rxd, RxEvent, RxRing, TxContext, TxRing};

/// Driver name, as `ethtool -i` reports it.
const DRV_NAME: &CStr = c"e1000_rust";

/// Largest MTU the C driver allows on this device (16128-byte frames with FCS).
const MAX_MTU: u32 = 16110;
/// Ethernet FCS length.
const ETH_FCS_LEN: u32 = 4;
/// VLAN tag length.
const VLAN_HLEN: u32 = 4;
/// The 802.1Q EtherType.
const ETH_P_8021Q: u16 = 0x8100;

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

/// The network device's private data.
#[pin_data]
struct Nic {
    /// The registers; revoked when the PCI device unbinds (after the netdev is gone).
    bar: pci::DevresBar<BAR0_SIZE>,
    /// TX ring; transmit and completion both also hold the TX queue lock.
    ///
    /// IRQ-disabling, because netpoll (netconsole) transmits with interrupts disabled, where a
    /// BH-disabling lock must not be released.
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
    /// RX offload settings (`set_features`): checksum results, deliver errored frames,
    /// keep the FCS, strip VLAN tags.
    rx_csum: AtomicFlag,
    rx_all: AtomicFlag,
    rx_fcs: AtomicFlag,
    vlan_strip: AtomicFlag,
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
const HW_FEATURES: dev::Features = dev::Features::from_bits(
    dev::Features::SG.bits()
        | dev::Features::HW_CSUM.bits()
        | dev::Features::TSO.bits()
        | dev::Features::TSO6.bits()
        | dev::Features::RXCSUM.bits()
        | dev::Features::HW_VLAN_CTAG_RX.bits()
        | dev::Features::RXALL.bits()
        | dev::Features::RXFCS.bits(),
);
/// Enabled at probe (as the C driver): all but RXALL and RXFCS.
const DEFAULT_FEATURES: dev::Features = dev::Features::from_bits(
    HW_FEATURES.bits() & !(dev::Features::RXALL.bits() | dev::Features::RXFCS.bits()),
);

/// How long the receiver and transmitter get to finish DMA in flight after being disabled
/// (as `e1000_down()`).
const QUIESCE_DELAY: Delta = Delta::from_millis(10);

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
            {
                let _rctl = self.rctl_lock.lock();
                bar.write_reg(regs::RCTL::zeroed());
            }
            bar.write_reg(regs::TCTL::zeroed().with_psp(true));
            hw::disable_interrupts(&bar);
        }
        fsleep(QUIESCE_DELAY);
    }

    /// Programs the rings (resized to `counts` if given) into the quiesced device, with RX
    /// buffers for `mtu`, and enables the receiver and transmitter. Buffers still in the rings
    /// are freed; in-flight TX is forgotten (BQL reset). Interrupts stay masked and the TX
    /// queue stays as it is: the caller starts it.
    fn configure(&self, dev: &Device<Self>, mtu: u32, counts: Option<(usize, usize)>) -> Result {
        let bar = self.bar.try_access().ok_or(ENXIO)?;

        dev.with_tx_queue_locked(0, |txq| -> Result {
            let mut tx = self.tx.lock();
            if let Some((_, n)) = counts {
                tx.count = n;
            }
            tx.reset()?;
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
        bar.write_reg(regs::VET::zeroed().with_value(ETH_P_8021Q));
        bar.update(regs::CTRL, |c| c.with_vme(self.vlan_strip.load(Relaxed)));
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
                .with_secrc(!self.rx_fcs.load(Relaxed))
                .with_sbp(self.rx_all.load(Relaxed))
                .with_lpe(mtu > dev::ETH_DATA_LEN)
                // 2048-byte buffers (BSEX = 0, BSIZE = 0): larger frames span descriptors.
                .with_bsex(false)
                .try_with_bsize(0)?,
        );
        Ok(())
    }

    /// Unmasks the interrupts the driver handles (TXDW only while `tx_irq` is set).
    fn unmask(&self) {
        if let Some(bar) = self.bar.try_access() {
            let mut mask = regs::irq::ENABLED & !regs::irq::TXDW;
            if self.tx_irq.load(Relaxed) {
                mask |= regs::irq::TXDW;
            }
            bar.write_reg(regs::IMS::from(mask));
        }
    }

    /// Stops a running device, reprograms it (new MTU or ring sizes) and restarts it. If that
    /// fails, the old settings are restored; the interface stays up either way.
    fn restart(&self, dev: &Device<Self>, mtu: u32, counts: Option<(usize, usize)>) -> Result {
        let old = (self.rx.lock().count, self.tx.lock().count);
        // No poll while the rings are rebuilt, and none that unmasks interrupts after
        // `quiesce` masked them; no transmit either, which would touch the ring and unmask
        // TXDW (as the C driver's `e1000_down`/`e1000_up`).
        let paused = self.napi.pause();
        dev.tx_disable();
        self.quiesce();
        let mut res = self.configure(dev, mtu, counts);
        if res.is_err() {
            res = self.configure(dev, dev.mtu(), Some(old)).and(res);
        }
        drop(paused);
        self.unmask();
        // The quiet time swallowed any link change: have the poll look again (as `e1000_up`).
        if let Some(bar) = self.bar.try_access() {
            bar.write_reg(regs::ICS::from(regs::irq::LSC));
        }
        dev.wake_all_queues();
        res
    }

    /// The context descriptor `skb` needs: TSO for TCP GSO packets, a checksum for
    /// `CHECKSUM_PARTIAL` ones. The context fields are one byte wide (headers up to 255
    /// bytes); a checksum beyond that is computed in software, TSO beyond that fails (the
    /// core does not hand such packets to a device with 8254x limits in practice).
    fn tx_context(skb: &mut SkBuff) -> Result<Option<TxContext>> {
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
            _ => skb.checksum_help().map(|()| None),
        }
    }

    /// Reads the link state and updates the carrier, waking the queue on link up.
    fn update_link(dev: &Device<Self>, bar: &Bar0<'_>) {
        match hw::link(bar) {
            Some((speed, fd)) => {
                if !dev.carrier_ok() {
                    pr_info!(
                        "{}: link up, {} Mb/s, {} duplex\n",
                        dev.name(),
                        speed,
                        if fd { "full" } else { "half" }
                    );
                    dev.carrier_on();
                    dev.wake_all_queues();
                }
            }
            None => {
                if dev.carrier_ok() {
                    pr_info!("{}: link down\n", dev.name());
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
        w1: u64,
        rx_csum: bool,
    ) {
        let len = skb.len() as usize;
        // QEMU's model always sets IXSM (it checks nothing): CHECKSUM_NONE there.
        if rx_csum && w1 & (rxd::IXSM | rxd::TCPE | rxd::IPE) == 0 && w1 & rxd::TCPCS != 0 {
            skb.set_checksum_unnecessary();
        }
        // VP means the device stripped a tag (whatever the setting is now): report it.
        if w1 & rxd::VP != 0 {
            skb.put_vlan_tag(rxd::vlan(w1));
        }
        if skb.eth_type_trans(dev).is_ok() {
            ctx.stats().add(1, len);
            ctx.gro_receive(skb);
        } else {
            ctx.stats().add_drops(1);
        }
    }
}

#[vtable]
impl dev::Operations for Nic {
    fn open(dev: &Device<Self>, ctx: &OpenContext<'_, Self>) -> Result {
        let nic = dev.data();
        dev.carrier_off();
        nic.quiesce();
        let res = nic
            .configure(dev, dev.mtu(), None)
            .and_then(|()| nic.napi.enable(ctx))
            .and_then(|()| {
                let bar = nic.bar.try_access().ok_or(ENXIO)?;
                hw::setup_link(&bar)?;
                Self::update_link(dev, &bar);
                Ok(())
            });
        if let Err(e) = res {
            // `stop` is not called after a failed open; NAPI is disabled by the abstraction.
            nic.quiesce();
            nic.tx.lock().slots.clear();
            nic.rx.lock().clear();
            return Err(e);
        }
        dev.start_all_queues();
        nic.up.store(true, Relaxed);
        nic.unmask();
        Ok(())
    }

    fn stop(dev: &Device<Self>) {
        let nic = dev.data();
        nic.up.store(false, Relaxed);
        nic.quiesce();
        dev.stop_all_queues();
        dev.carrier_off();
        nic.napi.disable();
        nic.tx.lock().slots.clear();
        nic.rx.lock().clear();
    }

    fn start_xmit(dev: &Device<Self>, txq: &TxQueue<'_>, mut skb: SkBuff) -> NetdevTx {
        let nic = dev.data();
        let Some(bar) = nic.bar.try_access() else {
            txq.stats().add_drops(1);
            return NetdevTx::Ok;
        };
        // One lock for the room check, the context and the push. Completion also runs under
        // the TX queue lock we hold, so the room cannot shrink meanwhile.
        let mut tx = nic.tx.lock();
        // Room check first, so that a busy queue hands back an untouched skb.
        if tx.unused() < TxRing::needed(&skb, true) {
            drop(tx);
            txq.stop();
            return NetdevTx::Busy(skb);
        }
        let pushed = match Self::tx_context(&mut skb) {
            Ok(ctx) => {
                skb.tx_timestamp();
                tx.push(skb, ctx).map_err(|(_, skb)| skb)
            }
            Err(_) => Err(skb),
        };
        // A dropped packet is freed after the lock is released.
        let (kick, dropped) = match pushed {
            Ok(len) => {
                txq.stats().add(1, len as usize);
                if tx.unused() < TX_STOP_THRESHOLD {
                    txq.stop();
                }
                (txq.sent_batched(len), None)
            }
            // A dropped packet that ends a batch still writes TDT: earlier packets of the
            // batch deferred it (`xmit_more`).
            Err(skb) => {
                txq.stats().add_drops(1);
                (!txq.xmit_more(), Some(skb))
            }
        };
        if !kick {
            // More packets follow at once: the last of them writes TDT (each TDT write is a
            // PCI write, and under QEMU a pass of the device model over the ring).
            drop(tx);
            drop(dropped);
            return NetdevTx::Ok;
        }
        bar.write_reg(regs::TDT::zeroed().with_value(tx.next_to_use as u16));
        // QEMU's model transmits within the TDT write; reclaim right away (on real hardware
        // this finds nothing or little, and the TXDW interrupt does the rest).
        let mut done = [const { None }; RECLAIM_BATCH];
        let r = tx.reclaim(&mut done);
        let unused = tx.unused();
        // The completion interrupt is needed only if packets are left in the ring.
        let pending = !tx.idle();
        if pending != nic.tx_irq.load(Relaxed) {
            nic.tx_irq.store(pending, Relaxed);
            if pending {
                bar.write_reg(regs::IMS::from(regs::irq::TXDW));
            } else {
                bar.write_reg(regs::IMC::from(regs::irq::TXDW));
            }
        }
        drop(tx);
        drop(bar);
        drop(dropped);
        for skb in done.iter_mut().filter_map(Option::take) {
            skb.consume();
        }
        if r.packets != 0 {
            txq.completed(r.packets, r.bytes);
            if txq.is_stopped() && unused >= TX_WAKE_THRESHOLD {
                txq.wake();
            }
        }
        NetdevTx::Ok
    }

    fn get_stats64(dev: &Device<Self>, stats: &mut RtnlLinkStats64) {
        stats.add_tx(&dev.tx_stats_total());
        stats.add_rx(&dev.data().napi.rx_stats().read());
    }

    fn change_mtu(dev: &Device<Self>, new_mtu: u32) -> Result {
        if !dev.is_running() {
            return Ok(());
        }
        // The RX buffers must be resized: restart the device.
        dev.data().restart(dev, new_mtu, None)
    }

    fn set_mac_address(dev: &Device<Self>, addr: &dev::MacAddress) -> Result {
        let bar = dev.data().bar.try_access().ok_or(ENXIO)?;
        hw::set_station_address(&bar, addr);
        Ok(())
    }

    fn tx_timeout(dev: &Device<Self>, _txqueue: u32) {
        let nic = dev.data();
        nic.tx_timeouts.add(1, Relaxed);
        pr_warn!("{}: transmit timed out, resetting\n", dev.name());
        dev.schedule_reset();
    }

    fn reset(dev: &Device<Self>) -> Result {
        // As `e1000_reinit_locked()`: the rings are emptied (pending TX skbs freed, BQL reset)
        // and the device is programmed again; the queue is woken.
        dev.data().restart(dev, dev.mtu(), None)
    }

    fn set_rx_mode(dev: &Device<Self>, mode: &RxMode<'_>) {
        let nic = dev.data();
        let Some(bar) = nic.bar.try_access() else {
            return;
        };
        // The multicast table: a 4096-bit hash of the top 12 bits of each address (RCTL.MO 0).
        let mut mta = [0u32; hw::MTA_WORDS];
        mode.for_each_mc(|a| {
            let h = ((u32::from(a[4]) >> 4) | (u32::from(a[5]) << 4)) & 0xfff;
            mta[(h >> 5) as usize] |= 1 << (h & 0x1f);
        });
        hw::write_mta(&bar, &mta);
        let (upe, mpe) = (mode.promisc(), mode.promisc() || mode.allmulti());
        let _rctl = nic.rctl_lock.lock();
        nic.promisc.store(upe, Relaxed);
        nic.allmulti.store(mpe, Relaxed);
        // Write RCTL only when it changes: QEMU's model stops receiving for up to a second
        // after any RCTL write.
        let rctl = bar.read(regs::RCTL);
        if rctl.en() && (rctl.upe() != upe || rctl.mpe() != mpe) {
            bar.write_reg(rctl.with_upe(upe).with_mpe(mpe));
        }
    }

    fn set_features(dev: &Device<Self>, f: dev::Features) -> Result {
        let nic = dev.data();
        let _rctl = nic.rctl_lock.lock();
        nic.rx_csum
            .store(f.contains(dev::Features::RXCSUM), Relaxed);
        nic.rx_all.store(f.contains(dev::Features::RXALL), Relaxed);
        nic.rx_fcs.store(f.contains(dev::Features::RXFCS), Relaxed);
        nic.vlan_strip
            .store(f.contains(dev::Features::HW_VLAN_CTAG_RX), Relaxed);
        if !dev.is_running() {
            return Ok(());
        }
        // No reset (unlike the C driver): only the affected bits, each register only if it
        // changes (an RCTL write stops QEMU's receiver for up to a second).
        let bar = nic.bar.try_access().ok_or(ENXIO)?;
        let rctl = bar.read(regs::RCTL);
        let new = rctl
            .with_secrc(!f.contains(dev::Features::RXFCS))
            .with_sbp(f.contains(dev::Features::RXALL));
        if new.into_raw() != rctl.into_raw() {
            bar.write_reg(new);
        }
        let ctrl = bar.read(regs::CTRL);
        if ctrl.vme() != f.contains(dev::Features::HW_VLAN_CTAG_RX) {
            bar.write_reg(ctrl.with_vme(f.contains(dev::Features::HW_VLAN_CTAG_RX)));
        }
        Ok(())
    }

    fn rx_queue_stats(dev: &Device<Self>, q: u32) -> Option<QueueStatsSnapshot> {
        (q == 0).then(|| dev.data().napi.rx_stats().read())
    }

    fn interrupt(nic: &Self) -> IrqReturn {
        let Some(bar) = nic.bar.try_access() else {
            return IrqReturn::None;
        };
        let icr = bar.read(regs::ICR).into_raw();
        if icr == 0 {
            return IrqReturn::None;
        }
        if icr & regs::irq::LSC != 0 {
            nic.link_changed.store(true, Relaxed);
        }
        // Mask everything until the poll is done (re-enabled in `rearm`). If the instance is
        // already scheduled, NAPI notes the missed event and polls again; if it is disabled
        // (device down), interrupts stay masked.
        bar.write_reg(regs::IMC::from(regs::irq::ALL));
        nic.napi.schedule();
        IrqReturn::Handled
    }
}

impl napi::Poll for Nic {
    fn poll(dev: &Device<Self>, ctx: &mut PollContext<'_, Self>, budget: u32) -> u32 {
        let nic = dev.data();
        let Some(bar) = nic.bar.try_access() else {
            return 0;
        };

        if nic.link_changed.xchg(false, Relaxed) {
            Self::update_link(dev, &bar);
        }

        // TX completions, with the queue lock (serialised with `start_xmit`). Not under
        // netpoll (budget 0, possibly with IRQs off): the BH-disabling lock would warn.
        if budget != 0 {
            let _ = dev.with_tx_queue_locked(0, |txq| loop {
                let mut done = [const { None }; RECLAIM_BATCH];
                let (r, unused) = {
                    let mut tx = nic.tx.lock();
                    (tx.reclaim(&mut done), tx.unused())
                };
                // Freed with interrupts on, into the NAPI cache.
                for skb in done.iter_mut().filter_map(Option::take) {
                    skb.consume_in_napi(ctx.budget_token());
                }
                if r.packets != 0 {
                    txq.completed(r.packets, r.bytes);
                }
                if txq.is_stopped() && unused >= TX_WAKE_THRESHOLD && dev.carrier_ok() {
                    txq.wake();
                }
                if (r.packets as usize) < RECLAIM_BATCH {
                    break;
                }
            });
        }

        let mut done = 0;
        // Nothing is received under netpoll (budget 0, maybe with interrupts disabled).
        if budget != 0 {
            let rx_csum = nic.rx_csum.load(Relaxed);
            let rx_all = nic.rx_all.load(Relaxed);
            let (mut dropped, mut alloc_fail) = (0, 0);
            // Frames go to GRO with the RX lock held: nothing else takes it while NAPI runs
            // (`restart` pauses NAPI first), and no per-poll list is needed.
            let mut rx = nic.rx.lock();
            while done < budget {
                match rx.next(ctx) {
                    None => break,
                    Some(Ok(RxEvent::Frame(skb, w1))) => {
                        if w1 & rxd::FRAME_ERRORS != 0 && !rx_all {
                            dropped += 1;
                        } else {
                            Self::receive(dev, ctx, skb, w1, rx_csum);
                        }
                    }
                    Some(Ok(RxEvent::More)) => {}
                    Some(Ok(RxEvent::Dropped)) => dropped += 1,
                    Some(Err(e)) => {
                        dropped += 1;
                        if e == ENOMEM {
                            alloc_fail += 1;
                        }
                    }
                }
                done += 1;
            }
            if done != 0 {
                bar.write_reg(regs::RDT::zeroed().with_value(rx.tail() as u16));
            }
            drop(rx);
            if dropped != 0 {
                ctx.stats().add_drops(dropped);
            }
            if alloc_fail != 0 {
                ctx.stats().add_alloc_fail(alloc_fail);
            }
        }
        done
    }

    fn rearm(dev: &Device<Self>, _napi: &Napi<Self>) {
        let nic = dev.data();
        if nic.up.load(Relaxed) {
            nic.unmask();
        }
    }
}

/// The PCI driver's per-device data.
struct E1000Data<'bound> {
    _netdev: Registration<'bound, Nic>,
}

struct E1000Driver;

kernel::pci_device_table!(
    PCI_TABLE,
    <E1000Driver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::INTEL, 0x100e), ())]
);

impl pci::Driver for E1000Driver {
    type IdInfo = ();
    type Data<'bound> = E1000Data<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        pdev.set_master();

        let bar = pdev.iomap_region_sized::<BAR0_SIZE>(0, DRV_NAME)?;
        hw::reset(&bar)?;
        hw::eeprom_validate(&bar).inspect_err(|_| {
            dev_err!(pdev.as_ref(), "EEPROM checksum is not valid\n");
        })?;
        let mac = hw::eeprom_mac(&bar)?;
        hw::set_station_address(&bar, &mac);
        hw::clear_mta(&bar);

        let tx = TxRing::new(pdev.as_ref())?;
        let rx = RxRing::new(pdev.as_ref())?;
        let bar = bar.into_devres()?;

        let mut b = Builder::new(
            1,
            1,
            pin_init!(Nic {
                bar,
                tx <- new_spinlock_irq!(tx, "e1000_rust::tx"),
                rx <- new_spinlock_bh!(rx, "e1000_rust::rx"),
                napi <- Napi::new(0),
                up: AtomicFlag::new(false),
                promisc: AtomicFlag::new(false),
                allmulti: AtomicFlag::new(false),
                rx_csum: AtomicFlag::new(DEFAULT_FEATURES.contains(dev::Features::RXCSUM)),
                rx_all: AtomicFlag::new(false),
                rx_fcs: AtomicFlag::new(false),
                vlan_strip: AtomicFlag::new(
                    DEFAULT_FEATURES.contains(dev::Features::HW_VLAN_CTAG_RX),
                ),
                link_changed: AtomicFlag::new(false),
                tx_irq: AtomicFlag::new(false),
                tx_timeouts: Atomic::new(0),
                rctl_lock <- new_spinlock_irq!((), "e1000_rust::rctl"),
                hw_stats <- new_mutex!(ethtool::HwCounters::default(), "e1000_rust::hw_stats"),
            }),
        )?;
        b.set_mac_address(&mac);
        b.set_features(HW_FEATURES, DEFAULT_FEATURES);
        // RAH/RAL can be rewritten while receiving, as the C driver does.
        b.set_live_addr_change();
        b.set_ethtool_ops();
        b.set_mtu_limits(dev::ETH_MIN_MTU, MAX_MTU)?;
        b.carrier_off();

        let vectors = pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::all())?;
        let netdev = Registration::new_with_irq(pdev, b, vectors, 0, DRV_NAME)?;
        dev_info!(
            pdev.as_ref(),
            "{}: Intel 82540EM, MAC {}\n",
            netdev.name(),
            mac
        );
        Ok(E1000Data { _netdev: netdev })
    }
}

kernel::module_pci_driver! {
    type: E1000Driver,
    name: "e1000_rust",
    authors: ["rustnic"],
    description: "Intel PRO/1000 (82540EM) network driver, in Rust",
    license: "GPL v2",
}
