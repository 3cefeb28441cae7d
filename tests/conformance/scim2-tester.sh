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

source tests/conformance/lib.sh
start_server scim2-tester

out=target/scim2-tester.txt   # kept for reading after a failure
status=0
SCIM_CLI_URL="$url" SCIM_CLI_HEADERS="Authorization: Bearer $key" "$venv/bin/scim2" test >"$out" 2>&1 || status=$?
passed=$(grep -c '^SUCCESS ' "$out" || true)
others=$(grep -Ec '^(COMPLIANT|ACCEPTABLE|SKIPPED|DEVIATION|ERROR|CRITICAL) ' "$out" || true)
# Every result that is not SUCCESS, with its indented reason lines.
awk '/^[A-Z]+ / { show = ($1 != "SUCCESS") } show' "$out" | head -300
echo "scim2-tester: $passed SUCCESS, $others other (exit $status)"
if [ "$status" -ne 0 ] || [ "$others" -ne 0 ] || [ "$passed" -eq 0 ]; then
    server_log_tail
    exit 1
fi
