#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The work as a `git format-patch` series against the pristine 7.3 source.
#
#   ci/series.sh         write build/series/*.patch (cover letter first)
#   ci/series.sh check [RESULTS_FILE]
#                        also prove it: `git am` onto a git tree of the
#                        pristine source gives exactly the overlay tree; it
#                        builds at the bisection point after the kernel-crate
#                        patches; checkpatch --strict finds nothing that the
#                        cover letter does not justify (SERIES_BUILD=0:
#                        all but the build). With RESULTS_FILE, appends
#                        "host series:CHECK pass|fail|skip [why]" lines
#
# series/NN-*.txt define the patches, in order: a `Files:` block (paths or
# directories, relative to the kernel tree), a blank line, then the commit
# message. Every file the overlay installs (build/linux's manifest) belongs
# to exactly one patch. series/cover-letter.txt is the cover letter: subject
# line, blank line, text. The Signed-off-by is SERIES_AUTHOR, by default this
# repository's git user.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODE=${1:-write}
OUTDIR=$BUILD/series
GIT_DIR_SPARSE=$KTREE/series-sparse
CHECK_TREE=$KTREE/series-check
# Patch after which the tree must build (the last kernel-crate patch).
BISECT_AFTER=05

if [ -z "${SERIES_AUTHOR:-}" ]; then
	SERIES_AUTHOR="$(git -C "$TOP" config user.name || echo rustnic) <$(git -C "$TOP" config user.email || echo rustnic@localhost)>"
fi
# Commit dates are this repository's HEAD date: the series is reproducible.
DATE=$(git -C "$TOP" log -1 --format=%cI 2>/dev/null || date -Iseconds)
export GIT_AUTHOR_NAME=${SERIES_AUTHOR% <*} GIT_AUTHOR_EMAIL=${SERIES_AUTHOR##*<}
GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL%>}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_AUTHOR_DATE=$DATE GIT_COMMITTER_DATE=$DATE

g() { git -c init.defaultBranch=master -c core.autocrlf=false "$@"; }

# The patches of the series, in order, without the cover letter.
series_patches() {
	find "$OUTDIR" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort
}

# The files of series file $1, one per line.
series_files() {
	awk 'NR > 1 && /^$/ { exit } NR > 1 { print $1 }' "$1"
}
# The commit message of series file $1, signed off.
series_message() {
	awk 'body { print } !body && /^$/ { body = 1 }' "$1"
	printf '\nSigned-off-by: %s\n' "$SERIES_AUTHOR"
}

write_series() {
	stage_begin series
	KDIR= bash "$TOP/ci/kernel.sh" --tree
	local manifest=$KTREE/overlay-manifest.txt f s pat
	[ -f "$manifest" ] || die "no overlay manifest: ci/kernel.sh did not run"

	# A sparse repository: the pristine version of every file the overlay
	# touches is the base commit. Its patches are those of the full tree.
	rm -rf "$GIT_DIR_SPARSE"
	mkdir -p "$GIT_DIR_SPARSE"
	g init -q "$GIT_DIR_SPARSE"
	while read -r f; do
		if [ -f "$PRISTINE/$f" ]; then
			mkdir -p "$GIT_DIR_SPARSE/$(dirname "$f")"
			cp "$PRISTINE/$f" "$GIT_DIR_SPARSE/$f"
		fi
	done <"$manifest"
	g -C "$GIT_DIR_SPARSE" add -A
	g -C "$GIT_DIR_SPARSE" commit -q --allow-empty -m "base: $(cat "$PRISTINE/.rustnic-src")"

	local -A owner=()
	local -a defs=("$TOP"/series/[0-9][0-9]-*.txt)
	for s in "${defs[@]}"; do
		local n=0
		[ "$(head -1 "$s")" = Files: ] || die "$(basename "$s"): does not start with a Files: block"
		while read -r pat; do
			local hit=0
			while read -r f; do
				case "$f" in
				"$pat" | "${pat%/}"/*) ;;
				*) continue ;;
				esac
				[ -z "${owner[$f]:-}" ] ||
					die "$f is in both $(basename "${owner[$f]}") and $(basename "$s")"
				owner[$f]=$s
				mkdir -p "$GIT_DIR_SPARSE/$(dirname "$f")"
				cp "$OVERLAY_SRC/$f" "$GIT_DIR_SPARSE/$f"
				hit=1 n=$((n + 1))
			done <"$manifest"
			((hit)) || die "$(basename "$s"): $pat matches no file of the overlay"
		done < <(series_files "$s")
		g -C "$GIT_DIR_SPARSE" add -A
		series_message "$s" | g -C "$GIT_DIR_SPARSE" commit -q -F -
		log "  $(basename "$s" .txt): $n files"
	done
	while read -r f; do
		[ -n "${owner[$f]:-}" ] || die "$f is in the overlay but in no series/*.txt"
	done <"$manifest"

	rm -rf "$OUTDIR"
	g -C "$GIT_DIR_SPARSE" format-patch -q --cover-letter --thread=shallow \
		-o "$OUTDIR" "HEAD~${#defs[@]}..HEAD"
	# The cover letter's subject and text.
	local cover=$OUTDIR/0000-cover-letter.patch subject
	subject=$(head -1 "$TOP/series/cover-letter.txt")
	python3 - "$cover" "$subject" "$TOP/series/cover-letter.txt" <<'EOF'
import sys
path, subject, text = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
body = text.split("\n", 2)[2] if text.count("\n") >= 2 else ""
s = open(path).read()
s = s.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", body.rstrip("\n"))
open(path, "w").write(s)
EOF
	log "series: $(ls "$OUTDIR" | wc -l) files in $OUTDIR"
	stage_end series
}

# A git tree of the pristine source (committed once, reused), the series
# applied with `git am`, compared with build/linux.
check_apply() {
	stage_begin series-am
	local base
	if [ -d "$CHECK_TREE/.git" ] && base=$(git -C "$CHECK_TREE" rev-parse -q --verify refs/tags/base) &&
		[ "$(git -C "$CHECK_TREE" show base:.rustnic-src 2>/dev/null)" = "$(cat "$PRISTINE/.rustnic-src")" ]; then
		git -C "$CHECK_TREE" am --abort >/dev/null 2>&1 || true
		g -C "$CHECK_TREE" checkout -q -f -B series base
		g -C "$CHECK_TREE" clean -q -fdx
	else
		rm -rf "$CHECK_TREE"
		cp -a "$PRISTINE" "$CHECK_TREE"
		g init -q "$CHECK_TREE"
		# (-f: Debian's source ships a .gitignore that ignores everything.)
		g -C "$CHECK_TREE" add -A -f
		g -C "$CHECK_TREE" commit -q -m "Linux $(cat "$PRISTINE/.rustnic-src")"
		g -C "$CHECK_TREE" tag base
		g -C "$CHECK_TREE" checkout -q -b series
	fi
	local -a patches
	mapfile -t patches < <(series_patches)
	g -C "$CHECK_TREE" am -q "${patches[@]}" || die "the series does not apply with git am"
	# build/linux also holds what building the selftests writes into the
	# source tree (tools/): only files there and not in the series may differ,
	# and none of those may be a file the overlay installs.
	local diffs=$LOGS/series-diff.txt f
	diff -rq -x .git "$CHECK_TREE" "$OVERLAY_SRC" | grep -v "^Only in $OVERLAY_SRC" >"$diffs" || true
	while read -r f; do
		cmp -s "$CHECK_TREE/$f" "$OVERLAY_SRC/$f" || echo "differs: $f" >>"$diffs"
	done <"$KTREE/overlay-manifest.txt"
	if [ -s "$diffs" ]; then
		head -20 "$diffs" >&2
		die "git am of the series does not give build/linux (all: $diffs)"
	fi
	log "  git am: ${#patches[@]} patches applied, the tree equals build/linux"
	stage_end series-am
}

# The bisection point: the tree builds after the kernel-crate patches. They
# only change rust/, so that is what is built there, in the default
# configuration (everything else is the pristine source, built in full with
# the whole series by `make kernel`).
check_bisect() {
	stage_begin series-bisect
	local rev n out=$KTREE/out-series log=$LOGS/build-series-bisect.log f
	n=$(ls "$TOP"/series/[0-9][0-9]-*.txt | awk -v b="$BISECT_AFTER" '{ sub(/.*\//, "") } $0 <= b "-~" { n++ } END { print n }')
	rev=$(git -C "$CHECK_TREE" rev-list --reverse base..series | sed -n "${n}p")
	[ -n "$rev" ] || die "no commit for series/${BISECT_AFTER}-*.txt"
	f=$(git -C "$CHECK_TREE" diff --name-only base "$rev" | grep -v '^rust/' | head -1 || true)
	[ -z "$f" ] || die "a patch up to series/${BISECT_AFTER}-*.txt changes $f, outside rust/"
	g -C "$CHECK_TREE" checkout -q "$rev"
	mkdir -p "$out"
	[ -f "$KTREE/out-default/.config" ] || die "build the default kernel first (make kernel)"
	cp "$KTREE/out-default/.config" "$out/.config"
	if ! { make -s -C "$CHECK_TREE" O="$out" "${KMAKE[@]}" olddefconfig &&
		make -C "$CHECK_TREE" O="$out" "${KMAKE[@]}" rust/; } >"$log" 2>&1; then
		grep -E 'error|Error' "$log" | head -40 >&2
		die "the tree does not build after series/${BISECT_AFTER}-*.txt (log: $log)"
	fi
	g -C "$CHECK_TREE" checkout -q series
	# (The helpers are bitcode or an object, depending on RUST_INLINE_HELPERS.)
	for f in rust/kernel.o rust/built-in.a; do
		[ -f "$out/$f" ] || die "the bisection build made no $f (log: $log)"
	done
	log "  builds after $(git -C "$CHECK_TREE" log -1 --format=%s "$rev")"
	stage_end series-bisect
}

# checkpatch --strict: every message type left must be justified in the
# cover letter (series/checkpatch-allowed: TYPE reason).
check_style() {
	stage_begin series-checkpatch
	local allowed=$TOP/series/checkpatch-allowed out=$LOGS/series-checkpatch.txt bad=0 t
	# spdxcheck.py needs python3-ply, which is installed for /usr/bin/python3.
	# It runs from the git tree, where spdxcheck.py wants to be.
	local -a patches
	mapfile -t patches < <(series_patches)
	PATH=/usr/bin:$PATH "$CHECK_TREE/scripts/checkpatch.pl" --strict --terse --show-types --no-summary \
		"${patches[@]}" >"$out" 2>&1 || true
	while read -r t; do
		if ! grep -q "^$t " "$allowed" 2>/dev/null; then
			grep -F ":$t:" "$out" | head -5 >&2
			bad=1
		fi
	done < <(sed -nE 's/^[^:]+:[0-9]+: (ERROR|WARNING|CHECK):([A-Z_]+):.*/\2/p' "$out" | sort -u)
	((bad == 0)) || die "checkpatch --strict: messages not justified in series/checkpatch-allowed (all: $out)"
	log "  checkpatch --strict: $(grep -c . "$out" || true) messages, all of justified types"
	stage_end series-checkpatch
}

# Runs check $2 (a function) as test `host series:$1`, recorded in
# $RESULTS if set: a failing check does not stop the others.
RESULTS=
record_check() {
	local name=$1 fn=$2 err rc=0
	err=$(mktemp)
	# A new process, so that errexit holds inside the check.
	bash "$0" _check "$fn" 2>"$err" || rc=$?
	cat "$err" >&2
	local why
	why=$(sed -n 's/^\[rustnic\] error: //p' "$err" | head -1)
	rm -f "$err"
	if [ -n "$RESULTS" ]; then
		if ((rc == 0)); then
			echo "host series:$name pass" >>"$RESULTS"
		else
			echo "host series:$name fail ${why:-exit $rc}" >>"$RESULTS"
		fi
	fi
	return $rc
}

case $MODE in
write) write_series ;;
_check) "$2" ;;
check)
	write_series
	RESULTS=${2:-}
	fails=0
	if record_check apply check_apply; then
		record_check checkpatch check_style || fails=1
		if [ "${SERIES_BUILD:-1}" != 0 ]; then
			record_check bisect check_bisect || fails=1
		fi
	else
		fails=1
		if [ -n "$RESULTS" ]; then
			echo "host series:checkpatch skip the series does not apply" >>"$RESULTS"
			echo "host series:bisect skip the series does not apply" >>"$RESULTS"
		fi
	fi
	exit $fails
	;;
*) die "usage: ci/series.sh [check [RESULTS_FILE]]" ;;
esac
