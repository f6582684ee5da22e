#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise a `make bench` run: medians per driver, Rust/C ratios, spread.

Usage: bench_report.py BENCH.jsonl OUTDIR NIC ROUNDS [RESULTS.txt]

One table per setting ("default": each driver's own interrupt moderation;
"equal": moderation off on both), with each driver's `ethtool -c` rx-usecs.
Fails (exit 1) if a round is missing or failed (a `fail` line in RESULTS.txt).
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
DRIVERS = ("c", "rust")


def check_complete(rows, rounds, results):
    """The problems that make the run unusable: missing or failed rounds."""
    problems = []
    settings = sorted({r["setting"] for r in rows})
    if not settings:
        problems.append("no rounds at all")
    for s in settings:
        for d in DRIVERS:
            got = sorted(r["round"] for r in rows if r["setting"] == s and r["driver"] == d)
            if got != list(range(1, rounds + 1)):
                problems.append(f"{s}/{d}: rounds {got}, expected 1..{rounds}")
    if results and results.exists():
        for line in results.read_text().splitlines():
            f = line.split()
            if len(f) >= 3 and f[2] == "fail":
                problems.append(f"failed: {line}")
    return problems


def summarise(rows, setting):
    sel = [r for r in rows if r["setting"] == setting]
    out = {"rx_usecs": {}, "module": {}, "metrics": {}, "context": {}}
    for d in DRIVERS:
        mine = [r for r in sel if r["driver"] == d]
        out["rx_usecs"][d] = sorted({str(r.get("rx_usecs", "?")) for r in mine})
        out["module"][d] = sorted({r.get("module", d) for r in mine})
        # Not compared, but needed to read the figures: where each NIC's
        # interrupt went, and how many TCP segments were sent again.
        out["context"][d] = {
            k: [r.get(k) for r in sorted(mine, key=lambda r: r["round"])]
            for k in ("dut_irq_cpu", "peer_irq_cpu", "dut_irqs_per_cpu", "tcp1_retrans", "tcp4_retrans",
                      "udp64_sent_pps", "udp64_sender_cpu_pct", "udp64_lost", "udp64_drops")
        }
    for m, (label, higher) in METRICS.items():
        vals = {d: [r[m] for r in sel if r["driver"] == d and r.get(m) is not None] for d in DRIVERS}
        if not all(vals.values()):
            continue
        med = {d: statistics.median(v) for d, v in vals.items()}
        ratio = med["rust"] / med["c"] if med["c"] else float("nan")
        out["metrics"][m] = {
            "label": label,
            "higher_is_better": higher,
            "median": med,
            "min": {d: min(v) for d, v in vals.items()},
            "max": {d: max(v) for d, v in vals.items()},
            "samples": vals,
            "rust_over_c": ratio,
            "meets_target": ratio >= 1.0 if higher else ratio <= 1.0,
        }
    return out


def print_table(nic, setting, rounds, s):
    mods = {d: "/".join(s["module"][d]) for d in DRIVERS}
    usecs = {d: "/".join(s["rx_usecs"][d]) for d in DRIVERS}
    print(f"\n{nic}, setting '{setting}': {rounds} rounds after a warm-up, order A B, B A, ...")
    print(f"  C = {mods['c']} (rx-usecs {usecs['c']}), Rust = {mods['rust']} (rx-usecs {usecs['rust']})")
    print(f"{'metric':52} {'C median':>10} {'Rust median':>12} {'Rust/C':>7}  spread (min-max) C | Rust")
    for d in DRIVERS:
        c = s["context"].get(d, {})
        if any(v is not None for v in c.get("dut_irq_cpu", [])):
            print(f"  {'C' if d == 'c' else 'Rust'} rounds: IRQ:CPU NIC under test {c['dut_irq_cpu']}, peer {c['peer_irq_cpu']};"
                  f" NIC interrupts per CPU {c['dut_irqs_per_cpu']}; TCP retransmits 1 stream {c['tcp1_retrans']},"
                  f" 4 streams {c['tcp4_retrans']}")
        if any(v is not None for v in c.get("udp64_sent_pps", [])):
            sent = [None if v is None else round(v) for v in c["udp64_sent_pps"]]
            cpu = [None if v is None else round(v) for v in c["udp64_sender_cpu_pct"]]
            where = [None if w is None else f"{n} ({w['dut_qdisc']}/{w['peer_nic']}/{w['peer_socket']})"
                     for n, w in zip(c["udp64_lost"], c["udp64_drops"])]
            print(f"  {'C' if d == 'c' else 'Rust'} rounds, UDP flood: sent pps {sent}, sender CPU % {cpu};"
                  f" datagrams lost (of them dropped at the qdisc/peer NIC/peer socket) {where}")
    for x in s["metrics"].values():
        better = "higher is better" if x["higher_is_better"] else "lower is better"
        med, lo, hi = x["median"], x["min"], x["max"]
        print(f"{x['label'] + ' (' + better + ')':52} {med['c']:10.1f} {med['rust']:12.1f} "
              f"{x['rust_over_c']:7.3f}  {lo['c']:.1f}-{hi['c']:.1f} | {lo['rust']:.1f}-{hi['rust']:.1f}"
              f"{'' if x['meets_target'] else '  (Rust worse)'}")


def plot(stem, nic, rounds, summary):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: plot skipped")
        return
    settings = list(summary["settings"])
    fig, axes = plt.subplots(1, len(settings), figsize=(9 * len(settings), 4.8), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        s = summary["settings"][setting]
        ms = list(s["metrics"].values())
        xs = range(len(ms))
        for off, d, colour in ((-0.2, "c", "#888888"), (0.2, "rust", "#b7410e")):
            meds = [x["median"][d] / x["median"]["c"] for x in ms]
            lo = [meds[i] - x["min"][d] / x["median"]["c"] for i, x in enumerate(ms)]
            hi = [x["max"][d] / x["median"]["c"] - meds[i] for i, x in enumerate(ms)]
            name = "/".join(s["module"][d])
            ax.bar([x + off for x in xs], meds, 0.4, yerr=[lo, hi], capsize=3,
                   label=f"{'C' if d == 'c' else 'Rust'} {name} (rx-usecs {'/'.join(s['rx_usecs'][d])})",
                   color=colour)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ticks = [f"{x['label']}\n({'higher' if x['higher_is_better'] else 'lower'} is better)" for x in ms]
        ax.set_xticks(list(xs), ticks, rotation=20, ha="right", fontsize=7)
        ax.set_ylabel("median relative to C (bars: min-max)")
        ax.set_title(f"{nic}, {setting} moderation: {rounds} rounds (QEMU TCG)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=110)
    print(f"written: {stem}.png")


def main() -> int:
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    src, outdir, nic, rounds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    results = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    rows = [json.loads(l) for l in src.read_text().splitlines() if l.strip()] if src.exists() else []
    for r in rows:
        r.setdefault("setting", "default")
    problems = check_complete(rows, rounds, results)
    settings = sorted({r["setting"] for r in rows}, key=lambda s: (s != "default", s))
    summary = {"nic": nic, "rounds": rounds, "settings": {}, "problems": problems}
    for setting in settings:
        summary["settings"][setting] = summarise(rows, setting)
        print_table(nic, setting, rounds, summary["settings"][setting])
    outdir.mkdir(parents=True, exist_ok=True)
    stem = outdir / f"bench-{nic}-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written: {stem}.json")
    if summary["settings"]:
        plot(stem, nic, rounds, summary)
    for p in problems:
        print(f"bench: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
