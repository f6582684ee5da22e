# SPDX-License-Identifier: GPL-2.0
# Guest-side helpers for rustnic's tests. Sourced by main.sh inside QEMU.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUSTNIC=/opt/rustnic
OUT=$RUSTNIC/out
RESULTS=$OUT/results.txt

# PCI slots the host gives the two NICs (see tests/harness.sh).
DUT_BDF=0000:00:10.0
PEER_BDF=0000:00:11.0
NS=peer
LOCAL_V4=192.0.3.1
REMOTE_V4=192.0.3.2
LOCAL_V6=2001:db8:1::1
REMOTE_V6=2001:db8:1::2

# What fails a test when it shows in the kernel log during the test: splats,
# stalls and hangs, page pools that cannot shut down, and transmit timeouts
# (TIMEOUT_RE: except in the test that provokes one on purpose).
SPLAT_RE='WARNING:|BUG:|Oops|KASAN|refcount_t|unreferenced object|general protection fault|Kernel panic|rcu: INFO|self-detected stall|blocked for more than|soft lockup|hard LOCKUP|stalled pool shutdown'
TIMEOUT_RE='NETDEV WATCHDOG|transmit timed out|Tx Unit Hang'

# (Each line carries the guest's uptime in seconds: where a boot's time goes.)
say() {
	local up
	read -r up _ </proc/uptime
	echo "rustnic-guest: [${up%.*}] $*" >&2
}

# nap SECONDS: sleep without starting a process (a read with a timeout on a
# FIFO that nobody writes). Each fork+exec costs tens of milliseconds under
# TCG, and about a second on a debug kernel, where the polling loops below
# would otherwise spend most of their time starting `sleep`.
NAP_FIFO=/tmp/rustnic-nap
nap() {
	if [ -z "${NAP_FD:-}" ]; then
		[ -p $NAP_FIFO ] || mkfifo $NAP_FIFO 2>/dev/null
		# (The group keeps the redirection of stderr temporary: on a bare
		# exec it would be permanent.)
		{ exec {NAP_FD}<>$NAP_FIFO; } 2>/dev/null || NAP_FD=none
	fi
	if [ "$NAP_FD" = none ]; then
		sleep "$1"
	else
		read -r -t "$1" -u "$NAP_FD" _
		return 0
	fi
}

# driver_table NIC DRIVER -> "module bus pci-or-virtio-driver-name"
driver_table() {
	case "$1:$2" in
	e1000:c) echo "e1000 pci e1000" ;;
	e1000:rust) echo "e1000_rust pci e1000_rust" ;;
	virtio:c) echo "virtio_net virtio virtio_net" ;;
	virtio:rust) echo "virtio_net_rust virtio virtio_net_rust" ;;
	*) return 1 ;;
	esac
}

module_built() { modinfo "$1" >/dev/null 2>&1; }

# The bus device that a netdev driver binds to for the NIC at PCI BDF $1.
bus_dev() {
	local bdf=$1 bus=$2 d
	if [ "$bus" = pci ]; then
		echo "$bdf"
		return
	fi
	for d in /sys/bus/pci/devices/"$bdf"/virtio*; do
		[ -e "$d" ] && basename "$d" && return
	done
	return 1
}

netdev_of() {
	local bdf=$1 n
	for n in /sys/bus/pci/devices/"$bdf"/net/* /sys/bus/pci/devices/"$bdf"/virtio*/net/*; do
		[ -e "$n" ] && echo "${n##*/}" && return
	done
	return 1
}

# bind NIC-BDF BUS DRIVER: bind the device to DRIVER through sysfs.
bind_to() {
	local bdf=$1 bus=$2 drv=$3 dev cur
	dev=$(bus_dev "$bdf" "$bus") || return 1
	cur=$(basename "$(readlink "/sys/bus/$bus/devices/$dev/driver" 2>/dev/null)" 2>/dev/null)
	[ "$cur" = "$drv" ] && return 0
	[ -n "$cur" ] && echo "$dev" >"/sys/bus/$bus/drivers/$cur/unbind"
	if [ -e "/sys/bus/$bus/devices/$dev/driver_override" ]; then
		echo "$drv" >"/sys/bus/$bus/devices/$dev/driver_override"
		echo "$dev" >"/sys/bus/$bus/drivers_probe"
	else
		echo "$dev" >"/sys/bus/$bus/drivers/$drv/bind"
	fi
	cur=$(basename "$(readlink "/sys/bus/$bus/devices/$dev/driver" 2>/dev/null)" 2>/dev/null)
	[ "$cur" = "$drv" ]
}

wait_netdev() {
	local bdf=$1 i
	for i in $(seq 50); do
		netdev_of "$bdf" && return 0
		nap 0.1
	done
	return 1
}

wait_carrier() {
	local dev=$1 ns=${2:-} i c
	for i in $(seq 100); do
		if [ -n "$ns" ]; then
			[ "$(ip netns exec "$ns" cat /sys/class/net/"$dev"/carrier 2>/dev/null)" = 1 ] && return 0
		else
			read -r c <"/sys/class/net/$dev/carrier" 2>/dev/null && [ "$c" = 1 ] && return 0
		fi
		nap 0.1
	done
	return 1
}

in_peer() { ip netns exec "$NS" "$@"; }

# Resolve neighbours both ways: under TCG a cold neighbour can miss a 0.5 s
# ping timeout in the selftests.
warm_neigh() {
	local i
	for i in 1 2 3; do
		ping -q -c 1 -W 2 "$REMOTE_V4" >/dev/null 2>&1 &&
			ping -q -c 1 -W 2 "$REMOTE_V6" >/dev/null 2>&1 &&
			in_peer ping -q -c 1 -W 2 "$LOCAL_V4" >/dev/null 2>&1 &&
			in_peer ping -q -c 1 -W 2 "$LOCAL_V6" >/dev/null 2>&1 && return 0
	done
	say "neighbours did not resolve"
	return 0
}

# A deterministic stream of $1 MiB (a multiple of 64): 64 MiB blocks of the
# test blob, each prefixed with its index, so the stream has no 64 MiB period.
# Made a program so that socat can run it on either side.
stream_prog() {
	local mib=$1 prog=/tmp/rustnic-stream-$1
	if [ ! -x "$prog" ]; then
		cat >"$prog" <<-EOS
			#!/bin/bash
			for ((i = 0; i < $mib / 64; i++)); do printf '%016d' "\$i"; cat /tmp/rustnic-blob; done
		EOS
		chmod +x "$prog"
		"$prog" | sha256sum | cut -d' ' -f1 >"$prog.sum"
	fi
	echo "$prog"
}

# Send $1 over TCP from one side to the other and compare SHA-256. $1 is a
# file, or stream:MIB for a stream_prog stream; over IPv4, or IPv6 with v6.
# tcp_sha SOURCE tx|rx [v4|v6]
tcp_sha() {
	local src=$1 dir=$2 fam=${3:-v4} want got addr port=5001 t=${TCP_TIMEOUT:-300}
	local tcp=TCP local_ip=$LOCAL_V4 remote_ip=$REMOTE_V4
	if [ "$fam" = v6 ]; then
		tcp=TCP6 local_ip="[$LOCAL_V6]" remote_ip="[$REMOTE_V6]"
	fi
	if [[ "$src" == stream:* ]]; then
		src=$(stream_prog "${src#stream:}")
		want=$(cat "$src.sum")
		addr="EXEC:$src"
	else
		want=$(sha256sum <"$src" | cut -d' ' -f1)
		addr="FILE:$src"
	fi
	rm -f /tmp/rustnic-got.sum
	if [ "$dir" = tx ]; then
		in_peer timeout "$t" sh -c "socat -u $tcp-LISTEN:$port,reuseaddr,bind=$remote_ip - | sha256sum >/tmp/rustnic-got.sum" &
		wait_listen "$port" "$NS" || { say "listener did not come up"; return 1; }
		timeout "$t" socat -u "$addr" "$tcp:$remote_ip:$port" || { say "socat send failed"; wait; return 1; }
	else
		timeout "$t" sh -c "socat -u $tcp-LISTEN:$port,reuseaddr,bind=$local_ip - | sha256sum >/tmp/rustnic-got.sum" &
		wait_listen "$port" "" || { say "listener did not come up"; return 1; }
		in_peer timeout "$t" socat -u "$addr" "$tcp:$local_ip:$port" || { say "socat send failed"; wait; return 1; }
	fi
	wait
	got=$(cut -d' ' -f1 /tmp/rustnic-got.sum 2>/dev/null)
	say "sha256 sent $want received ${got:-none}"
	[ "$want" = "$got" ]
}

wait_listen() {
	local port=$1 ns=$2 i
	for i in $(seq 100); do
		if [ -n "$ns" ]; then
			in_peer ss -Hltn "sport = :$port" | grep -q . && return 0
		else
			ss -Hltn "sport = :$port" | grep -q . && return 0
		fi
		nap 0.05
	done
	return 1
}

# record DRIVER TEST RESULT [DETAIL]
record() {
	local line="$1 $2 $3${4:+ $4}"
	echo "$line" >>"$RESULTS"
	echo "RESULT $line"
}
