// SPDX-License-Identifier: GPL-2.0

//! Network device statistics.
//!
//! This module provides:
//!
//! - [`QueueStats`], a per-queue block of 64-bit counters synchronised with
//!   `struct u64_stats_sync`: exactly one writer at a time, any number of lock-free readers, no
//!   shared atomics. Writers ([`StatsWriter`]) are only handed out by contexts that are exclusive
//!   by construction: the transmit path of a TX queue ([`TxQueue::stats`]) and the poll function
//!   of a NAPI instance ([`PollContext::stats`]).
//! - [`RtnlLinkStats64`], the buffer filled by [`Operations::get_stats64`].
//!
//! C headers: [`include/linux/u64_stats_sync.h`](srctree/include/linux/u64_stats_sync.h),
//! [`include/uapi/linux/if_link.h`](srctree/include/uapi/linux/if_link.h).
//!
//! [`TxQueue::stats`]: super::dev::TxQueue::stats
//! [`PollContext::stats`]: super::napi::PollContext::stats
//! [`Operations::get_stats64`]: super::dev::Operations::get_stats64

use crate::{
    bindings,
    prelude::*,
    types::{
        NotThreadSafe,
        Opaque, //
    },
};

/// A consistent copy of the counters of a [`QueueStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStatsSnapshot {
    /// Packets transmitted or received.
    pub packets: u64,
    /// Bytes transmitted or received.
    pub bytes: u64,
    /// Packets dropped.
    pub drops: u64,
    /// Receive buffer allocations that failed (the frame was dropped and its buffer reused).
    pub alloc_fail: u64,
    /// Packets the device segmented (TSO): each is one of `packets`.
    pub hw_gso_packets: u64,
    /// The segments the device sent for those packets.
    pub hw_gso_wire_packets: u64,
}

impl QueueStatsSnapshot {
    /// Adds `other` to `self` (wrapping, like the C counters).
    #[inline]
    pub fn accumulate(&mut self, other: &QueueStatsSnapshot) {
        self.packets = self.packets.wrapping_add(other.packets);
        self.bytes = self.bytes.wrapping_add(other.bytes);
        self.drops = self.drops.wrapping_add(other.drops);
        self.alloc_fail = self.alloc_fail.wrapping_add(other.alloc_fail);
        self.hw_gso_packets = self.hw_gso_packets.wrapping_add(other.hw_gso_packets);
        self.hw_gso_wire_packets = self
            .hw_gso_wire_packets
            .wrapping_add(other.hw_gso_wire_packets);
    }
}

/// Per-queue packet, byte and drop counters, synchronised with `struct u64_stats_sync`.
///
/// On 64-bit kernels each counter is a `local64_t` and the sync object is empty; on 32-bit
/// kernels the sync object is a seqcount that readers retry on. Either way there must never be
/// two concurrent writers, and a writer must not be preempted or interrupted by another writer
/// of the same object. Safe code can therefore only read a `QueueStats`; write access
/// ([`StatsWriter`]) is granted by contexts that are exclusive for the object:
///
/// - the per-TX-queue stats owned by a [`Device`], written through [`TxQueue::stats`] while the
///   queue's `_xmit_lock` is held (in `ndo_start_xmit` or [`Device::with_tx_queue_locked`]);
/// - the RX stats embedded in a [`Napi`], written through [`PollContext::stats`] from that
///   instance's poll function, which the NAPI core never runs concurrently with itself.
///
/// # Invariants
///
/// - `syncp` has been initialised with `u64_stats_init()`, the counters are valid
///   `u64_stats_t` values.
/// - Every write happens through a [`StatsWriter`], and at most one [`StatsWriter`] for a given
///   `QueueStats` exists at any time, in a non-preemptible context.
///
/// [`Device`]: super::dev::Device
/// [`Device::with_tx_queue_locked`]: super::dev::Device::with_tx_queue_locked
/// [`TxQueue::stats`]: super::dev::TxQueue::stats
/// [`Napi`]: super::napi::Napi
/// [`PollContext::stats`]: super::napi::PollContext::stats
#[repr(C)]
#[pin_data]
pub struct QueueStats {
    #[pin]
    syncp: Opaque<bindings::u64_stats_sync>,
    packets: Opaque<bindings::u64_stats_t>,
    bytes: Opaque<bindings::u64_stats_t>,
    drops: Opaque<bindings::u64_stats_t>,
    alloc_fail: Opaque<bindings::u64_stats_t>,
    hw_gso_packets: Opaque<bindings::u64_stats_t>,
    hw_gso_wire_packets: Opaque<bindings::u64_stats_t>,
}

// SAFETY: `QueueStats` only holds counters; moving it to another thread is fine.
unsafe impl Send for QueueStats {}

// SAFETY: The only method available through `&QueueStats` is `read`, which is the
// `u64_stats_fetch_begin()`/`u64_stats_fetch_retry()` reader side and may run concurrently with
// the (single) writer and with other readers on any CPU.
unsafe impl Sync for QueueStats {}

impl QueueStats {
    /// Creates a new set of counters, all zero.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            syncp <- Opaque::ffi_init(|slot: *mut bindings::u64_stats_sync| {
                // SAFETY: `slot` is valid for writes and pinned; `u64_stats_init` initialises
                // the (possibly empty) seqcount in place.
                unsafe { bindings::u64_stats_init(slot) }
            }),
            // A zeroed `u64_stats_t` is a valid counter with value zero.
            packets: Opaque::zeroed(),
            bytes: Opaque::zeroed(),
            drops: Opaque::zeroed(),
            alloc_fail: Opaque::zeroed(),
            hw_gso_packets: Opaque::zeroed(),
            hw_gso_wire_packets: Opaque::zeroed(),
        })
    }

    /// Reads a consistent snapshot of the counters.
    ///
    /// Can be called from any context, concurrently with the writer.
    pub fn read(&self) -> QueueStatsSnapshot {
        loop {
            // SAFETY: `syncp` is initialised (type invariant).
            let start = unsafe { bindings::u64_stats_fetch_begin(self.syncp.get()) };
            // SAFETY: The counters are initialised `u64_stats_t` (type invariant);
            // `u64_stats_read` is the reader-side accessor that tolerates a concurrent writer.
            let snap = unsafe {
                QueueStatsSnapshot {
                    packets: bindings::u64_stats_read(self.packets.get()),
                    bytes: bindings::u64_stats_read(self.bytes.get()),
                    drops: bindings::u64_stats_read(self.drops.get()),
                    alloc_fail: bindings::u64_stats_read(self.alloc_fail.get()),
                    hw_gso_packets: bindings::u64_stats_read(self.hw_gso_packets.get()),
                    hw_gso_wire_packets: bindings::u64_stats_read(self.hw_gso_wire_packets.get()),
                }
            };
            // SAFETY: As above; `start` came from `u64_stats_fetch_begin` on the same object.
            if !unsafe { bindings::u64_stats_fetch_retry(self.syncp.get(), start) } {
                return snap;
            }
        }
    }
}

/// Write access to a [`QueueStats`].
///
/// Obtained from [`TxQueue::stats`] or [`PollContext::stats`]; it borrows the exclusive context
/// it came from and cannot leave the current thread.
///
/// # Invariants
///
/// While a `StatsWriter` exists, no other writer of `stats` exists and the current context is
/// not preemptible (BH disabled or a spinlock held).
///
/// [`TxQueue::stats`]: super::dev::TxQueue::stats
/// [`PollContext::stats`]: super::napi::PollContext::stats
pub struct StatsWriter<'a> {
    stats: &'a QueueStats,
    _not_send: NotThreadSafe,
}

impl<'a> StatsWriter<'a> {
    /// Creates a writer for `stats`.
    ///
    /// # Safety
    ///
    /// For the whole lifetime `'a`, the caller must be the only writer of `stats` (on any CPU)
    /// and must run in a context that cannot be preempted by another writer of `stats`.
    #[inline]
    pub(crate) unsafe fn new(stats: &'a QueueStats) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            stats,
            _not_send: NotThreadSafe,
        }
    }

    #[inline]
    fn update(&self, f: impl FnOnce()) {
        // SAFETY: `syncp` is initialised and we are the only writer (type invariants).
        unsafe { bindings::u64_stats_update_begin(self.stats.syncp.get()) };
        f();
        // SAFETY: Paired with the `u64_stats_update_begin` above.
        unsafe { bindings::u64_stats_update_end(self.stats.syncp.get()) };
    }

    /// Accounts `packets` packets totalling `bytes` bytes.
    #[inline]
    pub fn add(&self, packets: usize, bytes: usize) {
        self.update(|| {
            // SAFETY: The counters are valid and we are the only writer (type invariants).
            // `usize` has the width of the C `unsigned long` argument.
            unsafe {
                bindings::u64_stats_add(self.stats.packets.get(), packets as c_ulong);
                bindings::u64_stats_add(self.stats.bytes.get(), bytes as c_ulong);
            }
        })
    }

    /// Accounts `n` dropped packets.
    #[inline]
    pub fn add_drops(&self, n: usize) {
        self.update(|| {
            // SAFETY: The counter is valid and we are the only writer (type invariants).
            unsafe { bindings::u64_stats_add(self.stats.drops.get(), n as c_ulong) }
        })
    }

    /// Accounts a packet the device segments into `segments` packets on the wire (TSO), on top
    /// of [`add`](Self::add), which counts it once.
    #[inline]
    pub fn add_hw_gso(&self, segments: usize) {
        self.update(|| {
            // SAFETY: The counters are valid and we are the only writer (type invariants).
            unsafe {
                bindings::u64_stats_add(self.stats.hw_gso_packets.get(), 1);
                bindings::u64_stats_add(self.stats.hw_gso_wire_packets.get(), segments as c_ulong);
            }
        })
    }

    /// Accounts `n` failed buffer allocations.
    #[inline]
    pub fn add_alloc_fail(&self, n: usize) {
        self.update(|| {
            // SAFETY: The counter is valid and we are the only writer (type invariants).
            unsafe { bindings::u64_stats_add(self.stats.alloc_fail.get(), n as c_ulong) }
        })
    }
}

/// The statistics buffer filled by [`Operations::get_stats64`].
///
/// Wraps the kernel's `struct rtnl_link_stats64`. The core zeroes it before calling
/// `ndo_get_stats64`, and adds its own software drop counters (`dev->core_stats`) afterwards.
///
/// # Invariants
///
/// `self.0` is a valid `struct rtnl_link_stats64` that is exclusively owned by the current
/// `ndo_get_stats64` call.
///
/// [`Operations::get_stats64`]: super::dev::Operations::get_stats64
#[repr(transparent)]
pub struct RtnlLinkStats64(bindings::rtnl_link_stats64);

impl RtnlLinkStats64 {
    /// Creates a mutable reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct rtnl_link_stats64` that nothing else accesses for
    /// the lifetime `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::rtnl_link_stats64) -> &'a mut Self {
        // SAFETY: `Self` is `repr(transparent)` over `rtnl_link_stats64`; exclusivity and
        // validity are guaranteed by the caller.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// Adds a received-side snapshot (`rx_packets`, `rx_bytes`, `rx_dropped`).
    pub fn add_rx(&mut self, s: &QueueStatsSnapshot) {
        self.0.rx_packets = self.0.rx_packets.wrapping_add(s.packets);
        self.0.rx_bytes = self.0.rx_bytes.wrapping_add(s.bytes);
        self.0.rx_dropped = self.0.rx_dropped.wrapping_add(s.drops);
    }

    /// Adds a transmit-side snapshot (`tx_packets`, `tx_bytes`, `tx_dropped`).
    pub fn add_tx(&mut self, s: &QueueStatsSnapshot) {
        self.0.tx_packets = self.0.tx_packets.wrapping_add(s.packets);
        self.0.tx_bytes = self.0.tx_bytes.wrapping_add(s.bytes);
        self.0.tx_dropped = self.0.tx_dropped.wrapping_add(s.drops);
    }

    /// Adds `n` to `rx_errors`.
    pub fn add_rx_errors(&mut self, n: u64) {
        self.0.rx_errors = self.0.rx_errors.wrapping_add(n);
    }

    /// Adds `n` to `tx_errors`.
    pub fn add_tx_errors(&mut self, n: u64) {
        self.0.tx_errors = self.0.tx_errors.wrapping_add(n);
    }

    /// Returns the received packet count accumulated so far.
    pub fn rx_packets(&self) -> u64 {
        self.0.rx_packets
    }

    /// Returns the transmitted packet count accumulated so far.
    pub fn tx_packets(&self) -> u64 {
        self.0.tx_packets
    }
}
