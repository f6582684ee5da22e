#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything rustnic needs on a Debian 12 host, idempotently, and
# fetch the pristine linux-source-7.3 package into the cache.
#
# Never adds a trixie suite to the host's apt sources: linux-source-7.3 is
# fetched through a private apt configuration that only reuses the URI of
# the host's own Debian source.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stage_begin deps

APT_PKGS=(
	rustc-web rust-web-src rust-web-clippy
	clang-22 lld-22 llvm-22 libclang-22-dev
	bc flex bison libelf-dev libssl-dev cpio dwarves kmod make
	ccache qemu-system-x86 debootstrap iproute2 xz-utils rsync patch jq
	python3-venv python3-yaml python3-jsonschema python3-ply python3-git git
)

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	log "apt: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	log "apt: all ${#APT_PKGS[@]} packages present"
fi

# bindgen-cli, pinned, into the cache (outside the clone).
if ! "$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "cargo: installing bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet --root "$CACHE/cargo" bindgen-cli --version "$BINDGEN_VERSION"
fi

# virtme-ng, pinned, in a venv in the cache.
if ! "$VNG" --version 2>/dev/null | grep -q "$VNG_VERSION"; then
	log "pip: installing virtme-ng $VNG_VERSION"
	/usr/bin/python3 -m venv "$CACHE/venv"
	"$CACHE/venv/bin/pip" install -q "virtme-ng==$VNG_VERSION"
fi

# matplotlib, pinned, for the benchmark's plot (make bench).
MPL_VERSION=3.10.8
if ! "$CACHE/venv/bin/python3" -c "import matplotlib, sys; sys.exit(matplotlib.__version__ != '$MPL_VERSION')" 2>/dev/null; then
	log "pip: installing matplotlib $MPL_VERSION"
	"$CACHE/venv/bin/pip" install -q "matplotlib==$MPL_VERSION"
fi

# rustc/rustdoc from Debian first on PATH (rustup's has no rust-src).
mkdir -p "$CACHE/bin"
for t in rustc rustdoc; do
	ln -sf "/usr/bin/$t" "$CACHE/bin/$t"
done
# Debian's python3 (with python3-yaml) for the selftests' ynl code generator.
ln -sf /usr/bin/python3 "$CACHE/bin/python3"

# linux-source-7.3 from trixie-backports through a private apt configuration.
fetch_linux_source() {
	apt_private trixie-backports
	local aptopts=("${APTOPTS[@]}")
	local ver sha file
	ver=$(apt-cache "${aptopts[@]}" show linux-source-7.3 | awk '/^Version:/ { print $2; exit }')
	sha=$(apt-cache "${aptopts[@]}" show "linux-source-7.3=$ver" | awk '/^SHA256:/ { print $2; exit }')
	[ -n "$sha" ] || die "linux-source-7.3 not found in trixie-backports"
	(cd "$CACHE/dl" && apt-get "${aptopts[@]}" download "linux-source-7.3=$ver" >/dev/null)
	file=$(ls "$CACHE"/dl/linux-source-7.3_*.deb | head -1)
	echo "$sha  $file" | sha256sum -c --quiet - || die "checksum mismatch for $file"
	log "fetched $(basename "$file") (sha256 $sha)"
	echo "$sha" >"$file.sha256"
}

mkdir -p "$CACHE/dl"
if ! ls "$CACHE"/dl/linux-source-7.3_*.deb.sha256 >/dev/null 2>&1; then
	fetch_linux_source
else
	log "linux-source-7.3 already in cache"
fi

stage_end deps
