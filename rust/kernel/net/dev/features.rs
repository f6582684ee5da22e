// SPDX-License-Identifier: GPL-2.0

//! Device features (`netdev_features_t`).

use crate::{bindings, impl_flags};

impl_flags!(
    /// A set of device features (`netdev_features_t`), drawn from [`Feature`].
    ///
    /// A closed set: it only ever holds features that a driver on these abstractions can honour
    /// without further device operations (the abstraction installs no `ndo_vlan_rx_add_vid`,
    /// `ndo_dfwd_add_station`, `ndo_setup_tc`, ...). Drivers cannot build one from raw bits, and
    /// what the core passes to [`fix_features`](super::Operations::fix_features) and
    /// [`set_features`](super::Operations::set_features) is narrowed to these features; the core's
    /// own bits are kept as they were.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::net::dev::{Feature, Features};
    ///
    /// let hw = Feature::Sg | Feature::HwCsum | Feature::Rxcsum;
    /// assert!(hw.contains_all(Feature::Sg | Feature::Rxcsum));
    /// assert!(!hw.contains(Feature::Tso));
    /// assert_eq!(hw & !Feature::Sg, Feature::HwCsum | Feature::Rxcsum);
    /// assert_eq!(hw & Feature::Tso, Features::empty());
    /// ```
    ///
    /// A feature the abstraction cannot honour cannot be claimed: there is no constructor from
    /// raw bits.
    ///
    /// ```ignore,compile_fail,E0423
    /// use kernel::net::dev::Features;
    ///
    /// // `NETIF_F_HW_VLAN_CTAG_FILTER` would make the 8021q module call a NULL
    /// // `ndo_vlan_rx_add_vid`.
    /// let f = Features(1 << kernel::bindings::NETIF_F_HW_VLAN_CTAG_FILTER_BIT);
    /// ```
    ///
    /// ```ignore,compile_fail,E0599
    /// use kernel::net::dev::Features;
    ///
    /// let f = Features::from_bits(1 << kernel::bindings::NETIF_F_HW_L2FW_DOFFLOAD_BIT);
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
    pub struct Features(u64);

    /// One device feature (a `NETIF_F_*` bit) that a driver may claim.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Feature {
        /// Scatter-gather I/O (`NETIF_F_SG`).
        Sg = 1 << bindings::NETIF_F_SG_BIT,
        /// TX checksum of everything (`NETIF_F_HW_CSUM`: `CHECKSUM_PARTIAL` with any start and
        /// offset).
        HwCsum = 1 << bindings::NETIF_F_HW_CSUM_BIT,
        /// VLAN tag stripping on RX (`NETIF_F_HW_VLAN_CTAG_RX`).
        HwVlanCtagRx = 1 << bindings::NETIF_F_HW_VLAN_CTAG_RX_BIT,
        /// TCP segmentation offload over IPv4 (`NETIF_F_TSO`).
        Tso = 1 << bindings::NETIF_F_TSO_BIT,
        /// TCP segmentation offload over IPv6 (`NETIF_F_TSO6`).
        Tso6 = 1 << bindings::NETIF_F_TSO6_BIT,
        /// TCP segmentation offload of packets with ECN (`NETIF_F_TSO_ECN`: the device sets CWR
        /// on the first segment only).
        TsoEcn = 1 << bindings::NETIF_F_TSO_ECN_BIT,
        /// UDP segmentation offload (`NETIF_F_GSO_UDP_L4`).
        GsoUdpL4 = 1 << bindings::NETIF_F_GSO_UDP_L4_BIT,
        /// The device checks the headers of GSO packets from untrusted sources itself
        /// (`NETIF_F_GSO_ROBUST`: `SKB_GSO_DODGY` packets are not segmented in software).
        GsoRobust = 1 << bindings::NETIF_F_GSO_ROBUST_BIT,
        /// RX checksum offload (`NETIF_F_RXCSUM`).
        Rxcsum = 1 << bindings::NETIF_F_RXCSUM_BIT,
        /// Deliver frames with bad FCS or errors too (`NETIF_F_RXALL`).
        Rxall = 1 << bindings::NETIF_F_RXALL_BIT,
        /// Keep the FCS on received frames (`NETIF_F_RXFCS`).
        Rxfcs = 1 << bindings::NETIF_F_RXFCS_BIT,
    }
);

impl Features {
    /// The features of `raw` that a driver may see or claim.
    #[inline]
    pub(crate) fn from_raw(raw: bindings::netdev_features_t) -> Self {
        // INVARIANT: Masked to the known features.
        Self(raw & Self::all_bits())
    }

    /// What the core gets back when the driver answers `driver` to `core` (in `fix_features`):
    /// the core's bits outside [`Feature`] unchanged, the driver's choice among the others.
    #[inline]
    pub(crate) fn merge_into(
        core: bindings::netdev_features_t,
        driver: Self,
    ) -> bindings::netdev_features_t {
        (core & !Self::all_bits()) | (u64::from(driver) & Self::all_bits())
    }
}
