#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare build/linux (pristine 7.3 + overlay + patches), configure it from
# configs/*.config and build bzImage, modules and the selftests we run.
#
# Files are only rewritten when their content changes, so editing one
# overlay file rebuilds only what depends on it.
#
# With KDIR=/path/to/linux (a git tree of Linux 7.3 without uncommitted
# changes), the series (ci/series.sh) is applied on a new branch of that tree
# with `git am`, and that tree is built instead.
#
# Usage: ci/kernel.sh [VARIANT]   (VARIANT: default; configs/VARIANT/*.config
#                                  are merged on top of configs/*.config)
#        ci/kernel.sh --tree      only prepare the source tree (the overlay,
#                                  and KDIR's branch), no configuration or build
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TREE_ONLY=0
if [ "${1:-}" = --tree ]; then
	TREE_ONLY=1
	shift
fi
VARIANT=${1:-${CONFIG:-default}}
OUT=$OUT_BASE-$VARIANT

unpack_pristine() {
	local deb
	deb=$(ls "$CACHE"/dl/linux-source-7.3_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || die "linux-source-7.3 is not in $CACHE/dl: run 'make deps'"
	if [ -f "$PRISTINE/.rustnic-src" ] && [ "$(cat "$PRISTINE/.rustnic-src")" = "$(basename "$deb")" ]; then
		return
	fi
	stage_begin unpack
	rm -rf "$PRISTINE" "$OVERLAY_SRC" "$KTREE"/out-* "$KTREE/overlay-manifest.txt" "$KTREE/tmp-unpack"
	mkdir -p "$KTREE/tmp-unpack"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
		tar -xJ -C "$KTREE/tmp-unpack"
	mv "$KTREE"/tmp-unpack/linux-source-* "$PRISTINE"
	rmdir "$KTREE/tmp-unpack"
	basename "$deb" >"$PRISTINE/.rustnic-src"
	stage_end unpack
}

# Write $2 into the tree at path $1 only if it differs. Replaces the file
# (never writes through a hard link into the pristine copy).
put_file() {
	local rel=$1 src=$2 dst=$OVERLAY_SRC/$1
	if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
		return
	fi
	mkdir -p "$(dirname "$dst")"
	cp "$src" "$dst.rustnic-tmp"
	mv -f "$dst.rustnic-tmp" "$dst"
	log "  updated $rel"
}

restore_pristine() {
	local rel=$1
	if [ -f "$PRISTINE/$rel" ]; then
		put_file "$rel" "$PRISTINE/$rel"
	else
		rm -f "$OVERLAY_SRC/$rel"
		log "  removed $rel"
	fi
}

apply_overlay() {
	stage_begin overlay
	if [ ! -d "$OVERLAY_SRC" ]; then
		cp -al "$PRISTINE" "$OVERLAY_SRC"
	fi

	# Patched files: start each from its pristine copy, apply patches/*.patch
	# in order in a scratch tree, then install the results.
	local scratch=$KTREE/tmp-patch
	rm -rf "$scratch"
	mkdir -p "$scratch"
	local p f
	local -a touched=()
	shopt -s nullglob
	for p in "$TOP"/patches/*.patch; do
		while read -r f; do
			touched+=("$f")
		done < <(awk '/^\+\+\+ / { sub(/^b\//, "", $2); print $2 }' "$p")
	done
	for f in "${touched[@]}"; do
		if [ -f "$PRISTINE/$f" ] && [ ! -f "$scratch/$f" ]; then
			mkdir -p "$scratch/$(dirname "$f")"
			cp "$PRISTINE/$f" "$scratch/$f"
		fi
	done
	for p in "$TOP"/patches/*.patch; do
		patch -s -p1 -d "$scratch" --no-backup-if-mismatch <"$p" ||
			die "patch does not apply: $(basename "$p")"
	done

	# Overlay files (rust/, drivers/, samples/, tools/) at the same path:
	# in a git clone those git tracks or would track (.gitignore keeps out
	# what running the tests leaves, such as __pycache__/).
	local -a files=()
	local d
	for d in rust drivers samples tools; do
		[ -d "$TOP/$d" ] || continue
		while IFS= read -r f; do
			files+=("$f")
		done < <(cd "$TOP" && if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
			git ls-files --cached --others --exclude-standard "$d"
		else
			find "$d" -type f
		fi | sort)
	done

	local manifest=$KTREE/overlay-manifest.txt new_manifest
	new_manifest=$(mktemp)
	for f in "${files[@]}"; do
		if [ -f "$scratch/$f" ]; then
			die "$f is both an overlay file and patched: pick one"
		fi
		put_file "$f" "$TOP/$f"
		echo "$f" >>"$new_manifest"
	done
	for f in "${touched[@]}"; do
		put_file "$f" "$scratch/$f"
		echo "$f" >>"$new_manifest"
	done
	sort -u -o "$new_manifest" "$new_manifest"
	# Files we installed earlier that are gone from the overlay: restore.
	if [ -f "$manifest" ]; then
		comm -23 "$manifest" "$new_manifest" | while read -r f; do
			restore_pristine "$f"
		done
	fi
	mv "$new_manifest" "$manifest"
	rm -rf "$scratch"
	stage_end overlay
}

configure() {
	stage_begin config
	local frags=("$TOP"/configs/*.config)
	if [ "$VARIANT" != default ]; then
		[ -d "$TOP/configs/$VARIANT" ] || die "no config variant configs/$VARIANT"
		frags+=("$TOP"/configs/"$VARIANT"/*.config)
	fi
	# The base is allnoconfig, not x86_64_defconfig: the fragments list all
	# that the guest and the tests need (configs/00-base.config: the core),
	# and a cold build compiles about a third less (no disk filesystems,
	# netfilter, SELinux, ATA, IOMMU, EFI...). Not tinyconfig: it would also
	# turn off what allnoconfig leaves on behind EXPERT (printk, futexes,
	# epoll...) and pick -Os, XZ, SLUB_TINY and the guess unwinder.
	local base=allnoconfig want
	want=$({ echo "$base"; cat "${frags[@]}"; } | sha256sum | cut -c1-16)
	if [ -f "$OUT/.config" ] && [ "$(cat "$OUT/.rustnic-config" 2>/dev/null)" = "$want" ]; then
		log "config unchanged"
		stage_end config
		return
	fi
	mkdir -p "$OUT"
	make -s -C "$KSRC" O="$OUT" "${KMAKE[@]}" "$base" >/dev/null
	KCONFIG_CONFIG="$OUT/.config" "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$OUT" \
		"$OUT/.config" "${frags[@]}" >"$LOGS/merge_config-$VARIANT.log"
	make -s -C "$KSRC" O="$OUT" "${KMAKE[@]}" olddefconfig >/dev/null
	# Every option we asked for must have survived olddefconfig.
	local bad=0 line opt val got
	while read -r line; do
		case "$line" in
		CONFIG_*=*) opt=${line%%=*} val=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#\# } opt=${opt%% *} val=n ;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=" "$OUT/.config" | cut -d= -f2- || true)
		[ -n "$got" ] || got=n
		if [ "$got" != "$val" ]; then
			log "config: $opt=$val requested, got $got"
			bad=1
		fi
	done < <(cat "${frags[@]}")
	((bad == 0)) || die "configuration did not take (see above)"
	echo "$want" >"$OUT/.rustnic-config"
	stage_end config
}

build() {
	stage_begin build
	local t0 log=$LOGS/build-$VARIANT.log
	if ! make -C "$KSRC" O="$OUT" "${KMAKE[@]}" bzImage modules >"$log" 2>&1; then
		grep -E 'error|Error' "$log" | head -40 >&2
		die "kernel build failed (full log: $log)"
	fi
	log "  $(grep -cE '^ +(CC|RUSTC|AS|LD)' "$log" || true) objects (re)built"
	stage_end build
}

selftests() {
	stage_begin selftests
	local dst=$OUT/kselftest log=$LOGS/selftests-$VARIANT.log
	{
		make -C "$KSRC" O="$OUT" "${KMAKE[@]}" headers &&
			make -C "$KSRC/tools/testing/selftests" O="$OUT/kselftest-build" -j"$(nproc)" \
				KHDR_INCLUDES="-isystem $OUT/usr/include" \
				LLVM=-22 CC=clang-22 CLANG=clang-22 \
				TARGETS="drivers/net drivers/net/hw net/lib" \
				install INSTALL_PATH="$dst"
	} >"$log" 2>&1 || die "selftests build failed (log: $log)"
	local t
	for t in ping stats napi_id queues ring_reconfig netpoll_basic hw/csum hw/tso hw/pp_alloc_fail \
		hw/xfer hw/reconfig_traffic hw/counters hw/bad_frames hw/driver_reload hw/fault_inject \
		hw/e1000_tx_timeout hw/nic_info; do
		[ -x "$dst/drivers/net/$t.py" ] || die "selftest drivers/net/$t.py not installed (log: $log)"
	done
	[ -x "$dst/net/lib/csum" ] || die "net/lib/csum (for hw/csum.py) not installed (log: $log)"
	# net/netdevice.sh is a plain script: take it from the tree.
	mkdir -p "$dst/net"
	cp "$KSRC/tools/testing/selftests/net/netdevice.sh" "$dst/net/"
	stage_end selftests
}

# build/{pristine,linux,out-VARIANT} in the clone point at the shared tree
# (build/linux: the tree that is built, KDIR's if given).
link_tree() {
	local l
	mkdir -p "$BUILD"
	for l in pristine linux "out-$VARIANT"; do
		if [ -e "$BUILD/$l" ] && [ ! -L "$BUILD/$l" ]; then
			rm -rf "${BUILD:?}/$l"
		fi
	done
	ln -sfn "$PRISTINE" "$BUILD/pristine"
	ln -sfn "$KSRC" "$BUILD/linux"
	ln -sfn "$OUT" "$BUILD/out-$VARIANT"
}

# KDIR: check the user's tree, then put the series on a branch of it named
# after the series' last commit (rustnic/ID). A branch that exists is
# checked out again; a new one starts where the user's tree was, or, when
# the tree is on an older rustnic/ branch, where that branch started.
# Any failure leaves the tree as it was.
apply_to_kdir() {
	stage_begin kdir
	local v p id branch base orig
	git -C "$KSRC" rev-parse --git-dir >/dev/null 2>&1 || die "KDIR=$KSRC is not a git tree"
	v=$(sed -n 's/^VERSION = //p' "$KSRC/Makefile" 2>/dev/null)
	p=$(sed -n 's/^PATCHLEVEL = //p' "$KSRC/Makefile" 2>/dev/null)
	[ "$v.$p" = 7.3 ] || die "KDIR=$KSRC is not Linux 7.3 (Makefile says '$v.$p'): left untouched"
	[ -z "$(git -C "$KSRC" status --porcelain --untracked-files=no)" ] ||
		die "KDIR=$KSRC has uncommitted changes: commit or stash them (left untouched)"
	bash "$TOP/ci/series.sh" >/dev/null
	id=$(git -C "$KTREE/series-sparse" rev-parse --short=12 HEAD)
	branch=rustnic/$id
	orig=$(git -C "$KSRC" symbolic-ref -q --short HEAD || git -C "$KSRC" rev-parse HEAD)
	if git -C "$KSRC" rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
		[ "$orig" = "$branch" ] || git -C "$KSRC" checkout -q "$branch" ||
			die "KDIR: cannot check out $branch"
		log "KDIR: $KSRC is on $branch (the series is applied)"
	else
		base=$(git -C "$KSRC" rev-parse HEAD)
		case $orig in
		rustnic/*) base=$(git -C "$KSRC" config "branch.$orig.rustnic-base" || echo "$base") ;;
		esac
		git -C "$KSRC" checkout -q -b "$branch" "$base" || die "KDIR: cannot create branch $branch"
		local -a am=(git -C "$KSRC")
		git -C "$KSRC" config user.email >/dev/null || am+=(-c user.name=rustnic -c user.email=rustnic@localhost)
		local -a patches
		mapfile -t patches < <(find "$BUILD/series" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
		if ! "${am[@]}" am -q "${patches[@]}" >"$LOGS/kdir-am.log" 2>&1; then
			git -C "$KSRC" am --abort >/dev/null 2>&1 || true
			git -C "$KSRC" checkout -q "$orig"
			git -C "$KSRC" branch -q -D "$branch"
			cat "$LOGS/kdir-am.log" >&2
			die "the series does not apply to KDIR=$KSRC (left on $orig, as it was)"
		fi
		git -C "$KSRC" config "branch.$branch.rustnic-base" "$base"
		log "KDIR: series applied to $KSRC on the new branch $branch (from $orig)"
	fi
	stage_end kdir
}

unpack_pristine
apply_overlay
[ -z "${KDIR:-}" ] || apply_to_kdir
((TREE_ONLY == 0)) || exit 0
link_tree
configure
build
selftests
