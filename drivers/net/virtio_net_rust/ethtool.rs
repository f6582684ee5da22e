// SPDX-License-Identifier: GPL-2.0

//! `ethtool` operations.

use crate::{Net, DRV_NAME, RX, TX};
use kernel::{
    net::{
        dev::Device,
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
