#!/usr/bin/env bash
# Benchmark: SCIM create throughput (POST /Users) of an organization with two webhook
# endpoints — one dead (nothing listens), one answering after 2 s — against one with none,
# in one run of the release binary on loopback. Rounds alternate (none, webhooks, none, …) so
# that drift of the machine and the growing database weigh on both alike.
#
#   bash bench/webhooks.sh [seconds per round, default 10] [rounds per side, default 3]
#
# Writes bench/webhooks-results.md. A measurement, never a pass/fail test.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-10}"
ROUNDS="${2:-3}"
command -v wrk >/dev/null || { echo "wrk is needed (Debian: apt-get install wrk)"; exit 1; }

cargo build --release --locked --quiet
BIN="$PWD/target/release/scim-appliance"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); SLOW_PORT=$(free_port); DEAD_PORT=$(free_port)
DATA="$WORK/data"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

PLAIN=$("$BIN" --data-dir "$DATA" org create "no webhooks" --json)
HOOKED=$("$BIN" --data-dir "$DATA" org create "two webhooks" --json)
PLAIN_ORG=$(echo "$PLAIN" | json "['id']"); PLAIN_KEY=$(echo "$PLAIN" | json "['api_key']")
HOOKED_ORG=$(echo "$HOOKED" | json "['id']"); HOOKED_KEY=$(echo "$HOOKED" | json "['api_key']")
"$BIN" --data-dir "$DATA" webhook add "$HOOKED_ORG" "http://127.0.0.1:$DEAD_PORT/dead" --description dead >/dev/null
"$BIN" --data-dir "$DATA" webhook add "$HOOKED_ORG" "http://127.0.0.1:$SLOW_PORT/slow" --description "answers after 2 s" >/dev/null

python3 bench/slow-receiver.py --port "$SLOW_PORT" --delay 2 & PIDS+=($!)
"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" & PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/alive" >/dev/null && break; sleep 0.1; done

run() { # org key label round
  SCIM_ORG="$1" SCIM_KEY="$2" SCIM_RUN="$3-$4" wrk -t2 -c16 -d"${SECONDS_PER_ROUND}s" \
    -s bench/create-user.lua "http://127.0.0.1:$PORT" | grep '^RESULT'
}
declare -a NONE HOOKS
echo "round  side      creates/s  p50 ms  p99 ms  errors"
for r in $(seq "$ROUNDS"); do
  for side in none hooks; do
    if [ "$side" = none ]; then line=$(run "$PLAIN_ORG" "$PLAIN_KEY" none "$r"); else line=$(run "$HOOKED_ORG" "$HOOKED_KEY" hooks "$r"); fi
    eval "$(echo "$line" | sed 's/^RESULT //')"
    rate=$(python3 -c "print(round($requests / ($duration_us / 1e6)))")
    printf "%5d  %-8s %10s  %6.1f  %6.1f  %d\n" "$r" "$side" "$rate" "$(python3 -c "print($p50_us/1000)")" "$(python3 -c "print($p99_us/1000)")" "$((errors + non2xx))"
    if [ "$side" = none ]; then NONE+=("$rate"); else HOOKS+=("$rate"); fi
  done
done
BACKLOG=$("$BIN" --data-dir "$DATA" webhook list "$HOOKED_ORG" --json | python3 -c 'import json,sys; print(", ".join("%s: backlog %d" % (w["description"], w["backlog"]) for w in json.load(sys.stdin)))')
NONE_LIST=$(IFS=,; echo "${NONE[*]}"); HOOKS_LIST=$(IFS=,; echo "${HOOKS[*]}")
MEAN_NONE=$(python3 -c "import statistics as s; print(round(s.mean([$NONE_LIST])))")
MEAN_HOOKS=$(python3 -c "import statistics as s; print(round(s.mean([$HOOKS_LIST])))")
RATIO=$(python3 -c "print(f'{$MEAN_HOOKS / $MEAN_NONE:.2f}')")
echo "mean creates/s: none $MEAN_NONE, two webhooks $MEAN_HOOKS → ratio $RATIO ($BACKLOG)"

cat > bench/webhooks-results.md <<MD
# SCIM creates with webhook endpoints configured

\`bash bench/webhooks.sh $SECONDS_PER_ROUND $ROUNDS\` on $(nproc) cores ($(uname -m)), commit
$(git rev-parse --short HEAD), $(date -u +%Y-%m-%d): wrk 2 threads × 16 connections, POST /Users
with unique members, $ROUNDS rounds of ${SECONDS_PER_ROUND} s per side, alternating.

| organization | creates/s (mean) | rounds |
|---|---|---|
| no webhook endpoints | $MEAN_NONE | ${NONE[*]} |
| two endpoints: one dead, one answering after 2 s | $MEAN_HOOKS | ${HOOKS[*]} |

Ratio with/without: **$RATIO**. At the end: $BACKLOG (delivery continues in the background;
the SCIM requests never wait for it).
MD
echo "wrote bench/webhooks-results.md"
