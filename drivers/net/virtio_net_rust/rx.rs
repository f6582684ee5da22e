// SPDX-License-Identifier: GPL-2.0

//! Receive: page pool pages as buffers; a frame fills one buffer or, with mergeable buffers,
//! several, the first of which becomes the skb's head and the others its fragments.

use crate::{Net, HDR_LEN};
use kernel::{
    net::{
        dev::{self, Device},
        napi::PollContext,
        page_pool::Page,
        skb::{SkBuff, VirtioNetHdr, ETH_HLEN, MAX_SKB_FRAGS, RX_HEADROOM, VLAN_HLEN},
    },
    page::PAGE_SIZE,
    prelude::*,
    transmute::AsBytes,
    virtio::virtqueue::{Guard, Virtqueue},
};

/// Where every buffer starts in its page. In the first buffer of a frame the header ends, and
/// the frame starts, at [`RX_HEADROOM`], where `build_skb` wants it.
const RX_OFFSET: usize = RX_HEADROOM as usize - HDR_LEN;
/// Length of every buffer: the rest of the page but the room the skb's shared info takes when
/// the page becomes an skb's head.
const RX_BUF_LEN: usize = PAGE_SIZE - RX_OFFSET - SkBuff::SHINFO_SIZE;

/// The largest frame, with its header, that mergeable buffers must take: a 64 KiB packet with
/// an Ethernet header and a VLAN tag.
const MAX_MERGED: usize = HDR_LEN + dev::ETH_MAX_MTU as usize + (ETH_HLEN + VLAN_HLEN) as usize;

/// Whether the largest frame fits in the buffers one skb can hold (its head and
/// [`MAX_SKB_FRAGS`] fragments): true with 4 KiB pages and 64-byte cache lines (a 64 KiB frame
/// spans 18 buffers), false where the shared info takes more of each page. Without it, the
/// device is not asked for coalesced frames.
pub(crate) const COALESCED_FIT: bool = (MAX_SKB_FRAGS + 1) * RX_BUF_LEN >= MAX_MERGED;

/// The largest MTU the receive buffers can take: with mergeable buffers as much as one skb's
/// buffers hold (any MTU where [`COALESCED_FIT`]), else one buffer's worth.
pub(crate) fn max_mtu(mergeable: bool) -> u32 {
    let room = if mergeable {
        (MAX_SKB_FRAGS + 1) * RX_BUF_LEN
    } else {
        RX_BUF_LEN
    };
    let mtu = room - HDR_LEN - (ETH_HLEN + VLAN_HLEN) as usize;
    mtu.min(dev::ETH_MAX_MTU as usize) as u32
}

/// What went wrong with one received frame.
enum RxError {
    /// Malformed: a bad length, buffer count or header.
    Frame,
    /// No skb could be allocated.
    Alloc,
}

impl Net {
    /// Gives the receive queue fresh pages until it is full or the pool has none; notifies the
    /// device if any was added. Returns the number added.
    pub(crate) fn refill(&self, rx: &mut Guard<'_, Page>) -> u32 {
        let mut added = 0;
        let mut pool = self.pool.lock();
        while rx.num_free() > 0 {
            let Ok(page) = pool.alloc(GFP_ATOMIC | __GFP_NOWARN) else {
                break;
            };
            if rx.add_page(page, RX_OFFSET, RX_BUF_LEN).is_err() {
                break;
            }
            added += 1;
        }
        drop(pool);
        if added != 0 && rx.kick_prepare() {
            rx.notify();
        }
        added
    }

    /// Receives up to `budget` frames (`budget` > 0), then refills the queue. Returns the number
    /// of frames taken off the queue, delivered or dropped.
    pub(crate) fn receive(
        &self,
        dev: &Device<Self>,
        ctx: &mut PollContext<'_, Self>,
        rx: &Virtqueue<Page>,
        budget: u32,
    ) -> u32 {
        let (mut done, mut dropped, mut alloc_fail) = (0, 0, 0);
        while done < budget {
            // The queue is locked while a frame's buffers are taken off it, not while the
            // frame goes up the stack.
            let frame = {
                let Some(mut vq) = rx.lock() else { break };
                let Some((page, len)) = vq.get_buf() else {
                    break;
                };
                self.take_frame(ctx, &mut vq, page, len as usize)
            };
            done += 1;
            let delivered = frame.and_then(|(mut skb, hdr, bytes)| {
                skb.apply_virtio_net_hdr(dev, &hdr)
                    .and_then(|()| skb.eth_type_trans(dev))
                    .map_err(|_| RxError::Frame)?;
                ctx.stats().add(1, bytes);
                ctx.gro_receive(skb);
                Ok(())
            });
            match delivered {
                Ok(()) => {}
                Err(RxError::Frame) => dropped += 1,
                Err(RxError::Alloc) => {
                    dropped += 1;
                    alloc_fail += 1;
                }
            }
        }
        if let Some(mut vq) = rx.lock() {
            self.refill(&mut vq);
        }
        if dropped != 0 {
            ctx.stats().add_drops(dropped);
        }
        if alloc_fail != 0 {
            ctx.stats().add_alloc_fail(alloc_fail);
        }
        done
    }

    /// Takes the frame whose first buffer is `page`, of which the device used `len` bytes, off
    /// the queue with its other buffers. Returns the frame's skb, its header and its length.
    ///
    /// A frame that is malformed or does not fit in one skb is dropped whole: all its buffers
    /// are taken off the queue, so that the next one starts the next frame.
    fn take_frame(
        &self,
        ctx: &mut PollContext<'_, Self>,
        rx: &mut Guard<'_, Page>,
        page: Page,
        len: usize,
    ) -> Result<(SkBuff, VirtioNetHdr, usize), RxError> {
        // Without a whole header, not even the frame's buffer count is known.
        if !(HDR_LEN..=RX_BUF_LEN).contains(&len) {
            return Err(RxError::Frame);
        }
        let mut hdr = VirtioNetHdr::default();
        page.read(RX_OFFSET, hdr.as_bytes_mut())
            .map_err(|_| RxError::Frame)?;
        let buffers = if self.mergeable { hdr.num_buffers() } else { 1 };
        let mut bytes = len - HDR_LEN;
        let mut skb = if buffers == 0 || bytes < ETH_HLEN as usize {
            Err(RxError::Frame)
        } else {
            ctx.build_skb(page, RX_HEADROOM, bytes as u32)
                .map_err(|_page| RxError::Alloc)
        };
        for _ in 1..buffers {
            // A frame whose buffers the device did not all use ends here; the next buffer
            // starts the next frame.
            let (page, len) = rx.get_buf().ok_or(RxError::Frame)?;
            let len = len as usize;
            if let Ok(s) = &mut skb {
                if len == 0
                    || len > RX_BUF_LEN
                    || s.add_rx_frag(page, RX_OFFSET as u32, len as u32).is_err()
                {
                    skb = Err(RxError::Frame);
                } else {
                    bytes += len;
                }
            }
        }
        skb.map(|skb| (skb, hdr, bytes))
    }
}
