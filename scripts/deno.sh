#!/bin/sh
# Runs the Deno binary for `deno task` entries. deno task looks commands up
# in node_modules/.bin first, and there npm's `deno` package puts the native
# binary, which deno task then tries to run as a JavaScript file. This shim
# runs it as a program instead: node_modules' deno, else the one on PATH.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$here/node_modules/deno/deno" ]; then exec "$here/node_modules/deno/deno" "$@"; fi
exec deno "$@"
