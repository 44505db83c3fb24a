#!/usr/bin/env bash
# CI only: creates the local account `rxssh-test` with a known password, so
# that password authentication against the real sshd can be tested (sshd
# checks system passwords). Run as root on a throwaway machine; prints the
# password file path for tests/interop_password_test.ts (RXSSH_TEST_PASSWORD_FILE).
set -eu
[ "$(id -u)" -eq 0 ] || { echo "test_user: not root, skipping" >&2; exit 0; }
command -v useradd >/dev/null && command -v chpasswd >/dev/null || { echo "test_user: useradd/chpasswd missing" >&2; exit 0; }
id rxssh-test >/dev/null 2>&1 || useradd -m -s /bin/sh rxssh-test
pw="rxssh-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "rxssh-test:$pw" | chpasswd
file=/root/.rxssh-test-password
umask 077
printf '%s\n' "$pw" > "$file"
echo "$file"
