#!/usr/bin/env bash
# Installs the interop peers the tests use when they are missing, from
# Debian's packages, as root or through `sudo -n`: OpenSSH (ssh, sshd,
# ssh-keygen, ssh-agent, ssh-add), Dropbear (dbclient, dropbear, dropbearkey,
# dropbearconvert: dropbear-bin) and, for the X11 forwarding tests, Xvfb,
# xauth and xdpyinfo, curl (a SOCKS client), nc (netcat-openbsd, a
# ProxyCommand), HAProxy (a load balancer that sends the PROXY protocol),
# ssh-audit (audits rxssh serve's defaults) and Chromium (the browser
# example's test, headless).
# The tests start their own sshd / dropbear / Xvfb on
# loopback.
# Exit status: 0 when everything is (now) present, 1 when something could
# not be installed (the tests that need it then skip and say why).
set -u
need=()
have() { command -v "$1" >/dev/null 2>&1; }
{ [ -x /usr/sbin/sshd ] && have ssh && have ssh-keygen && have ssh-agent; } || need+=(openssh-server openssh-client)
{ have dbclient && have dropbearkey && have dropbearconvert && { have dropbear || [ -x /usr/sbin/dropbear ]; }; } || need+=(dropbear-bin)
have Xvfb || need+=(xvfb)
have xauth || need+=(xauth)
have xdpyinfo || need+=(x11-utils)
have curl || need+=(curl) # the SOCKS (dynamic forward) tests drive curl
have nc || need+=(netcat-openbsd) # the ProxyCommand tests run `nc %h %p`
{ have haproxy || [ -x /usr/sbin/haproxy ]; } || need+=(haproxy) # the PROXY protocol tests put it in front of rxssh serve
have ssh-audit || need+=(ssh-audit) # tests/ssh_audit_test.ts audits rxssh serve's defaults
[ -x /usr/bin/chromium ] || need+=(chromium) # the browser test (tests/browser_test.ts) drives it headless
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif have sudo && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "ensure_openssh: missing ${need[*]} and neither root nor passwordless sudo is available" >&2
  exit 1
fi
if ! have apt-get; then
  echo "ensure_openssh: missing ${need[*]} and apt-get is not available" >&2
  exit 1
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq &&
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
  exit 1
# openssh-server may start a system sshd on port 22; the tests never use it.
echo "ensure_openssh: installed ${need[*]} in $(($(date +%s) - start))s"
