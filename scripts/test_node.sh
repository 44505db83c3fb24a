#!/bin/sh
# The Node section of scripts/test.sh: a named subset of the suite on Node 22
# (npm's `node` package, node_modules/.bin/node; $RXSSH_NODE overrides: npm
# itself sets $NODE to the Node running npm, 20 here) with Node's
# own test runner, `node --test`. The tests are written with node:test and
# node:assert, so they run unchanged.
#
# What runs: the .ts sources themselves, through Node's built-in TypeScript
# transform (--experimental-transform-types; plain type stripping cannot run
# lib/'s enums and parameter properties). The compiled npm package is checked
# on Node separately (tests/dist/npm.ts, in the `dist` section).
#
# The subset: every unit test under lib/ (wire, crypto, keys, transport,
# auth, connection, the runtime adapters, where tcp_test.ts is the node:net
# adapter on Node, rx, agent, sftp, config, x11), and end to end in memory
# and against OpenSSH's sshd. Left out for time (each runs on Deno and Bun):
# the key files' ssh-keygen interop tests and the 900-combination transport
# matrix, which take minutes on two shared cores, and the CLI, forwarding and
# SFTP tests of tests/.
set -u
cd "$(dirname "$0")/.." || exit 1
NODE=${RXSSH_NODE:-node_modules/.bin/node}
if [ ! -x "$NODE" ] && ! command -v "$NODE" >/dev/null 2>&1; then
  echo "scripts/test_node.sh: $NODE not found (npm install gives Node 22 in node_modules/.bin)" >&2
  exit 1
fi
echo "node: $NODE ($("$NODE" --version))"
# Every unit test under lib/ but the slow ssh-keygen interop files, and
# these end-to-end ones from tests/.
SLOW='lib/keys/(allowed_signers|certificate|interop|known_hosts|pem_private_key|private_key_file|public_key_file|sshsig)_test\.ts'
# shellcheck disable=SC2046 # the file names have no spaces
exec "$NODE" --experimental-transform-types --no-warnings --test --test-concurrency=2 \
  --test-timeout=120000 --test-reporter=spec \
  $(find lib -name '*_test.ts' | grep -Ev "^$SLOW\$" | sort) \
  tests/client_server_test.ts tests/channel_behaviour_test.ts tests/handlers_test.ts \
  tests/interop_transport_test.ts
