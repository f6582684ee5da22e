// SPDX-License-Identifier: GPL-2.0

//! The abstraction's own per-device state, and the reset work item that runs
//! [`Operations::reset`] in process context.

use super::{
    Device,
    Operations,
    Rtnl, //
};
use crate::{bindings, prelude::*, sync::atomic::Atomic, types::Opaque};

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
    /// The queues of a device registered with [`Registration::new_with_virtqueues`], owned
    /// (a leaked `KBox`) by its registration: set before the device is registered, cleared
    /// after it is unregistered and the queues' callbacks are stopped, then dropped.
    ///
    /// [`Registration::new_with_virtqueues`]: super::Registration::new_with_virtqueues
    #[cfg(CONFIG_VIRTIO = "y")]
    pub(crate) virtqueues: Atomic<*mut crate::virtio::virtqueue::Queues<'static>>,
}

impl PrivExtra {
    /// Initialises `reset_work` and `ndev` of the (zeroed) `PrivExtra` of `ndev`.
    ///
    /// # Safety
    ///
    /// `ndev` is a device made by [`Builder::new`] for `T`, not yet visible to anyone else.
    pub(super) unsafe fn init<T: Operations>(ndev: *mut bindings::net_device) {
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
            // SAFETY: RTNL is held (above) in process context (a work item), until the token
            // goes out of scope before the unlock.
            let mut rtnl = unsafe { Rtnl::new() };
            if let Err(e) = T::reset(dev, &mut rtnl) {
                crate::netdev_err!(dev, "device reset failed: {:?}\n", e);
            }
        }
        // SAFETY: Taken above.
        unsafe { bindings::rtnl_unlock() };
    }

    /// Waits for a running reset and cancels a pending one.
    pub(super) fn cancel_reset(&self) {
        // SAFETY: `reset_work` is initialised (type invariant); may sleep, we are in process
        // context without RTNL (the work item takes it).
        unsafe { bindings::cancel_work_sync(self.reset_work.get()) };
    }
}

impl<T: Operations> Device<T> {
    /// Schedules [`Operations::reset`] to run soon in process context (on the system's unbound
    /// workqueue, `system_dfl_wq`). Any context. Returns `false` if a reset was already pending or
    /// the driver has no `reset`.
    pub fn schedule_reset(&self) -> bool {
        if !T::HAS_RESET {
            return false;
        }
        // SAFETY: `reset_work` is initialised (type invariant of `PrivExtra`) and is cancelled
        // before the device is freed; `system_dfl_wq` always exists.
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
        // SAFETY: `self` is a device made by `Builder::<T>::new`, valid for the borrow.
        unsafe { Self::extra_raw(self.as_raw()) }
    }

    /// Returns the abstraction's per-device state of `ndev`, also before registration and
    /// after unregistration (where no `&Device<T>` may exist).
    ///
    /// # Safety
    ///
    /// `ndev` is a device allocated by [`Builder::<T>::new`](super::Builder::new) that stays
    /// allocated for `'a`.
    pub(super) unsafe fn extra_raw<'a>(ndev: *mut bindings::net_device) -> &'a PrivExtra {
        // SAFETY: The private area holds `T`, then (at `EXTRA_OFFSET`, which is suitably
        // aligned as the area is cacheline aligned) a zero-initialised `PrivExtra`, valid as
        // zero, that lives as long as the device (caller); only shared references to it exist
        // and its fields are atomic or only written before the device is visible.
        unsafe {
            &*Self::priv_raw(ndev)
                .add(Self::EXTRA_OFFSET)
                .cast::<PrivExtra>()
        }
    }
}
