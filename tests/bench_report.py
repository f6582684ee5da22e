#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise a `make bench` run: medians per driver, Rust/C ratios, spread.

Usage: bench_report.py BENCH.jsonl OUTDIR NIC
Writes OUTDIR/bench-NIC-TIMESTAMP.{json,png} (the plot needs matplotlib).
"""
import json
import statistics
import sys
import time
from pathlib import Path

# metric -> (label, higher is better)
METRICS = {
    "tcp1_mbps": ("TCP 1 stream, Mbit/s", True),
    "tcp4_mbps": ("TCP 4 streams, Mbit/s", True),
    "udp64_pps": ("UDP 64-byte frames, packets/s", True),
    "rtt_avg_us": ("ping RTT mean, us", False),
    "rtt_p50_us": ("ping RTT median, us", False),
    "irqs_per_mb": ("interrupts per MB (TCP 1 stream)", False),
}


def main() -> int:
    src, outdir, nic = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    rows = [json.loads(l) for l in src.read_text().splitlines() if l.strip()]
    drivers = sorted({r["driver"] for r in rows})
    if not {"c", "rust"} <= set(drivers):
        print(f"bench: need rounds of both drivers, got {drivers}", file=sys.stderr)
        return 1
    rounds = len({r["round"] for r in rows})
    summary = {"nic": nic, "rounds": rounds, "metrics": {}}
    print(f"{nic}: {rounds} rounds, C and Rust alternating (A B A B ...)")
    print(f"{'metric':36} {'C median':>12} {'Rust median':>12} {'Rust/C':>7}  spread (min-max) C | Rust")
    for m, (label, higher) in METRICS.items():
        vals = {d: [r[m] for r in rows if r["driver"] == d and r.get(m) is not None] for d in ("c", "rust")}
        if not vals["c"] or not vals["rust"]:
            continue
        med = {d: statistics.median(v) for d, v in vals.items()}
        ratio = med["rust"] / med["c"] if med["c"] else float("nan")
        target = ratio >= 1.0 if higher else ratio <= 1.0
        summary["metrics"][m] = {
            "label": label,
            "higher_is_better": higher,
            "median": med,
            "min": {d: min(v) for d, v in vals.items()},
            "max": {d: max(v) for d, v in vals.items()},
            "samples": vals,
            "rust_over_c": ratio,
            "meets_target": target,
        }
        print(f"{label:36} {med['c']:12.1f} {med['rust']:12.1f} {ratio:7.3f}  "
              f"{min(vals['c']):.1f}-{max(vals['c']):.1f} | {min(vals['rust']):.1f}-{max(vals['rust']):.1f}"
              f"{'' if target else '  (misses target)'}")
    outdir.mkdir(parents=True, exist_ok=True)
    stem = outdir / f"bench-{nic}-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written: {stem}.json")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: plot skipped")
        return 0
    ms = list(summary["metrics"].values())
    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = range(len(ms))
    for off, d, colour in ((-0.2, "c", "#888888"), (0.2, "rust", "#b7410e")):
        meds = [x["median"][d] / x["median"]["c"] for x in ms]
        lo = [meds[i] - x["min"][d] / x["median"]["c"] for i, x in enumerate(ms)]
        hi = [x["max"][d] / x["median"]["c"] - meds[i] for i, x in enumerate(ms)]
        ax.bar([x + off for x in xs], meds, 0.4, yerr=[lo, hi], capsize=3,
               label="C e1000" if d == "c" else "Rust e1000_rust", color=colour)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(xs), [x["label"] for x in ms], rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("median relative to C (bars: min-max)")
    ax.set_title(f"{nic}: C vs Rust, {rounds} alternating rounds (QEMU TCG)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=110)
    print(f"written: {stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
