// SPDX-License-Identifier: GPL-2.0

//! Socket buffers (`struct sk_buff`).
//!
//! [`SkBuff`] is an owned packet; [`Queue`] is a locked FIFO of packets (`struct sk_buff_head`).
//!
//! C headers: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h),
//! [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/etherdevice.h`](srctree/include/linux/etherdevice.h).

#[cfg(CONFIG_PAGE_POOL)]
use crate::net::page_pool::{
    Page,
    PAGE_SIZE, //
};
use crate::{
    bindings,
    error::to_result,
    net::{
        dev::{
            Device,
            Operations, //
        },
        napi::Budget,
    },
    prelude::*,
    types::Opaque,
};
use core::{
    mem::{offset_of, ManuallyDrop},
    ptr::NonNull, //
};

/// Length of an Ethernet header (`ETH_HLEN`).
pub const ETH_HLEN: u32 = bindings::ETH_HLEN;

/// Length of an 802.1Q tag: its EtherType and tag control (`VLAN_HLEN`).
pub const VLAN_HLEN: u32 = bindings::VLAN_HLEN;

/// Most page fragments an skb can have (`MAX_SKB_FRAGS`).
pub const MAX_SKB_FRAGS: usize = bindings::MAX_SKB_FRAGS as usize;

/// Headroom the stack expects in front of received data (`NET_SKB_PAD`, which is
/// `max(32, L1_CACHE_BYTES)` on every architecture but s390, where it is 32: the `max` cannot
/// be evaluated by bindgen).
pub const NET_SKB_PAD: u32 = if cfg!(CONFIG_S390) || bindings::L1_CACHE_BYTES < 32 {
    32
} else {
    bindings::L1_CACHE_BYTES
};

/// Headroom to leave in front of a received frame built in place (`NET_SKB_PAD +
/// NET_IP_ALIGN`), e.g. with [`PollContext::build_skb`](super::napi::PollContext::build_skb).
pub const RX_HEADROOM: u32 = NET_SKB_PAD + bindings::NET_IP_ALIGN;

/// An owned socket buffer.
///
/// Wraps a `struct sk_buff *`. Dropping an `SkBuff` frees it with `dev_kfree_skb_any()`, which is
/// valid in every context, including hard-IRQ context and with interrupts disabled (the free is
/// then deferred to softirq). A packet that was transmitted or delivered successfully should be
/// released with [`SkBuff::consume`] or [`SkBuff::consume_in_napi`] instead, so that drop
/// monitors do not count it as a drop.
///
/// # Invariants
///
/// - `self.0` points to a valid `sk_buff` and this object owns one reference to it
///   (`skb->users`), which is the only reference: the `sk_buff` structure itself is not shared
///   (`!skb_shared()`), so `&mut self` methods may modify it.
/// - The packet data may still be shared with clones (`skb_cloned()`); methods that write
///   packet data check for that first.
/// - `skb->next`/`skb->prev` are not used by anyone else (the buffer is not on a list).
///
/// `skb->dev` may be stale: an `SkBuff` is `Send + 'static` and can outlive the device it was
/// sent or received on (a driver may keep it anywhere). So no method dereferences `skb->dev`
/// (freeing does not: neither the release path nor the drop monitor read it) unless the caller
/// proves the device alive: [`SkBuff::forward`] and [`SkBuff::eth_type_trans`] take the device,
/// and the functions that read `skb->dev` on transmit ([`TxQueue::tx_timestamp`],
/// [`TxQueue::checksum_help`]) are methods of the locked queue the packet is sent on.
///
/// The packet data is only ever copied in and out through C (`memcpy()`), never borrowed as a
/// Rust slice: a driver could still have a page of the packet posted to its device, which may
/// write it at any time (as upstream makes [`Coherent::as_ref`] `unsafe`).
///
/// A slice of the data cannot be borrowed:
///
/// ```ignore,compile_fail,E0599
/// use kernel::net::skb::SkBuff;
///
/// fn first_byte(skb: &SkBuff) -> u8 {
///     skb.data()[0]
/// }
/// ```
///
/// ```ignore,compile_fail,E0599
/// use kernel::net::skb::SkBuff;
///
/// fn fill(skb: &mut SkBuff) -> Result {
///     skb.put(64)?.fill(0xab);
///     Ok(())
/// }
/// ```
///
/// And the functions that read `skb->dev` need the queue the packet is sent on:
///
/// ```ignore,compile_fail,E0599
/// use kernel::net::skb::SkBuff;
///
/// fn kept_too_long(skb: &mut SkBuff) {
///     skb.tx_timestamp();
/// }
/// ```
///
/// ```ignore,compile_fail,E0599
/// use kernel::net::skb::SkBuff;
///
/// fn kept_too_long(skb: &mut SkBuff) -> Result {
///     skb.checksum_help()
/// }
/// ```
///
/// [`TxQueue::tx_timestamp`]: super::dev::TxQueue::tx_timestamp
/// [`TxQueue::checksum_help`]: super::dev::TxQueue::checksum_help
/// [`Coherent::as_ref`]: crate::dma::Coherent::as_ref
pub struct SkBuff(NonNull<bindings::sk_buff>);

// SAFETY: An owned `sk_buff` can be handed to and freed on any CPU; all frees go through
// `dev_kfree_skb_any()` (or `napi_consume_skb()` with a context token), which are valid in
// every context.
unsafe impl Send for SkBuff {}

// SAFETY: `&SkBuff` only allows reading fields of an `sk_buff` that nobody else modifies
// (type invariant).
unsafe impl Sync for SkBuff {}

impl SkBuff {
    /// Takes ownership of a raw `sk_buff`.
    ///
    /// # Safety
    ///
    /// `skb` must be a valid `sk_buff` whose single reference is transferred to the returned
    /// object, that is not shared (`skb->users == 1`) and that is not on any list.
    #[inline]
    pub(crate) unsafe fn from_raw(skb: NonNull<bindings::sk_buff>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(skb)
    }

    /// Gives up ownership, returning the raw pointer.
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<bindings::sk_buff> {
        ManuallyDrop::new(self).0
    }

    /// Returns the raw pointer, which stays owned by `self`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::sk_buff {
        self.0.as_ptr()
    }

    /// Room a page needs after the packet data for `struct skb_shared_info`
    /// (`SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`).
    pub const SHINFO_SIZE: usize = core::mem::size_of::<bindings::skb_shared_info>()
        .next_multiple_of(bindings::SMP_CACHE_BYTES as usize);

    /// Checks that a packet of `len` bytes at `headroom` fits in a page with the shared info.
    #[cfg(CONFIG_PAGE_POOL)]
    fn check_page_layout(headroom: u32, len: u32) -> bool {
        headroom as usize + len as usize + Self::SHINFO_SIZE <= PAGE_SIZE
    }

    /// Finishes an skb built around `page`: reserves `headroom`, puts `len` bytes and marks it
    /// so that freeing it returns the page to its pool.
    ///
    /// # Safety
    ///
    /// `skb` is a fresh skb whose head is `page` (its reference now owned by the skb), checked
    /// with `check_page_layout(headroom, len)`.
    #[cfg(CONFIG_PAGE_POOL)]
    unsafe fn finish_page_skb(skb: NonNull<bindings::sk_buff>, headroom: u32, len: u32) -> Self {
        // SAFETY: A fresh, linear skb with `PAGE_SIZE - SHINFO_SIZE` bytes of room, of which
        // `headroom + len` are used (caller).
        unsafe {
            bindings::skb_reserve(skb.as_ptr(), headroom as i32);
            bindings::__skb_put(skb.as_ptr(), len);
            bindings::skb_mark_for_recycle(skb.as_ptr());
        }
        // INVARIANT: A fresh skb has one reference and is on no list.
        Self(skb)
    }

    /// Builds an skb around a page pool page that holds a received frame of `len` bytes at
    /// `headroom` (`napi_build_skb()`), without copying. Freeing the skb returns the page to its
    /// pool. Gives the page back if the frame and the shared info do not fit in the page, or if
    /// no skb could be allocated.
    ///
    /// # Safety
    ///
    /// Must be called from a NAPI poll function with a non-zero budget.
    #[cfg(CONFIG_PAGE_POOL)]
    pub(crate) unsafe fn napi_build_from_page(
        page: Page,
        headroom: u32,
        len: u32,
    ) -> Result<Self, Page> {
        if !Self::check_page_layout(headroom, len) {
            return Err(page);
        }
        let data = page.raw_address().cast();
        // SAFETY: `page` is a whole order-0 page we own; the shared info goes at its end. We are
        // in a NAPI poll function with a non-zero budget (caller).
        let skb = unsafe { bindings::napi_build_skb(data, PAGE_SIZE as u32) };
        let Some(skb) = NonNull::new(skb) else {
            return Err(page);
        };
        page.into_raw();
        // SAFETY: `skb`'s head is the page, whose reference it now owns; layout checked above.
        Ok(unsafe { Self::finish_page_skb(skb, headroom, len) })
    }

    /// Appends `len` bytes at `offset` of a page pool page as the next fragment of a received
    /// frame (`skb_add_rx_frag()`), without copying; the page is accounted as a whole page.
    /// Freeing the skb returns the page to its pool.
    ///
    /// Gives the page back if the skb already has [`MAX_SKB_FRAGS`] fragments, if its data is
    /// shared with a clone or if the range is not inside the page.
    #[cfg(CONFIG_PAGE_POOL)]
    pub fn add_rx_frag(&mut self, page: Page, offset: u32, len: u32) -> Result<(), Page> {
        let nr = self.nr_frags();
        // SAFETY: `self.0` is valid (type invariant).
        let cloned = unsafe { bindings::skb_cloned(self.as_raw()) } != 0;
        // The shared info is written: not if a clone shares it (type invariant).
        if cloned || nr as usize >= MAX_SKB_FRAGS || offset as usize + len as usize > PAGE_SIZE {
            return Err(page);
        }
        let raw = page.into_raw();
        // SAFETY: We own the skb exclusively (type invariant) and fragment `nr` is the next free
        // one; the fragment takes over our reference on the page. Page pool pages must be
        // freed through the recycling path, hence the mark (harmless for a non-pool head).
        unsafe {
            bindings::skb_add_rx_frag(
                self.as_raw(),
                nr as i32,
                raw.as_ptr(),
                offset as i32,
                len as i32,
                PAGE_SIZE as u32,
            );
            bindings::skb_mark_for_recycle(self.as_raw());
        }
        Ok(())
    }

    /// Returns the total length of the packet (linear part and fragments).
    #[inline]
    pub fn len(&self) -> u32 {
        // SAFETY: `self.0` is valid and not modified concurrently (type invariant).
        unsafe { (*self.as_raw()).len }
    }

    /// Returns `true` if the packet holds no data.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the length of the linear part (`skb_headlen()`).
    #[inline]
    pub fn head_len(&self) -> u32 {
        // SAFETY: As in `len`.
        let data_len = unsafe { (*self.as_raw()).data_len };
        self.len() - data_len
    }

    /// Returns `true` if part of the data lives in page fragments (`skb_is_nonlinear()`).
    #[inline]
    pub fn is_nonlinear(&self) -> bool {
        self.head_len() != self.len()
    }

    /// Copies `dst.len()` bytes of the packet, starting `offset` bytes into it, into `dst`
    /// (`skb_copy_bits()`, which reads the linear part and the fragments alike). Fails with
    /// `EINVAL` if the range is not inside the packet.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::skb::SkBuff;
    /// use kernel::prelude::*;
    ///
    /// fn check(skb: &SkBuff) -> Result {
    ///     let mut mac = [0u8; 6];
    ///     skb.copy_to(0, &mut mac)?;
    ///     assert_eq!(skb.copy_to(skb.len(), &mut mac), Err(EINVAL));
    ///     Ok(())
    /// }
    /// # let _ = check;
    /// ```
    pub fn copy_to(&self, offset: u32, dst: &mut [u8]) -> Result {
        let len = u32::try_from(dst.len()).map_err(|_| EINVAL)?;
        if offset.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(EINVAL);
        }
        let offset = c_int::try_from(offset).map_err(|_| EINVAL)?;
        let len = c_int::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: `self.0` is valid (type invariant) and the range lies inside the packet;
        // `dst` is a distinct, writable buffer of `len` bytes. The copy is a C `memcpy()` on
        // the packet's memory, without a Rust reference to it.
        to_result(unsafe {
            bindings::skb_copy_bits(self.as_raw(), offset, dst.as_mut_ptr().cast(), len)
        })
    }

    /// Returns `skb->data`, only for pointer comparisons.
    #[inline]
    pub(crate) fn data_ptr(&self) -> *const u8 {
        // SAFETY: As in `len`.
        unsafe { (*self.as_raw()).data }
    }

    /// Returns the number of page fragments (`skb_shinfo(skb)->nr_frags`).
    #[inline]
    pub fn nr_frags(&self) -> u32 {
        // SAFETY: `self.0` is valid (type invariant); the shared info lives in the head.
        unsafe { bindings::skb_shinfo_nr_frags(self.as_raw()) }
    }

    /// Returns the length of fragment `i`, if it exists.
    #[inline]
    pub fn frag_len(&self, i: u32) -> Option<u32> {
        if i >= self.nr_frags() {
            return None;
        }
        // SAFETY: `i < nr_frags`, so the fragment is initialised.
        Some(unsafe { bindings::skb_shinfo_frag_size(self.as_raw(), i) })
    }

    /// If the stack asks the device to compute the transport checksum (`CHECKSUM_PARTIAL`),
    /// returns where the checksummed area starts, relative to `skb->data`, and the offset of
    /// the checksum field from that start (`skb_checksum_start_offset()`, `csum_offset`).
    #[inline]
    pub fn checksum_partial(&self) -> Option<(u32, u32)> {
        // SAFETY: `self.0` is valid (type invariant).
        let summed = u32::from(unsafe { bindings::skb_get_ip_summed(self.as_raw()) });
        if summed != bindings::CHECKSUM_PARTIAL {
            return None;
        }
        // SAFETY: As above; for `CHECKSUM_PARTIAL` these fields are set by the stack.
        let (start, off) = unsafe {
            (
                bindings::skb_checksum_start_offset(self.as_raw()),
                bindings::skb_get_csum_offset(self.as_raw()),
            )
        };
        Some((u32::try_from(start).ok()?, u32::from(off)))
    }

    /// Prepares a TCP GSO packet for hardware segmentation with a TCP/IP context descriptor
    /// (as the 8254x and many other NICs have; `e1000_tso()`): the headers are unshared, the
    /// IPv4 total length and header checksum (or the IPv6 payload length) are cleared and the
    /// TCP checksum is seeded with the pseudo-header sum without length, as the device expects.
    ///
    /// Returns `None` if the packet is not GSO (nothing is changed). Fails (`EINVAL`) for GSO
    /// packets that are not TCP, which such an engine cannot segment, when the network protocol
    /// does not match the GSO type, when the headers are not all in the linear part, or if the
    /// headers cannot be unshared (`ENOMEM`).
    pub fn tso_prepare(&mut self) -> Result<Option<Tso>> {
        let skb = self.as_raw();
        // SAFETY: `self.0` is valid (type invariant); the shared info lives in the head.
        let (mss, gso_type) = unsafe {
            (
                bindings::skb_shinfo_gso_size(skb),
                bindings::skb_shinfo_gso_type(skb),
            )
        };
        if mss == 0 {
            return Ok(None);
        }
        // Only TCP can be segmented by a TCP/IP context; never send UDP GSO whole.
        // CAST: the GSO type bits are small positive enumerators.
        let v4 = gso_type & bindings::SKB_GSO_TCPV4 as u32 != 0;
        let v6 = gso_type & bindings::SKB_GSO_TCPV6 as u32 != 0;
        if !v4 && !v6 {
            return Err(EINVAL);
        }
        // SAFETY: `self.0` is valid and we own it exclusively (`&mut self`, type invariant); no
        // reference into its data exists (this type hands out none), so the head may be
        // reallocated.
        to_result(unsafe { bindings::skb_cow_head(skb, 0) })?;
        // SAFETY: `self.0` is valid (type invariant); the stack set the header offsets of a GSO
        // packet.
        let (proto, ip, tcp) = unsafe {
            (
                bindings::vlan_get_protocol(skb),
                bindings::skb_network_offset(skb),
                bindings::skb_transport_offset(skb),
            )
        };
        let ip = u32::try_from(ip).map_err(|_| EINVAL)?;
        let tcp = u32::try_from(tcp).map_err(|_| EINVAL)?;
        if tcp <= ip {
            return Err(EINVAL);
        }
        // The TCP header length: the data offset, in 32-bit words, is the byte after the
        // acknowledgment number (`tcp_hdrlen()`).
        let mut doff = [0u8];
        self.copy_to(tcp + 12, &mut doff)?;
        let doff = u32::from(doff[0] >> 4);
        let hdr_len = tcp + doff * 4;
        // The headers are written below, all before `hdr_len`: they must be in the head, which
        // is now private. Checked before any write, so that a refused packet is left as it was.
        if doff < 5 || hdr_len > self.head_len() || hdr_len >= self.len() {
            return Err(EINVAL);
        }
        let ip_hdr_len = if v4 {
            size_of::<bindings::iphdr>()
        } else {
            size_of::<bindings::ipv6hdr>()
        };
        if ((tcp - ip) as usize) < ip_hdr_len {
            return Err(EINVAL);
        }
        // The source and the destination address, adjacent in both IP headers (the `addrs`
        // group, bindgen's first anonymous union).
        let mut addrs = [0u8; 32];
        let (ipv4, addrs, ip_csum, ip_end) = if v4 && proto == (bindings::ETH_P_IP as u16).to_be() {
            let addrs = &mut addrs[..8];
            self.copy_to(
                ip + offset_of!(bindings::iphdr, __bindgen_anon_1) as u32,
                addrs,
            )?;
            let ip_csum = ip + offset_of!(bindings::iphdr, check) as u32;
            self.store(ip + offset_of!(bindings::iphdr, tot_len) as u32, &[0; 2])?;
            self.store(ip_csum, &[0; 2])?;
            (true, &*addrs, ip_csum, tcp - 1)
        } else if v6 && proto == (bindings::ETH_P_IPV6 as u16).to_be() {
            self.copy_to(
                ip + offset_of!(bindings::ipv6hdr, __bindgen_anon_1) as u32,
                &mut addrs,
            )?;
            self.store(
                ip + offset_of!(bindings::ipv6hdr, payload_len) as u32,
                &[0; 2],
            )?;
            (false, &addrs[..], 0, 0)
        } else {
            return Err(EINVAL);
        };
        let tcp_csum = tcp + offset_of!(bindings::tcphdr, check) as u32;
        self.store(
            tcp_csum,
            &pseudo_header_seed(addrs, bindings::IPPROTO_TCP as u8),
        )?;
        Ok(Some(Tso {
            ipv4,
            ip_start: ip,
            ip_csum,
            ip_end,
            tcp_start: tcp,
            tcp_csum,
            hdr_len,
            mss: u32::from(mss),
            payload_len: self.len() - hdr_len,
        }))
    }

    /// Overwrites `src.len()` bytes of the linear part at `offset` (`skb_store_bits()`).
    ///
    /// Fails with `EINVAL` unless the range is in memory this skb alone may write: the head of
    /// an skb that is not a clone, or, for a clone whose payload only is shared (TCP's `nohdr`
    /// clones), the headers before that payload (`skb_clone_writable()`). Callers unshare the
    /// headers first (`skb_cow_head()`).
    fn store(&mut self, offset: u32, src: &[u8]) -> Result {
        let len = u32::try_from(src.len()).map_err(|_| EINVAL)?;
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= self.head_len())
            .ok_or(EINVAL)?;
        let end = c_uint::try_from(end).map_err(|_| EINVAL)?;
        // SAFETY: `self.0` is valid (type invariant).
        let writable = unsafe {
            bindings::skb_cloned(self.as_raw()) == 0
                || bindings::skb_clone_writable(self.as_raw(), end)
        };
        if !writable {
            return Err(EINVAL);
        }
        let offset = c_int::try_from(offset).map_err(|_| EINVAL)?;
        let len = c_int::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: `self.0` is valid and exclusively ours (`&mut self`, type invariant); the range
        // lies in the linear part, in memory no other skb shares (checked above); `src` is a
        // distinct buffer of `len` bytes. The copy is a C `memcpy()`, with no Rust reference to
        // the packet.
        to_result(unsafe {
            bindings::skb_store_bits(self.as_raw(), offset, src.as_ptr().cast(), len)
        })
    }

    /// Marks a received packet's transport checksum as verified by the device
    /// (`CHECKSUM_UNNECESSARY`).
    #[inline]
    pub fn set_checksum_unnecessary(&mut self) {
        // SAFETY: We own the skb exclusively (`&mut self`, type invariant).
        unsafe { bindings::skb_set_csum_unnecessary(self.as_raw()) }
    }

    /// Records the 802.1Q tag `tci` that the device stripped from a received frame
    /// (`__vlan_hwaccel_put_tag()` with `ETH_P_8021Q`).
    #[inline]
    pub fn put_vlan_tag(&mut self, tci: u16) {
        // SAFETY: We own the skb exclusively (`&mut self`, type invariant).
        unsafe {
            bindings::__vlan_hwaccel_put_tag(
                self.as_raw(),
                (bindings::ETH_P_8021Q as u16).to_be(),
                tci,
            )
        }
    }

    /// Returns `skb->dev`, only for pointer comparisons.
    #[inline]
    pub(crate) fn dev_raw(&self) -> *mut bindings::net_device {
        // NOTE(bindgen): `dev` is in the first anonymous union / struct / union of `sk_buff`.
        // SAFETY: As in `len`. Only the pointer is read; it may be stale (type invariant).
        unsafe {
            (*self.as_raw())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_1
                .dev
        }
    }

    /// Checks that `len` bytes can be appended to the linear part.
    fn check_put(&self, len: usize) -> Result<c_uint> {
        let len = c_uint::try_from(len).map_err(|_| EMSGSIZE)?;
        // SAFETY: `self.0` is valid (type invariant).
        if self.is_nonlinear() || unsafe { bindings::skb_cloned(self.as_raw()) } != 0 {
            return Err(EINVAL);
        }
        // SAFETY: As above.
        let room = unsafe { bindings::skb_tailroom(self.as_raw()) };
        if c_uint::try_from(room).map_or(true, |room| room < len) {
            return Err(ENOSPC);
        }
        Ok(len)
    }

    /// Appends a copy of `len` bytes at `offset` of the page pool page `page` to the linear part
    /// (`skb_put_data()`), e.g. a small received frame copied out of its RX buffer
    /// ("copybreak") so that the page can go straight back to the ring. What the device wrote
    /// must have been synced for the CPU first
    /// ([`PagePool::sync_for_cpu`](super::page_pool::PagePool::sync_for_cpu)).
    ///
    /// Fails with `EINVAL` if the range is not inside the page, and otherwise like
    /// [`SkBuff::put_data`]. The copy is a C `memcpy()`, without a Rust reference to the page.
    #[cfg(CONFIG_PAGE_POOL)]
    pub fn put_from_page(&mut self, page: &Page, offset: u32, len: u32) -> Result {
        if offset as usize + len as usize > PAGE_SIZE {
            return Err(EINVAL);
        }
        let clen = self.check_put(len as usize)?;
        // SAFETY: Preconditions checked by `check_put`; the source range lies inside `page`,
        // which we borrow (it stays allocated) and which is not this skb's tailroom (a page
        // given to an skb is owned by it, and `page` is still owned by the caller).
        unsafe {
            bindings::skb_put_data(
                self.as_raw(),
                page.raw_address().add(offset as usize).cast(),
                clen,
            )
        };
        Ok(())
    }

    /// Prepends a copy of `data`, a header the device reads before the frame. Makes room with
    /// `skb_cow_head()` if the head lacks headroom or is shared with a clone; fails with `ENOMEM`
    /// if that fails (the skb is left as it was).
    #[cfg(CONFIG_VIRTIO = "y")]
    fn push_bytes(&mut self, data: &[u8]) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: We own the skb (type invariant).
        to_result(unsafe { bindings::skb_cow_head(self.as_raw(), len) })?;
        // SAFETY: `skb_cow_head()` left at least `len` bytes of headroom in a head that only
        // this skb uses.
        let p = unsafe { bindings::skb_push(self.as_raw(), len) };
        // SAFETY: `skb_push()` returned the new start of the data, `len` writable bytes that no
        // Rust reference covers; `data` is a distinct buffer of that length.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), p.cast::<u8>(), data.len()) };
        Ok(())
    }

    /// Appends a copy of `data` to the linear part (`skb_put_data()`).
    ///
    /// Fails with `ENOSPC` if there is not enough tailroom and with `EINVAL` if the skb is
    /// non-linear or its data is shared with a clone (C `skb_put()` would `BUG()` or corrupt
    /// the clone in these cases).
    pub fn put_data(&mut self, data: &[u8]) -> Result {
        let clen = self.check_put(data.len())?;
        // SAFETY: Preconditions checked by `check_put`; `data` is valid for `clen` bytes and
        // cannot overlap the tailroom of an skb we own exclusively.
        unsafe { bindings::skb_put_data(self.as_raw(), data.as_ptr().cast(), clen) };
        Ok(())
    }

    /// Sets up a received Ethernet frame for delivery on `dev`.
    ///
    /// Makes sure the Ethernet header is in the linear part (`pskb_may_pull()`), then calls
    /// `eth_type_trans()`, which sets `skb->dev` to `dev`, classifies the frame
    /// (`pkt_type`) and pulls the header, and stores the returned protocol in `skb->protocol`.
    /// Fails with `EINVAL` if the frame is shorter than an Ethernet header.
    ///
    /// This must be called before handing the skb to
    /// [`PollContext::gro_receive`](super::napi::PollContext::gro_receive) or
    /// [`PollContext::receive`](super::napi::PollContext::receive).
    pub fn eth_type_trans<U: Operations>(&mut self, dev: &Device<U>) -> Result {
        // SAFETY: `self.0` is valid and exclusively owned; `pskb_may_pull` may reallocate the
        // head, which is fine as no borrow of the data exists (`&mut self`).
        if !unsafe { bindings::pskb_may_pull(self.as_raw(), ETH_HLEN) } {
            return Err(EINVAL);
        }
        // SAFETY: At least `ETH_HLEN` bytes are linear; `dev` is a valid `net_device`.
        let proto = unsafe { bindings::eth_type_trans(self.as_raw(), dev.as_raw()) };
        // NOTE(bindgen): `protocol` is in the `headers` group, the fourth anonymous union.
        // SAFETY: We own the skb exclusively.
        unsafe { (*self.as_raw()).__bindgen_anon_4.headers.as_mut().protocol = proto };
        Ok(())
    }

    /// Prepares a packet transmitted on `from` for reception on `to` (`__dev_forward_skb()`).
    ///
    /// This is what software "wire" drivers (veth, netdevsim) do in `ndo_start_xmit`: it orphans
    /// zero-copy fragments, checks the length against the MTU of `to`, scrubs the packet (dst,
    /// conntrack, mark and timestamp when crossing network namespaces) and calls
    /// `eth_type_trans()` for `to` (fixing up `CHECKSUM_COMPLETE` for the pulled header).
    /// On success the returned skb has `skb->dev == to` and can later be passed to
    /// [`PollContext::gro_receive`](super::napi::PollContext::gro_receive) of a NAPI instance of
    /// `to`.
    ///
    /// On failure the packet has been freed (and counted in `to`'s `rx_dropped` core counter);
    /// `EINVAL` is also returned, without freeing through C, if `skb->dev` is not `from`.
    pub fn forward<A: Operations, B: Operations>(
        self,
        from: &Device<A>,
        to: &Device<B>,
    ) -> Result<SkBuff> {
        // `__dev_forward_skb()` dereferences `skb->dev` (to compare network namespaces). Only
        // allow it when `skb->dev` is `from`, which the caller proves alive by its reference.
        if self.dev_raw() != from.as_raw() {
            return Err(EINVAL);
        }
        let skb = self.into_raw();
        // SAFETY: We pass our (only) reference to `__dev_forward_skb`. `skb->dev` and `to` are
        // valid devices. On failure the callee frees the skb.
        let ret = unsafe { bindings::__dev_forward_skb(to.as_raw(), skb.as_ptr()) };
        if ret != 0 {
            return Err(EINVAL);
        }
        // INVARIANT: On success the skb is returned to us unchanged in ownership.
        Ok(SkBuff(skb))
    }

    /// Frees a packet that was handled successfully (`dev_consume_skb_any()`).
    ///
    /// Valid in any context.
    #[inline]
    pub fn consume(self) {
        // SAFETY: We give up our only reference.
        unsafe { bindings::dev_consume_skb_any(self.into_raw().as_ptr()) }
    }

    /// Frees a packet that was handled successfully from a NAPI poll (`napi_consume_skb()`).
    ///
    /// With a non-zero budget (only obtainable inside a poll function, see
    /// [`PollContext::budget_token`](super::napi::PollContext::budget_token)) the skb is
    /// recycled into the per-CPU NAPI cache; with [`Budget::any_context`] (zero) it is freed with
    /// `dev_consume_skb_any()`, which is valid anywhere.
    #[inline]
    pub fn consume_in_napi(self, budget: Budget<'_>) {
        // SAFETY: We give up our only reference. A non-zero budget is only available inside a
        // NAPI poll function, the context `napi_consume_skb()` requires for it.
        unsafe { bindings::napi_consume_skb(self.into_raw().as_ptr(), budget.value() as c_int) }
    }
}

impl Drop for SkBuff {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: We own the only reference (type invariant). `dev_kfree_skb_any()` is valid in
        // any context. Neither it nor the `kfree_skb` tracepoint's users (drop monitor) read
        // `skb->dev`, which may be stale by now (type invariant).
        unsafe { bindings::dev_kfree_skb_any(self.as_raw()) }
    }
}

/// The seed a checksum offload engine expects in the TCP/UDP checksum field of a packet it
/// segments: the one's-complement sum of the pseudo-header with a zero length, folded to 16 bits
/// and not complemented (`~csum_tcpudp_magic(saddr, daddr, 0, proto, 0)`, and `tcp_v6_check()`
/// alike), in network byte order. `addrs` is the source then the destination address, as in the
/// IPv4 (8 bytes) or IPv6 (32 bytes) header.
fn pseudo_header_seed(addrs: &[u8], proto: u8) -> [u8; 2] {
    // The pseudo-header's (zero, protocol) word, then the addresses' words; at most 17 words of
    // 16 bits, so the sum cannot overflow.
    let mut sum = u32::from(proto);
    for w in addrs.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    (sum as u16).to_be_bytes()
}

/// Offsets (from `skb->data`) and sizes describing a TCP GSO packet to a segmentation
/// offload engine; see [`SkBuff::tso_prepare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tso {
    /// IPv4 (else IPv6).
    pub ipv4: bool,
    /// Start of the IP header.
    pub ip_start: u32,
    /// IPv4 header checksum field (0 for IPv6).
    pub ip_csum: u32,
    /// Last byte of the IPv4 header (0 for IPv6).
    pub ip_end: u32,
    /// Start of the TCP header.
    pub tcp_start: u32,
    /// TCP checksum field.
    pub tcp_csum: u32,
    /// Length of all headers, up to the TCP payload.
    pub hdr_len: u32,
    /// Maximum segment size.
    pub mss: u32,
    /// TCP payload length.
    pub payload_len: u32,
}

/// A FIFO of owned packets (`struct sk_buff_head`).
///
/// The queue has its own spinlock, taken with interrupts disabled (`skb_queue_tail()` /
/// `skb_dequeue()`), so it can be used from any context, including by producers and consumers
/// running concurrently on different CPUs. Remaining packets are freed when the queue is dropped.
///
/// # Examples
///
/// ```
/// use kernel::net::skb::{Queue, SkBuff};
/// use kernel::prelude::*;
///
/// #[pin_data]
/// struct Ring {
///     #[pin]
///     q: Queue,
/// }
///
/// fn produce(r: &Ring, skb: SkBuff) {
///     if r.q.len() < 256 {
///         r.q.push_back(skb);
///     } // else: `skb` is dropped (freed) here.
/// }
///
/// fn consume(r: &Ring) -> usize {
///     let mut n = 0;
///     while let Some(skb) = r.q.pop_front() {
///         n += skb.len() as usize;
///         skb.consume();
///     }
///     n
/// }
///
/// let r = KBox::pin_init(pin_init!(Ring { q <- Queue::new() }), GFP_KERNEL)?;
/// assert_eq!(consume(&r), 0);
/// # let _ = produce;
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `head` is an initialised `sk_buff_head`; every skb on it is owned by the queue (one
/// reference, not shared, on no other list).
#[pin_data(PinnedDrop)]
pub struct Queue {
    #[pin]
    head: Opaque<bindings::sk_buff_head>,
}

// SAFETY: The queue owns its skbs, which can be freed from any thread.
unsafe impl Send for Queue {}

// SAFETY: All `&self` methods go through the queue's internal spinlock (or read `qlen` with
// `READ_ONCE()`), so they may be called concurrently from any CPU.
unsafe impl Sync for Queue {}

impl Queue {
    /// Creates an empty queue.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            head <- Opaque::ffi_init(|slot: *mut bindings::sk_buff_head| {
                // SAFETY: `slot` is valid for writes and pinned; this initialises the lock and
                // the empty list.
                unsafe { bindings::skb_queue_head_init(slot) }
            }),
        })
    }

    /// Appends `skb` at the tail.
    #[inline]
    pub fn push_back(&self, skb: SkBuff) {
        // SAFETY: `head` is initialised (type invariant); ownership of `skb` moves to the queue.
        unsafe { bindings::skb_queue_tail(self.head.get(), skb.into_raw().as_ptr()) }
    }

    /// Removes and returns the packet at the head, if any.
    #[inline]
    pub fn pop_front(&self) -> Option<SkBuff> {
        // SAFETY: `head` is initialised (type invariant).
        let skb = unsafe { bindings::skb_dequeue(self.head.get()) };
        // SAFETY: `skb_dequeue` unlinked the skb, whose reference the queue owned.
        NonNull::new(skb).map(|skb| unsafe { SkBuff::from_raw(skb) })
    }

    /// Returns the number of queued packets (`skb_queue_len_lockless()`).
    ///
    /// The value may be stale by the time it is used.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: `head` is initialised; this is a `READ_ONCE()` of `qlen`.
        unsafe { bindings::skb_queue_len_lockless(self.head.get()) as usize }
    }

    /// Returns `true` if the queue was empty when checked.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[pinned_drop]
impl PinnedDrop for Queue {
    fn drop(self: Pin<&mut Self>) {
        while let Some(skb) = self.pop_front() {
            drop(skb);
        }
    }
}

#[macros::kunit_tests(rust_net_skb)]
mod tests {
    use super::pseudo_header_seed;

    #[test]
    fn pseudo_header_seed_is_the_folded_sum() {
        // 192.168.0.1 -> 192.168.0.2, TCP: 0xc0a8 + 0x0001 + 0xc0a8 + 0x0002 + 0x0006 = 0x18159,
        // folded: 0x8159 + 1.
        assert_eq!(
            pseudo_header_seed(&[192, 168, 0, 1, 192, 168, 0, 2], 6),
            [0x81, 0x5a]
        );
        // Carries fold back in: 4 * 0xffff + 6 = 0x40002 -> 0x0006.
        assert_eq!(pseudo_header_seed(&[0xff; 8], 6), [0x00, 0x06]);
        // IPv6 fe80::1 -> fe80::2: 2 * 0xfe80 + 1 + 2 + 6 = 0x1fd09 -> 0xfd0a.
        let mut a = [0u8; 32];
        a[0] = 0xfe;
        a[1] = 0x80;
        a[15] = 1;
        a[16] = 0xfe;
        a[17] = 0x80;
        a[31] = 2;
        assert_eq!(pseudo_header_seed(&a, 6), [0xfd, 0x0a]);
        // A sum of exactly 0xffff stays 0xffff (`~csum_fold()` of it is 0xffff too), never 0.
        assert_eq!(
            pseudo_header_seed(&[0xff, 0xf9, 0, 0, 0, 0, 0, 0], 6),
            [0xff, 0xff]
        );
    }
}

#[cfg(CONFIG_VIRTIO = "y")]
pub use virtio_net::VirtioNetHdr;

/// Virtio-net: the header before every frame, and skbs as the transmit buffers of a virtio queue.
#[cfg(CONFIG_VIRTIO = "y")]
mod virtio_net {
    use super::{SkBuff, ETH_HLEN};
    use crate::{
        bindings,
        error::to_result,
        net::dev::{Device, Operations},
        prelude::*,
        transmute::{AsBytes, FromBytes},
        types::Opaque,
        virtio::virtqueue::{Guard, Token},
    };
    use core::ptr::NonNull;

    /// The header a virtio network device reads before every transmitted frame and writes before
    /// every received one (`struct virtio_net_hdr_mrg_rxbuf`, in the little-endian layout of a
    /// modern device): the frame's checksum and segmentation offloads and, on receive with
    /// mergeable buffers, the number of buffers the frame spans.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::skb::VirtioNetHdr;
    /// use kernel::transmute::FromBytes;
    ///
    /// let mut bytes = [0u8; VirtioNetHdr::LEN];
    /// bytes[10] = 3; // `num_buffers`, little-endian
    /// let hdr = VirtioNetHdr::from_bytes_copy(&bytes).unwrap();
    /// assert_eq!(VirtioNetHdr::LEN, 12);
    /// assert_eq!(hdr.num_buffers(), 3);
    /// ```
    #[derive(Clone, Copy, Default)]
    #[repr(transparent)]
    pub struct VirtioNetHdr(bindings::virtio_net_hdr_mrg_rxbuf);

    // SAFETY: The header is made of integers only, with no padding (two bytes and five 16-bit
    // fields, 2-byte aligned): every bit pattern is a valid value.
    unsafe impl FromBytes for VirtioNetHdr {}
    // SAFETY: As above: no padding, so every byte is initialised.
    unsafe impl AsBytes for VirtioNetHdr {}

    impl VirtioNetHdr {
        /// Bytes of the header.
        pub const LEN: usize = size_of::<bindings::virtio_net_hdr_mrg_rxbuf>();

        /// The number of receive buffers the frame spans (mergeable receive buffers).
        pub fn num_buffers(&self) -> u16 {
            u16::from_le(self.0.num_buffers)
        }
    }

    impl SkBuff {
        /// Prepends the virtio-net header that describes this packet's offloads to the device
        /// (`virtio_net_hdr_from_skb()`): the checksum to fill in for `CHECKSUM_PARTIAL`, and
        /// the segmentation of a TCP or UDP GSO packet. The device must have negotiated the
        /// matching features (the network device only claims what it did).
        ///
        /// Fails with `EINVAL` for a GSO type the header cannot describe and with `ENOMEM` if
        /// the headroom cannot be made; the skb is then left as it was.
        pub fn push_virtio_net_hdr(&mut self) -> Result {
            let mut hdr = VirtioNetHdr::default();
            // SAFETY: `self.0` is valid (type invariant); `hdr.0.hdr` is a writable
            // `struct virtio_net_hdr`, which the function fills (little-endian: modern device;
            // no `DATA_VALID` on transmit; no VLAN tag is moved out of the frame).
            to_result(unsafe {
                bindings::virtio_net_hdr_from_skb(self.as_raw(), &raw mut hdr.0.hdr, true, false, 0)
            })?;
            self.push_bytes(hdr.as_bytes())
        }

        /// Applies the offloads a virtio network device reported in `hdr` for this received
        /// frame (which starts at the Ethernet header): a checksum it verified
        /// (`CHECKSUM_UNNECESSARY`) or left partial (`CHECKSUM_PARTIAL`), and the segmentation
        /// of a coalesced frame (`virtio_net_hdr_to_skb()`, which checks the headers it needs).
        /// Call before [`SkBuff::eth_type_trans`].
        ///
        /// Fails with `EINVAL` if the header is inconsistent with the frame or asks for an
        /// offload that was not negotiated (UDP tunnels), if the frame is shorter than an
        /// Ethernet header, or if `eth_type_trans` was called already (the offsets in `hdr`
        /// count from the Ethernet header); the frame must then be dropped.
        pub fn apply_virtio_net_hdr<U: Operations>(
            &mut self,
            dev: &Device<U>,
            hdr: &VirtioNetHdr,
        ) -> Result {
            let skb = self.as_raw();
            // SAFETY: We own the skb exclusively (type invariant). NOTE(bindgen): see
            // `eth_type_trans`.
            let proto = unsafe { (*skb).__bindgen_anon_4.headers.as_ref().protocol };
            // SAFETY: As above; `pskb_may_pull` may reallocate the head, and no borrow of the
            // data exists (`&mut self`).
            if proto != 0 || !unsafe { bindings::pskb_may_pull(skb, ETH_HLEN) } {
                return Err(EINVAL);
            }
            let mut h = hdr.0.hdr;
            // SAFETY: We own the skb exclusively (type invariant); `dev` is a valid device. The
            // header parser finds the protocol of a frame without one through `skb->dev` and
            // the network header (as `virtio_net` sets them), then pulls headers as it needs.
            // NOTE(bindgen): `dev` is in the first anonymous union / struct / union of
            // `sk_buff`.
            unsafe {
                (*skb)
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .dev = dev.as_raw();
                bindings::skb_set_network_header(skb, ETH_HLEN as c_int);
            }
            // SAFETY: As above; `h` is a valid header. UDP tunnel offloads are not negotiated.
            to_result(unsafe { bindings::virtio_net_handle_csum_offload(skb, &raw mut h, false) })?;
            // SAFETY: As above.
            to_result(unsafe { bindings::virtio_net_hdr_to_skb(skb, &raw const h, true) })
        }
    }

    // SAFETY: An `SkBuff` owns its `sk_buff`, its head and its fragments; `into_raw` gives up
    // ownership without freeing anything, `from_raw` takes it back. An owned skb is freed with
    // `dev_kfree_skb_any()`, valid in every context.
    unsafe impl Token for SkBuff {
        fn into_raw(self) -> NonNull<c_void> {
            SkBuff::into_raw(self).cast()
        }

        unsafe fn from_raw(ptr: NonNull<c_void>) -> Self {
            // SAFETY: `ptr` came from `into_raw`: an owned, unshared skb on no list.
            unsafe { SkBuff::from_raw(ptr.cast()) }
        }
    }

    /// Entries of a transmit scatterlist: the linear part and every fragment of an skb.
    const SKB_SG: usize = super::MAX_SKB_FRAGS + 1;

    impl Guard<'_, SkBuff> {
        /// Queues `skb` for the device to read, whole (the virtio header first, as the driver put
        /// it at the start of the data). On failure (`ENOSPC`: the queue is full) `skb` is handed
        /// back untouched.
        pub fn add_skb(&mut self, skb: SkBuff) -> core::result::Result<(), (Error, SkBuff)> {
            let mut sg = [const { Opaque::<bindings::scatterlist>::uninit() }; SKB_SG];
            // SAFETY: `sg` has `SKB_SG` entries.
            unsafe { bindings::sg_init_table(sg.as_mut_ptr().cast(), SKB_SG as u32) };
            // SAFETY: `skb` is a valid skb we own; `sg` has room for its linear part and all its
            // fragments (a frag list, which would need more, fails with `EMSGSIZE`).
            let n = unsafe {
                bindings::skb_to_sgvec(skb.as_raw(), sg.as_mut_ptr().cast(), 0, skb.len() as c_int)
            };
            if n <= 0 {
                return Err((EINVAL, skb));
            }
            // SAFETY: The entries describe the skb's own data, which the skb owns and keeps in
            // place while it is queued.
            unsafe { self.add(sg.as_mut_ptr().cast(), n as u32, true, skb) }
        }
    }
}
