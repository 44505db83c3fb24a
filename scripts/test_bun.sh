#!/bin/sh
# The Bun section of scripts/test.sh: every test file, in two shards run at
# once (Bun's runner takes files one after another, and the files are
# independent: own ports, temp dirs, sshd instances; Deno runs them in
# parallel the same way). Prints both shards' output, then one summary
# line per shard; fails when either shard fails. $BUN names the binary.
set -u
cd "$(dirname "$0")/.." || exit 1
BUN=${BUN:-node_modules/.bin/bun}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rxssh-bun.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
# The files Bun would find by itself (`*_test.ts`), outside node_modules and dist.
find . \( -path ./node_modules -o -path ./dist -o -path ./.git \) -prune -o \
  -type f -name '*_test.ts' -print | sort >"$TMP/files"
awk 'NR % 2 == 1' "$TMP/files" >"$TMP/a"
awk 'NR % 2 == 0' "$TMP/files" >"$TMP/b"
echo "bun: $BUN ($("$BUN" --version)), $(wc -l <"$TMP/files") files in two shards"
# shellcheck disable=SC2046 # the file names have no spaces
"$BUN" test --timeout 300000 $(cat "$TMP/a") >"$TMP/a.log" 2>&1 &
pa=$!
# shellcheck disable=SC2046
"$BUN" test --timeout 300000 $(cat "$TMP/b") >"$TMP/b.log" 2>&1 &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?
cat "$TMP/a.log" "$TMP/b.log"
echo "bun shard 1: exit $ra; shard 2: exit $rb"
[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ]
