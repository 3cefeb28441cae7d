#!/usr/bin/env bash
# Browser end-to-end test of the configuration page: the release binary, Debian's Chromium and
# playwright-core (tests/browser/package-lock.json). Installs what it needs (as root on CI):
#
#   bash tests/browser/run.sh
#
# Screenshots of every page are left in target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium (and a font, for readable screenshots)"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

cargo build --release --locked --quiet

node tests/browser/e2e.mjs target/release/scim-appliance target/browser-artifacts
