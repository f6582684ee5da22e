#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0

"""
Allocation failures injected (failslab, fail_page_alloc in debugfs) into
the device's open and receive paths. Open may fail, nothing may crash,
at least one failure must really have been injected (an attribute's
"times" counts down on each), and afterwards a normal open must succeed
and the device pass strict pings and checked transfers.

  open_driver_alloc  the driver's own allocations in open (stacktrace
                     filter on the module's text), with the RX ring at
                     its largest, for several amounts allowed first
  open_task_alloc    every allocation of the task that opens the device
                     (task filter: the core's allocations too)
  rx_alloc           the driver's allocations under receive traffic
                     (RX refill); its allocation failure counter, if it
                     has one, must count them

Needs CONFIG_FAULT_INJECTION_DEBUG_FS with CONFIG_FAILSLAB and/or
CONFIG_FAIL_PAGE_ALLOC (and CONFIG_FAULT_INJECTION_STACKTRACE_FILTER for
the module filter); skips otherwise.
"""

import errno
import os
import time

from lib.py import ksft_run, ksft_exit, ksft_pr, ksft_ge, ksft_disruptive
from lib.py import KsftSkipEx
from lib.py import NetDrvEpEnv, EthtoolFamily, NetdevFamily, NlError
from lib.py import cmd, defer
from nic_lib import Traffic, cmd_timeout, dev_driver, keep_addr_on_down, \
    link_set, wait_carrier, xfer_check

DEBUGFS = "/sys/kernel/debug"
KNOBS = ("verbose", "interval", "space", "task-filter", "ignore-gfp-wait",
         "ignore-gfp-highmem", "min-order", "cache-filter", "require-start",
         "require-end", "reject-start", "reject-end", "times", "probability")


class FaultAttr:
    """One fault attribute in debugfs; its knobs are restored by defer()."""

    def __init__(self, name):
        self.name = name
        self.path = f"{DEBUGFS}/{name}"
        self.knobs = [k for k in KNOBS if os.path.exists(f"{self.path}/{k}")]
        saved = {k: self._rd(k) for k in self.knobs}
        defer(self._apply, saved)
        self.times = 0

    def _rd(self, knob):
        with open(f"{self.path}/{knob}", encoding="ascii") as fp:
            return fp.read().strip()

    def _apply(self, vals):
        # Probability last: nothing is injected before the filters are set.
        for knob in self.knobs:
            if knob in vals and knob != "probability":
                with open(f"{self.path}/{knob}", "w", encoding="ascii") as fp:
                    fp.write(str(vals[knob]))
        if "probability" in vals:
            with open(f"{self.path}/probability", "w", encoding="ascii") as fp:
                fp.write(str(vals["probability"]))

    def arm(self, space=0, times=1, probability=100, task=False, text=None):
        """Fail allocations after space bytes, up to `times` of them; of the task
        that asks (task) or with a caller in text = (start, end)."""
        start, end = text or (0, (1 << 64) - 1)
        self.times = times
        self._apply({"probability": 0})
        self._apply({"verbose": 0, "interval": 1, "space": space,
                     "task-filter": "Y" if task else "N",
                     "ignore-gfp-wait": "N", "ignore-gfp-highmem": "N",
                     "min-order": 0, "cache-filter": "N",
                     "require-start": hex(start), "require-end": hex(end),
                     "reject-start": 0, "reject-end": 0,
                     "times": times, "probability": probability})

    def disarm(self):
        """Stop injecting; return how many failures were injected."""
        self._apply({"probability": 0})
        left = int(self._rd("times"))
        self._apply({"times": 0})
        return self.times - left if self.times > 0 else 0


def _attrs(stacktrace):
    if not os.path.ismount(DEBUGFS):
        raise KsftSkipEx("debugfs not mounted")
    names = [n for n in ("failslab", "fail_page_alloc")
             if os.path.isdir(f"{DEBUGFS}/{n}")]
    if not names:
        raise KsftSkipEx("no failslab or fail_page_alloc in debugfs "
                         "(CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC)")
    if stacktrace and not os.path.exists(f"{DEBUGFS}/{names[0]}/require-start"):
        raise KsftSkipEx("no stacktrace filter "
                         "(CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)")
    return [FaultAttr(n) for n in names]


def _module_text(cfg):
    """(start, end) of the driver module's memory, or skip."""
    _, drv, mod = dev_driver(cfg.ifname)
    if not mod:
        raise KsftSkipEx(f"driver {drv} of {cfg.ifname} is not a module")
    with open("/proc/modules", encoding="ascii") as fp:
        for line in fp:
            f = line.split()
            if f[0] == mod:
                base = int(f[5], 16)
                if not base:
                    raise KsftSkipEx("module addresses hidden (kptr_restrict)")
                return base, base + int(f[1])
    raise KsftSkipEx(f"{mod} not in /proc/modules")


def _open(cfg, task_fail=False):
    """ip link set up (by a task marked make-it-fail); True if it worked."""
    up = f"ip link set dev {cfg.ifname} up"
    if task_fail:
        up = f"sh -c 'echo 1 > /proc/self/make-it-fail && exec {up}'"
    return cmd(up, shell=True, fail=False, timeout=cmd_timeout(cfg)).ret == 0


def _reopen(cfg):
    """The uninjected open after the faults, then traffic."""
    link_set(cfg, "down")
    link_set(cfg, "up")
    wait_carrier(cfg)
    xfer_check(cfg)


def _open_faults(cfg, attrs, points, **arm):
    injected = failed = 0
    for attr in attrs:
        for k in points:
            link_set(cfg, "down")
            attr.arm(space=k * (4096 if attr.name == "fail_page_alloc" else 64),
                     **arm)
            failed += not _open(cfg, task_fail=arm.get("task", False))
            injected += attr.disarm()
    ksft_pr(f"{injected} failures injected, open failed {failed} times "
            f"of {len(attrs) * len(points)}")
    ksft_ge(injected, 1, "no failure was injected")


@ksft_disruptive
def open_driver_alloc(cfg) -> None:
    """Failures of the driver's own allocations in open."""
    attrs = _attrs(stacktrace=True)
    text = _module_text(cfg)
    keep_addr_on_down(cfg)
    defer(link_set, cfg, "up")
    # The largest RX ring, so that open allocates the most.
    ehdr = {"header": {"dev-index": cfg.ifindex}}
    try:
        rings = EthtoolFamily().rings_get(ehdr)
        if rings.get("rx-max", 0) > rings.get("rx", 0):
            link_set(cfg, "down")
            EthtoolFamily().rings_set(ehdr | {"rx": rings["rx-max"]})
            defer(EthtoolFamily().rings_set, ehdr | {"rx": rings["rx"]})
    except NlError as e:
        ksft_pr(f"RX ring stays as it is: {e}")
    _open_faults(cfg, attrs, (0, 1, 8, 64, 512, 2048), text=text)
    _reopen(cfg)


@ksft_disruptive
def open_task_alloc(cfg) -> None:
    """Failures of every allocation of the opening task."""
    attrs = _attrs(stacktrace=False)
    if not os.path.exists("/proc/self/make-it-fail"):
        raise KsftSkipEx("no /proc/self/make-it-fail")
    keep_addr_on_down(cfg)
    defer(link_set, cfg, "up")
    _open_faults(cfg, attrs, (0, 1, 2, 3, 5, 8, 16, 32, 64, 128, 200, 255),
                 task=True)
    _reopen(cfg)


def _alloc_fail_count(cfg):
    """The driver's RX allocation failure count: ethtool -S counters
    named *alloc*fail*, else qstats rx-alloc-fail; None if neither."""
    out = cmd(f"ethtool -S {cfg.ifname}", fail=False).stdout
    vals = [int(v) for n, _, v in
            (line.strip().rpartition(":") for line in out.splitlines())
            if "alloc" in n and "fail" in n and v.strip().isdigit()]
    if vals:
        return sum(vals)
    try:
        q = NetdevFamily().qstats_get({"ifindex": cfg.ifindex}, dump=True)
    except NlError as e:
        if e.nl_msg.error == -errno.EOPNOTSUPP:
            return None
        raise
    return q[0].get("rx-alloc-fail") if q else None


@ksft_disruptive
def rx_alloc(cfg) -> None:
    """Failures of the driver's allocations under receive traffic."""
    attrs = _attrs(stacktrace=True)
    text = _module_text(cfg)
    count0 = _alloc_fail_count(cfg)
    traffic = Traffic(cfg, "rx")
    for attr in attrs:
        attr.arm(times=1000000, probability=20, text=text)
    time.sleep(4)
    injected = sum(attr.disarm() for attr in attrs)
    traffic.check_flowing("after the faults")
    traffic.stop()
    count1 = _alloc_fail_count(cfg)
    ksft_pr(f"{injected} failures injected; driver's count {count0} -> "
            f"{count1}")
    ksft_ge(injected, 1, "no failure was injected")
    if count0 is not None:
        ksft_ge(count1 - count0, 1, "the driver counted no failure")
    xfer_check(cfg, directions=("rx",))


def main() -> None:
    """Ksft boiler plate main"""
    with NetDrvEpEnv(__file__) as cfg:
        ksft_run([open_driver_alloc, open_task_alloc, rx_alloc], args=(cfg,))
    ksft_exit()


if __name__ == "__main__":
    main()
