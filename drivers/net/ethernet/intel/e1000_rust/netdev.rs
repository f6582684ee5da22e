// SPDX-License-Identifier: GPL-2.0

//! The network device operations of [`Nic`]: open/stop, transmit, statistics,
//! reconfiguration, the interrupt handler and the NAPI poll.

use crate::{
    hw, regs,
    ring::{RxEvent, TxContext, TxRing},
    Nic, RECLAIM_BATCH, TX_STOP_THRESHOLD, TX_WAKE_THRESHOLD,
};
use kernel::{
    io::Io,
    irq::IrqReturn,
    net::{
        dev::{self, Device, Feature, Features, NetdevTx, OpenContext, Rtnl, RxMode, TxQueue},
        napi::{self, Napi, PollContext},
        skb::SkBuff,
        stats::{QueueStatsSnapshot, RtnlLinkStats64},
    },
    netdev_warn,
    prelude::*,
    sync::atomic::Relaxed,
};

#[vtable]
impl dev::Operations for Nic {
    fn open(dev: &Device<Self>, ctx: &mut OpenContext<'_, Self>) -> Result {
        let nic = dev.data();
        dev.carrier_off();
        nic.quiesce();
        let res = nic
            .configure(dev, ctx.rtnl(), dev.mtu(), None)
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

    fn stop(dev: &Device<Self>, rtnl: &mut Rtnl<'_>) {
        let nic = dev.data();
        nic.up.store(false, Relaxed);
        nic.quiesce();
        dev.stop_all_queues();
        dev.carrier_off();
        nic.napi.disable(rtnl);
        nic.tx.lock().slots.clear();
        nic.rx.lock().clear();
    }

    fn start_xmit(dev: &Device<Self>, txq: &TxQueue<'_>, mut skb: SkBuff) -> NetdevTx {
        let nic = dev.data();
        let Some(bar) = nic.bar.try_access() else {
            txq.stats().add_drops(1);
            return NetdevTx::Ok;
        };
        // Room check first, so that a busy queue hands back an untouched skb. Only this
        // function (under the TX queue lock we hold) takes room in the ring, so it cannot shrink
        // until the push below.
        if nic.tx.lock().unused() < TxRing::needed(&skb, true) {
            txq.stop();
            return NetdevTx::Busy(skb);
        }
        // The context (which may unshare the headers or checksum in software) and the
        // timestamp (which may clone the skb and wake its socket) outside the IRQ-disabling ring
        // lock, as the C driver does them without any lock of its own.
        let ctx = Self::tx_context(txq, &mut skb);
        if ctx.is_ok() {
            txq.tx_timestamp(&mut skb);
        }
        // The segments the device makes of a TSO packet, for the queue statistics.
        let segments = match &ctx {
            Ok(Some(TxContext::Tso {
                mss, payload_len, ..
            })) => Some(payload_len.div_ceil(u32::from(*mss).max(1))),
            _ => None,
        };
        let mut tx = nic.tx.lock();
        let pushed = match ctx {
            Ok(ctx) => tx.push(skb, ctx).map_err(|(_, skb)| skb),
            Err(_) => Err(skb),
        };
        // A dropped packet is freed after the lock is released.
        let (kick, dropped) = match pushed {
            Ok(len) => {
                txq.stats().add(1, len as usize);
                if let Some(n) = segments {
                    txq.stats().add_hw_gso(n as usize);
                }
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
                bar.write_reg(regs::IMS::zeroed().with_txdw(true));
            } else {
                bar.write_reg(regs::IMC::zeroed().with_txdw(true));
            }
        }
        drop(tx);
        drop(bar);
        drop(dropped);
        // `reclaim` fills `done` from the start.
        for skb in done
            .iter_mut()
            .take(r.packets as usize)
            .filter_map(Option::take)
        {
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

    fn change_mtu(dev: &Device<Self>, rtnl: &mut Rtnl<'_>, new_mtu: u32) -> Result {
        if !dev.is_running() {
            return Ok(());
        }
        // The RX buffers must be resized: restart the device.
        dev.data().restart(dev, rtnl, new_mtu, None)
    }

    fn set_mac_address(dev: &Device<Self>, addr: &dev::MacAddress) -> Result {
        let bar = dev.data().bar.try_access().ok_or(ENXIO)?;
        hw::set_station_address(&bar, addr);
        Ok(())
    }

    fn tx_timeout(dev: &Device<Self>, _txqueue: u32) {
        let nic = dev.data();
        nic.tx_timeouts.add(1, Relaxed);
        netdev_warn!(dev, "transmit timed out, resetting\n");
        dev.schedule_reset();
    }

    fn reset(dev: &Device<Self>, rtnl: &mut Rtnl<'_>) -> Result {
        // As `e1000_reinit_locked()`: the rings are emptied (pending TX skbs freed, BQL reset)
        // and the device is programmed again; the queue is woken.
        dev.data().restart(dev, rtnl, dev.mtu(), None)
    }

    fn set_rx_mode(dev: &Device<Self>, mode: &RxMode<'_>) {
        let nic = dev.data();
        let Some(bar) = nic.bar.try_access() else {
            return;
        };
        let mut mta = hw::MulticastTable::new();
        mode.for_each_mc(|a| mta.add(a));
        mta.write(&bar);
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

    fn set_features(dev: &Device<Self>, f: Features) -> Result {
        // The core stores `f` in `dev.features()` once this returns; everything else reads the
        // settings from there.
        let nic = dev.data();
        let _rctl = nic.rctl_lock.lock();
        if !dev.is_running() {
            return Ok(());
        }
        // No reset (unlike the C driver): only the affected bits, each register only if it
        // changes (an RCTL write stops QEMU's receiver for up to a second).
        let bar = nic.bar.try_access().ok_or(ENXIO)?;
        let rctl = bar.read(regs::RCTL);
        let new = rctl
            .with_secrc(!f.contains(Feature::Rxfcs))
            .with_sbp(f.contains(Feature::Rxall));
        if new.into_raw() != rctl.into_raw() {
            bar.write_reg(new);
        }
        let ctrl = bar.read(regs::CTRL);
        let strip = f.contains(Feature::HwVlanCtagRx);
        if ctrl.vme() != strip {
            bar.write_reg(ctrl.with_vme(strip));
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
        let icr = bar.read(regs::ICR);
        if icr.into_raw() == 0 {
            return IrqReturn::None;
        }
        if icr.lsc() {
            nic.link_changed.store(true, Relaxed);
        }
        // Mask everything until the poll is done (re-enabled in `rearm`). If the instance is
        // already scheduled, NAPI notes the missed event and polls again; if it is disabled
        // (device down), interrupts stay masked.
        bar.write_reg(regs::IMC::all());
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

        // A plain load first: the flag is almost always clear, and the exchange is a locked
        // instruction.
        if nic.link_changed.load(Relaxed) && nic.link_changed.xchg(false, Relaxed) {
            Self::update_link(dev, &bar);
        }

        // TX completions, with the queue lock (serialised with `start_xmit`). Not under
        // netpoll (budget 0, possibly with IRQs off): the poll context refuses the lock then.
        //
        // Skipped when the ring is empty, as it is after nearly every transmit under QEMU
        // (`start_xmit` reclaims what the tail write sent). This misses no completion: a packet
        // is queued, under the ring lock, before the tail write that lets the device complete
        // it, so a poll that follows the interrupt for that completion finds the ring not idle.
        if !nic.tx.lock().idle() {
            let _ = ctx.with_tx_queue_locked(dev, 0, |txq| loop {
                let mut done = [const { None }; RECLAIM_BATCH];
                let (r, unused) = {
                    let mut tx = nic.tx.lock();
                    (tx.reclaim(&mut done), tx.unused())
                };
                // Freed with interrupts on, into the NAPI cache.
                for skb in done
                    .iter_mut()
                    .take(r.packets as usize)
                    .filter_map(Option::take)
                {
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
            let features = dev.features();
            let rx_csum = features.contains(Feature::Rxcsum);
            let rx_all = features.contains(Feature::Rxall);
            let (mut dropped, mut alloc_fail) = (0, 0);
            // Frames go to GRO with the RX lock held, so no per-poll list is needed. Held long,
            // but the other users are rare control paths (ring sizes read by ethtool, `restart`,
            // which pauses NAPI before it rebuilds the ring, open and stop).
            let mut rx = nic.rx.lock();
            while done < budget {
                match rx.next(ctx) {
                    None => break,
                    Some(Ok(RxEvent::Frame(skb, w1))) => {
                        if w1.frame_error() && !rx_all {
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
