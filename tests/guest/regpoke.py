#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads or changes a 32-bit register of a PCI device's BAR 0 from user space,
through the sysfs resource file: how a test makes the hardware misbehave
(e.g. stops an e1000's transmitter) without any hook in the driver.

regpoke.py BDF OFFSET [set|clear MASK]   prints the value (after the change)
"""
import mmap
import os
import sys


def main():
    bdf, off = sys.argv[1], int(sys.argv[2], 0)
    path = f"/sys/bus/pci/devices/{bdf}/resource0"
    size = os.path.getsize(path)
    if off % 4 or off + 4 > size:
        sys.exit(f"bad offset {off:#x}")
    fd = os.open(path, os.O_RDWR | os.O_SYNC)
    try:
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        # 32-bit loads and stores, as the device requires.
        regs = memoryview(m).cast("I")
        val = regs[off // 4]
        if len(sys.argv) == 5:
            mask = int(sys.argv[4], 0)
            val = val | mask if sys.argv[3] == "set" else val & ~mask
            regs[off // 4] = val
            val = regs[off // 4]
        print(f"{val:#010x}")
        regs.release()
        m.close()
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
