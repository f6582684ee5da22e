// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA mappings of socket buffers, for descriptor rings.
//!
//! A NIC's transmit ring hands the data of outgoing [`SkBuff`]s to the device: each piece (the
//! linear part and every page fragment) must be mapped for DMA (`dma_map_single()`,
//! `skb_frag_dma_map()`) while the device reads it, and unmapped before the packet is freed.
//! (Receive buffers come from a [`PagePool`](super::page_pool::PagePool), which maps its pages
//! once.)
//!
//! [`SkbSlots`] owns a fixed number of slots, one per descriptor, together with a reference to
//! the DMA device. A packet occupies consecutive slots, one per descriptor; it is taken back as a
//! whole ([`SkbSlots::take`] on its last slot unmaps every piece, then returns the skb), so a
//! mapping can neither leak, nor be unmapped twice, nor outlive the packet it maps. Dropping the
//! `SkbSlots` unmaps and frees whatever is still in flight. The device reference is taken once
//! per ring, not per packet, so the fast path does no atomic operation on shared data.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h).

use crate::{
    bindings,
    device::{
        self,
        Bound, //
    },
    dma::DmaAddress,
    net::skb::SkBuff,
    prelude::*,
    sync::aref::ARef,
};

/// The index `n` entries after `index` in a ring of `len` entries.
///
/// For `index < len` and `n <= len`, as ring indices are. Written without `%` (objtool does not
/// know the division-by-zero panic of `%` as `noreturn`) and with wrapping operations: under
/// those bounds neither the subtraction nor the addition can wrap, so the overflow checks that
/// `CONFIG_RUST_OVERFLOW_CHECKS` would add could never fire (and each costs a branch on every
/// descriptor of the fast path).
///
/// # Examples
///
/// ```
/// use kernel::net::dma::ring_add;
///
/// assert_eq!(ring_add(254, 1, 256), 255);
/// assert_eq!(ring_add(255, 1, 256), 0);
/// assert_eq!(ring_add(200, 100, 256), 44);
/// assert_eq!(ring_add(0, 256, 256), 0);
/// // No intermediate sum, so no overflow even at the top of the range.
/// assert_eq!(ring_add(usize::MAX - 1, 2, usize::MAX), 1);
/// ```
#[inline]
pub fn ring_add(index: usize, n: usize, len: usize) -> usize {
    // Entries from `index` to the end of the ring.
    let to_end = len.wrapping_sub(index);
    if n >= to_end {
        n.wrapping_sub(to_end)
    } else {
        index.wrapping_add(n)
    }
}

/// The direction of every mapping: the device reads.
const DIR: bindings::dma_data_direction = bindings::dma_data_direction::DMA_TO_DEVICE;

/// A packet held by the last slot it occupies.
struct Held {
    skb: SkBuff,
    /// The first slot of the packet.
    first: usize,
    /// How many slots the packet occupies (at least one).
    count: usize,
    /// The ring length its slots wrap at.
    ring_len: usize,
}

/// One descriptor's buffer.
///
/// # Invariants
///
/// - If `len != 0`, `[addr, addr + len)` is a live streaming mapping of the owning
///   [`SkbSlots`]' device, for the device to read, made with `skb_frag_dma_map()` if `page`,
///   else with `dma_map_single()`. It maps the linear data or a page fragment of the packet
///   held by the last slot of the packet this slot belongs to. A piece split over several
///   descriptors has its mapping in the slot of the first one; the others are empty
///   (`len == 0`).
/// - If `held` is set, this is the last slot of that packet, and the `count` slots from `first`
///   (wrapping at `ring_len`) are the packet's: every mapping in them maps a piece of its skb,
///   and none is shared with another packet.
/// - `busy` is set exactly on the slots of the packets in flight (held by their last slot).
struct Slot {
    held: Option<Held>,
    /// The slot belongs to a packet in flight (every slot of it, not only those with a
    /// mapping or the skb).
    busy: bool,
    addr: DmaAddress,
    len: u32,
    page: bool,
}

impl Slot {
    const EMPTY: Slot = Slot {
        held: None,
        busy: false,
        addr: 0,
        len: 0,
        page: false,
    };
}

/// A fixed set of packet buffer slots with their streaming DMA mappings.
///
/// Slot `i` usually corresponds to descriptor `i` of a hardware ring.
///
/// # Invariants
///
/// - `dev` is the device all mappings in `slots` were made for, and it stays alive (reference
///   count) as long as `self`. It was bound when `self` was created; like
///   [`Coherent`](crate::dma::Coherent), the mappings are released with the DMA API of `dev`
///   when `self` is dropped, even if that happens after `dev` unbound (the DMA operations of a
///   device stay valid until it is released). The device must no longer access the buffers
///   when they are unmapped: the driver stops it first (e.g. in `ndo_stop`).
/// - Every slot satisfies the invariants of `Slot`.
pub struct SkbSlots {
    dev: ARef<device::Device>,
    slots: KVec<Slot>,
}

impl SkbSlots {
    /// Creates `count` empty slots for DMA by `dev`.
    pub fn new(dev: &device::Device<Bound>, count: usize) -> Result<Self> {
        let mut slots = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            slots.push(Slot::EMPTY, GFP_KERNEL)?;
        }
        let dev: &device::Device = dev;
        Ok(Self {
            dev: dev.into(),
            slots,
        })
    }

    /// Returns the number of slots.
    #[inline]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Returns `true` if there are no slots at all.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Returns `true` if slot `i` belongs to a packet in flight (any of its descriptors).
    #[inline]
    pub fn is_used(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| s.busy)
    }

    /// Maps `len` bytes at `ptr` for the device to read.
    ///
    /// # Safety
    ///
    /// `ptr` is a kernel virtual address (not vmalloc, not highmem) of `len` bytes that stay
    /// allocated until the mapping is released with `unmap_only`.
    unsafe fn map_raw(&self, ptr: *mut u8, len: u32) -> Result<DmaAddress> {
        // SAFETY: `self.dev` is a valid device (type invariant); `ptr` and `len` as required
        // by the caller.
        let addr = unsafe {
            bindings::dma_map_single_attrs(self.dev.as_raw(), ptr.cast(), len as usize, DIR, 0)
        };
        // SAFETY: `addr` was just returned for `self.dev`.
        if unsafe { bindings::dma_mapping_error(self.dev.as_raw(), addr) } != 0 {
            return Err(ENOMEM);
        }
        Ok(addr)
    }

    /// Releases the mapping of slot `i`, keeping its skb.
    fn unmap_only(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.len != 0 {
            // SAFETY: A live mapping of `self.dev` for the device to read (invariants); it is
            // forgotten right after.
            unsafe {
                if slot.page {
                    bindings::dma_unmap_page_attrs(
                        self.dev.as_raw(),
                        slot.addr,
                        slot.len as usize,
                        DIR,
                        0,
                    )
                } else {
                    bindings::dma_unmap_single_attrs(
                        self.dev.as_raw(),
                        slot.addr,
                        slot.len as usize,
                        DIR,
                        0,
                    )
                }
            };
        }
        slot.len = 0;
        slot.page = false;
    }

    /// If slot `i` is the last slot of a packet, unmaps every piece of that packet and returns
    /// its skb; the packet's slots are empty again.
    ///
    /// Any other slot (empty, out of range, or an earlier slot of a packet) gives `None` and
    /// changes nothing: the pieces of a packet are only released with the packet, so no mapping
    /// outlives the memory it maps.
    pub fn take(&mut self, i: usize) -> Option<SkBuff> {
        let held = self.slots.get_mut(i)?.held.take()?;
        for k in 0..held.count {
            let j = ring_add(held.first, k, held.ring_len);
            self.unmap_only(j);
            if let Some(slot) = self.slots.get_mut(j) {
                slot.busy = false;
            }
        }
        Some(held.skb)
    }

    /// Frees every buffer, unmapping it first; the slots become empty.
    pub fn clear(&mut self) {
        // All mappings first: a packet's pieces may wrap around the end of the ring, with its
        // skb in a slot of lower index than its linear part.
        for i in 0..self.slots.len() {
            self.unmap_only(i);
        }
        for slot in self.slots.iter_mut() {
            slot.busy = false;
            drop(slot.held.take());
        }
    }
    /// Descriptors [`SkbSlots::map_packet`] uses for `skb` when one descriptor carries at most
    /// `max_len` bytes: one per started `max_len` bytes of the linear part and of each page
    /// fragment. `max_len == 0` counts as no limit.
    #[inline]
    pub fn descriptors(skb: &SkBuff, max_len: u32) -> usize {
        let per = |len: u32| match max_len {
            0 => usize::from(len != 0),
            m => len.div_ceil(m) as usize,
        };
        (0..skb.nr_frags()).fold(per(skb.head_len()), |n, f| {
            n + skb.frag_len(f).map_or(1, per)
        })
    }

    /// Maps a packet for transmission: its linear part, then each page fragment, into
    /// consecutive slots starting at `first` and wrapping at `ring_len` (the ring size in use,
    /// at most [`SkbSlots::len`]). A piece longer than `max_len` bytes (`0`: no limit) spans
    /// several descriptors, as devices whose descriptors carry a bounded length need (the
    /// 8254x, like its C driver, takes at most 4 KiB per descriptor). The skb is kept in the
    /// last slot.
    ///
    /// Then calls `desc(slot, bus_address, length, last)` for each descriptor, in order, to
    /// fill them. Returns the number of slots used, [`SkbSlots::descriptors`]. On failure (a
    /// slot not free: `EBUSY`; bad arguments or more descriptors than the ring: `EINVAL`; a
    /// mapping failure: `ENOMEM`) every mapping made is undone, no descriptor was written, and
    /// the skb is handed back. The `EBUSY` check sees every slot of a packet in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::{dma::SkbSlots, skb::SkBuff};
    /// use kernel::prelude::*;
    ///
    /// /// Writes a legacy descriptor per piece, at most 4 KiB each, into `ring`; returns the
    /// /// next free index.
    /// fn queue(slots: &mut SkbSlots, ring: &mut [(u64, u32)], next: usize,
    ///          skb: SkBuff) -> Result<usize> {
    ///     let n = ring.len();
    ///     let used = slots
    ///         .map_packet(next, n, 4096, skb, |i, addr, len, _last| ring[i] = (addr, len))
    ///         .map_err(|(e, _skb)| e)?;
    ///     Ok((next + used) % n)
    /// }
    /// ```
    pub fn map_packet(
        &mut self,
        first: usize,
        ring_len: usize,
        max_len: u32,
        skb: SkBuff,
        mut desc: impl FnMut(usize, DmaAddress, u32, bool),
    ) -> core::result::Result<usize, (Error, SkBuff)> {
        if ring_len == 0 || ring_len > self.slots.len() || first >= ring_len {
            return Err((EINVAL, skb));
        }
        let max_len = if max_len == 0 { u32::MAX } else { max_len };
        let head = skb.head_len();
        let frags = skb.nr_frags() as usize;
        let total = Self::descriptors(&skb, max_len);
        if total == 0 || total > ring_len {
            return Err((EINVAL, skb));
        }
        // `first + k` wrapped at `ring_len`, for `k < total <= ring_len`.
        let slot = |k: usize| ring_add(first, k, ring_len);
        if (0..total).any(|k| self.is_used(slot(k))) {
            return Err((EBUSY, skb));
        }

        // Each piece's mapping is kept in the slot of its first descriptor; the slots of its
        // other descriptors stay empty.
        let mut k = 0;
        let mut err = None;
        if head != 0 {
            // SAFETY: `skb` is valid; `skb->data` points to `head` bytes of its head (kmalloc'ed
            // or a page fragment: a kernel virtual address), which stays allocated while the
            // slots own the skb, until the mapping is released with the packet.
            let data = unsafe { (*skb.as_raw()).data };
            // SAFETY: See above.
            match unsafe { self.map_raw(data, head) } {
                // INVARIANT: A live mapping of the skb's linear data; the skb is stored in the
                // last slot of the packet below.
                Ok(addr) => {
                    self.slots[slot(0)] = Slot {
                        held: None,
                        busy: false,
                        addr,
                        len: head,
                        page: false,
                    };
                    k = head.div_ceil(max_len) as usize;
                }
                Err(e) => err = Some(e),
            }
        }
        if err.is_none() {
            for f in 0..frags as u32 {
                let len = skb.frag_len(f).unwrap_or(0);
                if len == 0 {
                    err = Some(EINVAL);
                    break;
                }
                // SAFETY: `self.dev` is a valid device, whose DMA operations stay usable while we
                // hold our reference (type invariant); `f < nr_frags`.
                let addr = unsafe {
                    bindings::skb_shinfo_frag_dma_map(self.dev.as_raw(), skb.as_raw(), f, DIR)
                };
                // SAFETY: `addr` was just returned for `self.dev`.
                if unsafe { bindings::dma_mapping_error(self.dev.as_raw(), addr) } != 0 {
                    err = Some(ENOMEM);
                    break;
                }
                // INVARIANT: A live page mapping of fragment `f`, whose skb is kept in the last
                // slot of the packet below.
                self.slots[slot(k)] = Slot {
                    held: None,
                    busy: false,
                    addr,
                    len,
                    page: true,
                };
                k += len.div_ceil(max_len) as usize;
            }
        }
        if let Some(e) = err {
            for j in 0..k {
                self.unmap_only(slot(j));
            }
            return Err((e, skb));
        }

        let mut j = 0;
        while j < total {
            let Slot { addr, len, .. } = self.slots[slot(j)];
            let mut off = 0;
            loop {
                let chunk = (len - off).min(max_len);
                desc(slot(j), addr + u64::from(off), chunk, j + 1 == total);
                off += chunk;
                j += 1;
                if off >= len || j >= total {
                    break;
                }
            }
        }
        // INVARIANT: The `total` slots from `first` hold the packet's mappings, none other's
        // (they were all free above), and are marked busy.
        for j in 0..total {
            self.slots[slot(j)].busy = true;
        }
        self.slots[slot(total - 1)].held = Some(Held {
            skb,
            first,
            count: total,
            ring_len,
        });
        Ok(total)
    }
}

impl Drop for SkbSlots {
    fn drop(&mut self) {
        self.clear();
    }
}
