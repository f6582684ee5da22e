#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Data integrity through the device: strict pings both ways, and TCP
transfers of random data whose length and SHA-256 are compared between
the sender and the receiver: local to remote (tx) and remote to local
(rx), over IPv4 and IPv6, at MTU 1500 and 9000, of XFER_MB (default 64)
MiB and, in the tcp_1g cases, of XFER_BIG_MB (default 1024) MiB; and a
self-check that a corrupted transfer is caught.
"""

from lib.py import ksft_run, ksft_exit, ksft_disruptive, ksft_ne
from lib.py import KsftSkipEx, NetDrvEpEnv, CmdExitFailure
from lib.py import cmd, defer
from nic_lib import MIB, env_int, ping, set_mtu, tcp_xfer


def ping_v4(cfg) -> None:
    """Five echoes each way over IPv4, none lost or duplicated."""
    ping(cfg, "4")
    ping(cfg, "4", remote=True)


def ping_v6(cfg) -> None:
    """Five echoes each way over IPv6, none lost or duplicated."""
    ping(cfg, "6")
    ping(cfg, "6", remote=True)


def corrupt_detected(cfg) -> None:
    """
    Self-check: a byte of TCP payload changed on the way out, checksum
    fixed up (as a buggy offload would do); the comparison must notice.
    """
    cfg.require_ipver("4")
    dst = cfg.remote_addr_v["4"]
    cmd(f"tc qdisc add dev {cfg.ifname} clsact")
    defer(cmd, f"tc qdisc del dev {cfg.ifname} clsact")
    try:
        cmd(f"tc filter add dev {cfg.ifname} egress protocol ip prio 1 u32 "
           f"match ip protocol 6 0xff match ip dst {dst}/32 "
           "action pedit munge offset 100 u8 set 0x5a pipe action csum tcp")
    except CmdExitFailure as e:
        raise KsftSkipEx("no tc u32, pedit or csum") from e
    sent, got = tcp_xfer(cfg, "tx", "4", MIB, check=False)
    ksft_ne(got, sent, "corrupted transfer not detected")


def _xfer_case(direction, ipver, mtu, big):
    def case(cfg):
        cfg.require_ipver(ipver)
        set_mtu(cfg, mtu)
        if mtu > 1500:
            # Frames of the full MTU, unfragmented, both ways.
            size = mtu - (28 if ipver == "4" else 48)
            ping(cfg, ipver, count=3, size=size, dont_frag=True)
            ping(cfg, ipver, count=3, size=size, dont_frag=True, remote=True)
        if big:
            nbytes = env_int(cfg, "XFER_BIG_MB", 1024) * MIB
        else:
            nbytes = env_int(cfg, "XFER_MB", 64) * MIB
        tcp_xfer(cfg, direction, ipver, nbytes)

    case.__name__ = (f"tcp{'_1g' if big else ''}_{direction}_v{ipver}" +
                     (f"_mtu{mtu}" if mtu != 1500 else ""))
    return ksft_disruptive(case) if mtu != 1500 else case


def main() -> None:
    """Ksft boiler plate main"""
    cases = [ping_v4, ping_v6, corrupt_detected]
    for big in (False, True):
        for mtu in (1500, 9000):
            for ipver in ("4", "6"):
                for direction in ("tx", "rx"):
                    cases.append(_xfer_case(direction, ipver, mtu, big))
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run(cases, args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
