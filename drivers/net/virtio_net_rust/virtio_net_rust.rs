// SPDX-License-Identifier: GPL-2.0

//! Rust driver for virtio network devices (`VIRTIO_ID_NET`), as QEMU's `virtio-net-pci`
//! offers them.
//!
//! This stage: one queue pair, and the control queue for the MAC address. A modern device
//! (`VIRTIO_F_VERSION_1`) is required. Checksum and segmentation offloads (TCP v4 and v6 with
//! ECN, UDP) go both ways in the virtio-net header; received frames span as many mergeable
//! buffers as they need, so the MTU may be raised to 64 KiB. Receive buffers are page pool
//! pages; transmitted skbs carry the header in their headroom. One NAPI instance serves both
//! queues. The C `virtio_net` driver is the reference for every behaviour.
//!
//! Laid out by concern: `rx` (buffers and reception), `tx` (transmission and completion),
//! `netdev` (the device's operations and its poll), `ctrl` (the control queue), `ethtool`.

#![forbid(unsafe_code)]

mod ctrl;
mod ethtool;
mod netdev;
mod rx;
mod tx;

use kernel::{
    bindings,
    device::Core,
    net::{
        dev::{self, Builder, Feature, Features, MacAddress, Registration},
        napi::Napi,
        page_pool::{Page, PagePool, Params},
        skb::{SkBuff, VirtioNetHdr},
    },
    new_mutex, new_spinlock_bh,
    prelude::*,
    sync::{Mutex, SpinLockBh},
    virtio::{
        self,
        virtqueue::{QueueInfo, Request},
    },
};

/// Driver name, as `ethtool -i` reports it.
const DRV_NAME: &CStr = c"virtio_net_rust";

/// Index of the receive queue.
const RX: usize = 0;
/// Index of the transmit queue.
const TX: usize = 1;
/// Index of the control queue (after the one queue pair), if the device has one.
const CTRL: usize = 2;

/// The header before every frame (modern devices always use this one).
const HDR_LEN: usize = VirtioNetHdr::LEN;
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
    /// Serialises the commands on the control queue.
    #[pin]
    ctrl: Mutex<()>,
    /// Whether a received frame may span several buffers (`VIRTIO_NET_F_MRG_RXBUF`).
    mergeable: bool,
    /// Whether the device takes its MAC address from the control queue
    /// (`VIRTIO_NET_F_CTRL_MAC_ADDR`).
    ctrl_mac: bool,
}

/// The network device features the negotiated virtio features allow: those the user may turn
/// on and off, and those on from the start (as C `virtio_net` sets them).
fn net_features(vdev: &virtio::Device<Core<'_>>) -> (Features, Features) {
    let mut hw = Features::empty();
    if vdev.has_feature(bindings::VIRTIO_NET_F_CSUM) {
        hw |= Feature::Sg | Feature::HwCsum;
        // The device segments only what it checksums.
        for (bit, f) in [
            (bindings::VIRTIO_NET_F_HOST_TSO4, Feature::Tso),
            (bindings::VIRTIO_NET_F_HOST_TSO6, Feature::Tso6),
            (bindings::VIRTIO_NET_F_HOST_ECN, Feature::TsoEcn),
            (bindings::VIRTIO_NET_F_HOST_USO, Feature::GsoUdpL4),
        ] {
            if vdev.has_feature(bit) {
                hw |= f;
            }
        }
    }
    let mut on = hw | Feature::Rxcsum;
    if vdev.has_feature(bindings::VIRTIO_NET_F_CSUM) {
        // The device (the host's stack) validates what it segments.
        on |= Feature::GsoRobust;
    }
    (hw, on)
}

/// The features with which the device hands over coalesced frames (up to 64 KiB).
const COALESCING: [u32; 5] = [
    bindings::VIRTIO_NET_F_GUEST_TSO4,
    bindings::VIRTIO_NET_F_GUEST_TSO6,
    bindings::VIRTIO_NET_F_GUEST_ECN,
    bindings::VIRTIO_NET_F_GUEST_USO4,
    bindings::VIRTIO_NET_F_GUEST_USO6,
];

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
    const FEATURES: &'static [u32] = &[
        bindings::VIRTIO_NET_F_MAC,
        bindings::VIRTIO_NET_F_CSUM,
        bindings::VIRTIO_NET_F_HOST_TSO4,
        bindings::VIRTIO_NET_F_HOST_TSO6,
        bindings::VIRTIO_NET_F_HOST_ECN,
        bindings::VIRTIO_NET_F_HOST_USO,
        bindings::VIRTIO_NET_F_GUEST_CSUM,
        bindings::VIRTIO_NET_F_GUEST_TSO4,
        bindings::VIRTIO_NET_F_GUEST_TSO6,
        bindings::VIRTIO_NET_F_GUEST_ECN,
        bindings::VIRTIO_NET_F_GUEST_USO4,
        bindings::VIRTIO_NET_F_GUEST_USO6,
        bindings::VIRTIO_NET_F_MRG_RXBUF,
        bindings::VIRTIO_NET_F_CTRL_VQ,
        bindings::VIRTIO_NET_F_CTRL_MAC_ADDR,
    ];

    fn validate(features: &mut virtio::Negotiation<'_>) -> Result {
        // Coalesced frames need mergeable buffers: the "big packets" mode of C `virtio_net`
        // (chains of pages per buffer) is not implemented.
        if !features.has(bindings::VIRTIO_NET_F_MRG_RXBUF) || !rx::COALESCED_FIT {
            for bit in COALESCING {
                features.clear(bit)?;
            }
        }
        Ok(())
    }

    fn probe<'bound>(
        vdev: &'bound virtio::Device<Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        if !vdev.has_feature(bindings::VIRTIO_F_VERSION_1) {
            dev_err!(vdev.as_ref(), "legacy devices are not supported\n");
            return Err(ENODEV);
        }
        let mergeable = vdev.has_feature(bindings::VIRTIO_NET_F_MRG_RXBUF);
        let (hw, on) = net_features(vdev);
        let mac = vdev
            .net_mac()
            .and_then(|a| MacAddress::new(a).ok())
            .unwrap_or_else(MacAddress::random);
        let has_ctrl = vdev.has_feature(bindings::VIRTIO_NET_F_CTRL_VQ);
        let mut infos = KVec::with_capacity(3, GFP_KERNEL)?;
        infos.push(QueueInfo::new::<Page>(c"input.0", true), GFP_KERNEL)?;
        infos.push(QueueInfo::new::<SkBuff>(c"output.0", true), GFP_KERNEL)?;
        if has_ctrl {
            // Polled for each command's answer: no notifications.
            infos.push(QueueInfo::new::<Request>(c"control", false), GFP_KERNEL)?;
        }
        let queues = Registration::<Net>::find_virtqueues(vdev, &infos)?;
        let pool = PagePool::new(&Params::new(POOL_SIZE))?;
        let mut b = Builder::new(
            1,
            1,
            pin_init!(Net {
                napi <- Napi::new(0),
                pool <- new_spinlock_bh!(pool, "virtio_net_rust::pool"),
                ctrl <- new_mutex!((), "virtio_net_rust::ctrl"),
                mergeable,
                ctrl_mac: has_ctrl && vdev.has_feature(bindings::VIRTIO_NET_F_CTRL_MAC_ADDR),
            }),
        )?;
        b.set_mac_address(&mac);
        b.set_ethtool_ops();
        // The device takes a new address while running (or keeps receiving every frame).
        b.set_live_addr_change();
        b.set_features(hw, on);
        b.set_mtu_limits(dev::ETH_MIN_MTU, rx::max_mtu(mergeable))?;
        b.carrier_off();
        let netdev = Registration::new_with_virtqueues(vdev, b, queues)?;
        dev_info!(
            vdev.as_ref(),
            "virtio-net, MAC {}, one queue pair{}\n",
            mac,
            if mergeable { ", mergeable buffers" } else { "" }
        );
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
