#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Reconfiguration of the device, mostly under iperf3 traffic in both
directions: MTU changes (valid and invalid), link flaps, ring resizes
(ethtool -G) and channel count changes (ethtool -L). The traffic must
keep flowing, every change is undone at the end, and the device must
pass strict pings and SHA-256-checked transfers afterwards.

Tunables: FLAP_CYCLES (default 20), RESIZE_CYCLES (default 20).
"""

import errno
import itertools
import time

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_disruptive
from lib.py import ksft_eq, ksft_ne, ksft_ge, KsftSkipEx
from lib.py import NetDrvEpEnv, EthtoolFamily, NlError
from lib.py import cmd, defer, ip
from nic_lib import Traffic, check_link, env_int, get_mtu, keep_addr_on_down, \
    link_set, max_mtu, ping, ping_settle, rd, save_mtu, set_mtu, \
    wait_carrier, xfer_check


def _operstate(cfg):
    return rd(f"/sys/class/net/{cfg.ifname}/operstate")


def _jumbo_mtus(cfg):
    top = min(9000, max_mtu(cfg), max_mtu(cfg, remote=True))
    if top <= 1500:
        raise KsftSkipEx(f"max MTU {top}: no MTU above 1500 on both ends")
    return top


@ksft_disruptive
def mtu_change(cfg) -> None:
    """MTU up and down on both ends; full-size unfragmented pings at each."""
    top = _jumbo_mtus(cfg)
    save_mtu(cfg)
    for mtu in dict.fromkeys((top, 1280, min(4000, top), 1500)):
        set_mtu(cfg, mtu, save=False)
        ksft_eq(get_mtu(cfg), mtu)
        for ipver, hdrs in (("4", 28), ("6", 48)):
            if not cfg.addr_v[ipver] or not cfg.remote_addr_v[ipver]:
                continue
            ping_settle(cfg, ipver)
            ping(cfg, ipver, count=3, size=mtu - hdrs, dont_frag=True)
            ping(cfg, ipver, count=3, size=mtu - hdrs, dont_frag=True,
                 remote=True)
    xfer_check(cfg)


def mtu_invalid(cfg) -> None:
    """MTUs out of the device's range are rejected and change nothing."""
    dev = ip(f"-d link show dev {cfg.ifname}", json=True)[0]
    lo, hi = dev.get("min_mtu", 0), dev.get("max_mtu", 0)
    bad = []
    if lo > 0:
        bad += [0, lo - 1]
    if 0 < hi < 0x7fffffff:
        bad += [hi + 1]
    if not bad:
        raise KsftSkipEx(f"MTU range {lo}..{hi} leaves no invalid MTU")
    old = get_mtu(cfg)
    save_mtu(cfg, remote=False)
    for mtu in dict.fromkeys(bad):
        res = cmd(f"ip link set dev {cfg.ifname} mtu {mtu}", fail=False)
        ksft_ne(res.ret, 0, f"MTU {mtu} accepted (range {lo}..{hi})")
        ksft_eq(get_mtu(cfg), old, f"MTU changed by invalid MTU {mtu}")
    ksft_eq(_operstate(cfg), "up")
    check_link(cfg)


@ksft_disruptive
def mtu_traffic(cfg) -> None:
    """MTU changes of the device under traffic each way."""
    top = _jumbo_mtus(cfg)
    mtus = list(dict.fromkeys((1500, top, 1280, min(4000, top))))
    save_mtu(cfg)
    # The remote takes the largest frames while the device sends, and
    # sends the smallest while the device receives (a device drops frames
    # over its MTU, and TCP keeps the MSS of its handshake).
    for direction, rmtu in (("tx", top), ("rx", min(mtus))):
        link_set(cfg, f"mtu {rmtu}", remote=True)
        wait_carrier(cfg, remote=True)
        wait_carrier(cfg)
        traffic = Traffic(cfg, direction)
        for mtu in mtus:
            link_set(cfg, f"mtu {mtu}")
            wait_carrier(cfg)
            traffic.check_flowing(f"after MTU {mtu}")
        traffic.stop()
    xfer_check(cfg)


@ksft_disruptive
def link_flap(cfg) -> None:
    """Three down/up cycles: operstate follows, carrier comes back."""
    keep_addr_on_down(cfg)
    defer(link_set, cfg, "up")
    for i in range(3):
        link_set(cfg, "down")
        ksft_eq(_operstate(cfg), "down", f"still up after down #{i}")
        link_set(cfg, "up")
        wait_carrier(cfg)
    check_link(cfg)


@ksft_disruptive
def flap_traffic(cfg) -> None:
    """FLAP_CYCLES down/up cycles under traffic, half each way."""
    cycles = env_int(cfg, "FLAP_CYCLES", 20)
    keep_addr_on_down(cfg)
    defer(link_set, cfg, "up")
    for direction, n in (("tx", (cycles + 1) // 2), ("rx", cycles // 2)):
        traffic = Traffic(cfg, direction)
        for _ in range(n):
            link_set(cfg, "down")
            link_set(cfg, "up")
            wait_carrier(cfg)
            time.sleep(0.2)
        traffic.check_flowing(f"after {n} link flaps")
        traffic.stop()
    xfer_check(cfg)


def _ethnl_get(fn, ehdr, what):
    try:
        return fn(ehdr)
    except NlError as e:
        if e.error == errno.EOPNOTSUPP:
            raise KsftSkipEx(f"device does not report {what}") from e
        raise


def _set_checked(cfg, setter, getter, ehdr, want, what, first):
    """Apply one config; True if taken (then it must read back as set)."""
    try:
        setter(ehdr | want)
    except NlError as e:
        if first and e.error == errno.EOPNOTSUPP:
            raise KsftSkipEx(f"device cannot change {what}") from e
        ksft_pr(f"{what} {want} rejected: {e}")
        return False
    got = getter(ehdr)
    for key, val in want.items():
        ksft_eq(got.get(key), val, f"{what} {key} reads back wrong")
    wait_carrier(cfg)
    return True


def _reconfig_traffic(cfg, setter, getter, ehdr, configs, what):
    """Apply configs under traffic, first half tx, second half rx."""
    taken = 0
    half = (len(configs) + 1) // 2
    for direction, part in (("tx", configs[:half]), ("rx", configs[half:])):
        traffic = Traffic(cfg, direction)
        for want in part:
            if _set_checked(cfg, setter, getter, ehdr, want, what,
                            first=not taken):
                taken += 1
                traffic.check_flowing(f"after {what} {want}")
        traffic.stop()
    ksft_ge(taken, 1, f"no {what} change was taken")
    ksft_pr(f"{taken} of {len(configs)} {what} changes taken under traffic")


def _probe_set(setter, current, what):
    """Set the current values again: skip if the device cannot change them
    (before a restore is deferred, which would fail the same way)."""
    try:
        setter(current)
    except NlError as e:
        if e.error == errno.EOPNOTSUPP:
            raise KsftSkipEx(f"device cannot change {what}") from e
        raise


@ksft_disruptive
def ring_traffic(cfg) -> None:
    """RESIZE_CYCLES ring resizes (ethtool -G) under traffic."""
    ehdr = {"header": {"dev-index": cfg.ifindex}}
    rings = _ethnl_get(cfg.eth.rings_get, ehdr, "ring sizes")
    keys = [k for k in ("rx", "tx") if rings.get(k) and rings.get(k + "-max")]
    if not keys:
        raise KsftSkipEx("device reports no rx/tx ring sizes")
    _probe_set(cfg.eth.rings_set, ehdr | {k: rings[k] for k in keys}, "rings")
    defer(cfg.eth.rings_set, ehdr | {k: rings[k] for k in keys})
    sizes = {}
    for k in keys:
        top = rings[k + "-max"]
        pow2 = [1 << i for i in range(7, 17) if 1 << i < top]
        # Large and small in turn.
        sizes[k] = list(dict.fromkeys(
            itertools.chain(*itertools.zip_longest(reversed(pow2), pow2),
                            (top, rings[k]))))
        sizes[k] = [s for s in sizes[k] if s]
    n = env_int(cfg, "RESIZE_CYCLES", 20)
    configs = [{k: sizes[k][(i + 3 * j) % len(sizes[k])]
                for j, k in enumerate(keys)} for i in range(n)]
    _reconfig_traffic(cfg, cfg.eth.rings_set, cfg.eth.rings_get, ehdr,
                      configs, "rings")
    xfer_check(cfg)


@ksft_disruptive
def channel_traffic(cfg) -> None:
    """Channel count changes (ethtool -L) under traffic."""
    ehdr = {"header": {"dev-index": cfg.ifindex}}
    ch = _ethnl_get(cfg.eth.channels_get, ehdr, "channels")
    maxes = {k: ch.get(k + "-max", 0) for k in ("combined", "rx", "tx")}
    if max(maxes.values()) <= 1:
        raise KsftSkipEx(f"single fixed channel (max {maxes})")
    now = ehdr | {k + "-count": ch[k + "-count"] for k in maxes if maxes[k]}
    _probe_set(cfg.eth.channels_set, now, "channels")
    defer(cfg.eth.channels_set, now)

    def counts(top):
        return [c for c in dict.fromkeys((1, top, 2, (top + 1) // 2, top - 1))
                if 1 <= c <= top]

    if maxes["combined"] > 1:
        configs = [{"combined-count": c} for c in counts(maxes["combined"])]
    else:
        configs = [{"rx-count": r, "tx-count": t} for r, t in
                   itertools.product(counts(maxes["rx"]), counts(maxes["tx"]))]
    configs = (configs * 2)[:max(4, len(configs))]
    _reconfig_traffic(cfg, cfg.eth.channels_set, cfg.eth.channels_get, ehdr,
                      configs, "channels")
    xfer_check(cfg)


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        cfg.eth = EthtoolFamily()
        ksft_run([mtu_change, mtu_invalid, mtu_traffic, link_flap,
                  flap_traffic, ring_traffic, channel_traffic], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
