// SPDX-License-Identifier: GPL-2.0

//! Ethernet addresses and constants, device names and the receive filter state.

use crate::{
    bindings, fmt,
    prelude::*,
    sync::atomic::{
        atomic_load,
        Relaxed, //
    },
    types::NotThreadSafe,
};
use core::marker::PhantomData;

/// Length of an Ethernet (MAC) address.
pub const ETH_ALEN: usize = bindings::ETH_ALEN as usize;
/// Minimum MTU of an Ethernet device (68, RFC 791).
pub const ETH_MIN_MTU: u32 = bindings::ETH_MIN_MTU;
/// Default MTU of an Ethernet device (1500).
pub const ETH_DATA_LEN: u32 = bindings::ETH_DATA_LEN;
/// Largest MTU the core accepts (65535).
pub const ETH_MAX_MTU: u32 = bindings::ETH_MAX_MTU;

pub(super) const IFNAMSIZ: usize = bindings::IFNAMSIZ as usize;

/// A valid unicast Ethernet address.
///
/// # Invariants
///
/// The address is not multicast (bit 0 of the first byte is clear) and not all-zero, i.e.
/// `is_valid_ether_addr()` holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct MacAddress([u8; ETH_ALEN]);

impl MacAddress {
    /// Returns `true` if `addr` is a valid unicast address (`is_valid_ether_addr()`).
    pub const fn is_valid(addr: &[u8; ETH_ALEN]) -> bool {
        if addr[0] & 1 != 0 {
            return false;
        }
        let mut i = 0;
        while i < ETH_ALEN {
            if addr[i] != 0 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Creates an address, failing with `EADDRNOTAVAIL` if it is multicast or zero.
    pub const fn new(addr: [u8; ETH_ALEN]) -> Result<Self> {
        if Self::is_valid(&addr) {
            // INVARIANT: Just checked.
            Ok(Self(addr))
        } else {
            Err(EADDRNOTAVAIL)
        }
    }

    /// Creates a random, locally administered unicast address (`eth_random_addr()`).
    pub fn random() -> Self {
        let mut addr = [0u8; ETH_ALEN];
        // SAFETY: `addr` is valid for `ETH_ALEN` bytes of writes.
        unsafe { bindings::eth_random_addr(addr.as_mut_ptr()) };
        // INVARIANT: `eth_random_addr()` clears the multicast bit and sets the local bit.
        Self(addr)
    }

    /// Returns the address bytes.
    pub const fn as_bytes(&self) -> &[u8; ETH_ALEN] {
        &self.0
    }

    /// Returns `true` if the address is locally administered.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 2 != 0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            a[0], a[1], a[2], a[3], a[4], a[5]
        )
    }
}

/// A copy of a device name, taken consistently with concurrent renames.
pub struct NetdevName([u8; IFNAMSIZ]);

impl NetdevName {
    /// Copies the name of `ndev` (`netdev_copy_name()`).
    ///
    /// Not generic, so that it is compiled into the kernel crate: `netdev_copy_name()` is not
    /// exported to modules.
    ///
    /// # Safety
    ///
    /// `ndev` must point to a valid `net_device`.
    #[inline(never)]
    #[doc(hidden)]
    pub unsafe fn copy_from(ndev: *mut bindings::net_device) -> Self {
        let mut buf = [0u8; IFNAMSIZ];
        // SAFETY: `buf` has room for `IFNAMSIZ` bytes; `ndev` is valid (safety requirement);
        // `netdev_copy_name()` reads the name under the rename seqlock and always
        // NUL-terminates.
        unsafe { bindings::netdev_copy_name(ndev, buf.as_mut_ptr().cast()) };
        Self(buf)
    }

    /// Returns the name as a C string.
    pub fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }
}

impl fmt::Display for NetdevName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_cstr(), f)
    }
}

/// The receive filter state, given to
/// [`Operations::set_rx_mode`](super::Operations::set_rx_mode).
///
/// # Invariants
///
/// `dev` is in `ndo_set_rx_mode`: its address lists are locked (`netif_addr_lock_bh()`) for
/// `'a`.
pub struct RxMode<'a> {
    pub(super) dev: *mut bindings::net_device,
    pub(super) _p: PhantomData<&'a ()>,
    pub(super) _not_send: NotThreadSafe,
}

impl RxMode<'_> {
    fn flags(&self) -> u32 {
        // SAFETY: `dev` is valid (type invariant) and `flags` is a valid, aligned `unsigned int`.
        // `ndo_set_rx_mode` runs without RTNL (e.g. from `dev_mc_add()` under the address lock
        // only) while RTNL holders change `flags` with plain stores: the read is a racy one,
        // done as `READ_ONCE()` (a relaxed atomic load) so that it is not a data race on the
        // Rust side. A stale value is corrected by the next `ndo_set_rx_mode`, which the core
        // calls after every change of these flags.
        unsafe { atomic_load(&raw mut (*self.dev).flags, Relaxed) }
    }

    /// Promiscuous mode (`IFF_PROMISC`).
    pub fn promisc(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_PROMISC != 0
    }

    /// All-multicast mode (`IFF_ALLMULTI`).
    pub fn allmulti(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_ALLMULTI != 0
    }

    /// Number of multicast addresses subscribed (`netdev_mc_count()`).
    pub fn mc_count(&self) -> usize {
        // SAFETY: The list is locked (type invariant).
        unsafe { (*self.dev).mc.count as usize }
    }

    /// Calls `f` with each subscribed multicast address (`netdev_for_each_mc_addr()`).
    pub fn for_each_mc(&self, mut f: impl FnMut(&[u8; ETH_ALEN])) {
        // SAFETY: The list is locked for `'a` (type invariant), so its entries stay valid while
        // we walk it; each entry is a `netdev_hw_addr` linked through its `list` member, whose
        // `addr` holds at least `ETH_ALEN` bytes for an Ethernet device.
        unsafe {
            let head = &raw mut (*self.dev).mc.list;
            let mut pos = (*head).next;
            while pos != head {
                let ha = crate::container_of!(pos, bindings::netdev_hw_addr, list);
                let addr = &*(&raw const (*ha).addr).cast::<[u8; ETH_ALEN]>();
                f(addr);
                pos = (*pos).next;
            }
        }
    }
}
