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

# run_test DRIVER NAME FUNCTION: 0 pass, 1 fail, 2 skip; a splat in dmesg fails.
run_test() {
	local driver=$1 name=$2 fn=$3 rc log splat why
	log=$OUT/$NIC-$driver/$name.log
	if [ -n "$FILTER" ] && [[ ",$FILTER," != *",$name,"* ]]; then
		return
	fi
	mkdir -p "$OUT/$NIC-$driver"
	dmesg -c >>"$OUT/$NIC-$driver/dmesg.log" 2>/dev/null
	say "running $driver $name"
	"$fn" >"$log" 2>&1
	rc=$?
	dmesg -c >"$log.dmesg" 2>/dev/null
	cat "$log.dmesg" >>"$OUT/$NIC-$driver/dmesg.log"
	splat=$(grep -E "$SPLAT_RE" "$log.dmesg" | head -1)
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

t_link_up() {
	wait_carrier "$DEV" || { echo "no carrier on $DEV"; return 1; }
	[ "$(cat /sys/class/net/"$DEV"/operstate)" = up ] || { echo "operstate not up"; return 1; }
}

t_ping_v4() { ping -c 5 -i 0.2 -W 2 "$REMOTE_V4" | tee /dev/stderr | grep -q ' 0% packet loss'; }
t_ping_v6() { ping -c 5 -i 0.2 -W 2 "$REMOTE_V6" | tee /dev/stderr | grep -q ' 0% packet loss'; }

t_tcp_sha_tx() { tcp_sha "$BLOB" tx; }
t_tcp_sha_rx() { tcp_sha "$BLOB" rx; }
# Over IPv6: the TX direction is the device's TSO6 (or software GSO without it).
t_tcp_sha_tx_v6() { tcp_sha "$BLOB" tx v6; }
t_tcp_sha_rx_v6() { tcp_sha "$BLOB" rx v6; }

t_mtu() {
	local m=9000
	set_mtu_both $m || { echo "cannot set MTU $m"; return 1; }
	[ "$(cat /sys/class/net/"$DEV"/mtu)" = $m ] || { echo "MTU did not change"; return 1; }
	ping -c 3 -W 3 -M do -s $((m - 28)) "$REMOTE_V4" || { echo "jumbo ping failed"; return 1; }
	tcp_sha "$BLOB" tx || { echo "jumbo TCP tx corrupted"; return 1; }
	tcp_sha "$BLOB" rx || { echo "jumbo TCP rx corrupted"; return 1; }
	set_mtu_both 1500 || { echo "cannot restore MTU 1500"; return 1; }
	ping -c 3 -W 3 -M do -s 1472 "$REMOTE_V4" || { echo "ping after MTU restore failed"; return 1; }
	tcp_sha "$BLOB" tx || { echo "TCP after MTU restore corrupted"; return 1; }
}

t_link_flap() {
	local i
	for i in 1 2 3; do
		ip link set "$DEV" down
		[ "$(cat /sys/class/net/"$DEV"/operstate)" = down ] || { echo "still up after down"; return 1; }
		ip link set "$DEV" up
		wait_carrier "$DEV" || { echo "no carrier after up #$i"; return 1; }
	done
	# -w: three replies within 15 s; the first can be lost while the peer
	# relearns the neighbour (IPv6 rejoins its groups after the link is up).
	ping -c 3 -w 15 "$REMOTE_V4" || { echo "no traffic after flap"; return 1; }
	ping -c 3 -w 15 "$REMOTE_V6" || { echo "no v6 traffic after flap"; return 1; }
}

t_ethtool_i() {
	local out
	out=$(ethtool -i "$DEV") || return 1
	echo "$out"
	echo "$out" | grep -qx "driver: $DRVNAME" || { echo "driver is not $DRVNAME"; return 1; }
}

# Sum of ethtool -S counters whose name matches $2 ("none" if there is none).
ethtool_sum() {
	ethtool -S "$1" | awk -v re="$2" -F: '$1 ~ re { s += $2; n++ } END { print n ? s + 0 : "none" }'
}

# Sum of netdev-genl queue stats field $2 (rx-packets, tx-packets) of ifindex $1.
qstats_sum() {
	python3 "$RUSTNIC/kselftest/net/lib/ynl/pyynl/cli.py" \
		--spec "$RUSTNIC/kselftest/net/lib/specs/netdev.yaml" --no-schema \
		--dump qstats-get --json "{\"ifindex\": $1}" --output-json 2>/dev/null |
		jq "[.[] | .[\"$2\"] // 0] | add // 0"
}

# Packet counters of the driver's own reports: ethtool -S where it has
# packet counters (e1000), else the netdev-genl queue stats (virtio_net 7.3
# moved them there). Prints "rx tx source".
driver_counters() {
	local rx tx idx
	rx=$(ethtool_sum "$DEV" '^ *rx.*packets$')
	tx=$(ethtool_sum "$DEV" '^ *tx.*packets$')
	if [ "$rx" != none ] && [ "$tx" != none ]; then
		echo "$rx $tx ethtool-S"
		return
	fi
	idx=$(cat /sys/class/net/"$DEV"/ifindex)
	echo "$(qstats_sum "$idx" rx-packets) $(qstats_sum "$idx" tx-packets) qstats"
}

t_ethtool_S() {
	local n=2000 erx0 etx0 erx1 etx1 src rx0 tx0 rx1 tx1 before after
	before=$(ethtool -S "$DEV") || { echo "ethtool -S failed"; return 1; }
	read -r rx0 tx0 _ < <(link_stats "$DEV")
	read -r erx0 etx0 src < <(driver_counters)
	ping -q -f -c $n -W 2 "$REMOTE_V4" || { echo "flood ping lost packets"; return 1; }
	read -r rx1 tx1 _ < <(link_stats "$DEV")
	read -r erx1 etx1 src < <(driver_counters)
	after=$(ethtool -S "$DEV")
	[[ "$erx0$etx0$erx1$etx1" =~ ^[0-9]+$ ]] || { echo "no driver packet counters ($src)"; return 1; }
	diff <(echo "$before") <(echo "$after")
	echo "ip -s link: rx +$((rx1 - rx0)) tx +$((tx1 - tx0)); $src: rx +$((erx1 - erx0)) tx +$((etx1 - etx0))"
	[ "$before" != "$after" ] || { echo "no ethtool -S counter moved"; return 1; }
	((tx1 - tx0 >= n && rx1 - rx0 >= n)) || { echo "ip -s link counters moved less than $n"; return 1; }
	((etx1 - etx0 >= n)) || { echo "$src tx packets moved less than $n"; return 1; }
	((erx1 - erx0 >= n)) || { echo "$src rx packets moved less than $n"; return 1; }
}

# "RX TX": the current ring sizes from `ethtool -g` output on stdin.
cur_rings() {
	awk '/^Current hardware settings/ { c = 1 } c && /^RX:/ { rx = $2 } c && /^TX:/ { tx = $2 } END { print rx, tx }'
}

t_ethtool_g() {
	local out rx tx
	out=$(ethtool -g "$DEV") || return 1
	echo "$out"
	read -r rx tx < <(echo "$out" | cur_rings)
	((rx > 0 && tx > 0)) || { echo "ring sizes not reported (rx=$rx tx=$tx)"; return 1; }
}

t_ethtool_k() {
	local out
	out=$(ethtool -k "$DEV") || return 1
	echo "$out"
	echo "$out" | grep -q '^rx-checksumming:' || return 1
	echo "$out" | grep -q '^tx-checksumming:' || return 1
	echo "$out" | grep -q '^scatter-gather:' || return 1
}

t_bad_frames() {
	local mac rx0 rx1 sent
	mac=$(cat /sys/class/net/"$DEV"/address)
	read -r rx0 _ < <(link_stats "$DEV")
	in_peer ip link set "$PEER" mtu 9000
	wait_carrier "$PEER" "$NS" || { echo "peer carrier lost after MTU change"; return 1; }
	sent=$(in_peer python3 "$RUSTNIC/tests/guest/inject.py" "$PEER" "$mac" "$LOCAL_V4" "$REMOTE_V4") ||
		{ echo "injector failed"; in_peer ip link set "$PEER" mtu 1500; return 1; }
	in_peer ip link set "$PEER" mtu 1500
	wait_carrier "$PEER" "$NS"
	sleep 1
	read -r rx1 _ < <(link_stats "$DEV")
	echo "injected: $sent; DUT rx_packets +$((rx1 - rx0))"
	# Every frame the DUT can take at MTU 1500 must have been received.
	local expect=${sent#*small=}
	expect=${expect%% *}
	((rx1 - rx0 >= expect)) || { echo "DUT received $((rx1 - rx0)) of $expect in-size frames"; return 1; }
	[ "$(cat /sys/class/net/"$DEV"/carrier)" = 1 ] || { echo "carrier lost"; return 1; }
	ping -c 3 -W 3 "$REMOTE_V4" || { echo "no traffic after bad frames"; return 1; }
	tcp_sha "$BLOB" rx || { echo "transfer after bad frames corrupted"; return 1; }
}

# ------------------------------------------- long transfers and robustness

set_mtu_both() {
	in_peer ip link set "$PEER" mtu "$1" && ip link set "$DEV" mtu "$1" &&
		wait_carrier "$DEV" && wait_carrier "$PEER" "$NS"
}

# 1 GiB each way at MTU 1500 and 9000, SHA-256 checked.
t_tcp_1g() {
	local m d rc=0
	for m in 1500 9000; do
		set_mtu_both $m || { echo "cannot set MTU $m"; rc=1; break; }
		for d in tx rx; do
			tcp_sha stream:1024 $d || { echo "1 GiB $d at MTU $m corrupted or failed"; rc=1; }
		done
	done
	set_mtu_both 1500
	return $rc
}

# Background iperf3 from the DUT to the peer on port $1 for $2 s (server in
# the peer, killed with the client by stop_traffic).
start_traffic() {
	local port=$1 secs=$2 dir=${3:-}
	in_peer timeout $((secs + 20)) iperf3 -s -1 -p "$port" -B "$REMOTE_V4" >/dev/null 2>&1 &
	SRV_PID=$!
	wait_listen "$port" "$NS" || return 1
	timeout $((secs + 20)) iperf3 -c "$REMOTE_V4" -p "$port" -t "$secs" $dir >"$OUT/iperf3-bg.log" 2>&1 &
	CLI_PID=$!
}
CLI_PID= SRV_PID=
stop_traffic() {
	[ -n "$CLI_PID$SRV_PID" ] || return 0
	kill $CLI_PID $SRV_PID 2>/dev/null
	wait $CLI_PID $SRV_PID 2>/dev/null
	in_peer pkill -f "iperf3 -s -1 -p" 2>/dev/null
	CLI_PID= SRV_PID=
	return 0
}

# Load the driver under test, bind the NIC to it and set its IPv6 sysctls,
# leaving it down; sets DEV. As few processes as possible (a process start
# costs about a second on a debug kernel).
load_dut() {
	local mod bus drv
	read -r mod bus drv < <(driver_table "$NIC" "$CUR_DRIVER")
	modprobe "$mod" || return 1
	bind_to "$DUT_BDF" "$bus" "$drv" || return 1
	DEV=$(wait_netdev "$DUT_BDF") || return 1
	echo 1 >"/proc/sys/net/ipv6/conf/$DEV/keep_addr_on_down"
	echo 0 >"/proc/sys/net/ipv6/conf/$DEV/accept_dad"
}

# setup_dut for the rmmod cycles: load_dut, then up with one ip batch.
cycle_dut() {
	load_dut || return 1
	ip -b - <<-EOF || return 1
		link set $DEV up
		addr add $LOCAL_V4/24 dev $DEV
		addr add $LOCAL_V6/64 dev $DEV nodad
	EOF
	wait_carrier "$DEV"
}

# wait_tx_bytes N: until the DUT has sent N more bytes than when called (or
# 60 s: a debug kernel takes 5-10 s for the first MB after a bring-up).
wait_tx_bytes() {
	local want=$1 b0 b i
	read -r b0 <"/sys/class/net/$DEV/statistics/tx_bytes" || return 1
	for i in $(seq 600); do
		read -r b <"/sys/class/net/$DEV/statistics/tx_bytes" || return 1
		((b - b0 >= want)) && return 0
		nap 0.1
	done
	return 1
}

# What both ends see of a stalled transfer.
traffic_state() {
	echo "--- $DEV"
	ip -s link show "$DEV"
	ethtool -S "$DEV" | grep -vE ': 0$'
	ss -tin dst "$REMOTE_V4"
	grep -E "CPU|eth|$(cat /sys/bus/pci/devices/"$DUT_BDF"/irq):" /proc/interrupts
	echo "--- $PEER"
	in_peer ip -s link show "$PEER"
	in_peer ss -tin src "$REMOTE_V4"
	cat "$OUT/iperf3-bg.log"
}

# rmmod/modprobe cycles with iperf3 running until the moment of rmmod: the
# module goes while the transfer is in full flow (at least 1 MB sent).
t_rmmod_cycles() {
	local i n=${RMMOD_CYCLES:-50} mod t0=$SECONDS t cli rc=0
	read -r mod _ < <(driver_table "$NIC" "$CUR_DRIVER")
	# One single-use iperf3 server per cycle (a killed client may leave its
	# server waiting), all started at once. A server that waited longer than
	# its receive timeout (120 s by default) before its client came ends the
	# test at the first pause in the data (seen on the debug kernel, where the
	# first RTO after a bring-up is such a pause): the timeout is an hour.
	in_peer sh -c 'for p in $(seq 5301 $((5300 + $0))); do iperf3 -s -1 -D --rcv-timeout 3600000 -p $p -B "$1" || exit 1; done' \
		"$n" "$REMOTE_V4" >/dev/null 2>&1 || { echo "cannot start the iperf3 servers"; return 1; }
	wait_listen $((5300 + n)) "$NS" || { echo "no iperf3 server on port $((5300 + n))"; return 1; }
	for i in $(seq "$n"); do
		timeout 120 iperf3 -c "$REMOTE_V4" -p $((5300 + i)) -t 90 >"$OUT/iperf3-bg.log" 2>&1 &
		cli=$!
		wait_tx_bytes 1000000 || { echo "cycle $i: no traffic"; traffic_state; rc=1; }
		t=$SECONDS
		rmmod "$mod" || { echo "cycle $i: rmmod failed"; rc=1; }
		echo "cycle $i: rmmod took $((SECONDS - t)) s"
		kill $cli 2>/dev/null
		wait $cli 2>/dev/null
		((rc == 0)) || break
		t=$SECONDS
		cycle_dut >/dev/null 2>&1 || { echo "cycle $i: modprobe/bind/up failed"; rc=1; break; }
		echo "cycle $i: modprobe/bind/up took $((SECONDS - t)) s ($((SECONDS - t0)) s so far)"
	done
	in_peer pkill -f "iperf3 -s -1" 2>/dev/null
	((rc == 0)) || return 1
	DUT_MAC=$(cat /sys/class/net/"$DEV"/address)
	warm_neigh
	echo "$n rmmod/modprobe cycles under iperf3 traffic"
	tcp_sha "$BLOB" tx || { echo "transfer after the cycles corrupted"; return 1; }
	tcp_sha "$BLOB" rx || { echo "transfer after the cycles corrupted"; return 1; }
}

# Link down/up cycles with iperf3 running.
t_flap_cycles() {
	local i n=${FLAP_CYCLES:-50}
	start_traffic 5201 600 || { echo "no iperf3 server"; return 1; }
	for i in $(seq "$n"); do
		ip link set "$DEV" down
		ip link set "$DEV" up
		wait_carrier "$DEV" || { echo "no carrier after up #$i"; stop_traffic; return 1; }
		sleep 0.2
	done
	stop_traffic
	warm_neigh
	echo "$n link down/up cycles under iperf3 traffic"
	tcp_sha "$BLOB" tx || { echo "transfer after the flaps corrupted"; return 1; }
	tcp_sha "$BLOB" rx || { echo "transfer after the flaps corrupted"; return 1; }
}

# Ring resizes (RX and TX) while iperf3 runs in both directions in turn.
t_ring_resize() {
	local i n=${RESIZE_CYCLES:-20} sizes=(80 4096 256 1024 128 512 2048 96 3072 200) rx tx got rc=0
	local save
	save=$(ethtool -g "$DEV" | cur_rings)
	for i in $(seq "$n"); do
		if ((i % 10 == 1)); then
			stop_traffic
			start_traffic 5201 600 $( ((i % 20 == 11)) && echo -R) || { echo "no iperf3 server"; return 1; }
			sleep 1
		fi
		rx=${sizes[$((i % 10))]} tx=${sizes[$(((i + 3) % 10))]}
		ethtool -G "$DEV" rx "$rx" tx "$tx" || { echo "resize #$i to rx $rx tx $tx failed"; rc=1; break; }
		got=$(ethtool -g "$DEV" | cur_rings)
		[ "$got" = "$rx $tx" ] || { echo "resize #$i: ethtool -g says $got, want rx $rx tx $tx"; rc=1; break; }
		wait_carrier "$DEV" || { echo "no carrier after resize #$i"; rc=1; break; }
		sleep 0.5
	done
	stop_traffic
	echo "$n ring resizes under iperf3 traffic (last: rx $rx tx $tx)"
	ethtool -G "$DEV" rx "${save% *}" tx "${save#* }"
	((rc == 0)) || return 1
	warm_neigh
	tcp_sha "$BLOB" tx || { echo "transfer after the resizes corrupted"; return 1; }
	tcp_sha "$BLOB" rx || { echo "transfer after the resizes corrupted"; return 1; }
}

# The transmitter stops (TCTL.EN cleared behind the driver's back, through the
# BAR in sysfs): the stack's watchdog must report a timeout and the driver's
# reset must bring transmission back. e1000 only.
t_tx_timeout() {
	[ "$NIC" = e1000 ] || { echo "e1000 only"; return 2; }
	local t0 t1 i pid
	t0=$(ethtool_sum "$DEV" '^ *tx_timeout_count$')
	# A permanent neighbour, so that packets keep coming while nothing answers.
	ip neigh replace "$REMOTE_V4" lladdr "$(in_peer cat /sys/class/net/"$PEER"/address)" dev "$DEV" nud permanent
	python3 "$RUSTNIC/tests/guest/regpoke.py" "$DUT_BDF" 0x400 clear 0x2 || { echo "cannot stop TX"; return 1; }
	# Enough senders, each with a large socket send buffer (ping's own is one
	# packet), to fill the ring and BQL whatever BQL's limit grew to.
	pid=
	for i in 1 2 3 4; do
		timeout 30 ping -q -S 1000000 -s 1000 -i 0.005 "$REMOTE_V4" >/dev/null 2>&1 &
		pid="$pid $!"
	done
	for i in $(seq 300); do
		dmesg | grep -q "NETDEV WATCHDOG" && break
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill $pid 2>/dev/null
	# shellcheck disable=SC2086
	wait $pid 2>/dev/null
	echo "TDH $(python3 "$RUSTNIC/tests/guest/regpoke.py" "$DUT_BDF" 0x3810) TDT $(python3 "$RUSTNIC/tests/guest/regpoke.py" "$DUT_BDF" 0x3818)" \
		"TCTL $(python3 "$RUSTNIC/tests/guest/regpoke.py" "$DUT_BDF" 0x400)" \
		"BQL inflight $(cat /sys/class/net/"$DEV"/queues/tx-0/byte_queue_limits/inflight)" \
		"queue timeouts $(cat /sys/class/net/"$DEV"/queues/tx-0/tx_timeout)"
	tc -s qdisc show dev "$DEV" | head -3
	ip neigh del "$REMOTE_V4" dev "$DEV"
	dmesg | grep -E "NETDEV WATCHDOG|timed out|[Rr]eset|Hang" | tail -5
	if ! dmesg | grep -q "NETDEV WATCHDOG"; then
		# The driver did not recover: reopen it (open reprograms the
		# transmitter) so that the next tests find a working device.
		ip link set "$DEV" down
		ip link set "$DEV" up
		wait_carrier "$DEV"
		echo "no transmit timeout within 30 s"
		return 1
	fi
	# The reset runs from a work item: give it a moment, then traffic must flow.
	ping -c 3 -w 20 "$REMOTE_V4" || { echo "no traffic after the reset"; return 1; }
	t1=$(ethtool_sum "$DEV" '^ *tx_timeout_count$')
	echo "tx_timeout_count: $t0 -> $t1"
	[ "$t1" = none ] || ((t1 > t0)) || { echo "tx_timeout_count did not move"; return 1; }
	tcp_sha "$BLOB" tx || { echo "transfer after the reset corrupted"; return 1; }
}

# Fault injection (debug kernels: CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
# CONFIG_FAULT_INJECTION_STACKTRACE_FILTER).
FI=/sys/kernel/debug
has_fault_injection() { [ -d $FI/failslab ] && [ -d $FI/fail_page_alloc ]; }
fi_reset() {
	local a
	for a in failslab fail_page_alloc; do
		echo 0 >$FI/$a/probability
		echo 0 >$FI/$a/times
		echo 0 >$FI/$a/space
		echo 1 >$FI/$a/interval
		echo 0 >$FI/$a/verbose
		echo N >$FI/$a/task-filter
		echo N >$FI/$a/ignore-gfp-wait
		# No stacktrace filter: the whole address space (require-end 0
		# would match no caller and so never inject).
		[ -e $FI/$a/require-start ] && echo 0 >$FI/$a/require-start &&
			echo 0xffffffffffffffff >$FI/$a/require-end
	done
	echo 0 >$FI/fail_page_alloc/min-order
}

# fi_module ATTR: let ATTR fail only allocations made with the driver under
# test's module on the stack (its address range from /proc/modules).
fi_module() {
	local mod size base
	read -r mod _ < <(driver_table "$NIC" "$CUR_DRIVER")
	read -r size base < <(awk -v m="$mod" '$1 == m { print $2, $6 }' /proc/modules)
	[ -n "$base" ] || { echo "$mod not in /proc/modules"; return 1; }
	printf '0x%x\n' $((base)) >$FI/$1/require-start
	printf '0x%x\n' $((base + size)) >$FI/$1/require-end
}

# Allocation failures injected into the open path, two ways; open may fail,
# nothing may leak or splat, and the device must work afterwards.
# 1. The driver's own allocations (stacktrace filter on the module's address
#    range), freshly loaded, with the RX ring grown to 4096 while down, so
#    that open must take fresh pages from the allocator for its page pool. The
#    first failure after k filtered allocations; open must fail cleanly at
#    least once.
# 2. Anything the opening task allocates (task filter), the core's allocations
#    included, for a range of points; a failure must be injected at least once.
# An injected failure decrements the attribute's `times` from 1 to 0.
t_fault_open() {
	has_fault_injection || { echo "no fault injection in this kernel"; return 2; }
	[ -e $FI/failslab/require-start ] || { echo "no stacktrace filter in this kernel"; return 2; }
	local a k save ok=0 failed=0 injected=0 tok=0 tfailed=0 tinjected=0 mod
	save=$(ethtool -g "$DEV" | cur_rings)
	fi_reset
	# A freshly loaded driver: its page pool has no pages cached yet, so an
	# open with 4096 RX descriptors must allocate (a pool that has served a
	# ring that large before, e.g. in ring_resize, serves it from its cache).
	read -r mod _ < <(driver_table "$NIC" "$CUR_DRIVER")
	rmmod "$mod" && load_dut || { echo "cannot reload $mod"; return 1; }
	for a in fail_page_alloc failslab; do
		for k in 0 1 8 64 512 2048; do
			ip link set "$DEV" down
			ethtool -G "$DEV" rx 4096 || { echo "cannot set the RX ring to 4096"; return 1; }
			fi_module $a || return 1
			echo 100 >$FI/$a/probability
			echo 1 >$FI/$a/times
			echo $((k * 4096)) >$FI/$a/space
			if ip link set "$DEV" up 2>/dev/null; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
			[ "$(cat $FI/$a/times)" = 0 ] && injected=$((injected + 1))
			fi_reset
		done
	done
	echo "driver allocations: $injected failures injected, open failed cleanly $failed times, succeeded $ok times"
	ip link set "$DEV" down
	ethtool -G "$DEV" rx "${save% *}" tx "${save#* }"
	for a in fail_page_alloc failslab; do
		for k in 0 1 2 3 5 8 16 32 64 128 200 255; do
			ip link set "$DEV" down
			echo Y >$FI/$a/task-filter
			echo 100 >$FI/$a/probability
			echo 1 >$FI/$a/times
			# space: bytes that may still be allocated before the failure.
			if [ $a = fail_page_alloc ]; then echo $((k * 4096)) >$FI/$a/space; else echo $((k * 64)) >$FI/$a/space; fi
			if sh -c 'echo 1 >/proc/self/make-it-fail && exec ip link set "$0" up' "$DEV" 2>/dev/null; then
				tok=$((tok + 1))
			else
				tfailed=$((tfailed + 1))
			fi
			[ "$(cat $FI/$a/times)" = 0 ] && tinjected=$((tinjected + 1))
			fi_reset
		done
	done
	echo "opening task's allocations: $tinjected failures injected, open failed $tfailed times, succeeded $tok times"
	ip link set "$DEV" down
	ip link set "$DEV" up
	ip addr replace "$LOCAL_V4/24" dev "$DEV"
	ip addr replace "$LOCAL_V6/64" dev "$DEV" nodad
	wait_carrier "$DEV" || { echo "no carrier after the faults"; return 1; }
	((failed > 0)) || { echo "no injected failure made the driver's open fail"; return 1; }
	((tinjected > 0)) || { echo "no failure was injected into the opening task"; return 1; }
	warm_neigh
	tcp_sha "$BLOB" tx || { echo "transfer after the faults corrupted"; return 1; }
	tcp_sha "$BLOB" rx || { echo "transfer after the faults corrupted"; return 1; }
}

# Allocation failures injected into the driver's receive path (RX refill and
# skb allocation in NAPI, filtered on the module's address range) while the
# peer sends: failures are counted, never fatal.
t_fault_rx() {
	has_fault_injection || { echo "no fault injection in this kernel"; return 2; }
	[ -e $FI/failslab/require-start ] || { echo "no stacktrace filter in this kernel"; return 2; }
	local a f0 f1
	f0=$(ethtool_sum "$DEV" 'alloc_fail')
	fi_reset
	start_traffic 5201 8 -R || { echo "no iperf3 server"; return 1; }
	sleep 1
	for a in fail_page_alloc failslab; do
		fi_module $a || { fi_reset; stop_traffic; return 1; }
		echo 20 >$FI/$a/probability
		echo -1 >$FI/$a/times
	done
	sleep 4
	fi_reset
	wait "$CLI_PID"
	stop_traffic
	f1=$(ethtool_sum "$DEV" 'alloc_fail')
	echo "rx alloc_fail: $f0 -> $f1"
	[ "$f1" != none ] && ((f1 > f0)) || { echo "no RX allocation failure was counted"; return 1; }
	warm_neigh
	tcp_sha "$BLOB" rx || { echo "transfer after the faults corrupted"; return 1; }
}

# ------------------------------------------------- the harness's own tests
# Each passes only if the harness catches a fault that is injected on purpose.

# A byte of TCP payload changed on the way out, checksum fixed up (as a buggy
# offload would do): the SHA-256 comparison must notice.
t_harness_corruption() {
	local rc=0
	tc qdisc add dev "$DEV" clsact || return 1
	tc filter add dev "$DEV" egress protocol ip prio 1 u32 \
		match ip protocol 6 0xff match ip dport 5001 0xffff \
		action pedit munge offset 100 u8 set 0x5a pipe \
		action csum tcp || { tc qdisc del dev "$DEV" clsact; echo "cannot install pedit"; return 1; }
	tcp_sha "$BLOB" tx && rc=1
	tc qdisc del dev "$DEV" clsact
	((rc == 0)) || { echo "corrupted transfer was not detected"; return 1; }
	tcp_sha "$BLOB" tx || { echo "transfer after removing the corruption failed"; return 1; }
	echo "corruption detected"
}

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

SELFTESTS=(drivers/net/ping.py drivers/net/stats.py drivers/net/napi_id.py
	drivers/net/queues.py drivers/net/ring_reconfig.py)

expectation() {
	local driver=$1 case=$2 f=$RUSTNIC/tests/expect/$NIC-$driver.txt
	[ -f "$f" ] || return 1
	awk -v c="$case" '$1 == c { $1 = ""; sub(/^ /, ""); print; found = 1; exit } END { exit !found }' "$f"
}

# Record each KTAP case of a kselftest as its own result.
record_ktap() {
	local driver=$1 prefix=$2 log=$3 splat=$4 retried=${5:-} line res name why
	while IFS= read -r line; do
		case "$line" in
		"ok "* | "not ok "*) ;;
		*) continue ;;
		esac
		[[ "$line" =~ ^(not )?ok\ [0-9]+\ ([^ #]+)(.*)$ ]] || continue
		name="$prefix:${BASH_REMATCH[2]#*.}"
		if [[ "${BASH_REMATCH[3]}" == *"# SKIP"* ]]; then
			res=skip why=${BASH_REMATCH[3]#*# SKIP}
		elif [ -z "${BASH_REMATCH[1]}" ]; then
			res=pass why=
		else
			res=fail why=
		fi
		if [ -n "$splat" ] && [ "$res" != skip ]; then
			res=fail why="dmesg: $splat"
		elif [ "$res" = fail ] && why=$(expectation "$driver" "$name"); then
			res=xfail
		elif [ -n "$retried" ] && grep -qE "^not ok [0-9]+ [a-z_]+\.${name#*:}( |$)" "$log.first-run"; then
			why="${why:+$why; }second run (first run failed: $(basename "$log").first-run)"
		fi
		record "$NIC/$driver" "$name" "$res" "$why"
	done < <(grep -E '^(not )?ok [0-9]+ ' "$log" | grep -vE '^(not )?ok [0-9]+ (selftests|[a-z_]+\.py)$')
}

# One run of a kselftest into $1; sets RC.
selftest_once() {
	local t=$1 log=$2
	restore_dut
	warm_neigh
	(cd "$RUSTNIC/kselftest/$(dirname "$t")" &&
		NETIF=$DEV LOCAL_V4=$LOCAL_V4 REMOTE_V4=$REMOTE_V4 LOCAL_V6=$LOCAL_V6 \
			REMOTE_V6=$REMOTE_V6 REMOTE_TYPE=netns REMOTE_ARGS=$NS \
			timeout 600 python3 "./$(basename "$t")") >"$log" 2>&1
	RC=$?
}

# True if the KTAP log $3 has a failed case of selftest $2 that is not an
# expected failure of driver $1.
unexpected_failure() {
	local driver=$1 name=$2 log=$3 c
	grep -qE '^(not )?ok [0-9]+ ' "$log" || return 0
	while read -r c; do
		expectation "$driver" "$name:${c#*.}" >/dev/null || return 0
	done < <(sed -nE 's/^not ok [0-9]+ ([^ #]+).*/\1/p' "$log" | grep -vE '^(selftests|[a-z_]+\.py)$')
	return 1
}

run_selftest() {
	local driver=$1 t=$2 name log splat retried=
	name=$(basename "$t" .py)
	if [ -n "$FILTER" ] && [[ ",$FILTER," != *",$name,"* ]] && [[ ",$FILTER," != *",selftests,"* ]]; then
		return
	fi
	log=$OUT/$NIC-$driver/selftest-$name.log
	dmesg -c >>"$OUT/$NIC-$driver/dmesg.log" 2>/dev/null
	say "running $driver selftest $t"
	selftest_once "$t" "$log"
	# Under TCG the guest's CPU is saturated and the selftests' own timeouts
	# (e.g. 20 s to stop 16 iperf3 streams) are sometimes missed: a selftest
	# with an unexpected failure runs once more, and that run is the result
	# (both logs are kept; a splat in either run fails).
	if unexpected_failure "$driver" "$name" "$log"; then
		mv "$log" "$log.first-run"
		say "retrying $driver selftest $t"
		selftest_once "$t" "$log"
		retried=1
	fi
	dmesg -c >"$log.dmesg" 2>/dev/null
	cat "$log.dmesg" >>"$OUT/$NIC-$driver/dmesg.log"
	splat=$(grep -E "$SPLAT_RE" "$log.dmesg" | head -1)
	if ! grep -qE '^(not )?ok [0-9]+ ' "$log"; then
		record "$NIC/$driver" "$name" fail "no KTAP output (exit $RC)"
		return
	fi
	record_ktap "$driver" "$name" "$log" "$splat" "$retried"
	[ $RC = 124 ] && record "$NIC/$driver" "$name" fail "timed out"
}

run_netdevice_sh() {
	local driver=$1 log splat line res name
	log=$OUT/$NIC-$driver/selftest-netdevice.log
	if [ -n "$FILTER" ] && [[ ",$FILTER," != *",netdevice,"* ]] && [[ ",$FILTER," != *",selftests,"* ]]; then
		return
	fi
	dmesg -c >>"$OUT/$NIC-$driver/dmesg.log" 2>/dev/null
	ip link set "$DEV" down
	say "running $driver selftest net/netdevice.sh"
	timeout 600 sh "$RUSTNIC/kselftest/net/netdevice.sh" >"$log" 2>&1
	dmesg -c >"$log.dmesg" 2>/dev/null
	cat "$log.dmesg" >>"$OUT/$NIC-$driver/dmesg.log"
	splat=$(grep -E "$SPLAT_RE" "$log.dmesg" | head -1)
	while IFS= read -r line; do
		res=${line%%:*}
		name=${line#*: }
		name=${name#"$DEV": }
		name="netdevice:$(echo "$name" | tr -c 'A-Za-z0-9_.\n-' '_')"
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

t_sample_counters() {
	local n=2000 rx0 tx0 prx0 ptx0 rx1 tx1 prx1 ptx1
	read -r rx0 tx0 _ < <(link_stats "$DEV")
	read -r prx0 ptx0 _ < <(link_stats "$PEER" "$NS")
	ping -q -f -c $n -W 2 "$REMOTE_V4" | tail -2
	read -r rx1 tx1 _ < <(link_stats "$DEV")
	read -r prx1 ptx1 _ < <(link_stats "$PEER" "$NS")
	echo "$DEV: rx +$((rx1 - rx0)) tx +$((tx1 - tx0)); $PEER: rx +$((prx1 - prx0)) tx +$((ptx1 - ptx0))"
	((tx1 - tx0 >= n && rx1 - rx0 >= n)) || { echo "$DEV counters moved less than $n"; return 1; }
	# A stray IPv6 control packet may be in flight or land between the
	# reads: allow 2.
	near() { local d=$(($1 - $2)); ((d >= -2 && d <= 2)); }
	near $((prx1 - prx0)) $((tx1 - tx0)) || { echo "$PEER rx differs from $DEV tx"; return 1; }
	near $((ptx1 - ptx0)) $((rx1 - rx0)) || { echo "$PEER tx differs from $DEV rx"; return 1; }
	# The driver's own views (ethtool -S per-queue counters, netdev-genl
	# qstats) must agree with the core's (ip -s link), read back to back.
	# Each must lie between two ip -s link readings taken around them (stray
	# IPv6 control packets may arrive meanwhile; the counters only grow).
	local idx erx etx qrx qtx lrx ltx lrx2 ltx2
	idx=$(cat /sys/class/net/"$DEV"/ifindex)
	read -r lrx ltx _ < <(link_stats "$DEV")
	erx=$(ethtool_sum "$DEV" '^ *rx_queue_[0-9]+_packets$')
	etx=$(ethtool_sum "$DEV" '^ *tx_queue_[0-9]+_packets$')
	qrx=$(qstats_sum "$idx" rx-packets)
	qtx=$(qstats_sum "$idx" tx-packets)
	read -r lrx2 ltx2 _ < <(link_stats "$DEV")
	echo "ip -s link rx $lrx..$lrx2 tx $ltx..$ltx2; ethtool -S rx $erx tx $etx; qstats rx $qrx tx $qtx"
	[[ "$erx$etx$qrx$qtx" =~ ^[0-9]+$ ]] || { echo "ethtool -S or qstats has no packet counters"; return 1; }
	((lrx <= erx && erx <= lrx2 && lrx <= qrx && qrx <= lrx2)) || { echo "rx counters disagree"; return 1; }
	((ltx <= etx && etx <= ltx2 && ltx <= qtx && qtx <= ltx2)) || { echo "tx counters disagree"; return 1; }
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
	local i cycles=${SAMPLE_CYCLES:-100} t0=$SECONDS
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
	run_test "$driver" link_up t_link_up
	run_test "$driver" ping_v4 t_ping_v4
	run_test "$driver" ping_v6 t_ping_v6
	run_test "$driver" tcp_sha_tx t_tcp_sha_tx
	run_test "$driver" tcp_sha_rx t_tcp_sha_rx
	run_test "$driver" counters t_sample_counters
	run_test "$driver" link_flap t_link_flap
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
	run_test "$driver" link_up t_link_up
	run_test "$driver" ping_v4 t_ping_v4
	run_test "$driver" ping_v6 t_ping_v6
	run_test "$driver" tcp_sha_tx t_tcp_sha_tx
	run_test "$driver" tcp_sha_rx t_tcp_sha_rx
	run_test "$driver" tcp_sha_tx_v6 t_tcp_sha_tx_v6
	run_test "$driver" tcp_sha_rx_v6 t_tcp_sha_rx_v6
	run_test "$driver" ethtool_i t_ethtool_i
	run_test "$driver" ethtool_S t_ethtool_S
	run_test "$driver" ethtool_g t_ethtool_g
	run_test "$driver" ethtool_k t_ethtool_k
	run_test "$driver" mtu t_mtu
	run_test "$driver" link_flap t_link_flap
	run_test "$driver" bad_frames t_bad_frames
	run_test "$driver" tx_timeout t_tx_timeout
	if [ "$driver" = c ]; then
		run_test "$driver" harness_corruption t_harness_corruption
		run_test "$driver" harness_warn t_harness_warn
	else
		# Integrity and robustness of the Rust drivers (1 GiB takes about a
		# minute and a half each way under TCG: not repeated for C).
		run_test "$driver" tcp_1g t_tcp_1g
		run_test "$driver" ring_resize t_ring_resize
		run_test "$driver" flap_cycles t_flap_cycles
		run_test "$driver" fault_open t_fault_open
		run_test "$driver" fault_rx t_fault_rx
		run_test "$driver" rmmod_cycles t_rmmod_cycles
	fi
	local t
	for t in "${SELFTESTS[@]}"; do
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

# Interrupts of the NIC under test so far (all CPUs).
nic_irqs() {
	local irq
	irq=$(cat /sys/bus/pci/devices/"$DUT_BDF"/irq)
	awk -v i="$irq:" '$1 == i { s = 0; for (k = 2; k <= NF; k++) if ($k ~ /^[0-9]+$/) s += $k; print s }' /proc/interrupts
}

# One benchmark round for one driver: a JSON line in $3 (round 0: the
# warm-up). $4: "default" (the driver's own interrupt moderation) or "equal"
# (moderation off on both: `ethtool -C rx-usecs 0`, the one setting both
# e1000 drivers take alike). The line records the driver's `ethtool -c`.
bench_one() {
	local round=$1 driver=$2 dst=$3 setting=$4 secs=${BENCH_SECS:-10} j tcp1 tcp4 udp rtt rtt50 irq0 irq1 mb
	local coal
	setup_dut "$driver" >/dev/null || { say "bench: cannot set up $driver"; return 1; }
	if [ "$setting" = equal ]; then
		ethtool -C "$DEV" rx-usecs 0 || { say "bench: $driver: ethtool -C rx-usecs 0 failed"; return 1; }
	fi
	coal=$(ethtool -c "$DEV" 2>/dev/null | awk -F': *' '/^rx-usecs:/ { print $2 }')
	warm_neigh
	j=$OUT/bench-$setting-$round-$driver
	in_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
	wait_listen 5201 "$NS"
	irq0=$(nic_irqs)
	iperf3 -c "$REMOTE_V4" -t "$secs" -J >"$j-tcp1.json" || return 1
	irq1=$(nic_irqs)
	tcp1=$(jq '.end.sum_received.bits_per_second / 1e6' "$j-tcp1.json")
	mb=$(jq '.end.sum_received.bytes / 1e6' "$j-tcp1.json")
	in_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
	wait_listen 5201 "$NS"
	iperf3 -c "$REMOTE_V4" -t "$secs" -P 4 -J >"$j-tcp4.json" || return 1
	tcp4=$(jq '.end.sum_received.bits_per_second / 1e6' "$j-tcp4.json")
	# 64-byte frames: 18 bytes of UDP payload + 8 + 20 + 14 + 4 (FCS).
	in_peer iperf3 -s -D -B "$REMOTE_V4" -1 >/dev/null 2>&1
	wait_listen 5201 "$NS"
	iperf3 -c "$REMOTE_V4" -u -l 18 -b 0 -t "$secs" -J >"$j-udp.json" || return 1
	udp=$(jq '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds' "$j-udp.json")
	# RTT after the UDP flood has drained; mean and median of 200 echoes
	# (the mean follows the few slow ones, e.g. a timer tick or a
	# neighbour refresh landing on an echo).
	sleep 1
	ping -c 200 -i 0.01 "$REMOTE_V4" >"$j-ping.txt" || return 1
	rtt=$(awk -F'[/ =]+' '/^rtt/ { print $7 * 1000 }' "$j-ping.txt")
	rtt50=$(sed -nE 's/.* time=([0-9.]+) ms.*/\1/p' "$j-ping.txt" | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) * 1000 }')
	printf '{"setting":"%s","round":%d,"driver":"%s","module":"%s","rx_usecs":"%s","tcp1_mbps":%s,"tcp4_mbps":%s,"udp64_pps":%s,"rtt_avg_us":%s,"rtt_p50_us":%s,"irqs_per_mb":%s}\n' \
		"$setting" "$round" "$driver" "$DRVNAME" "${coal:-?}" "$tcp1" "$tcp4" "$udp" "$rtt" "$rtt50" \
		"$(jq -n "($irq1 - $irq0) / $mb")" >>"$dst"
	say "bench $setting round $round $driver (rx-usecs ${coal:-?}): tcp1 $tcp1 tcp4 $tcp4 udp64 $udp pps rtt $rtt us (median $rtt50 us)"
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
# both ends' paths for each driver in turn, analysed on the host by
# tests/rtt_trace.py.
TR=/sys/kernel/tracing
RTT_EVENTS="net/net_dev_start_xmit net/net_dev_xmit net/napi_gro_receive_entry
	irq/irq_handler_entry irq/irq_handler_exit irq/softirq_entry"
run_rtt_trace() {
	local d ev
	mountpoint -q $TR || mount -t tracefs nodev $TR
	echo mono >$TR/trace_clock
	echo 4096 >$TR/buffer_size_kb
	for d in ${DRIVERS//,/ }; do
		setup_dut "$d" >/dev/null || { say "rtt trace: cannot set up $d"; continue; }
		warm_neigh
		echo 0 >$TR/tracing_on
		echo >$TR/trace
		for ev in $RTT_EVENTS; do echo 1 >$TR/events/$ev/enable; done
		echo 1 >$TR/tracing_on
		ping -c 200 -i 0.02 "$REMOTE_V4" >"$OUT/rtt-$d-ping.txt"
		echo 0 >$TR/tracing_on
		for ev in $RTT_EVENTS; do echo 0 >$TR/events/$ev/enable; done
		cat $TR/trace >"$OUT/rtt-$d-trace.txt"
		echo "RTTDEV $d $DEV $PEER $(cat /sys/bus/pci/devices/"$DUT_BDF"/irq)" >>"$OUT/rtt-devs.txt"
	done
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
	done
}

dmesg -n 4
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
if [ "$MODE" = test ]; then
	# The SHA-checked transfers: 64 MiB, 8 MiB on a debug kernel (KASAN,
	# lockdep and kmemleak make 64 MiB take about 5 minutes there).
	if has_kmemleak; then BLOB_MB=8; else BLOB_MB=64; fi
	say "SHA-checked transfers of $BLOB_MB MiB"
	head -c ${BLOB_MB}M /dev/urandom >"$BLOB"
	[ "${RUSTNIC_KUNIT:-0}" = 1 ] && record_kunit
fi
if [ "$NIC" = sample ]; then
	test_sample
	dmesg >"$OUT/dmesg-final.log"
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
[ "$MODE" = bench ] && [ "${BENCH_TRACE:-0}" = 1 ] && run_rtt_trace
[ "$MODE" = regs ] && run_regs
dmesg >"$OUT/dmesg-final.log"
echo "rustnic-guest: done"
