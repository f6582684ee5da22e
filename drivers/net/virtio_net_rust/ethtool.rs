// SPDX-License-Identifier: GPL-2.0

//! `ethtool` operations.

use crate::{tx::TX_NEEDED, Net, DRV_NAME, RX, TX};
use kernel::{
    net::{
        dev::{Device, Rtnl},
        ethtool::{self, Channels, RingParam},
        page_pool::Page,
        skb::SkBuff,
    },
    prelude::*,
};

#[vtable]
impl ethtool::Operations for Net {
    fn get_drvinfo(_dev: &Device<Self>, info: &mut ethtool::DrvInfo<'_>) {
        info.set_driver(DRV_NAME);
    }

    fn get_ringparam(dev: &Device<Self>) -> RingParam {
        let mut rp = RingParam::default();
        let Some(queues) = dev.virtqueues() else {
            return rp;
        };
        if let Some(q) = queues.get::<Page>(RX).and_then(|q| q.lock()) {
            (rp.rx_max, rp.rx) = (q.max_size(), q.size());
        }
        if let Some(q) = queues.get::<SkBuff>(TX).and_then(|q| q.lock()) {
            (rp.tx_max, rp.tx) = (q.max_size(), q.size());
        }
        rp
    }

    fn set_ringparam(dev: &Device<Self>, rtnl: &mut Rtnl<'_>, rp: &RingParam) -> Result {
        let now = Self::get_ringparam(dev);
        if (rp.rx, rp.tx) == (now.rx, now.tx) {
            return Ok(());
        }
        // The largest packet must fit (as C `virtio_net` checks).
        if rp.tx != now.tx && rp.tx <= TX_NEEDED {
            return Err(EINVAL);
        }
        let queues = dev.virtqueues().ok_or(ENXIO)?;
        let rx = queues.get::<Page>(RX).ok_or(EINVAL)?;
        let tx = queues.get::<SkBuff>(TX).ok_or(EINVAL)?;
        let net = dev.data();
        let running = dev.is_running();
        // No poll and no transmit while the queues are reset (as C `virtnet_rx_pause` and
        // `virtnet_tx_pause`).
        let paused = net.napi.pause(rtnl);
        if running {
            dev.tx_disable();
        }
        let mut res = Ok(());
        if rp.tx != now.tx {
            res = tx.resize(rp.tx);
        }
        if rp.rx != now.rx {
            res = res.and(rx.resize(rp.rx));
        }
        drop(paused);
        if running {
            // The dropped transmits are never completed: BQL starts over. The receive queue,
            // emptied, is filled again.
            dev.tx_reset_queue(rtnl, 0)?;
            if let Some(mut vq) = rx.lock() {
                net.refill(&mut vq);
            }
            dev.wake_all_queues();
            // Notifications the callbacks disabled while the poll was paused: poll once.
            net.napi.schedule();
        }
        res
    }

    fn get_channels(_dev: &Device<Self>) -> Channels {
        Channels {
            max_combined: 1,
            combined: 1,
            ..Default::default()
        }
    }

    fn set_channels(_dev: &Device<Self>, ch: &Channels) -> Result {
        // One queue pair is all the driver drives.
        if ch.combined != 1 || ch.rx != 0 || ch.tx != 0 || ch.other != 0 {
            return Err(EINVAL);
        }
        Ok(())
    }
}
