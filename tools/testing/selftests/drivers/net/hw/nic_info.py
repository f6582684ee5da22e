#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
What the device reports about itself: link state, driver (ethtool -i,
against the bus driver in sysfs), ring sizes (ethtool -g) and the basic
offload features (ethtool -k).
"""

import errno
import os

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_eq, ksft_ge, ksft_in
from lib.py import KsftSkipEx
from lib.py import NetDrvEpEnv, EthtoolFamily, NlError
from lib.py import ethtool
from nic_lib import dev_driver, rd


def link_up(cfg) -> None:
    """Carrier and operstate up."""
    ksft_eq(rd(f"/sys/class/net/{cfg.ifname}/carrier"), "1", "no carrier")
    ksft_eq(rd(f"/sys/class/net/{cfg.ifname}/operstate"), "up")


def driver_info(cfg) -> None:
    """ethtool -i names the driver bound to the bus device."""
    info = dict(line.split(":", 1) for line in
                ethtool(f"-i {cfg.ifname}").stdout.splitlines() if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    ksft_pr(info)
    ksft_ge(len(info.get("driver", "")), 1, "no driver name")
    dev, drv, _ = dev_driver(cfg.ifname)
    # Only a device whose bus-info is its bus device has that device's
    # driver; a virtual one ("virtual", e.g. under a faux device) need not.
    if dev and info.get("bus-info") == os.path.basename(dev):
        ksft_eq(info.get("driver"), drv, "not the bus device's driver")


def rings_info(cfg) -> None:
    """ethtool -g: current ring sizes, within their maximums."""
    try:
        rings = EthtoolFamily().rings_get(
            {"header": {"dev-index": cfg.ifindex}})
    except NlError as e:
        if e.error == errno.EOPNOTSUPP:
            raise KsftSkipEx("device does not report ring sizes") from e
        raise
    ksft_pr(rings)
    for key in ("rx", "tx"):
        ksft_in(key, rings, f"no {key} ring size")
        ksft_ge(rings.get(key, 0), 1, f"{key} ring size 0")
        ksft_ge(rings.get(key + "-max", 0), rings.get(key, 0),
                f"{key} ring over its maximum")


def features(cfg) -> None:
    """ethtool -k lists the checksum and scatter-gather features."""
    feats = ethtool(f"-k {cfg.ifname}").stdout
    for name in ("rx-checksumming", "tx-checksumming", "scatter-gather"):
        ksft_in(f"\n{name}:", "\n" + feats, f"{name} not listed")


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run([link_up, driver_info, rings_info, features], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
