// SPDX-License-Identifier: GPL-2.0

//! Network devices (`struct net_device`).
//!
//! A driver describes its device with a type `T` implementing [`Operations`]. An instance of `T`
//! lives, pinned, in the private area of an Ethernet `net_device` (`netdev_priv()`):
//!
//! 1. [`Builder::new`] allocates the device (`alloc_etherdev_mqs()`) and pin-initialises `T`
//!    in place; the builder can then set the name, MAC address and MTU limits while the device is
//!    still private to the driver.
//! 2. [`Registration::new`] registers it (`register_netdev()`). From then on the networking core
//!    calls the [`Operations`] callbacks, each with a shared [`&Device<T>`](Device), from which
//!    the driver reaches its `T` with [`Device::data`]. Callbacks run concurrently with each
//!    other (transmit on every queue, statistics under RCU only, NAPI polls, control operations
//!    under RTNL), so they never get `&mut` access: `T` uses interior mutability where needed.
//! 3. Dropping the [`Registration`] unregisters the device (`unregister_netdev()`, which calls
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
//! use kernel::net::dev::{self, Builder, Device, NetdevTx, Registration, TxQueue};
//! use kernel::net::{skb::SkBuff, stats::RtnlLinkStats64};
//! use kernel::prelude::*;
//!
//! struct Blackhole;
//!
//! #[vtable]
//! impl dev::Operations for Blackhole {
//!     fn open(dev: &Device<Self>, _ctx: &dev::OpenContext<'_, Self>) -> Result {
//!         dev.start_all_queues();
//!         dev.carrier_on();
//!         Ok(())
//!     }
//!
//!     fn stop(dev: &Device<Self>) {
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
//! fn create() -> Result<Registration<'static, Blackhole>> {
//!     let mut b = Builder::new(1, 1, Blackhole)?;
//!     b.set_name(c"bh%d")?;
//!     b.set_random_mac_address();
//!     b.set_mtu_limits(dev::ETH_MIN_MTU, 9000)?;
//!     b.carrier_off();
//!     Registration::new(None, b)
//! }
//! # let _ = create;
//! ```

use crate::{
    bindings, device,
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    fmt,
    irq::IrqReturn,
    net::{
        skb::SkBuff,
        stats::{
            QueueStats,
            QueueStatsSnapshot,
            RtnlLinkStats64,
            StatsWriter, //
        },
    },
    pci, pr_warn_once,
    prelude::*,
    sync::{
        aref::AlwaysRefCounted,
        atomic::{
            atomic_load,
            atomic_store,
            Atomic,
            Relaxed, //
        },
    },
    types::{
        NotThreadSafe,
        Opaque,
        ScopeGuard, //
    },
};
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::Deref,
    ptr::NonNull, //
};

/// Length of an Ethernet (MAC) address.
pub const ETH_ALEN: usize = bindings::ETH_ALEN as usize;
/// Minimum MTU of an Ethernet device (68, RFC 791).
pub const ETH_MIN_MTU: u32 = bindings::ETH_MIN_MTU;
/// Default MTU of an Ethernet device (1500).
pub const ETH_DATA_LEN: u32 = bindings::ETH_DATA_LEN;
/// Largest MTU the core accepts (65535).
pub const ETH_MAX_MTU: u32 = bindings::ETH_MAX_MTU;

const IFNAMSIZ: usize = bindings::IFNAMSIZ as usize;

/// A set of device features (`netdev_features_t`, the `NETIF_F_*` bits).
///
/// # Examples
///
/// ```
/// use kernel::net::dev::Features;
///
/// let hw = Features::SG | Features::IP_CSUM | Features::RXCSUM;
/// assert!(hw.contains(Features::SG | Features::RXCSUM));
/// assert!(!hw.contains(Features::TSO));
/// assert_eq!(hw - Features::SG, Features::IP_CSUM | Features::RXCSUM);
/// assert!((hw & Features::TSO).is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
#[repr(transparent)]
pub struct Features(u64);

macro_rules! features {
    ($($(#[$m:meta])* $name:ident = $bit:ident;)*) => {
        impl Features {
            $($(#[$m])* pub const $name: Self = Self(1 << bindings::$bit as u64);)*
        }
    };
}

features! {
    /// Scatter-gather I/O.
    SG = NETIF_F_SG_BIT;
    /// TX checksum of TCP/UDP over IPv4.
    IP_CSUM = NETIF_F_IP_CSUM_BIT;
    /// TX checksum of everything (`CHECKSUM_PARTIAL` with any start and offset).
    HW_CSUM = NETIF_F_HW_CSUM_BIT;
    /// TX checksum of TCP/UDP over IPv6.
    IPV6_CSUM = NETIF_F_IPV6_CSUM_BIT;
    /// DMA to high memory.
    HIGHDMA = NETIF_F_HIGHDMA_BIT;
    /// VLAN tag insertion on TX.
    HW_VLAN_CTAG_TX = NETIF_F_HW_VLAN_CTAG_TX_BIT;
    /// VLAN tag stripping on RX.
    HW_VLAN_CTAG_RX = NETIF_F_HW_VLAN_CTAG_RX_BIT;
    /// VLAN filtering on RX.
    HW_VLAN_CTAG_FILTER = NETIF_F_HW_VLAN_CTAG_FILTER_BIT;
    /// TCP segmentation offload over IPv4.
    TSO = NETIF_F_TSO_BIT;
    /// TCP segmentation offload over IPv6.
    TSO6 = NETIF_F_TSO6_BIT;
    /// RX checksum offload.
    RXCSUM = NETIF_F_RXCSUM_BIT;
    /// Deliver frames with bad FCS or errors too.
    RXALL = NETIF_F_RXALL_BIT;
    /// Keep the FCS on received frames.
    RXFCS = NETIF_F_RXFCS_BIT;
}

impl Features {
    /// No feature.
    pub const EMPTY: Self = Self(0);

    /// Creates a set from raw `NETIF_F_*` bits.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// Returns the raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Returns `true` if every feature of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns `true` if the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Features {
    type Output = Self;
    fn bitor(self, o: Self) -> Self {
        Self(self.0 | o.0)
    }
}

impl core::ops::BitAnd for Features {
    type Output = Self;
    fn bitand(self, o: Self) -> Self {
        Self(self.0 & o.0)
    }
}

impl core::ops::Sub for Features {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self(self.0 & !o.0)
    }
}

/// The receive filter state, given to [`Operations::set_rx_mode`].
///
/// # Invariants
///
/// `dev` is in `ndo_set_rx_mode`: its address lists are locked (`netif_addr_lock_bh()`) for
/// `'a`.
pub struct RxMode<'a> {
    dev: *mut bindings::net_device,
    _p: PhantomData<&'a ()>,
    _not_send: NotThreadSafe,
}

impl RxMode<'_> {
    fn flags(&self) -> u32 {
        // SAFETY: `dev` is valid (type invariant); `flags` is only changed under RTNL, which
        // `dev_set_rx_mode()` callers hold, or read racily as the C drivers do.
        unsafe { (*self.dev).flags }
    }

    /// Promiscuous mode (`IFF_PROMISC`).
    pub fn promisc(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_PROMISC != 0
    }

    /// All-multicast mode (`IFF_ALLMULTI`).
    pub fn allmulti(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_ALLMULTI != 0
    }

    /// Number of multicast addresses subscribed (`netdev_mc_count()`).
    pub fn mc_count(&self) -> usize {
        // SAFETY: The list is locked (type invariant).
        unsafe { (*self.dev).mc.count as usize }
    }

    /// Calls `f` with each subscribed multicast address (`netdev_for_each_mc_addr()`).
    pub fn for_each_mc(&self, mut f: impl FnMut(&[u8; ETH_ALEN])) {
        // SAFETY: The list is locked for `'a` (type invariant), so its entries stay valid while
        // we walk it; each entry is a `netdev_hw_addr` linked through its `list` member, whose
        // `addr` holds at least `ETH_ALEN` bytes for an Ethernet device.
        unsafe {
            let head = &raw mut (*self.dev).mc.list;
            let mut pos = (*head).next;
            while pos != head {
                let ha = crate::container_of!(pos, bindings::netdev_hw_addr, list);
                let addr = &*(&raw const (*ha).addr).cast::<[u8; ETH_ALEN]>();
                f(addr);
                pos = (*pos).next;
            }
        }
    }
}

/// A valid unicast Ethernet address.
///
/// # Invariants
///
/// The address is not multicast (bit 0 of the first byte is clear) and not all-zero, i.e.
/// `is_valid_ether_addr()` holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct MacAddress([u8; ETH_ALEN]);

impl MacAddress {
    /// Returns `true` if `addr` is a valid unicast address (`is_valid_ether_addr()`).
    pub const fn is_valid(addr: &[u8; ETH_ALEN]) -> bool {
        if addr[0] & 1 != 0 {
            return false;
        }
        let mut i = 0;
        while i < ETH_ALEN {
            if addr[i] != 0 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Creates an address, failing with `EADDRNOTAVAIL` if it is multicast or zero.
    pub const fn new(addr: [u8; ETH_ALEN]) -> Result<Self> {
        if Self::is_valid(&addr) {
            // INVARIANT: Just checked.
            Ok(Self(addr))
        } else {
            Err(EADDRNOTAVAIL)
        }
    }

    /// Creates a random, locally administered unicast address (`eth_random_addr()`).
    pub fn random() -> Self {
        let mut addr = [0u8; ETH_ALEN];
        // SAFETY: `addr` is valid for `ETH_ALEN` bytes of writes.
        unsafe { bindings::eth_random_addr(addr.as_mut_ptr()) };
        // INVARIANT: `eth_random_addr()` clears the multicast bit and sets the local bit.
        Self(addr)
    }

    /// Returns the address bytes.
    pub const fn as_bytes(&self) -> &[u8; ETH_ALEN] {
        &self.0
    }

    /// Returns `true` if the address is locally administered.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 2 != 0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            a[0], a[1], a[2], a[3], a[4], a[5]
        )
    }
}

/// A copy of a device name, taken consistently with concurrent renames.
pub struct NetdevName([u8; IFNAMSIZ]);

impl NetdevName {
    /// Copies the name of `ndev` (`netdev_copy_name()`).
    ///
    /// Not generic, so that it is compiled into the kernel crate: `netdev_copy_name()` is not
    /// exported to modules.
    ///
    /// # Safety
    ///
    /// `ndev` must point to a valid `net_device`.
    #[inline(never)]
    #[doc(hidden)]
    pub unsafe fn copy_from(ndev: *mut bindings::net_device) -> Self {
        let mut buf = [0u8; IFNAMSIZ];
        // SAFETY: `buf` has room for `IFNAMSIZ` bytes; `ndev` is valid (safety requirement);
        // `netdev_copy_name()` reads the name under the rename seqlock and always
        // NUL-terminates.
        unsafe { bindings::netdev_copy_name(ndev, buf.as_mut_ptr().cast()) };
        Self(buf)
    }

    /// Returns the name as a C string.
    pub fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }
}

impl fmt::Display for NetdevName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_cstr(), f)
    }
}

/// Result of [`Operations::start_xmit`].
pub enum NetdevTx {
    /// The driver took care of the packet (sent, queued or dropped it). `NETDEV_TX_OK`.
    Ok,
    /// The queue is full: the core keeps the packet and retries later. `NETDEV_TX_BUSY`.
    ///
    /// Must carry back the very skb that was passed to `start_xmit`, and the driver should have
    /// stopped the queue. If a different skb is returned it is freed, the packet counted as
    /// dropped, and `NETDEV_TX_OK` returned (the core only knows the original pointer).
    Busy(SkBuff),
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
    _not_send: NotThreadSafe,
}

impl<'a, T: Operations> OpenContext<'a, T> {
    /// Returns the device being opened.
    #[inline]
    pub fn device(&self) -> &'a Device<T> {
        self.dev
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
    fn open(_dev: &Device<Self>, _ctx: &OpenContext<'_, Self>) -> Result {
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
    fn stop(_dev: &Device<Self>) {}

    /// Transmits `skb` on queue `txq` (`ndo_start_xmit`).
    ///
    /// Called with BH disabled (with interrupts disabled under netpoll) and with `txq`'s
    /// `_xmit_lock` held, so it never runs concurrently with itself for the same queue. Must not
    /// call [`Device::with_tx_queue_locked`], [`Device::tx_completed`] or
    /// [`Device::tx_reset_queue`] for `txq` (use the [`TxQueue`] methods instead).
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
    fn change_mtu(_dev: &Device<Self>, _new_mtu: u32) -> Result {
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
    /// Called from the watchdog timer (softirq) with all TX queues locked (`netif_tx_lock()`):
    /// must not call [`Device::with_tx_queue_locked`] and friends.
    fn tx_timeout(_dev: &Device<Self>, _txqueue: u32) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Resets a running device: called in process context with RTNL held, from the work item
    /// that [`Device::schedule_reset`] queues (typically from [`Operations::tx_timeout`], which
    /// runs in softirq context and cannot sleep). Not called if the device is down by then.
    fn reset(_dev: &Device<Self>) -> Result {
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

/// State the abstractions keep per device, after `T` in the private area.
///
/// # Invariants
///
/// - Zero is a valid value of `ethtool_stats` (the private area starts zeroed).
/// - `reset_work` and `ndev` are initialised by [`Builder::new`] before `T`, and `ndev` is the
///   device whose private area holds this `PrivExtra`. The work item is idle when the device
///   is freed (`Registration` and `Builder` cancel it first).
#[repr(C)]
pub(crate) struct PrivExtra {
    /// Number of `ETH_SS_STATS` strings last reported to the core by `get_sset_count`, which
    /// sized the buffer `get_strings` fills (both run under RTNL).
    pub(crate) ethtool_stats: Atomic<u32>,
    /// Runs [`Operations::reset`] (see [`Device::schedule_reset`]).
    reset_work: Opaque<bindings::work_struct>,
    ndev: *mut bindings::net_device,
}

impl PrivExtra {
    /// Initialises `reset_work` and `ndev` of the (zeroed) `PrivExtra` of `ndev`.
    ///
    /// # Safety
    ///
    /// `ndev` is a device made by [`Builder::new`] for `T`, not yet visible to anyone else.
    unsafe fn init<T: Operations>(ndev: *mut bindings::net_device) {
        let key = crate::static_lock_class!();
        // SAFETY: The private area holds a zeroed `PrivExtra` at `EXTRA_OFFSET` (caller).
        let extra = unsafe { Device::<T>::priv_raw(ndev).add(Device::<T>::EXTRA_OFFSET) }
            .cast::<PrivExtra>();
        // SAFETY: `extra` is valid and exclusively ours; the work item is not in use.
        unsafe {
            (*extra).ndev = ndev;
            bindings::init_work_with_key(
                (*extra).reset_work.get(),
                Some(Self::reset_work_fn::<T>),
                false,
                c"net::dev::reset".as_char_ptr(),
                key.as_ptr(),
            );
        }
    }

    /// # Safety
    ///
    /// Only called by the workqueue for the `reset_work` of a `PrivExtra` of a `Device<T>`.
    unsafe extern "C" fn reset_work_fn<T: Operations>(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the `reset_work` of a live `PrivExtra` (caller; the device is not
        // freed before the work item is cancelled).
        let ndev = unsafe {
            (*crate::container_of!(Opaque::cast_from(work).cast_mut(), PrivExtra, reset_work)).ndev
        };
        // SAFETY: Plain FFI call; RTNL serialises us with `ndo_open`/`ndo_stop` and with
        // unregistration, after which the device is not running.
        unsafe { bindings::rtnl_lock() };
        // SAFETY: `ndev` is valid (see above).
        if T::HAS_RESET && unsafe { bindings::netif_running(ndev) } {
            // SAFETY: The device is registered and up, so it and its `T` are live.
            let dev = unsafe { Device::<T>::from_raw(ndev) };
            if let Err(e) = T::reset(dev) {
                crate::pr_err!("net: device reset failed: {:?}\n", e);
            }
        }
        // SAFETY: Taken above.
        unsafe { bindings::rtnl_unlock() };
    }

    /// Waits for a running reset and cancels a pending one.
    fn cancel_reset(&self) {
        // SAFETY: `reset_work` is initialised (type invariant); may sleep, we are in process
        // context without RTNL (the work item takes it).
        unsafe { bindings::cancel_work_sync(self.reset_work.get()) };
    }
}

impl<T: Operations> Device<T> {
    /// Offset of the abstraction's own per-device state within the private area.
    const EXTRA_OFFSET: usize = size_of::<T>().next_multiple_of(align_of::<PrivExtra>());

    /// Offset of the TX queue statistics within the private area.
    const STATS_OFFSET: usize =
        (Self::EXTRA_OFFSET + size_of::<PrivExtra>()).next_multiple_of(align_of::<QueueStats>());

    /// Schedules [`Operations::reset`] to run soon in process context (on the system's unbound
    /// workqueue, `system_dfl_wq`). Any context. Returns `false` if a reset was already pending or the driver
    /// has no `reset`.
    pub fn schedule_reset(&self) -> bool {
        if !T::HAS_RESET {
            return false;
        }
        // SAFETY: `reset_work` is initialised (type invariant of `PrivExtra`) and is cancelled
        // before the device is freed; `system_wq` always exists.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int,
                bindings::system_dfl_wq,
                self.extra().reset_work.get(),
            )
        }
    }

    /// Returns the abstraction's per-device state.
    #[inline]
    pub(crate) fn extra(&self) -> &PrivExtra {
        // SAFETY: By the type invariants the private area holds `T`, then (at `EXTRA_OFFSET`,
        // which is suitably aligned as the area is cacheline aligned) a zero-initialised
        // `PrivExtra`, valid as zero, that lives as long as the device; only shared
        // references to it exist and its fields are atomic.
        unsafe {
            &*Self::priv_raw(self.as_raw())
                .add(Self::EXTRA_OFFSET)
                .cast::<PrivExtra>()
        }
    }

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
        Features(unsafe { atomic_load(&raw mut (*self.as_raw()).features, Relaxed) })
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

    /// Returns the number of RX queues allocated.
    #[inline]
    pub fn num_rx_queues(&self) -> u32 {
        // SAFETY: Set by `alloc_etherdev_mqs()` and never changed afterwards.
        unsafe { (*self.as_raw()).num_rx_queues }
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

    /// Allows the stack to transmit on queue `q` (`netif_tx_start_queue()`). Any context.
    pub fn start_queue(&self, q: u16) -> Result {
        let txq = self.txq(q)?;
        // SAFETY: `txq` is a valid queue of this device; this is a `clear_bit()`.
        unsafe { bindings::netif_tx_start_queue(txq.as_ptr()) };
        Ok(())
    }

    /// Stops the stack from transmitting on queue `q` (`netif_tx_stop_queue()`). Any context.
    pub fn stop_queue(&self, q: u16) -> Result {
        let txq = self.txq(q)?;
        // SAFETY: `txq` is a valid queue of this device; this is a `set_bit()` with barriers.
        unsafe { bindings::netif_tx_stop_queue(txq.as_ptr()) };
        Ok(())
    }

    /// Restarts queue `q` and reschedules its qdisc (`netif_tx_wake_queue()`). Any context.
    pub fn wake_queue(&self, q: u16) -> Result {
        let txq = self.txq(q)?;
        // SAFETY: `txq` is a valid queue of this device; `netif_tx_wake_queue()` is valid in any
        // context.
        unsafe { bindings::netif_tx_wake_queue(txq.as_ptr()) };
        Ok(())
    }

    /// Returns `true` if the driver stopped queue `q` (`netif_tx_queue_stopped()`).
    pub fn queue_stopped(&self, q: u16) -> Result<bool> {
        let txq = self.txq(q)?;
        // SAFETY: `txq` is a valid queue of this device; this is a `test_bit()`.
        Ok(unsafe { bindings::netif_tx_queue_stopped(txq.as_ptr()) })
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

    /// Runs `f` with TX queue `q` locked (`__netif_tx_lock_bh()`).
    ///
    /// This serialises `f` with [`Operations::start_xmit`] on that queue and gives access to
    /// the operations that need it: BQL completion and reset, and the queue's statistics.
    ///
    /// Must not be called from hard-IRQ context, from [`Operations::tx_timeout`], or while
    /// queue `q` is already locked by this CPU (e.g. from `start_xmit` on `q`): that deadlocks.
    pub fn with_tx_queue_locked<R>(&self, q: u16, f: impl FnOnce(&TxQueue<'_>) -> R) -> Result<R> {
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
    /// (`netdev_tx_completed_queue()`), taking the queue lock.
    ///
    /// See [`TxQueue::completed`] and [`Device::with_tx_queue_locked`] for the context rules.
    pub fn tx_completed(&self, q: u16, pkts: u32, bytes: u32) -> Result {
        self.with_tx_queue_locked(q, |txq| txq.completed(pkts, bytes))
    }

    /// Resets the BQL state of queue `q` (`netdev_tx_reset_queue()`), taking the queue lock.
    ///
    /// Typically called from [`Operations::open`] before starting the queue.
    pub fn tx_reset_queue(&self, q: u16) -> Result {
        self.with_tx_queue_locked(q, |txq| txq.reset())
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

/// A locked TX queue.
///
/// Passed to [`Operations::start_xmit`] (the core holds the lock) and to the closure of
/// [`Device::with_tx_queue_locked`].
///
/// # Invariants
///
/// For the lifetime `'a`, the current CPU holds `txq->_xmit_lock` with BH (or interrupts)
/// disabled; `txq` is queue `index` of a device created by [`Builder`] and `stats` are that
/// queue's statistics.
pub struct TxQueue<'a> {
    txq: NonNull<bindings::netdev_queue>,
    stats: &'a QueueStats,
    index: u16,
    /// Obtained in `ndo_start_xmit`, where `netdev_xmit_more()` is meaningful.
    in_xmit: bool,
    _not_send: NotThreadSafe,
}

impl<'a> TxQueue<'a> {
    /// # Safety
    ///
    /// The caller must uphold the type invariants for `'a`.
    #[inline]
    unsafe fn new(
        txq: NonNull<bindings::netdev_queue>,
        stats: &'a QueueStats,
        index: u16,
        in_xmit: bool,
    ) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            txq,
            stats,
            index,
            in_xmit,
            _not_send: NotThreadSafe,
        }
    }

    /// Returns the queue index.
    #[inline]
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Stops the queue (`netif_tx_stop_queue()`).
    #[inline]
    pub fn stop(&self) {
        // SAFETY: `txq` is valid (type invariant).
        unsafe { bindings::netif_tx_stop_queue(self.txq.as_ptr()) }
    }

    /// Starts the queue without rescheduling the qdisc (`netif_tx_start_queue()`).
    #[inline]
    pub fn start(&self) {
        // SAFETY: `txq` is valid (type invariant).
        unsafe { bindings::netif_tx_start_queue(self.txq.as_ptr()) }
    }

    /// Restarts the queue and reschedules its qdisc (`netif_tx_wake_queue()`).
    #[inline]
    pub fn wake(&self) {
        // SAFETY: `txq` is valid (type invariant).
        unsafe { bindings::netif_tx_wake_queue(self.txq.as_ptr()) }
    }

    /// Returns `true` if the driver stopped the queue.
    #[inline]
    pub fn is_stopped(&self) -> bool {
        // SAFETY: `txq` is valid (type invariant).
        unsafe { bindings::netif_tx_queue_stopped(self.txq.as_ptr()) }
    }

    /// Reports `bytes` queued for transmission to BQL (`netdev_tx_sent_queue()`).
    ///
    /// May stop the queue (`__QUEUE_STATE_STACK_XOFF`) until enough completions are reported.
    /// `bytes` must be reported again, exactly, through [`TxQueue::completed`] or
    /// [`Device::tx_completed`] once the packet is done.
    #[inline]
    pub fn sent(&self, bytes: u32) {
        // SAFETY: `txq` is valid and its lock is held (type invariant), which serialises
        // `dql_queued()` with the other BQL calls of this abstraction.
        unsafe { bindings::netdev_tx_sent_queue(self.txq.as_ptr(), bytes) }
    }

    /// Like [`TxQueue::sent`], and tells whether the driver must notify the device (write its
    /// doorbell/tail register) now (`__netdev_tx_sent_queue()` with `netdev_xmit_more()`).
    ///
    /// Returns `false` when the stack is about to hand over more packets for this queue
    /// (`xmit_more`) and the queue has not been stopped: the driver may then defer the
    /// notification to the last packet of the batch, saving a register write per packet. The
    /// stack guarantees another `start_xmit` call in that case. Outside `start_xmit` there is no
    /// batch: always `true`.
    #[inline]
    pub fn sent_batched(&self, bytes: u32) -> bool {
        self.sent_with_more(bytes, self.xmit_more())
    }

    /// Whether the stack hands over more packets right after the current one
    /// (`netdev_xmit_more()`); `false` outside `start_xmit`.
    #[inline]
    pub fn xmit_more(&self) -> bool {
        // SAFETY: In `ndo_start_xmit` (`in_xmit`), `netdev_xmit_more()` reads the per-CPU flag the
        // core set for the current call (we hold the queue lock, BH disabled).
        self.in_xmit && unsafe { bindings::netdev_xmit_more() }
    }

    #[inline]
    fn sent_with_more(&self, bytes: u32, more: bool) -> bool {
        // SAFETY: As in `sent`.
        unsafe { bindings::__netdev_tx_sent_queue(self.txq.as_ptr(), bytes, more) }
    }

    /// Reports completed packets to BQL (`netdev_tx_completed_queue()`).
    ///
    /// Call at most once per completion round. `bytes` is clamped to what is in flight, so a
    /// miscount cannot trigger the `BUG_ON()` in `dql_completed()`.
    pub fn completed(&self, pkts: u32, bytes: u32) {
        #[cfg(CONFIG_BQL)]
        let bytes = {
            // SAFETY: `txq` is valid and its lock is held (type invariant). All writers of these
            // fields (`dql_queued()`, `dql_completed()`, `dql_reset()`) are only reached from
            // this abstraction with the same lock held, so the read is not racy.
            let inflight = unsafe {
                let dql = &raw const (*self.txq.as_ptr()).dql;
                (*dql).num_queued.wrapping_sub((*dql).num_completed)
            };
            if bytes > inflight {
                pr_warn_once!(
                    "BQL: completed {} bytes with {} in flight\n",
                    bytes,
                    inflight
                );
            }
            bytes.min(inflight)
        };
        // SAFETY: `txq` is valid and its lock is held (type invariant), so completions of this
        // queue are serialised; `bytes` does not exceed the bytes in flight.
        unsafe { bindings::netdev_tx_completed_queue(self.txq.as_ptr(), pkts, bytes) }
    }

    /// Resets the BQL state of the queue (`netdev_tx_reset_queue()`).
    #[inline]
    pub fn reset(&self) {
        // SAFETY: `txq` is valid and its lock is held (type invariant).
        unsafe { bindings::netdev_tx_reset_queue(self.txq.as_ptr()) }
    }

    /// Returns write access to the statistics of this queue.
    #[inline]
    pub fn stats(&self) -> StatsWriter<'_> {
        // SAFETY: The queue's statistics are only written through a `TxQueue`, which only exists
        // with the queue lock held (type invariant): there is one writer at a time, in a
        // non-preemptible context. Several writers created from `&self` on this thread never
        // interleave inside an update.
        unsafe { StatsWriter::new(self.stats) }
    }
}

/// An allocated, not (yet) registered network device with private data `T`.
///
/// Dropping it drops `T` and frees the device.
///
/// # Invariants
///
/// `ndev` is a device allocated by [`Builder::<T>::new`] (see [`Device`]) that is not
/// registered and that nothing else references.
pub struct Builder<T: Operations> {
    ndev: NonNull<bindings::net_device>,
    _t: PhantomData<T>,
}

// SAFETY: The builder exclusively owns the device and its `T`, which is `Send`.
unsafe impl<T: Operations> Send for Builder<T> {}

// SAFETY: `&Builder` only gives `&T` (and `T: Sync`).
unsafe impl<T: Operations> Sync for Builder<T> {}

impl<T: Operations> Builder<T> {
    /// Allocates an Ethernet device with `txqs` TX and `rxqs` RX queues
    /// (`alloc_etherdev_mqs()`) and initialises its private data with `data`.
    ///
    /// The device is named `eth%d` unless [`Builder::set_name`] is used, has a zero MAC address
    /// unless one is set, an MTU of 1500 and MTU limits 68..=1500. Must be called from process
    /// context.
    pub fn new<E>(txqs: u32, rxqs: u32, data: impl PinInit<T, E>) -> Result<Self>
    where
        Error: From<E>,
    {
        if txqs == 0 || rxqs == 0 || txqs > u32::from(u16::MAX) {
            return Err(EINVAL);
        }
        let size = size_of::<QueueStats>()
            .checked_mul(txqs as usize)
            .and_then(|s| s.checked_add(Device::<T>::STATS_OFFSET))
            .ok_or(EINVAL)?;
        let size = c_int::try_from(size).map_err(|_| EINVAL)?;

        // SAFETY: Plain FFI call; returns a zeroed device with a zeroed private area or NULL.
        let ndev = unsafe { bindings::alloc_etherdev_mqs(size, txqs, rxqs) };
        let ndev = NonNull::new(ndev).ok_or(ENOMEM)?;
        let guard = ScopeGuard::new(|| {
            // SAFETY: The device is not registered and nothing else references it; at this
            // point `T` is not (or no longer) initialised.
            unsafe { bindings::free_netdev(ndev.as_ptr()) }
        });

        // SAFETY: `ndev` is valid.
        let priv_ = unsafe { Device::<T>::priv_raw(ndev.as_ptr()) };
        // `priv` is cacheline aligned in `struct net_device`; check anyway, as `T` may ask for
        // more.
        if (priv_ as usize) % align_of::<T>() != 0
            || (priv_ as usize) % align_of::<QueueStats>() != 0
            || (priv_ as usize) % align_of::<PrivExtra>() != 0
        {
            return Err(EINVAL);
        }

        // SAFETY: `ndev` was just made for `T` and is ours.
        unsafe { PrivExtra::init::<T>(ndev.as_ptr()) };

        for q in 0..txqs {
            // SAFETY: The private area has room for `txqs` stats after `T` (see `size`), `q` is
            // in range and the slot is suitably aligned; the memory never moves.
            let slot = unsafe { Device::<T>::stats_raw(ndev.as_ptr(), q as u16) };
            // SAFETY: `slot` is valid for writes and pinned.
            match unsafe { QueueStats::new().__init(slot) } {
                Ok(()) => {}
                Err(e) => match e {},
            }
        }

        // SAFETY: The private area is valid for writes of a `T`, aligned, and never moves
        // (pinned) until it is dropped by `Builder`/`Registration`. On error, `__pinned_init`
        // leaves nothing to drop.
        unsafe { data.__init(priv_.cast::<T>()) }?;

        // SAFETY: The device is exclusively ours. The vtables are `'static` constants.
        // `SkBuff` must be exclusively owned, so shared skbs (pktgen `clone_skb`) are refused
        // up front instead of being dropped in `start_xmit`.
        unsafe {
            bindings::netdev_priv_flags_clear(
                ndev.as_ptr(),
                bindings::netdev_priv_flags_IFF_TX_SKB_SHARING,
            );
            (*ndev.as_ptr()).netdev_ops = &Adapter::<T>::VTABLE;
            if T::HAS_RX_QUEUE_STATS {
                (*ndev.as_ptr()).stat_ops = &Adapter::<T>::STAT_OPS;
            }
        };

        guard.dismiss();
        // INVARIANT: Allocated and set up as described on `Device`; not registered.
        Ok(Self {
            ndev,
            _t: PhantomData,
        })
    }

    /// Returns the driver's private data.
    pub fn data(&self) -> &T {
        // SAFETY: `T` is initialised (type invariant).
        unsafe { &*Device::<T>::priv_raw(self.ndev.as_ptr()).cast::<T>() }
    }

    /// Sets the name or name template (e.g. `c"rnp%d"`); checked at registration.
    pub fn set_name(&mut self, name: &CStr) -> Result {
        let bytes = name.to_bytes_with_nul();
        if bytes.len() > IFNAMSIZ {
            return Err(ENAMETOOLONG);
        }
        // SAFETY: The device is exclusively ours (type invariant); `name` is `IFNAMSIZ` bytes
        // and we copy at most that many, including the NUL.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (&raw mut (*self.ndev.as_ptr()).name).cast::<u8>(),
                bytes.len(),
            )
        };
        Ok(())
    }

    /// Sets a permanent MAC address (`eth_hw_addr_set()`).
    pub fn set_mac_address(&mut self, addr: &MacAddress) {
        // SAFETY: The device is exclusively ours; `addr` is `ETH_ALEN` bytes.
        unsafe { bindings::eth_hw_addr_set(self.ndev.as_ptr(), addr.as_bytes().as_ptr()) }
    }

    /// Sets a random MAC address and marks it as such (`eth_hw_addr_random()`).
    pub fn set_random_mac_address(&mut self) {
        // SAFETY: The device is exclusively ours.
        unsafe { bindings::eth_hw_addr_random(self.ndev.as_ptr()) }
    }

    /// Sets the MTU range the core accepts (`dev->min_mtu`, `dev->max_mtu`).
    ///
    /// Requires `min <= max <= ETH_MAX_MTU`; the current MTU is clamped into the range.
    pub fn set_mtu_limits(&mut self, min: u32, max: u32) -> Result {
        if min > max || max > ETH_MAX_MTU {
            return Err(EINVAL);
        }
        let ndev = self.ndev.as_ptr();
        // SAFETY: The device is exclusively ours.
        unsafe {
            (*ndev).min_mtu = min;
            (*ndev).max_mtu = max;
            (*ndev).mtu = (*ndev).mtu.clamp(min, max);
        }
        Ok(())
    }

    /// Sets the initial MTU, which must be within the limits.
    pub fn set_mtu(&mut self, mtu: u32) -> Result {
        let ndev = self.ndev.as_ptr();
        // SAFETY: The device is exclusively ours.
        unsafe {
            if mtu < (*ndev).min_mtu || mtu > (*ndev).max_mtu {
                return Err(EINVAL);
            }
            (*ndev).mtu = mtu;
        }
        Ok(())
    }

    /// Sets the features the device has (`hw_features`: user-changeable ones) and the ones
    /// enabled at registration (`features`, which may also hold fixed, non-changeable ones).
    /// VLAN devices on top inherit the changeable offloads (`vlan_features`).
    pub fn set_features(&mut self, hw: Features, enabled: Features) {
        let ndev = self.ndev.as_ptr();
        // SAFETY: The device is exclusively ours.
        unsafe {
            (*ndev).hw_features = hw.0;
            (*ndev).features = enabled.0;
            (*ndev).vlan_features = (hw & enabled).0;
        }
    }

    /// Allows MAC address changes while the device is up (`IFF_LIVE_ADDR_CHANGE`):
    /// [`Operations::set_mac_address`] must then reprogram a running device.
    pub fn set_live_addr_change(&mut self) {
        // SAFETY: The device is exclusively ours.
        unsafe {
            bindings::netdev_priv_flags_set(
                self.ndev.as_ptr(),
                bindings::netdev_priv_flags_IFF_LIVE_ADDR_CHANGE,
            )
        };
    }

    /// Installs the ethtool operations of `T` (`dev->ethtool_ops`).
    pub fn set_ethtool_ops(&mut self)
    where
        T: crate::net::ethtool::Operations,
    {
        // SAFETY: The device is exclusively ours; the table is a `'static` constant whose
        // callbacks are instantiated for this device's private data type.
        unsafe { (*self.ndev.as_ptr()).ethtool_ops = &crate::net::ethtool::Adapter::<T>::VTABLE };
    }

    /// Marks the link as down before registration (`netif_carrier_off()`).
    ///
    /// Devices start with the carrier on; software devices usually turn it on in
    /// [`Operations::open`].
    pub fn carrier_off(&mut self) {
        // SAFETY: Valid on an unregistered device (it only sets the bit).
        unsafe { bindings::netif_carrier_off(self.ndev.as_ptr()) }
    }

    fn into_raw(self) -> NonNull<bindings::net_device> {
        ManuallyDrop::new(self).ndev
    }

    /// # Safety
    ///
    /// `ndev` must come from [`Builder::into_raw`] of a `Builder<T>` and satisfy the type
    /// invariants again (not registered, no other user).
    unsafe fn from_raw(ndev: NonNull<bindings::net_device>) -> Self {
        Self {
            ndev,
            _t: PhantomData,
        }
    }
}

impl<T: Operations> Drop for Builder<T> {
    fn drop(&mut self) {
        let ndev = self.ndev.as_ptr();
        // SAFETY: The device is valid (type invariant).
        unsafe { Device::<T>::from_raw(ndev) }
            .extra()
            .cancel_reset();
        // SAFETY: `T` is initialised and nothing references the unregistered device (type
        // invariant); it is dropped in place, where it was pinned.
        unsafe { core::ptr::drop_in_place(Device::<T>::priv_raw(ndev).cast::<T>()) };
        // SAFETY: The device was never registered, or `register_netdev()` failed and fully
        // unwound (state `NETREG_UNINITIALIZED` or `NETREG_UNREGISTERED`).
        unsafe { bindings::free_netdev(ndev) };
    }
}

/// A registered network device.
///
/// Dropping it unregisters the device, drops its private data and frees it. `'a` is the
/// lifetime of the parent device binding, if any (see [`Registration::new`]); a
/// `Registration` held in a bus driver's private data is therefore dropped before the parent
/// unbinds.
///
/// # Invariants
///
/// `ndev` is a device allocated by [`Builder::<T>::new`] and registered by
/// [`Registration::new`]; it is unregistered and freed only by `drop`.
pub struct Registration<'a, T: Operations> {
    ndev: NonNull<bindings::net_device>,
    /// The interrupt requested with `ndev` as cookie, and the vectors it comes from; dropped
    /// (vectors freed) after the device.
    irq: Option<(u32, pci::IrqVectorRegistration<'a>)>,
    _p: PhantomData<(&'a device::Device<device::Bound>, T)>,
}

// SAFETY: Dropping the registration (unregister, drop `T`, free) may happen on any thread in
// process context; `T: Send`.
unsafe impl<T: Operations> Send for Registration<'_, T> {}

// SAFETY: `&Registration` only gives `&Device<T>`, which is `Sync`.
unsafe impl<T: Operations> Sync for Registration<'_, T> {}

impl<'a, T: Operations> Registration<'a, T> {
    /// Registers `dev` (`register_netdev()`), optionally as a child of the bound device
    /// `parent` (`SET_NETDEV_DEV()`).
    ///
    /// On failure `dev`'s private data is dropped and the device freed. Must be called from
    /// process context, without RTNL held.
    pub fn new(parent: Option<&'a device::Device<device::Bound>>, dev: Builder<T>) -> Result<Self> {
        Self::register(parent, dev, None)
    }

    /// Registers `dev`; `irq`, if any, is already requested with `dev` as cookie and is freed
    /// before the device if registration fails.
    fn register(
        parent: Option<&'a device::Device<device::Bound>>,
        dev: Builder<T>,
        irq: Option<(u32, pci::IrqVectorRegistration<'a>)>,
    ) -> Result<Self> {
        let ndev = dev.into_raw();
        if let Some(parent) = parent {
            // SAFETY: The device is still exclusively ours. `register_netdev()` takes a reference
            // on the parent.
            unsafe { (*ndev.as_ptr()).dev.parent = parent.as_raw() };
        }
        // SAFETY: `ndev` is a fully set up, unregistered device. From here on the core may call
        // the callbacks, whose requirements hold by the invariants of `Device`.
        let ret = unsafe { bindings::register_netdev(ndev.as_ptr()) };
        if ret != 0 {
            if let Some((irq, _)) = &irq {
                // SAFETY: Requested by `new_with_irq` with `ndev` as cookie.
                unsafe { bindings::free_irq(*irq, ndev.as_ptr().cast()) };
            }
            // SAFETY: `register_netdev()` failed and unwound completely (including waiting for
            // any reference taken while the device was briefly visible): the device is not
            // registered and unused again; its interrupt handler was removed above.
            drop(unsafe { Builder::<T>::from_raw(ndev) });
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: Registered.
        Ok(Self {
            ndev,
            irq,
            _p: PhantomData,
        })
    }

    /// Registers `dev` as a child of the PCI device `parent`, with interrupt vector `index` of
    /// `vectors` handled by [`Operations::interrupt`].
    ///
    /// The interrupt is requested (shared, named `name`) just before `register_netdev()`, and
    /// freed after `unregister_netdev()`, so the handler never sees a device that is gone; the
    /// vectors are freed last. Because the registration owns them, a driver keeps only the
    /// `Registration` in its bus data.
    pub fn new_with_irq(
        parent: &'a pci::Device<device::Bound>,
        dev: Builder<T>,
        vectors: pci::IrqVectorRegistration<'a>,
        index: usize,
        name: &'static CStr,
    ) -> Result<Self> {
        if !T::HAS_INTERRUPT {
            return Err(EINVAL);
        }
        let irq = crate::irq::IrqRequest::from(vectors.index(index)?).irq();
        let ndev = dev.ndev.as_ptr();
        // SAFETY: `irq` is a vector of `parent` that stays allocated until `vectors` is dropped,
        // after `free_irq()`. The cookie is `ndev`, whose private data is initialised and stays
        // so until after `free_irq()`; the handler may run right away and only gets `&T`.
        to_result(unsafe {
            bindings::request_irq(
                irq,
                Some(Adapter::<T>::interrupt),
                bindings::IRQF_SHARED as c_ulong,
                name.as_char_ptr(),
                ndev.cast(),
            )
        })?;
        let parent: &device::Device<device::Bound> = parent.as_ref();
        Self::register(Some(parent), dev, Some((irq, vectors)))
    }

    /// Returns the registered device.
    #[inline]
    pub fn device(&self) -> &Device<T> {
        // SAFETY: Registered until `self` is dropped (type invariant); the reference is bound to
        // `&self`.
        unsafe { Device::from_raw(self.ndev.as_ptr()) }
    }
}

impl<T: Operations> Deref for Registration<'_, T> {
    type Target = Device<T>;

    #[inline]
    fn deref(&self) -> &Device<T> {
        self.device()
    }
}

impl<T: Operations> Drop for Registration<'_, T> {
    fn drop(&mut self) {
        let ndev = self.ndev.as_ptr();
        // SAFETY: Registered (type invariant). `unregister_netdev()` calls `ndo_stop` if the
        // device is up, waits for in-flight callbacks (`synchronize_net()`) and for every
        // `dev_hold()` reference (`netdev_run_todo()`) before returning.
        unsafe { bindings::unregister_netdev(ndev) };
        // The device is down: a reset that runs from now on does nothing.
        self.device().extra().cancel_reset();
        if let Some((irq, _)) = &self.irq {
            // SAFETY: Requested with `ndev` as cookie (see `new_with_irq`); waits for a running
            // handler. The vectors are freed after `drop` returns.
            unsafe { bindings::free_irq(*irq, ndev.cast()) };
        }
        // SAFETY: No callback can run any more and no `&Device<T>` or `ARef` exists (see above;
        // `&mut self` excludes borrows of the registration), so `T` can be dropped in place.
        // `T` is dropped before the device is freed, so e.g. NAPI instances in it can still reach
        // the device.
        unsafe { core::ptr::drop_in_place(Device::<T>::priv_raw(ndev).cast::<T>()) };
        // SAFETY: Unregistered above; freed exactly once, here.
        unsafe { bindings::free_netdev(ndev) };
    }
}

/// The C callbacks of a device with private data `T`.
struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    /// # Safety
    ///
    /// Must only be called by the networking core as `ndo_open` of a device using this vtable.
    unsafe extern "C" fn open(ndev: *mut bindings::net_device) -> c_int {
        // SAFETY: `ndev` uses this vtable, so it was created by `Builder::<T>::new`, and the core
        // only opens registered devices.
        let dev = unsafe { Device::<T>::from_raw(ndev) };
        // INVARIANT: We are `ndo_open` of `dev`; the core holds RTNL.
        let ctx = OpenContext {
            dev,
            _not_send: NotThreadSafe,
        };
        let ret = T::open(dev, &ctx);
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
        T::stop(dev);
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
        let before = (skb.dev_raw(), skb.data().as_ptr(), skb.len());

        match T::start_xmit(dev, &txq, skb) {
            NetdevTx::Ok => bindings::netdev_tx::NETDEV_TX_OK,
            NetdevTx::Busy(skb) => {
                // An skb handed to another device (`SkBuff::forward`) or with its headers moved
                // must not be requeued: the core would transmit it again as if untouched.
                let unchanged = (skb.dev_raw(), skb.data().as_ptr(), skb.len()) == before;
                let ret = skb.into_raw();
                if ret == orig && unchanged {
                    // The core still has `orig` and requeues it.
                    bindings::netdev_tx::NETDEV_TX_BUSY
                } else {
                    pr_warn_once!(
                        "ndo_start_xmit: NETDEV_TX_BUSY with a different or modified skb\n"
                    );
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
            T::change_mtu(dev, mtu)?;
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
    unsafe extern "C" fn interrupt(_irq: c_int, cookie: *mut c_void) -> bindings::irqreturn_t {
        // SAFETY: `cookie` is a device allocated by `Builder::<T>::new` whose private data is
        // initialised, and stays so until after the handler is freed (see `Registration`). No
        // `&Device<T>` is created: the device may not be registered.
        let this = unsafe { &*Device::<T>::priv_raw(cookie.cast()).cast::<T>() };
        match T::interrupt(this) {
            IrqReturn::None => bindings::irqreturn::IRQ_NONE,
            IrqReturn::Handled => bindings::irqreturn::IRQ_HANDLED,
        }
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
        }
    }

    /// # Safety
    ///
    /// Must only be called by the core as `get_base_stats` of a device using `STAT_OPS`.
    unsafe extern "C" fn get_base_stats(
        _ndev: *mut bindings::net_device,
        rx: *mut bindings::netdev_queue_stats_rx,
        tx: *mut bindings::netdev_queue_stats_tx,
    ) {
        // Every packet is counted by a queue that always exists: nothing outside them.
        // SAFETY: Buffers owned by this call.
        unsafe {
            (*rx).packets = 0;
            (*rx).bytes = 0;
            (*rx).alloc_fail = 0;
            (*tx).packets = 0;
            (*tx).bytes = 0;
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
        T::fix_features(dev, Features(features)).0
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
            T::set_features(dev, Features(features))?;
            Ok(0)
        })
    }

    const STAT_OPS: bindings::netdev_stat_ops = bindings::netdev_stat_ops {
        get_queue_stats_rx: Some(Self::get_queue_stats_rx),
        get_queue_stats_tx: Some(Self::get_queue_stats_tx),
        get_base_stats: Some(Self::get_base_stats),
    };

    const VTABLE: bindings::net_device_ops = bindings::net_device_ops {
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

#[macros::kunit_tests(rust_net_dev)]
mod tests {
    use super::*;

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
        let f = Features::SG | Features::TSO | Features::IP_CSUM;
        assert_eq!(
            f.bits(),
            (1 << bindings::NETIF_F_SG_BIT)
                | (1 << bindings::NETIF_F_TSO_BIT)
                | (1 << bindings::NETIF_F_IP_CSUM_BIT)
        );
        assert!(f.contains(Features::SG));
        assert!(!f.contains(Features::SG | Features::TSO6));
        assert_eq!((f - Features::TSO) & Features::TSO, Features::EMPTY);
        assert_eq!(Features::from_bits(f.bits()), f);
    }
}
