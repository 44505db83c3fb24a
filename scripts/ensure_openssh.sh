#!/usr/bin/env bash
# Installs OpenSSH (client and server, Debian packages) when ssh, sshd or
# ssh-keygen is missing, as root or through `sudo -n`. The interop tests
# need them; they start their own sshd on OS-picked loopback ports.
# Exit status: 0 when OpenSSH is (now) present, 1 when it could not be installed.
set -u
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "ensure_openssh: OpenSSH is missing and neither root nor passwordless sudo is available" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_openssh: OpenSSH is missing and apt-get is not available" >&2
  exit 1
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq &&
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null ||
  exit 1
# The package may start a system sshd on port 22; the tests never use it.
echo "ensure_openssh: installed $(ssh -V 2>&1) in $(($(date +%s) - start))s"
