#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Packet and byte counters against known traffic: a flood of COUNT_PINGS
(default 2000) echoes, none lost or duplicated, must move each counter
of the device by at least what was sent and by no more than that plus a
little background traffic. Three sources, one case each: the core's
(ip -s link, both ends), the driver's ethtool -S and the netdev netlink
queue stats (qstats). The driver's software counters must also agree
with the core's, read back to back.
"""

import errno
import re

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_ge, ksft_true
from lib.py import KsftSkipEx, KsftFailEx
from lib.py import NetDrvEpEnv, NetdevFamily, NlError
from lib.py import ethtool
from nic_lib import env_int, link_stats, ping

# An echo (request or reply) of ping's default 56 bytes of data, in an
# Ethernet frame without FCS, and with it (hardware counters).
FRAME_MIN, FRAME_MAX = 14 + 20 + 8 + 56, 14 + 20 + 8 + 56 + 4
# Other packets that may pass meanwhile (neighbour, MLD, ...).
SLACK_PKTS = 50
SLACK_BYTES = SLACK_PKTS * 1518


def _bounds(cfg):
    n = env_int(cfg, "COUNT_PINGS", 2000)
    return {"packets": (n, n + SLACK_PKTS),
            "bytes": (n * FRAME_MIN, n * FRAME_MAX + SLACK_BYTES)}


def _check(name, delta, kind, bounds):
    lo, hi = bounds[kind]
    ksft_pr(f"{name}: +{delta} (want {lo}..{hi})")
    ksft_ge(delta, lo, f"{name} moved less than the traffic sent")
    ksft_ge(hi, delta, f"{name} moved more than the traffic sent")


def _flood(cfg):
    ping(cfg, "4", count=env_int(cfg, "COUNT_PINGS", 2000), flood=True)


def _core(cfg, remote=False):
    st = link_stats(cfg, remote)
    return {f"{d}_{k}": st[d][k] for d in ("rx", "tx")
            for k in ("packets", "bytes")}


def link(cfg) -> None:
    """ip -s link of the device and of the remote's."""
    cfg.require_ipver("4")
    bounds = _bounds(cfg)
    before = [_core(cfg), _core(cfg, remote=True)]
    _flood(cfg)
    after = [_core(cfg), _core(cfg, remote=True)]
    for end, b, a in zip((cfg.ifname, f"remote {cfg.remote_ifname}"),
                         before, after):
        for key in b:
            _check(f"{end} {key}", a[key] - b[key], key.split("_")[1],
                   bounds)


_TOTAL_RE = re.compile(r"^(rx|tx)_(packets|bytes)$")
_QUEUE_RE = re.compile(r"^(rx|tx)[_-]?(?:queue_)?(\d+)[_.](packets|bytes)$")


def _ethtool_s(cfg):
    """{name: value} of ethtool -S."""
    res = ethtool(f"-S {cfg.ifname}")
    stats = {}
    for line in res.stdout.splitlines():
        m = re.match(r"^\s*(\S.*?):\s*(-?\d+)\s*$", line)
        if m:
            stats[m[1]] = int(m[2])
    return stats


def _ethtool_groups(stats):
    """Totals and per-queue sums of the packet and byte counters."""
    groups = {}
    for name, val in stats.items():
        m = _TOTAL_RE.match(name)
        if m:
            groups[name] = val
            continue
        m = _QUEUE_RE.match(name)
        if m:
            key = f"{m[1]}_queues_{m[3]}"
            groups[key] = groups.get(key, 0) + val
    return groups


def ethtool_stats(cfg) -> None:
    """ethtool -S packet and byte counters, totals and per-queue sums."""
    cfg.require_ipver("4")
    try:
        before = _ethtool_s(cfg)
    except Exception as e:
        raise KsftSkipEx("ethtool -S not supported") from e
    groups0 = _ethtool_groups(before)
    if not groups0:
        raise KsftSkipEx("ethtool -S has no packet or byte counters")
    bounds = _bounds(cfg)
    _flood(cfg)
    # The driver's per-queue sums against the core's, back to back: each
    # must lie between two readings of the core's (which only grow).
    core0 = _core(cfg)
    after = _ethtool_s(cfg)
    core1 = _core(cfg)
    ksft_true(after != before, "no ethtool -S counter moved")
    groups1 = _ethtool_groups(after)
    for key, val in groups1.items():
        direction, kind = key.split("_")[0], key.split("_")[-1]
        _check(f"ethtool -S {key}", val - groups0.get(key, 0), kind, bounds)
        if "_queues_" in key:
            core = f"{direction}_{kind}"
            ksft_ge(val, core0[core], f"{key} below the core's {core}")
            ksft_ge(core1[core], val, f"{key} above the core's {core}")


def qstats(cfg) -> None:
    """Netdev netlink qstats of the device."""
    cfg.require_ipver("4")
    netnl = NetdevFamily()

    def get():
        try:
            res = netnl.qstats_get({"ifindex": cfg.ifindex}, dump=True)
        except NlError as e:
            if e.nl_msg.error == -errno.EOPNOTSUPP:
                raise KsftSkipEx("device reports no qstats") from e
            raise
        if not res:
            raise KsftSkipEx("device reports no qstats")
        return res[0]

    q0 = get()
    keys = [k for k in ("rx-packets", "rx-bytes", "tx-packets", "tx-bytes")
            if k in q0]
    if len(keys) < 4:
        raise KsftFailEx(f"qstats lack basic keys: {sorted(q0)}")
    bounds = _bounds(cfg)
    _flood(cfg)
    core0 = _core(cfg)
    q1 = get()
    core1 = _core(cfg)
    for key in keys:
        _check(f"qstats {key}", q1[key] - q0[key], key.split("-")[1], bounds)
        core = key.replace("-", "_")
        ksft_ge(q1[key], core0[core], f"qstats {key} below the core's")
        ksft_ge(core1[core], q1[key], f"qstats {key} above the core's")


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run([link, ethtool_stats, qstats], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
