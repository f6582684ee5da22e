// SPDX-License-Identifier: GPL-2.0

//! Transmit: each skb is one buffer, the virtio-net header pushed into its headroom, its
//! linear part and fragments the rest; completions are reclaimed by NAPI.

use crate::Net;
use kernel::{
    net::{
        dev::{NetdevTx, TxQueue},
        skb::{SkBuff, MAX_SKB_FRAGS},
    },
    virtio::virtqueue::{Guard, Virtqueue},
};

/// Descriptors the largest skb may need (its linear part and every fragment, and one to
/// spare); the transmit queue stops when fewer are free.
pub(crate) const TX_NEEDED: u32 = MAX_SKB_FRAGS as u32 + 2;
/// Completed transmits reported to BQL at a time.
const RECLAIM_BATCH: usize = 32;

impl Net {
    /// Frees the skbs of completed transmits and reports them to BQL.
    pub(crate) fn reclaim(tx: &mut Guard<'_, SkBuff>, txq: &TxQueue<'_>) {
        loop {
            let (mut pkts, mut bytes) = (0u32, 0u32);
            while (pkts as usize) < RECLAIM_BATCH {
                let Some((skb, _)) = tx.get_buf() else { break };
                bytes = bytes.wrapping_add(skb.len());
                pkts += 1;
                skb.consume();
            }
            if pkts != 0 {
                txq.completed(pkts, bytes);
            }
            if (pkts as usize) < RECLAIM_BATCH {
                break;
            }
        }
    }

    /// Queues `skb` on `tx` (the body of `start_xmit`).
    pub(crate) fn xmit(tx: &Virtqueue<SkBuff>, txq: &TxQueue<'_>, mut skb: SkBuff) -> NetdevTx {
        // Not while the queue is resized (the transmit queues are stopped then).
        let Some(mut vq) = tx.lock() else {
            txq.stop();
            return NetdevTx::Busy(skb);
        };
        Self::reclaim(&mut vq, txq);
        if vq.num_free() < TX_NEEDED {
            txq.stop();
            return NetdevTx::Busy(skb);
        }
        let frame = skb.len() as usize;
        // The header describes the offloads the stack asked for. Adding cannot fail for room
        // (checked above); a packet that cannot be queued is dropped.
        let queued = match skb.push_virtio_net_hdr() {
            Ok(()) => {
                let len = skb.len();
                // On failure the skb is handed back and dropped here.
                vq.add_skb(skb).ok().map(|()| len)
            }
            Err(_) => None,
        };
        // A dropped packet that ends a batch still notifies the device: earlier packets of the
        // batch deferred that (`xmit_more`).
        let kick = match queued {
            Some(len) => {
                txq.stats().add(1, frame);
                if vq.num_free() < TX_NEEDED {
                    txq.stop();
                }
                txq.sent_batched(len)
            }
            None => {
                txq.stats().add_drops(1);
                !txq.xmit_more()
            }
        };
        if kick && vq.kick_prepare() {
            vq.notify();
        }
        NetdevTx::Ok
    }
}
