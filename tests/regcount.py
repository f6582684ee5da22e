#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Register accesses per MB of the NIC under test, per driver and direction.

Usage: regcount.py QEMU_TRACE_LOG CONSOLE_LOG OUT.json

The guest (main.sh regs) brackets each transfer with a marker, three reads of
RAL0 (BAR offset 0x5400) from user space, and prints "REGPHASE driver dir
bytes irqs" after it. QEMU traced every MMIO access (memory_region_ops_read/
write); the markers identify the NIC under test's memory region and cut the
trace into phases, in the order the guest printed them.
"""
import json
import re
import sys

ACCESS = re.compile(r"memory_region_ops_(read|write) cpu \d+ mr (0x[0-9a-f]+) addr (0x[0-9a-f]+)")
MARK = 0x5400
# QEMU traces the guest-physical address (older versions: the offset in the
# region); BAR0 is 128 KiB and aligned to its size, so the low bits are the
# register either way.
BAR_MASK = 0x1FFFF


def main() -> int:
    trace, console, out = sys.argv[1:4]
    phases = []
    for line in open(console, errors="replace"):
        m = re.search(r"REGPHASE (\S+) (\S+) (\d+) (\d+)", line)
        if m:
            phases.append((m[1], m[2], int(m[3]), int(m[4])))
    # Per access: (kind, mr, addr). Markers: three consecutive reads of MARK on one region.
    accesses = []
    for line in open(trace, errors="replace"):
        m = ACCESS.search(line)
        if m and "e1000" in line:
            accesses.append((m[1], m[2], int(m[3], 16) & BAR_MASK))
    # Markers: reads of MARK on one region, taken three at a time (other
    # accesses, the drivers' own, may come in between).
    marks = []
    pending: dict[str, list[int]] = {}
    for i, (kind, mr, addr) in enumerate(accesses):
        if kind != "read" or addr != MARK:
            continue
        group = pending.setdefault(mr, [])
        if group and i - group[0] > 500:
            group.clear()
        group.append(i)
        if len(group) == 3:
            marks.append((i, mr))
            group.clear()
    if len(marks) != 2 * len(phases) or not phases:
        print(f"regcount: {len(marks)} markers for {len(phases)} phases", file=sys.stderr)
        return 1
    rows = []
    print(f"{'driver':6} {'dir':3} {'MB':>6} {'reads/MB':>9} {'writes/MB':>10} {'irqs/MB':>8}")
    for n, (drv, direction, nbytes, irqs) in enumerate(phases):
        (start, mr), (end, _) = marks[2 * n], marks[2 * n + 1]
        span = [a for a in accesses[start + 1 : end] if a[1] == mr and not (a[0] == "read" and a[2] == MARK)]
        reads = sum(1 for a in span if a[0] == "read")
        writes = len(span) - reads
        mb = nbytes / 1e6
        row = {
            "driver": drv,
            "dir": direction,
            "mb": round(mb, 1),
            "reads_per_mb": round(reads / mb, 1),
            "writes_per_mb": round(writes / mb, 1),
            "irqs_per_mb": round(irqs / mb, 1),
        }
        rows.append(row)
        print(f"{drv:6} {direction:3} {mb:6.1f} {row['reads_per_mb']:9.1f} {row['writes_per_mb']:10.1f} {row['irqs_per_mb']:8.1f}")
    json.dump(rows, open(out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
