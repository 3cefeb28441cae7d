#!/usr/bin/env bash
# Runs the external scim2-tester compliance suite (python-scim, PyPI) against a release build:
# a fresh data directory, a random free port, one organization created with the CLI, then
# `scim2 test`, which exits 0 only if every check reports SUCCESS.
#
#   bash tests/conformance/scim2-tester.sh          # from the repository root
#
# Needs python3 with venv; installs scim2-tester and scim2-cli into .ci/venv-scim2.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.ci/venv-scim2
if [ ! -x "$venv/bin/scim2" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'scim2-tester==0.5.2' 'scim2-cli==0.6.0'
fi

cargo build --release --quiet
bin=target/release/scim-appliance
data=$(mktemp -d)
log="$data/serve.log"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
org=$("$bin" org create scim2-tester --json --data-dir "$data/db" --public-url "http://127.0.0.1:$port")
url=$(printf '%s' "$org" | python3 -c 'import json, sys; print(json.load(sys.stdin)["scim_url"])')
key=$(printf '%s' "$org" | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')

"$bin" serve --data-dir "$data/db" --listen "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/alive')" 2>/dev/null && break
    sleep 0.1
done

out=target/scim2-tester.txt   # kept for reading after a failure
status=0
SCIM_CLI_URL="$url" SCIM_CLI_HEADERS="Authorization: Bearer $key" "$venv/bin/scim2" test >"$out" 2>&1 || status=$?
passed=$(grep -c '^SUCCESS ' "$out" || true)
others=$(grep -Ec '^(COMPLIANT|ACCEPTABLE|SKIPPED|DEVIATION|ERROR|CRITICAL) ' "$out" || true)
# Every result that is not SUCCESS, with its indented reason lines.
awk '/^[A-Z]+ / { show = ($1 != "SUCCESS") } show' "$out" | head -300
echo "scim2-tester: $passed SUCCESS, $others other (exit $status)"
if [ "$status" -ne 0 ] || [ "$others" -ne 0 ] || [ "$passed" -eq 0 ]; then
    echo "--- server log (tail)"
    grep -v ' status=2' "$log" | tail -30
    exit 1
fi
