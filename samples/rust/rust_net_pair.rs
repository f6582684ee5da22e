// SPDX-License-Identifier: GPL-2.0

//! Rust network device pair sample.
//!
//! Creates two virtual Ethernet devices (`rnp0` and `rnp1`, or the next free `rnpN` names) that
//! are connected back to back, like a veth pair. They are children of a faux device the module
//! creates (`/sys/bus/faux/devices/rust_net_pair`), so that they are torn down with it at the
//! latest:
//!
//! - `start_xmit` on TX queue `i` of one device prepares the packet for the other device
//!   (`__dev_forward_skb()`, which scrubs it and runs `eth_type_trans()` for the receiver), puts
//!   it on the receiver's RX queue `i` and schedules the NAPI instance of that queue. If the
//!   receiver is down or its queue is full, the packet is dropped and counted as a TX drop.
//! - The NAPI poll of RX queue `i` delivers up to `budget` packets with `napi_gro_receive()` and
//!   then reports them as completed to BQL on the sender's TX queue `i`.
//! - Statistics are kept per queue without shared atomics (`u64_stats_sync`): TX statistics are
//!   written under the TX queue lock, RX statistics by the (exclusive) NAPI poll, and
//!   `get_stats64` sums them.
//!
//! Try it with:
//!
//! ```text
//! ip netns add peer && ip link set rnp1 netns peer
//! ip addr add 10.0.0.1/24 dev rnp0 && ip link set rnp0 up
//! ip -n peer addr add 10.0.0.2/24 dev rnp1 && ip -n peer link set rnp1 up
//! ping -c3 10.0.0.2 && ip -s link show rnp0
//! ```

#![forbid(unsafe_code)]

use kernel::{
    device::{
        self as device_core,
        Bound, //
    },
    faux,
    net::{
        dev::{
            self,
            Builder,
            Device,
            NetdevTx,
            OpenContext,
            Registration,
            Rtnl,
            TxQueue, //
        },
        ethtool,
        napi::{
            self,
            Napi,
            PollContext, //
        },
        skb::{
            self,
            SkBuff, //
        },
        stats::{
            QueueStatsSnapshot,
            RtnlLinkStats64, //
        },
    },
    prelude::*,
    sync::{
        aref::ARef,
        new_spinlock_irq,
        SpinLockIrq, //
    },
};
use pin_init::pin_init_array_from_fn;

module! {
    type: NetPair,
    name: "rust_net_pair",
    authors: ["Rust for Linux Contributors"],
    description: "Rust network device pair sample",
    license: "GPL",
}

/// Number of TX queues of each device, and of RX queues (NAPI instances) of its peer: TX queue `i`
/// of one device feeds RX queue `i` of the other.
const NUM_QUEUES: usize = 2;

/// Maximum number of packets waiting on one RX queue; the sender drops beyond that. BQL normally
/// keeps the queues much shorter.
const RX_QUEUE_LEN: usize = 256;

/// Largest MTU the devices accept.
const MAX_MTU: u32 = 9000;

/// One RX queue: packets from the peer's TX queue with the same index, and the NAPI instance that
/// delivers them.
#[pin_data]
struct RxQueue {
    #[pin]
    napi: Napi<PairDev>,
    /// Already prepared for this device by the sender (`SkBuff::forward`).
    #[pin]
    skbs: skb::Queue,
}

impl RxQueue {
    fn new(index: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            napi <- Napi::new(index),
            skbs <- skb::Queue::new(),
        })
    }

    /// Frees every queued packet; returns how many there were and their length as accounted to
    /// the sender's BQL.
    fn drain(&self) -> (u32, u32) {
        let (mut pkts, mut bytes) = (0u32, 0u32);
        while let Some(skb) = self.skbs.pop_front() {
            pkts += 1;
            bytes = bytes.wrapping_add(skb.len());
        }
        (pkts, bytes)
    }
}

/// The private data of each of the two devices.
#[pin_data]
struct PairDev {
    #[pin]
    rxq: [RxQueue; NUM_QUEUES],
    /// The other device. Set once both are registered and cleared before either is unregistered:
    /// the reference would otherwise keep the peer's unregistration waiting forever.
    #[pin]
    peer: SpinLockIrq<Option<ARef<Device<PairDev>>>>,
}

impl PairDev {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            rxq <- pin_init_array_from_fn(|i| RxQueue::new(i as u32)),
            peer <- new_spinlock_irq!(None, "rust_net_pair::peer"),
        })
    }

    /// Returns a reference to the peer, if linked. Any context.
    fn peer(&self) -> Option<ARef<Device<PairDev>>> {
        self.peer.lock().clone()
    }

    /// Replaces the peer link, returning the previous one.
    fn set_peer(&self, peer: Option<ARef<Device<PairDev>>>) -> Option<ARef<Device<PairDev>>> {
        core::mem::replace(&mut *self.peer.lock(), peer)
    }
}

#[vtable]
impl dev::Operations for PairDev {
    fn open(dev: &Device<Self>, ctx: &mut OpenContext<'_, Self>) -> Result {
        let this = dev.data();
        for q in 0..NUM_QUEUES as u16 {
            // Bytes of an earlier session that are still queued at the peer will be completed
            // against the fresh state; `TxQueue::completed` clamps them.
            dev.tx_reset_queue(ctx.rtnl(), q)?;
        }
        for rxq in &this.rxq {
            // On error, the abstraction disables the instances enabled so far.
            rxq.napi.enable(ctx)?;
        }
        dev.start_all_queues();
        if let Some(peer) = this.peer() {
            if peer.is_running() {
                dev.carrier_on();
                peer.carrier_on();
            }
        }
        Ok(())
    }

    fn stop(dev: &Device<Self>, rtnl: &mut Rtnl<'_>) {
        let this = dev.data();
        let peer = this.peer();
        dev.carrier_off();
        if let Some(peer) = &peer {
            peer.carrier_off();
        }
        dev.stop_all_queues();
        for (q, rxq) in this.rxq.iter().enumerate() {
            // After this no poll runs (the abstraction would also do it after `stop`, but we
            // need it before draining). The core already waited for in-flight transmits of the
            // peer, which only queue to us while we are running.
            rxq.napi.disable(rtnl);
            // Drop what the peer sent and we did not deliver, and report it as completed so
            // that the peer's queue is not left throttled by BQL.
            let (pkts, bytes) = rxq.drain();
            if let Some(peer) = &peer {
                if pkts > 0 {
                    let _ = peer.tx_completed(rtnl, q as u16, pkts, bytes);
                }
            }
        }
    }

    fn start_xmit(dev: &Device<Self>, txq: &TxQueue<'_>, skb: SkBuff) -> NetdevTx {
        let len = skb.len() as usize;
        let peer = match dev.data().peer() {
            Some(peer) if peer.is_running() => peer,
            // Not linked, or the other end is down: drop (`skb` is freed on return).
            _ => {
                txq.stats().add_drops(1);
                return NetdevTx::Ok;
            }
        };
        let Some(rxq) = peer.data().rxq.get(usize::from(txq.index())) else {
            txq.stats().add_drops(1);
            return NetdevTx::Ok;
        };
        if rxq.skbs.len() >= RX_QUEUE_LEN {
            txq.stats().add_drops(1);
            return NetdevTx::Ok;
        }
        // Scrub the packet and run `eth_type_trans()` for the peer now, so that queued packets
        // only ever point to the device that will receive them.
        let Ok(skb) = skb.forward(dev, &*peer) else {
            txq.stats().add_drops(1);
            return NetdevTx::Ok;
        };
        // Account the length the peer will see (Ethernet header pulled), which is what its poll
        // reports back as completed. We hold the queue lock, so the completion cannot overtake
        // this.
        txq.sent(skb.len());
        rxq.skbs.push_back(skb);
        rxq.napi.schedule();
        txq.stats().add(1, len);
        NetdevTx::Ok
    }

    fn get_stats64(dev: &Device<Self>, stats: &mut RtnlLinkStats64) {
        for q in 0..NUM_QUEUES as u16 {
            if let Some(tx) = dev.tx_queue_stats(q) {
                stats.add_tx(&tx.read());
            }
        }
        for rxq in &dev.data().rxq {
            stats.add_rx(&rxq.napi.rx_stats().read());
        }
    }

    fn rx_queue_stats(dev: &Device<Self>, q: u32) -> Option<QueueStatsSnapshot> {
        let rxq = dev.data().rxq.get(q as usize)?;
        Some(rxq.napi.rx_stats().read())
    }

    fn change_mtu(dev: &Device<Self>, _rtnl: &mut Rtnl<'_>, new_mtu: u32) -> Result {
        // The core already checked `new_mtu` against our limits; nothing to reprogram.
        kernel::netdev_info!(dev, "MTU {} -> {}\n", dev.mtu(), new_mtu);
        Ok(())
    }
}

#[vtable]
impl ethtool::Operations for PairDev {
    fn get_drvinfo(_dev: &Device<Self>, info: &mut ethtool::DrvInfo<'_>) {
        info.set_driver(c"rust_net_pair");
        info.set_bus_info(c"virtual");
    }

    fn get_ringparam(_dev: &Device<Self>) -> ethtool::RingParam {
        ethtool::RingParam {
            rx_max: RX_QUEUE_LEN as u32,
            tx_max: RX_QUEUE_LEN as u32,
            rx: RX_QUEUE_LEN as u32,
            tx: RX_QUEUE_LEN as u32,
        }
    }

    fn get_channels(_dev: &Device<Self>) -> ethtool::Channels {
        ethtool::Channels {
            max_combined: NUM_QUEUES as u32,
            combined: NUM_QUEUES as u32,
            ..Default::default()
        }
    }

    /// Per-queue counters, named like most drivers do.
    fn get_stats(dev: &Device<Self>, out: &mut ethtool::Stats<'_>) {
        for (q, rxq) in dev.data().rxq.iter().enumerate() {
            let s = rxq.napi.rx_stats().read();
            out.add_fmt(fmt!("rx_queue_{q}_packets"), s.packets);
            out.add_fmt(fmt!("rx_queue_{q}_bytes"), s.bytes);
            out.add_fmt(fmt!("rx_queue_{q}_drops"), s.drops);
        }
        for q in 0..NUM_QUEUES as u16 {
            if let Some(tx) = dev.tx_queue_stats(q) {
                let s = tx.read();
                out.add_fmt(fmt!("tx_queue_{q}_packets"), s.packets);
                out.add_fmt(fmt!("tx_queue_{q}_bytes"), s.bytes);
                out.add_fmt(fmt!("tx_queue_{q}_drops"), s.drops);
            }
        }
    }
}

impl napi::Poll for PairDev {
    fn poll(dev: &Device<Self>, ctx: &mut PollContext<'_, Self>, budget: u32) -> u32 {
        let q = ctx.index() as usize;
        let Some(rxq) = dev.data().rxq.get(q) else {
            return 0;
        };

        // With a zero budget (netpoll) this delivers nothing, as required.
        let (mut done, mut bytes) = (0u32, 0u32);
        while done < budget {
            let Some(skb) = rxq.skbs.pop_front() else {
                break;
            };
            let len = skb.len();
            bytes = bytes.wrapping_add(len);
            // `eth_type_trans()` already ran for this device when the peer queued the packet;
            // count the frame with its Ethernet header, like the peer's `tx_bytes`.
            ctx.stats().add(1, (len + skb::ETH_HLEN) as usize);
            ctx.gro_receive(skb);
            done += 1;
        }

        if done > 0 {
            if let Some(peer) = dev.data().peer() {
                // These packets left the peer's TX queue `q`. Done after delivery, so that no
                // lock is held while the stack processes them (it may transmit on the peer).
                ctx.tx_completed(&*peer, q as u16, done, bytes);
            }
        }
        done
    }
}

/// Creates and registers one end of the pair, as a child of `parent`.
fn create(parent: &device_core::Device<Bound>) -> Result<Registration<'static, PairDev>> {
    let mut b = Builder::new(NUM_QUEUES as u32, NUM_QUEUES as u32, PairDev::new())?;
    b.set_name(c"rnp%d")?;
    b.set_random_mac_address();
    b.set_ethtool_ops();
    b.set_mtu_limits(dev::ETH_MIN_MTU, MAX_MTU)?;
    // No link until both ends are up.
    b.carrier_off();
    Registration::new(parent, b)
}

struct NetPair {
    // Dropped in declaration order, after `Drop::drop` has unlinked the devices: the network
    // devices, then their parent.
    a: Registration<'static, PairDev>,
    b: Registration<'static, PairDev>,
    faux: faux::Registration,
}

impl NetPair {
    /// The parent of both devices; bound as long as `faux` exists.
    fn parent(faux: &faux::Registration) -> &device_core::Device<Bound> {
        faux.as_ref().as_ref()
    }
}

impl kernel::Module for NetPair {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"rust_net_pair", None)?;
        let parent = NetPair::parent(&faux);
        let a = create(parent)?;
        let b = create(parent)?;
        {
            let (da, db) = (a.access(parent)?, b.access(parent)?);
            drop(da.data().set_peer(Some(ARef::from(db))));
            drop(db.data().set_peer(Some(ARef::from(da))));
            // Userspace may have brought both up before they were linked.
            if da.is_running() && db.is_running() {
                da.carrier_on();
                db.carrier_on();
            }
            kernel::netdev_info!(da, "paired with {}\n", db.name());
        }
        Ok(NetPair { a, b, faux })
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Break the reference cycle first: `unregister_netdev()` waits until nobody holds a
        // reference on the device. Transmits and polls that cloned a reference just before
        // finish quickly and drop it.
        let parent = NetPair::parent(&self.faux);
        for reg in [&self.a, &self.b] {
            if let Ok(dev) = reg.access(parent) {
                drop(dev.data().set_peer(None));
            }
        }
    }
}
