// SPDX-License-Identifier: GPL-2.0

//! Network devices (`struct net_device`).
//!
//! A driver describes its device with a type `T` implementing [`Operations`]. An instance of `T`
//! lives, pinned, in the private area of an Ethernet `net_device` (`netdev_priv()`):
//!
//! 1. [`Builder::new`] allocates the device (`alloc_etherdev_mqs()`) and pin-initialises `T`
//!    in place; the builder can then set the name, MAC address and MTU limits while the device is
//!    still private to the driver.
//! 2. [`Registration::new`] registers it (`register_netdev()`) as the child of a bound device (a
//!    bus device in `probe`, or a faux device a module creates). From then on the networking core
//!    calls the [`Operations`] callbacks, each with a shared [`&Device<T>`](Device), from which the
//!    driver reaches its `T` with [`Device::data`]. Callbacks run concurrently with each other
//!    (transmit on every queue, statistics under RCU only, NAPI polls, control operations under
//!    RTNL), so they never get `&mut` access: `T` uses interior mutability where needed.
//! 3. Dropping the [`Registration`], or the unbinding of its parent device if the registration
//!    was leaked, unregisters the device (`unregister_netdev()`, which calls
//!    [`Operations::stop`] if the device is up and waits for all callbacks and references), then
//!    drops `T` and frees the device (`free_netdev()`). If registration fails, `T` is dropped and
//!    the device freed right away. Each of these steps happens exactly once.
//!
//! Besides `T`, the private area holds one [`QueueStats`] per TX queue, written in the transmit
//! path through [`TxQueue::stats`]. RX statistics live in each [`Napi`](super::napi::Napi).
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/etherdevice.h`](srctree/include/linux/etherdevice.h).
//!
//! # Examples
//!
//! A device that drops everything it is asked to send:
//!
//! ```
//! use kernel::device::{Bound, Device as BusDevice};
//! use kernel::net::dev::{self, Builder, Device, NetdevTx, Registration, TxQueue};
//! use kernel::net::{skb::SkBuff, stats::RtnlLinkStats64};
//! use kernel::prelude::*;
//!
//! struct Blackhole;
//!
//! #[vtable]
//! impl dev::Operations for Blackhole {
//!     fn open(dev: &Device<Self>, _ctx: &mut dev::OpenContext<'_, Self>) -> Result {
//!         dev.start_all_queues();
//!         dev.carrier_on();
//!         Ok(())
//!     }
//!
//!     fn stop(dev: &Device<Self>, _rtnl: &mut dev::Rtnl<'_>) {
//!         dev.carrier_off();
//!         dev.stop_all_queues();
//!     }
//!
//!     fn start_xmit(_dev: &Device<Self>, txq: &TxQueue<'_>, skb: SkBuff) -> NetdevTx {
//!         txq.stats().add_drops(1);
//!         drop(skb);
//!         NetdevTx::Ok
//!     }
//!
//!     fn get_stats64(dev: &Device<Self>, stats: &mut RtnlLinkStats64) {
//!         stats.add_tx(&dev.tx_stats_total());
//!     }
//! }
//!
//! fn create(parent: &BusDevice<Bound>) -> Result<Registration<'static, Blackhole>> {
//!     let mut b = Builder::new(1, 1, Blackhole)?;
//!     b.set_name(c"bh%d")?;
//!     b.set_random_mac_address();
//!     b.set_mtu_limits(dev::ETH_MIN_MTU, 9000)?;
//!     b.carrier_off();
//!     let reg = Registration::new(parent, b)?;
//!     kernel::netdev_info!(reg.access(parent)?, "registered\n");
//!     Ok(reg)
//! }
//! # let _ = create;
//! ```

mod adapter;
mod addr;
mod features;
mod print;
mod registration;
mod reset;
mod txq;

pub(crate) use self::print::warn_raw;
use self::reset::PrivExtra;
pub use self::{
    addr::{
        MacAddress,
        NetdevName,
        RxMode,
        ETH_ALEN,
        ETH_DATA_LEN,
        ETH_MAX_MTU,
        ETH_MIN_MTU, //
    },
    features::{
        Feature,
        Features, //
    },
    registration::{
        Builder,
        Registration, //
    },
    txq::TxQueue,
};

use crate::{
    bindings,
    error::VTABLE_DEFAULT_ERROR,
    irq::IrqReturn,
    net::{
        skb::SkBuff,
        stats::{
            QueueStats,
            QueueStatsSnapshot,
            RtnlLinkStats64, //
        },
    },
    prelude::*,
    sync::{
        aref::AlwaysRefCounted,
        atomic::{
            atomic_load,
            Relaxed, //
        },
    },
    types::{
        NotThreadSafe,
        Opaque, //
    },
};
use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

/// Result of [`Operations::start_xmit`].
pub enum NetdevTx {
    /// The driver took care of the packet (sent, queued or dropped it). `NETDEV_TX_OK`.
    Ok,
    /// The queue is full: the core keeps the packet and retries later. `NETDEV_TX_BUSY`.
    ///
    /// Must carry back the very skb that was passed to `start_xmit`, unchanged (same device,
    /// data and length), and the driver should have stopped the queue. A different or changed
    /// skb is freed, the packet counted as dropped, and `NETDEV_TX_OK` returned: the core only
    /// knows the original pointer, and would transmit it again as if untouched.
    Busy(SkBuff),
}

/// Proof that the current thread holds RTNL in process context, inside a control callback of the
/// networking core ([`Operations::stop`], [`Operations::change_mtu`], [`Operations::reset`],
/// ethtool's `set_ringparam`, and [`OpenContext::rtnl`]).
///
/// Required by the operations that sleep waiting for the device's fast paths:
/// [`Napi::disable`](super::napi::Napi::disable), [`Napi::pause`](super::napi::Napi::pause) and
/// the TX queue lock from process context ([`Device::with_tx_queue_locked`]). Those deadlock
/// or break lock rules when called from a poll function, an interrupt handler, the transmit
/// path or [`Operations::tx_timeout`] (softirq, with every TX queue locked), none of which has
/// this token: it cannot be created by drivers and cannot leave the callback's thread.
///
/// ```ignore,compile_fail,E0451
/// use kernel::net::dev::Rtnl;
///
/// let rtnl = Rtnl { _p: core::marker::PhantomData, _not_send: kernel::types::NotThreadSafe };
/// ```
///
/// # Invariants
///
/// For `'a`, the current thread holds RTNL and may sleep.
pub struct Rtnl<'a> {
    _p: PhantomData<&'a ()>,
    _not_send: NotThreadSafe,
}

impl Rtnl<'_> {
    /// # Safety
    ///
    /// The caller holds RTNL in process context for the lifetime of the token.
    #[inline]
    unsafe fn new() -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            _p: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// Creates the token for a callback of the core that holds RTNL in process context.
    ///
    /// # Safety
    ///
    /// As for `new`.
    #[inline]
    pub(crate) unsafe fn assume_held() -> Self {
        // SAFETY: Guaranteed by the caller.
        unsafe { Self::new() }
    }
}

/// Proof that `ndo_open` of a device is running.
///
/// Passed to [`Operations::open`]; required by [`Napi::enable`](super::napi::Napi::enable), so
/// that NAPI instances are only enabled on a device being opened: with RTNL held, after the core
/// set `netif_running()`, and never concurrently with [`Operations::stop`] (which also runs under
/// RTNL and disables them all).
///
/// # Invariants
///
/// `dev`'s `ndo_open` is executing on this thread, with RTNL held, for the lifetime `'a`.
pub struct OpenContext<'a, T: Operations> {
    dev: &'a Device<T>,
    rtnl: Rtnl<'a>,
}

impl<'a, T: Operations> OpenContext<'a, T> {
    /// Returns the device being opened.
    #[inline]
    pub fn device(&self) -> &'a Device<T> {
        self.dev
    }

    /// Returns the proof that RTNL is held (`ndo_open` runs under it, in process context).
    #[inline]
    pub fn rtnl(&mut self) -> &mut Rtnl<'a> {
        &mut self.rtnl
    }
}

/// Operations of a network device whose private data is `Self`.
///
/// Callbacks run concurrently and receive shared references; see the module documentation.
/// Unless stated otherwise they must not sleep. Devices created by this module are not "ops
/// locked" (`netdev_need_ops_lock()` is false): control callbacks run under RTNL only.
#[vtable]
pub trait Operations: Sized + Send + Sync + 'static {
    /// Brings the device up (`ndo_open`). RTNL held; may sleep.
    ///
    /// Typically resets BQL, enables NAPI instances (which needs `ctx`, see
    /// [`Napi::enable`](super::napi::Napi::enable)) and starts the TX queues. If it fails, the
    /// abstraction disables every NAPI instance that was enabled.
    fn open(_dev: &Device<Self>, _ctx: &mut OpenContext<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Brings the device down (`ndo_stop`). RTNL held; may sleep. Cannot fail.
    ///
    /// Called after the core has cleared `netif_running()` and waited for in-flight transmits.
    /// Also called by `unregister_netdev()` when a running device is unregistered. When it
    /// returns, the abstraction disables every NAPI instance still enabled on the device, so no
    /// poll function runs on a stopped device.
    ///
    /// Unlike the other optional callbacks, the default is a real no-op: `ndo_stop` is always
    /// installed, for the NAPI clean-up.
    fn stop(_dev: &Device<Self>, _rtnl: &mut Rtnl<'_>) {}

    /// Transmits `skb` on queue `txq` (`ndo_start_xmit`).
    ///
    /// Called with BH disabled (with interrupts disabled under netpoll) and with `txq`'s
    /// `_xmit_lock` held, so it never runs concurrently with itself for the same queue. BQL,
    /// stop/wake and statistics of `txq` go through the [`TxQueue`] methods (the queue locking
    /// functions need an [`Rtnl`] token, which this callback does not have).
    fn start_xmit(dev: &Device<Self>, txq: &TxQueue<'_>, skb: SkBuff) -> NetdevTx;

    /// Fills `stats` (`ndo_get_stats64`).
    ///
    /// May be called from any context under RCU, concurrently with everything else: it must not
    /// sleep or take locks that are also taken with BH or interrupts enabled.
    fn get_stats64(_dev: &Device<Self>, _stats: &mut RtnlLinkStats64) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Approves an MTU change (`ndo_change_mtu`). RTNL held; may sleep.
    ///
    /// `new_mtu` is already within the limits set with [`Builder::set_mtu_limits`]. On success
    /// the abstraction stores it in `dev->mtu`.
    fn change_mtu(_dev: &Device<Self>, _rtnl: &mut Rtnl<'_>, _new_mtu: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Approves a MAC address change (`ndo_set_mac_address`). RTNL held; may sleep.
    ///
    /// Called after `eth_prepare_mac_addr_change()` succeeded; on success the abstraction
    /// commits the address (`eth_commit_mac_addr_change()`). If not implemented, `eth_mac_addr()`
    /// is used.
    fn set_mac_address(_dev: &Device<Self>, _addr: &MacAddress) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles a transmit timeout on queue `txqueue` (`ndo_tx_timeout`).
    ///
    /// Called from the watchdog timer (softirq) with all TX queues locked (`netif_tx_lock()`);
    /// it has no [`Rtnl`] token, so it cannot lock a queue again: it typically schedules
    /// [`Operations::reset`] with [`Device::schedule_reset`].
    fn tx_timeout(_dev: &Device<Self>, _txqueue: u32) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Resets a running device: called in process context with RTNL held, from the work item
    /// that [`Device::schedule_reset`] queues (typically from [`Operations::tx_timeout`], which
    /// runs in softirq context and cannot sleep). Not called if the device is down by then.
    fn reset(_dev: &Device<Self>, _rtnl: &mut Rtnl<'_>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles the device's interrupt (hard-IRQ context), for a device registered with
    /// [`Registration::new_with_irq`].
    ///
    /// The line may be shared: return [`IrqReturn::None`] when the device did not raise it.
    /// The handler is installed from just before registration until after unregistration, so
    /// it only gets the private data, not the [`Device`] (which is not registered in those
    /// windows). Typically it acknowledges the cause and schedules NAPI
    /// ([`Napi::schedule`](super::napi::Napi::schedule) fails harmlessly on a disabled
    /// instance).
    fn interrupt(_this: &Self) -> IrqReturn {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A virtqueue of a device registered with [`Registration::new_with_virtqueues`] has used
    /// buffers (hard-IRQ context); `vq` says which and lets the handler disable its
    /// notifications.
    ///
    /// As [`Operations::interrupt`], it gets the private data, not the [`Device`]: the
    /// queues' callbacks are enabled from just before registration until after
    /// unregistration. Typically it disables the queue's callbacks
    /// ([`Virtqueue::disable_cb`](crate::virtio::virtqueue::Virtqueue::disable_cb)) and
    /// schedules the NAPI instance serving it.
    #[cfg(CONFIG_VIRTIO = "y")]
    fn virtqueue_done(_this: &Self, _vq: &crate::virtio::virtqueue::Notified) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the statistics of RX queue `q` (typically [`Napi::rx_stats`] of the instance
    /// serving it), or `None` if there is no such queue.
    ///
    /// Implementing it installs `netdev_stat_ops`: netdev-genl then reports per-queue RX and TX
    /// packet and byte counters (`qstats-get`); the TX ones come from [`TxQueue::stats`]. Called
    /// under RTNL (and from `ndo_get_stats64`-like contexts); must not sleep.
    ///
    /// [`Napi::rx_stats`]: super::napi::Napi::rx_stats
    fn rx_queue_stats(_dev: &Device<Self>, _q: u32) -> Option<QueueStatsSnapshot> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Programs the receive filters (`ndo_set_rx_mode`): promiscuous and all-multicast modes
    /// and the multicast list. Atomic context (address list lock held, BH off): must not sleep.
    fn set_rx_mode(_dev: &Device<Self>, _mode: &RxMode<'_>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Adjusts requested features to what is possible together (`ndo_fix_features`). RTNL.
    fn fix_features(_dev: &Device<Self>, _features: Features) -> Features {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Applies a feature change (`ndo_set_features`); on success the core stores `features`.
    /// RTNL held; may sleep.
    fn set_features(_dev: &Device<Self>, _features: Features) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A network device whose private data is a `T`.
///
/// Only ever handled by reference (`&Device<T>`, given to callbacks and available from a
/// [`Registration`]) or through [`ARef<Device<T>>`](crate::sync::aref::ARef), which holds a
/// `dev_hold()` reference. Holding such a reference delays the completion of
/// `unregister_netdev()` (it waits for all references): a `T` must not hold one on its own
/// device, and references between devices must be dropped before the devices are unregistered,
/// or unregistration never completes.
///
/// # Invariants
///
/// - `self.0` is a `struct net_device` allocated by [`Builder::<T>::new`]: its `netdev_ops` is
///   `Adapter::<T>::VTABLE`, its private area starts with an initialised, pinned `T` followed
///   (at `Device::<T>::EXTRA_OFFSET`) by a `PrivExtra` and (at `Device::<T>::STATS_OFFSET`)
///   by `num_tx_queues` initialised [`QueueStats`].
/// - A `&Device<T>` only exists while the device is registered, or inside a callback invoked by
///   the networking core (which only invokes them on devices that went through
///   `register_netdevice()` far enough to be visible). Every such device is torn down through
///   `netdev_run_todo()`, which waits for all `dev_hold()` references before the device can be
///   freed, and [`Registration`] frees it only after `unregister_netdev()` returned.
/// - The device never sets `lltx`, `request_ops_lock`, `queue_mgmt_ops` or `net_shaper_ops`.
#[repr(transparent)]
pub struct Device<T: Operations>(Opaque<bindings::net_device>, PhantomData<T>);

// SAFETY: A `net_device` may be referenced from any thread; dropping an `ARef` (`dev_put()`)
// is valid in any context. `T` is `Send + Sync` (bound of `Operations`).
unsafe impl<T: Operations> Send for Device<T> {}

// SAFETY: All `&self` methods are safe to call concurrently from any context as documented on
// each of them (atomic bit operations, locked or RCU-safe C functions, or accesses to `T`, which
// is `Sync`).
unsafe impl<T: Operations> Sync for Device<T> {}

// SAFETY: `dev_hold()`/`dev_put()` maintain the `net_device` reference count. By the type
// invariants, a device reachable through `&Device<T>` is only freed after `netdev_run_todo()` has
// waited for the count to drop back to its base value, so an increment keeps the memory alive
// until the matching decrement.
unsafe impl<T: Operations> AlwaysRefCounted for Device<T> {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::dev_hold(self.as_raw()) }
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference obtained with `inc_ref`.
        unsafe { bindings::dev_put(obj.cast::<bindings::net_device>().as_ptr()) }
    }
}

impl<T: Operations> Device<T> {
    /// Offset of the abstraction's own per-device state within the private area.
    const EXTRA_OFFSET: usize = size_of::<T>().next_multiple_of(align_of::<PrivExtra>());

    /// Offset of the TX queue statistics within the private area.
    const STATS_OFFSET: usize =
        (Self::EXTRA_OFFSET + size_of::<PrivExtra>()).next_multiple_of(align_of::<QueueStats>());

    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `net_device` allocated by [`Builder::<T>::new`] that is
    /// registered, or that the networking core passed to a callback, for the whole of `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `Opaque<net_device>`; the caller
        // guarantees the invariants.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the raw `net_device` pointer.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// Returns the start of the private area of `ndev`.
    ///
    /// # Safety
    ///
    /// `ndev` must be a valid `net_device`.
    #[inline]
    unsafe fn priv_raw(ndev: *mut bindings::net_device) -> *mut u8 {
        // SAFETY: Guaranteed by the caller.
        unsafe { bindings::netdev_priv(ndev) }.cast::<u8>()
    }

    /// The virtqueues of a device registered with [`Registration::new_with_virtqueues`]
    /// (`None` for any other device).
    ///
    /// They live as long as the device is registered: they are deleted after unregistration,
    /// when no callback of the device can run any more.
    #[cfg(CONFIG_VIRTIO = "y")]
    pub fn virtqueues(&self) -> Option<&crate::virtio::virtqueue::Queues<'_>> {
        let p = self.extra().virtqueues.load(crate::sync::atomic::Acquire);
        // SAFETY: `self` is registered or in a callback (type invariant): the pointer, set
        // before registration and cleared only after unregistration, is NULL or a live
        // `Queues` for the whole borrow.
        unsafe { p.as_ref() }
    }

    /// Returns the statistics of TX queue `q` of `ndev`.
    ///
    /// # Safety
    ///
    /// `ndev` must be a device allocated by [`Builder::<T>::new`] and `q < num_tx_queues`.
    #[inline]
    unsafe fn stats_raw(ndev: *mut bindings::net_device, q: u16) -> *mut QueueStats {
        // SAFETY: By the type invariants, `num_tx_queues` `QueueStats` follow `T` in the
        // private area; the caller guarantees `q` is in range.
        unsafe {
            Self::priv_raw(ndev)
                .add(Self::STATS_OFFSET + usize::from(q) * size_of::<QueueStats>())
                .cast::<QueueStats>()
        }
    }

    /// Returns the active features (`dev->features`).
    #[inline]
    pub fn features(&self) -> Features {
        // SAFETY: `features` is a valid, aligned field; writers hold RTNL, lockless readers use
        // `READ_ONCE()` as here.
        Features::from_raw(unsafe { atomic_load(&raw mut (*self.as_raw()).features, Relaxed) })
    }

    /// Whether the device can segment TCP packets (TSO among its `hw_features`): then its
    /// queue statistics report the segmentation counters ([`StatsWriter::add_hw_gso`]).
    ///
    /// [`StatsWriter::add_hw_gso`]: super::stats::StatsWriter::add_hw_gso
    fn can_segment(&self) -> bool {
        // SAFETY: `hw_features` is a valid, aligned field, set before registration and later
        // only under RTNL; lockless readers use `READ_ONCE()` as here.
        let hw = Features::from_raw(unsafe {
            atomic_load(&raw mut (*self.as_raw()).hw_features, Relaxed)
        });
        hw.contains(Feature::Tso) || hw.contains(Feature::Tso6)
    }

    /// Returns the driver's private data.
    #[inline]
    pub fn data(&self) -> &T {
        // SAFETY: The private area starts with an initialised `T` that lives as long as the
        // device (type invariants); it is pinned, and we only hand out a shared reference.
        unsafe { &*Self::priv_raw(self.as_raw()).cast::<T>() }
    }

    /// Returns a copy of the device name (`netdev_copy_name()`), for example `"eth0"`.
    ///
    /// Consistent with concurrent renames (it retries on the rename seqlock). Callable from
    /// process and softirq context, not from hard-IRQ context (it could spin forever on a rename
    /// interrupted on the same CPU).
    pub fn name(&self) -> NetdevName {
        // SAFETY: `self.as_raw()` is a valid `net_device` for the lifetime of `self`.
        unsafe { NetdevName::copy_from(self.as_raw()) }
    }

    /// Returns the current MTU (`READ_ONCE(dev->mtu)`).
    #[inline]
    pub fn mtu(&self) -> u32 {
        // SAFETY: `mtu` is a valid, aligned `unsigned int`; the core and this abstraction update
        // it with `WRITE_ONCE()`.
        unsafe { atomic_load(&raw mut (*self.as_raw()).mtu, Relaxed) }
    }

    /// Returns the number of TX queues allocated.
    #[inline]
    pub fn num_tx_queues(&self) -> u32 {
        // SAFETY: Set by `alloc_etherdev_mqs()` and never changed afterwards.
        unsafe { (*self.as_raw()).num_tx_queues }
    }

    /// Returns `true` if the device is up (`netif_running()`).
    #[inline]
    pub fn is_running(&self) -> bool {
        // SAFETY: `self` is a valid device; this is a `test_bit()`.
        unsafe { bindings::netif_running(self.as_raw()) }
    }

    /// Signals that the link is up (`netif_carrier_on()`). Any context.
    #[inline]
    pub fn carrier_on(&self) {
        // SAFETY: `self` is a valid device; the function only uses atomic bit operations and
        // schedules the link watch work.
        unsafe { bindings::netif_carrier_on(self.as_raw()) }
    }

    /// Signals that the link is down (`netif_carrier_off()`). Any context.
    #[inline]
    pub fn carrier_off(&self) {
        // SAFETY: As in `carrier_on`.
        unsafe { bindings::netif_carrier_off(self.as_raw()) }
    }

    /// Marks the device as no longer present (`netif_device_detach()`): if it is up, every TX
    /// queue is stopped, and the stack no longer transmits on it or runs its TX watchdog. For a
    /// driver's shutdown path. Any context.
    #[inline]
    pub fn detach(&self) {
        // SAFETY: `self` is a valid device; the function only uses atomic bit operations.
        unsafe { bindings::netif_device_detach(self.as_raw()) }
    }

    /// Returns `true` if the link is up (`netif_carrier_ok()`).
    #[inline]
    pub fn carrier_ok(&self) -> bool {
        // SAFETY: `self` is a valid device; this is a `test_bit()`.
        unsafe { bindings::netif_carrier_ok(self.as_raw()) }
    }

    /// Returns TX queue `q`, or `EINVAL` if it does not exist.
    #[inline]
    fn txq(&self, q: u16) -> Result<NonNull<bindings::netdev_queue>> {
        if u32::from(q) >= self.num_tx_queues() {
            return Err(EINVAL);
        }
        // SAFETY: `q < num_tx_queues`, so this is `&dev->_tx[q]`.
        let txq = unsafe { bindings::netdev_get_tx_queue(self.as_raw(), q.into()) };
        NonNull::new(txq).ok_or(EINVAL)
    }

    /// Starts all TX queues (`netif_tx_start_all_queues()`). Any context.
    pub fn start_all_queues(&self) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::netif_tx_start_all_queues(self.as_raw()) }
    }

    /// Stops all TX queues (`netif_tx_stop_all_queues()`). Any context.
    pub fn stop_all_queues(&self) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::netif_tx_stop_all_queues(self.as_raw()) }
    }

    /// Stops all TX queues and waits until no [`Operations::start_xmit`] runs on any of them
    /// (`netif_tx_disable()`, as a driver does before reprogramming its rings).
    ///
    /// Takes each queue's lock: must not be called from hard-IRQ context or with a TX queue
    /// lock held.
    pub fn tx_disable(&self) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::netif_tx_disable(self.as_raw()) }
    }

    /// Wakes all TX queues (`netif_tx_wake_all_queues()`). Any context.
    pub fn wake_all_queues(&self) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::netif_tx_wake_all_queues(self.as_raw()) }
    }

    /// Runs `f` with TX queue `q` locked (`__netif_tx_lock_bh()`), from a control callback
    /// (`_rtnl`); a poll function uses
    /// [`PollContext::with_tx_queue_locked`](super::napi::PollContext::with_tx_queue_locked).
    ///
    /// This serialises `f` with [`Operations::start_xmit`] on that queue and gives access to
    /// the operations that need it: BQL completion and reset, and the queue's statistics.
    /// Fails with `EINVAL` if there is no queue `q`, and with `EDEADLK` if interrupts are
    /// disabled (e.g. under a driver's IRQ-disabling lock), where the BH-disabling queue lock
    /// must not be released.
    ///
    /// The token is borrowed mutably, so that `f` cannot use it: nothing in `f` may sleep.
    ///
    /// ```ignore,compile_fail,E0502
    /// use kernel::net::{dev::{Device, Operations, Rtnl}, napi::Napi};
    ///
    /// fn bad<T: Operations>(dev: &Device<T>, napi: &Napi<T>, rtnl: &mut Rtnl<'_>) {
    ///     let _ = dev.with_tx_queue_locked(rtnl, 0, |_txq| napi.disable(rtnl));
    /// }
    /// ```
    pub fn with_tx_queue_locked<R>(
        &self,
        _rtnl: &mut Rtnl<'_>,
        q: u16,
        f: impl FnOnce(&TxQueue<'_>) -> R,
    ) -> Result<R> {
        self.lock_txq(q, f)
    }

    /// Runs `f` with TX queue `q` locked. The caller is in process or softirq context, not in
    /// `start_xmit` or `tx_timeout` (which hold TX queue locks).
    pub(crate) fn lock_txq<R>(&self, q: u16, f: impl FnOnce(&TxQueue<'_>) -> R) -> Result<R> {
        // SAFETY: Plain FFI call.
        if unsafe { bindings::irqs_disabled() } {
            return Err(EDEADLK);
        }
        let txq = self.txq(q)?;
        // SAFETY: `txq` is a valid queue; the lock is released below.
        unsafe { bindings::__netif_tx_lock_bh(txq.as_ptr()) };
        let r = {
            // SAFETY: We hold the queue's `_xmit_lock` with BH disabled until
            // `__netif_tx_unlock_bh` below, which is after `tx` went out of scope (`f` only
            // borrows it). `q` is in range.
            let tx = unsafe { TxQueue::new(txq, &*Self::stats_raw(self.as_raw(), q), q, false) };
            f(&tx)
        };
        // SAFETY: Locked above.
        unsafe { bindings::__netif_tx_unlock_bh(txq.as_ptr()) };
        Ok(r)
    }

    /// Reports the completion of `pkts` packets / `bytes` bytes on queue `q` to BQL
    /// (`netdev_tx_completed_queue()`), taking the queue lock; see
    /// [`Device::with_tx_queue_locked`].
    pub fn tx_completed(&self, rtnl: &mut Rtnl<'_>, q: u16, pkts: u32, bytes: u32) -> Result {
        self.with_tx_queue_locked(rtnl, q, |txq| txq.completed(pkts, bytes))
    }

    /// Resets the BQL state of queue `q` (`netdev_tx_reset_queue()`), taking the queue lock.
    ///
    /// Typically called from [`Operations::open`] before starting the queue.
    pub fn tx_reset_queue(&self, rtnl: &mut Rtnl<'_>, q: u16) -> Result {
        self.with_tx_queue_locked(rtnl, q, |txq| txq.reset())
    }

    /// Returns the statistics of TX queue `q` (for reading), if it exists.
    pub fn tx_queue_stats(&self, q: u16) -> Option<&QueueStats> {
        if u32::from(q) >= self.num_tx_queues() {
            return None;
        }
        // SAFETY: `q` is in range; the stats live as long as the device (type invariants).
        Some(unsafe { &*Self::stats_raw(self.as_raw(), q) })
    }

    /// Returns the sum of the statistics of all TX queues.
    pub fn tx_stats_total(&self) -> QueueStatsSnapshot {
        let mut total = QueueStatsSnapshot::default();
        let mut q = 0u16;
        while let Some(s) = self.tx_queue_stats(q) {
            total.accumulate(&s.read());
            q = match q.checked_add(1) {
                Some(q) => q,
                None => break,
            };
        }
        total
    }
}

#[macros::kunit_tests(rust_net_dev)]
mod tests {
    use super::*;
    use crate::{
        device, faux,
        sync::atomic::{Atomic, Relaxed as R},
    };

    /// A device that drops everything and records when its private data is dropped.
    struct Probe(&'static Atomic<bool>);

    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.store(true, R);
        }
    }

    #[vtable]
    impl Operations for Probe {
        fn start_xmit(_dev: &Device<Self>, _txq: &TxQueue<'_>, _skb: SkBuff) -> NetdevTx {
            NetdevTx::Ok
        }
    }

    fn probe_device(
        parent: &device::Device<device::Bound>,
        flag: &'static Atomic<bool>,
    ) -> Result<Registration<'static, Probe>> {
        let mut b = Builder::new(1, 1, Probe(flag))?;
        b.set_name(c"rndtest%d")?;
        b.set_random_mac_address();
        Registration::new(parent, b)
    }

    /// A leaked registration is torn down (unregistered, `T` dropped, freed) when its parent
    /// unbinds, not left registered with callbacks into code that may be unloaded.
    ///
    /// The handle is kept undropped across the unbind, as a leaked one would be, and dropped
    /// afterwards, which then only releases the handle's own memory and its reference to the
    /// parent (a `mem::forget` would leak those for good, and kmemleak would report them).
    #[test]
    fn leaked_registration_ends_with_parent() -> Result {
        static DROPPED: Atomic<bool> = Atomic::new(false);
        let faux = faux::Registration::new(c"rust_net_dev_leak", None)?;
        let reg = core::mem::ManuallyDrop::new(probe_device(faux.as_ref().as_ref(), &DROPPED)?);
        assert!(!DROPPED.load(R));
        drop(faux);
        assert!(DROPPED.load(R));
        drop(core::mem::ManuallyDrop::into_inner(reg));
        Ok(())
    }

    /// The functions that dereference `skb->dev` only run on a packet of the queue's device:
    /// a packet whose `skb->dev` is anything else (here NULL, as a stale pointer would be) is
    /// refused, not dereferenced.
    #[test]
    fn tx_helpers_check_the_packet_device() -> Result {
        static DROPPED: Atomic<bool> = Atomic::new(false);
        let faux = faux::Registration::new(c"rust_net_dev_skb", None)?;
        let parent = faux.as_ref().as_ref();
        let reg = probe_device(parent, &DROPPED)?;
        let dev = reg.access(parent)?;
        // SAFETY: Plain FFI call; the skb is freed by `SkBuff`'s `Drop`.
        let raw =
            unsafe { bindings::__alloc_skb(128, bindings::GFP_KERNEL, 0, bindings::NUMA_NO_NODE) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: A fresh skb: one reference, on no list.
        let mut skb = unsafe { SkBuff::from_raw(raw) };
        assert!(skb.dev_raw().is_null());
        // SAFETY: We take RTNL for the token's lifetime, in process context.
        unsafe { bindings::rtnl_lock() };
        {
            // SAFETY: RTNL is held, in process context, until after the token is dropped.
            let mut rtnl = unsafe { Rtnl::assume_held() };
            let res = dev.with_tx_queue_locked(&mut rtnl, 0, |txq| {
                txq.tx_timestamp(&mut skb);
                txq.checksum_help(&mut skb)
            })?;
            assert_eq!(res, Err(EINVAL));
            assert_eq!(
                dev.with_tx_queue_locked(&mut rtnl, 1, |_| ())
                    .map_err(|e| e.to_errno()),
                Err(EINVAL.to_errno())
            );
        }
        // SAFETY: Taken above.
        unsafe { bindings::rtnl_unlock() };
        drop(skb);
        drop(reg);
        assert!(DROPPED.load(R));
        Ok(())
    }

    #[test]
    fn mac_address_validation() {
        assert!(MacAddress::new([0x52, 0x54, 0, 0x12, 0x34, 0x56]).is_ok());
        // Multicast and broadcast are not station addresses.
        assert!(MacAddress::new([0x01, 0, 0x5e, 0, 0, 1]).is_err());
        assert!(MacAddress::new([0xff; ETH_ALEN]).is_err());
        // Neither is zero.
        assert!(MacAddress::new([0; ETH_ALEN]).is_err());
        let r = MacAddress::random();
        assert!(r.is_local());
        assert!(MacAddress::is_valid(r.as_bytes()));
    }

    #[test]
    fn feature_flags() {
        let f = Feature::Sg | Feature::Tso | Feature::HwCsum;
        assert_eq!(
            u64::from(f),
            (1 << bindings::NETIF_F_SG_BIT)
                | (1 << bindings::NETIF_F_TSO_BIT)
                | (1 << bindings::NETIF_F_HW_CSUM_BIT)
        );
        assert!(f.contains(Feature::Sg));
        assert!(!f.contains_all(Feature::Sg | Feature::Tso6));
        assert_eq!((f & !Feature::Tso) & Feature::Tso, Features::empty());
    }

    /// What the core passes to `ndo_fix_features`/`ndo_set_features` reaches the driver without
    /// the features it cannot honour, and the driver's answer cannot add them.
    #[test]
    fn features_from_core_are_masked() {
        let filter = 1u64 << bindings::NETIF_F_HW_VLAN_CTAG_FILTER_BIT;
        let l2fw = 1u64 << bindings::NETIF_F_HW_L2FW_DOFFLOAD_BIT;
        let gro = 1u64 << bindings::NETIF_F_GRO_BIT;
        let sg = 1u64 << bindings::NETIF_F_SG_BIT;
        let core = filter | l2fw | gro | sg;

        let seen = Features::from_raw(core);
        assert_eq!(seen, Features::from(Feature::Sg));
        // `!` stays within the known features.
        assert_eq!(u64::from(!Features::empty()) & (filter | l2fw | gro), 0);

        // The driver keeps everything it was given: the core's own GRO stays, and the
        // unhonourable bits only pass through where the core itself set them.
        assert_eq!(Features::merge_into(core, seen), core);
        // The driver drops SG: only SG changes.
        assert_eq!(
            Features::merge_into(core, seen & !Feature::Sg),
            filter | l2fw | gro
        );
        // Whatever the driver answers, it cannot add a bit outside `Feature`.
        assert_eq!(
            Features::merge_into(gro, !Features::empty()) & (filter | l2fw),
            0
        );
    }
}
