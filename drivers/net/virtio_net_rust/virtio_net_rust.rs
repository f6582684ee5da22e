// SPDX-License-Identifier: GPL-2.0

//! Rust driver for virtio network devices (`VIRTIO_ID_NET`), as QEMU's `virtio-net-pci`
//! offers them.
//!
//! This stage: one queue pair, no offloads and no control queue: the device is offered only
//! `VIRTIO_NET_F_MAC` (and the transport's own features; a modern device, `VIRTIO_F_VERSION_1`,
//! is required). Receive buffers are page pool pages, one frame each; transmitted skbs carry
//! the virtio header in their headroom. One NAPI instance serves both queues. The C
//! `virtio_net` driver is the reference for every behaviour.

#![forbid(unsafe_code)]

use kernel::{
    bindings,
    device::Core,
    net::{
        dev::{
            self, Builder, Device, MacAddress, NetdevTx, OpenContext, Registration, Rtnl, TxQueue,
        },
        ethtool,
        napi::{self, Napi, PollContext},
        page_pool::{Page, PagePool, Params},
        skb::{SkBuff, ETH_HLEN, MAX_SKB_FRAGS, RX_HEADROOM, VLAN_HLEN},
        stats::{QueueStatsSnapshot, RtnlLinkStats64},
    },
    new_spinlock_bh,
    prelude::*,
    sync::SpinLockBh,
    virtio::{
        self,
        virtqueue::{Guard, Notified, QueueInfo},
    },
};

/// Driver name, as `ethtool -i` reports it.
const DRV_NAME: &CStr = c"virtio_net_rust";

/// Index of the receive queue.
const RX: usize = 0;
/// Index of the transmit queue.
const TX: usize = 1;

/// The header before every frame (`struct virtio_net_hdr_v1`, modern devices).
const HDR_LEN: usize = core::mem::size_of::<bindings::virtio_net_hdr_v1>();
/// Largest frame without offloads: a 1500-byte MTU, the Ethernet header and a VLAN tag.
const MAX_FRAME: usize = 1500 + ETH_HLEN as usize + VLAN_HLEN as usize;
/// Where a receive buffer starts in its page: the header ends, and the frame starts, at
/// [`RX_HEADROOM`], where `build_skb` wants it.
const RX_OFFSET: usize = RX_HEADROOM as usize - HDR_LEN;
/// Length of a receive buffer: the header and the largest frame.
const RX_BUF_LEN: usize = HDR_LEN + MAX_FRAME;
/// Descriptors the largest skb may need (its linear part and every fragment, and one to
/// spare); the transmit queue stops when fewer are free.
const TX_NEEDED: u32 = MAX_SKB_FRAGS as u32 + 2;
/// Completed transmits reported to BQL at a time.
const RECLAIM_BATCH: usize = 32;
/// Pages in the pool: a full receive queue of QEMU's default size, twice.
const POOL_SIZE: u32 = 512;

/// The network device's private data.
#[pin_data]
struct Net {
    /// The one NAPI instance: receive, and transmit completions.
    #[pin]
    napi: Napi<Net>,
    /// Receive pages (dropped after the queues, which hold some of its pages).
    #[pin]
    pool: SpinLockBh<PagePool>,
}

impl Net {
    /// Gives the receive queue fresh pages until it is full or the pool has none; notifies the
    /// device if any was added. Returns the number added.
    fn refill(&self, rx: &mut Guard<'_, Page>) -> u32 {
        let mut added = 0;
        let mut pool = self.pool.lock();
        while rx.num_free() > 0 {
            let Ok(page) = pool.alloc(GFP_ATOMIC | __GFP_NOWARN) else {
                break;
            };
            if rx.add_page(page, RX_OFFSET, RX_BUF_LEN).is_err() {
                break;
            }
            added += 1;
        }
        drop(pool);
        if added != 0 && rx.kick_prepare() {
            rx.notify();
        }
        added
    }

    /// Frees the skbs of completed transmits and reports them to BQL.
    fn reclaim(tx: &mut Guard<'_, SkBuff>, txq: &TxQueue<'_>) {
        loop {
            let (mut pkts, mut bytes) = (0u32, 0u32);
            while (pkts as usize) < RECLAIM_BATCH {
                let Some((skb, _)) = tx.get_buf() else { break };
                bytes = bytes.wrapping_add(skb.len());
                pkts += 1;
                skb.consume();
            }
            if pkts != 0 {
                txq.completed(pkts, bytes);
            }
            if (pkts as usize) < RECLAIM_BATCH {
                break;
            }
        }
    }
}

#[vtable]
impl dev::Operations for Net {
    fn open(dev: &Device<Self>, ctx: &mut OpenContext<'_, Self>) -> Result {
        let net = dev.data();
        let queues = dev.virtqueues().ok_or(ENXIO)?;
        let rx = queues.get::<Page>(RX).ok_or(EINVAL)?;
        {
            let mut vq = rx.lock();
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
        if let Some(tx) = dev.virtqueues().and_then(|q| q.get::<SkBuff>(TX)) {
            let mut vq = tx.lock();
            while let Some((skb, _)) = vq.get_buf() {
                skb.consume();
            }
        }
    }

    fn start_xmit(dev: &Device<Self>, txq: &TxQueue<'_>, mut skb: SkBuff) -> NetdevTx {
        let Some(tx) = dev.virtqueues().and_then(|q| q.get::<SkBuff>(TX)) else {
            txq.stats().add_drops(1);
            return NetdevTx::Ok;
        };
        let mut vq = tx.lock();
        Net::reclaim(&mut vq, txq);
        if vq.num_free() < TX_NEEDED {
            txq.stop();
            return NetdevTx::Busy(skb);
        }
        let frame = skb.len() as usize;
        // The header (no checksum, no segmentation: all zero) goes in the headroom. Adding
        // cannot fail for room (checked above); a packet that cannot be queued is dropped.
        let queued = match skb.push_zeroed(HDR_LEN as u32) {
            Ok(()) => {
                let len = skb.len();
                // On failure the skb is handed back and dropped here.
                vq.add_skb(skb).ok().map(|()| len)
            }
            Err(_) => None,
        };
        // A dropped packet that ends a batch still notifies the device: earlier packets of the
        // batch deferred that (`xmit_more`).
        let kick = match queued {
            Some(len) => {
                txq.stats().add(1, frame);
                if vq.num_free() < TX_NEEDED {
                    txq.stop();
                }
                txq.sent_batched(len)
            }
            None => {
                txq.stats().add_drops(1);
                !txq.xmit_more()
            }
        };
        if kick && vq.kick_prepare() {
            vq.notify();
        }
        NetdevTx::Ok
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

#[vtable]
impl ethtool::Operations for Net {
    fn get_drvinfo(_dev: &Device<Self>, info: &mut ethtool::DrvInfo<'_>) {
        info.set_driver(DRV_NAME);
    }

    fn get_channels(_dev: &Device<Self>) -> ethtool::Channels {
        ethtool::Channels {
            max_combined: 1,
            combined: 1,
            ..Default::default()
        }
    }
}

impl napi::Poll for Net {
    fn poll(dev: &Device<Self>, ctx: &mut PollContext<'_, Self>, budget: u32) -> u32 {
        let net = dev.data();
        let Some(queues) = dev.virtqueues() else {
            return 0;
        };
        if let Some(tx) = queues.get::<SkBuff>(TX) {
            let _ = ctx.with_tx_queue_locked(dev, 0, |txq| {
                let mut vq = tx.lock();
                Net::reclaim(&mut vq, txq);
                if txq.is_stopped() && vq.num_free() >= TX_NEEDED && dev.carrier_ok() {
                    txq.wake();
                }
            });
        }
        let Some(rx) = queues.get::<Page>(RX) else {
            return 0;
        };
        let mut done = 0;
        // Nothing is received under netpoll (budget 0).
        if budget == 0 {
            return 0;
        }
        let mut vq = rx.lock();
        let (mut dropped, mut alloc_fail) = (0, 0);
        while done < budget {
            let Some((page, len)) = vq.get_buf() else {
                break;
            };
            done += 1;
            let len = len as usize;
            if len < HDR_LEN + ETH_HLEN as usize || len > RX_BUF_LEN {
                dropped += 1;
                continue;
            }
            match ctx.build_skb(page, RX_HEADROOM, (len - HDR_LEN) as u32) {
                Ok(mut skb) => {
                    if skb.eth_type_trans(dev).is_ok() {
                        ctx.stats().add(1, len - HDR_LEN);
                        ctx.gro_receive(skb);
                    } else {
                        dropped += 1;
                    }
                }
                Err(_page) => {
                    dropped += 1;
                    alloc_fail += 1;
                }
            }
        }
        net.refill(&mut vq);
        drop(vq);
        if dropped != 0 {
            ctx.stats().add_drops(dropped);
        }
        if alloc_fail != 0 {
            ctx.stats().add_alloc_fail(alloc_fail);
        }
        done
    }

    fn rearm(dev: &Device<Self>, napi: &Napi<Self>) {
        let Some(queues) = dev.virtqueues() else {
            return;
        };
        // Notifications back on; if buffers were used meanwhile, poll again (the race NAPI
        // must close before it sleeps).
        let rx = queues
            .get::<Page>(RX)
            .is_some_and(|q| !q.lock().enable_cb());
        let tx = queues
            .get::<SkBuff>(TX)
            .is_some_and(|q| !q.lock().enable_cb());
        if rx || tx {
            napi.schedule();
        }
    }
}

/// The virtio driver's per-device data.
struct VirtioNetData {
    _netdev: Registration<'static, Net>,
}

struct VirtioNetDriver;

kernel::virtio_device_table!(
    VIRTIO_TABLE,
    [virtio::DeviceId::new(bindings::VIRTIO_ID_NET)]
);

impl virtio::Driver for VirtioNetDriver {
    type Data<'bound> = VirtioNetData;

    const ID_TABLE: virtio::IdTable = &VIRTIO_TABLE;
    const FEATURES: &'static [u32] = &[bindings::VIRTIO_NET_F_MAC];

    fn probe<'bound>(
        vdev: &'bound virtio::Device<Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        if !vdev.has_feature(bindings::VIRTIO_F_VERSION_1) {
            dev_err!(vdev.as_ref(), "legacy devices are not supported\n");
            return Err(ENODEV);
        }
        let mac = vdev
            .net_mac()
            .and_then(|a| MacAddress::new(a).ok())
            .unwrap_or_else(MacAddress::random);
        let queues = Registration::<Net>::find_virtqueues(
            vdev,
            &[
                QueueInfo::new::<Page>(c"input.0", true),
                QueueInfo::new::<SkBuff>(c"output.0", true),
            ],
        )?;
        let pool = PagePool::new(&Params::new(POOL_SIZE))?;
        let mut b = Builder::new(
            1,
            1,
            pin_init!(Net {
                napi <- Napi::new(0),
                pool <- new_spinlock_bh!(pool, "virtio_net_rust::pool"),
            }),
        )?;
        b.set_mac_address(&mac);
        b.set_ethtool_ops();
        b.set_mtu_limits(dev::ETH_MIN_MTU, 1500)?;
        b.carrier_off();
        let netdev = Registration::new_with_virtqueues(vdev, b, queues)?;
        dev_info!(vdev.as_ref(), "virtio-net, MAC {}, one queue pair\n", mac);
        Ok(VirtioNetData { _netdev: netdev })
    }
}

kernel::module_virtio_driver! {
    type: VirtioNetDriver,
    name: "virtio_net_rust",
    authors: ["rustnic"],
    description: "Virtio network driver, in Rust",
    license: "GPL v2",
}
