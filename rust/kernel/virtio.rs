// SPDX-License-Identifier: GPL-2.0

//! Virtio devices and drivers.
//!
//! C headers: [`include/linux/virtio.h`](srctree/include/linux/virtio.h),
//! [`include/linux/virtio_config.h`](srctree/include/linux/virtio_config.h).
//!
//! A virtio driver implements [`Driver`] and is registered with
//! [`module_virtio_driver!`](crate::module_virtio_driver). The
//! bus matches it with devices by its [`IdTable`] and negotiates the feature bits it lists in
//! [`Driver::FEATURES`] before `probe` runs.
//!
//! Split by concern: this file holds the driver registration and the device ([`Device`]: its
//! negotiated features and its configuration space); [`virtqueue`] holds the queues and the
//! buffers the device owns while they are queued.

use crate::{
    bindings, device,
    device_id::RawDeviceId,
    driver,
    error::{from_result, to_result},
    prelude::*,
    str::CStr,
    types::Opaque,
    ThisModule,
};
use core::{
    marker::PhantomData,
    mem::offset_of,
    ptr::{addr_of_mut, NonNull},
};

pub mod virtqueue;

/// An adapter for the registration of virtio drivers.
pub struct Adapter<T: Driver>(T);

// SAFETY:
// - `bindings::virtio_driver` is a C type declared as `repr(C)`.
// - `T::Data` is the type of the driver's device private data.
// - `struct virtio_driver` embeds a `struct device_driver` at `DEVICE_DRIVER_OFFSET`.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::virtio_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = offset_of!(Self::DriverType, driver);
}

// SAFETY: A call to `unregister` for a given instance of `DriverType` is guaranteed to be valid if
// a preceding call to `register` has been successful.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        vdrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let features = T::FEATURES;
        // SAFETY: It's safe to set the fields of `struct virtio_driver` on initialization. The id
        // and feature tables are `'static`; the core reads `feature_table_size` entries.
        unsafe {
            (*vdrv.get()).driver.name = name.as_char_ptr();
            (*vdrv.get()).id_table = T::ID_TABLE.as_ptr();
            (*vdrv.get()).feature_table = features.as_ptr();
            (*vdrv.get()).feature_table_size = features.len().try_into()?;
            (*vdrv.get()).validate = Some(Self::validate_callback);
            (*vdrv.get()).probe = Some(Self::probe_callback);
            (*vdrv.get()).remove = Some(Self::remove_callback);
        }

        // SAFETY: `vdrv` is guaranteed to be a valid `DriverType`.
        to_result(unsafe { bindings::__register_virtio_driver(vdrv.get(), module.as_ptr()) })
    }

    unsafe fn unregister(vdrv: &Opaque<Self::DriverType>) {
        // SAFETY: `vdrv` is guaranteed to be a valid, registered `DriverType`.
        unsafe { bindings::unregister_virtio_driver(vdrv.get()) }
    }
}

impl<T: Driver> Adapter<T> {
    extern "C" fn validate_callback(vdev: *mut bindings::virtio_device) -> c_int {
        // INVARIANT: The virtio bus calls `validate` with a valid device, before probe, while
        // the negotiated features may still change.
        let mut features = Negotiation(vdev, PhantomData);
        from_result(|| {
            T::validate(&mut features)?;
            Ok(0)
        })
    }

    extern "C" fn probe_callback(vdev: *mut bindings::virtio_device) -> c_int {
        // SAFETY: The virtio bus only ever calls the probe callback with a valid pointer to a
        // `struct virtio_device`.
        //
        // INVARIANT: `vdev` is valid for the duration of `probe_callback()`.
        let vdev = unsafe { &*vdev.cast::<Device<device::CoreInternal<'_>>>() };

        from_result(|| {
            let data = T::probe(vdev);

            vdev.as_ref().set_drvdata(data)?;
            Ok(0)
        })
    }

    extern "C" fn remove_callback(vdev: *mut bindings::virtio_device) {
        // SAFETY: The virtio bus only ever calls the remove callback with a valid pointer to a
        // `struct virtio_device`.
        //
        // INVARIANT: `vdev` is valid for the duration of `remove_callback()`.
        let vdev = unsafe { &*vdev.cast::<Device<device::CoreInternal<'_>>>() };

        // SAFETY: `remove_callback` is only ever called after a successful call to
        // `probe_callback`, hence `Device::set_drvdata()` has stored a `Pin<KBox<T::Data<'_>>>`.
        let data = unsafe { vdev.as_ref().drvdata_borrow::<T::Data<'_>>() };

        T::unbind(vdev, data);

        // The core expects the device reset, and its queues deleted, when `remove` returns
        // (`virtio_dev_remove()` warns otherwise and then sets the status for the next
        // driver). So the driver data, which owns the queues (directly or through a network
        // device registration), is dropped here rather than after `remove`; the driver core
        // then finds none to drop.
        //
        // SAFETY: Set by `probe_callback` (see above) and not taken yet.
        drop(unsafe { vdev.as_ref().drvdata_obtain::<T::Data<'_>>() });

        // A driver without queues leaves the device as it was: reset it (again harmless).
        //
        // SAFETY: `vdev` is valid; resetting is allowed in process context.
        unsafe { bindings::virtio_reset_device(vdev.as_raw()) };
    }
}

/// Declares a kernel module that exposes a single virtio driver.
///
/// # Examples
///
/// ```ignore
/// kernel::module_virtio_driver! {
///     type: MyDriver,
///     name: "Module name",
///     authors: ["Author name"],
///     description: "Description",
///     license: "GPL v2",
/// }
/// ```
#[macro_export]
macro_rules! module_virtio_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::virtio::Adapter<T>, { $($f)* });
    };
}

/// A virtio device id ([`struct virtio_device_id`]): a device type, matched with any vendor.
///
/// [`struct virtio_device_id`]: srctree/include/linux/device-id/virtio.h
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::virtio_device_id);

impl DeviceId {
    /// Matches devices of type `device` (a `VIRTIO_ID_*`) from any vendor.
    pub const fn new(device: u32) -> Self {
        Self(bindings::virtio_device_id {
            device,
            vendor: bindings::VIRTIO_DEV_ANY_ID,
        })
    }
}

// SAFETY: `DeviceId` is a `#[repr(transparent)]` wrapper of `virtio_device_id` and does not add
// additional invariants, so it's safe to transmute to `RawType`.
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::virtio_device_id;
}

/// The id table of a virtio driver. `struct virtio_device_id` has no room for per-id data, so the
/// table carries none.
pub type IdTable = &'static dyn crate::device_id::IdTable<DeviceId, ()>;

/// Creates a virtio id table, with its alias for modpost.
///
/// ```ignore
/// kernel::virtio_device_table!(ID_TABLE, [virtio::DeviceId::new(VIRTIO_ID_NET)]);
/// ```
#[macro_export]
macro_rules! virtio_device_table {
    ($table_name:ident, [$($id:expr),* $(,)?]) => {
        $crate::module_device_table!("virtio", $crate::virtio::DeviceId, $table_name, @none,
            [$($id),*]);
    };
}

/// A virtio driver.
pub trait Driver {
    /// The type of the driver's device private data.
    type Data<'bound>: Send + 'bound;

    /// The devices the driver serves.
    const ID_TABLE: IdTable;

    /// The feature bits (`VIRTIO_*_F_*` bit numbers) the driver supports. The core offers the
    /// device only these (and the transport's own), and probe sees the negotiated subset
    /// through [`Device::has_feature`].
    const FEATURES: &'static [u32];

    /// Checks the features the device and the driver agreed on before they become final, and
    /// drops those the driver cannot use in the combination the device offered (C
    /// `validate`). Returning an error refuses the device.
    ///
    /// Process context, may sleep; before probe, and the device has no queues.
    fn validate(features: &mut Negotiation<'_>) -> Result {
        let _ = features;
        Ok(())
    }

    /// Binds the driver to `dev`.
    ///
    /// Process context, may sleep. The device's status is `FEATURES_OK`: the queues may be
    /// found, and the device set ready with [`Device::ready`]; if probe returns without that,
    /// the core sets it ready afterwards.
    fn probe<'bound>(
        dev: &'bound Device<device::Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound;

    /// Called when the device is unbound, before the driver data is dropped.
    ///
    /// Process context, may sleep.
    fn unbind<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
    }
}

/// The features a device and its driver agreed on while the driver may still drop some, in
/// [`Driver::validate`].
///
/// # Invariants
///
/// `self.0` is a valid virtio device, in its driver's `validate` callback for `'a`.
pub struct Negotiation<'a>(*mut bindings::virtio_device, PhantomData<&'a mut ()>);

impl Negotiation<'_> {
    /// Whether feature bit `bit` is among the agreed ones (see [`Device::has_feature`]).
    pub fn has(&self, bit: u32) -> bool {
        // SAFETY: The device is valid (type invariant); `__virtio_test_bit` checks the range.
        unsafe { bindings::__virtio_test_bit(self.0, bit) }
    }

    /// Drops feature bit `bit` (nothing happens if it is not set). The bits the transport
    /// reserves (`VIRTIO_TRANSPORT_F_START..VIRTIO_TRANSPORT_F_END`, such as
    /// `VIRTIO_F_VERSION_1`) are the transport's to negotiate: `EINVAL`.
    pub fn clear(&mut self, bit: u32) -> Result {
        if (bindings::VIRTIO_TRANSPORT_F_START..bindings::VIRTIO_TRANSPORT_F_END).contains(&bit) {
            return Err(EINVAL);
        }
        if self.has(bit) {
            // SAFETY: The device is valid and its features may change in `validate` (type
            // invariant); the bit is in range (it is set).
            unsafe { bindings::__virtio_clear_bit(self.0, bit) };
        }
        Ok(())
    }
}

/// A virtio device ([`struct virtio_device`]).
///
/// # Invariants
///
/// `self.0` is a valid `struct virtio_device` created by the C portion of the kernel.
///
/// [`struct virtio_device`]: srctree/include/linux/virtio.h
#[repr(transparent)]
pub struct Device<Ctx: device::DeviceContext = device::Normal>(
    Opaque<bindings::virtio_device>,
    PhantomData<Ctx>,
);

impl<Ctx: device::DeviceContext> Device<Ctx> {
    fn as_raw(&self) -> *mut bindings::virtio_device {
        self.0.get()
    }

    /// The device type (`VIRTIO_ID_*`).
    pub fn device_id(&self) -> u32 {
        // SAFETY: By the type invariant `self.as_raw()` is valid; `id` is set before the device
        // is registered and never changes.
        unsafe { (*self.as_raw()).id.device }
    }
}

impl Device<device::Bound> {
    /// Whether feature bit `bit` (a `VIRTIO_*_F_*` number) was negotiated.
    ///
    /// The features are fixed before probe and do not change while a driver is bound. (Unlike
    /// the C `virtio_has_feature()`, asking for a bit the driver did not offer is no bug: it
    /// was not negotiated.)
    pub fn has_feature(&self, bit: u32) -> bool {
        // SAFETY: By the type invariant `self.as_raw()` is valid; the bit test reads the
        // negotiated feature array, which has room for every bit (`__virtio_test_bit` checks
        // the range).
        unsafe { bindings::__virtio_test_bit(self.as_raw(), bit) }
    }

    /// Reads the station address from a network device's configuration space, if the device
    /// offered it (`VIRTIO_NET_F_MAC` negotiated; the field is only there then).
    #[cfg(CONFIG_NET)]
    pub fn net_mac(&self) -> Option<[u8; 6]> {
        if self.device_id() != bindings::VIRTIO_ID_NET
            || !self.has_feature(bindings::VIRTIO_NET_F_MAC)
        {
            return None;
        }
        let mut mac = [0u8; 6];
        // SAFETY: `self.as_raw()` is valid; `mac` is `struct virtio_net_config`'s first field,
        // present on a network device that offers `VIRTIO_NET_F_MAC`, and `mac` has room for
        // it. Process context (`Bound` is only given to process-context callbacks).
        unsafe {
            bindings::virtio_cread_bytes(
                self.as_raw(),
                core::mem::offset_of!(bindings::virtio_net_config, mac) as u32,
                mac.as_mut_ptr().cast(),
                mac.len(),
            )
        };
        Some(mac)
    }
}

impl Device<device::Core<'_>> {
    /// Lets the device use its queues (status `DRIVER_OK`) before probe returns.
    ///
    /// Call it once the driver can take the queues' callbacks; the core does it after probe
    /// otherwise. Calling it twice warns.
    pub fn ready(&self) {
        // SAFETY: `self.as_raw()` is valid; probe (the `Core` context) is where the driver may
        // set the status.
        unsafe { bindings::virtio_device_ready(self.as_raw()) }
    }
}

// SAFETY: `virtio::Device` is a transparent wrapper of `struct virtio_device`. The offset is
// that of the `struct device` inside it.
unsafe impl<Ctx: device::DeviceContext> device::AsBusDevice<Ctx> for Device<Ctx> {
    const OFFSET: usize = offset_of!(bindings::virtio_device, dev);
}

// SAFETY: `Device` is a transparent wrapper of a type that doesn't depend on `Device`'s generic
// argument.
kernel::impl_device_context_deref!(unsafe { Device });
kernel::impl_device_context_into_aref!(Device);

// SAFETY: Instances of `Device` are always reference-counted.
unsafe impl crate::sync::aref::AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference guarantees that the refcount is non-zero.
        unsafe { bindings::get_device(self.as_ref().as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // CAST: `Self` is a transparent wrapper of `bindings::virtio_device`.
        let vdev: *mut bindings::virtio_device = obj.cast().as_ptr();

        // SAFETY: By the type invariant of `Self`, `vdev` is a valid `struct virtio_device`.
        let dev = unsafe { addr_of_mut!((*vdev).dev) };

        // SAFETY: The safety requirements guarantee that the refcount is non-zero.
        unsafe { bindings::put_device(dev) }
    }
}

impl<Ctx: device::DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant of `Self`, `self.as_raw()` is a valid
        // `struct virtio_device`.
        let dev = unsafe { addr_of_mut!((*self.as_raw()).dev) };

        // SAFETY: `dev` points to a valid `struct device`.
        unsafe { device::Device::from_raw(dev) }
    }
}

// SAFETY: A `Device` is always reference-counted and can be released from any thread.
unsafe impl Send for Device {}

// SAFETY: `Device` can be shared among threads because all methods of `Device`
// (i.e. `Device<Normal>`) are thread safe.
unsafe impl Sync for Device {}

// SAFETY: Same as `Device<Normal>`; `Bound` is a zero-sized type-state marker.
unsafe impl Sync for Device<device::Bound> {}
