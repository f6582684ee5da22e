# SPDX-License-Identifier: GPL-2.0
"""
Helpers shared by the NIC traffic tests: strict pings, link and MTU
handling that restores what it changes, SHA-256-checked TCP transfers
(through nic_helper.py on both ends) and background iperf3 traffic whose
flow is measured on the device.

Tunables (environment or net.config):
  XFER_MB      size of the checked transfers, MiB (default 64)
  XFER_BIG_MB  size of the big transfers, MiB (default 1024)
  XFER_CHECK_MB  size of the transfers that check that a device still
               works after a disruptive test, MiB (default 16, at most
               XFER_MB)
  XFER_TIMEOUT seconds one transfer may take (default 600)
  CMD_TIMEOUT  seconds a link change (ip link set) may take (default 20,
               lib.py's; more on a slow kernel, e.g. KASAN and lockdep under
               emulation, where it takes longer under traffic)
"""

import os
import re
import time

from lib.py import ksft_pr, ksft_eq, ksft_ge, KsftFailEx, KsftSkipEx
from lib.py import Iperf3Runner, bkg, cmd, defer, ip, rand_port

MIB = 1 << 20


def env_int(cfg, name, default):
    """An integer knob from the environment or net.config."""
    return int(cfg.env.get(name, default))


def rd(path, host=None):
    """The stripped contents of a (sysfs) file, on either end."""
    if host:
        return cmd(f"cat {path}", host=host).stdout.strip()
    with open(path, encoding="utf-8") as fp:
        return fp.read().strip()


def wr(path, val):
    """Write a (sysfs, procfs, debugfs) file on the local end."""
    with open(path, "w", encoding="utf-8") as fp:
        fp.write(str(val))


def _ifname(cfg, remote):
    return cfg.remote_ifname if remote else cfg.ifname


def wait_carrier(cfg, remote=False, deadline=30):
    """Wait until the device (or the remote's) has carrier; fail if not."""
    path = f"/sys/class/net/{_ifname(cfg, remote)}/carrier"
    host = cfg.remote if remote else None
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if rd(path, host) == "1":
                return
        except Exception:  # pylint: disable=broad-except
            pass  # carrier of a down device reads as EINVAL
        time.sleep(0.1)
    raise KsftFailEx(f"no carrier on {_ifname(cfg, remote)} "
                     f"after {deadline} s")


def link_stats(cfg, remote=False):
    """stats64 of the device (ip -s -s link), on either end."""
    host = cfg.remote if remote else None
    return ip(f"-s -s link show dev {_ifname(cfg, remote)}", json=True,
              host=host)[0]["stats64"]


_PING_RE = re.compile(r"(\d+) packets transmitted, (\d+) received"
                      r"(?:, \+(\d+) duplicates)?")


def _ping_cmd(cfg, ipver, remote, args):
    dst = cfg.addr_v[ipver] if remote else cfg.remote_addr_v[ipver]
    return cmd(f"ping -{ipver} {args} {dst}", fail=False,
               host=cfg.remote if remote else None, timeout=300)


def ping(cfg, ipver="4", count=5, size=None, dont_frag=False, remote=False,
         flood=False):
    """
    Ping the other end (from the remote with remote=True); fail on a
    single lost or duplicated reply.
    """
    cfg.require_ipver(ipver)
    args = f"-c {count} -W 2"
    args += " -q -f" if flood else " -i 0.2"
    if size is not None:
        args += f" -s {size}"
    if dont_frag:
        args += " -M do"
    res = _ping_cmd(cfg, ipver, remote, args)
    m = _PING_RE.search(res.stdout)
    if not m:
        raise KsftFailEx(f"ping printed no statistics\n{res}")
    sent, got, dups = int(m[1]), int(m[2]), int(m[3] or 0)
    ksft_eq(sent, count, f"ping sent {sent} of {count}")
    ksft_eq(got, count, f"ping lost {sent - got} of {sent} replies")
    ksft_eq(dups, 0, f"ping got {dups} duplicated replies")
    ksft_eq(res.ret, 0, "ping failed")


def ping_settle(cfg, ipver="4", remote=False, deadline=20):
    """
    Wait for one ping reply after a link event (the neighbours and IPv6
    groups come back in their own time); fail if none within deadline.
    Not a check: ping() after it is.
    """
    if not cfg.addr_v[ipver] or not cfg.remote_addr_v[ipver]:
        return
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if _ping_cmd(cfg, ipver, remote, "-c 1 -W 1").ret == 0:
            return
    raise KsftFailEx(f"no IPv{ipver} ping reply within {deadline} s")


def check_link(cfg):
    """After a disruptive test: carrier on both ends, strict pings both
    ways over every IP version configured."""
    wait_carrier(cfg)
    wait_carrier(cfg, remote=True)
    for ipver in ("4", "6"):
        if not cfg.addr_v[ipver] or not cfg.remote_addr_v[ipver]:
            continue
        ping_settle(cfg, ipver)
        ping(cfg, ipver)
        ping(cfg, ipver, remote=True)


def max_mtu(cfg, remote=False):
    """The device's max MTU (65535 if it reports none)."""
    dev = ip(f"-d link show dev {_ifname(cfg, remote)}", json=True,
             host=cfg.remote if remote else None)[0]
    return dev.get("max_mtu", 65535)


def get_mtu(cfg, remote=False):
    """The device's (or the remote's) current MTU."""
    return int(rd(f"/sys/class/net/{_ifname(cfg, remote)}/mtu",
                  cfg.remote if remote else None))


def cmd_timeout(cfg):
    """Seconds a link change may take (CMD_TIMEOUT)."""
    return env_int(cfg, "CMD_TIMEOUT", 20)


def link_set(cfg, args, remote=False):
    """ip link set dev IFNAME ARGS on the device (or the remote), allowed
    CMD_TIMEOUT seconds."""
    cmd(f"ip link set dev {_ifname(cfg, remote)} {args}",
        host=cfg.remote if remote else None, timeout=cmd_timeout(cfg))


def _set_mtu(cfg, mtu, remote):
    link_set(cfg, f"mtu {mtu}", remote)


def restore_mtu(cfg, mtu, remote=False):
    """Set the MTU back (if it changed) and wait for carrier."""
    if get_mtu(cfg, remote) != mtu:
        _set_mtu(cfg, mtu, remote)
        wait_carrier(cfg, remote)


def save_mtu(cfg, remote=True):
    """Restore the current MTU of the device (and the remote's) at the end
    of the test."""
    for end in [False, True] if remote else [False]:
        defer(restore_mtu, cfg, get_mtu(cfg, end), end)


def set_mtu(cfg, mtu, remote=True, save=True):
    """
    Set the MTU of the device (and of the remote's, unless remote=False);
    with save, the previous MTUs come back at the end of the test. Skips
    if a device cannot take the MTU.
    """
    ends = [False, True] if remote else [False]
    for end in ends:
        if max_mtu(cfg, end) < mtu:
            raise KsftSkipEx(f"{_ifname(cfg, end)} max MTU "
                             f"{max_mtu(cfg, end)} < {mtu}")
    for end in ends:
        old = get_mtu(cfg, end)
        if old == mtu:
            continue
        _set_mtu(cfg, mtu, end)
        if save:
            defer(restore_mtu, cfg, old, end)
    for end in ends:
        wait_carrier(cfg, end)


def keep_addr_on_down(cfg):
    """Keep the device's IPv6 addresses across down/up for the test."""
    path = f"/proc/sys/net/ipv6/conf/{cfg.ifname}/keep_addr_on_down"
    if not os.path.exists(path):
        return
    old = rd(path)
    if old != "1":
        wr(path, 1)
        defer(wr, path, old)


def helper_path(cfg, remote):
    """Path of nic_helper.py on the local end or on the remote."""
    if not hasattr(cfg, "nic_helper"):
        local = (cfg.test_dir / "nic_helper.py").as_posix()
        cfg.nic_helper = (local, cfg.remote.deploy(local))
    return cfg.nic_helper[1 if remote else 0]


def tcp_xfer(cfg, direction, ipver, nbytes, check=True):
    """
    Send nbytes of random data over TCP, local to remote ("tx") or remote
    to local ("rx"), and compare what was sent and received: length and
    SHA-256, each computed on its own end. Returns both.
    """
    cfg.require_ipver(ipver)
    cfg.require_cmd("python3", local=True, remote=True)
    tmo = env_int(cfg, "XFER_TIMEOUT", 600)
    blob = env_int(cfg, "XFER_MB", 64)
    rx_remote = direction == "tx"
    rx_host = cfg.remote if rx_remote else None
    tx_host = None if rx_remote else cfg.remote
    dst = cfg.remote_addr_v[ipver] if rx_remote else cfg.addr_v[ipver]
    port = rand_port()

    t0 = time.monotonic()
    # Both ends start at once: the sender retries its connect until the
    # receiver listens (a Python start-up each, seconds under emulation).
    with bkg(f"python3 {helper_path(cfg, rx_remote)} recv {dst} {port} {tmo}",
             host=rx_host, exit_wait=True) as rcv:
        snd = cmd(f"python3 {helper_path(cfg, not rx_remote)} send {dst} "
                  f"{port} {nbytes} {blob}", host=tx_host, timeout=tmo)
    secs = time.monotonic() - t0
    sent = snd.stdout.split()
    got = rcv.stdout.split()
    ksft_pr(f"{direction} IPv{ipver}: {nbytes} B in {secs:.1f} s "
            f"({nbytes * 8 / secs / 1e6:.0f} Mbit/s); sent {' '.join(sent)}; "
            f"received {' '.join(got)}")
    if check:
        ksft_eq(len(sent), 2, "sender printed no length and SHA-256")
        ksft_eq(int(sent[0]), nbytes, "sender sent the wrong length")
        ksft_eq(got, sent, "received stream differs from the sent one")
    return sent, got


def check_bytes(cfg):
    """Size of a transfer that checks a device after a disruptive test."""
    return min(env_int(cfg, "XFER_CHECK_MB", 16),
               env_int(cfg, "XFER_MB", 64)) * MIB


def xfer_check(cfg, directions=("tx", "rx")):
    """
    After a disruptive test: carrier and strict pings (check_link), then
    a checked transfer of XFER_CHECK_MB each way, over IPv4 if configured.
    """
    check_link(cfg)
    ipver = "4" if cfg.addr_v["4"] and cfg.remote_addr_v["4"] else "6"
    for direction in directions:
        tcp_xfer(cfg, direction, ipver, check_bytes(cfg))


class Traffic:
    """
    Background iperf3 traffic between the ends: the remote sends to the
    device ("rx", the default) or the device to the remote ("tx").
    Progress is measured on the device's own byte counters.
    """

    def __init__(self, cfg, direction="rx", streams=4):
        self.cfg = cfg
        self.key = direction
        self.runner = Iperf3Runner(cfg, port=rand_port())
        self.srv = self.runner.start_server()
        self.cli = self.runner.start_client(background=True, streams=streams,
                                            duration=3600,
                                            reverse=direction == "tx")
        self.stopped = False
        defer(self.stop)
        self.start = self.counter()
        self.mark = self.start
        if not self.wait(MIB):
            raise KsftFailEx(f"iperf3 {direction} traffic did not start")

    def counter(self):
        """Bytes the device has moved in the traffic's direction."""
        return int(rd(f"/sys/class/net/{self.cfg.ifname}/statistics/"
                      f"{self.key}_bytes"))

    def wait(self, nbytes, deadline=60):
        """Wait until nbytes more flowed since the last wait; True if so."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            now = self.counter()
            if now - self.mark >= nbytes:
                self.mark = now
                return True
            time.sleep(0.05)
        return False

    def check_flowing(self, what="", nbytes=MIB):
        """Fail unless nbytes more flow now (after a reconfiguration)."""
        if not self.wait(nbytes):
            self.stop(verbose=True)
            raise KsftFailEx(f"{self.key} traffic stopped {what}".strip())

    def stop(self, verbose=False):
        """Stop iperf3 (again: no-op); report what flowed."""
        if self.stopped:
            return
        self.stopped = True
        self.cli.process(terminate=True, fail=False)
        self.srv.process(terminate=True, fail=False)
        flowed = self.counter() - self.start
        ksft_pr(f"{self.key} traffic: {flowed} B through {self.cfg.ifname}")
        if verbose:
            ksft_pr(self.cli.stdout[-2000:], self.cli.stderr[-2000:])
            ksft_pr(self.srv.stdout[-2000:], self.srv.stderr[-2000:])
        ksft_ge(flowed, MIB, "no traffic flowed")


def dev_path(ifname):
    """The realpath of a netdev's bus device, None if it has none."""
    link = f"/sys/class/net/{ifname}/device"
    return os.path.realpath(link) if os.path.exists(link) else None


def dev_driver(ifname):
    """(bus device path, driver, module) of a netdev: None where it has
    no bus device, no driver bound, or a built-in driver."""
    dev = dev_path(ifname)
    if not dev or not os.path.exists(f"{dev}/driver"):
        return dev, None, None
    drv = os.path.realpath(f"{dev}/driver")
    mod = None
    if os.path.exists(f"{drv}/module"):
        mod = os.path.basename(os.path.realpath(f"{drv}/module"))
    return dev, os.path.basename(drv), mod
