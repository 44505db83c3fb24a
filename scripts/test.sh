#!/bin/sh
# The project's test command (`npm test`): format, lint, type-check, doc lint,
# the distributions (URL tree, npm, JSR dry run, compiled CLI), then the test
# suite on Deno and on Bun, and a named subset on Node 22. Stops at the first failure. Deno and Bun come
# from node_modules/.bin (`npm install`) or, when that is missing, from PATH;
# $DENO and $BUN override both.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

pick() { # pick NAME -> prints the binary to use
  if [ -x "$ROOT/node_modules/.bin/$1" ]; then
    echo "$ROOT/node_modules/.bin/$1"
  elif command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  fi
}
DENO=${DENO:-$(pick deno)}
BUN=${BUN:-$(pick bun)}
if [ -z "$DENO" ]; then
  echo "scripts/test.sh: deno not found (run npm install, or put deno on PATH)" >&2
  exit 1
fi
if [ -z "$BUN" ]; then
  echo "scripts/test.sh: bun not found (run npm install, or put bun on PATH)" >&2
  exit 1
fi
[ -t 1 ] || export NO_COLOR=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rxssh-test.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
SUMMARY="$TMP/summary"
: >"$SUMMARY"
T0=$(date +%s)

# section NAME COMMAND...: runs COMMAND with a header; exits on failure.
# Its output is kept in $TMP/last.log for the test counts.
section() {
  name=$1
  shift
  echo
  cmd="$*"
  if [ ${#cmd} -gt 160 ]; then cmd="$(printf '%.150s' "$cmd") ... ($# words)"; fi
  echo "==> $name: $cmd"
  start=$(date +%s)
  rcfile="$TMP/rc"
  { "$@" 2>&1; echo $? >"$rcfile"; } | tee "$TMP/last.log"
  rc=$(cat "$rcfile")
  secs=$(($(date +%s) - start))
  if [ "$rc" -ne 0 ]; then
    printf '%-22s FAILED (exit %s) in %ss\n' "$name" "$rc" "$secs" >>"$SUMMARY"
    echo
    echo "==> FAILED: $name (exit $rc) after ${secs}s"
    echo "==> sections:"
    cat "$SUMMARY"
    exit "$rc"
  fi
  printf '%-22s ok in %ss\n' "$name" "$secs" >>"$SUMMARY"
  echo "==> ok: $name (${secs}s)"
}

# Strips ANSI colours (NO_COLOR covers most, not all, output).
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

# OpenSSH for the interop tests: installed when missing and possible (root or
# sudo). Without it those tests are skipped, saying so; CI (.ci/run) insists.
bash scripts/ensure_openssh.sh || echo "WARNING: OpenSSH is not installed: the interop tests will be skipped"

echo "deno: $DENO ($("$DENO" --version | head -n 1))"
echo "bun:  $BUN ($("$BUN" --version))"

# The TypeScript sources to type-check: everything outside node_modules, .git
# and dist (the build's output).
TS_LIST="$TMP/ts-files"
find . \( -path ./node_modules -o -path ./.git -o -path ./bench/results -o -path ./dist \) -prune -o \
  -type f \( -name '*.ts' -o -name '*.tsx' \) -print | sort >"$TS_LIST"

section "deno fmt" "$DENO" fmt --check
section "deno lint" "$DENO" lint
# shellcheck disable=SC2046 # the file names have no spaces (snake_case)
section "deno check" "$DENO" check $(cat "$TS_LIST")
# Every entry point of deno.json's "exports", each on its own.
ENTRIES=$("$DENO" eval 'console.log(Object.values(JSON.parse(Deno.readTextFileSync("deno.json")).exports).join(" "))')
# shellcheck disable=SC2086 # the entry paths have no spaces
section "deno doc --lint" env DENO="$DENO" sh scripts/doc_lint.sh $ENTRIES
# The distributions (tests/dist/, not in the suite below): the URL tree by
# HTTP, the npm tarball on Node, Node 22, Bun and Deno, the JSR file set
# (deno publish --dry-run) and the compiled CLI. Each builds what it tests.
section "dist" "$DENO" test -A --parallel tests/dist/[!_]*.ts
# Test files are independent (own ports, temp dirs, sshd instances): parallel.
# Deno runs parallel files as workers of one process, so the faults test, which
# counts the process's file descriptors, runs on its own after them.
section "deno test" "$DENO" test -A --parallel --ignore=tests/faults_test.ts
DENO_COUNTS=$(plain "$TMP/last.log" |
  sed -n 's/^\(ok\|FAILED\) | \([0-9]*\) passed.* | \([0-9]*\) failed.*/\2 \3/p' | tail -n 1)
section "deno test (faults, alone)" "$DENO" test -A tests/faults_test.ts
FAULT_COUNTS=$(plain "$TMP/last.log" |
  sed -n 's/^\(ok\|FAILED\) | \([0-9]*\) passed.* | \([0-9]*\) failed.*/\2 \3/p' | tail -n 1)
if [ -n "$DENO_COUNTS" ] && [ -n "$FAULT_COUNTS" ]; then
  # shellcheck disable=SC2086 # two numbers each
  DENO_COUNTS=$(echo $DENO_COUNTS $FAULT_COUNTS | awk '{ print $1 + $3, $2 + $4 }')
fi
# Two shards at once: see scripts/test_bun.sh. The counts are their sums.
section "bun test" env BUN="$BUN" sh scripts/test_bun.sh
BUN_PASS=$(plain "$TMP/last.log" | sed -n 's/^ *\([0-9][0-9]*\) pass$/\1/p' | awk '{ s += $1 } END { print s }')
BUN_FAIL=$(plain "$TMP/last.log" | sed -n 's/^ *\([0-9][0-9]*\) fail$/\1/p' | awk '{ s += $1 } END { print s }')
# Node 22 (npm's `node`), node --test on a named subset: see scripts/test_node.sh.
section "node test" sh scripts/test_node.sh
NODE_PASS=$(plain "$TMP/last.log" | sed -n 's/^[^ ]* pass \([0-9][0-9]*\)$/\1/p' | tail -n 1)
NODE_FAIL=$(plain "$TMP/last.log" | sed -n 's/^[^ ]* fail \([0-9][0-9]*\)$/\1/p' | tail -n 1)

echo
echo "==> all sections passed in $(($(date +%s) - T0))s:"
cat "$SUMMARY"
if [ -n "$DENO_COUNTS" ]; then
  set -- $DENO_COUNTS
  echo "deno: $1 passed, $2 failed"
fi
if [ -n "$BUN_PASS" ]; then
  echo "bun: $BUN_PASS passed, ${BUN_FAIL:-0} failed"
fi
if [ -n "$NODE_PASS" ]; then
  echo "node (subset): $NODE_PASS passed, ${NODE_FAIL:-0} failed"
fi
