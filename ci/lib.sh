# SPDX-License-Identifier: GPL-2.0
# Shared settings for rustnic's scripts. Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RUSTNIC_CACHE:-$HOME/.cache/rustnic}
BUILD=$TOP/build
LOGS=$BUILD/logs
# The kernel tree and its objects live in the cache at a fixed path, shared by
# every clone on this machine: the overlay is applied by content (only files
# that differ are rewritten), so a new clone rebuilds only what its overlay
# changes instead of the whole kernel. build/{pristine,linux,out-*} in the
# clone are symlinks to it.
KTREE=${RUSTNIC_KTREE:-$CACHE/kernel}
PRISTINE=$KTREE/pristine
# The pristine tree with the overlay applied (what the patch series gives).
OVERLAY_SRC=$KTREE/linux
# The tree that is built and booted: OVERLAY_SRC, or with KDIR=/path the
# user's own 7.3 git tree, on a branch with the series applied
# (ci/kernel.sh). Its objects are in $OUT_BASE-VARIANT.
if [ -n "${KDIR:-}" ]; then
	KSRC=$(cd "$KDIR" 2>/dev/null && pwd) || { printf '[rustnic] error: KDIR=%s: no such directory\n' "$KDIR" >&2; exit 1; }
	OUT_BASE=$KTREE/kdir-$(printf %s "$KSRC" | sha256sum | cut -c1-8)/out
else
	KSRC=$OVERLAY_SRC
	OUT_BASE=$KTREE/out
fi

BINDGEN_VERSION=0.73.2
VNG_VERSION=1.42
BINDGEN=$CACHE/cargo/bin/bindgen
VNG=$CACHE/venv/bin/vng

export PATH="$CACHE/bin:$CACHE/venv/bin:$PATH"
export LIBCLANG_PATH=/usr/lib/llvm-22/lib
export CCACHE_DIR=$CACHE/ccache
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
# Pristine tarballs carry old mtimes; ccache may trust them.
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
# Depend mode: on a miss ccache takes the headers from the compiler's own
# -MMD output (kbuild always asks for it) instead of running the
# preprocessor first. With an empty cache (a fresh machine) that extra pass
# made the kernel build 1157 s instead of 835 s on a 2-core machine; a
# second tree built from the same cache still hits (109 s).
export CCACHE_DEPEND=1

mkdir -p "$CACHE" "$LOGS" "$KTREE"

log() { printf '[rustnic] %s\n' "$*" >&2; }
die() { printf '[rustnic] error: %s\n' "$*" >&2; exit 1; }

# Debian's mirror, as the host's apt sources name it.
debian_mirror() {
	local uri
	uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	echo "${uri:-http://deb.debian.org/debian}"
}

# apt_private SUITE: a private apt configuration in $CACHE/apt-SUITE for one
# Debian suite (signatures and hashes checked as usual), its index updated;
# sets APTOPTS for apt-get and apt-cache. The host's apt sources and state
# are never written.
apt_private() {
	local suite=$1 dir=$CACHE/apt-$1
	mkdir -p "$dir/parts" "$dir/lists/partial" "$dir/cache/archives/partial"
	cat >"$dir/parts/$suite.sources" <<-EOF
		Types: deb
		URIs: $(debian_mirror)
		Suites: $suite
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	APTOPTS=(
		-o Dir::Etc::SourceList=/dev/null
		-o Dir::Etc::SourceParts="$dir/parts"
		-o Dir::State::Lists="$dir/lists"
		-o Dir::Cache="$dir/cache"
		-o Dir::State::Status=/var/lib/dpkg/status
		-o APT::Sandbox::User=root
	)
	apt-get "${APTOPTS[@]}" update -qq
}

declare -A _stage_t0
stage_begin() {
	_stage_t0[$1]=$(date +%s)
	log "stage $1: start"
}
stage_end() {
	local t=$(($(date +%s) - ${_stage_t0[$1]}))
	log "stage $1: done in ${t}s"
	echo "$1 $t" >>"$LOGS/stage-times.txt"
}

# make arguments for the kernel tree.
# ccache masquerades as clang-22 through a symlink first on PATH, so that
# CC/HOSTCC stay one word (rustc uses HOSTCC as its linker).
mkdir -p "$CACHE/ccache-bin"
ln -sf /usr/bin/ccache "$CACHE/ccache-bin/clang-22"
export PATH="$CACHE/ccache-bin:$PATH"
KMAKE=(LLVM=-22
	RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	RUSTFMT="$(command -v rustfmt)" BINDGEN="$BINDGEN" -j"$(nproc)")
