// SPDX-License-Identifier: GPL-2.0

//! The C callbacks (`net_device_ops`, `netdev_stat_ops`) of a device with private data `T`.

use super::{
    addr::{
        MacAddress,
        RxMode,
        ETH_ALEN, //
    },
    Device,
    Features,
    NetdevTx,
    OpenContext,
    Operations,
    Rtnl,
    TxQueue, //
};
use crate::{
    bindings,
    error::{
        from_result,
        to_result, //
    },
    irq::IrqReturn,
    net::{skb::SkBuff, stats::RtnlLinkStats64},
    prelude::*,
    sync::atomic::{
        atomic_store,
        Relaxed, //
    },
    types::NotThreadSafe,
};
use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

/// The C callbacks of a device with private data `T`.
pub(super) struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_open` of a device using this vtable.
    unsafe extern "C" fn open(ndev: *mut bindings::net_device) -> c_int {
        // SAFETY: `ndev` uses this vtable, so it was created by `Builder::<T>::new`, and the core
        // only opens registered devices.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // INVARIANT: We are `ndo_open` of `dev`; the core holds RTNL.
        let mut ctx = OpenContext {
            dev,
            // SAFETY: `ndo_open` runs in process context with RTNL held, for this call.
            rtnl: unsafe { Rtnl::new() },
        };
        let ret = T::open(dev, &mut ctx);
        if ret.is_err() {
            // SAFETY: `dev` is a device of type `T`, RTNL is held (no instance can be enabled
            // concurrently, see `OpenContext`).
            unsafe { crate::net::napi::disable_all(dev) };
        }
        from_result(|| {
            ret?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_stop` of a device using this vtable.
    unsafe extern "C" fn stop(ndev: *mut bindings::net_device) -> c_int {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // SAFETY: `ndo_stop` runs in process context with RTNL held, for this call.
        T::stop(dev, &mut unsafe { Rtnl::new() });
        // SAFETY: `dev` is a device of type `T`, RTNL is held (no instance can be enabled
        // concurrently, see `OpenContext`).
        unsafe { crate::net::napi::disable_all(dev) };
        0
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_start_xmit` of a device using this
    /// vtable: with the lock of the skb's TX queue held and ownership of `skb` passed to us.
    unsafe extern "C" fn start_xmit(
        skb: *mut bindings::sk_buff,
        ndev: *mut bindings::net_device,
    ) -> bindings::netdev_tx_t {
        // SAFETY: As in `open`; the core only transmits on registered devices.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        let Some(orig) = NonNull::new(skb) else {
            return bindings::netdev_tx::NETDEV_TX_OK;
        };
        // SAFETY: `skb` is a valid skb owned by us.
        let q = unsafe { (*skb).queue_mapping };
        let Ok(txq) = dev.txq(q) else {
            // The core always maps to an existing queue; never trust it blindly though, since
            // `q` indexes the stats array.
            // SAFETY: We own `skb`.
            unsafe { bindings::dev_kfree_skb_any(skb) };
            return bindings::netdev_tx::NETDEV_TX_OK;
        };
        // SAFETY: The core holds the lock of the queue selected by `skb->queue_mapping` (the
        // device never sets `lltx`), with BH disabled, until we return; `q` is in range.
        let txq = unsafe { TxQueue::new(txq, &*Device::<T>::stats_raw(ndev, q), q, true) };

        // SAFETY: `skb` is valid.
        if unsafe { bindings::skb_shared(skb) } != 0 {
            // Only pktgen (with `clone_skb`) sends shared skbs; `SkBuff` must be exclusive.
            txq.stats().add_drops(1);
            // SAFETY: Drops our reference only.
            unsafe { bindings::dev_kfree_skb_any(skb) };
            return bindings::netdev_tx::NETDEV_TX_OK;
        }
        // SAFETY: We own the only reference; the core unlinked it from any list.
        let skb = unsafe { SkBuff::from_raw(orig) };
        // What the core relies on when it requeues a busy skb: its device and its data.
        let before = (skb.dev_raw(), skb.data_ptr(), skb.len());

        match T::start_xmit(dev, &txq, skb) {
            NetdevTx::Ok => bindings::netdev_tx::NETDEV_TX_OK,
            NetdevTx::Busy(skb) => {
                // An skb handed to another device (`SkBuff::forward`) or with its headers moved
                // must not be requeued: the core would transmit it again as if untouched.
                let unchanged = (skb.dev_raw(), skb.data_ptr(), skb.len()) == before;
                let ret = skb.into_raw();
                if ret == orig && unchanged {
                    // The core still has `orig` and requeues it.
                    bindings::netdev_tx::NETDEV_TX_BUSY
                } else {
                    crate::do_once_lite! {
                        crate::netdev_warn!(
                            dev,
                            "ndo_start_xmit: NETDEV_TX_BUSY with a different or modified skb\n"
                        )
                    }
                    txq.stats().add_drops(1);
                    // SAFETY: `ret` is an skb we own (it came out of an `SkBuff`).
                    drop(unsafe { SkBuff::from_raw(ret) });
                    bindings::netdev_tx::NETDEV_TX_OK
                }
            }
        }
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_get_stats64` of a device using this
    /// vtable, with `stats` pointing to a buffer owned by this call.
    unsafe extern "C" fn get_stats64(
        ndev: *mut bindings::net_device,
        stats: *mut bindings::rtnl_link_stats64,
    ) {
        // SAFETY: As in `open`: the core only queries visible devices, which are torn down
        // through `netdev_run_todo()`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // SAFETY: `dev_get_stats()` passes a zeroed buffer that only this call uses.
        T::get_stats64(dev, unsafe { RtnlLinkStats64::from_raw(stats) });
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_change_mtu` of a device using this
    /// vtable, with RTNL held.
    unsafe extern "C" fn change_mtu(ndev: *mut bindings::net_device, new_mtu: c_int) -> c_int {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        from_result(|| {
            let mtu = u32::try_from(new_mtu).map_err(|_| EINVAL)?;
            // SAFETY: `ndo_change_mtu` runs in process context with RTNL held, for this call: the
            // device is not "ops locked" (type invariant of `Device`), so the core takes RTNL.
            T::change_mtu(dev, &mut unsafe { Rtnl::new() }, mtu)?;
            // SAFETY: `mtu` is a valid, aligned field; RTNL serialises writers, and lockless
            // readers use `READ_ONCE()`.
            unsafe { atomic_store(&raw mut (*ndev).mtu, mtu, Relaxed) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_set_mac_address` of a device using
    /// this vtable, with RTNL held and `addr` pointing to a `struct sockaddr`.
    unsafe extern "C" fn set_mac_address(
        ndev: *mut bindings::net_device,
        addr: *mut c_void,
    ) -> c_int {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        from_result(|| {
            // SAFETY: `ndev` and `addr` are valid as per the function requirements.
            to_result(unsafe { bindings::eth_prepare_mac_addr_change(ndev, addr) })?;
            let mut bytes = [0u8; ETH_ALEN];
            // SAFETY: `addr` points to a `struct sockaddr`, whose `sa_data` has 14 bytes.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    (*addr.cast::<bindings::sockaddr>())
                        .sa_data
                        .as_ptr()
                        .cast::<u8>(),
                    bytes.as_mut_ptr(),
                    ETH_ALEN,
                )
            };
            let mac = MacAddress::new(bytes)?;
            T::set_mac_address(dev, &mac)?;
            // SAFETY: As above; RTNL is held.
            unsafe { bindings::eth_commit_mac_addr_change(ndev, addr) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_tx_timeout` of a device using this
    /// vtable.
    unsafe extern "C" fn tx_timeout(ndev: *mut bindings::net_device, txqueue: c_uint) {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        T::tx_timeout(dev, txqueue);
    }

    /// # Safety
    ///
    /// Must only be installed by [`Registration::new_with_irq`], with a device of type `T` as
    /// `cookie`.
    pub(super) unsafe extern "C" fn interrupt(
        _irq: c_int,
        cookie: *mut c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: `cookie` is a device allocated by `Builder::<T>::new` whose private data is
        // initialised, and stays so until after the handler is freed (see `Registration`). No
        // `&Device<T>` is created: the device may not be registered.
        let this = unsafe { &*Device::<T>::priv_raw(cookie.cast()).cast::<T>() };
        match T::interrupt(this) {
            IrqReturn::None => bindings::irqreturn::IRQ_NONE,
            IrqReturn::Handled => bindings::irqreturn::IRQ_HANDLED,
        }
    }

    /// The callback of every virtqueue of a device registered with
    /// [`Registration::new_with_virtqueues`](super::Registration::new_with_virtqueues).
    ///
    /// # Safety
    ///
    /// Must only be installed by [`Queues::find`](crate::virtio::virtqueue::Queues::find) for
    /// such a registration: the virtio device's `priv` is NULL or that network device (a
    /// `Device<T>`), whose private data is initialised.
    #[cfg(CONFIG_VIRTIO = "y")]
    pub(crate) unsafe extern "C" fn virtqueue_done(vq: *mut bindings::virtqueue) {
        // SAFETY: The transport calls us with a valid queue of a valid device. `priv` is NULL
        // until the registration sets it, and is cleared only after the callbacks are stopped.
        let ndev = unsafe { core::ptr::read_volatile(&raw const (*(*vq).vdev).priv_) };
        if ndev.is_null() {
            return;
        }
        // SAFETY: `ndev` is a device allocated by `Builder::<T>::new` whose private data is
        // initialised, and stays so while the callback can run (see above). No `&Device<T>`
        // is created (see `interrupt`).
        let this = unsafe { &*Device::<T>::priv_raw(ndev.cast()).cast::<T>() };
        // SAFETY: `vq` is valid while we run.
        T::virtqueue_done(this, unsafe {
            crate::virtio::virtqueue::Notified::from_raw(vq)
        });
    }

    /// # Safety
    ///
    /// Must only be called by the core as `get_queue_stats_rx` of a device using `STAT_OPS`.
    unsafe extern "C" fn get_queue_stats_rx(
        ndev: *mut bindings::net_device,
        idx: c_int,
        stats: *mut bindings::netdev_queue_stats_rx,
    ) {
        // SAFETY: As in `open`; `stats` is a buffer owned by this call.
        let (dev, stats) = unsafe { (Device::<T>::from_raw(ndev), &mut *stats) };
        if let Some(s) = u32::try_from(idx)
            .ok()
            .and_then(|q| T::rx_queue_stats(dev, q))
        {
            stats.packets = s.packets;
            stats.bytes = s.bytes;
            stats.alloc_fail = s.alloc_fail;
        }
    }

    /// # Safety
    ///
    /// Must only be called by the core as `get_queue_stats_tx` of a device using `STAT_OPS`.
    unsafe extern "C" fn get_queue_stats_tx(
        ndev: *mut bindings::net_device,
        idx: c_int,
        stats: *mut bindings::netdev_queue_stats_tx,
    ) {
        // SAFETY: As in `get_queue_stats_rx`.
        let (dev, stats) = unsafe { (Device::<T>::from_raw(ndev), &mut *stats) };
        if let Some(s) = u16::try_from(idx).ok().and_then(|q| dev.tx_queue_stats(q)) {
            let s = s.read();
            stats.packets = s.packets;
            stats.bytes = s.bytes;
            if dev.can_segment() {
                stats.hw_gso_packets = s.hw_gso_packets;
                stats.hw_gso_wire_packets = s.hw_gso_wire_packets;
            }
        }
    }

    /// # Safety
    ///
    /// Must only be called by the core as `get_base_stats` of a device using `STAT_OPS`.
    unsafe extern "C" fn get_base_stats(
        ndev: *mut bindings::net_device,
        rx: *mut bindings::netdev_queue_stats_rx,
        tx: *mut bindings::netdev_queue_stats_tx,
    ) {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // Every packet is counted by a queue that always exists: nothing outside them.
        // SAFETY: Buffers owned by this call.
        unsafe {
            (*rx).packets = 0;
            (*rx).bytes = 0;
            (*rx).alloc_fail = 0;
            (*tx).packets = 0;
            (*tx).bytes = 0;
            if dev.can_segment() {
                (*tx).hw_gso_packets = 0;
                (*tx).hw_gso_wire_packets = 0;
            }
        }
    }

    /// # Safety
    ///
    /// Must only be called by the core as `ndo_set_rx_mode` of a device using this vtable.
    unsafe extern "C" fn set_rx_mode(ndev: *mut bindings::net_device) {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // INVARIANT: The core calls `ndo_set_rx_mode` with `netif_addr_lock_bh()` held.
        let mode = RxMode {
            dev: ndev,
            _p: PhantomData,
            _not_send: NotThreadSafe,
        };
        T::set_rx_mode(dev, &mode);
    }

    /// # Safety
    ///
    /// Must only be called by the core as `ndo_fix_features` of a device using this vtable.
    unsafe extern "C" fn fix_features(
        ndev: *mut bindings::net_device,
        features: bindings::netdev_features_t,
    ) -> bindings::netdev_features_t {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // The driver sees and decides only the features it can honour; the core's other bits
        // (GSO, GRO, ...) go back unchanged.
        Features::merge_into(features, T::fix_features(dev, Features::from_raw(features)))
    }

    /// # Safety
    ///
    /// Must only be called by the core as `ndo_set_features` of a device using this vtable.
    unsafe extern "C" fn set_features(
        ndev: *mut bindings::net_device,
        features: bindings::netdev_features_t,
    ) -> c_int {
        // SAFETY: As in `open`.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        from_result(|| {
            T::set_features(dev, Features::from_raw(features))?;
            Ok(0)
        })
    }

    pub(super) const STAT_OPS: bindings::netdev_stat_ops = bindings::netdev_stat_ops {
        get_queue_stats_rx: Some(Self::get_queue_stats_rx),
        get_queue_stats_tx: Some(Self::get_queue_stats_tx),
        get_base_stats: Some(Self::get_base_stats),
    };

    pub(super) const VTABLE: bindings::net_device_ops = bindings::net_device_ops {
        ndo_open: if T::HAS_OPEN { Some(Self::open) } else { None },
        // Always installed: it disables the NAPI instances left enabled.
        ndo_stop: Some(Self::stop),
        ndo_start_xmit: Some(Self::start_xmit),
        ndo_get_stats64: if T::HAS_GET_STATS64 {
            Some(Self::get_stats64)
        } else {
            None
        },
        ndo_change_mtu: if T::HAS_CHANGE_MTU {
            Some(Self::change_mtu)
        } else {
            None
        },
        ndo_set_mac_address: if T::HAS_SET_MAC_ADDRESS {
            Some(Self::set_mac_address)
        } else {
            Some(bindings::eth_mac_addr)
        },
        ndo_validate_addr: Some(bindings::eth_validate_addr),
        ndo_set_rx_mode: if T::HAS_SET_RX_MODE {
            Some(Self::set_rx_mode)
        } else {
            None
        },
        ndo_fix_features: if T::HAS_FIX_FEATURES {
            Some(Self::fix_features)
        } else {
            None
        },
        ndo_set_features: if T::HAS_SET_FEATURES {
            Some(Self::set_features)
        } else {
            None
        },
        ndo_tx_timeout: if T::HAS_TX_TIMEOUT {
            Some(Self::tx_timeout)
        } else {
            None
        },
        ..pin_init::zeroed()
    };
}
