#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Malformed frames from the remote (nic_helper.py inject, over AF_PACKET):
runts, EtherTypes nothing handles, bad IPv4 header / TCP / UDP checksums,
bad IPv4 lengths, bad IPv6 headers, and intact frames larger than the
device's 1500 MTU. The device must take in every frame that fits its MTU,
the stack must reject each bad one (its drop counter moves by exactly
the frames of that kind: a driver that marked a bad checksum good would
deliver the frame instead), frames over the MTU must be dropped or
delivered intact, and the device must work normally afterwards.
"""

import json
import os
import time

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_ge, ksft_eq
from lib.py import ksft_disruptive
from lib.py import NetDrvEpEnv
from lib.py import cmd, defer
from nic_lib import get_mtu, helper_path, link_set, link_stats, max_mtu, \
    rd, restore_mtu, set_mtu, wait_carrier, xfer_check

# Packets of other traffic that may arrive meanwhile.
SLACK = 50


def _snmp():
    """Protocol counters of the local end: {"Ip.InHdrErrors": n, ...}."""
    res = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path, encoding="ascii") as fp:
            lines = fp.read().splitlines()
        for names, vals in zip(lines[::2], lines[1::2]):
            proto, names = names.split(":", 1)
            for name, val in zip(names.split(), vals.split(":", 1)[1].split()):
                res[f"{proto}.{name}"] = int(val)
    if os.path.exists("/proc/net/snmp6"):
        with open("/proc/net/snmp6", encoding="ascii") as fp:
            for line in fp:
                name, val = line.split()
                res[name] = int(val)
    return res


def _packet_taps(ifindex):
    """True if an ETH_P_ALL packet socket listens on the device (a tap
    handles every frame, so none counts as unhandled)."""
    with open("/proc/net/packet", encoding="ascii") as fp:
        for line in fp.readlines()[1:]:
            f = line.split()
            if f[3] == "0003" and int(f[4]) in (0, ifindex):
                return True
    return False


def _ipv6_on(cfg):
    path = f"/proc/sys/net/ipv6/conf/{cfg.ifname}/disable_ipv6"
    return os.path.exists(path) and rd(path) == "0"


@ksft_disruptive
def bad_frames(cfg) -> None:
    """Inject malformed frames; check where each kind went."""
    cfg.require_ipver("4")
    cfg.require_cmd("python3", local=False, remote=True)
    # The device at MTU 1500, the remote as large as it goes, for the
    # frames over 1514 bytes.
    set_mtu(cfg, 1500, remote=False)
    rmtu = min(9000, max_mtu(cfg, remote=True))
    old = get_mtu(cfg, remote=True)
    if old != rmtu:
        link_set(cfg, f"mtu {rmtu}", remote=True)
        defer(restore_mtu, cfg, old, True)
        wait_carrier(cfg, remote=True)
        wait_carrier(cfg)

    mac = rd(f"/sys/class/net/{cfg.ifname}/address")
    snmp0, st0 = _snmp(), link_stats(cfg)
    res = cmd(f"python3 {helper_path(cfg, True)} inject {cfg.remote_ifname} "
              f"{mac} {cfg.addr_v['4']} {cfg.remote_addr_v['4']} {rmtu + 14}",
              host=cfg.remote, timeout=120)
    time.sleep(1)
    snmp1, st1 = _snmp(), link_stats(cfg)
    out = json.loads(res.stdout)
    sent = out["sent"]
    ksft_pr(f"sent {sent}, refused by the remote {out['refused']}")
    oversize = sum(v for k, v in sent.items() if k.startswith("oversize"))
    in_size = sum(sent.values()) - oversize
    # Frames that no device takes at MTU 1500 (the remote may count
    # those it refused as dropped by its peer, a veth does).
    over_1518 = (oversize - sent.get("oversize_1515", 0) +
                 sum(out["refused"].values()))

    def delta(name):
        return snmp1.get(name, 0) - snmp0.get(name, 0)

    def check(name, lo, hi):
        d = delta(name)
        ksft_pr(f"{name}: +{d} (want {lo}..{hi})")
        ksft_ge(d, lo, f"{name}: bad frames not rejected")
        ksft_ge(hi, d, f"{name}: more than the bad frames")

    # Every frame that fits the MTU reached the device.
    rx = st1["rx"]["packets"] - st0["rx"]["packets"]
    ksft_pr(f"{cfg.ifname} rx_packets: +{rx} (in-size frames {in_size}, "
            f"all {in_size + oversize})")
    ksft_ge(rx, in_size, "the device lost in-size frames")
    ksft_ge(in_size + oversize + SLACK, rx, "more frames than sent")

    # The stack rejected each kind, and nothing else of the kind came.
    hdr = sent["runt"] + sent["ip_csum"] + sent["ip_short"]
    check("Ip.InHdrErrors", hdr, hdr)
    check("IpExt.InCsumErrors", sent["ip_csum"], sent["ip_csum"])
    check("IpExt.InTruncatedPkts", sent["ip_truncated"], sent["ip_truncated"])
    check("Tcp.InCsumErrors", sent["tcp_csum"], sent["tcp_csum"])
    check("Udp.InCsumErrors", sent["udp_csum"], sent["udp_csum"])
    if _ipv6_on(cfg):
        check("Ip6InHdrErrors", sent["ip6_hdr"], sent["ip6_hdr"])
    # Frames over the MTU: dropped by the device or delivered intact (to a
    # closed port), never truncated or corrupted (the bounds above).
    check("Udp.NoPorts", 0, oversize + SLACK)
    ksft_pr(f"frames over 1514 bytes: {oversize} sent, "
            f"{delta('Udp.NoPorts')} delivered")
    if not _packet_taps(cfg.ifindex):
        # Unknown EtherTypes: counted as dropped (no handler), the ones
        # read as 802.3 lengths too unless LLC takes them.
        drops = (st1["rx"]["dropped"] - st0["rx"]["dropped"] +
                 st1["rx"].get("nohandler", 0) - st0["rx"].get("nohandler", 0))
        ethertype = sent["ethertype"]
        ksft_pr(f"{cfg.ifname} rx dropped+nohandler: +{drops}")
        ksft_ge(drops, ethertype * 3 // 5, "unhandled frames not counted")
        ksft_ge(ethertype + over_1518 + SLACK, drops,
                "more frames dropped than unhandled or oversize ones")

    ksft_eq(rd(f"/sys/class/net/{cfg.ifname}/carrier"), "1", "carrier lost")
    xfer_check(cfg, directions=("rx",))


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run([bad_frames], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
