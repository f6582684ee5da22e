// SPDX-License-Identifier: GPL-2.0

//! Messages about a network device (`netdev_printk()`).

use super::{
    Device,
    Operations, //
};
use crate::{bindings, fmt, prelude::*};

/// Prints `args` at `klevel` (a `KERN_*` string) about `ndev` (`netdev_printk()`): prefixed with
/// the driver, the bus device and the interface name, as C's `netdev_info()` and friends.
///
/// Not generic, so that it is compiled into the kernel crate.
#[inline(never)]
#[cfg_attr(not(CONFIG_PRINTK), allow(unused_variables))]
fn printk(ndev: *mut bindings::net_device, klevel: &[u8], args: fmt::Arguments<'_>) {
    // SAFETY: `klevel` is one of the NUL-terminated `KERN_*` constants (callers above); `ndev`
    // is a valid device (it comes from a `&Device`). `netdev_printk()` reads `dev->name` without
    // the rename seqlock, so it is valid in any context, hard IRQ included. The "%pA" format
    // takes a pointer to `fmt::Arguments`, which is what we pass.
    #[cfg(CONFIG_PRINTK)]
    unsafe {
        bindings::netdev_printk(
            klevel.as_ptr().cast::<c_char>(),
            ndev,
            c"%pA".as_char_ptr(),
            core::ptr::from_ref(&args).cast::<c_void>(),
        )
    };
}

/// Prints a warning about the device `ndev` (`netdev_warn()`), for the abstractions' own
/// warnings where they only have the raw device.
///
/// # Safety
///
/// `ndev` points to a valid `net_device`.
pub(crate) unsafe fn warn_raw(ndev: *mut bindings::net_device, args: fmt::Arguments<'_>) {
    printk(ndev, bindings::KERN_WARNING, args)
}

/// Prints an informational message about a network device (`netdev_info()`), prefixed with the
/// driver, the bus device and the interface name. Valid in any context, hard IRQ included.
///
/// # Examples
///
/// ```
/// use kernel::net::dev::{Device, Operations};
///
/// fn link_up<T: Operations>(dev: &Device<T>, mbps: u32) {
///     kernel::netdev_info!(dev, "link up, {} Mb/s\n", mbps);
/// }
/// ```
#[macro_export]
macro_rules! netdev_info {
    ($dev:expr, $($f:tt)*) => {
        $crate::net::dev::Device::pr_info($dev, $crate::prelude::fmt!($($f)*))
    }
}

/// Prints a warning about a network device (`netdev_warn()`); see
/// [`netdev_info!`](crate::netdev_info).
#[macro_export]
macro_rules! netdev_warn {
    ($dev:expr, $($f:tt)*) => {
        $crate::net::dev::Device::pr_warn($dev, $crate::prelude::fmt!($($f)*))
    }
}

/// Prints an error about a network device (`netdev_err()`); see
/// [`netdev_info!`](crate::netdev_info).
#[macro_export]
macro_rules! netdev_err {
    ($dev:expr, $($f:tt)*) => {
        $crate::net::dev::Device::pr_err($dev, $crate::prelude::fmt!($($f)*))
    }
}

impl<T: Operations> Device<T> {
    /// Prints an informational message about the device; see [`netdev_info!`](crate::netdev_info).
    #[doc(hidden)]
    pub fn pr_info(&self, args: fmt::Arguments<'_>) {
        printk(self.as_raw(), bindings::KERN_INFO, args)
    }

    /// Prints a warning about the device; see [`netdev_warn!`](crate::netdev_warn).
    #[doc(hidden)]
    pub fn pr_warn(&self, args: fmt::Arguments<'_>) {
        printk(self.as_raw(), bindings::KERN_WARNING, args)
    }

    /// Prints an error about the device; see [`netdev_err!`](crate::netdev_err).
    #[doc(hidden)]
    pub fn pr_err(&self, args: fmt::Arguments<'_>) {
        printk(self.as_raw(), bindings::KERN_ERR, args)
    }
}
