// SPDX-License-Identifier: GPL-2.0

//! The PCI driver: probe (reset, EEPROM, station address, rings, network device) and the
//! per-device data that keeps the network device registered.

use crate::{
    default_features, ethtool, hw, hw_features,
    regs::BAR0_SIZE,
    ring::{RxRing, TxRing},
    Nic, Regs, DRV_NAME, MAX_MTU,
};
use kernel::{
    device::Core,
    net::{
        dev::{self, Builder, Registration},
        napi::Napi,
    },
    netdev_info, new_mutex, new_spinlock_bh, new_spinlock_irq, pci,
    prelude::*,
    sync::atomic::{Atomic, AtomicFlag, Relaxed},
};

/// The PCI driver's per-device data.
pub(crate) struct E1000Data<'bound> {
    netdev: Registration<'bound, Nic>,
}

pub(crate) struct E1000Driver;

kernel::pci_device_table!(
    PCI_TABLE,
    <E1000Driver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::INTEL, 0x100e), ())]
);

impl pci::Driver for E1000Driver {
    type IdInfo = ();
    type Data<'bound> = E1000Data<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        pdev.set_master();

        let bar = pdev.iomap_region_sized::<BAR0_SIZE>(0, DRV_NAME)?;
        hw::reset(|step| step(&bar))?;
        hw::eeprom_validate(&bar).inspect_err(|_| {
            dev_err!(pdev.as_ref(), "EEPROM checksum is not valid\n");
        })?;
        let mac = hw::eeprom_mac(&bar)?;
        hw::set_station_address(&bar, &mac);
        hw::MulticastTable::new().write(&bar);

        let tx = TxRing::new(pdev.as_ref())?;
        let rx = RxRing::new(pdev.as_ref())?;
        let bar = bar.into_devres()?;

        let mut b = Builder::new(
            1,
            1,
            pin_init!(Nic {
                bar: Regs(bar),
                tx <- new_spinlock_irq!(tx, "e1000_rust::tx"),
                rx <- new_spinlock_bh!(rx, "e1000_rust::rx"),
                napi <- Napi::new(0),
                up: AtomicFlag::new(false),
                promisc: AtomicFlag::new(false),
                allmulti: AtomicFlag::new(false),
                link_changed: AtomicFlag::new(false),
                tx_irq: AtomicFlag::new(false),
                tx_timeouts: Atomic::new(0),
                rctl_lock <- new_spinlock_irq!((), "e1000_rust::rctl"),
                hw_stats <- new_mutex!(ethtool::HwCounters::default(), "e1000_rust::hw_stats"),
            }),
        )?;
        b.set_mac_address(&mac);
        b.set_features(hw_features(), default_features());
        // RAH/RAL can be rewritten while receiving, as the C driver does.
        b.set_live_addr_change();
        b.set_ethtool_ops();
        b.set_mtu_limits(dev::ETH_MIN_MTU, MAX_MTU)?;
        b.carrier_off();

        let vectors = pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::all())?;
        let netdev = Registration::new_with_irq(pdev, b, vectors, 0, DRV_NAME)?;
        netdev_info!(
            netdev.access(pdev.as_ref())?,
            "Intel 82540EM, MAC {}\n",
            mac
        );
        Ok(E1000Data { netdev })
    }

    /// As `e1000_shutdown()` (without wake-on-LAN, which the emulated 82540EM does not
    /// offer): the stack stops transmitting, then the receiver, the transmitter and the
    /// interrupts are stopped and DMA in flight drains, so that nothing is written to memory
    /// after a reboot or kexec.
    fn shutdown<'bound>(pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        if let Ok(dev) = this.netdev.access(pdev.as_ref()) {
            dev.detach();
            // No poll unmasks interrupts from now on.
            dev.data().up.store(false, Relaxed);
            dev.data().quiesce();
        }
    }
}
