#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest's root filesystem with debootstrap (Debian trixie: the
# ethtool/iproute2 that 7.3's selftests expect) into the cache outside the
# clone, keyed by the content of this script and the package list, and
# print its path. The host's apt sources are never touched: debootstrap
# talks to the mirror directly.
set -euo pipefail
. "$(dirname "$0")/../ci/lib.sh"

HERE=$TOP/qemu-images
SUITE=trixie
PKGS=$(grep -v '^#' "$HERE/packages.txt" | xargs | tr ' ' ',')
NEWER_PKGS="ethtool"
KEY=$(cat "$HERE/build.sh" "$HERE/packages.txt" | sha256sum | cut -c1-16)
ROOT=$CACHE/rootfs-$SUITE-$KEY

if [ -f "$ROOT/.rustnic-complete" ]; then
	echo "$ROOT"
	exit 0
fi

stage_begin rootfs
MIRROR=$(debian_mirror)
tmp=$ROOT.tmp
rm -rf "$tmp"
debootstrap --variant=minbase --include="$PKGS" \
	--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
	"$SUITE" "$tmp" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
	die "debootstrap failed (log: $LOGS/debootstrap.log)"
# Newer than trixie where 7.3's selftests need it, from forky (Debian
# testing), through a private apt configuration that checks signatures and
# hashes: ethtool 7.x, for `ethtool --json -l` (channels), which trixie's
# 6.14 lacks and netpoll_basic.py calls first.
apt_private forky
debs=$CACHE/apt-forky/debs
rm -rf "$debs"
mkdir -p "$debs"
(cd "$debs" && apt-get "${APTOPTS[@]}" download $NEWER_PKGS >/dev/null) ||
	die "cannot fetch $NEWER_PKGS from forky"
cp "$debs"/*.deb "$tmp/tmp/"
chroot "$tmp" sh -c 'dpkg -i /tmp/*.deb && rm /tmp/*.deb' >>"$LOGS/debootstrap.log" 2>&1 ||
	die "cannot install $NEWER_PKGS from forky (log: $LOGS/debootstrap.log)"
# Keep the image small: no apt caches or docs.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* \
	"$tmp"/usr/share/doc "$tmp"/usr/share/man "$tmp"/usr/share/locale
echo rustnic-guest >"$tmp/etc/hostname"
touch "$tmp/.rustnic-complete"
mv "$tmp" "$ROOT"
# Older images of other keys are no longer needed.
for old in "$CACHE"/rootfs-"$SUITE"-*; do
	[ "$old" = "$ROOT" ] || rm -rf "$old"
done
stage_end rootfs
echo "$ROOT"
