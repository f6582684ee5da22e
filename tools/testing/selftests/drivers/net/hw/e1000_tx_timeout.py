#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Transmit timeout recovery of an e1000-family (8254x) device: its
transmitter is stopped behind the driver's back (TCTL.EN cleared through
BAR 0 in sysfs) while senders fill the ring; the stack's watchdog must
report a timeout on the queue and the driver's reset must bring
transmission back. Skips on any other device.
"""

import mmap
import os
import time

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_ge, ksft_true
from lib.py import ksft_disruptive, KsftSkipEx, KsftFailEx
from lib.py import NetDrvEpEnv
from lib.py import bkg, cmd, defer, ip
from nic_lib import check_bytes, dev_path, link_set, ping, ping_settle, \
    rd, tcp_xfer, wait_carrier

# PCI device IDs of the e1000 driver (not e1000e).
E1000_IDS = {
    0x1000, 0x1001, 0x1004, 0x1008, 0x1009, 0x100c, 0x100d, 0x100e, 0x100f,
    0x1010, 0x1011, 0x1012, 0x1013, 0x1014, 0x1015, 0x1016, 0x1017, 0x1018,
    0x1019, 0x101a, 0x101d, 0x101e, 0x1026, 0x1027, 0x1028, 0x1075, 0x1076,
    0x1077, 0x1078, 0x1079, 0x107a, 0x107b, 0x107c, 0x108a, 0x1099, 0x10b5,
    0x2e6e,
}
TCTL, TCTL_EN = 0x0400, 1 << 1
TDH, TDT = 0x3810, 0x3818


class Bar0:
    """32-bit registers of a PCI device's BAR 0, through sysfs resource0."""

    def __init__(self, dev):
        path = f"{dev}/resource0"
        fd = os.open(path, os.O_RDWR | os.O_SYNC)
        try:
            self.map = mmap.mmap(fd, os.path.getsize(path), mmap.MAP_SHARED,
                                 mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        # 32-bit loads and stores, as the device requires.
        self.regs = memoryview(self.map).cast("I")

    def __getitem__(self, off):
        return self.regs[off // 4]

    def __setitem__(self, off, val):
        self.regs[off // 4] = val

    def close(self):
        """Unmap."""
        self.regs.release()
        self.map.close()


def _queue_timeouts(cfg):
    qdir = f"/sys/class/net/{cfg.ifname}/queues"
    return sum(int(rd(f"{qdir}/{q}/tx_timeout")) for q in os.listdir(qdir)
               if q.startswith("tx-"))


def _driver_timeouts(cfg):
    out = cmd(f"ethtool -S {cfg.ifname}", fail=False).stdout
    for line in out.splitlines():
        name, _, val = line.strip().partition(":")
        if name == "tx_timeout_count":
            return int(val)
    return None


def _reopen_if_stopped(cfg, regs0):
    """If the driver did not recover, open reprograms the transmitter."""
    if not regs0[TCTL] & TCTL_EN:
        ksft_pr("transmitter still stopped: reopening the device")
        link_set(cfg, "down")
        link_set(cfg, "up")
        wait_carrier(cfg)


@ksft_disruptive
def tx_timeout(cfg) -> None:
    """Stop the transmitter; the watchdog fires, the reset recovers."""
    cfg.require_ipver("4")
    dev = dev_path(cfg.ifname)
    ids = None
    if dev and os.path.exists(f"{dev}/vendor"):
        ids = (int(rd(f"{dev}/vendor"), 16), int(rd(f"{dev}/device"), 16))
    if not ids or ids[0] != 0x8086 or ids[1] not in E1000_IDS:
        raise KsftSkipEx(f"not an e1000-family device (PCI ids {ids})")
    try:
        regs0 = Bar0(dev)
    except OSError as e:
        raise KsftSkipEx(f"cannot map BAR 0: {e}") from e
    defer(regs0.close)

    q0, t0 = _queue_timeouts(cfg), _driver_timeouts(cfg)
    # A permanent neighbour, so that packets keep coming while nothing
    # answers.
    mac = rd(f"/sys/class/net/{cfg.remote_ifname}/address", cfg.remote)
    remote = cfg.remote_addr_v["4"]
    ip(f"neigh replace {remote} lladdr {mac} dev {cfg.ifname} nud permanent")
    defer(cmd, f"ip neigh del {remote} dev {cfg.ifname}", fail=False)
    defer(_reopen_if_stopped, cfg, regs0)
    regs0[TCTL] &= ~TCTL_EN
    # Senders with large socket buffers fill the ring whatever BQL allows.
    senders = [bkg(f"ping -q -S 1000000 -s 1000 -i 0.005 -w 40 {remote}")
               for _ in range(4)]
    fired = False
    end = time.monotonic() + 30
    while time.monotonic() < end and not fired:
        time.sleep(0.1)
        fired = _queue_timeouts(cfg) > q0
    for s in senders:
        s.process(terminate=True, fail=False)
    ksft_pr(f"TDH {regs0[TDH]:#x} TDT {regs0[TDT]:#x} "
            f"TCTL {regs0[TCTL]:#010x}, "
            f"queue timeouts {q0} -> {_queue_timeouts(cfg)}")
    if not fired:
        raise KsftFailEx("no transmit timeout within 30 s")
    cmd(f"ip neigh del {remote} dev {cfg.ifname}", fail=False)
    # The reset runs from a work item: give it time, then it must work.
    ping_settle(cfg, "4", deadline=30)
    ksft_true(regs0[TCTL] & TCTL_EN, "transmitter not re-enabled")
    ping(cfg, "4")
    t1 = _driver_timeouts(cfg)
    ksft_pr(f"tx_timeout_count {t0} -> {t1}")
    if t0 is not None:
        ksft_ge(t1, t0 + 1, "the driver counted no timeout")
    tcp_xfer(cfg, "tx", "4", check_bytes(cfg))


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run([tx_timeout], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
