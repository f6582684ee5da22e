// SPDX-License-Identifier: GPL-2.0

//! Allocating ([`Builder`]) and registering ([`Registration`]) a network device.

use super::{
    adapter::Adapter,
    addr::{
        MacAddress,
        ETH_MAX_MTU,
        IFNAMSIZ, //
    },
    reset::PrivExtra,
    Device,
    Features,
    Operations, //
};
use crate::{
    bindings, device, devres::Devres, error::to_result, net::stats::QueueStats, pci, prelude::*,
    types::ScopeGuard,
};
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::NonNull, //
};

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
        // INVARIANT: `Features` only holds features a driver on these abstractions can honour.
        unsafe {
            (*ndev).hw_features = hw.into();
            (*ndev).features = enabled.into();
            (*ndev).vlan_features = (hw & enabled).into();
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
        // SAFETY: The device was allocated by `Builder::<T>::new` and is freed below (type
        // invariant).
        unsafe { Device::<T>::extra_raw(ndev) }.cancel_reset();
        // SAFETY: `T` is initialised and nothing references the unregistered device (type
        // invariant); it is dropped in place, where it was pinned.
        unsafe { core::ptr::drop_in_place(Device::<T>::priv_raw(ndev).cast::<T>()) };
        // SAFETY: The device was never registered, or `register_netdev()` failed and fully
        // unwound (state `NETREG_UNINITIALIZED` or `NETREG_UNREGISTERED`).
        unsafe { bindings::free_netdev(ndev) };
    }
}

/// A registered network device, tied to the binding of its parent device.
///
/// Dropping it unregisters the device, drops its private data and frees it. If it is never
/// dropped (leaked with `mem::forget`), the same happens when the parent device unbinds: the
/// registration itself is a device resource ([`Devres`]), like 7.3's I/O mappings. (Like any
/// `Devres`, it must not be reachable from its own `T`: the teardown at unbind would wait for
/// itself.) So no registered device, and no interrupt handler, outlives the binding
/// of its parent, and none outlives the module whose code its callbacks are: a bus driver's
/// bindings all end before its module can be unloaded. Only the interrupt vectors given to
/// [`Registration::new_with_irq`] are leaked with a leaked registration.
///
/// `'a` is the lifetime of those vectors (the parent's binding); a registration without an
/// interrupt is `Registration<'static, T>`.
///
/// # Invariants
///
/// - `inner` holds (until revoked) the `Registered` of `ndev`, a device allocated by
///   [`Builder::<T>::new`] and registered by `Registration::register`, as a child of the
///   bound device `inner` was created for.
/// - `inner` is only revoked by dropping `self`, or when that parent unbinds.
pub struct Registration<'a, T: Operations> {
    inner: Devres<Registered<T>>,
    ndev: NonNull<bindings::net_device>,
    /// The vectors of the interrupt requested with `ndev` as cookie; dropped (freed) after
    /// `inner`, which frees the interrupt.
    _vectors: Option<pci::IrqVectorRegistration<'a>>,
}

// SAFETY: Dropping the registration (unregister, drop `T`, free) may happen on any thread in
// process context; `T: Send`; the vectors are freed with `pci_free_irq_vectors()`, valid on any
// thread.
unsafe impl<T: Operations> Send for Registration<'_, T> {}

// SAFETY: `&Registration` only gives `&Device<T>`, which is `Sync`.
unsafe impl<T: Operations> Sync for Registration<'_, T> {}

/// What a [`Registration`] undoes, as a device resource of the parent.
///
/// # Invariants
///
/// `ndev` is a device allocated by [`Builder::<T>::new`] and registered; if `irq` is set, that
/// interrupt was requested with `ndev` as cookie and its vector stays allocated while `self`
/// exists (see [`Registration`]). Dropping `self` is the only way the device is unregistered
/// and freed.
struct Registered<T: Operations> {
    ndev: NonNull<bindings::net_device>,
    irq: Option<u32>,
    /// The device's virtqueues (in its `PrivExtra`) belong to this registration.
    #[cfg_attr(not(CONFIG_VIRTIO = "y"), allow(dead_code))]
    virtqueues: bool,
    _t: PhantomData<T>,
}

// SAFETY: See `Registration`: the teardown may run on any thread in process context (including
// from the parent's devres release at unbind).
unsafe impl<T: Operations> Send for Registered<T> {}

// SAFETY: `&Registered` gives access to nothing.
unsafe impl<T: Operations> Sync for Registered<T> {}

impl<T: Operations> Drop for Registered<T> {
    fn drop(&mut self) {
        let ndev = self.ndev.as_ptr();
        // SAFETY: Registered (type invariant). `unregister_netdev()` calls `ndo_stop` if the
        // device is up, waits for in-flight callbacks (`synchronize_net()`) and for every
        // `dev_hold()` reference (`netdev_run_todo()`) before returning.
        unsafe { bindings::unregister_netdev(ndev) };
        // The device is down: a reset that runs from now on does nothing.
        // SAFETY: The device was allocated by `Builder::<T>::new` and is freed below (type
        // invariant).
        unsafe { Device::<T>::extra_raw(ndev) }.cancel_reset();
        if let Some(irq) = self.irq {
            // SAFETY: Requested with `ndev` as cookie (type invariant); waits for a running
            // handler. Its vector is still allocated (type invariant).
            unsafe { bindings::free_irq(irq, ndev.cast()) };
        }
        #[cfg(CONFIG_VIRTIO = "y")]
        if self.virtqueues {
            // SAFETY: The device is unregistered: no core callback and no NAPI poll (the
            // adapter's `ndo_stop` disabled every instance) uses the queues any more.
            unsafe { drop_virtqueues::<T>(ndev) };
        }
        // SAFETY: No callback can run any more and no `&Device<T>` or `ARef` exists (see above;
        // `Registration::access` hands out `&Device<T>` only borrowed from the registration and
        // from its parent bound: neither dropping the registration nor the end of that binding,
        // the two ways to get here, can happen while one exists), so `T` can be dropped in
        // place. `T` is dropped before the device is freed, so e.g. NAPI instances in
        // it can still reach the device.
        unsafe { core::ptr::drop_in_place(Device::<T>::priv_raw(ndev).cast::<T>()) };
        // SAFETY: Unregistered above; freed exactly once, here (type invariant).
        unsafe { bindings::free_netdev(ndev) };
    }
}

impl<T: Operations> Registration<'static, T> {
    /// Registers `dev` (`register_netdev()`) as a child of the bound device `parent`
    /// (`SET_NETDEV_DEV()`). The device is unregistered when the registration is dropped, or
    /// when `parent` unbinds, whichever comes first.
    ///
    /// On failure `dev`'s private data is dropped and the device freed. Must be called from
    /// process context, without RTNL held.
    pub fn new(parent: &device::Device<device::Bound>, dev: Builder<T>) -> Result<Self> {
        Self::register(parent, dev, None, None, false)
    }
}

impl<T: Operations> Registration<'static, T> {
    /// Finds the queues of the virtio device `vdev` (see
    /// [`QueueInfo`](crate::virtio::virtqueue::QueueInfo)) for a device to be registered with
    /// [`Registration::new_with_virtqueues`]: their callbacks call
    /// [`Operations::virtqueue_done`] once it is registered, and do nothing before.
    #[cfg(CONFIG_VIRTIO = "y")]
    pub fn find_virtqueues<'b>(
        vdev: &'b crate::virtio::Device<device::Core<'_>>,
        infos: &[crate::virtio::virtqueue::QueueInfo],
    ) -> Result<crate::virtio::virtqueue::Queues<'b>> {
        crate::virtio::virtqueue::Queues::find(vdev, infos, Adapter::<T>::virtqueue_done)
    }

    /// Registers `dev` as a child of the virtio device `parent`, with its `queues`, whose
    /// used-buffer notifications call [`Operations::virtqueue_done`]. As with
    /// [`Registration::new`], the device is unregistered when the registration is dropped or
    /// when `parent` unbinds.
    ///
    /// The registration owns the queues: the driver reaches them with
    /// [`Device::virtqueues`]. Their callbacks reach the private data from here on; the device
    /// is set ready (`DRIVER_OK`) just before `register_netdev()`. After
    /// `unregister_netdev()` the callbacks are stopped, the device is reset, every buffer still
    /// queued is dropped and the queues are deleted, all before the private data is dropped.
    #[cfg(CONFIG_VIRTIO = "y")]
    pub fn new_with_virtqueues(
        parent: &crate::virtio::Device<device::Core<'_>>,
        dev: Builder<T>,
        queues: crate::virtio::virtqueue::Queues<'_>,
    ) -> Result<Self> {
        if !T::HAS_VIRTQUEUE_DONE || !queues.is_of(parent) {
            return Err(EINVAL);
        }
        let ndev = dev.ndev.as_ptr();
        let queues = KBox::new(queues, GFP_KERNEL)?;
        // SAFETY: `ndev` was allocated by `Builder::<T>::new` and is exclusively ours.
        let extra = unsafe { Device::<T>::extra_raw(ndev) };
        // The queues' binding is `parent`'s: the registration, a device resource of `parent`,
        // drops them before that binding ends (at the latest when it unbinds), so erasing the
        // lifetime cannot let them outlive it.
        let raw = KBox::into_raw(queues).cast::<crate::virtio::virtqueue::Queues<'static>>();
        extra.virtqueues.store(raw, crate::sync::atomic::Release);
        // SAFETY: `raw` was just leaked; the target, `ndev`, stays allocated with its private
        // data initialised until the queues are dropped (by `register`'s unwind or by
        // `Registered::drop`), which stops the callbacks first.
        unsafe { (*raw).set_callback_target(ndev.cast()) };
        parent.ready();
        let parent: &device::Device<device::Bound> = parent.as_ref();
        Self::register(parent, dev, None, None, true)
    }
}

impl<'a, T: Operations> Registration<'a, T> {
    /// Registers `dev` as a child of `parent`; `irq`, if any, is already requested with `dev` as
    /// cookie from `vectors`, and is freed before the device if registration fails.
    fn register(
        parent: &device::Device<device::Bound>,
        dev: Builder<T>,
        irq: Option<u32>,
        vectors: Option<pci::IrqVectorRegistration<'a>>,
        virtqueues: bool,
    ) -> Result<Self> {
        let ndev = dev.into_raw();
        let unwind = |ndev: NonNull<bindings::net_device>| {
            if let Some(irq) = irq {
                // SAFETY: Requested by `new_with_irq` with `ndev` as cookie.
                unsafe { bindings::free_irq(irq, ndev.as_ptr().cast()) };
            }
            #[cfg(CONFIG_VIRTIO = "y")]
            if virtqueues {
                // SAFETY: The device is not registered: nothing but the queues' callbacks
                // uses the queues, and dropping them stops those first.
                unsafe { drop_virtqueues::<T>(ndev.as_ptr()) };
            }
            // SAFETY: The device is not registered and unused again (never registered, or
            // `register_netdev()` failed and unwound completely, including waiting for any
            // reference taken while it was briefly visible); its interrupt handler was removed
            // above.
            drop(unsafe { Builder::<T>::from_raw(ndev) });
        };
        // SAFETY: The device is still exclusively ours. `register_netdev()` takes a reference
        // on the parent.
        unsafe { (*ndev.as_ptr()).dev.parent = parent.as_raw() };
        // SAFETY: `ndev` is a fully set up, unregistered device. From here on the core may call
        // the callbacks, whose requirements hold by the invariants of `Device`.
        let ret = unsafe { bindings::register_netdev(ndev.as_ptr()) };
        if ret != 0 {
            unwind(ndev);
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: Registered, with `irq` requested for it.
        let registered = Registered::<T> {
            ndev,
            irq,
            virtqueues,
            _t: PhantomData,
        };
        // If this fails, `registered` is dropped: the device is unregistered and freed, and
        // the interrupt freed, before `vectors`.
        let inner = Devres::new(parent, registered)?;
        // INVARIANT: `inner` was created for `parent`, which the device is a child of; only
        // dropping `self` or the unbinding of `parent` revokes it.
        Ok(Self {
            inner,
            ndev,
            _vectors: vectors,
        })
    }

    /// Registers `dev` as a child of the PCI device `parent`, with interrupt vector `index` of
    /// `vectors` handled by [`Operations::interrupt`]. As with [`Registration::new`], the device
    /// is unregistered when the registration is dropped or when `parent` unbinds.
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
        Self::register(parent, dev, Some(irq), Some(vectors), false)
    }

    /// Returns the registered device, if it is still registered: `parent` must be the bound
    /// device given to [`Registration::new`] (`EINVAL` otherwise), whose binding proves that
    /// the registration has not been torn down by an unbind. A bus driver calls it with the
    /// device of its `probe`; a module that registers devices on a faux device of its own, with
    /// that device.
    ///
    /// Fails with `ENODEV` if the registration was torn down by an earlier unbind of `parent`
    /// (a registration kept past its binding, e.g. in a `static`, and asked again after the
    /// device was bound anew).
    pub fn access<'b>(
        &'b self,
        parent: &'b device::Device<device::Bound>,
    ) -> Result<&'b Device<T>> {
        self.inner.access(parent)?;
        if self.inner.try_access_with(|_| ()).is_none() {
            return Err(ENODEV);
        }
        // SAFETY: `inner` was not revoked just now, so it belongs to the current binding of
        // `parent` (`Devres::access` checked that `parent` is its device; a binding's devres
        // nodes are all released when it ends). That binding lasts at least `'b`, as `parent`
        // is borrowed as bound for `'b`, and so does `self`: the device stays registered for
        // `'b`.
        Ok(unsafe { Device::from_raw(self.ndev.as_ptr()) })
    }
}

/// Stops the callbacks of the virtqueues of `ndev` and drops them (resetting the device,
/// dropping every buffer still queued, deleting the queues).
///
/// # Safety
///
/// `ndev` was allocated by `Builder::<T>::new` and given queues by
/// [`Registration::new_with_virtqueues`], not dropped yet; apart from the queues' callbacks,
/// nothing uses them any more.
#[cfg(CONFIG_VIRTIO = "y")]
unsafe fn drop_virtqueues<T: Operations>(ndev: *mut bindings::net_device) {
    // SAFETY: `ndev` is allocated (caller).
    let extra = unsafe { Device::<T>::extra_raw(ndev) };
    let raw = extra.virtqueues.load(crate::sync::atomic::Acquire);
    if raw.is_null() {
        return;
    }
    // SAFETY: `raw` is the live `Queues` the registration leaked (caller).
    unsafe { (*raw).stop_callbacks() };
    // No callback runs or will run: nobody else holds a reference to the queues.
    extra
        .virtqueues
        .store(core::ptr::null_mut(), crate::sync::atomic::Relaxed);
    // SAFETY: `raw` came from `KBox::into_raw` and is dropped once, here.
    drop(unsafe { KBox::from_raw(raw) });
}
