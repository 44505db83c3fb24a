#!/bin/sh
# `deno task soak` / `deno task soak:bun`: bench/soak.ts under Deno or Bun
# ($1), with SOAK_CONNS (default 1000), SOAK_GIB (10), SOAK_REKEY_MIB (64),
# SOAK_PARALLEL (8), SOAK_CIPHER passed through the environment. Both ends of
# every connection live in the one process: SOAK_CONNS connections take two
# descriptors each, so the soft descriptor limit is raised (up to the hard
# one) to 2 * SOAK_CONNS + 256 when it is lower; the runtime inherits it.
set -u
cd "$(dirname "$0")/.." || exit 1
runtime=${1:-deno}
need=$((2 * ${SOAK_CONNS:-1000} + 256))
soft=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
  if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
    ulimit -Sn "$need"
  else
    echo "soak: $need descriptors needed, the hard limit is $hard (raise it: prlimit --nofile=$need:$need -p \$\$)" >&2
    exit 1
  fi
fi
case "$runtime" in
  deno) exec sh scripts/deno.sh run -A bench/soak.ts ;;
  bun) exec "${BUN:-node_modules/.bin/bun}" bench/soak.ts ;;
  *) echo "soak: runtime must be deno or bun, not $runtime" >&2; exit 2 ;;
esac
