#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Stand-alone helper of the NIC traffic tests, run on either end (it is
deployed to the remote, so it uses only the Python standard library).

  nic_helper.py recv ADDR PORT [TIMEOUT]
      Accept one TCP connection on ADDR:PORT and print
      "<bytes> <sha256>" of everything received until EOF.

  nic_helper.py send ADDR PORT BYTES [BLOB_MIB]
      Connect to ADDR:PORT (retrying for up to 60 s while nothing
      listens there yet), send BYTES of a random stream and print
      "<bytes> <sha256>" of what was sent. The stream is a random blob
      of BLOB_MIB (default 64) MiB repeated, each copy prefixed with its
      index, so that it has no short period.

  nic_helper.py inject IFACE DST_MAC DST_IP SRC_IP [MAX_LEN]
      Send malformed frames to DST_MAC from IFACE over AF_PACKET (runts,
      unknown EtherTypes, bad IPv4 header / TCP / UDP checksums, bad IPv4
      lengths, bad IPv6 headers, and intact UDP frames larger than a
      1500 MTU, up to MAX_LEN bytes). Print a JSON object: how many frames
      of each kind were sent, and how many the local end refused (ENOBUFS).
"""

import errno
import hashlib
import json
import os
import random
import socket
import struct
import sys
import time

CHUNK = 1 << 20


def _sockaddr(addr, port):
    return socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0]


def recv(addr, port, timeout=600):
    """Receive one stream, print its length and SHA-256."""
    family, stype, proto, _, sa = _sockaddr(addr, int(port))
    with socket.socket(family, stype, proto) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(sa)
        srv.listen(1)
        srv.settimeout(float(timeout))
        conn, _ = srv.accept()
    total = 0
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with conn:
        # Long enough for a link reset or a slow (debug, emulated) peer.
        conn.settimeout(120)
        while True:
            n = conn.recv_into(buf)
            if not n:
                break
            digest.update(view[:n])
            total += n
    print(total, digest.hexdigest())


def _connect(family, stype, proto, sa, deadline=60):
    """
    Connect, retrying while nothing listens yet: the receiver is started
    at the same time, and may still be starting up.
    """
    end = time.monotonic() + deadline
    while True:
        s = socket.socket(family, stype, proto)
        s.settimeout(120)
        try:
            s.connect(sa)
            return s
        except ConnectionRefusedError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def send(addr, port, nbytes, blob_mib=64):
    """Send nbytes of the random stream, print its length and SHA-256."""
    nbytes = int(nbytes)
    blob = os.urandom(min(nbytes, int(blob_mib) << 20))
    family, stype, proto, _, sa = _sockaddr(addr, int(port))
    digest = hashlib.sha256()
    left = nbytes
    with _connect(family, stype, proto, sa) as s:
        idx = 0
        while left > 0:
            for part in (b"%016d" % idx, blob):
                part = memoryview(part)[:left]
                for off in range(0, len(part), CHUNK):
                    s.sendall(part[off:off + CHUNK])
                digest.update(part)
                left -= len(part)
            idx += 1
        s.shutdown(socket.SHUT_WR)
        # Wait for the receiver to close: everything was delivered.
        s.recv(1)
    print(nbytes, digest.hexdigest())


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _ipv4(src, dst, proto, payload, bad_csum=False, total_len=None):
    tl = 20 + len(payload) if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tl, random.getrandbits(16),
                      0x4000, 64, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst))
    c = _csum(hdr) ^ (0x5a5a if bad_csum else 0)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def _l4(proto, src, dst, seg, csum_off, bad):
    pseudo = struct.pack("!4s4sBBH", socket.inet_aton(src),
                         socket.inet_aton(dst), 0, proto, len(seg))
    c = _csum(pseudo + seg)
    if proto == socket.IPPROTO_UDP and c == 0:
        c = 0xffff
    if bad:
        c ^= 0x5a5a
    return seg[:csum_off] + struct.pack("!H", c) + seg[csum_off + 2:]


def _tcp_syn(src, dst, bad):
    seg = struct.pack("!HHIIBBHHH", random.randint(1024, 65535), 5001,
                      random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    return _l4(socket.IPPROTO_TCP, src, dst, seg, 16, bad)


def _udp(src, dst, dport, data, bad):
    seg = struct.pack("!HHHH", random.randint(1024, 65535), dport,
                      8 + len(data), 0) + data
    return _l4(socket.IPPROTO_UDP, src, dst, seg, 6, bad)


def inject(iface, dst_mac, dip, sip, max_len=9014, rounds=20):
    """Send the malformed frames, print the counts per kind as JSON."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = s.getsockname()[4]
    dst = bytes(int(x, 16) for x in dst_mac.split(":"))
    max_len = int(max_len)
    sent = {}
    refused = {}

    def eth(ethertype):
        return dst + src + struct.pack("!H", ethertype)

    def send_frame(kind, frame):
        try:
            s.send(frame)
            sent[kind] = sent.get(kind, 0) + 1
        except OSError as e:
            # The link refused the frame (a veth: larger than its peer's MTU).
            if e.errno != errno.ENOBUFS:
                raise
            refused[kind] = refused.get(kind, 0) + 1

    for _ in range(rounds):
        # Runts: a bare header, and a few bytes that are no IPv4 header.
        send_frame("runt", eth(0x0800))
        send_frame("runt", eth(0x0800) + bytes(7))
        # EtherTypes nothing handles (two read as 802.3 lengths).
        for et in (0x0000, 0x05dc, 0x1234, 0x88b5, 0xffff):
            send_frame("ethertype", eth(et) +
                       os.urandom(random.randint(46, 1500)))
        send_frame("ip_csum", eth(0x0800) +
                   _ipv4(sip, dip, socket.IPPROTO_UDP, os.urandom(40),
                         bad_csum=True))
        send_frame("tcp_csum", eth(0x0800) +
                   _ipv4(sip, dip, socket.IPPROTO_TCP,
                         _tcp_syn(sip, dip, True)))
        send_frame("udp_csum", eth(0x0800) +
                   _ipv4(sip, dip, socket.IPPROTO_UDP,
                         _udp(sip, dip, 5001, os.urandom(32), True)))
        # IPv4 total length beyond the frame, and shorter than the header.
        send_frame("ip_truncated", eth(0x0800) +
                   _ipv4(sip, dip, socket.IPPROTO_UDP, os.urandom(20),
                         total_len=1400))
        send_frame("ip_short", eth(0x0800) +
                   _ipv4(sip, dip, socket.IPPROTO_UDP, os.urandom(20),
                         total_len=8))
        # An IPv6 EtherType with a header of version 0.
        send_frame("ip6_hdr", eth(0x86dd) + b"\x00" + os.urandom(59))
        # Intact UDP datagrams to a closed port, in frames over 1514 bytes.
        for n in (1515, 1600, 4000, 8000):
            if n > max_len:
                continue
            data = os.urandom(n - 14 - 20 - 8)
            send_frame(f"oversize_{n}", eth(0x0800) +
                       _ipv4(sip, dip, socket.IPPROTO_UDP,
                             _udp(sip, dip, 9, data, False)))
    print(json.dumps({"sent": sent, "refused": refused}))


def main():
    """Run the subcommand."""
    cmds = {"recv": recv, "send": send, "inject": inject}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
