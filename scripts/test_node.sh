#!/bin/sh
# The Node section of scripts/test.sh: a named subset of the suite on Node 22
# (npm's `node` package, node_modules/.bin/node; $NODE overrides) with Node's
# own test runner, `node --test`. The tests are written with node:test and
# node:assert, so they run unchanged.
#
# What runs: the .ts sources themselves, through Node's built-in TypeScript
# transform (--experimental-transform-types; plain type stripping cannot run
# lib/'s enums and parameter properties). The compiled npm package is checked
# on Node separately (tests/dist/npm.ts, in the `dist` section).
#
# The subset covers the wire format, transport, authentication, channels,
# keys and the runtime adapters (tcp_test.ts is the node:net adapter on Node),
# end to end in memory and against OpenSSH's sshd. Left out for time (each
# runs on Deno and Bun): the 900-combination transport matrix and the key
# files' ssh-keygen interop tests, which take minutes on two shared cores.
set -u
cd "$(dirname "$0")/.." || exit 1
NODE=${NODE:-node_modules/.bin/node}
if [ ! -x "$NODE" ] && ! command -v "$NODE" >/dev/null 2>&1; then
  echo "scripts/test_node.sh: $NODE not found (npm install gives Node 22 in node_modules/.bin)" >&2
  exit 1
fi
echo "node: $NODE ($("$NODE" --version))"
# shellcheck disable=SC2046 # the file names have no spaces
exec "$NODE" --experimental-transform-types --no-warnings --test --test-concurrency=2 \
  --test-timeout=120000 --test-reporter=spec \
  $(ls lib/wire/*_test.ts lib/transport/*_test.ts lib/auth/*_test.ts \
    lib/connection/*_test.ts lib/runtime/*_test.ts) \
  lib/keys/authorized_keys_test.ts lib/keys/bcrypt_pbkdf_test.ts lib/keys/der_test.ts \
  lib/keys/ecdsa_test.ts lib/keys/ed25519_test.ts lib/keys/openssh_private_key_test.ts \
  lib/keys/patterns_test.ts lib/keys/public_key_test.ts lib/keys/rsa_test.ts \
  lib/keys/time_test.ts \
  tests/client_server_test.ts tests/channel_behaviour_test.ts tests/handlers_test.ts \
  tests/interop_transport_test.ts
