// SPDX-License-Identifier: GPL-2.0

//! A locked TX queue: BQL, stop/wake, per-queue statistics and the transmit helpers that
//! dereference `skb->dev`.

use crate::{
    bindings,
    error::to_result,
    net::{
        skb::SkBuff,
        stats::{
            QueueStats,
            StatsWriter, //
        },
    },
    prelude::*,
    types::NotThreadSafe,
};
use core::ptr::NonNull;

/// A locked TX queue.
///
/// Passed to [`Operations::start_xmit`](super::Operations::start_xmit) (the core holds the lock)
/// and to the closure of [`Device::with_tx_queue_locked`](super::Device::with_tx_queue_locked).
///
/// # Invariants
///
/// For the lifetime `'a`, the current CPU holds `txq->_xmit_lock` with BH (or interrupts) disabled;
/// `txq` is queue `index` of a device created by [`Builder`](super::Builder) and `stats` are that
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
    pub(super) unsafe fn new(
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
    /// [`Device::tx_completed`](super::Device::tx_completed) once the packet is done.
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
                crate::do_once_lite! {
                    // SAFETY: `txq` is valid (type invariant); its `dev` is set when the queues
                    // are allocated and lives as long as the queue.
                    unsafe {
                        super::warn_raw(
                            (*self.txq.as_ptr()).dev,
                            fmt!("BQL: completed {} bytes with {} in flight\n", bytes, inflight),
                        )
                    }
                }
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

    /// Returns `true` if `skb` is being transmitted on this queue's device (`skb->dev`), so
    /// that the C functions that dereference `skb->dev` may be called on it: the device is
    /// alive while the queue is locked (type invariant).
    #[inline]
    fn owns(&self, skb: &SkBuff) -> bool {
        // SAFETY: `txq` is valid (type invariant); `dev` is set when the queues are allocated
        // and never changes.
        skb.dev_raw() == unsafe { (*self.txq.as_ptr()).dev }
    }

    /// Takes the software (and PHY) TX timestamp of `skb` if its socket asked for one
    /// (`skb_tx_timestamp()`). Drivers call it just before handing the packet to the device.
    ///
    /// The C function reads `skb->dev`, so it is only available while the packet's device is
    /// known to be alive, through the locked queue it is sent on; a packet of another device is
    /// left alone. May allocate (`GFP_ATOMIC`) and take socket locks: call it outside the
    /// driver's own IRQ-disabling locks.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::{dev::TxQueue, skb::SkBuff};
    ///
    /// fn before_doorbell(txq: &TxQueue<'_>, skb: &mut SkBuff) {
    ///     txq.tx_timestamp(skb);
    /// }
    /// ```
    #[inline]
    pub fn tx_timestamp(&self, skb: &mut SkBuff) {
        if self.owns(skb) {
            // SAFETY: We own the skb exclusively (`&mut`); `skb->dev` is this queue's device,
            // alive while the queue is locked (type invariant).
            unsafe { bindings::skb_tx_timestamp(skb.as_raw()) }
        }
    }

    /// Computes the `CHECKSUM_PARTIAL` checksum of `skb` in software (`skb_checksum_help()`),
    /// for a packet the device cannot offload. May unshare the data; fails with an errno from C,
    /// and with `EINVAL` for a packet that is not being sent on this queue's device (the C
    /// function dereferences `skb->dev` to report a GSO packet, which it refuses).
    pub fn checksum_help(&self, skb: &mut SkBuff) -> Result {
        if !self.owns(skb) {
            return Err(EINVAL);
        }
        // SAFETY: We own the skb exclusively (`&mut`, no borrow of its data exists);
        // `skb->dev` is alive as in `tx_timestamp`.
        to_result(unsafe { bindings::skb_checksum_help(skb.as_raw()) })
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
