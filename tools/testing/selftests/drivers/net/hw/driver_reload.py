#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Driver module unload and reload under traffic: RMMOD_CYCLES (default 20)
times, an iperf3 transfer from the device runs until at least 1 MB went
out, then the driver's module is removed in the middle of it, loaded
again, and the device (found again by its bus device) gets back its
addresses, MTU and IPv6 settings. Strict pings and checked transfers
follow. Skips for a device without a bus device, a built-in driver, or
a module that drives other devices too (the remote's, for one).
"""

import os
import time

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_disruptive
from lib.py import KsftSkipEx, KsftFailEx
from lib.py import NetDrvEpEnv
from lib.py import bkg, cmd, defer, ethtool, ip, rand_port, wait_port_listen
from nic_lib import dev_driver, env_int, link_set, rd, wait_carrier, wr, \
    xfer_check

IPV6_CONF = ("keep_addr_on_down", "accept_dad")


def _driver(cfg):
    """(module, bus device path) of the device, or skip."""
    dev, name, module = dev_driver(cfg.ifname)
    if not dev:
        raise KsftSkipEx(f"{cfg.ifname} has no bus device")
    info = ethtool(f"-i {cfg.ifname}").stdout
    ksft_pr(f"{cfg.ifname}: bus device {dev}, driver {name}, "
            f"ethtool -i: {info.splitlines()[0]}")
    if not module:
        raise KsftSkipEx(f"driver {name} is built in")
    drv = os.path.realpath(f"{dev}/driver")
    others = [d for d in os.listdir(drv) if d != "module" and
              os.path.islink(f"{drv}/{d}") and
              os.path.realpath(f"{drv}/{d}") != dev]
    if others:
        raise KsftSkipEx(f"{module} also drives {', '.join(others)}")
    if os.listdir(f"/sys/module/{module}/holders"):
        raise KsftSkipEx(f"{module} is used by other modules")
    return module, dev


def _save(cfg):
    """What the device must get back after a reload."""
    link = ip(f"addr show dev {cfg.ifname}", json=True)[0]
    addrs = [f"{a['local']}/{a['prefixlen']}" +
             (" nodad" if a["family"] == "inet6" else "")
             for a in link.get("addr_info", [])
             if a.get("scope") == "global" and not a.get("dynamic")]
    conf = {}
    for key in IPV6_CONF:
        path = f"/proc/sys/net/ipv6/conf/{cfg.ifname}/{key}"
        if os.path.exists(path):
            conf[key] = rd(path)
    return {"mtu": link["mtu"], "addrs": addrs, "conf": conf,
            "up": "UP" in link["flags"]}


def _find(cfg, dev, deadline=30):
    """Wait for the netdev of bus device dev; point cfg at it."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if os.path.isdir(f"{dev}/net"):
            names = os.listdir(f"{dev}/net")
            if names:
                cfg.dev = ip(f"-d link show dev {names[0]}", json=True)[0]
                cfg.ifname = cfg.dev["ifname"]
                cfg.ifindex = cfg.dev["ifindex"]
                return
        time.sleep(0.1)
    raise KsftFailEx(f"no netdev on {dev} after {deadline} s")


def _bring_up(cfg, dev, saved):
    """Give the (new) netdev of dev what it had, bring it up."""
    _find(cfg, dev)
    for key, val in saved["conf"].items():
        wr(f"/proc/sys/net/ipv6/conf/{cfg.ifname}/{key}", val)
    link_set(cfg, f"mtu {saved['mtu']}")
    for a in saved["addrs"]:
        ip(f"addr replace {a} dev {cfg.ifname}")
    if saved["up"]:
        link_set(cfg, "up")
    if saved["up"]:
        wait_carrier(cfg, deadline=60)


def _restore(cfg, module, dev, saved):
    if not os.path.exists(f"/sys/module/{module}"):
        cmd(f"modprobe {module}", timeout=120)
    _bring_up(cfg, dev, saved)


def _wait_tx(cfg, nbytes, deadline=60):
    path = f"/sys/class/net/{cfg.ifname}/statistics/tx_bytes"
    start = int(rd(path))
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if int(rd(path)) - start >= nbytes:
            return True
        time.sleep(0.05)
    return False


@ksft_disruptive
def rmmod_traffic(cfg) -> None:
    """RMMOD_CYCLES module removals in the middle of a transfer."""
    cfg.require_cmd("iperf3", local=True, remote=True)
    module, dev = _driver(cfg)
    saved = _save(cfg)
    ksft_pr(f"restoring after each reload: {saved}")
    defer(_restore, cfg, module, dev, saved)
    cycles = env_int(cfg, "RMMOD_CYCLES", 20)
    t0 = time.monotonic()
    for i in range(1, cycles + 1):
        port = rand_port()
        # A server per cycle: one whose client vanished with the device
        # ends on its receive timeout.
        srv = bkg(f"iperf3 -s -1 -p {port} -B {cfg.remote_addr} "
                  "--rcv-timeout 30000", host=cfg.remote)
        cli = None
        flowed = False
        try:
            wait_port_listen(port, host=cfg.remote, deadline=30)
            cli = bkg(f"iperf3 -c {cfg.remote_addr} -p {port} -t 600 "
                      "--connect-timeout 10000")
            flowed = _wait_tx(cfg, 1000000)
            if flowed:
                cmd(f"rmmod {module}", timeout=120)
        finally:
            if cli:
                cli.process(terminate=True, fail=False)
            srv.process(terminate=True, fail=False)
        if not flowed:
            raise KsftFailEx(f"cycle {i}: no traffic\n{cli}\n{srv}")
        cmd(f"modprobe {module}", timeout=120)
        _bring_up(cfg, dev, saved)
        if i % 10 == 0 or i == cycles:
            ksft_pr(f"{i} cycles in {time.monotonic() - t0:.0f} s")
    xfer_check(cfg)


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run([rmmod_traffic], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
