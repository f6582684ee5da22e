// SPDX-License-Identifier: GPL-2.0

//! TX and RX descriptor rings.
//!
//! Descriptors live in coherent DMA memory, an array of two-word [`Desc`]s accessed word by word
//! with volatile I/O projections, so the driver needs no `unsafe`; their command and status words
//! are typed bitfields ([`TxData`], [`TxCtxCmd`], [`RxStatus`]). TX buffers are the socket buffers
//! being sent, mapped with streaming DMA through [`SkbSlots`], one slot per descriptor; RX buffers
//! are pages from a page pool, mapped once by the pool and recycled.
//!
//! Both rings are allocated once, at probe, at the largest size the device supports; the size
//! in use ([`TxRing::count`], [`RxRing::count`]) is what is programmed into TDLEN/RDLEN, so
//! `ethtool -G` never allocates descriptor memory.

use kernel::{
    bitfield,
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

/// A descriptor as the device reads and writes it: two little-endian 64-bit words, 16 bytes
/// (8254x SDM 3.2.3, 3.3.3, 3.3.6, 3.3.7). Word [`ADDR`]: the buffer's bus address, or for a TX
/// context descriptor [`TxCtxOffsets`]; word [`CTL`]: [`RxStatus`], [`TxData`] or [`TxCtxCmd`].
type Desc = [u64; 2];
/// The first word of a [`Desc`].
const ADDR: usize = 0;
/// The second word of a [`Desc`].
const CTL: usize = 1;

/// A ring of [`MAX_DESCS`] descriptors in coherent memory, of which the first `count` are in
/// use.
///
/// Indices are taken modulo [`MAX_DESCS`] (ring indices are below the count in use, which is at
/// most that): every access is then in bounds by construction, checked at build time, and the
/// accessors cannot fail. (The ring's fast path makes several accesses per packet.)
struct Descs(Coherent<[Desc; MAX_DESCS]>);

impl Descs {
    fn new(dev: &Device<Bound>) -> Result<Self> {
        Ok(Self(Coherent::zeroed(dev, GFP_KERNEL)?))
    }

    /// Bus address of descriptor 0.
    fn dma_address(&self) -> DmaAddress {
        self.0.dma_address()
    }

    /// Reads the second word of descriptor `i`.
    ///
    /// One 64-bit volatile load, so the status bits and the length written back with them are
    /// read together: no barrier is needed between checking DD and reading the length.
    fn ctl(&self, i: usize) -> u64 {
        let v: u64 = io_read!(&self.0, [build: i % MAX_DESCS][build: CTL]);
        u64::from_le(v)
    }

    /// Writes descriptor `i`.
    fn write(&self, i: usize, addr: u64, ctl: u64) {
        let i = i % MAX_DESCS;
        io_write!(&self.0, [build: i][build: ADDR], addr.to_le());
        io_write!(&self.0, [build: i][build: CTL], ctl.to_le());
    }

    /// Writes the second word of descriptor `i`.
    fn write_ctl(&self, i: usize, ctl: u64) {
        io_write!(&self.0, [build: i % MAX_DESCS][build: CTL], ctl.to_le());
    }

    /// Zeroes descriptors `0..count`.
    fn clear(&self, count: usize) {
        for i in 0..count {
            self.write(i, 0, 0);
        }
    }
}

bitfield! {
    /// Second word of a TX data descriptor: legacy (DEXT clear, for packets without offload) or
    /// extended data (DEXT set, DTYP 1).
    ///
    /// In a legacy descriptor, bits 23:16 are CSO and the length is 16 bits; the driver leaves
    /// CSO zero and the length is at most [`TX_MAX_DATA`], so one layout serves both.
    pub(crate) struct TxData(u64) {
        /// POPTS.TXSM: insert the TCP/UDP checksum the current context describes.
        41:41 txsm => bool;
        /// POPTS.IXSM: insert the IPv4 header checksum.
        40:40 ixsm => bool;
        /// Status: descriptor done (written back when RS is set).
        32:32 dd => bool;
        /// Extended descriptor.
        29:29 dext => bool;
        /// Report status: write DD back.
        27:27 rs => bool;
        /// TCP segmentation enable.
        26:26 tse => bool;
        /// Insert the FCS.
        25:25 ifcs => bool;
        /// End of packet.
        24:24 eop => bool;
        /// Descriptor type (extended): 0 = context, 1 = data.
        23:20 dtyp;
        /// Bytes in the buffer.
        19:0 length;
    }
}

bitfield! {
    /// First word of a TX context descriptor: where the checksums start, go and end.
    pub(crate) struct TxCtxOffsets(u64) {
        /// TCP/UDP checksum end (0: to the end of the packet).
        63:48 tucse;
        /// TCP/UDP checksum offset: where it is written.
        47:40 tucso;
        /// TCP/UDP checksum start.
        39:32 tucss;
        /// IPv4 checksum end (inclusive).
        31:16 ipcse;
        /// IPv4 checksum offset.
        15:8 ipcso;
        /// IPv4 checksum start.
        7:0 ipcss;
    }
}

bitfield! {
    /// Second word of a TX context descriptor.
    pub(crate) struct TxCtxCmd(u64) {
        /// Maximum segment size (TSO).
        63:48 mss;
        /// Header length: what each segment repeats (TSO).
        47:40 hdrlen;
        /// Status: descriptor done.
        32:32 dd => bool;
        /// Extended descriptor (always set: DTYP 0 makes it a context descriptor).
        29:29 dext => bool;
        /// TCP segmentation enable.
        26:26 tse => bool;
        /// TUCMD.IP: the packet is IPv4.
        25:25 ip => bool;
        /// TUCMD.TCP: the packet is TCP.
        24:24 tcp => bool;
        /// Descriptor type: 0 = context.
        23:20 dtyp;
        /// TCP payload bytes to segment (TSO).
        19:0 paylen;
    }
}

bitfield! {
    /// Second word of an RX descriptor, as the device writes it back.
    pub(crate) struct RxStatus(u64) {
        /// Special: the 802.1Q tag control, when VP is set.
        63:48 special;
        /// Errors: RX data error.
        47:47 rxe => bool;
        /// Errors: IPv4 header checksum error.
        46:46 ipe => bool;
        /// Errors: TCP/UDP checksum error.
        45:45 tcpe => bool;
        /// Errors: carrier extension error.
        44:44 cxe => bool;
        /// Errors: sequence error.
        42:42 seq => bool;
        /// Errors: symbol error.
        41:41 se => bool;
        /// Errors: CRC or alignment error.
        40:40 ce => bool;
        /// Status: the TCP/UDP checksum was checked.
        37:37 tcpcs => bool;
        /// Status: the frame had an 802.1Q tag, stripped into `special`.
        35:35 vp => bool;
        /// Status: ignore the checksum indications (the device checked nothing).
        34:34 ixsm => bool;
        /// Status: end of packet.
        33:33 eop => bool;
        /// Status: descriptor done.
        32:32 dd => bool;
        /// Bytes the device wrote into the buffer.
        15:0 length;
    }
}

impl RxStatus {
    /// The device flagged a broken frame (TCPE and IPE are checksum results, not frame errors).
    pub(crate) fn frame_error(self) -> bool {
        self.ce() || self.se() || self.seq() || self.cxe() || self.rxe()
    }

    /// The device checked the TCP/UDP (and IPv4 header) checksum and found it good.
    pub(crate) fn checksum_good(self) -> bool {
        !self.ixsm() && self.tcpcs() && !self.tcpe() && !self.ipe()
    }

    /// The stripped 802.1Q tag control, if the frame had one.
    pub(crate) fn vlan_tag(self) -> Option<u16> {
        self.vp().then(|| self.special().get() as u16)
    }
}

/// The transmit ring.
pub(crate) struct TxRing {
    desc: Descs,
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
    fn words(self) -> Result<(TxCtxOffsets, TxCtxCmd)> {
        let cmd = TxCtxCmd::zeroed().with_dext(true);
        Ok(match self {
            TxContext::Csum { start, offset } => (
                TxCtxOffsets::zeroed().with_tucss(start).with_tucso(offset),
                cmd,
            ),
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
            } => (
                TxCtxOffsets::zeroed()
                    .with_ipcss(ipcss)
                    .with_ipcso(ipcso)
                    .with_ipcse(ipcse)
                    .with_tucss(tucss)
                    .with_tucso(tucso),
                cmd.with_tse(true)
                    .with_tcp(true)
                    .with_ip(ipv4)
                    .with_hdrlen(hdr_len)
                    .with_mss(mss)
                    .try_with_paylen(u64::from(payload_len))?,
            ),
        })
    }

    /// A data descriptor of the packet: extended, with the offloads the context asks for.
    fn data(self) -> TxData {
        let ext = TxData::zeroed()
            .with_dext(true)
            .with_const_dtyp::<1>()
            .with_txsm(true);
        match self {
            TxContext::Csum { .. } => ext,
            TxContext::Tso { ipv4, .. } => ext.with_tse(true).with_ixsm(ipv4),
        }
    }
}

impl TxRing {
    pub(crate) fn new(dev: &Device<Bound>) -> Result<Self> {
        let mut eop = KVec::with_capacity(MAX_DESCS, GFP_KERNEL)?;
        eop.resize(MAX_DESCS, 0, GFP_KERNEL)?;
        Ok(Self {
            desc: Descs::new(dev)?,
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
        // `next_to_clean - next_to_use - 1`, modulo `count`. As `next_to_use < count`, the
        // subtractions below do not wrap.
        let n = self.count.wrapping_sub(self.next_to_use).wrapping_sub(1);
        ring_add(self.next_to_clean, n, self.count)
    }

    /// Uses `count` descriptors from now on; the ring is emptied (the device is down).
    pub(crate) fn resize(&mut self, count: usize) {
        self.slots.clear();
        self.count = count;
        self.next_to_use = 0;
        self.next_to_clean = 0;
    }

    /// Forgets every descriptor and frees every buffer; the device must not be transmitting.
    pub(crate) fn reset(&mut self) {
        self.slots.clear();
        self.desc.clear(self.count);
        self.next_to_use = 0;
        self.next_to_clean = 0;
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
            match c.words() {
                Ok((w0, w1)) => self.desc.write(first, w0.into(), w1.into()),
                Err(e) => return Err((e, skb)),
            }
            data = ring_add(first, 1, self.count);
        }
        let (desc, count) = (&self.desc, self.count);
        let mut last = data;
        let mut res: Result = Ok(());
        let used = self
            .slots
            .map_packet(data, count, TX_MAX_DATA, skb, |i, addr, len, eop| {
                if eop {
                    last = i;
                }
                res = res.and_then(|()| {
                    let w1 = ctx
                        .map_or(TxData::zeroed(), TxContext::data)
                        .with_ifcs(true)
                        .with_eop(eop)
                        .with_rs(eop)
                        .try_with_length(u64::from(len))?;
                    desc.write(i, addr, w1.into());
                    Ok(())
                });
            })?;
        if res.is_err() || used == 0 {
            // Cannot happen (no piece is longer than `TX_MAX_DATA`, which the length field
            // holds); nothing was handed to the device.
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
    /// and moves their skbs to the first `packets` entries of `out`, at most `out.len()`
    /// packets: the caller frees them after releasing the ring lock (freeing may run
    /// destructors, which must not run with interrupts off). Call again while
    /// `packets == out.len()`.
    pub(crate) fn reclaim(&mut self, out: &mut [Option<kernel::net::skb::SkBuff>]) -> Reclaimed {
        let mut r = Reclaimed::default();
        while self.next_to_clean != self.next_to_use && (r.packets as usize) < out.len() {
            let first = self.next_to_clean;
            let last = usize::from(self.eop[first]);
            if last >= self.count {
                break;
            }
            let w1 = TxData::from(self.desc.ctl(last));
            if !w1.dd() {
                break;
            }
            // The packet's last slot holds it: taking it unmaps every piece.
            if let Some(skb) = self.slots.take(last) {
                // At most `out.len()` packets of at most 64 KiB each: neither sum can wrap.
                r.bytes = r.bytes.wrapping_add(skb.len());
                out[r.packets as usize] = Some(skb);
                r.packets = r.packets.wrapping_add(1);
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
    desc: Descs,
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
    /// (the driver decides about frames the device flagged, see [`RxStatus::frame_error`]).
    Frame(SkBuff, RxStatus),
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
            desc: Descs::new(dev)?,
            pool: PagePool::new(&Params::new(MAX_DESCS as u32).dma_from_device(
                dev,
                RX_HEADROOM,
                RX_BUF_LEN,
            ))?,
            pages,
            count: DEFAULT_DESCS,
            next_to_clean: 0,
            // Set by `configure`, before the device is given the ring.
            max_frame: 0,
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
        // A page's bus address plus an offset inside the page does not wrap.
        let addr = self
            .pool
            .dma_address(&page)
            .ok_or(EINVAL)?
            .wrapping_add(u64::from(RX_HEADROOM));
        self.desc.write(i, addr, 0);
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
    ///
    /// A failed allocation is tried again before the whole reset fails (`REFILL_TRIES` in
    /// all): a ring of thousands of pages should not fail to fill on one transient shortage.
    /// (The C driver leaves such descriptors empty for the poll to fill; here every descriptor
    /// given to the device has a buffer.)
    pub(crate) fn reset(&mut self) -> Result {
        const REFILL_TRIES: u32 = 3;
        self.clear();
        self.desc.clear(self.count);
        self.next_to_clean = 0;
        self.discarding = false;
        for i in 0..self.count {
            let mut tries = 1;
            while let Err(e) = self.refill(i) {
                if tries == REFILL_TRIES {
                    return Err(e);
                }
                tries += 1;
            }
        }
        Ok(())
    }

    /// Hands `page` back to descriptor `i` (after the device wrote `len` bytes into it).
    fn reuse(&mut self, i: usize, page: Page, len: u32) {
        self.pool.sync_for_device(&page, 0, len);
        self.pages[i] = Some(page);
        self.desc.write_ctl(i, 0);
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
        let w1 = RxStatus::from(self.desc.ctl(i));
        if !w1.dd() {
            return None;
        }
        self.next_to_clean = ring_add(i, 1, self.count);
        let eop = w1.eop();
        let len = (w1.length().get() as u32).min(RX_BUF_LEN);
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
            self.reuse(i, page, len);
            return Some(Ok(ended(None)));
        }
        // Small single-buffer frames are copied; their page stays on the descriptor.
        if eop && self.partial.is_none() && len <= COPYBREAK {
            let skb = ctx.alloc_skb(len).and_then(|mut skb| {
                skb.put_from_page(&page, RX_HEADROOM, len).ok()?;
                Some(skb)
            });
            self.reuse(i, page, len);
            return Some(match skb {
                Some(skb) => Ok(ended(Some(skb))),
                None => Err(ENOMEM),
            });
        }
        // A new page for the descriptor first: without one, the old page stays there and the
        // frame is dropped.
        if let Err(e) = self.refill(i) {
            self.partial = None;
            self.discarding = !eop;
            self.reuse(i, page, len);
            return Some(Err(e));
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
