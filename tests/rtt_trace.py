#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where a ping's round trip spends its time, per driver of the NIC under test.

Usage: rtt_trace.py RUN_DIR/NIC    (after `make bench` with BENCH_TRACE=1)

The guest (main.sh, run_rtt_trace) traced 200 echoes per driver and per
bench setting with tracepoints on both ends and wrote
rtt-SETTING-DRIVER-trace.txt, and rtt-devs.txt with "RTTDEV setting driver
dev peer irq dut-irq:cpu peer-irq:cpu". Per echo request (98-byte frame, 84
bytes after the Ethernet header) the stages are:

  xmit      net_dev_start_xmit(dev) -> net_dev_xmit(dev): the driver's
            ndo_start_xmit (tail write; QEMU sends the frame within it)
  to_peer   -> napi_gro_receive_entry(peer): QEMU, tap, bridge, the peer's
            interrupt and NAPI
  peer      -> net_dev_start_xmit(peer): the peer's stack answers
  to_irq    -> irq_handler_entry(irq of dev): the peer's transmit, QEMU, and
            the interrupt of the NIC under test
  handler   -> irq_handler_exit(irq of dev): the driver's interrupt handler
  to_poll   -> softirq_entry(NET_RX) on that CPU: the rest of the hard
            interrupt, up to the softirq
  poll_gro  -> napi_gro_receive_entry(dev): the NAPI poll up to the frame's
            hand-over to GRO
  total     net_dev_start_xmit(dev) -> napi_gro_receive_entry(dev)

With BENCH_KPROBES=1 the guest also probed the functions between the reply's
interrupt and GRO (main.sh, rtt_kprobes); the report then gives, per driver,
when each was first entered after the handler's end (median).

to_irq, handler, to_poll and poll_gro are those of the reply's own interrupt:
the NIC's last one after the peer's transmit whose handler and NET_RX softirq
came before the hand-over. An echo that a poll already running or scheduled
picked up (for example one started by a TX completion interrupt) has no such
interrupt: it counts for the other stages only, and the report says how many
echoes had one.

and, over the same window, per echo:

  irqs      interrupts of the NIC under test (a driver that takes a TX
            completion interrupt has two: the RX one comes right after it)
  first_irq duration of the first of them (its handler); the "handler"
            stage above is that of the interrupt that delivers the echo
  cpus      the CPUs of the request's transmit, the peer's receive and the
            reply's interrupt (e.g. "0>1>0", "-" without one), counted over
            the echoes

Prints the median and mean of each stage in microseconds, C and Rust side by
side, and writes rtt-trace.json in RUN_DIR/NIC.
"""
import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$")
STAGES = ["xmit", "to_peer", "peer", "to_irq", "handler", "to_poll", "poll_gro", "total"]
# The kprobes main.sh sets with BENCH_KPROBES=1 (rtt_kprobes).
KPROBES = ["rx_action", "napi_poll", "c_clean", "c_rx", "rs_cb", "rs_poll", "lock_irq",
           "lock_bh", "sync_cpu", "alloc", "eth", "gro_skb"]
EXTRA = ["irqs", "first_irq"]


def field(rest: str, name: str) -> str | None:
    m = re.search(rf"\b{name}=([^\s\]]+)", rest)
    return m[1] if m else None


def echoes(trace: Path, dev: str, peer: str, irq: str) -> list[dict[str, float]]:
    events = []
    for line in trace.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if m:
            events.append((float(m[4]) * 1e6, m[5], f"cpu={int(m[3])} {m[6]}"))
    dut_irq = irq_of_dut(irq, peer)
    # The echo's frames, in order: (event, predicate on its fields).
    anchors = [
        ("net_dev_start_xmit", lambda r: field(r, "dev") == dev and field(r, "len") == "98"),
        ("net_dev_xmit", lambda r: field(r, "dev") == dev),
        ("napi_gro_receive_entry", lambda r: field(r, "dev") == peer and field(r, "len") == "84"),
        ("net_dev_start_xmit", lambda r: field(r, "dev") == peer and field(r, "len") == "98"),
        ("napi_gro_receive_entry", lambda r: field(r, "dev") == dev and field(r, "len") == "84"),
    ]
    out = []
    i = 0
    while i < len(events):
        t, at, k, j = [], [], 0, i
        while j < len(events) and k < len(anchors):
            ts, name, rest = events[j]
            if name == anchors[k][0] and anchors[k][1](rest):
                t.append(ts)
                at.append(j)
                k += 1
            elif k > 0 and name == anchors[0][0] and anchors[0][1](rest):
                break  # the next echo started: this one is incomplete
            j += 1
        if k < len(anchors):
            i = max(j, i + 1)
            continue
        cpus = [field(events[x][2], "cpu") for x in at]
        echo = {"xmit": t[1] - t[0], "to_peer": t[2] - t[1], "peer": t[3] - t[2],
                "total": t[4] - t[0]}
        # The reply's interrupt: the last one of the NIC under test, between the peer's
        # transmit and the reply's hand-over to GRO, whose handler ended and whose NET_RX
        # softirq started on its CPU before that hand-over. An echo without one was picked
        # up by a poll that was already running or scheduled (for example by a TX
        # completion interrupt): its interrupt stages are left out.
        irqs = delivering_irq(events[at[3]:at[4]], irq, dut_irq)
        if irqs:
            entry, exit_, soft, cpu = irqs
            echo.update(to_irq=entry - t[3], handler=exit_ - entry, to_poll=soft - exit_,
                        poll_gro=t[4] - soft)
            # BENCH_KPROBES=1: when each probed function was first entered on that CPU,
            # counted from the end of the handler.
            for ts, name, rest in events[at[3]:at[4]]:
                if name in KPROBES and ts > exit_ and field(rest, "cpu") == cpu:
                    echo.setdefault("kp_" + name, ts - exit_)
        else:
            cpu = "-"
        echo.update(irq_window(events[at[0]:at[4] + 1], irq, dut_irq))
        echo["cpus"] = f"{cpus[0]}>{cpus[2]}>{cpu}"
        out.append(echo)
        i = at[4] + 1
    return out


def delivering_irq(events: list, irq: str, dut_irq):
    """(entry, exit, softirq entry, cpu) of the last complete interrupt of the NIC in
    `events`, or None."""
    found, entry, exit_, cpu = None, None, None, None
    for ts, name, rest in events:
        if name == "irq_handler_entry" and dut_irq(rest):
            entry, exit_, cpu = ts, None, field(rest, "cpu")
        elif name == "irq_handler_exit" and entry is not None and exit_ is None \
                and field(rest, "irq") == irq and field(rest, "cpu") == cpu:
            exit_ = ts
        elif name == "softirq_entry" and exit_ is not None and \
                field(rest, "action") == "NET_RX" and field(rest, "cpu") == cpu:
            found, entry, exit_ = (entry, exit_, ts, cpu), None, None
    return found


def irq_of_dut(irq: str, peer: str):
    """Predicate on an irq_handler_entry: the NIC under test's handler (not the peer's, on a
    shared line)."""
    return lambda r: field(r, "irq") == irq and field(r, "name") != peer


def irq_window(events: list, irq: str, dut_irq) -> dict[str, float]:
    """The NIC's interrupts among `events` (one echo): their count, the first one's length."""
    n, first, entry = 0, 0.0, None
    for ts, name, rest in events:
        if field(rest, "irq") != irq:
            continue
        if name == "irq_handler_entry":
            entry = None
            if dut_irq(rest):
                n += 1
                entry = ts if n == 1 else None
        elif name == "irq_handler_exit" and entry is not None:
            first, entry = ts - entry, None
    return {"irqs": n, "first_irq": first}


# None (JSON null) for a stage no echo has, e.g. the interrupt stages of a
# driver none of whose echoes had an interrupt of its own.
def median(v: list[float]) -> float | None:
    return statistics.median(v) if v else None


def mean(v: list[float]) -> float | None:
    return statistics.fmean(v) if v else None


def us(v: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if v is None else f"{v:{width}.1f}"


def main() -> int:
    run = Path(sys.argv[1])
    devs = {}
    for line in (run / "rtt-devs.txt").read_text().splitlines():
        _, setting, drv, dev, peer, irq, dut_cpu, peer_cpu = line.split()
        devs[(setting, drv)] = (dev, peer, irq, dut_cpu, peer_cpu)
    res = {}
    for (setting, drv), (dev, peer, irq, dut_cpu, peer_cpu) in devs.items():
        e = echoes(run / f"rtt-{setting}-{drv}-trace.txt", dev, peer, irq)
        if not e:
            print(f"rtt_trace: no complete echo in the {setting} {drv} trace", file=sys.stderr)
            return 1
        res.setdefault(setting, {})[drv] = {
            "echoes": len(e),
            "irq_cpu": {"dut": dut_cpu, "peer": peer_cpu},
            "cpus": dict(Counter(x["cpus"] for x in e).most_common()),
            "with_irq": sum("handler" in x for x in e),
            "median_us": {s: median([x[s] for x in e if s in x]) for s in STAGES + EXTRA},
            "mean_us": {s: mean([x[s] for x in e if s in x]) for s in STAGES + EXTRA},
            "kprobes_median_us": {k: median([x["kp_" + k] for x in e if "kp_" + k in x])
                                  for k in KPROBES if any("kp_" + k in x for x in e)},
            "kprobes_to_gro_median_us": median([x["to_poll"] + x["poll_gro"] for x in e
                                                if "to_poll" in x]),
        }
    for setting, r in res.items():
        drvs = [d for d in ("c", "rust") if d in r]
        print(f"\nsetting '{setting}': ping echo stages, microseconds (median / mean), " +
              ", ".join(f"{d}: {r[d]['echoes']} echoes ({r[d]['with_irq']} with their own "
                      "interrupt)" for d in drvs))
        print(f"{'stage':10}" + "".join(f"{d:>22}" for d in drvs))
        for s in STAGES + EXTRA:
            print(f"{s:10}" + "".join(
                f"{us(r[d]['median_us'][s], 12)} /{us(r[d]['mean_us'][s], 8)}" for d in drvs))
        for d in drvs:
            print(f"  {d}: IRQ:CPU NIC {r[d]['irq_cpu']['dut']}, peer {r[d]['irq_cpu']['peer']};"
                  f" CPUs xmit>peer rx>irq: {r[d]['cpus']}")
        # With BENCH_KPROBES=1: the reply's path from the end of its handler to GRO, each
        # probe's first hit (median). A hit costs about 5 us under TCG: compare windows with as
        # many probes in both columns.
        for d in drvs:
            kp = sorted(r[d]["kprobes_median_us"].items(), key=lambda kv: kv[1])
            if kp:
                print(f"  {d}: from the handler's end: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in kp) +
                    f", GRO {r[d]['kprobes_to_gro_median_us']:.1f} us")
    (run / "rtt-trace.json").write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
