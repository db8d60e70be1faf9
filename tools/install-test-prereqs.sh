#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK, and only what is missing:
#   - Node.js (20 or later) and npm            Debian packages nodejs, npm
#   - PostgreSQL server binaries                Debian package postgresql (tests start their own throwaway cluster)
#   - nginx                                     Debian package nginx (cluster tests run their own, on loopback)
#   - the npm packages of every tests/compat/*  npm ci from its package-lock.json
# Idempotent and quick when everything is present: a suite's npm ci is skipped while
# node_modules/.veritee-lock-sha256 holds the SHA-256 of its package-lock.json (the tests check that stamp too).
# Packages are installed with their services kept stopped (the tests never use a system-wide server).
#
# Usage: tools/install-test-prereqs.sh [--check]
#   --check   install nothing; list what is missing and exit 1 if anything is.
# Environment (for testing this script): VERITEE_PREREQ_ROOT prefixes every probed absolute path (default: none).
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  *) echo "install-test-prereqs: unknown argument '$1' (usage: $0 [--check])" >&2; exit 2 ;;
esac

root="${VERITEE_PREREQ_ROOT:-}"
say() { echo "install-test-prereqs: $*"; }
die() { echo "install-test-prereqs: $*" >&2; exit 1; }

have_node() { command -v node >/dev/null && command -v npm >/dev/null; }
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
have_postgres() { compgen -G "$root/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
have_nginx() { [ -x "$root/usr/sbin/nginx" ] || [ -x "$root/usr/bin/nginx" ]; }

missing=()
have_node || missing+=(nodejs npm)
have_postgres || missing+=(postgresql)
have_nginx || missing+=(nginx)

if [ ${#missing[@]} -gt 0 ]; then
  if $check_only; then
    say "missing Debian packages: ${missing[*]}"
  else
    say "installing Debian packages: ${missing[*]}"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null && sudo -n true 2>/dev/null \
        || die "not root and no password-less sudo: run 'apt-get install ${missing[*]}' as root, then this script again"
      sudo=(sudo -n)
    fi
    command -v apt-get >/dev/null || die "no apt-get (not Debian): install ${missing[*]} by hand"
    # The packages' own services (port 80, the "main" cluster) are not wanted: a policy-rc.d keeps them stopped
    # while we install. Left alone if the machine already has one.
    policy=/usr/sbin/policy-rc.d
    added_policy=false
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod 755 "$policy" && added_policy=true
    fi
    cleanup() { if $added_policy; then "${sudo[@]}" rm -f "$policy"; fi; }
    trap cleanup EXIT
    apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq)
    "${apt[@]}" update || die "apt-get update failed"
    "${apt[@]}" install --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
    cleanup
    trap - EXIT
    have_node || die "node and npm are still not on PATH after installing nodejs npm"
    have_postgres || die "PostgreSQL binaries are still not under /usr/lib/postgresql/*/bin"
    have_nginx || die "nginx is still not at /usr/sbin/nginx"
  fi
fi

if have_node && [ "$(node_major)" -lt 20 ]; then
  die "Node.js $(node --version) is too old: the compatibility suites need Node.js 20 or later"
fi

# npm packages of the compatibility suites. One npm ci per suite at a time (flock on its lock file), so two
# concurrent runs of this script never write the same node_modules.
stale=0
for lock in tests/compat/*/package-lock.json; do
  suite=$(dirname "$lock")
  stamp="$suite/node_modules/.veritee-lock-sha256"
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && continue
  if $check_only; then
    say "$suite: node_modules missing or not installed from the current package-lock.json"
    stale=1
    continue
  fi
  have_node || die "npm is needed for $suite"
  (
    flock 9
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
      say "$suite: npm ci"
      (cd "$suite" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $suite"
      echo "$want" > "$stamp"
    fi
  ) 9<"$lock"
done

if $check_only && { [ ${#missing[@]} -gt 0 ] || [ "$stale" -ne 0 ]; }; then
  exit 1
fi
$check_only && say "everything is present" || true
