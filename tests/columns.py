#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-test results of the C and the Rust driver side by side, from one run.

Usage: columns.py build/logs/test-latest/e1000/results.txt
Prints a Markdown table (test | C | Rust) and the tests where Rust does worse
than C (C passes, Rust fails, skips or xfails), apart from the tests that ran
for C only.
"""
import sys


def main() -> int:
    res: dict[str, dict[str, str]] = {}
    nic = None
    for line in open(sys.argv[1]):
        parts = line.split(maxsplit=3)
        if len(parts) < 3 or "/" not in parts[0]:
            continue
        nic, drv = parts[0].split("/", 1)
        if drv not in ("c", "rust"):
            continue
        res.setdefault(parts[1], {})[drv] = parts[2]
    print(f"| {nic} test | C | Rust |\n| --- | --- | --- |")
    worse, c_only = [], []
    for name, r in res.items():
        c, rust = r.get("c", "-"), r.get("rust", "-")
        print(f"| {name} | {c} | {rust} |")
        if c == "pass" and rust == "-":
            c_only.append(name)
        elif c == "pass" and rust != "pass":
            worse.append(name)
    count = lambda d, v: sum(1 for r in res.values() if r.get(d) == v)
    for d in ("c", "rust"):
        print(f"{d}: " + ", ".join(f"{count(d, v)} {v}" for v in ("pass", "fail", "xfail", "skip")))
    print("C only (the harness's own tests; netdevice.sh cases named after a feature's state): "
          + (", ".join(c_only) if c_only else "none"))
    print("Rust fails where C passes: " + (", ".join(worse) if worse else "none"))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
