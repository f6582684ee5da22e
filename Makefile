# SPDX-License-Identifier: GPL-2.0
#
# rustnic: Rust network drivers for Linux 7.3 and the QEMU harness that
# tests them. Every target does whatever set-up it needs first.
#
#   make run    boot the kernel, bind the NIC to the driver, 10 s of iperf3
#               (NIC=e1000|virtio DRIVER=rust|c)
#   make test   functional tests + kernel selftests, C and Rust drivers
#               (NIC="e1000 virtio" DRIVER="c rust" TESTS=name,name)
#   make bench  C vs Rust, alternating in one boot: medians and ratios
#   make series the work as a git format-patch series (build/series/)
#   make series-check  prove it: git am, checkpatch, the bisection build
#   make deps | kernel | image | clean
#   KDIR=/path/to/linux  build, boot and test that 7.3 git tree, with the
#               series applied on a new branch of it, instead of Debian's

SHELL := /bin/bash
CONFIG ?= default
export NIC DRIVER TESTS CONFIG KDIR

.PHONY: all deps kernel image run test bench series series-check clean

all: kernel

deps:
	@bash ci/deps.sh

kernel: deps
	@bash ci/kernel.sh $(CONFIG)

image: deps
	@bash qemu-images/build.sh >/dev/null

run: kernel image
	@bash tests/harness.sh run

test: kernel image
	@bash tests/harness.sh test

# Not a test: alternates the C and the Rust driver on one NIC in one boot
# (BENCH_ROUNDS=3, BENCH_SECS=10) and reports medians and Rust/C ratios in
# build/bench/ (JSON, PNG).
bench: kernel image
	@bash tests/harness.sh bench

series: deps
	@bash ci/series.sh

series-check: deps
	@bash ci/series.sh check

clean:
	rm -rf build
