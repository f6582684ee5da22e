// SPDX-License-Identifier: GPL-2.0

//! ethtool operations (`struct ethtool_ops`).
//!
//! A driver implements [`Operations`] for the private data type of its network device and
//! installs the table with [`Builder::set_ethtool_ops`](super::dev::Builder::set_ethtool_ops).
//! Unimplemented callbacks are left `NULL`, so the core reports `EOPNOTSUPP` or uses its default
//! (for example `ethtool -i` without `get_drvinfo` reports the bus driver's name and the parent
//! device).
//!
//! Every callback runs in process context with RTNL held (devices created by
//! [`dev::Builder`](super::dev::Builder) are not "ops locked") and may sleep, except
//! `get_link` (the core's `ethtool_op_get_link`), which may also be called without RTNL.
//!
//! Statistics are described once, by [`Operations::get_stats`], which is called three times by
//! the abstraction: to count the entries (`get_sset_count`), to name them (`get_strings`) and
//! to read them (`get_ethtool_stats`). The [`Stats`] writer checks every write against the buffer
//! the core allocated (for strings, the count last reported to the core is remembered per
//! device), so a driver whose set of counters changes between the calls cannot overflow it.
//!
//! C header: [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h).
//!
//! # Examples
//!
//! ```
//! use kernel::net::{dev::{self, Device, NetdevTx, TxQueue}, ethtool, skb::SkBuff};
//! use kernel::prelude::*;
//!
//! struct Nic;
//!
//! #[vtable]
//! impl dev::Operations for Nic {
//!     fn start_xmit(_dev: &Device<Self>, _txq: &TxQueue<'_>, _skb: SkBuff) -> NetdevTx {
//!         NetdevTx::Ok
//!     }
//! }
//!
//! #[vtable]
//! impl ethtool::Operations for Nic {
//!     fn get_ringparam(_dev: &Device<Self>) -> ethtool::RingParam {
//!         ethtool::RingParam { rx_max: 4096, tx_max: 4096, rx: 256, tx: 256 }
//!     }
//!
//!     fn get_stats(dev: &Device<Self>, out: &mut ethtool::Stats<'_>) {
//!         let tx = dev.tx_stats_total();
//!         out.add(c"tx_packets", tx.packets);
//!         for q in 0..2u32 {
//!             out.add_fmt(fmt!("rx_queue_{q}_drops"), 0);
//!         }
//!     }
//! }
//!
//! fn build() -> Result<dev::Builder<Nic>> {
//!     let mut b = dev::Builder::new(1, 1, Nic)?;
//!     b.set_ethtool_ops();
//!     Ok(b)
//! }
//! # let _ = build;
//! ```

use crate::{
    bindings,
    error::{from_result, VTABLE_DEFAULT_ERROR},
    fmt,
    net::dev::{
        Device,
        Rtnl, //
    },
    prelude::*,
    sync::atomic::Relaxed,
};
use core::marker::PhantomData;

/// Length of an ethtool statistics name, including the NUL (`ETH_GSTRING_LEN`).
pub const GSTRING_LEN: usize = bindings::ETH_GSTRING_LEN as usize;

/// Coalescing parameters a driver supports (`ETHTOOL_COALESCE_*`), for
/// [`Operations::SUPPORTED_COALESCE`]; the core rejects changes of other parameters.
pub mod coalesce {
    use crate::bindings;

    /// `rx-usecs`.
    pub const RX_USECS: u32 = bindings::ETHTOOL_COALESCE_RX_USECS;
}

/// Ring sizes (`ethtool -g`/`-G`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingParam {
    /// Largest RX ring.
    pub rx_max: u32,
    /// Largest TX ring.
    pub tx_max: u32,
    /// Current RX ring size.
    pub rx: u32,
    /// Current TX ring size.
    pub tx: u32,
}

/// Queue counts (`ethtool -l`/`-L`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels {
    /// Largest number of RX-only queues.
    pub max_rx: u32,
    /// Largest number of TX-only queues.
    pub max_tx: u32,
    /// Largest number of other (e.g. link interrupt) channels.
    pub max_other: u32,
    /// Largest number of combined RX/TX queue pairs.
    pub max_combined: u32,
    /// RX-only queues.
    pub rx: u32,
    /// TX-only queues.
    pub tx: u32,
    /// Other channels.
    pub other: u32,
    /// Combined RX/TX queue pairs.
    pub combined: u32,
}

/// Interrupt coalescing (`ethtool -c`/`-C`): the subset of `struct ethtool_coalesce` a simple
/// NIC uses. Only fields listed in [`Operations::SUPPORTED_COALESCE`] can be changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coalesce {
    /// `rx-usecs`.
    pub rx_usecs: u32,
    /// `rx-frames`.
    pub rx_max_frames: u32,
    /// `tx-usecs`.
    pub tx_usecs: u32,
    /// `tx-frames`.
    pub tx_max_frames: u32,
    /// `adaptive-rx`.
    pub adaptive_rx: bool,
}

/// Pause (flow control) settings (`ethtool -a`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseParam {
    /// Pause is auto-negotiated.
    pub autoneg: bool,
    /// Honour received pause frames.
    pub rx: bool,
    /// Send pause frames.
    pub tx: bool,
}

/// Standard pause frame counters (`ethtool -I -a`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseStats {
    /// Pause frames sent.
    pub tx_frames: u64,
    /// Pause frames received.
    pub rx_frames: u64,
}

/// Duplex of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplex {
    /// Half duplex.
    Half,
    /// Full duplex.
    Full,
    /// Unknown (e.g. no link).
    Unknown,
}

/// Link settings (`ethtool DEV`), written by [`Operations::get_link_ksettings`].
///
/// # Invariants
///
/// `self.0` is the `ethtool_link_ksettings` buffer of the current `get_link_ksettings` call.
pub struct LinkSettings<'a>(&'a mut bindings::ethtool_link_ksettings);

/// An `ETHTOOL_LINK_MODE_*_BIT` index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkMode(u32);

impl LinkMode {
    /// 10baseT half duplex.
    pub const M10_HALF: Self =
        Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_10baseT_Half_BIT);
    /// 10baseT full duplex.
    pub const M10_FULL: Self =
        Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_10baseT_Full_BIT);
    /// 100baseT half duplex.
    pub const M100_HALF: Self =
        Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_100baseT_Half_BIT);
    /// 100baseT full duplex.
    pub const M100_FULL: Self =
        Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_100baseT_Full_BIT);
    /// 1000baseT full duplex.
    pub const M1000_FULL: Self =
        Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_1000baseT_Full_BIT);
    /// Auto-negotiation.
    pub const AUTONEG: Self =
        Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_Autoneg_BIT);
    /// Twisted pair.
    pub const TP: Self = Self(bindings::ethtool_link_mode_bit_indices_ETHTOOL_LINK_MODE_TP_BIT);
}

fn set_mode_bit(mask: &mut [c_ulong], mode: LinkMode) {
    let bits = c_ulong::BITS as usize;
    let i = mode.0 as usize;
    if let Some(w) = mask.get_mut(i / bits) {
        *w |= 1 << (i % bits);
    }
}

impl LinkSettings<'_> {
    /// Sets the speed in Mb/s (`SPEED_UNKNOWN` when `None`).
    pub fn set_speed(&mut self, mbps: Option<u32>) {
        self.0.base.speed = mbps.unwrap_or(bindings::SPEED_UNKNOWN as u32);
    }

    /// Sets the duplex.
    pub fn set_duplex(&mut self, d: Duplex) {
        self.0.base.duplex = match d {
            Duplex::Half => bindings::DUPLEX_HALF,
            Duplex::Full => bindings::DUPLEX_FULL,
            Duplex::Unknown => bindings::DUPLEX_UNKNOWN,
        } as u8;
    }

    /// Marks the port as twisted pair (`PORT_TP`).
    pub fn set_port_tp(&mut self) {
        self.0.base.port = bindings::PORT_TP as u8;
    }

    /// Sets the PHY address.
    pub fn set_phy_address(&mut self, addr: u8) {
        self.0.base.phy_address = addr;
    }

    /// Sets whether auto-negotiation is enabled.
    pub fn set_autoneg(&mut self, on: bool) {
        self.0.base.autoneg = if on {
            bindings::AUTONEG_ENABLE
        } else {
            bindings::AUTONEG_DISABLE
        } as u8;
    }

    /// Adds `mode` to the supported link modes.
    pub fn add_supported(&mut self, mode: LinkMode) {
        set_mode_bit(&mut self.0.link_modes.supported, mode);
    }

    /// Adds `mode` to the advertised link modes.
    pub fn add_advertising(&mut self, mode: LinkMode) {
        set_mode_bit(&mut self.0.link_modes.advertising, mode);
    }
}

/// Driver information (`ethtool -i`), written by [`Operations::get_drvinfo`].
///
/// # Invariants
///
/// `self.0` is the `ethtool_drvinfo` buffer of the current `get_drvinfo` call.
pub struct DrvInfo<'a>(&'a mut bindings::ethtool_drvinfo);

fn copy_cstr(dst: &mut [c_char], src: &CStr) {
    let bytes = src.to_bytes();
    let n = bytes.len().min(dst.len().saturating_sub(1));
    for (d, s) in dst.iter_mut().zip(bytes[..n].iter()) {
        *d = *s as c_char;
    }
    if let Some(d) = dst.get_mut(n) {
        *d = 0;
    }
}

impl DrvInfo<'_> {
    /// Sets the driver name (truncated to 31 bytes).
    pub fn set_driver(&mut self, s: &CStr) {
        copy_cstr(&mut self.0.driver, s);
    }

    /// Sets the driver version.
    pub fn set_version(&mut self, s: &CStr) {
        copy_cstr(&mut self.0.version, s);
    }

    /// Sets the firmware version.
    pub fn set_fw_version(&mut self, s: &CStr) {
        copy_cstr(&mut self.0.fw_version, s);
    }

    /// Sets the bus information (e.g. the PCI address).
    pub fn set_bus_info(&mut self, s: &CStr) {
        copy_cstr(&mut self.0.bus_info, s);
    }
}

enum StatsMode<'a> {
    Count,
    Strings(&'a mut [[u8; GSTRING_LEN]]),
    Values(&'a mut [u64]),
}

/// Collects named `u64` counters for `ethtool -S`; see [`Operations::get_stats`].
pub struct Stats<'a> {
    mode: StatsMode<'a>,
    n: usize,
}

/// Formats into a fixed buffer, truncating (keeps the final NUL).
struct NameWriter<'a> {
    buf: &'a mut [u8; GSTRING_LEN],
    pos: usize,
}

impl core::fmt::Write for NameWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.pos + 1 >= GSTRING_LEN {
                break;
            }
            self.buf[self.pos] = b;
            self.pos += 1;
        }
        Ok(())
    }
}

impl Stats<'_> {
    /// Adds the counter `name` (at most 31 bytes are kept) with value `value`.
    pub fn add(&mut self, name: &CStr, value: u64) {
        let bytes = name.to_bytes();
        self.add_with(value, |buf| {
            let n = bytes.len().min(GSTRING_LEN - 1);
            buf[..n].copy_from_slice(&bytes[..n]);
        });
    }

    /// Adds a counter whose name is formatted from `args` (for example per-queue counters).
    pub fn add_fmt(&mut self, args: fmt::Arguments<'_>, value: u64) {
        self.add_with(value, |buf| {
            let mut w = NameWriter { buf, pos: 0 };
            let _ = core::fmt::Write::write_fmt(&mut w, args);
        });
    }

    fn add_with(&mut self, value: u64, name: impl FnOnce(&mut [u8; GSTRING_LEN])) {
        let i = self.n;
        self.n += 1;
        match &mut self.mode {
            StatsMode::Count => {}
            StatsMode::Strings(s) => {
                if let Some(slot) = s.get_mut(i) {
                    *slot = [0; GSTRING_LEN];
                    name(slot);
                }
            }
            StatsMode::Values(v) => {
                if let Some(slot) = v.get_mut(i) {
                    *slot = value;
                }
            }
        }
    }
}

/// ethtool operations of a network device whose private data is `Self`.
///
/// See the module documentation for the calling context.
#[vtable]
pub trait Operations: super::dev::Operations {
    /// Coalescing parameters [`Operations::set_coalesce`] accepts (`coalesce::*` bits).
    const SUPPORTED_COALESCE: u32 = 0;

    /// Fills driver information. Without it the core reports the bus driver and parent device.
    fn get_drvinfo(_dev: &Device<Self>, _info: &mut DrvInfo<'_>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Fills the link settings.
    fn get_link_ksettings(_dev: &Device<Self>, _ks: &mut LinkSettings<'_>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the ring sizes.
    fn get_ringparam(_dev: &Device<Self>) -> RingParam {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the ring sizes; `rp` is within the maxima [`Operations::get_ringparam`] reports.
    ///
    /// RTNL is held (`_rtnl`), in process context: the driver may pause its NAPI instances to
    /// rebuild its rings.
    fn set_ringparam(_dev: &Device<Self>, _rtnl: &mut Rtnl<'_>, _rp: &RingParam) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the queue counts.
    fn get_channels(_dev: &Device<Self>) -> Channels {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the queue counts; the core has checked them against the maxima.
    fn set_channels(_dev: &Device<Self>, _ch: &Channels) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports the driver's counters; called to count, name and read them (see [`Stats`]).
    /// Must report the same counters in the same order every time.
    fn get_stats(_dev: &Device<Self>, _out: &mut Stats<'_>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the size in bytes of the register dump (a multiple of 4).
    fn get_regs_len(_dev: &Device<Self>) -> usize {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Fills the register dump (`buf` has [`Operations::get_regs_len`]` / 4` words, zeroed);
    /// returns the dump format version.
    fn get_regs(_dev: &Device<Self>, _buf: &mut [u32]) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the interrupt coalescing settings.
    fn get_coalesce(_dev: &Device<Self>) -> Result<Coalesce> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the interrupt coalescing settings.
    fn set_coalesce(_dev: &Device<Self>, _c: &Coalesce) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the pause settings.
    fn get_pauseparam(_dev: &Device<Self>) -> PauseParam {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the standard pause frame counters.
    fn get_pause_stats(_dev: &Device<Self>) -> PauseStats {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C callbacks for a device with private data `T`.
pub(crate) struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    /// # Safety
    ///
    /// `ndev` must be a device created by `dev::Builder::<T>` that the core passed to an
    /// ethtool callback (the callbacks below are only installed on such devices).
    unsafe fn dev<'a>(ndev: *mut bindings::net_device) -> &'a Device<T> {
        // SAFETY: The core only calls ethtool operations on registered devices, which are torn
        // down through `netdev_run_todo()` (see the invariants of `Device`).
        unsafe { Device::<T>::from_raw(ndev) }
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_drvinfo` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_drvinfo(
        ndev: *mut bindings::net_device,
        info: *mut bindings::ethtool_drvinfo,
    ) {
        // SAFETY: Called by the core as `get_drvinfo` of a device with these ops; `info` is a
        // buffer owned by this call.
        let (dev, info) = unsafe { (Self::dev(ndev), &mut *info) };
        // INVARIANT: `info` is the buffer of this `get_drvinfo` call.
        T::get_drvinfo(dev, &mut DrvInfo(info));
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_link_ksettings` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_link_ksettings(
        ndev: *mut bindings::net_device,
        ks: *mut bindings::ethtool_link_ksettings,
    ) -> c_int {
        // SAFETY: As in `get_drvinfo`.
        let (dev, ks) = unsafe { (Self::dev(ndev), &mut *ks) };
        from_result(|| {
            // INVARIANT: `ks` is the buffer of this `get_link_ksettings` call.
            T::get_link_ksettings(dev, &mut LinkSettings(ks))?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_ringparam` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_ringparam(
        ndev: *mut bindings::net_device,
        rp: *mut bindings::ethtool_ringparam,
        _krp: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) {
        // SAFETY: As in `get_drvinfo`.
        let (dev, rp) = unsafe { (Self::dev(ndev), &mut *rp) };
        let r = T::get_ringparam(dev);
        rp.rx_max_pending = r.rx_max;
        rp.tx_max_pending = r.tx_max;
        rp.rx_pending = r.rx;
        rp.tx_pending = r.tx;
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `set_ringparam` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn set_ringparam(
        ndev: *mut bindings::net_device,
        rp: *mut bindings::ethtool_ringparam,
        _krp: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: As in `get_drvinfo`.
        let (dev, rp) = unsafe { (Self::dev(ndev), &*rp) };
        from_result(|| {
            if rp.rx_mini_pending != 0 || rp.rx_jumbo_pending != 0 {
                return Err(EINVAL);
            }
            let cur = T::get_ringparam(dev);
            if rp.rx_pending > cur.rx_max || rp.tx_pending > cur.tx_max {
                return Err(EINVAL);
            }
            T::set_ringparam(
                dev,
                // SAFETY: The ethtool core (ioctl and netlink) calls `set_ringparam` in process
                // context with RTNL held, for this call: it takes RTNL for every device that is
                // not "ops locked", and ours never are (type invariant of `Device`).
                &mut unsafe { Rtnl::assume_held() },
                &RingParam {
                    rx_max: cur.rx_max,
                    tx_max: cur.tx_max,
                    rx: rp.rx_pending,
                    tx: rp.tx_pending,
                },
            )?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_channels` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_channels(
        ndev: *mut bindings::net_device,
        ch: *mut bindings::ethtool_channels,
    ) {
        // SAFETY: As in `get_drvinfo`.
        let (dev, ch) = unsafe { (Self::dev(ndev), &mut *ch) };
        let c = T::get_channels(dev);
        ch.max_rx = c.max_rx;
        ch.max_tx = c.max_tx;
        ch.max_other = c.max_other;
        ch.max_combined = c.max_combined;
        ch.rx_count = c.rx;
        ch.tx_count = c.tx;
        ch.other_count = c.other;
        ch.combined_count = c.combined;
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `set_channels` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn set_channels(
        ndev: *mut bindings::net_device,
        ch: *mut bindings::ethtool_channels,
    ) -> c_int {
        // SAFETY: As in `get_drvinfo`.
        let (dev, ch) = unsafe { (Self::dev(ndev), &*ch) };
        from_result(|| {
            let cur = T::get_channels(dev);
            if ch.rx_count > cur.max_rx
                || ch.tx_count > cur.max_tx
                || ch.other_count > cur.max_other
                || ch.combined_count > cur.max_combined
            {
                return Err(EINVAL);
            }
            T::set_channels(
                dev,
                &Channels {
                    rx: ch.rx_count,
                    tx: ch.tx_count,
                    other: ch.other_count,
                    combined: ch.combined_count,
                    ..cur
                },
            )?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_sset_count` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_sset_count(ndev: *mut bindings::net_device, sset: c_int) -> c_int {
        if sset != bindings::ethtool_stringset_ETH_SS_STATS as c_int {
            return EOPNOTSUPP.to_errno();
        }
        // SAFETY: As in `get_drvinfo`.
        let dev = unsafe { Self::dev(ndev) };
        let mut s = Stats {
            mode: StatsMode::Count,
            n: 0,
        };
        T::get_stats(dev, &mut s);
        let n = u32::try_from(s.n).unwrap_or(0).min(c_int::MAX as u32);
        // The core sizes the `get_strings` buffer from this: remember it.
        dev.extra().ethtool_stats.store(n, Relaxed);
        n as c_int
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_strings` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_strings(ndev: *mut bindings::net_device, sset: u32, data: *mut u8) {
        if sset != bindings::ethtool_stringset_ETH_SS_STATS {
            return;
        }
        // SAFETY: As in `get_drvinfo`.
        let dev = unsafe { Self::dev(ndev) };
        // The core allocated as many strings as `get_sset_count` last reported for this device
        // (both under RTNL); `Stats` never writes more, even if the driver now reports others.
        let n = dev.extra().ethtool_stats.load(Relaxed) as usize;
        // SAFETY: See above; `[u8; N]` has alignment 1.
        let strings =
            unsafe { core::slice::from_raw_parts_mut(data.cast::<[u8; GSTRING_LEN]>(), n) };
        let mut s = Stats {
            mode: StatsMode::Strings(strings),
            n: 0,
        };
        T::get_stats(dev, &mut s);
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_ethtool_stats` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_ethtool_stats(
        ndev: *mut bindings::net_device,
        stats: *mut bindings::ethtool_stats,
        data: *mut u64,
    ) {
        // SAFETY: As in `get_drvinfo`; `stats->n_stats` is the number of `u64` in `data`, as
        // the core allocated them for this call.
        let (dev, n) = unsafe { (Self::dev(ndev), (*stats).n_stats as usize) };
        // SAFETY: See above.
        let values = unsafe { core::slice::from_raw_parts_mut(data, n) };
        let mut s = Stats {
            mode: StatsMode::Values(values),
            n: 0,
        };
        T::get_stats(dev, &mut s);
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_regs_len` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_regs_len(ndev: *mut bindings::net_device) -> c_int {
        // SAFETY: As in `get_drvinfo`.
        let dev = unsafe { Self::dev(ndev) };
        c_int::try_from(T::get_regs_len(dev) & !3).unwrap_or(0)
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_regs` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_regs(
        ndev: *mut bindings::net_device,
        regs: *mut bindings::ethtool_regs,
        p: *mut c_void,
    ) {
        // SAFETY: As in `get_drvinfo`; `p` holds `regs->len` bytes (at most `get_regs_len()`),
        // zeroed and suitably aligned (`kvzalloc`/`vzalloc`).
        let (dev, len) = unsafe { (Self::dev(ndev), (*regs).len as usize) };
        // SAFETY: See above.
        let buf = unsafe { core::slice::from_raw_parts_mut(p.cast::<u32>(), len / 4) };
        let version = T::get_regs(dev, buf);
        // SAFETY: `regs` is valid for this call.
        unsafe { (*regs).version = version };
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_coalesce` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_coalesce(
        ndev: *mut bindings::net_device,
        ec: *mut bindings::ethtool_coalesce,
        _kec: *mut bindings::kernel_ethtool_coalesce,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: As in `get_drvinfo`.
        let (dev, ec) = unsafe { (Self::dev(ndev), &mut *ec) };
        from_result(|| {
            let c = T::get_coalesce(dev)?;
            ec.rx_coalesce_usecs = c.rx_usecs;
            ec.rx_max_coalesced_frames = c.rx_max_frames;
            ec.tx_coalesce_usecs = c.tx_usecs;
            ec.tx_max_coalesced_frames = c.tx_max_frames;
            ec.use_adaptive_rx_coalesce = u32::from(c.adaptive_rx);
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `set_coalesce` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn set_coalesce(
        ndev: *mut bindings::net_device,
        ec: *mut bindings::ethtool_coalesce,
        _kec: *mut bindings::kernel_ethtool_coalesce,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: As in `get_drvinfo`.
        let (dev, ec) = unsafe { (Self::dev(ndev), &*ec) };
        from_result(|| {
            T::set_coalesce(
                dev,
                &Coalesce {
                    rx_usecs: ec.rx_coalesce_usecs,
                    rx_max_frames: ec.rx_max_coalesced_frames,
                    tx_usecs: ec.tx_coalesce_usecs,
                    tx_max_frames: ec.tx_max_coalesced_frames,
                    adaptive_rx: ec.use_adaptive_rx_coalesce != 0,
                },
            )?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_pauseparam` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_pauseparam(
        ndev: *mut bindings::net_device,
        pp: *mut bindings::ethtool_pauseparam,
    ) {
        // SAFETY: As in `get_drvinfo`.
        let (dev, pp) = unsafe { (Self::dev(ndev), &mut *pp) };
        let p = T::get_pauseparam(dev);
        pp.autoneg = u32::from(p.autoneg);
        pp.rx_pause = u32::from(p.rx);
        pp.tx_pause = u32::from(p.tx);
    }

    /// # Safety
    ///
    /// Must only be called by the networking core as `get_pause_stats` of a device whose ethtool
    /// operations are `Adapter::<T>::VTABLE`.
    unsafe extern "C" fn get_pause_stats(
        ndev: *mut bindings::net_device,
        ps: *mut bindings::ethtool_pause_stats,
    ) {
        // SAFETY: As in `get_drvinfo`.
        let (dev, ps) = unsafe { (Self::dev(ndev), &mut *ps) };
        let s = T::get_pause_stats(dev);
        // NOTE(bindgen): the counters are in a `struct_group()`, an anonymous union member.
        // SAFETY: Plain integer fields; writing through either union view is fine.
        let c = unsafe { &mut ps.__bindgen_anon_1.__bindgen_anon_1 };
        c.tx_pause_frames = s.tx_frames;
        c.rx_pause_frames = s.rx_frames;
    }

    pub(crate) const VTABLE: bindings::ethtool_ops = bindings::ethtool_ops {
        supported_coalesce_params: T::SUPPORTED_COALESCE,
        get_drvinfo: if T::HAS_GET_DRVINFO {
            Some(Self::get_drvinfo)
        } else {
            None
        },
        get_link: Some(bindings::ethtool_op_get_link),
        get_link_ksettings: if T::HAS_GET_LINK_KSETTINGS {
            Some(Self::get_link_ksettings)
        } else {
            None
        },
        get_ringparam: if T::HAS_GET_RINGPARAM {
            Some(Self::get_ringparam)
        } else {
            None
        },
        set_ringparam: if T::HAS_SET_RINGPARAM && T::HAS_GET_RINGPARAM {
            Some(Self::set_ringparam)
        } else {
            None
        },
        get_channels: if T::HAS_GET_CHANNELS {
            Some(Self::get_channels)
        } else {
            None
        },
        set_channels: if T::HAS_SET_CHANNELS && T::HAS_GET_CHANNELS {
            Some(Self::set_channels)
        } else {
            None
        },
        get_sset_count: if T::HAS_GET_STATS {
            Some(Self::get_sset_count)
        } else {
            None
        },
        get_strings: if T::HAS_GET_STATS {
            Some(Self::get_strings)
        } else {
            None
        },
        get_ethtool_stats: if T::HAS_GET_STATS {
            Some(Self::get_ethtool_stats)
        } else {
            None
        },
        get_regs_len: if T::HAS_GET_REGS_LEN && T::HAS_GET_REGS {
            Some(Self::get_regs_len)
        } else {
            None
        },
        get_regs: if T::HAS_GET_REGS_LEN && T::HAS_GET_REGS {
            Some(Self::get_regs)
        } else {
            None
        },
        get_coalesce: if T::HAS_GET_COALESCE {
            Some(Self::get_coalesce)
        } else {
            None
        },
        set_coalesce: if T::HAS_SET_COALESCE && T::HAS_GET_COALESCE {
            Some(Self::set_coalesce)
        } else {
            None
        },
        get_pauseparam: if T::HAS_GET_PAUSEPARAM {
            Some(Self::get_pauseparam)
        } else {
            None
        },
        get_pause_stats: if T::HAS_GET_PAUSE_STATS {
            Some(Self::get_pause_stats)
        } else {
            None
        },
        ..pin_init::zeroed()
    };
}
