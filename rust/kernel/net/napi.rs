// SPDX-License-Identifier: GPL-2.0

//! NAPI: interrupt mitigation and budgeted packet processing.
//!
//! A [`Napi`] is embedded (pinned) in the private data `T` of a network device created with
//! [`Builder<T>`](super::dev::Builder). `T` implements [`Poll`]; the poll function receives the
//! device (from which it reaches `T` and therefore its queues), a [`PollContext`] for the instance
//! being polled, and the budget. It returns the amount of work done; the abstraction then calls
//! `napi_complete_done()` itself when, and only when, that is less than the budget.
//!
//! Lifecycle (all transitions are serialised by a per-instance mutex):
//!
//! ```text
//!   Napi::new() --> idle --enable(ctx)--> enabled --disable()--> idle --> ... --> drop
//!   (not listed,        (netif_napi_add_weight +  (napi_disable +
//!    not schedulable)    napi_enable)              netif_napi_del)
//!
//!   enabled --pause()--> paused (napi_disable) --guard dropped--> enabled (napi_enable)
//! ```
//!
//! As in netdevsim and veth, the instance is added to the device when it is enabled, which is only
//! possible from [`Operations::open`](super::dev::Operations::open) (it needs the [`OpenContext`]),
//! and deleted when it is disabled: by the driver, typically in
//! [`Operations::stop`](super::dev::Operations::stop), and in any case by the abstraction right
//! after `stop` (and after a failed `open`). Dropping the [`Napi`] disables and deletes it too.
//! [`Napi::schedule`] may be called from any context at any time: while the instance is idle or
//! disabled its `NAPI_STATE_SCHED` bit is set, so scheduling is a no-op. Operations that are only
//! valid while the instance is being polled (delivering packets, recycling buffers, writing RX
//! statistics) only exist on [`PollContext`], which only exists during a poll call; deletion only
//! happens in [`Napi::disable`] or on drop. So there is nothing to misuse after disabling or
//! deleting an instance.
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h).
//!
//! # Examples
//!
//! An RX-only driver whose interrupt handler schedules NAPI and whose poll function builds skbs
//! from a (here imaginary) hardware ring:
//!
//! ```
//! use kernel::net::{dev::{self, Device, NetdevTx, TxQueue}, napi::{self, Napi, PollContext}};
//! use kernel::net::skb::SkBuff;
//! use kernel::prelude::*;
//!
//! #[pin_data]
//! struct MyNic {
//!     #[pin]
//!     rx: Napi<MyNic>,
//! }
//!
//! impl MyNic {
//!     // Would be called from the IRQ handler.
//!     fn irq(&self) {
//!         self.rx.schedule();
//!     }
//!     // Stand-in for reading a frame from a hardware ring.
//!     fn next_frame(&self) -> Option<&'static [u8]> {
//!         None
//!     }
//! }
//!
//! #[vtable]
//! impl dev::Operations for MyNic {
//!     fn open(dev: &Device<Self>, ctx: &mut dev::OpenContext<'_, Self>) -> Result {
//!         dev.data().rx.enable(ctx)
//!     }
//!     fn stop(dev: &Device<Self>, rtnl: &mut dev::Rtnl<'_>) {
//!         dev.data().rx.disable(rtnl);
//!     }
//!     fn start_xmit(_dev: &Device<Self>, txq: &TxQueue<'_>, _skb: SkBuff) -> NetdevTx {
//!         txq.stats().add_drops(1);
//!         NetdevTx::Ok
//!     }
//! }
//!
//! impl napi::Poll for MyNic {
//!     fn poll(dev: &Device<Self>, ctx: &mut PollContext<'_, Self>, budget: u32) -> u32 {
//!         let mut done = 0;
//!         while done < budget {
//!             let Some(frame) = dev.data().next_frame() else { break };
//!             let Some(mut skb) = ctx.alloc_skb(frame.len() as u32) else {
//!                 ctx.stats().add_drops(1);
//!                 break;
//!             };
//!             if skb.put_data(frame).is_ok() && skb.eth_type_trans(dev).is_ok() {
//!                 ctx.stats().add(1, frame.len());
//!                 ctx.gro_receive(skb);
//!             } else {
//!                 ctx.stats().add_drops(1);
//!             }
//!             done += 1;
//!         }
//!         done
//!     }
//!
//!     fn rearm(_dev: &Device<Self>, _napi: &Napi<Self>) {
//!         // Re-enable the RX interrupt here.
//!     }
//! }
//!
//! # fn no_run(parent: &kernel::device::Device<kernel::device::Bound>) -> Result {
//! let b = dev::Builder::new(1, 1, pin_init!(MyNic { rx <- Napi::new(0) }))?;
//! let reg = dev::Registration::new(parent, b)?;
//! reg.access(parent)?.data().irq(); // Normally done by the interrupt handler.
//! # Ok(()) }
//! # let _ = no_run;
//! ```

#[cfg(CONFIG_PAGE_POOL)]
use crate::net::page_pool::Page;
use crate::{
    bindings, container_of,
    net::{
        dev::{
            Device,
            OpenContext,
            Rtnl,
            TxQueue, //
        },
        skb::SkBuff,
        stats::{
            QueueStats,
            StatsWriter, //
        },
    },
    new_mutex,
    prelude::*,
    sync::Mutex,
    types::{
        NotThreadSafe,
        Opaque, //
    },
};
use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

/// The poll function of the NAPI instances of a device whose private data is `Self`.
///
/// Implemented by the same type that implements [`Operations`](super::dev::Operations).
pub trait Poll: super::dev::Operations {
    /// Processes up to `budget` units of RX work for the instance `ctx.napi()`.
    ///
    /// Called in softirq context (or from a NAPI kthread or busy-polling task, always with BH
    /// disabled), never concurrently for the same instance. Use `ctx.index()` to find the queue
    /// this instance serves. TX completions may be processed too; they do not count against the
    /// budget.
    ///
    /// Returns the number of packets received. A value `>= budget` means "more work pending":
    /// the core will poll again. A smaller value makes the abstraction call
    /// `napi_complete_done()` (and then [`Poll::rearm`] if the core asks for interrupts to be
    /// re-enabled). Values above `budget` are clamped (with a warning).
    ///
    /// `budget` is zero when called by netpoll: no RX work may be done then, and
    /// [`PollContext::gro_receive`]/[`PollContext::receive`] drop the packet.
    fn poll(dev: &Device<Self>, ctx: &mut PollContext<'_, Self>, budget: u32) -> u32;

    /// Re-enables the interrupt that schedules `napi`.
    ///
    /// Called after `napi_complete_done()` returned `true`. The default does nothing (for
    /// devices without interrupts).
    fn rearm(_dev: &Device<Self>, _napi: &Napi<Self>) {}
}

/// A budget that may be passed to [`SkBuff::consume_in_napi`].
///
/// A non-zero value is only available inside a poll function (from
/// [`PollContext::budget_token`]); [`Budget::any_context`] (zero) is valid anywhere.
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    value: u32,
    _ctx: PhantomData<&'a ()>,
    _not_send: NotThreadSafe,
}

impl Budget<'static> {
    /// The zero budget, valid in any context.
    pub const fn any_context() -> Self {
        Budget {
            value: 0,
            _ctx: PhantomData,
            _not_send: NotThreadSafe,
        }
    }
}

impl Budget<'_> {
    /// Returns the numeric value.
    #[inline]
    pub fn value(&self) -> u32 {
        self.value
    }
}

/// A NAPI instance, embedded in the private data of a network device.
///
/// `T` is the private data type of the device (which implements [`Poll`]). The instance must be
/// placed inside that `T` (for example as a field, or in an array field): [`Napi::enable`] checks
/// this, so that the poll function can get back to the device and the instance is deleted
/// (at the latest when `T` is dropped) before the device memory is freed.
///
/// # Invariants
///
/// - `napi` is a `struct napi_struct`. While `state` is `false` it is not listed on any
///   device and has `NAPI_STATE_SCHED` set (so `napi_schedule()` is a no-op). While `state`
///   is `true` it has been added with `netif_napi_add_weight()` to the device `napi->dev`,
///   with `Napi::<T>::poll_callback` as poll function, and enabled; `self` then lies within
///   the private `T` of that device, which is a [`Device<T>`] that is running (it is disabled
///   after `ndo_stop`, before the device can be unregistered).
/// - `state` is only changed with its mutex held, together with the matching C calls. The one
///   exception to the above is a paused instance ([`Paused`]): `state` is `true` but the
///   instance is disabled (still listed), only while the mutex is held by the guard.
/// - `stats` is only written through a [`StatsWriter`] handed out by [`PollContext::stats`].
#[repr(C)]
#[pin_data(PinnedDrop)]
pub struct Napi<T> {
    // Must stay the first field: the poll callback casts `napi_struct *` to `Napi<T> *`.
    #[pin]
    napi: Opaque<bindings::napi_struct>,
    #[pin]
    state: Mutex<bool>,
    #[pin]
    stats: QueueStats,
    index: u32,
    _t: PhantomData<fn(&T)>,
}

// SAFETY: `Napi` is only a handle to a `napi_struct` embedded in device memory; all C state is
// manipulated through the NAPI API, which may be called from any thread.
unsafe impl<T> Send for Napi<T> {}

// SAFETY: `&self` methods are `schedule` (atomic state operations in C), `enable`/`disable`/
// `pause` (serialised by `state`'s mutex), and read-only accessors (`index`, `rx_stats`).
unsafe impl<T> Sync for Napi<T> {}

impl<T> Napi<T> {
    /// Creates an idle NAPI instance identified by `index` (for example, its RX queue number).
    pub fn new(index: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            napi <- Opaque::ffi_init(|slot: *mut bindings::napi_struct| {
                // SAFETY: `slot` is valid for writes. A zeroed `napi_struct` with `SCHED` and
                // `NPSVC` set is what `napi_disable()` leaves behind: `napi_schedule_prep()`
                // fails on it, and `netif_napi_add_weight()` accepts it (it only requires
                // `NAPI_STATE_LISTED` to be clear).
                unsafe {
                    core::ptr::write_bytes(slot, 0, 1);
                    (*slot).state =
                        (bindings::NAPIF_STATE_SCHED | bindings::NAPIF_STATE_NPSVC) as c_ulong;
                    (*slot).index = -1;
                }
            }),
            state <- new_mutex!(false, "Napi::state"),
            stats <- QueueStats::new(),
            index,
            _t: PhantomData,
        })
    }

    /// Returns the index given to [`Napi::new`].
    #[inline]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Returns the RX statistics written by the poll function through [`PollContext::stats`].
    #[inline]
    pub fn rx_stats(&self) -> &QueueStats {
        &self.stats
    }

    /// Returns the raw `napi_struct`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::napi_struct {
        self.napi.get()
    }

    /// Schedules the poll function (`napi_schedule()`).
    ///
    /// Callable from any context, including hard-IRQ context. Returns `true` if this call
    /// scheduled the instance, `false` if it was already scheduled, or is idle or disabled (in
    /// which case nothing happens). When called from process context, the poll runs at the
    /// next softirq processing point (for example `local_bh_enable()`).
    #[inline]
    pub fn schedule(&self) -> bool {
        // SAFETY: The `napi_struct` is initialised (type invariant). If the instance is idle,
        // `NAPI_STATE_SCHED` is set so `napi_schedule_prep()` fails without touching anything
        // else; otherwise it is listed and enabled, paused or being disabled, where scheduling
        // is valid (a disabled instance has `NAPI_STATE_SCHED` set too).
        unsafe { bindings::napi_schedule(self.as_raw()) }
    }

    /// Disables and deletes the instance if it is enabled; otherwise does nothing.
    ///
    /// Waits for a running poll to finish and for an RCU grace period (`napi_disable()`,
    /// `netif_napi_del()`), so it needs process context: `_rtnl` proves it (a poll function,
    /// which would wait for itself forever, has no such token). After it returns the poll
    /// function does not run any more and [`Napi::schedule`] is a no-op.
    ///
    /// ```ignore,compile_fail,E0308
    /// use kernel::net::{dev::Device, napi::{Napi, Poll, PollContext}};
    ///
    /// // A poll function has its poll context, not an `Rtnl` token.
    /// fn in_poll<T: Poll>(napi: &Napi<T>, ctx: &mut PollContext<'_, T>) {
    ///     napi.disable(ctx); // Would wait for this very poll to end.
    /// }
    /// ```
    pub fn disable(&self, _rtnl: &Rtnl<'_>) {
        self.disable_sleepable();
    }

    /// [`Napi::disable`], for the abstractions' own process-context callers (dropping `T`,
    /// [`disable_all`]).
    fn disable_sleepable(&self) {
        let mut enabled = self.state.lock();
        if *enabled {
            // SAFETY: The instance is listed and enabled (type invariant, `state` is `true`),
            // and `napi->dev` is alive: `self` lies in its private data, which is only freed
            // after `T` (and thus `self`) has been dropped.
            unsafe {
                bindings::napi_disable(self.as_raw());
                bindings::netif_napi_del(self.as_raw());
            }
            // INVARIANT: `napi_disable()` left `NAPI_STATE_SCHED` set, and the instance is no
            // longer listed.
            *enabled = false;
        }
    }

    /// Pauses an enabled instance (`napi_disable()`, without deleting it) until the returned
    /// guard is dropped, which enables it again (`napi_enable()`); does nothing to an idle
    /// instance.
    ///
    /// For reprogramming the rings of a running device (a ring resize, an MTU change, a reset),
    /// as C drivers do with `napi_disable()`/`napi_enable()` around it: once this returns, no
    /// poll runs and none starts until the guard is dropped, and an interrupt that schedules
    /// the instance meanwhile is ignored, so the caller re-arms its interrupts after dropping
    /// the guard. Waits for a running poll to finish, so it must be called from process
    /// context with RTNL held (`_rtnl`: a control callback; [`Napi::disable`] after `ndo_stop`
    /// runs under RTNL and waits for the guard, so the guard must not outlive the callback).
    /// Enabling, disabling or pausing the instance again waits until the guard is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::{dev::Rtnl, napi::Napi};
    ///
    /// fn reprogram<T>(napi: &Napi<T>, rtnl: &mut Rtnl<'_>, rings: impl FnOnce()) {
    ///     let paused = napi.pause(rtnl);
    ///     rings(); // No poll runs here.
    ///     drop(paused);
    ///     // Unmask the device's interrupts here.
    /// }
    /// ```
    pub fn pause<'r>(&'r self, _rtnl: &Rtnl<'r>) -> Paused<'r, T> {
        let enabled = self.state.lock();
        if *enabled {
            // SAFETY: The instance is listed and enabled (type invariant, `state` is `true`);
            // `napi->dev` is alive as in `disable`. The guard below enables it again while
            // `state` stays locked, so the instance is disabled only while the guard exists.
            // `napi_disable()` returns once the poll has called `napi_complete_done()`, but the
            // poll callback may still be running `Poll::rearm` after that; polls run with BH
            // disabled, so an RCU grace period (`synchronize_net()`) waits for it too.
            unsafe {
                bindings::napi_disable(self.as_raw());
                bindings::synchronize_net();
            }
        }
        // INVARIANT: If `*enabled`, the instance was enabled and `napi_disable()`d above, still
        // listed; `enabled` is the locked state.
        Paused {
            napi: self,
            enabled,
        }
    }
}

/// A [`Napi`] paused by [`Napi::pause`]; enabled again when dropped.
///
/// While it exists, the instance's state mutex is held: its state says "enabled" but it is
/// disabled, which nothing else can observe or change.
///
/// # Invariants
///
/// If `*enabled`, `napi` was enabled and has been disabled with `napi_disable()` (but is still
/// listed); `enabled` is its locked state, so nothing else changes it meanwhile.
#[must_use = "the instance is enabled again as soon as the guard is dropped"]
pub struct Paused<'a, T> {
    napi: &'a Napi<T>,
    enabled: crate::sync::MutexGuard<'a, bool>,
}

impl<T> Drop for Paused<'_, T> {
    fn drop(&mut self) {
        if *self.enabled {
            // SAFETY: Disabled by `Napi::pause` and still listed on its live device (type
            // invariant): `napi_enable()` is the matching call.
            unsafe { bindings::napi_enable(self.napi.as_raw()) };
        }
    }
}

impl<T: Poll> Napi<T> {
    /// Adds the instance to the device being opened and enables it; does nothing if it is
    /// already enabled.
    ///
    /// Only possible from [`Operations::open`](super::dev::Operations::open), which provides
    /// `ctx`: this guarantees that every enabled instance is disabled again by the abstraction
    /// after [`Operations::stop`](super::dev::Operations::stop), before the device can be
    /// unregistered, so no poll function ever runs on a stopped or unregistered device.
    ///
    /// Fails with `EINVAL` if `self` is not part of the private data of `ctx`'s device.
    pub fn enable(&self, ctx: &OpenContext<'_, T>) -> Result {
        let dev = ctx.device();
        let mut enabled = self.state.lock();
        if *enabled {
            return Ok(());
        }

        let data = core::ptr::from_ref::<T>(dev.data()) as usize;
        let me = core::ptr::from_ref::<Self>(self) as usize;
        if me < data || me + size_of::<Self>() > data + size_of::<T>() {
            return Err(EINVAL);
        }

        // SAFETY: `dev` is a valid device (type invariant of `Device`) being opened (`ctx`),
        // whose private area holds a `T` containing `self` (checked above), so `self` stays
        // valid until it is disabled or dropped, which deletes it before the device is freed;
        // the abstraction disables it after `ndo_stop` at the latest. The instance is not listed
        // (`state` is `false`). `poll_callback` is instantiated for `dev`'s private data type.
        // Devices created by `dev::Builder` are never "ops locked" (and we are in `ndo_open`
        // without the instance lock), so `netif_napi_add_weight()` and `napi_enable()` take the
        // instance lock themselves.
        unsafe {
            bindings::netif_napi_add_weight(
                dev.as_raw(),
                self.as_raw(),
                Some(Self::poll_callback),
                bindings::NAPI_POLL_WEIGHT as c_int,
            );
            bindings::napi_enable(self.as_raw());
        }
        // INVARIANT: Listed on `dev` with our callback, enabled, and `self` is inside `dev`'s `T`.
        *enabled = true;
        Ok(())
    }

    /// The `poll` function installed in the `napi_struct`.
    ///
    /// # Safety
    ///
    /// Must only be called by the NAPI core for an instance added by [`Napi::enable`].
    unsafe extern "C" fn poll_callback(napi: *mut bindings::napi_struct, budget: c_int) -> c_int {
        // SAFETY: `napi` is the first field of a `#[repr(C)]` `Napi<T>` (this callback is only
        // installed by `Napi::<T>::enable`), which is alive while it is being polled.
        let this = unsafe { &*napi.cast::<Napi<T>>() };
        // SAFETY: `Napi::enable` checked that `this` lives inside the private `T` of the device
        // stored in `napi->dev`, which is a `Device<T>`. The core only polls enabled instances,
        // and instances are only enabled between `ndo_open` and the end of `ndo_stop`, while the
        // device is registered: the `&Device<T>` invariants hold for this callback.
        let dev = unsafe { Device::<T>::from_raw((*napi).dev) };
        let budget = u32::try_from(budget).unwrap_or(0);

        // INVARIANT: The core calls us for this enabled instance, on this thread, never
        // concurrently for the same instance, with `budget`.
        let mut ctx = PollContext {
            napi: this,
            budget,
            _not_send: NotThreadSafe,
        };
        let mut work = T::poll(dev, &mut ctx, budget);
        if work > budget {
            crate::do_once_lite! {
                crate::netdev_warn!(dev, "NAPI poll returned {} with budget {}\n", work, budget)
            }
            work = budget;
        }
        // `budget` is at most `i32::MAX` (it came from a `c_int`), and so is `work`.
        if work < budget {
            // SAFETY: We are the poll function of `napi`, which owns `NAPI_STATE_SCHED`, and we
            // did less than `budget` work: exactly when `napi_complete_done()` may be called.
            if unsafe { bindings::napi_complete_done(napi, work as c_int) } {
                T::rearm(dev, this);
            }
        }
        work as c_int
    }
}

/// Disables and deletes every NAPI instance on `dev`.
///
/// Called by the device abstraction after `ndo_stop`, and when `ndo_open` fails.
///
/// # Safety
///
/// RTNL must be held by the caller, so that no instance can be enabled concurrently (instances
/// are only enabled from `ndo_open`, see [`Napi::enable`]).
pub(crate) unsafe fn disable_all<T: super::dev::Operations>(dev: &Device<T>) {
    let ndev = dev.as_raw();
    loop {
        // SAFETY: `ndev` is valid; `napi_list` is modified under the instance lock, which we
        // hold while looking at it.
        let napi = unsafe {
            bindings::netdev_lock(ndev);
            let head = &raw mut (*ndev).napi_list;
            let first = (*head).next;
            let napi = if first == head {
                None
            } else {
                Some(container_of!(first, bindings::napi_struct, dev_list))
            };
            bindings::netdev_unlock(ndev);
            napi
        };
        let Some(napi) = napi else { break };
        // SAFETY: Only `Napi::<T>::enable` adds instances to a device created by
        // `dev::Builder::<T>`, and only instances located in its private `T` (it checks). The
        // entry was read under the instance lock; once the lock is dropped another thread may
        // delete it from the list (`Napi::disable`), but not free it: its memory is part of `T`,
        // which lives until the device is freed, after `ndo_stop` (our caller) has returned. So
        // the pointer stays valid after the lock is dropped; nothing else of the list is used.
        // `napi_struct` is the first field of the `#[repr(C)]` `Napi<T>`.
        let napi = unsafe { &*napi.cast::<Napi<T>>() };
        // Deletes the instance from `napi_list`. If another thread just did it, this is a no-op
        // and the next iteration does not find it any more. It cannot be added again while we
        // hold RTNL, so the loop terminates.
        napi.disable_sleepable();
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Napi<T> {
    fn drop(self: Pin<&mut Self>) {
        // `T`, and with it `self`, is dropped in process context (see `dev::Registration`).
        self.disable_sleepable();
    }
}

/// The context of one call of [`Poll::poll`].
///
/// Only exists during a poll call, during which the NAPI core guarantees exclusive ownership of
/// the instance. Delivery functions are available only here.
///
/// # Invariants
///
/// `napi` is enabled and currently being polled by this thread with budget `budget`; no other
/// poll of `napi` runs concurrently.
pub struct PollContext<'a, T> {
    napi: &'a Napi<T>,
    budget: u32,
    _not_send: NotThreadSafe,
}

impl<'a, T: Poll> PollContext<'a, T> {
    /// Returns the instance being polled.
    #[inline]
    pub fn napi(&self) -> &'a Napi<T> {
        self.napi
    }

    /// Returns the index of the instance being polled (see [`Napi::new`]).
    #[inline]
    pub fn index(&self) -> u32 {
        self.napi.index
    }

    /// Returns the budget of this poll call.
    #[inline]
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// Returns a token for [`SkBuff::consume_in_napi`] carrying this poll's budget.
    #[inline]
    pub fn budget_token(&self) -> Budget<'_> {
        Budget {
            value: self.budget,
            _ctx: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// Returns write access to the RX statistics of this instance ([`Napi::rx_stats`]).
    #[inline]
    pub fn stats(&mut self) -> StatsWriter<'_> {
        // SAFETY: Only the poll function of this instance writes its stats, polls of one
        // instance never run concurrently (type invariant) and run with BH disabled; the writer
        // borrows `self` mutably and cannot leave this thread.
        unsafe { StatsWriter::new(&self.napi.stats) }
    }

    /// Allocates an RX skb of `len` bytes from the per-CPU NAPI cache (`napi_alloc_skb()`).
    ///
    /// Returns `None` under netpoll (budget 0): netpoll may call the poll function with IRQs
    /// disabled or from hard-IRQ context, where the per-CPU NAPI cache must not be used; a poll
    /// must not receive anything then anyway.
    #[inline]
    pub fn alloc_skb(&mut self, len: u32) -> Option<SkBuff> {
        if self.budget == 0 {
            return None;
        }
        // SAFETY: We are in the poll function of this enabled instance, the context
        // `napi_alloc_skb()` requires.
        let skb = unsafe { bindings::napi_alloc_skb(self.napi.as_raw(), len) };
        // SAFETY: A fresh skb has one reference and is on no list.
        NonNull::new(skb).map(|skb| unsafe { SkBuff::from_raw(skb) })
    }

    /// Builds an skb around a page pool page holding a received frame of `len` bytes at `headroom`,
    /// from the per-CPU NAPI cache (`napi_build_skb()`), without copying; freeing the skb returns
    /// the page to its pool. Gives the page back under netpoll (budget 0), if the frame and the
    /// shared info do not fit in the page or if no skb could be allocated. A poll function should
    /// not touch its RX ring under netpoll at all: interrupts may be disabled there, where a page
    /// must not be returned to its pool (see [`Page`]).
    #[inline]
    #[cfg(CONFIG_PAGE_POOL)]
    pub fn build_skb(&mut self, page: Page, headroom: u32, len: u32) -> Result<SkBuff, Page> {
        if self.budget == 0 {
            return Err(page);
        }
        // SAFETY: We are in the poll function of this enabled instance with a non-zero budget.
        unsafe { SkBuff::napi_build_from_page(page, headroom, len) }
    }

    /// Runs `f` with TX queue `q` of `dev` locked (`__netif_tx_lock_bh()`), e.g. to reclaim
    /// completed transmissions and report them to BQL. `dev` may be another device than the
    /// polled one (a software pair completes its peer's queue).
    ///
    /// Returns `None` under netpoll (budget 0), which may poll with interrupts disabled, where
    /// the BH-disabling lock must not be released, or from `start_xmit` with that very queue
    /// locked: TX completion waits for the next real poll then. Also `None` if there is no queue
    /// `q` or if interrupts are disabled (under a driver's IRQ-disabling lock).
    pub fn with_tx_queue_locked<U: super::dev::Operations, R>(
        &self,
        dev: &Device<U>,
        q: u16,
        f: impl FnOnce(&TxQueue<'_>) -> R,
    ) -> Option<R> {
        if self.budget == 0 {
            return None;
        }
        // A poll with a non-zero budget runs in softirq context (or a NAPI thread with BH
        // disabled), never inside `start_xmit` or `tx_timeout`.
        dev.lock_txq(q, f).ok()
    }

    /// Reports the completion of `pkts` packets / `bytes` bytes on TX queue `q` of `dev` to BQL
    /// (`netdev_tx_completed_queue()`); see [`PollContext::with_tx_queue_locked`]. Returns
    /// `false` if nothing was reported.
    pub fn tx_completed<U: super::dev::Operations>(
        &self,
        dev: &Device<U>,
        q: u16,
        pkts: u32,
        bytes: u32,
    ) -> bool {
        self.with_tx_queue_locked(dev, q, |txq| txq.completed(pkts, bytes))
            .is_some()
    }

    /// Checks that `skb` may be delivered by this instance.
    fn check_rx(&self, skb: &SkBuff) -> bool {
        // SAFETY: `napi->dev` was set when the instance was added and stays constant.
        let dev = unsafe { (*self.napi.as_raw()).dev };
        let warn = |args| {
            // SAFETY: `dev` is the device of this enabled instance, alive while it is polled.
            unsafe { crate::net::dev::warn_raw(dev, args) }
        };
        if self.budget == 0 {
            crate::do_once_lite! {
                warn(fmt!("NAPI: packet delivered from netpoll (budget 0), dropped\n"))
            }
            return false;
        }
        if skb.dev_raw() != dev {
            crate::do_once_lite! {
                warn(fmt!("NAPI: packet not set up for this device (eth_type_trans), dropped\n"))
            }
            return false;
        }
        true
    }

    /// Delivers `skb` through GRO (`napi_gro_receive()`).
    ///
    /// `skb` must have been prepared for this device with [`SkBuff::eth_type_trans`] or
    /// [`SkBuff::forward`]; otherwise, or when polled with a zero budget, it is dropped.
    pub fn gro_receive(&mut self, skb: SkBuff) {
        if !self.check_rx(&skb) {
            return;
        }
        // SAFETY: We are the poll function of this instance (type invariant); `skb->dev` is the
        // instance's device, so the stack will only dereference a live device; ownership of the
        // skb passes to GRO.
        unsafe { bindings::napi_gro_receive(self.napi.as_raw(), skb.into_raw().as_ptr()) };
    }

    /// Delivers `skb` without GRO (`netif_receive_skb()`).
    ///
    /// Same requirements as [`PollContext::gro_receive`].
    pub fn receive(&mut self, skb: SkBuff) {
        if !self.check_rx(&skb) {
            return;
        }
        // SAFETY: As in `gro_receive`; `netif_receive_skb()` may be called from softirq context.
        unsafe { bindings::netif_receive_skb(skb.into_raw().as_ptr()) };
    }
}
