// SPDX-License-Identifier: GPL-2.0

//! The control queue: commands to the device, each answered with a status byte.

use crate::{Net, CTRL};
use kernel::{
    bindings,
    net::dev::{Device, MacAddress},
    netdev_warn,
    prelude::*,
    time::Delta,
    virtio::virtqueue::Request,
};

/// How long the device gets to answer a command. (C `virtio_net` waits without a limit; a
/// device that never answers then stalls the CPU under RTNL.)
const TIMEOUT: Delta = Delta::from_millis(1000);

impl Net {
    /// Sends the command `cmd` of class `class`, with `data`, and waits for the device's answer.
    /// Fails with `EOPNOTSUPP` without a control queue, `ETIMEDOUT` if the device does not
    /// answer and `EIO` if it answers with an error. Process context.
    fn command(&self, dev: &Device<Self>, class: u32, cmd: u32, data: &[u8]) -> Result {
        let cvq = dev
            .virtqueues()
            .and_then(|q| q.get::<Request>(CTRL))
            .ok_or(EOPNOTSUPP)?;
        let mut bytes = KVec::with_capacity(2 + data.len(), GFP_KERNEL)?;
        // CAST: classes and commands are one byte on the wire (`struct virtio_net_ctrl_hdr`).
        bytes.extend_from_slice(&[class as u8, cmd as u8], GFP_KERNEL)?;
        bytes.extend_from_slice(data, GFP_KERNEL)?;
        let req = Request::new(&bytes, 1, GFP_KERNEL)?;
        // One command at a time: each waits for its own answer.
        let _one = self.ctrl.lock();
        let (req, len) = cvq.transact(req, TIMEOUT)?;
        if len < 1 || u32::from(req.answer()[0]) != bindings::VIRTIO_NET_OK {
            return Err(EIO);
        }
        Ok(())
    }

    /// Programs the device's MAC address (`VIRTIO_NET_CTRL_MAC_ADDR_SET`), if it takes one;
    /// otherwise the address is only the kernel's (the device receives every frame until told
    /// otherwise), as C `virtio_net` does for a modern device.
    pub(crate) fn set_mac(&self, dev: &Device<Self>, addr: &MacAddress) -> Result {
        if !self.ctrl_mac {
            return Ok(());
        }
        self.command(
            dev,
            bindings::VIRTIO_NET_CTRL_MAC,
            bindings::VIRTIO_NET_CTRL_MAC_ADDR_SET,
            addr.as_bytes(),
        )
        .map_err(|e| {
            netdev_warn!(dev, "failed to set the MAC address: {:?}\n", e);
            // As C `virtio_net` answers (the device refused the address).
            EINVAL
        })
    }
}
