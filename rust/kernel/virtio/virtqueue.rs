// SPDX-License-Identifier: GPL-2.0

//! Virtqueues, and who owns a buffer while the device holds it.
//!
//! C header: [`include/linux/virtio.h`](srctree/include/linux/virtio.h).
//!
//! # Ownership of buffers
//!
//! A queue carries one [`Token`] type. Adding a buffer moves its token into the queue: the
//! token owns the memory the device reads or writes, and nothing else can reach that memory
//! until the token comes back, from [`Guard::get_buf`] with the length the device used, or at
//! teardown from `virtqueue_detach_unused_buf()`, after the device was reset. So the driver
//! never sees a raw pointer, a token cannot be returned twice (the queue hands out each one it
//! was given once), and none is lost: teardown drops every token still queued.
//!
//! # Teardown
//!
//! [`Queues`] is dropped (by the owner of the queues' callback target, e.g. the network device
//! registration) in this order: the device is marked broken and the
//! transport's callbacks synchronised, so no queue callback runs or will run; the device is
//! reset, so it no longer touches any buffer; every unused buffer is detached and its token
//! dropped; then the queues are deleted.

use super::Device;
use crate::{
    alloc::Flags,
    bindings, device,
    error::to_result,
    new_spinlock_bh,
    prelude::*,
    sync::{aref::ARef, SpinLockBh},
    task::might_sleep,
    time::{delay::fsleep, Delta, Instant, Monotonic},
    types::Opaque,
};
use core::{any::TypeId, marker::PhantomData, ptr::NonNull};

/// What a queue holds for each queued buffer.
///
/// # Safety
///
/// - `into_raw` returns a non-null pointer that `from_raw` turns back into the same value.
/// - The memory the queue's add operation describes to the device for a token is owned by the
///   token and stays allocated and in place (whatever happens to the token value in raw form)
///   until `from_raw` rebuilds the token; meanwhile nobody else writes it (and, for a buffer the
///   device writes, nobody else reads it either).
/// - Dropping a rebuilt token is valid in process and softirq context with interrupts enabled.
pub unsafe trait Token: Send + Sized + 'static {
    #[doc(hidden)]
    fn into_raw(self) -> NonNull<c_void>;

    /// # Safety
    ///
    /// `ptr` must come from `into_raw` of this type, and be rebuilt at most once.
    #[doc(hidden)]
    unsafe fn from_raw(ptr: NonNull<c_void>) -> Self;
}

/// Drops a token given up with [`Token::into_raw`].
///
/// # Safety
///
/// `ptr` must come from `T::into_raw` and not have been rebuilt.
unsafe fn release<T: Token>(ptr: NonNull<c_void>) {
    // SAFETY: As required by this function.
    drop(unsafe { T::from_raw(ptr) });
}

/// The description of one queue, for finding the queues (e.g.
/// [`Registration::find_virtqueues`](crate::net::dev::Registration::find_virtqueues)).
pub struct QueueInfo {
    name: &'static CStr,
    type_id: TypeId,
    release: unsafe fn(NonNull<c_void>),
    callback: bool,
}

impl QueueInfo {
    /// A queue named `name` (as the transport shows it, e.g. in `/proc/interrupts`) that holds
    /// tokens of type `T`; with `callback`, the device's notifications that it used buffers
    /// call the queues' callback target (e.g.
    /// [`Operations::virtqueue_done`](crate::net::dev::Operations::virtqueue_done)).
    pub fn new<T: Token>(name: &'static CStr, callback: bool) -> Self {
        Self {
            name,
            type_id: TypeId::of::<T>(),
            release: release::<T>,
            callback,
        }
    }
}

/// One queue: the C queue and the lock that serialises its operations.
///
/// # Invariants
///
/// `vq` is a queue of the device of the [`Queues`] that owns `self`, valid until that drops.
#[pin_data]
struct Entry {
    vq: NonNull<bindings::virtqueue>,
    type_id: TypeId,
    release: unsafe fn(NonNull<c_void>),
    /// BH-disabling: the queue is used from NAPI (softirq) and from process context. Holds
    /// whether the queue is being resized ([`Virtqueue::resize`]).
    #[pin]
    lock: SpinLockBh<bool>,
}

/// The queues of a virtio device, for the binding `'a` of the driver that found them.
///
/// They cannot outlive that binding (for instance be kept in a `static`, or in driver data that
/// does not carry the binding's lifetime): they are deleted before the device's driver is gone.
///
/// ```ignore,compile_fail
/// use kernel::virtio::virtqueue::Queues;
///
/// fn keep<'a>(queues: Queues<'a>) -> Queues<'static> {
///     queues
/// }
/// ```
///
/// # Invariants
///
/// - `entries` are all the queues `virtio_find_vqs()` created for `vdev`, in order; they stay
///   valid until `self` is dropped, which deletes them, before the binding `'a` ends.
/// - Each queue holds only tokens of the type its entry names.
/// - `vdev->priv` is NULL or the target of the queues' callbacks.
pub struct Queues<'a> {
    vdev: ARef<Device>,
    entries: KVec<Pin<KBox<Entry>>>,
    _binding: PhantomData<&'a Device<device::Bound>>,
}

// SAFETY: The queues' operations are serialised by their locks (or, for `disable_cb`, need no
// serialisation), and teardown may run on any thread in process context.
unsafe impl Send for Queues<'_> {}
// SAFETY: See `Send`; `&Queues` only gives access through the locks.
unsafe impl Sync for Queues<'_> {}

/// The type of a queue callback (hard-IRQ context).
pub(crate) type Callback = unsafe extern "C" fn(vq: *mut bindings::virtqueue);

impl<'a> Queues<'a> {
    /// Finds the device's queues, described by `infos` in the device's order (for virtio-net:
    /// receive 0, transmit 0, receive 1, ..., control), each with `callback` if its info asks
    /// for one. (Drivers get theirs from the owner of the callbacks' target, e.g.
    /// [`Registration::find_virtqueues`](crate::net::dev::Registration::find_virtqueues).)
    ///
    /// The callback must do nothing while the device's `priv` is NULL: it stays so until a
    /// target is set with [`Queues::set_callback_target`], so a device that notifies early is
    /// harmless. Probe only (the device's status is `FEATURES_OK`), process context. Fails with
    /// `EBUSY` if the device already has queues.
    pub(crate) fn find(
        dev: &'a Device<device::Core<'_>>,
        infos: &[QueueInfo],
        callback: Callback,
    ) -> Result<Self> {
        let vdev = dev.as_raw();
        // SAFETY: `vdev` is valid; in probe (the device lock is held) only this driver creates
        // queues, so reading the list head is not racy. A second set of queues would replace
        // the transport's bookkeeping of the first: refused.
        if unsafe { (*vdev).vqs.next != &raw mut (*vdev).vqs } {
            return Err(EBUSY);
        }
        // SAFETY: `vdev` is valid; no callback of ours exists yet. The callbacks do nothing
        // while this is NULL.
        unsafe { core::ptr::write_volatile(&raw mut (*vdev).priv_, core::ptr::null_mut()) };
        let n = infos.len();
        let mut vqs = KVec::<*mut bindings::virtqueue>::with_capacity(n, GFP_KERNEL)?;
        let mut cinfo = KVec::<bindings::virtqueue_info>::with_capacity(n, GFP_KERNEL)?;
        for info in infos {
            vqs.push(core::ptr::null_mut(), GFP_KERNEL)?;
            cinfo.push(
                bindings::virtqueue_info {
                    name: info.name.as_char_ptr(),
                    callback: if info.callback { Some(callback) } else { None },
                    ctx: false,
                },
                GFP_KERNEL,
            )?;
        }
        let mut entries = KVec::with_capacity(n, GFP_KERNEL)?;
        for info in infos {
            entries.push(
                KBox::pin_init(
                    pin_init!(Entry {
                        vq: NonNull::dangling(),
                        type_id: info.type_id,
                        release: info.release,
                        lock <- new_spinlock_bh!(false),
                    }),
                    GFP_KERNEL,
                )?,
                GFP_KERNEL,
            )?;
        }
        // SAFETY: `dev` is a valid device in probe; `vqs` and `cinfo` hold `n` entries each. On
        // success the transport fills `vqs` with `n` queues (NULL only for a queue without a
        // name, and every name here is set).
        to_result(unsafe {
            bindings::virtio_find_vqs(
                dev.as_raw(),
                n.try_into()?,
                vqs.as_mut_ptr(),
                cinfo.as_mut_ptr(),
                core::ptr::null_mut(),
            )
        })?;
        for (e, vq) in entries.iter_mut().zip(vqs.iter()) {
            let Some(vq) = NonNull::new(*vq) else {
                // SAFETY: `virtio_find_vqs()` succeeded: the queues exist and nothing uses them.
                unsafe { del_vqs(vdev) };
                return Err(EINVAL);
            };
            // SAFETY: `e` is not structurally pinned in `vq`; we only write a plain field.
            unsafe { e.as_mut().get_unchecked_mut() }.vq = vq;
        }
        // INVARIANT: `entries` are the queues just created, in order, each for its info's
        // type; `vdev->priv` is NULL. `'a` is borrowed from the probe's bound device.
        Ok(Self {
            vdev: dev.into(),
            entries,
            _binding: PhantomData,
        })
    }

    /// The queue at `index`, if its tokens are of type `T`.
    pub fn get<T: Token>(&self, index: usize) -> Option<&Virtqueue<T>> {
        let e = self.entries.get(index)?;
        if e.type_id != TypeId::of::<T>() {
            return None;
        }
        // SAFETY: `Virtqueue<T>` is a transparent wrapper of `Entry`, whose type is `T`.
        Some(unsafe { &*core::ptr::from_ref::<Entry>(e).cast::<Virtqueue<T>>() })
    }

    /// Whether these are the queues of `dev`.
    pub(crate) fn is_of(&self, dev: &Device<device::Core<'_>>) -> bool {
        self.vdev.as_raw() == dev.as_raw()
    }

    /// Makes the queues' callbacks reach `target` (the device's `priv`, which is the driver's
    /// to use).
    ///
    /// # Safety
    ///
    /// `target` must stay valid for the callback until the callbacks are stopped
    /// ([`Queues::stop_callbacks`], also done by dropping `self`).
    pub(crate) unsafe fn set_callback_target(&self, target: *mut c_void) {
        // SAFETY: `vdev` is valid. The callbacks read `priv` with a volatile load; what they
        // then reach was initialised before this store, and the device is set ready (a status
        // write through the transport, ordered after it) only after this.
        unsafe { core::ptr::write_volatile(&raw mut (*self.vdev.as_raw()).priv_, target) };
    }
}

/// Deletes all of `vdev`'s queues.
///
/// # Safety
///
/// The device must be reset (or never set ready) and nothing may use its queues any more.
unsafe fn del_vqs(vdev: *mut bindings::virtio_device) {
    // SAFETY: As required by this function.
    unsafe { bindings::virtio_del_vqs(vdev) }
}

impl Queues<'_> {
    /// Stops the queues' callbacks: when this returns, none runs and none will run again, and
    /// the callback target is forgotten.
    ///
    /// Process context (it waits).
    pub(crate) fn stop_callbacks(&self) {
        let vdev = self.vdev.as_raw();
        // SAFETY: `vdev` is valid (we hold a reference). Marking every queue broken makes
        // `vring_interrupt()` skip the callback; synchronising waits for callbacks that already
        // started.
        unsafe {
            bindings::virtio_break_device(vdev);
            bindings::virtio_synchronize_cbs(vdev);
        }
        // SAFETY: No callback runs any more (above).
        unsafe { core::ptr::write_volatile(&raw mut (*vdev).priv_, core::ptr::null_mut()) };
    }
}

impl Drop for Queues<'_> {
    fn drop(&mut self) {
        let vdev = self.vdev.as_raw();
        self.stop_callbacks();
        // SAFETY: The device stops using the queues' buffers once reset.
        unsafe { bindings::virtio_reset_device(vdev) };
        for e in self.entries.iter() {
            loop {
                // SAFETY: `e.vq` is valid (type invariant); the device is reset and no one
                // else uses the queue (we have `&mut self`).
                let p = unsafe { bindings::virtqueue_detach_unused_buf(e.vq.as_ptr()) };
                let Some(p) = NonNull::new(p) else { break };
                // SAFETY: Every buffer of this queue was added with a token of the entry's type
                // (type invariant), and detaching hands each back once.
                unsafe { (e.release)(p) };
            }
        }
        // SAFETY: The device is reset and every buffer detached; the queues are not used again.
        unsafe { del_vqs(vdev) };
    }
}

/// The queue whose callback runs: what a driver may do with it in hard-IRQ context.
///
/// # Invariants
///
/// `self.0` is a valid queue, for the duration of the callback that was given `&Self`.
#[repr(transparent)]
pub struct Notified(Opaque<bindings::virtqueue>);

impl Notified {
    /// # Safety
    ///
    /// `vq` must be a valid queue for `'b` (the queue's callback, while it runs).
    pub(crate) unsafe fn from_raw<'b>(vq: *mut bindings::virtqueue) -> &'b Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*vq.cast::<Self>() }
    }

    /// Asks the device not to notify for used buffers (best effort, no serialisation needed).
    pub fn disable_cb(&self) {
        // SAFETY: The queue is valid (type invariant).
        unsafe { bindings::virtqueue_disable_cb(self.0.get()) }
    }
}

/// A queue whose tokens are of type `T`, borrowed from [`Queues`].
#[repr(transparent)]
pub struct Virtqueue<T: Token>(Entry, PhantomData<T>);

impl<T: Token> Virtqueue<T> {
    fn raw(&self) -> *mut bindings::virtqueue {
        self.0.vq.as_ptr()
    }

    /// Takes the queue's lock for the operations that must be serialised. Returns `None` while
    /// the queue is being resized (its buffers are then the transport's).
    pub fn lock(&self) -> Option<Guard<'_, T>> {
        let guard = self.0.lock.lock();
        if *guard {
            return None;
        }
        Some(Guard {
            vq: self,
            _guard: guard,
        })
    }

    /// Changes the queue's size to `num` descriptors (`virtqueue_resize()`; the transport needs
    /// `VIRTIO_F_RING_RESET`). The queue is reset, every buffer still in it is given back and its
    /// token dropped, and the queue starts again, empty, with `num` descriptors, or with its old
    /// size if the new ring could not be allocated (`ENOMEM`). Meanwhile [`Virtqueue::lock`]
    /// returns `None`.
    ///
    /// Fails with `E2BIG` above the device's maximum ([`Guard::max_size`]), `EINVAL` for 0,
    /// `ENOENT` without `VIRTIO_F_RING_RESET` and `EBUSY` if the queue is being resized already.
    /// Process context (it sleeps). Whatever uses the queue (a NAPI instance, a transmit queue)
    /// should be paused first; transmitted packets dropped here are not reported as completed.
    pub fn resize(&self, num: u32) -> Result {
        might_sleep();
        {
            let mut resizing = self.0.lock.lock();
            if *resizing {
                return Err(EBUSY);
            }
            *resizing = true;
        }
        // SAFETY: The queue is valid. No `Guard` exists (one taken before was released when we
        // took the lock above, and none is handed out until the flag is cleared), so no other
        // operation runs on the queue; the queue's callback is removed from the interrupt path
        // by the transport before the queue is reset. `recycle::<T>` gets the tokens of this
        // queue, which are all `T` (type invariant of `Queues`).
        let ret = unsafe { bindings::virtqueue_resize(self.raw(), num, Some(recycle::<T>), None) };
        *self.0.lock.lock() = false;
        to_result(ret)
    }
}

/// Drops a buffer's token that `virtqueue_resize()` gives back.
///
/// # Safety
///
/// `buf` must be the raw form of a token of type `T` that was queued and not rebuilt.
unsafe extern "C" fn recycle<T: Token>(_vq: *mut bindings::virtqueue, buf: *mut c_void) {
    if let Some(p) = NonNull::new(buf) {
        // SAFETY: As required by this function.
        unsafe { release::<T>(p) };
    }
}

/// Exclusive use of a [`Virtqueue`].
pub struct Guard<'a, T: Token> {
    vq: &'a Virtqueue<T>,
    _guard: crate::sync::lock::Guard<'a, bool, crate::sync::lock::spinlock::SpinLockBhBackend>,
}

impl<T: Token> Guard<'_, T> {
    pub(crate) fn raw(&self) -> *mut bindings::virtqueue {
        self.vq.raw()
    }

    /// Descriptors in the queue.
    pub fn size(&self) -> u32 {
        // SAFETY: The queue is valid; its size only changes in `Virtqueue::resize`, while no
        // `Guard` exists.
        unsafe { bindings::virtqueue_get_vring_size(self.raw()) }
    }

    /// The most descriptors the queue can have (the device's limit).
    pub fn max_size(&self) -> u32 {
        // SAFETY: The queue is valid; `num_max` is set when it is created.
        unsafe { (*self.raw()).num_max }
    }

    /// Free descriptors.
    pub fn num_free(&self) -> u32 {
        // SAFETY: The queue is valid; `num_free` is only changed under the lock we hold.
        unsafe { (*self.raw()).num_free }
    }

    /// The next buffer the device used, with the number of bytes it wrote into it.
    pub fn get_buf(&mut self) -> Option<(T, u32)> {
        let mut len = 0u32;
        // SAFETY: The queue is valid and we hold its lock.
        let p = unsafe { bindings::virtqueue_get_buf(self.raw(), &mut len) };
        // SAFETY: Every buffer of this queue was added with a `T` token (type invariant of
        // `Queues`), and the queue hands each back once.
        NonNull::new(p).map(|p| (unsafe { T::from_raw(p) }, len))
    }

    /// Prepares a notification of the device for the buffers added since the last one: returns
    /// whether [`Guard::notify`] must be called.
    pub fn kick_prepare(&mut self) -> bool {
        // SAFETY: The queue is valid and we hold its lock.
        unsafe { bindings::virtqueue_kick_prepare(self.raw()) }
    }

    /// Notifies the device (after [`Guard::kick_prepare`]). Returns `false` if the device is
    /// broken.
    pub fn notify(&self) -> bool {
        // SAFETY: The queue is valid; `virtqueue_notify()` may run concurrently with other
        // operations.
        unsafe { bindings::virtqueue_notify(self.raw()) }
    }

    /// Re-enables used-buffer notifications. Returns `false` if buffers were used meanwhile
    /// (`virtqueue_enable_cb()`): the caller, typically NAPI about to sleep, must then poll
    /// again, or a notification may be lost.
    pub fn enable_cb(&mut self) -> bool {
        // SAFETY: The queue is valid and we hold its lock.
        unsafe { bindings::virtqueue_enable_cb(self.raw()) }
    }

    /// Adds a buffer of the `n` scatter-gather entries at `sg`, owned by `token`: one the
    /// device reads if `out`, else one it writes.
    ///
    /// # Safety
    ///
    /// `sg` must point to `n` initialised entries describing memory owned by `token` (see
    /// [`Token`]).
    pub(crate) unsafe fn add(
        &mut self,
        sg: *mut bindings::scatterlist,
        n: u32,
        out: bool,
        token: T,
    ) -> core::result::Result<(), (Error, T)> {
        let raw = token.into_raw();
        let add = if out {
            bindings::virtqueue_add_outbuf
        } else {
            bindings::virtqueue_add_inbuf
        };
        // SAFETY: The queue is valid and we hold its lock; `sg` has `n` initialised entries
        // describing memory `raw` owns (safety requirement). The queue owns `raw` on success.
        let ret = unsafe { add(self.raw(), sg, n, raw.as_ptr(), bindings::GFP_ATOMIC) };
        if ret < 0 {
            // SAFETY: Not queued: we still own `raw`.
            return Err((Error::from_errno(ret), unsafe { T::from_raw(raw) }));
        }
        Ok(())
    }

    /// Adds a buffer made of the scatter-gather lists `sgs`, owned by `token`: the device reads
    /// the first `out` lists and writes the others.
    ///
    /// # Safety
    ///
    /// Each entry of `sgs` must point to an initialised, terminated list describing memory owned
    /// by `token` (see [`Token`]).
    unsafe fn add_sgs(
        &mut self,
        sgs: &mut [*mut bindings::scatterlist],
        out: u32,
        token: T,
    ) -> core::result::Result<(), (Error, T)> {
        // (The C functions `BUG()` on a buffer without a list.)
        let n = match u32::try_from(sgs.len()) {
            Ok(n) if n != 0 && out <= n => n,
            _ => return Err((EINVAL, token)),
        };
        let raw = token.into_raw();
        // SAFETY: The queue is valid and we hold its lock; `sgs` holds `n` lists, `out` of them
        // first, describing memory `raw` owns (safety requirement). The queue owns `raw` on
        // success.
        let ret = unsafe {
            bindings::virtqueue_add_sgs(
                self.raw(),
                sgs.as_mut_ptr(),
                out,
                n - out,
                raw.as_ptr(),
                bindings::GFP_ATOMIC,
            )
        };
        if ret < 0 {
            // SAFETY: Not queued: we still own `raw`.
            return Err((Error::from_errno(ret), unsafe { T::from_raw(raw) }));
        }
        Ok(())
    }
}

/// The memory of a [`Request`].
///
/// # Invariants
///
/// `0 < out <= buf.len()`.
struct RequestBuf {
    /// The bytes the device reads, then those it writes.
    buf: KVec<u8>,
    /// The number of bytes the device reads.
    out: usize,
}

/// A request a driver sends to its device through a queue and the device's answer: bytes the
/// device reads (a command), then bytes it writes (its status), e.g. on virtio-net's control
/// queue. Sent with [`Virtqueue::transact`].
///
/// # Examples
///
/// ```
/// use kernel::virtio::virtqueue::Request;
///
/// // A command of two bytes and room for a one-byte answer, zeroed until the device writes it.
/// let req = Request::new(&[1, 2], 1, GFP_KERNEL)?;
/// assert_eq!(req.answer(), &[0]);
/// # Ok::<(), Error>(())
/// ```
pub struct Request(KBox<RequestBuf>);

impl Request {
    /// A request whose device-readable part is `command` and which leaves `answer` bytes,
    /// zeroed, for the device to write. Fails with `EINVAL` if `command` is empty.
    pub fn new(command: &[u8], answer: usize, flags: Flags) -> Result<Self> {
        if command.is_empty() {
            return Err(EINVAL);
        }
        let len = command.len().checked_add(answer).ok_or(EINVAL)?;
        let mut buf = KVec::with_capacity(len, flags)?;
        buf.extend_from_slice(command, flags)?;
        buf.resize(len, 0, flags)?;
        // INVARIANT: `command` is not empty and `buf` holds it and the answer.
        Ok(Self(KBox::new(
            RequestBuf {
                buf,
                out: command.len(),
            },
            flags,
        )?))
    }

    /// The part the device writes: its answer, once [`Virtqueue::transact`] returned the
    /// request.
    pub fn answer(&self) -> &[u8] {
        &self.0.buf[self.0.out..]
    }
}

// SAFETY: A `Request` owns its box, and the box owns the (kmalloc'ed, so mappable) buffer the
// queue describes; `into_raw` gives up the box without freeing it, and the buffer does not move
// while the box is raw. A box is freed with `kfree()`, valid in every context.
unsafe impl Token for Request {
    fn into_raw(self) -> NonNull<c_void> {
        // A box is never null.
        NonNull::from(KBox::leak(self.0)).cast()
    }

    unsafe fn from_raw(ptr: NonNull<c_void>) -> Self {
        // SAFETY: `ptr` came from `into_raw`, which gave up the box.
        Self(unsafe { KBox::from_raw(ptr.cast::<RequestBuf>().as_ptr()) })
    }
}

impl Guard<'_, Request> {
    /// Queues `req`: the device reads its command and writes its answer. On failure (`ENOSPC`:
    /// the queue is full) `req` is handed back.
    fn add_request(&mut self, mut req: Request) -> core::result::Result<(), (Error, Request)> {
        let out = req.0.out;
        let len = req.0.buf.len();
        let (Ok(out_len), Ok(in_len)) = (u32::try_from(out), u32::try_from(len - out)) else {
            return Err((EINVAL, req));
        };
        let base = req.0.buf.as_mut_ptr();
        let sg = [const { Opaque::<bindings::scatterlist>::uninit() }; 2];
        let mut sgs = [sg[0].get(), sg[1].get()];
        // SAFETY: The command is the first `out` bytes of `buf`, the answer the `len - out`
        // after it, both inside the buffer (`out <= len`, type invariant of `RequestBuf`).
        unsafe {
            bindings::sg_init_one(sgs[0], base.cast(), out_len);
            bindings::sg_init_one(sgs[1], base.add(out).cast(), in_len);
        }
        let lists = if len > out {
            &mut sgs[..]
        } else {
            &mut sgs[..1]
        };
        // SAFETY: The lists describe the request's own buffer, which the request owns.
        unsafe { self.add_sgs(lists, 1, req) }
    }
}

impl Virtqueue<Request> {
    /// Sends `req` to the device and waits, sleeping, until the device has answered it or
    /// `timeout` has passed. Process context.
    ///
    /// Returns the request, with the device's answer, and the number of bytes the device wrote.
    /// Fails with `ETIMEDOUT` if the device did not answer in time: the request then stays
    /// queued (the device may still carry it out), and is dropped when a later call finds its
    /// late answer, or at teardown. Fails with `EIO` if the device is broken.
    ///
    /// The requests of one queue must be sent one at a time (e.g. under a driver's lock): a
    /// concurrent call would take this one's answer off the queue, and this call would time
    /// out.
    pub fn transact(&self, req: Request, timeout: Delta) -> Result<(Request, u32)> {
        might_sleep();
        let tag: *const RequestBuf = &raw const *req.0;
        {
            let mut vq = self.lock().ok_or(EBUSY)?;
            // Late answers to earlier requests that timed out: dropped, so that they do not
            // fill the queue.
            while vq.get_buf().is_some() {}
            vq.add_request(req).map_err(|(e, _)| e)?;
            if vq.kick_prepare() && !vq.notify() {
                return Err(EIO);
            }
        }
        let start = Instant::<Monotonic>::now();
        let mut nap = Delta::from_micros(10);
        loop {
            if let Some(mut vq) = self.lock() {
                while let Some((r, len)) = vq.get_buf() {
                    if core::ptr::eq(&raw const *r.0, tag) {
                        return Ok((r, len));
                    }
                    // The late answer to an earlier request that timed out: dropped.
                }
                // SAFETY: The queue is valid and we hold its lock.
                if unsafe { bindings::virtqueue_is_broken(vq.raw()) } {
                    return Err(EIO);
                }
            }
            if start.elapsed() > timeout {
                return Err(ETIMEDOUT);
            }
            fsleep(nap);
            nap = Delta::from_micros((nap.as_micros_ceil() * 2).min(1000));
        }
    }
}
