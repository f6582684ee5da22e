#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the QEMU guest. main.sh MODE NIC DRIVERS [TESTS]
#   MODE    run (iperf3 through the NIC) | test (functional + selftests)
#   NIC     e1000 | virtio
#   DRIVERS comma-separated: c,rust
#   TESTS   optional comma-separated filter of test names (test mode)
set -u
. "$(dirname "$0")/lib.sh"

MODE=$1 NIC=$2 DRIVERS=$3 FILTER=${4:-}
BLOB=/tmp/rustnic-blob
mkdir -p "$OUT"
: >"$RESULTS"

setup_peer() {
	local mod bus drv peer
	read -r mod bus drv < <(driver_table "$NIC" c)
	modprobe "$mod" || return 1
	bind_to "$PEER_BDF" "$bus" "$drv" || return 1
	wait_netdev "$PEER_BDF" >/dev/null || return 1
	peer=$(netdev_of "$PEER_BDF")
	ip netns add "$NS"
	ip link set "$peer" netns "$NS"
	in_peer ip link set lo up
	in_peer ip link set "$peer" name peer0
	in_peer sysctl -qw net.ipv6.conf.peer0.keep_addr_on_down=1
	in_peer ip addr add "$REMOTE_V4/24" dev peer0
	in_peer ip addr add "$REMOTE_V6/64" dev peer0 nodad
	in_peer ip link set peer0 up
	PEER=peer0
}

# Bind the NIC under test to DRIVER and give it its addresses; sets DEV.
setup_dut() {
	local driver=$1 mod bus drv
	read -r mod bus drv < <(driver_table "$NIC" "$driver")
	if ! module_built "$mod"; then
		say "module $mod is not built"
		return 2
	fi
	modprobe "$mod" || return 1
	bind_to "$DUT_BDF" "$bus" "$drv" || { say "cannot bind $DUT_BDF to $drv"; return 1; }
	DEV=$(wait_netdev "$DUT_BDF") || { say "no netdev on $DUT_BDF"; return 1; }
	DRVNAME=$drv
	sysctl -qw "net.ipv6.conf.$DEV.keep_addr_on_down=1"
	sysctl -qw "net.ipv6.conf.$DEV.accept_dad=0"
	ip addr flush dev "$DEV"
	ip link set "$DEV" up
	ip addr add "$LOCAL_V4/24" dev "$DEV"
	ip addr add "$LOCAL_V6/64" dev "$DEV" nodad
	wait_carrier "$DEV"
}

# Undo what netdevice.sh or a test may have left (MTU, MAC, addresses, link
# down), touching only what differs: a link down/up costs seconds on e1000.
restore_dut() {
	if [ "$(cat /sys/class/net/"$DEV"/mtu)" != 1500 ]; then
		ip link set "$DEV" mtu 1500
	fi
	if [ "$(in_peer cat /sys/class/net/"$PEER"/mtu)" != 1500 ]; then
		in_peer ip link set "$PEER" mtu 1500
	fi
	if [ -n "${DUT_MAC:-}" ] && [ "$(cat /sys/class/net/"$DEV"/address)" != "$DUT_MAC" ]; then
		ip link set "$DEV" down
		ip link set "$DEV" address "$DUT_MAC"
	fi
	ip link set "$DEV" up
	ip addr replace "$LOCAL_V4/24" dev "$DEV"
	ip addr replace "$LOCAL_V6/64" dev "$DEV" nodad
	wait_carrier "$DEV"
	wait_carrier "$PEER" "$NS"
}

# scan_dmesg OWNER WHERE [LOG]: the kernel log since the last read, appended
# to LOG (default: OWNER's dmesg.log) and scanned as a test's own is. It
# covers what lies between the tests: the boot, a probe or bind, a test's
# cleanup, the shutdown. A splat there fails "$NIC/OWNER dmesg:WHERE".
scan_dmesg() {
	local owner=$1 where=$2 log=${3:-$OUT/$NIC-$1/dmesg.log} chunk splat
	mkdir -p "$(dirname "$log")"
	chunk=$(dmesg -c 2>/dev/null)
	[ -n "$chunk" ] || return 0
	printf '%s\n' "$chunk" >>"$log"
	splat=$(grep -E "$SPLAT_RE|$TIMEOUT_RE" <<<"$chunk" | head -1)
	[ -z "$splat" ] || record "$NIC/$owner" "dmesg:$where" fail "dmesg: $splat"
}

# run_test DRIVER NAME FUNCTION: 0 pass, 1 fail, 2 skip; a splat in dmesg fails.
run_test() {
	local driver=$1 name=$2 fn=$3 rc log splat why
	log=$OUT/$NIC-$driver/$name.log
	if [ -n "$FILTER" ] && [[ ",$FILTER," != *",$name,"* ]]; then
		return
	fi
	scan_dmesg "$driver" "before_$name"
	say "running $driver $name"
	"$fn" >"$log" 2>&1
	rc=$?
	dmesg -c >"$log.dmesg" 2>/dev/null
	cat "$log.dmesg" >>"$OUT/$NIC-$driver/dmesg.log"
	splat=$(grep -E "$SPLAT_RE|$TIMEOUT_RE" "$log.dmesg" | head -1)
	if [ -n "$splat" ]; then
		record "$NIC/$driver" "$name" fail "dmesg: $splat"
	elif [ $rc = 0 ]; then
		record "$NIC/$driver" "$name" pass
	elif [ $rc = 2 ]; then
		record "$NIC/$driver" "$name" skip "$(tail -1 "$log")"
	elif why=$(expectation "$driver" "$name"); then
		record "$NIC/$driver" "$name" xfail "$why"
	else
		record "$NIC/$driver" "$name" fail "$(tail -1 "$log")"
	fi
}

# ---------------------------------------------------------------- tests

t_tcp_sha_tx() { tcp_sha "$BLOB" tx; }

# ------------------------------------------------- the harness's own tests
# Each passes only if the harness catches a fault that is injected on purpose.

# A WARN_ON provoked through LKDTM must make a test fail.
t_harness_warn() {
	local saved=$RESULTS line FILTER=
	modprobe lkdtm || { echo "no lkdtm"; return 1; }
	RESULTS=/tmp/rustnic-harness-results
	: >"$RESULTS"
	provoke() { echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT; return 0; }
	run_test harness provoke_warn provoke >/dev/null
	RESULTS=$saved
	line=$(cat /tmp/rustnic-harness-results)
	echo "inner result: $line"
	rmmod lkdtm
	[[ "$line" == *" provoke_warn fail dmesg: "*WARNING* ]]
}

# ---------------------------------------------------------------- selftests

# Our NIC tests (tools/testing/selftests/drivers/net/hw/ in this overlay)
# and the upstream selftests that exercise what our drivers implement.
NIC_TESTS=(drivers/net/hw/nic_info.py drivers/net/hw/xfer.py drivers/net/hw/counters.py
	drivers/net/hw/reconfig_traffic.py drivers/net/hw/bad_frames.py
	drivers/net/hw/e1000_tx_timeout.py drivers/net/hw/driver_reload.py
	drivers/net/hw/fault_inject.py)
SELFTESTS=(drivers/net/ping.py drivers/net/stats.py drivers/net/napi_id.py
	drivers/net/queues.py drivers/net/ring_reconfig.py drivers/net/netpoll_basic.py
	drivers/net/hw/csum.py drivers/net/hw/tso.py drivers/net/hw/pp_alloc_fail.py)

expectation() {
	local driver=$1 case=$2 f=$RUSTNIC/tests/expect/$NIC-$driver.txt
	[ -f "$f" ] || return 1
	awk -v c="$case" '$1 == c { $1 = ""; sub(/^ /, ""); print; found = 1; exit } END { exit !found }' "$f"
}

# The KTAP case lines of log $1 as "RESULT NAME COMMENT" (RESULT: ok or
# not_ok; NAME without the test's prefix), without the totals.
ktap_cases() {
	sed -nE 's/^(not )?ok [0-9]+ [A-Za-z0-9_]+\.([^ #]+) *(# *(.*))?$/\1ok \2 \4/p' "$1" | sed 's/^not ok/not_ok/'
}

# Record each KTAP case of a kselftest as its own result. A case that
# failed and passed when rerun (log $4) is a flake, not a pass.
record_ktap() {
	local driver=$1 prefix=$2 log=$3 rerun=$4 splat=$5 ok name comment res why again how
	while read -r ok name comment; do
		case "$ok:$comment" in
		ok:SKIP*) res=skip why=${comment#SKIP} ;;
		ok:XFAIL*) res=xfail why=${comment#XFAIL} ;;
		ok:*) res=pass why= ;;
		*) res=fail why= ;;
		esac
		why=${why# }
		if [ -n "$splat" ] && [ "$res" != skip ]; then
			res=fail why="dmesg: $splat"
		elif [ "$res" = fail ] && why=$(expectation "$driver" "$prefix:$name"); then
			res=xfail
		elif [ "$res" = fail ] && [ -f "$rerun" ]; then
			again=$(ktap_cases "$rerun" | awk -v n="$name" '$2 == n { $2 = ""; print; exit }')
			if [ "${again%% *}" = ok ]; then
				# (A rerun that ends in SKIP or XFAIL says so.)
				how=$(echo "${again#ok}" | sed 's/^ *//')
				res=flake why="failed, ${how:-passed} when rerun ($(basename "$log"), $(basename "$rerun"))"
			else
				why="failed twice ($(basename "$log"), $(basename "$rerun"))"
			fi
		fi
		record "$NIC/$driver" "$prefix:$name" "$res" "$why"
	done < <(ktap_cases "$log")
}

# Arguments for a kselftest on a driver, on one line. Under TCG the long
# cases run for the Rust drivers only, as in the C driver's column they only
# restate upstream's testing: the 1 GiB transfers (over two minutes each way;
# IPv4 only) and the flap and ring-resize cycles under traffic.
selftest_args() {
	local name=$1 driver=$2
	case "$name:$driver" in
	xfer:rust) [ "$NIC" = sample ] && echo "-T tcp_1g_*" || echo "-T tcp_1g_*_v6*" ;;
	xfer:*) echo "-T tcp_1g_*" ;;
	reconfig_traffic:c) echo "-T flap_traffic -T ring_traffic" ;;
	esac
}

# Tools the selftests call, as they need them here (first on their PATH).
# bpftrace: netpoll_basic.py gives it 30 s to start and run 10 s while the
# test's own traffic keeps both vCPUs busy; under TCG it starts too late at
# normal priority, so it runs at a real-time one (it mostly sleeps).
TOOLS_BIN=/tmp/rustnic-bin
mkdir -p "$TOOLS_BIN"
printf '#!/bin/sh\nexec chrt -f 10 /usr/bin/bpftrace "$@"\n' >"$TOOLS_BIN/bpftrace"
chmod +x "$TOOLS_BIN/bpftrace"

# One run of a kselftest into $2, with arguments $3...; sets RC.
selftest_once() {
	local t=$1 log=$2
	shift 2
	restore_dut
	warm_neigh
	(cd "$RUSTNIC/kselftest/$(dirname "$t")" &&
		PATH=$TOOLS_BIN:$PATH NETIF=$DEV LOCAL_V4=$LOCAL_V4 REMOTE_V4=$REMOTE_V4 LOCAL_V6=$LOCAL_V6 \
			REMOTE_V6=$REMOTE_V6 REMOTE_TYPE=netns REMOTE_ARGS=$NS \
			XFER_MB=$BLOB_MB CMD_TIMEOUT=$CMD_TIMEOUT \
			timeout "${SELFTEST_TIMEOUT:-2400}" python3 "./$(basename "$t")" "$@") >"$log" 2>&1
	RC=$?
}

# The TX timeouts of the device under test so far (all its queues).
tx_timeouts() {
	local f n=0 v
	for f in /sys/class/net/"$DEV"/queues/tx-*/tx_timeout; do
		read -r v <"$f" 2>/dev/null && n=$((n + v))
	done
	echo "$n"
}

run_selftest() {
	local driver=$1 t=$2 name log splat rc c timeouts state
	local -a args=() rerun=()
	name=$(basename "$t" .py)
	if [ -n "$FILTER" ] && [[ ",$FILTER," != *",$name,"* ]] && [[ ",$FILTER," != *",selftests,"* ]]; then
		return
	fi
	log=$OUT/$NIC-$driver/selftest-$name.log
	scan_dmesg "$driver" "before_$name"
	say "running $driver selftest $t"
	read -ra args < <(selftest_args "$name" "$driver"; echo)
	if [ "$name" = netpoll_basic ]; then
		# bpftrace's first start in a boot reads its LLVM libraries over 9p
		# (2-7 s here): done once before, so that the 30 s netpoll_basic.py
		# gives it go to its probe.
		c=$SECONDS
		timeout 300 bpftrace -e 'BEGIN { exit(); }' >/dev/null 2>&1
		say "bpftrace warm-up: $((SECONDS - c)) s"
	fi
	timeouts=$(tx_timeouts)
	state=$(dut_state)
	selftest_once "$t" "$log" "${args[@]}"
	rc=$RC
	# Under TCG the guest's CPU is saturated and the selftests' own timeouts
	# (e.g. 20 s to stop 16 iperf3 streams) are sometimes missed: the cases
	# that failed unexpectedly run once more, alone. One that passes then is
	# a flake, reported as such; both logs are kept; a splat in either fails.
	while read -r _ c _; do
		expectation "$driver" "$name:$c" >/dev/null || rerun+=(-t "$c")
	done < <(ktap_cases "$log" | grep '^not_ok ')
	rm -f "$log.rerun"
	if ((${#rerun[@]})); then
		say "rerunning $driver selftest $t: ${rerun[*]}"
		selftest_once "$t" "$log.rerun" "${rerun[@]}"
	fi
	dmesg -c >"$log.dmesg" 2>/dev/null
	cat "$log.dmesg" >>"$OUT/$NIC-$driver/dmesg.log"
	splat=$(grep -E "$SPLAT_RE" "$log.dmesg" | head -1)
	if [ "$name" != e1000_tx_timeout ]; then
		[ -n "$splat" ] || splat=$(grep -E "$TIMEOUT_RE" "$log.dmesg" | head -1)
		# (A test that re-creates the device, driver_reload, restarts its
		# counters: only a rise counts.)
		c=$(tx_timeouts)
		if ((c > timeouts)); then
			record "$NIC/$driver" "$name:tx_timeouts" fail "a TX queue timed out ($timeouts -> $c)"
		fi
	fi
	check_restored "$driver" "$name" "$state"
	if [ -z "$(ktap_cases "$log")" ]; then
		record "$NIC/$driver" "$name" fail "no KTAP cases (exit $rc)"
		return
	fi
	record_ktap "$driver" "$name" "$log" "$log.rerun" "$splat"
	[ $rc = 124 ] && record "$NIC/$driver" "$name" fail "timed out"
}

# What a test must leave as it found it: the NIC under test's link (state,
# carrier, MTU, MAC, global addresses), rings, channels, offloads and
# coalescing, and the peer's link. One line per item.
dut_state() {
	ip -o link show dev "$DEV" | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//'
	ip -o addr show dev "$DEV" scope global | awk '{ print $3, $4 }' | sort
	in_peer ip -o link show dev "$PEER" | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//'
	in_peer ip -o addr show dev "$PEER" scope global | awk '{ print "peer", $3, $4 }' | sort
	local o
	for o in -g -l -k -c; do
		ethtool "$o" "$DEV" 2>&1 | sed "s/^/ethtool $o: /"
	done
}

# After a test: the state it started from is back (dut_state, once the
# carrier is), and traffic flows both ways (3 echoes of 3, IPv4 and IPv6).
# A failure is "NAME:restore"; the harness then restores what it can, so
# that the next test starts clean.
check_restored() {
	local driver=$1 name=$2 before=$3 after why=
	wait_carrier "$DEV"
	wait_carrier "$PEER" "$NS"
	after=$(dut_state)
	if [ "$after" != "$before" ]; then
		why="state differs: $(diff <(echo "$before") <(echo "$after") | grep -m1 '^[<>]')"
	elif ! ping -q -c 3 -i 0.2 -W 2 "$REMOTE_V4" >/dev/null ||
		! ping -q -c 3 -i 0.2 -W 2 "$REMOTE_V6" >/dev/null; then
		why="no traffic: ping $REMOTE_V4 or $REMOTE_V6 lost an echo"
	else
		echo "# rustnic: state restored ($(wc -l <<<"$after") lines compared), IPv4 and IPv6 echoes" \
			>>"$OUT/$NIC-$driver/selftest-$name.log"
		return 0
	fi
	{
		echo "state before:"
		echo "$before"
		echo "state after:"
		echo "$after"
	} >>"$OUT/$NIC-$driver/selftest-$name.log"
	local known
	if known=$(expectation "$driver" "$name:restore"); then
		record "$NIC/$driver" "$name:restore" xfail "$known ($why)"
	else
		record "$NIC/$driver" "$name:restore" fail "$why"
	fi
	restore_dut >/dev/null 2>&1
	warm_neigh
}

run_netdevice_sh() {
	local driver=$1 log splat line res name
	log=$OUT/$NIC-$driver/selftest-netdevice.log
	if [ -n "$FILTER" ] && [[ ",$FILTER," != *",netdevice,"* ]] && [[ ",$FILTER," != *",selftests,"* ]]; then
		return
	fi
	scan_dmesg "$driver" before_netdevice
	ip link set "$DEV" down
	say "running $driver selftest net/netdevice.sh"
	timeout 600 sh "$RUSTNIC/kselftest/net/netdevice.sh" >"$log" 2>&1
	dmesg -c >"$log.dmesg" 2>/dev/null
	cat "$log.dmesg" >>"$OUT/$NIC-$driver/dmesg.log"
	splat=$(grep -E "$SPLAT_RE|$TIMEOUT_RE" "$log.dmesg" | head -1)
	while IFS= read -r line; do
		res=${line%%:*}
		name=${line#*: }
		name=${name#"$DEV": }
		# (The restore line names the state it restores, which differs
		# between drivers: not part of the name.)
		name="netdevice:$(echo "$name" | tr -c 'A-Za-z0-9_.\n-' '_' | sed -E 's/_to_initial_state_[a-z]+$//')"
		case "$res" in
		PASS) res=pass ;;
		FAIL) res=fail ;;
		XFAIL) res=xfail ;;
		SKIP) res=skip ;;
		*) continue ;;
		esac
		[ -n "$splat" ] && [ "$res" != skip ] && res=fail
		record "$NIC/$driver" "$name" "$res" "${splat:+dmesg: $splat}"
	done < <(grep -E '^(PASS|FAIL|XFAIL|SKIP):' "$log")
	restore_dut
}

# ------------------------------------------------ samples/rust/rust_net_pair

# Load the pair, put rnp1 in the peer netns; sets DEV and PEER.
sample_up() {
	modprobe rust_net_pair || return 1
	ip netns add "$NS" 2>/dev/null
	in_peer ip link set lo up
	cycle_up || return 1
	# IPv6, and addresses kept across link down (link_flap).
	sysctl -qw "net.ipv6.conf.$DEV.keep_addr_on_down=1"
	in_peer sysctl -qw "net.ipv6.conf.$PEER.keep_addr_on_down=1"
	in_peer ip addr add "$REMOTE_V6/64" dev "$PEER" nodad || return 1
	ip addr add "$LOCAL_V6/64" dev "$DEV" nodad
}

sample_down() {
	ip netns del "$NS" 2>/dev/null
	rmmod rust_net_pair
}

# kmemleak (debug kernels): two scans, then any suspected leak fails.
has_kmemleak() { [ -w /sys/kernel/debug/kmemleak ]; }
# Forget what boot and earlier tests left (kmemleak has boot-time false positives).
kmemleak_clear() { ! has_kmemleak || echo clear >/sys/kernel/debug/kmemleak; }
t_kmemleak() {
	local out
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	out=$(cat /sys/kernel/debug/kmemleak)
	[ -z "$out" ] && { echo "no suspected leaks"; return 0; }
	echo "$out" | head -60
	echo "kmemleak: $(echo "$out" | grep -c 'unreferenced object') suspected leaks"
	return 1
}

# The part of sample_up that the cycles need (IPv4 both ways), with the pair
# already loaded: two ip processes and no other fork, as each fork+exec costs
# a lot on a debug kernel under TCG.
cycle_up() {
	local devs=(/sys/class/net/rnp*) c i
	[ ${#devs[@]} = 2 ] || { echo "rust_net_pair made ${#devs[@]} devices"; return 1; }
	DEV=${devs[0]##*/} PEER=${devs[1]##*/}
	ip -b - <<-EOF || return 1
		link set $PEER netns $NS
		addr add $LOCAL_V4/24 dev $DEV
		link set $DEV up
	EOF
	ip -n "$NS" -b - <<-EOF || return 1
		addr add $REMOTE_V4/24 dev $PEER
		link set $PEER up
	EOF
	for i in $(seq 100); do
		read -r c <"/sys/class/net/$DEV/carrier" 2>/dev/null && [ "$c" = 1 ] && return 0
		sleep 0.05
	done
	echo "no carrier on $DEV"
	return 1
}

# Load/unload cycles with traffic running until the moment of unload.
t_sample_cycles() {
	local i cycles=${SAMPLE_CYCLES:-40} t0=$SECONDS
	# Time spent per phase (ms), printed every 10 cycles.
	local -A ms=()
	local t
	lap() {
		local now=${EPOCHREALTIME/./}
		ms[$1]=$((${ms[$1]:-0} + (now - t) / 1000))
		t=$now
	}
	# The peer netns stays: rmmod destroys the device inside it, and a
	# netns teardown per cycle costs seconds on a debug kernel.
	rmmod rust_net_pair
	for i in $(seq "$cycles"); do
		t=${EPOCHREALTIME/./}
		modprobe rust_net_pair || { echo "cycle $i: modprobe failed"; return 1; }
		lap modprobe
		cycle_up || { echo "cycle $i: setup failed"; return 1; }
		lap setup
		ping -q -f -w 1 "$REMOTE_V4" >/dev/null 2>&1 &
		in_peer ping -q -f -w 1 "$LOCAL_V4" >/dev/null 2>&1 &
		sleep 0.3
		lap traffic
		rmmod rust_net_pair || { echo "cycle $i: rmmod failed"; wait; return 1; }
		lap rmmod
		# The pings have no device left: stop them instead of waiting for their deadline.
		kill $(jobs -p) 2>/dev/null
		wait
		lap wait
		((i % 10)) || echo "cycle $i after $((SECONDS - t0)) s; ms so far: modprobe ${ms[modprobe]} setup ${ms[setup]} traffic ${ms[traffic]} rmmod ${ms[rmmod]} wait ${ms[wait]}"
	done
	echo "$cycles load/unload cycles under traffic in $((SECONDS - t0)) s"
	sample_up
}

test_sample() {
	local driver=rust
	if ! module_built rust_net_pair; then
		say "rust_net_pair is not built"
		return
	fi
	kmemleak_clear
	if ! sample_up; then
		record "sample/rust" setup fail "cannot load rust_net_pair"
		return
	fi
	DRVNAME=rust_net_pair
	warm_neigh
	local t
	for t in "${NIC_TESTS[@]}"; do
		run_selftest "$driver" "$t"
	done
	run_test "$driver" load_unload t_sample_cycles
	run_test "$driver" tcp_sha_after_cycles t_tcp_sha_tx
	if has_kmemleak; then
		sample_down
		run_test "$driver" kmemleak t_kmemleak
	fi
}

# Modules whose KUnit suites run when they load (built as modules, so not
# at boot): loaded once, and unloaded again, before the results are read.
KUNIT_MODULES="e1000_rust"

# KUnit suites that ran at boot or in KUNIT_MODULES (KTAP in the kernel log):
# one result per suite, failing cases named. Only when the config has KUnit.
record_kunit() {
	local log=$OUT/kunit.log line suite res counts failed mod
	[ -d /sys/kernel/debug/kunit ] || [ -e /sys/module/kunit ] || {
		say "no KUnit in this kernel"
		return
	}
	for mod in $KUNIT_MODULES; do
		[ -e "/sys/module/$mod" ] && continue
		modinfo "$mod" >/dev/null 2>&1 || continue
		modprobe "$mod" && rmmod "$mod" ||
			record kernel/kunit "kunit:$mod" fail "cannot load and unload $mod"
	done
	dmesg | sed -E 's/^\[[ 0-9.]+\] ?//' >"$log"
	while IFS= read -r line; do
		[[ "$line" =~ ^(not )?ok\ [0-9]+\ ([A-Za-z0-9_]+)(.*)$ ]] || continue
		suite=${BASH_REMATCH[2]}
		counts=$(grep -m1 -E "^ *# $suite: pass:" "$log" | sed -E 's/^ *# [^:]+: //')
		if [[ "${BASH_REMATCH[3]}" == *"# SKIP"* ]]; then
			res=skip
		elif [ -z "${BASH_REMATCH[1]}" ]; then
			res=pass
		else
			res=fail
			failed=$(awk -v s="$suite" '$0 ~ "# Subtest: " s "$" { on = 1; next }
				on && /^(not )?ok [0-9]+ / { exit } on && /^ +not ok [0-9]+ / { print $4 }' "$log" |
				head -5 | tr '\n' ' ')
			counts="$counts; failed: $failed"
		fi
		record kernel/kunit "kunit:$suite" "$res" "$counts"
	done < <(grep -E '^(not )?ok [0-9]+ ' "$log")
	grep -q '^# Totals' "$log" || say "KUnit: no KTAP totals in the kernel log"
}

# ---------------------------------------------------------------- modes

test_driver() {
	local driver=$1 rc
	setup_dut "$driver"
	rc=$?
	if [ $rc = 2 ]; then
		say "$NIC/$driver: module not built, not tested"
		return
	elif [ $rc != 0 ]; then
		record "$NIC/$driver" setup fail "cannot bind and bring up the NIC"
		return
	fi
	DUT_MAC=$(cat /sys/class/net/"$DEV"/address)
	CUR_DRIVER=$driver
	kmemleak_clear
	say "$NIC/$driver: testing $DEV ($DRVNAME) against peer $PEER"
	warm_neigh
	# The harness's own check that a WARN fails a test (C only: it is the
	# harness that is tested).
	[ "$driver" = c ] && run_test "$driver" harness_warn t_harness_warn
	local t
	for t in "${NIC_TESTS[@]}" "${SELFTESTS[@]}"; do
		run_selftest "$driver" "$t"
	done
	run_netdevice_sh "$driver"
	has_kmemleak && run_test "$driver" kmemleak t_kmemleak
}

run_driver() {
	local driver=$1 rc json mbps
	setup_dut "$driver"
	rc=$?
	if [ $rc = 2 ]; then
		record "$NIC/$driver" iperf3 fail "module not built: this driver does not exist yet"
		return
	elif [ $rc != 0 ]; then
		record "$NIC/$driver" iperf3 fail "cannot bind and bring up the NIC"
		return
	fi
	warm_neigh
	in_peer iperf3 -s -1 -B "$REMOTE_V4" >/dev/null 2>&1 &
	wait_listen 5201 "$NS"
	json=$OUT/iperf3-$NIC-$driver.json
	if iperf3 -c "$REMOTE_V4" -t 10 -J >"$json"; then
		mbps=$(jq '.end.sum_received.bits_per_second / 1e6 | . * 10 | round / 10' "$json")
		echo "iperf3 TCP $NIC/$driver ($DRVNAME on $DEV): $mbps Mbit/s"
		record "$NIC/$driver" iperf3 pass "$mbps Mbit/s"
	else
		record "$NIC/$driver" iperf3 fail "iperf3 failed"
	fi
	wait
}

# ---------------------------------------------------------------- benchmark

# The interrupt line of PCI device $1.
irq_of() { cat /sys/bus/pci/devices/"$1"/irq; }

# The NIC under test's interrupts per CPU so far, comma-separated.
nic_irqs_percpu() {
	awk -v i="$(irq_of "$DUT_BDF"):" '$1 == i { s = ""; for (k = 2; k <= NF && $k ~ /^[0-9]+$/; k++) s = s (k > 2 ? "," : "") $k; print s }' /proc/interrupts
}

# Interrupts of the NIC under test so far (all CPUs).
nic_irqs() {
	nic_irqs_percpu | tr , '\n' | awk '{ s += $1 } END { print s + 0 }'
}

# "IRQ:CPU" of device $1's interrupt: the CPU its effective affinity names.
irq_cpu() {
	local irq
	irq=$(irq_of "$1")
	echo "$irq:$(cat /proc/irq/"$irq"/effective_affinity_list 2>/dev/null || echo '?')"
}

# The benchmark's CPU layout, as two machines would have it: the NIC under
# test's interrupt and the client side (iperf3 -c, ping) on CPU 0, the peer
# NIC's interrupt and the servers on CPU 1. Left to the scheduler, the ping
# process ran beside the peer on CPU 1 for every echo with one driver and
# mostly on CPU 0 with the other (BENCH_TRACE=1), which alone moved the
# RTT by tens of microseconds.
bench_layout() {
	DUT_CPU=0 PEER_CPU=0
	[ "$(nproc)" -ge 2 ] && PEER_CPU=1
	pin_irq "$DUT_BDF" "$DUT_CPU" && pin_irq "$PEER_BDF" "$PEER_CPU"
}
pin_irq() {
	echo "$2" >/proc/irq/"$(irq_of "$1")"/smp_affinity_list
}
on_dut() { taskset -c "$DUT_CPU" "$@"; }
on_peer() { in_peer taskset -c "$PEER_CPU" "$@"; }

# Gives the NIC under test just bound setting $1's interrupt moderation and
# prints its rx-usecs ("n/a" if it has none). For C e1000 "equal" was done
# by reloading the module (e1000_itr_off).
bench_moderation() {
	local coal
	if [ "$1" = equal ] && [ "$DRVNAME" = e1000 ]; then
		echo "0 (InterruptThrottleRate)"
		return
	fi
	if [ "$1" = equal ]; then
		ethtool -C "$DEV" rx-usecs 0 >&2 || return 1
	fi
	coal=$(ethtool -c "$DEV" 2>/dev/null | awk '$1 == "rx-usecs:" { print $2 }')
	echo "${coal:-n/a}"
}

# Counters of where a UDP flood's datagrams can be dropped inside the guest,
# as a JSON object: the NIC under test's qdisc, the peer NIC (no RX buffer:
# rx_missed_errors, rx_fifo_errors; rx_dropped) and the peer's UDP socket
# (receive buffer full). What is lost and none of these counts was lost
# outside the guest: in QEMU or on the host's bridge and taps.
udp_drops() {
	local qdisc nic sock
	qdisc=$(tc -s -j qdisc show dev "$DEV" | jq '[.[].drops // 0] | add // 0')
	nic=$(in_peer cat /sys/class/net/"$PEER"/statistics/{rx_missed_errors,rx_fifo_errors,rx_dropped} |
		awk '{ s += $1 } END { print s + 0 }')
	sock=$(in_peer awk '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; n = 1 } else print $c }' /proc/net/snmp)
	printf '{"dut_qdisc":%s,"peer_nic":%s,"peer_socket":%s}\n' "$qdisc" "$nic" "${sock:-0}"
}

# One benchmark round for one driver: a JSON line in $3 (round 0: the
# warm-up). $4: "default" (the driver's own interrupt moderation) or "equal"
# (moderation off: `ethtool -C rx-usecs 0`, or for C e1000, which refuses
# ethtool coalescing on the 82540EM, its InterruptThrottleRate parameter).
# The line records the driver's `ethtool -c` rx-usecs ("n/a" if it has none).
bench_one() {
	local round=$1 driver=$2 dst=$3 setting=$4 secs=${BENCH_SECS:-10} j tcp1 tcp4 udp rtt rtt50 irq0 irq1 mb
	local coal pc0 pc1 u0 u1
	setup_dut "$driver" >/dev/null || { say "bench: cannot set up $driver"; return 1; }
	coal=$(bench_moderation "$setting") || { say "bench: $driver: ethtool -C rx-usecs 0 failed"; return 1; }
	bench_layout || { say "bench: cannot pin the interrupts"; return 1; }
	warm_neigh
	j=$OUT/bench-$setting-$round-$driver
	on_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
	wait_listen 5201 "$NS"
	irq0=$(nic_irqs)
	pc0=$(nic_irqs_percpu)
	on_dut iperf3 -c "$REMOTE_V4" -t "$secs" -J >"$j-tcp1.json" || return 1
	irq1=$(nic_irqs)
	tcp1=$(jq '.end.sum_received.bits_per_second / 1e6' "$j-tcp1.json")
	mb=$(jq '.end.sum_received.bytes / 1e6' "$j-tcp1.json")
	on_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
	wait_listen 5201 "$NS"
	on_dut iperf3 -c "$REMOTE_V4" -t "$secs" -P 4 -J >"$j-tcp4.json" || return 1
	tcp4=$(jq '.end.sum_received.bits_per_second / 1e6' "$j-tcp4.json")
	# 64-byte frames: 18 bytes of UDP payload + 8 + 20 + 14 + 4 (FCS).
	on_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
	wait_listen 5201 "$NS"
	u0=$(udp_drops)
	on_dut iperf3 -c "$REMOTE_V4" -u -l 18 -b 0 -t "$secs" -J >"$j-udp.json" || return 1
	u1=$(udp_drops)
	udp=$(jq '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds' "$j-udp.json")
	# RTT after the UDP flood has drained; mean and median of 200 echoes
	# (the mean follows the few slow ones, e.g. a timer tick or a
	# neighbour refresh landing on an echo).
	sleep 1
	on_dut ping -c 200 -i 0.01 "$REMOTE_V4" >"$j-ping.txt" || return 1
	rtt=$(awk -F'[/ =]+' '/^rtt/ { print $7 * 1000 }' "$j-ping.txt")
	rtt50=$(sed -nE 's/.* time=([0-9.]+) ms.*/\1/p' "$j-ping.txt" | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) * 1000 }')
	pc1=$(nic_irqs_percpu)
	# Context for reading the figures: TCP retransmits, each NIC's interrupt
	# line and CPU, the NIC under test's interrupts per CPU in the round, and
	# for the UDP flood the rate sent, the sender's CPU share and where lost
	# datagrams were counted (see udp_drops).
	printf '{"setting":"%s","round":%d,"driver":"%s","module":"%s","rx_usecs":"%s","tcp1_mbps":%s,"tcp4_mbps":%s,"udp64_pps":%s,"rtt_avg_us":%s,"rtt_p50_us":%s,"irqs_per_mb":%s,"tcp1_retrans":%s,"tcp4_retrans":%s,"dut_irq_cpu":"%s","peer_irq_cpu":"%s","dut_irqs_per_cpu":%s,"udp64_sent_pps":%s,"udp64_sender_cpu_pct":%s,"udp64_lost":%s,"udp64_drops":%s}\n' \
		"$setting" "$round" "$driver" "$DRVNAME" "$coal" "$tcp1" "$tcp4" "$udp" "$rtt" "$rtt50" \
		"$(jq -n "($irq1 - $irq0) / $mb")" \
		"$(jq '.end.sum_sent.retransmits // null' "$j-tcp1.json")" \
		"$(jq '.end.sum_sent.retransmits // null' "$j-tcp4.json")" \
		"$(irq_cpu "$DUT_BDF")" "$(irq_cpu "$PEER_BDF")" \
		"$(jq -nc --arg a "$pc0" --arg b "$pc1" '[$a, $b | split(",") | map(tonumber)] | transpose | map(.[1] - .[0])')" \
		"$(jq '.end.sum.packets / .end.sum.seconds' "$j-udp.json")" \
		"$(jq '.end.cpu_utilization_percent.host_total' "$j-udp.json")" \
		"$(jq '.end.sum.lost_packets' "$j-udp.json")" \
		"$(jq -nc --argjson a "$u0" --argjson b "$u1" '$a | with_entries(.value = $b[.key] - .value)')" >>"$dst"
	say "bench $setting round $round $driver (rx-usecs $coal): tcp1 $tcp1 tcp4 $tcp4 udp64 $udp pps rtt $rtt us (median $rtt50 us)"
}

# Register accesses per MB (make bench, second boot with QEMU tracing MMIO):
# each transfer is bracketed by three user-space reads of RAL0, which
# tests/regcount.py finds in QEMU's trace.
reg_marker() {
	local i
	for i in 1 2 3; do python3 "$RUSTNIC/tests/guest/regpoke.py" "$DUT_BDF" 0x5400 >/dev/null; done
}
run_regs() {
	local d dir j irq0 irq1
	for d in ${DRIVERS//,/ }; do
		setup_dut "$d" >/dev/null || { say "regs: cannot set up $d"; continue; }
		warm_neigh
		for dir in tx rx; do
			in_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
			wait_listen 5201 "$NS"
			j=$OUT/regs-$d-$dir.json
			irq0=$(nic_irqs)
			reg_marker
			iperf3 -c "$REMOTE_V4" -n "${REGS_MB:-20}M" $([ $dir = rx ] && echo -R) -J >"$j"
			reg_marker
			irq1=$(nic_irqs)
			echo "REGPHASE $d $dir $(jq '.end.sum_received.bytes' "$j") $((irq1 - irq0))"
		done
	done
}

# Timeline of ping echoes (make bench with BENCH_TRACE=1): tracepoints on
# both ends' paths for each driver in turn, after the rounds of a setting
# and with its moderation, analysed on the host by tests/rtt_trace.py.
TR=/sys/kernel/tracing
RTT_EVENTS="net/net_dev_start_xmit net/net_dev_xmit net/napi_gro_receive_entry
	irq/irq_handler_entry irq/irq_handler_exit irq/softirq_entry"
# BENCH_KPROBES=1 (with BENCH_TRACE=1): kprobes on what a reply passes
# through between its interrupt and GRO: the softirq (net_rx_action,
# __napi_poll), the driver's poll (C e1000's e1000_clean and
# e1000_clean_rx_irq; a Rust driver's poll callback and poll, found by their
# mangled paths), and in it the locks, the DMA sync, the skb allocation,
# eth_type_trans and gro_receive_skb. tests/rtt_trace.py reports when each
# was first entered. Each hit costs about 5 us under TCG.
rtt_kprobes() {
	local k=$TR/kprobe_events sym name
	echo 0 >$TR/events/rustnic/enable 2>/dev/null
	echo >$k
	[ "$1" = off ] && return
	for name in rx_action:net_rx_action napi_poll:__napi_poll c_clean:e1000_clean \
		c_rx:e1000_clean_rx_irq rs_cb:"_R.*${DRVNAME}.*13poll_callback.*" \
		rs_poll:"_R.*${DRVNAME}.*4Poll4poll" lock_irq:_raw_spin_lock_irq_disable \
		lock_bh:_raw_spin_lock_bh sync_cpu:__dma_sync_single_for_cpu alloc:napi_alloc_skb \
		eth:eth_type_trans gro_skb:gro_receive_skb; do
		sym=$(awk -v re="^${name#*:}\$" '$3 ~ re { print $3; exit }' /proc/kallsyms)
		[ -n "$sym" ] || continue
		echo "p:rustnic/${name%%:*} $sym" >>$k || say "rtt trace: no kprobe on $sym"
	done
	echo 1 >$TR/events/rustnic/enable
}
run_rtt_trace() {
	local setting=$1 d ev f
	mountpoint -q $TR || mount -t tracefs nodev $TR
	echo mono >$TR/trace_clock
	echo 4096 >$TR/buffer_size_kb
	for d in ${DRIVERS//,/ }; do
		setup_dut "$d" >/dev/null || { say "rtt trace: cannot set up $d"; continue; }
		bench_moderation "$setting" >/dev/null || { say "rtt trace: $d: ethtool -C rx-usecs 0 failed"; continue; }
		bench_layout || { say "rtt trace: cannot pin the interrupts"; continue; }
		warm_neigh
		f=$OUT/rtt-$setting-$d
		echo 0 >$TR/tracing_on
		echo >$TR/trace
		for ev in $RTT_EVENTS; do echo 1 >$TR/events/$ev/enable; done
		[ "${BENCH_KPROBES:-0}" = 1 ] && rtt_kprobes on
		echo 1 >$TR/tracing_on
		on_dut ping -c 200 -i 0.02 "$REMOTE_V4" >"$f-ping.txt"
		echo 0 >$TR/tracing_on
		for ev in $RTT_EVENTS; do echo 0 >$TR/events/$ev/enable; done
		# (Removing the kprobes clears the buffer: read it first.)
		cat $TR/trace >"$f-trace.txt"
		[ "${BENCH_KPROBES:-0}" = 1 ] && rtt_kprobes off
		echo "RTTDEV $setting $d $DEV $PEER $(irq_of "$DUT_BDF")" \
			"$(irq_cpu "$DUT_BDF") $(irq_cpu "$PEER_BDF")" >>"$OUT/rtt-devs.txt"
	done
}

# C e1000 has no ethtool coalescing below the 82545: its moderation is the
# InterruptThrottleRate module parameter, one value per board in probe
# order (each bind is a new board, up to 32). For the "equal" setting the
# module is reloaded with it off for every board, the peer's included, so
# that the peer is the same for both drivers; the peer is then set up again.
e1000_itr_off() {
	local off
	off=$(printf '0,%.0s' $(seq 32))
	[ -e /sys/bus/pci/drivers/e1000 ] && { rmmod e1000 || return 1; }
	ip netns del "$NS" 2>/dev/null
	modprobe e1000 InterruptThrottleRate="${off%,}" || return 1
	setup_peer
}

# A B A B ...: the drivers alternate on the same NIC in one boot.
# For each setting (BENCH_SETTINGS, default "default equal"): one warm-up
# round per driver, discarded, then BENCH_ROUNDS rounds in the order A B, B A,
# A B, ... so that neither driver always runs first. A failed round is a
# failed result (and missing from bench.jsonl, which the report checks).
run_bench() {
	local r d rounds=${BENCH_ROUNDS:-3} setting
	local -a drivers=(${DRIVERS//,/ }) order
	: >"$OUT/bench.jsonl"
	: >"$OUT/bench-warmup.jsonl"
	for setting in ${BENCH_SETTINGS:-default equal}; do
		if [ "$setting" = equal ] && [ "$NIC" = e1000 ] && [[ ",$DRIVERS," = *,c,* ]]; then
			e1000_itr_off || { record "$NIC/c" bench-equal fail "cannot reload e1000 with InterruptThrottleRate=0"; continue; }
		fi
		for d in "${drivers[@]}"; do
			bench_one 0 "$d" "$OUT/bench-warmup.jsonl" "$setting" ||
				record "$NIC/$d" "bench-$setting-warmup" fail "benchmark warm-up round failed"
		done
		for r in $(seq "$rounds"); do
			order=("${drivers[@]}")
			((r % 2)) || order=($(printf '%s\n' "${drivers[@]}" | tac))
			for d in "${order[@]}"; do
				bench_one "$r" "$d" "$OUT/bench.jsonl" "$setting" ||
					record "$NIC/$d" "bench-$setting-$r" fail "benchmark round failed"
			done
		done
		[ "${BENCH_TRACE:-0}" = 1 ] && run_rtt_trace "$setting"
	done
}

dmesg -n 4
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
if [ "$MODE" = test ]; then
	# The SHA-checked transfers: 64 MiB, 8 MiB on a debug kernel (KASAN,
	# lockdep and kmemleak make 64 MiB take about 5 minutes there). There,
	# a link change under traffic (ip link set down, mtu) also takes more
	# than the selftests' 20 s.
	if has_kmemleak; then BLOB_MB=8 CMD_TIMEOUT=180; else BLOB_MB=64 CMD_TIMEOUT=20; fi
	# OpenSSL's SHA-256 (the transfers' helper hashes through Python's
	# hashlib) picks its AVX2 code, which TCG emulates slowly: 15-18 MB/s
	# in this guest, against 45-73 MB/s for the scalar code that masking
	# AVX, AVX2 and SSSE3 here selects. Both ends hash every byte.
	export OPENSSL_ia32cap="~0x1000020000000000:~0x20"
	say "SHA-checked transfers of $BLOB_MB MiB"
	head -c ${BLOB_MB}M /dev/urandom >"$BLOB"
	[ "${RUSTNIC_KUNIT:-0}" = 1 ] && record_kunit
fi
scan_dmesg kernel boot "$OUT/dmesg-boot.log"
if [ "$NIC" = sample ]; then
	test_sample
	scan_dmesg kernel final "$OUT/dmesg-final.log"
	echo "rustnic-guest: done"
	exit 0
fi
setup_peer || { record "$NIC/peer" setup fail "cannot set up the peer NIC"; exit 1; }
for d in ${DRIVERS//,/ }; do
	case "$MODE" in
	test) test_driver "$d" ;;
	run) run_driver "$d" ;;
	bench | regs) ;;
	esac
done
[ "$MODE" = bench ] && run_bench
[ "$MODE" = regs ] && run_regs
scan_dmesg kernel final "$OUT/dmesg-final.log"
echo "rustnic-guest: done"
