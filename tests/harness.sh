#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the built kernel in QEMU (TCG) with virtme-ng, two NICs of one model on
# tap devices bridged inside a private host network namespace, and run the
# guest side (tests/guest/main.sh) for each NIC model.
#
# Usage: tests/harness.sh run|test
# Environment: NIC=e1000|virtio|"e1000 virtio"  DRIVER=c|rust|"c rust"
#              TESTS=comma-separated filter  CONFIG=variant (default)
set -euo pipefail
. "$(dirname "$0")/../ci/lib.sh"

MODE=${1:?usage: harness.sh run|test}
VARIANT=${CONFIG:-default}
OUT=$OUT_BASE-$VARIANT
# The debug kernel boots with 4-level paging: with 5-level paging (QEMU's
# "max" CPU has LA57), an interrupt in the window where identify_cpu()
# clears the boot CPU's feature bits makes KASAN compute its shadow start
# for 4 levels and report a wild-memory-access in rcu_is_watching() at
# 0.004 s; the taint then turns lockdep off for the whole boot.
KERNEL_APPEND=
[ "$VARIANT" = debug ] && KERNEL_APPEND=no5lvl
case "$MODE" in
run) NICS=${NIC:-e1000} DRIVERS=${DRIVER:-rust} ;;
test) NICS=${NIC:-e1000 virtio sample} DRIVERS=${DRIVER:-c rust} ;;
exec) NICS=${NIC:-e1000} DRIVERS=${DRIVER:-c} ;; # debugging: runs $EXEC in the guest
bench) NICS=${NIC:-e1000} DRIVERS=${DRIVER:-c rust} ;;
*) die "unknown mode $MODE" ;;
esac
BOOT_TIMEOUT=${BOOT_TIMEOUT:-3600}
PY=$CACHE/venv/bin/python3
RUN=$LOGS/$MODE-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
ln -sfn "$RUN" "$LOGS/$MODE-latest"

[ -f "$OUT/arch/x86/boot/bzImage" ] || die "no kernel in $OUT: run 'make kernel'"

# Guest root: the cached debootstrap image, hard-linked (never written
# through), plus this kernel's modules, our tests and the selftests.
prepare_root() {
	local rootfs groot=$BUILD/guest-root kver
	rootfs=$("$TOP/qemu-images/build.sh")
	stage_begin guest-root
	rm -rf "$groot"
	cp -al "$rootfs" "$groot"
	# Without udevd, virtme-ng-init skips udev: on a debug kernel its
	# coldplug did not settle within udevadm's 300 s. The tests load and
	# bind every driver themselves. (Removing the link leaves the cached
	# image alone.)
	if [ "$VARIANT" = debug ]; then
		rm -f "$groot/usr/lib/systemd/systemd-udevd" "$groot/lib/systemd/systemd-udevd"
	fi
	kver=$(cat "$OUT/include/config/kernel.release")
	rm -rf "$groot/usr/lib/modules"
	make -s -C "$KSRC" O="$OUT" "${KMAKE[@]}" INSTALL_MOD_PATH="$groot/usr" \
		INSTALL_MOD_STRIP=1 DEPMOD=/sbin/depmod modules_install >/dev/null
	[ -f "$groot/usr/lib/modules/$kver/modules.dep" ] || die "modules_install failed"
	mkdir -p "$groot/opt/rustnic/out"
	cp -r "$TOP/tests" "$groot/opt/rustnic/tests"
	cp -r "$OUT/kselftest" "$groot/opt/rustnic/kselftest"
	# Byte-compiled here, by the guest's own Python: the guest does not
	# cache what it compiles, and every selftest would otherwise compile
	# the selftests' lib/py again (3.6 s of each one's start under TCG,
	# 2.0 s compiled).
	chroot "$groot" python3 -m compileall -q /opt/rustnic/kselftest /opt/rustnic/tests >/dev/null
	GROOT=$groot
	stage_end guest-root
}

NETNS=rustnic-$$
cleanup() {
	ip netns pids "$NETNS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$NETNS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Two taps joined by a bridge in a private netns, MTU 12000.
make_topology() {
	local vnet=$1
	ip netns add "$NETNS"
	ip -n "$NETNS" link set lo up
	ip -n "$NETNS" link add br0 type bridge stp_state 0 mcast_snooping 0
	local t
	for t in tap0 tap1; do
		# shellcheck disable=SC2046
		ip -n "$NETNS" tuntap add "$t" mode tap $([ "$vnet" = 1 ] && echo vnet_hdr)
		ip -n "$NETNS" link set "$t" mtu 12000 master br0 up
	done
	ip -n "$NETNS" link set br0 mtu 12000 up
	# br_netfilter (loaded on hosts that run containers) would validate and
	# drop the malformed IP frames that the tests inject: the bridge must be
	# a plain wire.
	local f
	for f in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
		if ip netns exec "$NETNS" test -e "/proc/sys/net/bridge/$f"; then
			ip netns exec "$NETNS" sysctl -qw "net.bridge.$f=0"
		fi
	done
}

qemu_nics() {
	local nic=$1 i dev vnet
	case "$nic" in
	e1000) dev=e1000 vnet=off ;;
	virtio) dev=virtio-net-pci vnet=on ;;
	*) return 0 ;; # sample: virtual devices only
	esac
	for i in 0 1; do
		printf ' -netdev tap,id=n%d,ifname=tap%d,script=no,downscript=no,vhost=off,vnet_hdr=%s' "$i" "$i" "$vnet"
		printf ' -device %s,netdev=n%d,addr=0x1%d,mac=52:54:00:12:34:%02x' "$dev" "$i" "$i" $((0x10 + i))
	done
}

# Tunables of the guest's tests, passed through when set on the host.
GUEST_VARS="SAMPLE_CYCLES RMMOD_CYCLES FLAP_CYCLES RESIZE_CYCLES BENCH_ROUNDS BENCH_SECS BENCH_SETTINGS BENCH_TRACE REGS_MB BENCH_KPROBES"
guest_env() {
	local v
	for v in $GUEST_VARS; do
		# (Quoted: BENCH_SETTINGS may hold two words.)
		[ -n "${!v:-}" ] && printf "%s='%s' " "$v" "${!v}"
	done
	return 0
}

boot_guest() {
	local nic=$1 dir=$RUN/$nic${BOOT_TAG:-}
	mkdir -p "$dir"
	make_topology "$([ "$nic" = virtio ] && echo 1 || echo 0)"
	local t0=$(date +%s) rc=0
	log "boot: $nic, drivers: $DRIVERS"
	# shellcheck disable=SC2086
	# (Through a pipe: QEMU reopens its stdout for the guest's console, and a
	# file would then have two writers at two offsets, one overwriting the
	# other's start.)
	timeout --kill-after=30 "$BOOT_TIMEOUT" ip netns exec "$NETNS" \
		"$VNG" --run "$OUT" --root "$GROOT" --disable-kvm --user root \
		--verbose --cpus 2 --memory 3G --rwdir "/opt/rustnic/out=$dir" \
		--append "net.ifnames=0 loglevel=4 $KERNEL_APPEND" \
		-o "$(qemu_nics "$nic") ${QEMU_EXTRA:-}" \
		--exec "${EXEC:-env RUSTNIC_KUNIT=$KUNIT_BOOT $(guest_env) /opt/rustnic/tests/guest/main.sh $MODE $nic ${DRIVERS// /,} ${TESTS:-}}" \
		</dev/null 2>&1 | cat >"$dir/console.log" || rc=${PIPESTATUS[0]}
	grep -E '^RESULT |iperf3 TCP|rustnic-guest:' "$dir/console.log" >&2 || true
	log "boot: $nic finished in $(($(date +%s) - t0))s (exit $rc)"
	echo "boot-$MODE-$nic $(($(date +%s) - t0))" >>"$LOGS/stage-times.txt"
	cleanup
	if ! grep -q 'rustnic-guest: done' "$dir/console.log"; then
		echo "$nic/guest boot fail guest did not finish (exit $rc, see $dir/console.log)" >>"$dir/results.txt"
	fi
}

prepare_root
# Host-side checks of the abstractions: their compile_fail examples.
if [ "$MODE" = test ] && { [ -z "${TESTS:-}" ] || [[ ",$TESTS," == *,compile_fail,* ]]; }; then
	mkdir -p "$RUN/host"
	stage_begin compile-fail
	"$TOP/tests/compile_fail.sh" "$RUN/host/results.txt"
	stage_end compile-fail
fi
# Host-side checks of the patch series (not of a KDIR= tree, which is the
# series applied): it applies with git am, checkpatch, the bisection build.
if [ "$MODE" = test ] && [ -z "${KDIR:-}" ] && { [ -z "${TESTS:-}" ] || [[ ",$TESTS," == *,series,* ]]; }; then
	mkdir -p "$RUN/host"
	bash "$TOP/ci/series.sh" check "$RUN/host/results.txt" >"$RUN/host/series.log" 2>&1 || true
fi
# KUnit runs at every boot; its results are recorded from the first one.
KUNIT_BOOT=1
for nic in $NICS; do
	# virtio_net_rust is not at parity with virtio_net yet (one queue pair, no
	# offloads): `make test` leaves it out unless DRIVER names it.
	if [ "$MODE" = test ] && [ "$nic" = virtio ] && [ -z "${DRIVER:-}" ]; then
		DRIVERS=c boot_guest "$nic"
	else
		boot_guest "$nic"
	fi
	KUNIT_BOOT=0
done

if [ "$MODE" = bench ]; then
	for nic in $NICS; do
		"$PY" "$TOP/tests/bench_report.py" "$RUN/$nic/bench.jsonl" "$BUILD/bench" "$nic" \
			"${BENCH_ROUNDS:-3}" "$RUN/$nic/results.txt" || exit 1
		if [ "${BENCH_TRACE:-0}" = 1 ]; then
			"$PY" "$TOP/tests/rtt_trace.py" "$RUN/$nic" || exit 1
		fi
	done
	# Register accesses per MB: one more boot with QEMU tracing MMIO (slow,
	# so short transfers; only with BENCH_REGS=1).
	if [ "${BENCH_REGS:-0}" = 1 ]; then
		for nic in $NICS; do
			[ "$nic" = e1000 ] || continue
			BOOT_TAG=-regs MODE=regs QEMU_EXTRA="-trace enable=memory_region_ops_read -trace enable=memory_region_ops_write -D $RUN/$nic-regs.trace" \
				EXEC="env $(guest_env)/opt/rustnic/tests/guest/main.sh regs $nic ${DRIVERS// /,}" boot_guest "$nic"
			python3 "$TOP/tests/regcount.py" "$RUN/$nic-regs.trace" "$RUN/$nic-regs/console.log" \
				"$BUILD/bench/regs-$nic-$(date +%Y%m%d-%H%M%S).json" || exit 1
			rm -f "$RUN/$nic-regs.trace"
		done
	fi
	exit 0
fi

# The Rust driver is held to every test the C driver passes on the same NIC
# (tests/columns.py): each one it does not pass is a failure.
for nic in $NICS; do
	[ -f "$RUN/$nic/results.txt" ] || continue
	python3 "$TOP/tests/columns.py" --record "$RUN/$nic/results.txt" >"$RUN/$nic/vs-c.txt"
	cat "$RUN/$nic/vs-c.txt" >>"$RUN/$nic/results.txt"
done

# Summary: one line per test; last line "N passed, N failed, N skipped". A
# flake (failed, then passed when rerun) is counted with the passes and
# listed apart.
pass=0 fail=0 skip=0 xfail=0 flake=0
while read -r drv name res rest; do
	printf '%-14s %-48s %s%s\n' "$drv" "$name" "$res" "${rest:+  ($rest)}"
	case "$res" in
	pass) pass=$((pass + 1)) ;;
	flake) flake=$((flake + 1)) pass=$((pass + 1)) ;;
	xfail) xfail=$((xfail + 1)) ;;
	skip) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
done < <(cat "$RUN"/*/results.txt 2>/dev/null)
echo "logs: $RUN"
# Failures again at the end, with the tail of their logs: CI shows only the
# last lines of the output.
while read -r drv name res rest; do
	case "$res" in pass | flake | xfail | skip) continue ;; esac
	echo "FAILED: $drv $name${rest:+ ($rest)}"
	f="$RUN/${drv%%/*}/${drv//\//-}/$name.log"
	[ -f "$f" ] && tail -n 8 "$f" | sed 's/^/    | /'
done < <(cat "$RUN"/*/results.txt 2>/dev/null)
((xfail)) && echo "expected failures (tests/expect): $xfail"
if ((flake)); then
	echo "flaky (failed, then passed when rerun; counted as passed): $flake"
	cat "$RUN"/*/results.txt | awk '$3 == "flake" { print "    " $1 " " $2 }'
fi
echo "$pass passed, $fail failed, $((skip + xfail)) skipped"
((fail == 0))
