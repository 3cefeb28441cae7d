#!/usr/bin/env bash
# Okta's "SCIM 2.0 SPEC Test" (../shared/conformance/okta, third-party, used by path) against a
# release build on a fresh organization: all 12 steps must pass.
#
#   bash tests/conformance/okta-spec.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

suite=../shared/conformance/okta
source tests/conformance/lib.sh
shared_or_skip "$suite/run_okta_spec.py"
start_server okta-spec

status=0
python3 "$suite/run_okta_spec.py" "$suite/Okta-SCIM-20-SPEC-Test.json" "$url" "$key" --seed || status=$?
if [ "$status" -ne 0 ]; then
    server_log_tail
    exit 1
fi
