// SPDX-License-Identifier: GPL-2.0

//! Page pools for receive buffers (`struct page_pool`).
//!
//! A NIC's receive ring needs a steady supply of buffers that are DMA-mapped for the device. A
//! [`PagePool`] hands out pages that it mapped once, when it first allocated them, and takes them
//! back when the stack is done with a packet: a page freed through an skb made with
//! [`PollContext::build_skb`](crate::net::napi::PollContext::build_skb) or attached with
//! [`SkBuff::add_rx_frag`](crate::net::skb::SkBuff::add_rx_frag) returns to its pool instead of the
//! page allocator, still mapped. One pool serves one receive queue.
//!
//! [`Page`] is one page from a pool, owned by the driver while it is on a descriptor. Dropping
//! it returns it to its pool. A page never outlives its pool's memory: `page_pool_destroy()`
//! (run when the [`PagePool`] is dropped) keeps the pool alive until every page in flight has
//! come back, and unmaps pages that are still in flight.
//!
//! C headers: [`include/net/page_pool/types.h`](srctree/include/net/page_pool/types.h),
//! [`include/net/page_pool/helpers.h`](srctree/include/net/page_pool/helpers.h).
//!
//! # Examples
//!
//! A pool without DMA mapping hands out a page again once it came back:
//!
//! ```
//! use kernel::net::page_pool::{PagePool, Params};
//! use kernel::prelude::*;
//!
//! let mut pool = PagePool::new(&Params::new(16))?;
//! let mut page = pool.alloc(GFP_KERNEL)?;
//! let first = page.as_ptr();
//! page.write(0, b"rust")?;
//! let mut buf = [0u8; 4];
//! page.read(0, &mut buf)?;
//! assert_eq!(&buf, b"rust");
//! assert_eq!(page.read(4094, &mut buf), Err(EINVAL));
//!
//! // Given back by the pool's owner, it is the next page handed out.
//! pool.recycle(page);
//! let again = pool.alloc(GFP_KERNEL)?;
//! assert_eq!(again.as_ptr(), first);
//!
//! // Dropped, it goes back through the pool's ring; the pool serves its cache first.
//! drop(again);
//! let mut held = KVec::new();
//! let mut seen = false;
//! while !seen && held.len() < 256 {
//!     let p = pool.alloc(GFP_KERNEL)?;
//!     seen = p.as_ptr() == first;
//!     held.push(p, GFP_KERNEL)?;
//! }
//! assert!(seen);
//! # Ok::<(), Error>(())
//! ```
//!
//! A receive ring that maps pages for its device, with 64 bytes of headroom for the skb and
//! 2048-byte buffers:
//!
//! ```
//! use kernel::{device::{Bound, Device}, dma::DmaAddress};
//! use kernel::net::page_pool::{Page, PagePool, Params};
//! use kernel::prelude::*;
//!
//! fn rx_pool(dev: &Device<Bound>) -> Result<PagePool> {
//!     PagePool::new(&Params::new(256).dma_from_device(dev, 64, 2048))
//! }
//!
//! /// Bus address to write into an RX descriptor.
//! fn buffer_address(pool: &PagePool, page: &Page) -> Option<DmaAddress> {
//!     pool.dma_address(page).map(|a| a + 64)
//! }
//! ```

use crate::alloc::Flags;
use crate::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    dma::DmaAddress,
    error::from_err_ptr,
    prelude::*,
    sync::aref::ARef,
};
use core::{
    mem::ManuallyDrop,
    ptr::NonNull, //
};

/// Size of a page: the size of every buffer of an order-0 pool.
pub const PAGE_SIZE: usize = crate::page::PAGE_SIZE;

/// How a [`PagePool`] is set up (`struct page_pool_params`).
///
/// The parameters borrow the devices they name; [`PagePool::new`] takes its own reference.
///
/// A pool names no network device (`page_pool_params.netdev`): the pool would link itself into
/// that device's list of pools, and a pool created after the device's unregistration started
/// (from a held `ARef`) would stay linked into it after it is freed.
///
/// ```ignore,compile_fail,E0599
/// use kernel::net::{dev::{Device, Operations}, page_pool::Params};
///
/// fn listed<T: Operations>(ndev: &Device<T>) -> Params<'_> {
///     Params::new(16).netdev(ndev, 0)
/// }
/// ```
pub struct Params<'a> {
    pool_size: u32,
    dma: Option<(&'a Device<Bound>, u32, u32)>,
}

impl<'a> Params<'a> {
    /// Order-0 pages, recycled through a ring of `pool_size` entries, without DMA mapping.
    pub fn new(pool_size: u32) -> Self {
        Self {
            pool_size,
            dma: None,
        }
    }

    /// Pages are mapped for `dev` to write into (`PP_FLAG_DMA_MAP`, `DMA_FROM_DEVICE`), and the
    /// pool syncs `[offset, offset + max_len)` of a recycled page for the device
    /// (`PP_FLAG_DMA_SYNC_DEV`).
    pub fn dma_from_device(mut self, dev: &'a Device<Bound>, offset: u32, max_len: u32) -> Self {
        self.dma = Some((dev, offset, max_len));
        self
    }
}

/// A page pool.
///
/// # Invariants
///
/// `self.pool` is a page pool made by `page_pool_create()` and owned by this object, which
/// destroys it (`page_pool_destroy()`) when dropped. If it maps pages, it was created for a
/// bound device, which `_dev` references.
pub struct PagePool {
    pool: NonNull<bindings::page_pool>,
    dma: bool,
    /// `__GFP_DMA32` if the pool maps pages for a device that cannot reach all memory, added to
    /// every allocation; otherwise 0.
    zone: bindings::gfp_t,
    /// The device the pool maps pages for: `page_pool_create()` takes no reference on it, and
    /// `page_pool_destroy()` unmaps the pages still in flight through it. Dropped after that.
    _dev: Option<ARef<Device>>,
}

// SAFETY: The pool is tied to no NAPI instance or CPU (`p.napi` is NULL), so it may be used and
// destroyed from any CPU: its lockless alloc cache is only used through `&mut self` (`alloc`,
// `recycle`), and pages come back through its ring, which has its own lock.
unsafe impl Send for PagePool {}

// SAFETY: The `&self` methods only read constant fields of the pool (`p.offset`, `p.dev`,
// `p.dma_dir`) and the DMA address stored in a page, and sync pages the caller owns; allocating
// and direct recycling, which use the pool's lockless single-consumer cache, take `&mut self`.
unsafe impl Sync for PagePool {}

impl PagePool {
    /// Creates a page pool (`page_pool_create()`).
    pub fn new(params: &Params<'_>) -> Result<Self> {
        let mut fast = bindings::page_pool_params__bindgen_ty_1_page_pool_params_fast {
            order: 0,
            pool_size: params.pool_size,
            nid: bindings::NUMA_NO_NODE,
            dev: core::ptr::null_mut(),
            napi: core::ptr::null_mut(),
            dma_dir: bindings::dma_data_direction::DMA_BIDIRECTIONAL,
            max_len: 0,
            offset: 0,
        };
        // No `netdev`: a pool names no network device, so it cannot be left linked into one
        // that is freed (`dev->page_pools`).
        let mut slow = bindings::page_pool_params__bindgen_ty_2_page_pool_params_slow {
            netdev: core::ptr::null_mut(),
            queue_idx: 0,
            flags: 0,
            init_callback: None,
            init_arg: core::ptr::null_mut(),
        };
        if let Some((dev, offset, max_len)) = params.dma {
            if offset as usize + max_len as usize > PAGE_SIZE {
                return Err(EINVAL);
            }
            fast.dev = dev.as_raw();
            fast.dma_dir = bindings::dma_data_direction::DMA_FROM_DEVICE;
            fast.offset = offset;
            fast.max_len = max_len;
            slow.flags = bindings::PP_FLAG_DMA_MAP | bindings::PP_FLAG_DMA_SYNC_DEV;
        }
        let raw = bindings::page_pool_params {
            __bindgen_anon_1: bindings::page_pool_params__bindgen_ty_1 { fast },
            __bindgen_anon_2: bindings::page_pool_params__bindgen_ty_2 { slow },
        };
        // A reference on the DMA device for as long as the pool may use it (`_dev`).
        let dev = params.dma.map(|(dev, ..)| {
            let dev: &Device = dev;
            ARef::from(dev)
        });
        // A device that cannot address all memory (a 32-bit DMA mask without an IOMMU, as the
        // 8254x NICs have) would have swiotlb bounce every page above its limit, with a copy at
        // each sync: such a pool takes its pages below 4 GiB. (A mask under 32 bits still
        // bounces some of them, never more than without.)
        let zone = match params.dma {
            // SAFETY: `dev` is a valid, bound device; `dma_addressing_limited()` only reads its
            // DMA mask and DMA operations.
            Some((dev, ..)) if unsafe { bindings::dma_addressing_limited(dev.as_raw()) } => {
                1 << bindings::___GFP_DMA32_BIT
            }
            _ => 0,
        };
        // SAFETY: `raw` is a complete parameter block; `page_pool_create()` copies it. The DMA
        // device is bound (by the type of `Params::dma_from_device`), and `dev` keeps it alive
        // until after `page_pool_destroy()`. No net device is named.
        let pool = from_err_ptr(unsafe { bindings::page_pool_create(&raw) })?;
        // INVARIANT: A successful `page_pool_create()` returns a valid pool owned by the caller;
        // `dev` is its DMA device, if any.
        Ok(Self {
            pool: NonNull::new(pool).ok_or(ENOMEM)?,
            dma: params.dma.is_some(),
            zone,
            _dev: dev,
        })
    }

    /// Takes a page from the pool, or from the page allocator with `flags` if the pool has none
    /// to recycle (`page_pool_alloc_netmems()`). A new page is mapped for the device first; for
    /// a device that cannot address all memory (`dma_addressing_limited()`) it comes from
    /// `ZONE_DMA32`, so that the device reaches it without bounce buffers.
    ///
    /// Allocation needs `&mut self`: the pool's cache has a single consumer, so a driver keeps
    /// the pool with the ring it fills (under the ring's lock, or in its NAPI instance).
    pub fn alloc(&mut self, flags: Flags) -> Result<Page> {
        // Pages must have a kernel mapping (`Page::read`/`write`, `build_skb`).
        let flags = (flags.as_raw() & !bindings::__GFP_HIGHMEM) | self.zone;
        // SAFETY: `self.pool` is a valid pool (type invariant); `&mut self` excludes concurrent
        // consumers of its cache. (`page_pool_alloc_netmems()`, which `page_pool_alloc_pages()`
        // inlines, is the function that fault injection can make fail.)
        let netmem = unsafe { bindings::page_pool_alloc_netmems(self.pool.as_ptr(), flags) };
        // SAFETY: `netmem` is 0 or a reference the pool handed over. It is a page: the pool has no
        // memory provider (none can be bound to a queue of these drivers); `netmem_to_page()`
        // returns NULL for anything else, and for 0.
        let page = unsafe { bindings::netmem_to_page(netmem) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: The page came from this pool, which hands over its reference; the pool
        // stays allocated until the page is returned.
        Ok(Page {
            page,
            pool: self.pool,
        })
    }

    /// The bus address of the start of `page`, if this pool maps its pages and `page` is one of
    /// them. Borrowing the pool keeps the mapping alive (destroying the pool unmaps pages still
    /// in flight).
    #[inline]
    pub fn dma_address(&self, page: &Page) -> Option<DmaAddress> {
        (self.dma && page.pool == self.pool)
            // SAFETY: `page` belongs to this live pool, which maps its pages; the address was
            // stored when the page was mapped.
            .then(|| unsafe { bindings::page_pool_get_dma_addr(page.page.as_ptr()) })
    }

    /// Makes what the device wrote at `[offset, offset + len)` of `page` (offset counted from the
    /// pool's `offset`) visible to the CPU. Does nothing if the pool does not map pages or
    /// `page` is not one of its pages.
    #[inline]
    pub fn sync_for_cpu(&self, page: &Page, offset: u32, len: u32) {
        if let Some((off, len)) = self.sync_range(page, offset, len) {
            // SAFETY: The range lies inside the mapping of a page of this live pool, which maps
            // its pages (`sync_range`). The C helper adds the pool's offset back.
            unsafe {
                bindings::page_pool_dma_sync_for_cpu(
                    self.pool.as_ptr(),
                    page.page.as_ptr(),
                    off - self.offset(),
                    len,
                )
            };
        }
    }

    /// Hands `[offset, offset + len)` of `page` (offset counted from the pool's `offset`) back to
    /// the device after the CPU looked at it, so that the page can go back on a descriptor
    /// without a trip through the pool. Does nothing if the pool does not map pages or `page` is
    /// not one of its pages.
    #[inline]
    pub fn sync_for_device(&self, page: &Page, offset: u32, len: u32) {
        if let (Some(addr), Some((off, len))) =
            (self.dma_address(page), self.sync_range(page, offset, len))
        {
            // SAFETY: `self.pool` is valid (type invariant).
            let p = unsafe { &(*self.pool.as_ptr()).p };
            // SAFETY: The range lies inside the page's mapping, made for `p.dev` in `p.dma_dir`.
            unsafe {
                bindings::dma_sync_single_range_for_device(
                    p.dev,
                    addr,
                    off as usize,
                    len as usize,
                    p.dma_dir,
                )
            };
        }
    }

    /// The pool's `offset` (where the device's part of a page starts).
    fn offset(&self) -> u32 {
        // SAFETY: `self.pool` is valid (type invariant); `p.offset` is constant.
        unsafe { (*self.pool.as_ptr()).p.offset }
    }

    /// `[offset, offset + len)` from the pool's offset, as an absolute range clamped to the page,
    /// if the pool maps `page`.
    fn sync_range(&self, page: &Page, offset: u32, len: u32) -> Option<(u32, u32)> {
        if !self.dma || page.pool != self.pool {
            return None;
        }
        let off = self.offset().checked_add(offset)?;
        let room = (PAGE_SIZE as u32).checked_sub(off).filter(|&r| r > 0)?;
        Some((off, len.min(room)))
    }

    /// Returns `page` to this pool's lockless cache, where the next [`PagePool::alloc`] finds
    /// it (`page_pool_put_full_page()` with `allow_direct`): the cheap way for the ring that
    /// owns the pool to give back a buffer it did not pass on. A page of another pool is
    /// returned to that pool the ordinary way.
    #[inline]
    pub fn recycle(&mut self, page: Page) {
        if page.pool != self.pool {
            drop(page);
            return;
        }
        // As in `Page::drop`: a full cache sends the page to the ring, whose lock cannot be
        // taken with interrupts disabled.
        // SAFETY: Plain FFI call.
        if unsafe { bindings::irqs_disabled() } {
            drop(page);
            return;
        }
        let page = page.into_raw();
        // SAFETY: The page is ours and belongs to this pool. Direct recycling fills the
        // single-consumer alloc cache, which `&mut self` gives us exclusive access to: the pool
        // is tied to no NAPI instance or CPU, so nothing else recycles into it directly.
        unsafe { bindings::page_pool_put_full_page(self.pool.as_ptr(), page.as_ptr(), true) };
    }
}

impl Drop for PagePool {
    fn drop(&mut self) {
        // SAFETY: `self.pool` is a valid pool owned by us (type invariant). Pages still in flight
        // keep the pool's memory alive; their mappings are released now, through the DMA device
        // that `_dev` keeps alive until after this (it is dropped after `drop` returns): later
        // returns of those pages do not use the device.
        unsafe { bindings::page_pool_destroy(self.pool.as_ptr()) };
    }
}

/// A page from a [`PagePool`], owned by the driver.
///
/// Dropping it gives it back to its pool (`page_pool_put_full_page()`), which syncs it for the
/// device and recycles it.
///
/// # Invariants
///
/// - `page` was allocated from `pool` and this object owns the reference the pool handed out.
/// - `pool` stays allocated until `page` is returned to it (a pool with pages in flight is
///   only freed when they all came back, also after `page_pool_destroy()`).
/// - `page` is not in high memory (it has a kernel mapping).
///
/// Its DMA address is only available through the live pool ([`PagePool::dma_address`]): a
/// destroyed pool unmaps the pages still in flight.
///
/// # Context
///
/// A `Page` goes back to its pool with interrupts enabled, outside hard-IRQ context (the page
/// pool's put path has `lockdep_assert_no_hardirq()` and takes its ring's lock with
/// `spin_lock_bh()`). Dropped with interrupts disabled (under a `SpinLockIrq`, under netpoll, in
/// an interrupt handler) it is leaked instead, with a warning: keep pages under BH-disabling
/// locks.
pub struct Page {
    page: NonNull<bindings::page>,
    pool: NonNull<bindings::page_pool>,
}

// SAFETY: A page pool page may be returned to its pool from any CPU (`page_pool_put_full_page()`
// with `allow_direct == false` takes the ring's lock).
unsafe impl Send for Page {}

// SAFETY: `&Page` only allows copying the page's data out (`read`).
unsafe impl Sync for Page {}

impl Page {
    /// The `struct page` pointer, to compare pages.
    pub fn as_ptr(&self) -> *const bindings::page {
        self.page.as_ptr()
    }

    /// Kernel virtual address of the page (order-0 pool pages are never in high memory: the
    /// pool is never asked for `__GFP_HIGHMEM`).
    fn address(&self) -> *mut u8 {
        // SAFETY: `self.page` is a valid page (type invariant).
        unsafe { bindings::page_address(self.page.as_ptr()) }.cast()
    }

    /// Copies `dst.len()` bytes at `offset` of the page into `dst`. Fails with `EINVAL` if the
    /// range is not inside the page. What the device wrote must be synced first
    /// ([`PagePool::sync_for_cpu`]).
    ///
    /// The copy is done by the C `memcpy()` on the raw memory, without a Rust reference to it:
    /// if the page is still posted to the device (the driver's bug), the bytes may be garbage,
    /// but nothing is undefined.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        if offset.checked_add(dst.len()).ok_or(EINVAL)? > PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: The source range is inside the page, which stays allocated while we own it;
        // `dst` is a distinct, writable buffer of that length.
        unsafe {
            bindings::memcpy(
                dst.as_mut_ptr().cast(),
                self.address().add(offset).cast(),
                dst.len(),
            )
        };
        Ok(())
    }

    /// Copies `src` to `offset` of the page. Fails with `EINVAL` if the range is not inside the
    /// page. As [`Page::read`], the copy goes through `memcpy()` on the raw memory.
    pub fn write(&mut self, offset: usize, src: &[u8]) -> Result {
        if offset.checked_add(src.len()).ok_or(EINVAL)? > PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: As in `read`, with the roles swapped.
        unsafe {
            bindings::memcpy(
                self.address().add(offset).cast(),
                src.as_ptr().cast(),
                src.len(),
            )
        };
        Ok(())
    }

    /// Gives up ownership: the caller now owns the pool's reference.
    pub(crate) fn into_raw(self) -> NonNull<bindings::page> {
        ManuallyDrop::new(self).page
    }

    /// Takes back the reference given up with [`Page::into_raw`].
    ///
    /// # Safety
    ///
    /// `page` must come from [`Page::into_raw`] and be taken back at most once.
    pub(crate) unsafe fn from_raw(page: NonNull<bindings::page>) -> Self {
        // SAFETY: A page a pool handed out names that pool (`pp`, set by the pool); the pool is
        // not freed while it has pages out (`page_pool_destroy()` waits for them).
        let pool = unsafe { bindings::page_pool_of(page.as_ptr()) };
        // INVARIANT: One pool reference on `page`, a page of `pool` (see above).
        Self {
            page,
            // SAFETY: See above: the page's pool is set.
            pool: unsafe { NonNull::new_unchecked(pool) },
        }
    }

    /// Start of the page for `build_skb()`.
    pub(crate) fn raw_address(&self) -> *mut u8 {
        self.address()
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // With interrupts disabled (hard IRQ, or under an IRQ-disabling lock) the pool's ring
        // lock cannot be taken: it is taken with BH disabled only, so this CPU may hold it
        // already. Such a page is leaked rather than deadlocking; its pool then never
        // finishes its shutdown. Drivers keep pages under BH-disabling locks, where this does
        // not happen.
        // SAFETY: Plain FFI call.
        if unsafe { bindings::irqs_disabled() } {
            crate::pr_warn_once!("page_pool: page dropped with interrupts disabled, leaked\n");
            return;
        }
        // SAFETY: We own one reference on a page of `self.pool`, which is still allocated (type
        // invariants). `allow_direct == false` is valid with interrupts enabled, in process or
        // softirq context.
        unsafe { bindings::page_pool_put_full_page(self.pool.as_ptr(), self.page.as_ptr(), false) };
    }
}

/// A receive buffer of a virtio queue: the device writes into part of the page.
#[cfg(CONFIG_VIRTIO = "y")]
mod virtio_token {
    use super::Page;
    use crate::{
        bindings,
        prelude::*,
        types::Opaque,
        virtio::virtqueue::{Guard, Token},
    };
    use core::ptr::NonNull;

    // SAFETY: A page pool `Page` owns one reference on its page; the raw form is the
    // `struct page` pointer, whose pool `Page::from_raw` finds again. The page is not freed
    // or handed out while its reference is owned, so the queued part stays in place.
    unsafe impl Token for Page {
        fn into_raw(self) -> NonNull<c_void> {
            Page::into_raw(self).cast()
        }

        unsafe fn from_raw(ptr: NonNull<c_void>) -> Self {
            // SAFETY: `ptr` came from `Page::into_raw`, which gave up one pool reference.
            unsafe { Page::from_raw(ptr.cast()) }
        }
    }

    impl Guard<'_, Page> {
        /// Queues `len` bytes of `page` from `offset` for the device to write. Fails with
        /// `EINVAL` if the range is not inside the page; on any failure the page is handed
        /// back.
        pub fn add_page(
            &mut self,
            page: Page,
            offset: usize,
            len: usize,
        ) -> core::result::Result<(), (Error, Page)> {
            match offset.checked_add(len) {
                Some(end) if end <= crate::page::PAGE_SIZE && len != 0 => {}
                _ => return Err((EINVAL, page)),
            }
            let sg = Opaque::<bindings::scatterlist>::uninit();
            // SAFETY: `page`'s address plus `offset` is inside the page (checked above);
            // order-0 pool pages are in the direct map.
            unsafe {
                bindings::sg_init_one(sg.get(), page.raw_address().add(offset).cast(), len as u32)
            };
            // SAFETY: `sg` describes part of the page, which the page token owns.
            unsafe { self.add(sg.get(), 1, false, page) }
        }
    }
}
