#!/usr/bin/env bash
# Makes Debian's nginx available to the ingress end-to-end test (e2e/test/ingress.test.ts) and prints the path of the
# binary on stdout (progress goes to stderr). Used by .ci/run; safe to run again (it does nothing once nginx is found).
#
# Lookup order, the same as the test's: $NGINX_BIN, `nginx` on PATH, /usr/sbin/nginx, then .cache/nginx (this
# script's own copy). When none exists, Debian's `nginx` package is downloaded with `apt-get download` and unpacked
# with `dpkg-deb -x` into .cache/nginx (git-ignored), instead of `apt-get install`:
#   - no daemon: installing the package starts nginx on port 80 unless a policy-rc.d forbids it, and on a systemd host
#     also enables it for every later boot; an unpacked binary is only ever started by the test, on a loopback port;
#   - no root and no change to the machine (no dpkg lock, no /etc/nginx, no service user), so it also works on CI
#     runners that are not root and never disturbs other work on a shared host;
#   - the binary is still exactly Debian's build. Its shared libraries (libc, libcrypt, libpcre2, libssl3, zlib) are
#     part of every Debian base system; `nginx -v` below fails loudly if one is missing.
# Its compiled-in temporary directories (/var/lib/nginx/*) do not exist then: the test points them into its own
# directory, which it must do anyway to run as a user who cannot write there.
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=.cache/nginx
found() {
  "$1" -v >&2
  printf '%s\n' "$1"
  exit 0
}

if [ -n "${NGINX_BIN:-}" ]; then
  [ -x "$NGINX_BIN" ] || { echo "NGINX_BIN=$NGINX_BIN is not an executable file" >&2; exit 1; }
  found "$NGINX_BIN"
fi
if command -v nginx >/dev/null 2>&1; then found "$(command -v nginx)"; fi
if [ -x /usr/sbin/nginx ]; then found /usr/sbin/nginx; fi
if [ -x "$cache/usr/sbin/nginx" ]; then found "$PWD/$cache/usr/sbin/nginx"; fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "nginx not found, and this is not a Debian-based system: install nginx (>= 1.19.5, for -e) and put it on" \
    "PATH or set NGINX_BIN" >&2
  exit 1
fi

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
# As root, apt drops privileges to _apt for downloads, which cannot write to mktemp's private directory; it would
# fall back to root with a warning. Saying so up front keeps the log clean.
apt_options=()
if [ "$(id -u)" = 0 ]; then apt_options=(-o APT::Sandbox::User=root); fi
fetch() { (cd "$download" && apt-get "${apt_options[@]}" download nginx) >&2; }
echo "downloading Debian's nginx package into $cache (unpacked, not installed)" >&2
if ! fetch; then
  # A fresh image may have no package lists yet; refreshing them needs root.
  if [ "$(id -u)" = 0 ]; then
    apt-get update >&2
    fetch
  else
    echo "apt-get download nginx failed: run \`sudo apt-get update\` once (or install nginx, or set NGINX_BIN)" >&2
    exit 1
  fi
fi

# Unpacked beside the cache and moved into place whole, so an interrupted run never leaves half a copy behind.
rm -rf "$cache.partial"
mkdir -p "$(dirname "$cache")"
dpkg-deb -x "$download"/nginx_*.deb "$cache.partial"
"$cache.partial/usr/sbin/nginx" -v >&2
rm -rf "$cache"
mv "$cache.partial" "$cache"
found "$PWD/$cache/usr/sbin/nginx"
