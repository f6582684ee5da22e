#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Inject malformed frames at the NIC under test from the peer, over AF_PACKET.

Usage: inject.py IFACE DST_MAC DST_IP SRC_IP

Sends runts, oversize frames, garbage EtherTypes, bad IPv4 header checksums,
TCP/UDP with bad checksums and truncated IP packets. Prints
"small=N oversize=M": how many frames fit the DUT's MTU of 1500 and so must
reach its receive counters, and how many were larger.
"""

import os
import random
import socket
import struct
import sys


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, bad_csum=False, total_len=None):
    tl = total_len if total_len is not None else 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tl, random.getrandbits(16), 0,
                      64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    c = csum(hdr)
    if bad_csum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def l4_bad(proto, src, dst):
    sport, dport = random.randint(1024, 65535), 5001
    if proto == socket.IPPROTO_TCP:
        seg = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0,
                          5 << 4, 0x02, 65535, 0xDEAD, 0)
    else:
        data = os.urandom(32)
        seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0xBEEF) + data
    return seg


def main():
    iface, dmac, dip, sip = sys.argv[1:5]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = s.getsockname()[4]
    dst = mac_bytes(dmac)
    eth = lambda et: dst + src + struct.pack("!H", et)
    small = 0
    oversize = 0

    def send(frame):
        nonlocal small, oversize
        s.send(frame)
        if len(frame) <= 1514:
            small += 1
        else:
            oversize += 1

    for _ in range(20):
        # Runts: header only, and a few payload bytes (padded to 60 on the wire).
        send(eth(0x0800))
        send(eth(0x0800) + os.urandom(7))
        # Garbage EtherTypes.
        for et in (0x0000, 0x1234, 0x88B5, 0xFFFF, 0x05DC):
            send(eth(et) + os.urandom(random.randint(46, 1500)))
        # IPv4 with a bad header checksum.
        send(eth(0x0800) + ipv4(sip, dip, socket.IPPROTO_UDP, os.urandom(40), bad_csum=True))
        # TCP SYN and UDP with bad L4 checksums.
        send(eth(0x0800) + ipv4(sip, dip, socket.IPPROTO_TCP, l4_bad(socket.IPPROTO_TCP, sip, dip)))
        send(eth(0x0800) + ipv4(sip, dip, socket.IPPROTO_UDP, l4_bad(socket.IPPROTO_UDP, sip, dip)))
        # IPv4 total length longer than the frame, and shorter than the header.
        send(eth(0x0800) + ipv4(sip, dip, socket.IPPROTO_UDP, os.urandom(20), total_len=1400))
        send(eth(0x0800) + ipv4(sip, dip, socket.IPPROTO_UDP, os.urandom(20), total_len=8))
        # Garbage IPv6 header.
        send(eth(0x86DD) + os.urandom(60))
        # Oversize frames (the peer's MTU is raised for this).
        for n in (1515, 1600, 4000, 8000):
            send(eth(0x0800) + os.urandom(n - 14))
    print(f"small={small} oversize={oversize}")


if __name__ == "__main__":
    main()
