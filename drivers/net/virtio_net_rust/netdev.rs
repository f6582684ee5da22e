// SPDX-License-Identifier: GPL-2.0

//! The network device's operations, and the NAPI poll that serves both queues.

use crate::{tx::TX_NEEDED, Net, RX, TX};
use kernel::{
    net::{
        dev::{self, Device, MacAddress, NetdevTx, OpenContext, Rtnl, TxQueue},
        napi::{self, Napi, PollContext},
        page_pool::Page,
        skb::SkBuff,
        stats::{QueueStatsSnapshot, RtnlLinkStats64},
    },
    prelude::*,
    virtio::virtqueue::Notified,
};

#[vtable]
impl dev::Operations for Net {
    fn open(dev: &Device<Self>, ctx: &mut OpenContext<'_, Self>) -> Result {
        let net = dev.data();
        let queues = dev.virtqueues().ok_or(ENXIO)?;
        let rx = queues.get::<Page>(RX).ok_or(EINVAL)?;
        {
            let mut vq = rx.lock().ok_or(EBUSY)?;
            // Buffers stay queued across a stop; without a single one nothing could ever be
            // received.
            if net.refill(&mut vq) == 0 && vq.num_free() == vq.size() {
                return Err(ENOMEM);
            }
        }
        dev.tx_reset_queue(ctx.rtnl(), 0)?;
        net.napi.enable(ctx)?;
        // Buffers used while the instance was disabled raised a notification that scheduled
        // nothing (and disabled further ones): poll once.
        net.napi.schedule();
        dev.start_all_queues();
        // Without `VIRTIO_NET_F_STATUS` the link is always up.
        dev.carrier_on();
        Ok(())
    }

    fn stop(dev: &Device<Self>, rtnl: &mut Rtnl<'_>) {
        dev.carrier_off();
        dev.stop_all_queues();
        // The receive buffers stay queued for the next open; they are dropped with the queues.
        dev.data().napi.disable(rtnl);
        // Transmits the device completed and no poll reclaimed: freed now, as `open` resets
        // BQL. One the device has not completed yet (rare: it sends what it is notified of) is
        // reported after the reset, which `TxQueue::completed` clamps.
        if let Some(mut vq) = dev
            .virtqueues()
            .and_then(|q| q.get::<SkBuff>(TX))
            .and_then(|tx| tx.lock())
        {
            while let Some((skb, _)) = vq.get_buf() {
                skb.consume();
            }
        }
    }

    fn start_xmit(dev: &Device<Self>, txq: &TxQueue<'_>, skb: SkBuff) -> NetdevTx {
        match dev.virtqueues().and_then(|q| q.get::<SkBuff>(TX)) {
            Some(tx) => Net::xmit(tx, txq, skb),
            None => {
                txq.stats().add_drops(1);
                NetdevTx::Ok
            }
        }
    }

    fn set_mac_address(dev: &Device<Self>, addr: &MacAddress) -> Result {
        dev.data().set_mac(dev, addr)
    }

    fn get_stats64(dev: &Device<Self>, stats: &mut RtnlLinkStats64) {
        stats.add_tx(&dev.tx_stats_total());
        stats.add_rx(&dev.data().napi.rx_stats().read());
    }

    fn rx_queue_stats(dev: &Device<Self>, q: u32) -> Option<QueueStatsSnapshot> {
        (q == 0).then(|| dev.data().napi.rx_stats().read())
    }

    fn virtqueue_done(this: &Self, vq: &Notified) {
        vq.disable_cb();
        this.napi.schedule();
    }
}

impl napi::Poll for Net {
    fn poll(dev: &Device<Self>, ctx: &mut PollContext<'_, Self>, budget: u32) -> u32 {
        let Some(queues) = dev.virtqueues() else {
            return 0;
        };
        if let Some(tx) = queues.get::<SkBuff>(TX) {
            let _ = ctx.with_tx_queue_locked(dev, 0, |txq| {
                let Some(mut vq) = tx.lock() else { return };
                Net::reclaim(&mut vq, txq);
                if txq.is_stopped() && vq.num_free() >= TX_NEEDED && dev.carrier_ok() {
                    txq.wake();
                }
            });
        }
        // Nothing is received under netpoll (budget 0).
        match queues.get::<Page>(RX) {
            Some(rx) if budget != 0 => dev.data().receive(dev, ctx, rx, budget),
            _ => 0,
        }
    }

    fn rearm(dev: &Device<Self>, napi: &Napi<Self>) {
        let Some(queues) = dev.virtqueues() else {
            return;
        };
        // Notifications back on; if buffers were used meanwhile, poll again (the race NAPI
        // must close before it sleeps).
        let rx = queues
            .get::<Page>(RX)
            .and_then(|q| q.lock())
            .is_some_and(|mut q| !q.enable_cb());
        let tx = queues
            .get::<SkBuff>(TX)
            .and_then(|q| q.lock())
            .is_some_and(|mut q| !q.enable_cb());
        if rx || tx {
            napi.schedule();
        }
    }
}
