#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the `compile_fail` examples of our kernel-crate abstractions.
#
# The kernel's doctest runner (rustdoc with `--test-builder`, turned into KUnit)
# cannot check that an example fails to compile, so such examples are tagged
# `ignore,compile_fail[,EXXXX]` in the documentation (as upstream's own are) and
# this script checks them: each one is built as the body of a function in a
# small out-of-tree module against the built kernel, and must fail, with error
# EXXXX if the tag names one. A control module with an empty body must build,
# so that a broken set-up cannot pass as "failed to compile".
#
# Usage: tests/compile_fail.sh RESULTS_FILE   (appends "host compile_fail:NAME RESULT")
# Environment: CONFIG=variant (default)
set -euo pipefail
. "$(dirname "$0")/../ci/lib.sh"

RESULTS=${1:?usage: compile_fail.sh RESULTS_FILE}
OUT=$OUT_BASE-${CONFIG:-default}
WORK=$BUILD/compile-fail
rm -rf "$WORK"
mkdir -p "$WORK"

# Extract every example: one file per example, named after its source file and
# ordinal, first line the expected error code (or "-").
python3 - "$TOP" "$WORK" <<'EOF'
import pathlib, re, sys
top, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
fence = re.compile(r'^\s*(///|//!)\s?```(.*)$')
for src in sorted((top / 'rust').rglob('*.rs')):
    lines = src.read_text().splitlines()
    n, i = 0, 0
    while i < len(lines):
        m = fence.match(lines[i])
        if not m or 'compile_fail' not in m.group(2):
            i += 1
            continue
        tags = [t.strip() for t in m.group(2).split(',')]
        code = next((t for t in tags if re.fullmatch(r'E\d{4}', t)), '-')
        body, i = [], i + 1
        while i < len(lines) and not fence.match(lines[i]):
            line = re.sub(r'^\s*(///|//!) ?', '', lines[i])
            body.append(line[2:] if line.startswith('# ') else ('' if line == '#' else line))
            i += 1
        i += 1
        name = f"{src.relative_to(top / 'rust').as_posix().replace('/', '_').replace('.', '_')}_{n}"
        (work / f'{name}.case').write_text(code + '\n' + '\n'.join(body) + '\n')
        n += 1
EOF

# Builds module $1 with body file $2; output in $WORK/$1.log.
build_case() {
	local name=$1 body=$2 dir=$WORK/$1
	mkdir -p "$dir"
	{
		echo '// SPDX-License-Identifier: GPL-2.0'
		echo '//! A compile_fail example of the kernel crate.'
		echo 'use kernel::prelude::*;'
		echo "module! { type: M, name: \"cf_$name\", authors: [\"rustnic\"], description: \"compile_fail\", license: \"GPL\", }"
		echo 'struct M;'
		echo 'impl kernel::Module for M { fn init(_m: &'"'"'static ThisModule) -> Result<Self> { Ok(M) } }'
		echo '#[allow(dead_code, unused_imports, unused_variables, unreachable_code)]'
		echo 'fn example() {'
		cat "$body"
		echo '}'
	} >"$dir/cf_$name.rs"
	echo "obj-m := cf_$name.o" >"$dir/Makefile"
	make -C "$KSRC" O="$OUT" "${KMAKE[@]}" M="$dir" modules >"$WORK/$name.log" 2>&1
}

: >"$WORK/empty"
if ! build_case control "$WORK/empty"; then
	echo "host compile_fail:control fail the empty example does not build (see $WORK/control.log)" >>"$RESULTS"
	exit 0
fi
echo "host compile_fail:control pass" >>"$RESULTS"

for case in "$WORK"/*.case; do
	[ -e "$case" ] || continue
	name=$(basename "$case" .case)
	code=$(head -1 "$case")
	tail -n +2 "$case" >"$WORK/$name.body"
	if build_case "$name" "$WORK/$name.body"; then
		echo "host compile_fail:$name fail it compiles" >>"$RESULTS"
	elif [ "$code" != - ] && ! grep -q "error\[$code\]" "$WORK/$name.log"; then
		echo "host compile_fail:$name fail not with $code: $(grep -m1 '^error' "$WORK/$name.log")" >>"$RESULTS"
	else
		echo "host compile_fail:$name pass" >>"$RESULTS"
	fi
done
