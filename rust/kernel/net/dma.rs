// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA mappings of socket buffers, for descriptor rings.
//!
//! A NIC ring hands packet buffers to the device: on transmit the data of an outgoing
//! [`SkBuff`], on receive an empty skb that the device fills. Each buffer must be mapped for DMA
//! (`dma_map_single()`) while the device owns it and unmapped before the CPU touches it again.
//!
//! [`SkbSlots`] owns a fixed number of such slots, one per descriptor, together with a reference
//! to the DMA device. A slot is either empty or holds a mapped buffer, so a mapping can neither
//! leak nor be unmapped twice: [`SkbSlots::take`] unmaps and returns the skb, and dropping the
//! `SkbSlots` unmaps and frees whatever is still in flight. The device reference is taken once
//! per ring, not per packet, so the fast path does no atomic operation on shared data.
//!
//! The direction is a type parameter ([`ToDevice`] for TX, [`FromDevice`] for RX), so a receive
//! buffer cannot be mistaken for a transmit one.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h).
//!
//! # Examples
//!
//! ```
//! use kernel::{device::{Bound, Device}, dma::DmaAddress, net::dma::{FromDevice, SkbSlots}};
//! use kernel::net::skb::SkBuff;
//! use kernel::prelude::*;
//!
//! /// Gives `skb` to descriptor `i` of an RX ring: returns the bus address for the descriptor.
//! fn refill(slots: &mut SkbSlots<FromDevice>, i: usize, skb: SkBuff) -> Result<DmaAddress> {
//!     slots.map(i, skb, 2048).map_err(|(e, _skb)| e)
//! }
//!
//! /// The device wrote `len` bytes into descriptor `i`: unmap and take the packet.
//! fn complete(slots: &mut SkbSlots<FromDevice>, i: usize, len: u32) -> Option<SkBuff> {
//!     slots.take_received(i, len).ok()
//! }
//! # fn ring(dev: &Device<Bound>) -> Result<SkbSlots<FromDevice>> { SkbSlots::new(dev, 256) }
//! ```

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
use core::marker::PhantomData;

mod private {
    pub trait Sealed {}
}

/// The index `n` entries after `index` in a ring of `len` entries.
///
/// For `index < len` and `n <= len`, as ring indices are. Written without `%`: objtool does not
/// know the division-by-zero panic of `%` as `noreturn`.
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
/// ```
#[inline]
pub fn ring_add(index: usize, n: usize, len: usize) -> usize {
    match index + n {
        j if j >= len => j - len,
        j => j,
    }
}

/// A DMA transfer direction of a ring.
pub trait Direction: private::Sealed {
    /// The `enum dma_data_direction` value.
    const RAW: bindings::dma_data_direction;
}

/// Buffers the device reads (transmit): `DMA_TO_DEVICE`.
pub struct ToDevice;

/// Buffers the device writes (receive): `DMA_FROM_DEVICE`.
pub struct FromDevice;

impl private::Sealed for ToDevice {}
impl private::Sealed for FromDevice {}

impl Direction for ToDevice {
    const RAW: bindings::dma_data_direction = bindings::dma_data_direction::DMA_TO_DEVICE;
}

impl Direction for FromDevice {
    const RAW: bindings::dma_data_direction = bindings::dma_data_direction::DMA_FROM_DEVICE;
}

/// One descriptor's buffer.
///
/// # Invariants
///
/// If `len != 0`, `[addr, addr + len)` is a live streaming mapping of the owning
/// [`SkbSlots`]' device in direction `D`, made with `dma_map_page()` if `page`, else with
/// `dma_map_single()`. It maps the linear data or a page fragment of the skb held by this slot
/// or, for a transmitted packet spanning several slots, by the last slot of that packet. A
/// piece split over several descriptors has its mapping in the slot of the first one; the
/// others are empty (`len == 0`), except that the last slot of a packet holds its skb.
struct Slot {
    skb: Option<SkBuff>,
    addr: DmaAddress,
    len: u32,
    page: bool,
}

impl Slot {
    const EMPTY: Slot = Slot {
        skb: None,
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
pub struct SkbSlots<D: Direction> {
    dev: ARef<device::Device>,
    slots: KVec<Slot>,
    _dir: PhantomData<D>,
}

impl<D: Direction> SkbSlots<D> {
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
            _dir: PhantomData,
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

    /// Returns `true` if slot `i` holds a buffer (mapped or a packet's final skb).
    #[inline]
    pub fn is_used(&self, i: usize) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| s.len != 0 || s.skb.is_some())
    }

    fn map_raw(&self, ptr: *mut u8, len: u32) -> Result<DmaAddress> {
        // SAFETY: `self.dev` is a valid, bound device (type invariant); the caller passes a
        // kernel virtual address of `len` bytes that stays allocated while mapped.
        let addr = unsafe {
            bindings::dma_map_single_attrs(self.dev.as_raw(), ptr.cast(), len as usize, D::RAW, 0)
        };
        // SAFETY: `addr` was just returned for `self.dev`.
        if unsafe { bindings::dma_mapping_error(self.dev.as_raw(), addr) } != 0 {
            return Err(ENOMEM);
        }
        Ok(addr)
    }

    fn unmap(&mut self, i: usize) -> Option<SkBuff> {
        self.unmap_only(i);
        self.slots.get_mut(i)?.skb.take()
    }

    /// Releases the mapping of slot `i`, keeping its skb.
    fn unmap_only(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.len != 0 {
            // SAFETY: A live mapping of `self.dev` in direction `D` (invariants); it is
            // forgotten right after.
            unsafe {
                if slot.page {
                    bindings::dma_unmap_page_attrs(
                        self.dev.as_raw(),
                        slot.addr,
                        slot.len as usize,
                        D::RAW,
                        0,
                    )
                } else {
                    bindings::dma_unmap_single_attrs(
                        self.dev.as_raw(),
                        slot.addr,
                        slot.len as usize,
                        D::RAW,
                        0,
                    )
                }
            };
        }
        slot.len = 0;
        slot.page = false;
    }

    /// Unmaps slot `i` and returns its skb, if any (a fragment slot has none).
    ///
    /// An empty or out-of-range slot gives `None`.
    pub fn take(&mut self, i: usize) -> Option<SkBuff> {
        self.unmap(i)
    }

    /// Frees every buffer, unmapping it first; the slots become empty.
    pub fn clear(&mut self) {
        // All mappings first: a packet's pieces may wrap around the end of the ring, with its
        // skb in a slot of lower index than its linear part.
        for i in 0..self.slots.len() {
            self.unmap_only(i);
        }
        for slot in self.slots.iter_mut() {
            drop(slot.skb.take());
        }
    }
}

impl SkbSlots<ToDevice> {
    /// Descriptors [`SkbSlots::map_packet`] uses for `skb` when one descriptor carries at most
    /// `max_len` bytes: one per started `max_len` bytes of the linear part and of each page
    /// fragment. `max_len == 0` counts as no limit.
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
    /// the skb is handed back. The `EBUSY` check sees slots holding a mapping or an skb, not
    /// the middle descriptors of a split piece: the driver's ring indices must keep packets in
    /// flight from being overwritten.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::{dma::{SkbSlots, ToDevice}, skb::SkBuff};
    /// use kernel::prelude::*;
    ///
    /// /// Writes a legacy descriptor per piece, at most 4 KiB each, into `ring`; returns the
    /// /// next free index.
    /// fn queue(slots: &mut SkbSlots<ToDevice>, ring: &mut [(u64, u32)], next: usize,
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
            // SAFETY: `skb` is valid; `skb->data` points to `head` bytes of its head, which
            // stays allocated while the slots own the skb.
            let data = unsafe { (*skb.as_raw()).data };
            match self.map_raw(data, head) {
                // INVARIANT: A live mapping of the skb's linear data; the skb is stored in the
                // last slot of the packet below.
                Ok(addr) => {
                    self.slots[slot(0)] = Slot {
                        skb: None,
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
                // SAFETY: `self.dev` is bound and valid (type invariant); `f < nr_frags`.
                let addr = unsafe {
                    bindings::skb_shinfo_frag_dma_map(
                        self.dev.as_raw(),
                        skb.as_raw(),
                        f,
                        ToDevice::RAW,
                    )
                };
                // SAFETY: `addr` was just returned for `self.dev`.
                if unsafe { bindings::dma_mapping_error(self.dev.as_raw(), addr) } != 0 {
                    err = Some(ENOMEM);
                    break;
                }
                // INVARIANT: A live page mapping of fragment `f`, whose skb is kept in the last
                // slot of the packet below.
                self.slots[slot(k)] = Slot {
                    skb: None,
                    addr,
                    len,
                    page: true,
                };
                k += len.div_ceil(max_len) as usize;
            }
        }
        if let Some(e) = err {
            for j in 0..k {
                drop(self.unmap(slot(j)));
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
        self.slots[slot(total - 1)].skb = Some(skb);
        Ok(total)
    }
}

impl SkbSlots<FromDevice> {
    /// Maps `len` bytes of the tailroom of the empty `skb` for the device to write; `EINVAL`
    /// if it is not empty or has less room. The caller stores `skb` in the slot.
    fn map_tailroom(&self, skb: &SkBuff, len: u32) -> Result<DmaAddress> {
        // SAFETY: `skb` is valid.
        let room = unsafe { bindings::skb_tailroom(skb.as_raw()) };
        if len == 0 || !skb.is_empty() || u32::try_from(room).map_or(true, |r| r < len) {
            return Err(EINVAL);
        }
        // SAFETY: `skb` is valid; its tailroom from `skb->data` holds at least `len` bytes
        // (checked) of its own head, which stays allocated while the slot owns the skb.
        let data = unsafe { (*skb.as_raw()).data };
        self.map_raw(data, len)
    }

    /// Maps `len` bytes of `skb`'s tailroom (starting at `skb->data`) for the device to write
    /// and stores the skb in the empty slot `i`.
    ///
    /// `skb` must be empty (freshly allocated) with at least `len` bytes of tailroom, otherwise
    /// `EINVAL`. Returns the bus address for the descriptor; on failure the skb is handed back.
    pub fn map(
        &mut self,
        i: usize,
        skb: SkBuff,
        len: u32,
    ) -> core::result::Result<DmaAddress, (Error, SkBuff)> {
        match self.slots.get(i) {
            None => return Err((EINVAL, skb)),
            Some(s) if s.len != 0 || s.skb.is_some() => return Err((EBUSY, skb)),
            Some(_) => {}
        }
        let addr = match self.map_tailroom(&skb, len) {
            Ok(a) => a,
            Err(e) => return Err((e, skb)),
        };
        // INVARIANT: A live mapping of `skb`'s tailroom, owned by the slot with the skb.
        self.slots[i] = Slot {
            skb: Some(skb),
            addr,
            len,
            page: false,
        };
        Ok(addr)
    }

    /// The device wrote `len` bytes into the buffer of slot `i`: unmaps it and returns the skb
    /// with those bytes appended (`skb_put()`).
    ///
    /// `EINVAL` if the slot is empty or `len` exceeds the mapped length; the buffer is then
    /// still unmapped and freed (a device reporting more than it was given is not trusted).
    pub fn take_received(&mut self, i: usize, len: u32) -> Result<SkBuff> {
        let mapped = self.slots.get(i).map_or(0, |s| s.len);
        let skb = self.unmap(i).ok_or(EINVAL)?;
        if len > mapped {
            return Err(EINVAL);
        }
        // SAFETY: The skb is exclusively owned, linear and empty, and has at least `mapped >=
        // len` bytes of tailroom (checked in `map`); the bytes were written by the device and
        // are unmapped (synced for the CPU) now.
        unsafe { bindings::skb_put(skb.as_raw(), len) };
        Ok(skb)
    }
}

impl SkbSlots<FromDevice> {
    /// Replaces the buffer of slot `i`, which the device filled with `len` bytes, by `new`.
    ///
    /// `new` is mapped first (for `map_len` bytes, as in [`SkbSlots::map`]); only if that
    /// succeeds is the old buffer unmapped and returned with its `len` bytes appended, together
    /// with the bus address of `new` for the descriptor. On failure nothing changes: the old
    /// buffer stays mapped in the slot and can be handed back to the device, and `new` is
    /// returned. The returned old buffer is `Err(EINVAL)` (and freed) if `len` exceeds what was
    /// mapped.
    pub fn swap_received(
        &mut self,
        i: usize,
        len: u32,
        new: SkBuff,
        map_len: u32,
    ) -> core::result::Result<(Result<SkBuff>, DmaAddress), (Error, SkBuff)> {
        let mapped = match self.slots.get(i) {
            Some(s) if s.len != 0 && s.skb.is_some() && !s.page => s.len,
            _ => return Err((EINVAL, new)),
        };
        let addr = match self.map_tailroom(&new, map_len) {
            Ok(a) => a,
            Err(e) => return Err((e, new)),
        };
        let old = self.unmap(i);
        // INVARIANT: A live mapping of `new`'s tailroom, owned by the slot with the skb.
        self.slots[i] = Slot {
            skb: Some(new),
            addr,
            len: map_len,
            page: false,
        };
        let old = match old {
            Some(skb) if len <= mapped => {
                // SAFETY: As in `take_received`.
                unsafe { bindings::skb_put(skb.as_raw(), len) };
                Ok(skb)
            }
            _ => Err(EINVAL),
        };
        Ok((old, addr))
    }
}

impl<D: Direction> Drop for SkbSlots<D> {
    fn drop(&mut self) {
        self.clear();
    }
}
