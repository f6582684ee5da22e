#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-test results of the C and the Rust driver side by side, from one run.

Usage: columns.py [--record] build/logs/test-latest/e1000/results.txt

Prints a Markdown table (test | C | Rust) and the tests where Rust does worse
than C: C passes, and Rust fails, skips, xfails or did not run the test (the
harness's own tests run for C only). With --record, prints instead one result
line per such test ("NIC/rust vs_c:TEST fail ..."), for `make test` to count,
and nothing if Rust is not worse anywhere or only one driver ran.
"""
import sys

# Tests that run for the C driver only: they check the harness, not a driver.
C_ONLY = {"harness_warn"}
# Results at least as good as a pass for this comparison (a flake is shown
# and counted on its own).
PASSING = {"pass", "flake"}


def main() -> int:
    record = "--record" in sys.argv[1:]
    path = [a for a in sys.argv[1:] if a != "--record"][0]
    res: dict[str, dict[str, str]] = {}
    nic = None
    for line in open(path):
        parts = line.split(maxsplit=3)
        if len(parts) < 3 or "/" not in parts[0]:
            continue
        n, drv = parts[0].split("/", 1)
        if drv not in ("c", "rust"):
            continue
        nic = n
        res.setdefault(parts[1], {})[drv] = parts[2]
    both = any("c" in r for r in res.values()) and any("rust" in r for r in res.values())
    worse = [name for name, r in res.items()
             if r.get("c") == "pass" and name not in C_ONLY and r.get("rust", "-") not in PASSING]
    if record:
        if both:
            for name in worse:
                print(f"{nic}/rust vs_c:{name} fail C passes, Rust {res[name].get('rust', 'did not run it')}")
        return 0
    print(f"| {nic} test | C | Rust |\n| --- | --- | --- |")
    for name, r in res.items():
        print(f"| {name} | {r.get('c', '-')} | {r.get('rust', '-')} |")
    count = lambda d, v: sum(1 for r in res.values() if r.get(d) == v)
    for d in ("c", "rust"):
        print(f"{d}: " + ", ".join(f"{count(d, v)} {v}" for v in ("pass", "flake", "fail", "xfail", "skip")))
    print("Rust fails where C passes: " + (", ".join(worse) if worse else "none"))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
