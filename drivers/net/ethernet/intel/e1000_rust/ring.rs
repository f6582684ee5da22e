// SPDX-License-Identifier: GPL-2.0

//! TX and RX descriptor rings.
//!
//! Descriptors live in coherent DMA memory, viewed as `u64` words (two per 16-byte descriptor)
//! and accessed with volatile I/O projections, so the driver needs no `unsafe`. TX buffers are
//! the socket buffers being sent, mapped with streaming DMA through [`SkbSlots`], one slot per
//! descriptor; RX buffers are pages from a page pool, mapped once by the pool and recycled.
//!
//! Both rings are allocated once, at probe, at the largest size the device supports; the size
//! in use ([`TxRing::count`], [`RxRing::count`]) is what is programmed into TDLEN/RDLEN, so
//! `ethtool -G` never allocates descriptor memory.

use kernel::{
    device::{Bound, Device},
    dma::{Coherent, DmaAddress},
    io::{io_read, io_write},
    net::{
        dma::{ring_add, SkbSlots},
        napi::{Poll, PollContext},
        page_pool::{Page, PagePool, Params},
        skb::{SkBuff, RX_HEADROOM},
    },
    prelude::*,
};

/// Largest ring the 8254x supports.
pub(crate) const MAX_DESCS: usize = 4096;
/// Smallest ring the C driver allows (`E1000_MIN_TXD`, `E1000_MIN_RXD`). A TX ring this small
/// still holds the largest packet with room to spare (see `TX_STOP_THRESHOLD`).
pub(crate) const MIN_DESCS: usize = 48;
/// Default ring size (as the C driver).
pub(crate) const DEFAULT_DESCS: usize = 256;
/// Descriptor counts must be multiples of this (TDLEN/RDLEN are multiples of 128 bytes).
pub(crate) const DESC_MULTIPLE: usize = 8;
/// Most bytes one TX data descriptor carries (as the C driver: `E1000_MAX_DATA_PER_TXD`);
/// longer pieces span several descriptors. (The C driver's errata workarounds for other MACs
/// and buses, such as the 4-byte TSO sentinel descriptor, are not reproduced.)
pub(crate) const TX_MAX_DATA: u32 = 4096;

/// TX descriptor bits (second word; legacy, context and extended data descriptors).
pub(crate) mod txd {
    /// End of packet.
    pub(crate) const EOP: u64 = 1 << 24;
    /// Insert FCS.
    pub(crate) const IFCS: u64 = 1 << 25;
    /// Report status (write DD back).
    pub(crate) const RS: u64 = 1 << 27;
    /// Extended descriptor (context or data, per DTYP).
    pub(crate) const DEXT: u64 = 1 << 29;
    /// Descriptor type: extended data (with DEXT).
    pub(crate) const DTYP_D: u64 = 1 << 20;
    /// Descriptor done (status, bit 32).
    pub(crate) const DD: u64 = 1 << 32;
    /// TCP segmentation enable (data and context descriptors).
    pub(crate) const TSE: u64 = 1 << 26;
    /// Context: the packet is TCP (TUCMD.TCP).
    pub(crate) const CTX_TCP: u64 = 1 << 24;
    /// Context: the packet is IPv4 (TUCMD.IP).
    pub(crate) const CTX_IP: u64 = 1 << 25;
    /// Insert the IPv4 header checksum (POPTS.IXSM).
    pub(crate) const POPTS_IXSM: u64 = 0x01 << 40;
    /// Insert the TCP/UDP checksum as the current context describes (POPTS.TXSM).
    pub(crate) const POPTS_TXSM: u64 = 0x02 << 40;
}

/// RX descriptor fields (second word).
pub(crate) mod rxd {
    /// Descriptor done.
    pub(crate) const DD: u64 = 0x01 << 32;
    /// End of packet.
    pub(crate) const EOP: u64 = 0x02 << 32;
    /// Errors byte (CE, SE, SEQ, CXE, RXE); TCPE/IPE are checksum results, not frame errors.
    pub(crate) const FRAME_ERRORS: u64 = 0x97 << 40;
    /// Ignore checksum indication: the device did not check.
    pub(crate) const IXSM: u64 = 0x04 << 32;
    /// The frame had an 802.1Q tag, stripped into the special field.
    pub(crate) const VP: u64 = 0x08 << 32;
    /// TCP/UDP checksum was checked.
    pub(crate) const TCPCS: u64 = 0x20 << 32;
    /// TCP/UDP checksum error.
    pub(crate) const TCPE: u64 = 0x20 << 40;
    /// IPv4 header checksum error.
    pub(crate) const IPE: u64 = 0x40 << 40;

    /// The VLAN tag (special field).
    pub(crate) fn vlan(w: u64) -> u16 {
        (w >> 48) as u16
    }

    /// The length the device wrote.
    pub(crate) fn len(w: u64) -> u32 {
        (w & 0xffff) as u32
    }
}

/// Reads descriptor word `i` (little-endian in memory).
///
/// One 64-bit volatile load, so the status bits and the length written back with them are
/// read together: no barrier is needed between checking DD and reading the length.
fn read_word(desc: &Coherent<[u64]>, i: usize) -> Result<u64> {
    let v: u64 = io_read!(desc, [try: i]);
    Ok(u64::from_le(v))
}

/// Writes descriptor word `i` (little-endian in memory).
fn write_word(desc: &Coherent<[u64]>, i: usize, v: u64) -> Result {
    io_write!(desc, [try: i], v.to_le());
    Ok(())
}

/// The transmit ring.
pub(crate) struct TxRing {
    desc: Coherent<[u64]>,
    pub(crate) slots: SkbSlots,
    /// For the first descriptor of each queued packet, the index of its last one.
    eop: KVec<u16>,
    /// Descriptors in use (a multiple of [`DESC_MULTIPLE`]).
    pub(crate) count: usize,
    /// Next descriptor to fill.
    pub(crate) next_to_use: usize,
    /// First descriptor of the oldest packet not yet reclaimed.
    pub(crate) next_to_clean: usize,
}

/// What [`TxRing::reclaim`] freed.
#[derive(Default)]
pub(crate) struct Reclaimed {
    pub(crate) packets: u32,
    pub(crate) bytes: u32,
}

/// What the context descriptor before a packet tells the device.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxContext {
    /// Insert a checksum over `[start, end)` at `offset` (`CHECKSUM_PARTIAL`).
    Csum {
        /// Start of the checksummed area (TUCSS).
        start: u8,
        /// Where the checksum goes (TUCSO).
        offset: u8,
    },
    /// Segment the TCP payload (TSO), inserting the IPv4 (if `ipv4`) and TCP checksums.
    Tso {
        ipv4: bool,
        ipcss: u8,
        ipcso: u8,
        ipcse: u16,
        tucss: u8,
        tucso: u8,
        hdr_len: u8,
        mss: u16,
        payload_len: u32,
    },
}

impl TxContext {
    /// The two words of the context descriptor.
    fn words(self) -> (u64, u64) {
        match self {
            TxContext::Csum { start, offset } => {
                (u64::from(start) << 32 | u64::from(offset) << 40, txd::DEXT)
            }
            TxContext::Tso {
                ipv4,
                ipcss,
                ipcso,
                ipcse,
                tucss,
                tucso,
                hdr_len,
                mss,
                payload_len,
            } => {
                let w0 = u64::from(ipcss)
                    | u64::from(ipcso) << 8
                    | u64::from(ipcse) << 16
                    | u64::from(tucss) << 32
                    | u64::from(tucso) << 40;
                let mut w1 = u64::from(payload_len & 0xf_ffff)
                    | txd::DEXT
                    | txd::TSE
                    | txd::CTX_TCP
                    | u64::from(hdr_len) << 40
                    | u64::from(mss) << 48;
                if ipv4 {
                    w1 |= txd::CTX_IP;
                }
                (w0, w1)
            }
        }
    }

    /// Bits of the packet's data descriptors.
    fn data_bits(self) -> u64 {
        let ext = txd::DEXT | txd::DTYP_D | txd::POPTS_TXSM;
        match self {
            TxContext::Csum { .. } => ext,
            TxContext::Tso { ipv4, .. } => ext | txd::TSE | if ipv4 { txd::POPTS_IXSM } else { 0 },
        }
    }
}

impl TxRing {
    pub(crate) fn new(dev: &Device<Bound>) -> Result<Self> {
        let mut eop = KVec::with_capacity(MAX_DESCS, GFP_KERNEL)?;
        eop.resize(MAX_DESCS, 0, GFP_KERNEL)?;
        Ok(Self {
            desc: Coherent::zeroed_slice(dev, 2 * MAX_DESCS, GFP_KERNEL)?,
            slots: SkbSlots::new(dev, MAX_DESCS)?,
            eop,
            count: DEFAULT_DESCS,
            next_to_use: 0,
            next_to_clean: 0,
        })
    }

    /// Bus address of the descriptor array.
    pub(crate) fn dma_address(&self) -> DmaAddress {
        self.desc.dma_address()
    }

    /// No packet is waiting for the device or for reclaim.
    pub(crate) fn idle(&self) -> bool {
        self.next_to_clean == self.next_to_use
    }

    /// Free descriptors (one is always left unused, so that a full ring differs from an
    /// empty one).
    pub(crate) fn unused(&self) -> usize {
        ring_add(
            self.next_to_clean,
            self.count - self.next_to_use - 1,
            self.count,
        )
    }

    /// Uses `count` descriptors from now on; the ring is emptied (the device is down).
    pub(crate) fn resize(&mut self, count: usize) {
        self.slots.clear();
        self.count = count;
        self.next_to_use = 0;
        self.next_to_clean = 0;
    }

    /// Forgets every descriptor and frees every buffer; the device must not be transmitting.
    pub(crate) fn reset(&mut self) -> Result {
        self.slots.clear();
        for i in 0..2 * self.count {
            write_word(&self.desc, i, 0)?;
        }
        self.next_to_use = 0;
        self.next_to_clean = 0;
        Ok(())
    }

    /// Descriptors a packet needs: one per started [`TX_MAX_DATA`] bytes of each piece, plus a
    /// context descriptor for a checksum.
    pub(crate) fn needed(skb: &kernel::net::skb::SkBuff, csum: bool) -> usize {
        SkbSlots::descriptors(skb, TX_MAX_DATA) + usize::from(csum)
    }

    /// Queues `skb` at `next_to_use`, with a context descriptor first if `ctx` is given.
    /// Returns the bytes queued (for BQL); the caller writes TDT. `EBUSY` if the ring lacks
    /// room: the skb is handed back untouched.
    pub(crate) fn push(
        &mut self,
        skb: kernel::net::skb::SkBuff,
        ctx: Option<TxContext>,
    ) -> core::result::Result<u32, (Error, kernel::net::skb::SkBuff)> {
        if Self::needed(&skb, ctx.is_some()) > self.unused() {
            return Err((EBUSY, skb));
        }
        let bytes = skb.len();
        let first = self.next_to_use;
        let mut data = first;
        if let Some(c) = ctx {
            let (w0, w1) = c.words();
            if let Err(e) = write_word(&self.desc, 2 * first, w0)
                .and_then(|()| write_word(&self.desc, 2 * first + 1, w1))
            {
                return Err((e, skb));
            }
            data = ring_add(first, 1, self.count);
        }
        let (desc, count) = (&self.desc, self.count);
        let mut last = data;
        let mut res = Ok(());
        let used = self
            .slots
            .map_packet(data, count, TX_MAX_DATA, skb, |i, addr, len, eop| {
                let mut w1 = u64::from(len) | txd::IFCS;
                if let Some(c) = ctx {
                    w1 |= c.data_bits();
                }
                if eop {
                    w1 |= txd::EOP | txd::RS;
                    last = i;
                }
                res = res
                    .and_then(|()| write_word(desc, 2 * i, addr))
                    .and_then(|()| write_word(desc, 2 * i + 1, w1));
            })?;
        if res.is_err() || used == 0 {
            // Cannot happen (indices are below `count`); nothing was handed to the device.
            for k in 0..used {
                drop(self.slots.take(ring_add(data, k, count)));
            }
            return Ok(0);
        }
        self.eop[first] = last as u16;
        self.next_to_use = ring_add(last, 1, count);
        Ok(bytes)
    }

    /// Unmaps the buffers of packets the device has completed (DD in their last descriptor)
    /// and moves their skbs to `out`, at most `out.len()` packets: the caller frees them after
    /// releasing the ring lock (freeing may run destructors, which must not run with
    /// interrupts off). Call again while `packets == out.len()`.
    pub(crate) fn reclaim(&mut self, out: &mut [Option<kernel::net::skb::SkBuff>]) -> Reclaimed {
        let mut r = Reclaimed::default();
        while self.next_to_clean != self.next_to_use && (r.packets as usize) < out.len() {
            let first = self.next_to_clean;
            let last = usize::from(self.eop[first]);
            if last >= self.count {
                break;
            }
            let Ok(w1) = read_word(&self.desc, 2 * last + 1) else {
                break;
            };
            if w1 & txd::DD == 0 {
                break;
            }
            // The packet's last slot holds it: taking it unmaps every piece.
            if let Some(skb) = self.slots.take(last) {
                r.bytes += skb.len();
                out[r.packets as usize] = Some(skb);
                r.packets += 1;
            }
            self.next_to_clean = ring_add(last, 1, self.count);
        }
        r
    }
}

/// Size of every RX buffer (RCTL.BSIZE = 2048): a frame larger than that spans several
/// descriptors.
pub(crate) const RX_BUF_LEN: u32 = 2048;

/// Frames up to this length are copied into a small skb and their page goes straight back to
/// the ring (as the C driver's `copybreak`).
const COPYBREAK: u32 = 256;

/// The receive ring.
///
/// Buffers are page pool pages: the device writes a frame at [`RX_HEADROOM`] of a page, the
/// first buffer of a frame becomes the skb's head (`build_skb`) and further buffers of a frame
/// that spans several descriptors are added as page fragments.
pub(crate) struct RxRing {
    desc: Coherent<[u64]>,
    /// The page on each descriptor (dropped before the pool, to which they return).
    pages: KVec<Option<Page>>,
    /// Descriptors in use.
    pub(crate) count: usize,
    /// Next descriptor the device will complete.
    pub(crate) next_to_clean: usize,
    /// Longest frame accepted (the MTU's frame, with FCS and a VLAN tag).
    pub(crate) max_frame: u32,
    /// The frame being assembled from several descriptors, up to its EOP descriptor.
    partial: Option<SkBuff>,
    /// Dropping the rest of a frame, up to its EOP descriptor.
    discarding: bool,
    pool: PagePool,
}

/// One completed RX descriptor.
pub(crate) enum RxEvent {
    /// The last descriptor of a frame: the whole frame, with its EOP descriptor's status word
    /// (the driver decides about frames the device flagged, see `rxd::FRAME_ERRORS`).
    Frame(SkBuff, u64),
    /// A descriptor in the middle of a frame.
    More,
    /// The last descriptor of a frame that was dropped (too long, or no memory for it).
    Dropped,
}

impl RxRing {
    pub(crate) fn new(dev: &Device<Bound>) -> Result<Self> {
        let mut pages = KVec::with_capacity(MAX_DESCS, GFP_KERNEL)?;
        for _ in 0..MAX_DESCS {
            pages.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            desc: Coherent::zeroed_slice(dev, 2 * MAX_DESCS, GFP_KERNEL)?,
            pool: PagePool::new(&Params::new(MAX_DESCS as u32).dma_from_device(
                dev,
                RX_HEADROOM,
                RX_BUF_LEN,
            ))?,
            pages,
            count: DEFAULT_DESCS,
            next_to_clean: 0,
            max_frame: 1522,
            partial: None,
            discarding: false,
        })
    }

    /// Bus address of the descriptor array.
    pub(crate) fn dma_address(&self) -> DmaAddress {
        self.desc.dma_address()
    }

    /// Gives descriptor `i` a fresh page. Fails with `ENOMEM` if the pool has none.
    fn refill(&mut self, i: usize) -> Result {
        let page = self.pool.alloc(GFP_ATOMIC | __GFP_NOWARN)?;
        let addr = self.pool.dma_address(&page).ok_or(EINVAL)? + u64::from(RX_HEADROOM);
        write_word(&self.desc, 2 * i, addr)?;
        write_word(&self.desc, 2 * i + 1, 0)?;
        self.pages[i] = Some(page);
        Ok(())
    }

    /// Returns every page to the pool.
    pub(crate) fn clear(&mut self) {
        self.partial = None;
        for i in 0..self.pages.len() {
            if let Some(page) = self.pages[i].take() {
                self.pool.recycle(page);
            }
        }
    }

    /// Uses `count` descriptors from now on; the ring is emptied (the device is down).
    pub(crate) fn resize(&mut self, count: usize) {
        self.clear();
        self.count = count;
        self.next_to_clean = 0;
        self.discarding = false;
    }

    /// Frees every buffer and fills the ring again; the device must not be receiving.
    pub(crate) fn reset(&mut self) -> Result {
        self.clear();
        for i in 0..2 * self.count {
            write_word(&self.desc, i, 0)?;
        }
        self.next_to_clean = 0;
        self.discarding = false;
        for i in 0..self.count {
            self.refill(i)?;
        }
        Ok(())
    }

    /// Hands `page` back to descriptor `i` (after the device wrote `len` bytes into it).
    fn reuse(&mut self, i: usize, page: Page, len: u32) -> Result {
        self.pool.sync_for_device(&page, 0, len);
        self.pages[i] = Some(page);
        write_word(&self.desc, 2 * i + 1, 0)
    }

    /// Processes the next completed descriptor and gives it a buffer again.
    ///
    /// `None` if the device has not completed it yet. If no new buffer is available, the frame
    /// is dropped, its buffer stays on the descriptor and `Some(Err(ENOMEM))` is returned, so
    /// the ring never runs dry.
    pub(crate) fn next<T: Poll>(
        &mut self,
        ctx: &mut PollContext<'_, T>,
    ) -> Option<Result<RxEvent>> {
        let i = self.next_to_clean;
        let w1 = read_word(&self.desc, 2 * i + 1).ok()?;
        if w1 & rxd::DD == 0 {
            return None;
        }
        self.next_to_clean = ring_add(i, 1, self.count);
        let eop = w1 & rxd::EOP != 0;
        let len = rxd::len(w1).min(RX_BUF_LEN);
        let Some(page) = self.pages[i].take() else {
            // Cannot happen: every descriptor given to the device has a page.
            return Some(Err(EINVAL));
        };
        self.pool.sync_for_cpu(&page, 0, len);
        let discard = self.discarding;
        let ended = |frame: Option<SkBuff>| match frame {
            Some(skb) => RxEvent::Frame(skb, w1),
            None if eop => RxEvent::Dropped,
            None => RxEvent::More,
        };

        if discard {
            // The rest of a dropped frame, up to its EOP descriptor.
            self.discarding = !eop;
            return Some(self.reuse(i, page, len).map(|()| ended(None)));
        }
        // Small single-buffer frames are copied; their page stays on the descriptor.
        if eop && self.partial.is_none() && len <= COPYBREAK {
            let skb = ctx.alloc_skb(len).and_then(|mut skb| {
                skb.put_from_page(&page, RX_HEADROOM, len).ok()?;
                Some(skb)
            });
            return Some(self.reuse(i, page, len).and_then(|()| match skb {
                Some(skb) => Ok(ended(Some(skb))),
                None => Err(ENOMEM),
            }));
        }
        // A new page for the descriptor first: without one, the old page stays there and the
        // frame is dropped.
        if let Err(e) = self.refill(i) {
            self.partial = None;
            self.discarding = !eop;
            return Some(self.reuse(i, page, len).and(Err(e)));
        }
        // The first buffer becomes the skb's head; it always has room for `RX_BUF_LEN` bytes
        // and the shared info, so `build_skb` only fails for lack of memory.
        let (built, oom) = match self.partial.take() {
            None => (ctx.build_skb(page, RX_HEADROOM, len), true),
            Some(mut skb) if skb.len() + len <= self.max_frame => {
                (skb.add_rx_frag(page, RX_HEADROOM, len).map(|()| skb), false)
            }
            Some(_) => (Err(page), false),
        };
        match built {
            Ok(skb) if eop => Some(Ok(ended(Some(skb)))),
            Ok(skb) => {
                self.partial = Some(skb);
                Some(Ok(ended(None)))
            }
            Err(page) => {
                // No memory, too long or too many fragments: drop the whole frame.
                self.pool.recycle(page);
                self.discarding = !eop;
                if oom {
                    Some(Err(ENOMEM))
                } else {
                    Some(Ok(ended(None)))
                }
            }
        }
    }

    /// The index to write to RDT: the last descriptor refilled.
    pub(crate) fn tail(&self) -> usize {
        ring_add(self.next_to_clean, self.count.saturating_sub(1), self.count)
    }
}
