#!/usr/bin/env bash
# Benchmark of issue #16: what a full sync costs. One run of the release binary on a temporary
# data directory on loopback, seeded by `scim-appliance import` with N members (default
# 100,000) in 20 department groups, a group of min(N/2, 50,000) members and one of 10, plus a
# second organization of 1,000 members. wrk (2 threads × 16 connections, on the same machine)
# drives each workload for the same time; the Lua scripts beside this file make the bodies
# unique and pick random members:
#
#   0  GET /version, the ceiling of the same run (no database work)
#   1  GET /Users/{id}, a random member                                   get-user.lua
#   2  GET /Users?filter=userName eq "…" at 1,000 and at N members        find-user.lua
#   3  POST /Users, unique members                                        create-user.lua
#   4  PATCH /Users/{id} replace active, false and true in turn           patch-active.lua
#   5  PATCH /Groups/{id} add, then remove, one member: big and 10-member group  patch-member.lua
#   6  a full paged read of all members with count=100, timed end to end page-all.py
#   7  an Entra-style cycle: a userName eq lookup, then a PATCH, per member  entra-cycle.lua
#   8  cold start: from exec to the first 200 from /alive, median of 5
#   9  the server's RSS idle, under load and at its peak; database bytes per member
#  10  1, 2 and 3 against the Python reference server scim2-server (PyPI) under uvicorn, with its
#      in-memory storage and BENCH_REF_MEMBERS members (default 10,000; 0 skips it), each right
#      after scim-appliance's
#
# The wrk workloads run in rounds (default 3: the machine is shared, and a burst of other work
# hurts one round, not the median); the paged read and the cold starts run once.
#
#   bash bench/run.sh [members, default 100000] [seconds per workload, default 10] [rounds, default 3]
#   bash bench/run.sh 20000 3 1      # a quick run while developing
#
# Also from the environment: BENCH_MEMBERS, BENCH_SECONDS, BENCH_ROUNDS, BENCH_REF_MEMBERS,
# BENCH_LOG_LEVEL (the server's --log-level, default warn: no line per request, as
# bench/ldap.sh runs it).
# Writes bench/results.md with the issue's targets beside the measured values, and the raw
# measurements to bench/results.jsonl. A measurement, never a pass/fail test: it exits 0
# whatever the numbers are.
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS="${1:-${BENCH_MEMBERS:-100000}}"
DURATION="${2:-${BENCH_SECONDS:-10}}"
ROUNDS="${3:-${BENCH_ROUNDS:-3}}"
REF_MEMBERS="${BENCH_REF_MEMBERS:-10000}"
LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}"
THREADS=2
CONNECTIONS=16
TEMPLATE='u{}@bench.test'
SMALL_ORG=1000
BIG=$((MEMBERS / 2 < 50000 ? MEMBERS / 2 : 50000))
SMALL=10
DEPARTMENTS=20
COMMAND="bash bench/run.sh $MEMBERS $DURATION $ROUNDS"
[ "$REF_MEMBERS" = 10000 ] || COMMAND="BENCH_REF_MEMBERS=$REF_MEMBERS $COMMAND"
[ "$MEMBERS" -ge $((SMALL_ORG + SMALL + 100)) ] || { echo "at least $((SMALL_ORG + SMALL + 100)) members, please"; exit 2; }

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --locked --quiet
BIN="$PWD/target/release/scim-appliance"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
RESULTS="$WORK/results.jsonl"
# record key=value …: one JSON object a line in $RESULTS (numbers as numbers) for report.py.
record() {
  python3 -c 'import json, re, sys
def value(text):
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]+[.][0-9]+", text):
        return float(text)
    return text
print(json.dumps({k: value(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}))' "$@" >>"$RESULTS"
}
rss_kb() { awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_for() { # url seconds: until it answers 200
  for _ in $(seq $(($2 * 20))); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "no answer from $1 within $2 s"; return 1
}
# wrk_run SERVER_PID NAME SCRIPT URL [VAR=value …]: one workload for $DURATION s; the server's
# RSS is read halfway through.
wrk_run() {
  local pid="$1" name="$2" script="$3" url="$4"; shift 4
  env "$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$url" >"$WORK/$name.out" &
  local load=$!
  sleep "$(python3 -c "print($DURATION / 2)")"
  local rss; rss=$(rss_kb "$pid")
  wait "$load"
  local line; line=$(sed -n 's/^RESULT //p' "$WORK/$name.out")
  # shellcheck disable=SC2086 # the RESULT line is key=value words
  record kind=wrk name="$name" round="$ROUND" rss_kb="$rss" $line
  local requests=0 duration_us=1 errors=0 non2xx=0 p50_us=0 p99_us=0   # set from the RESULT line
  eval "$line"
  printf "%d %-16s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  errors %d  RSS %d MB\n" "$ROUND" "$name" \
    "$(python3 -c "print($requests / ($duration_us / 1e6))")" "$(python3 -c "print($p50_us / 1000)")" \
    "$(python3 -c "print($p99_us / 1000)")" "$((errors + non2xx))" "$((rss / 1024))"
}
record kind=run command="$COMMAND" members="$MEMBERS" seconds="$DURATION" rounds="$ROUNDS" threads="$THREADS" \
  connections="$CONNECTIONS" big="$BIG" small="$SMALL" departments="$DEPARTMENTS" small_org="$SMALL_ORG" \
  log_level="$LOG_LEVEL" commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src sql Cargo.lock || echo +changes)" \
  date="$(date -u +%Y-%m-%d)" nproc="$(nproc)" memory_gib="$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
  cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" wrk="$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)" \
  version="$("$BIN" --version)" load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
# Seeding: two organizations, a provision key each, members and groups through `import`.
DATA="$WORK/data"
PORT=$(free_port)
members_csv() { # file count groups(yes|no)
  python3 - "$@" "$TEMPLATE" "$BIG" "$SMALL" "$DEPARTMENTS" <<'PY'
import sys
path, count, groups, template, big, small, departments = sys.argv[1:]
count, big, small, departments = int(count), int(big), int(small), int(departments)
with open(path, "w") as out:
    out.write("userName,email,displayName,givenName,familyName,externalId,active,groups\n")
    for i in range(count):
        name = template.replace("{}", str(i))
        names = []
        if groups == "yes":
            names = [f"dept-{i % departments}"]
            if i < big:
                names.append("big")
            if i >= count - small:
                names.append("small")
        out.write(f"{name},{name},Member {i},Member,N{i},ext-{i},true,{';'.join(names)}\n")
PY
}
new_org() { # name → "id key"
  local org; org=$("$BIN" --data-dir "$DATA" org create "$1" --json | json "['id']")
  echo "$org $("$BIN" --data-dir "$DATA" org key add "$org" --name bench --scope provision --json | json "['api_key']")"
}
read -r ORG KEY <<<"$(new_org "Bench $MEMBERS")"
members_csv "$WORK/members.csv" "$MEMBERS" yes
echo "importing $MEMBERS members…"
IMPORT=$(python3 - "$BIN" --data-dir "$DATA" import "$ORG" "$WORK/members.csv" <<'PY'
import resource, subprocess, sys, time
started = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(f"seconds={time.perf_counter() - started:.2f} peak_rss_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
)
# shellcheck disable=SC2086 # key=value words
record kind=import members="$MEMBERS" groups=$((DEPARTMENTS + 2)) $IMPORT
DB_BYTES=$(cat "$DATA"/scim-appliance.db* | wc -c)
record kind=db members="$MEMBERS" bytes="$DB_BYTES"
echo "imported: $IMPORT, database $((DB_BYTES / 1048576)) MB"
read -r SMALL_ORG_ID SMALL_KEY <<<"$(new_org "Bench $SMALL_ORG")"
members_csv "$WORK/small.csv" "$SMALL_ORG" no
"$BIN" --data-dir "$DATA" import "$SMALL_ORG_ID" "$WORK/small.csv" >/dev/null

# ---------------------------------------------------------------------------------------------
# The reference: scim2-server under uvicorn, seeded before the workloads and then idle; each of
# its workloads runs right after scim-appliance's same one, with the same script and client, so
# that drift of the machine weighs on both alike. start_reference sets REF_ERROR and returns 1
# when it cannot be run; the rest of the results stand.
REF_ERROR=""
REF_URL=""
start_reference() {
  local venv=target/venv-bench-scim2
  if [ ! -x "$venv/bin/uvicorn" ]; then
    python3 -m venv "$venv" || { REF_ERROR="python3 -m venv failed"; return 1; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'scim2-server==0.8.3' 'uvicorn[standard]==0.55.0' \
      >"$WORK/pip.log" 2>&1 || { REF_ERROR="pip install scim2-server failed: $(tail -1 "$WORK/pip.log")"; return 1; }
  fi
  local port started ready=""
  port=$(free_port); REF_TOKEN="bench-$RANDOM$RANDOM"
  echo "starting scim2-server with $REF_MEMBERS members…"
  started=$(date +%s.%N)
  SCIM2_BENCH_TOKEN="$REF_TOKEN" SCIM2_BENCH_SEED="$REF_MEMBERS" SCIM2_BENCH_TEMPLATE="$TEMPLATE" \
    SCIM2_BENCH_IDS="$WORK/ref-ids.txt" "$venv/bin/uvicorn" --app-dir bench scim2_reference:app \
    --host 127.0.0.1 --port "$port" --log-level warning --no-access-log 2>"$WORK/uvicorn.log" &
  REF=$!; PIDS+=("$REF")
  # Seeding takes a few ms per member (every create goes through scim2-server's handler).
  for _ in $(seq $((REF_MEMBERS / 20 + 600))); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/ServiceProviderConfig" && { ready=yes; break; }
    kill -0 "$REF" 2>/dev/null || { REF_ERROR="uvicorn exited: $(tail -1 "$WORK/uvicorn.log")"; return 1; }
    sleep 0.1
  done
  [ -n "$ready" ] || { REF_ERROR="scim2-server did not answer within $((REF_MEMBERS / 200 + 60)) s of its start"; return 1; }
  record kind=reference members="$REF_MEMBERS" seed_seconds="$(python3 -c "print(round($(date +%s.%N) - $started, 1))")" \
    packages="$("$venv/bin/pip" list --disable-pip-version-check 2>/dev/null | awk '$1 == "scim2-server" || $1 == "uvicorn" { printf "%s %s, ", $1, $2 }' | sed 's/, $//')"
  REF_URL="http://127.0.0.1:$port"
}
# reference NAME SCRIPT [VAR=value …]: the workload NAME against scim2-server, as ref-NAME.
reference() {
  [ -n "$REF_URL" ] || return 0
  local name="$1" script="$2"; shift 2
  wrk_run "$REF" "ref-$name" "$script" "$REF_URL" SCIM_ORG=bench SCIM_KEY="$REF_TOKEN" "$@"
}
if [ "$REF_MEMBERS" -le 0 ]; then
  record kind=reference error="skipped: BENCH_REF_MEMBERS=$REF_MEMBERS"
elif ! start_reference; then
  echo "scim2-server: $REF_ERROR"
  record kind=reference error="$REF_ERROR"
fi

"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --log-level "$LOG_LEVEL" 2>"$WORK/serve.log" &
SERVER=$!; PIDS+=("$SERVER")
URL="http://127.0.0.1:$PORT"
wait_for "$URL/alive" 30
sleep 1
IDLE_RSS=$(rss_kb "$SERVER")
curl -sf "$URL/version" >/dev/null || { echo "no GET /version"; exit 1; }

# The members' ids in their order (line n is member n-1), the ids of the members in none of the
# big and small groups, and the groups' ids.
python3 - "$URL/v2/$ORG" "$KEY" "$TEMPLATE" "$BIG" "$SMALL" "$WORK" <<'PY'
import http.client, json, sys, urllib.parse
base, key, template, big, small, work = sys.argv[1:]
big, small = int(big), int(small)
url = urllib.parse.urlsplit(base)
connection = http.client.HTTPConnection(url.hostname, url.port)
def get(query):
    connection.request("GET", f"{url.path}/{query}", headers={"Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (query, response.status, body[:200])
    return json.loads(body)
prefix, suffix = template.split("{}")
ids, start = {}, 1
while True:
    page = get(f"Users?startIndex={start}&count=1000&attributes=userName")
    for user in page["Resources"]:
        ids[int(user["userName"][len(prefix):len(user["userName"]) - len(suffix)])] = user["id"]
    start += len(page["Resources"])
    if not page["Resources"] or start > page["totalResults"]:
        break
ordered = [ids[i] for i in range(len(ids))]
with open(f"{work}/ids.txt", "w") as out:
    out.write("".join(f"{i}\n" for i in ordered))
with open(f"{work}/outside.txt", "w") as out:
    out.write("".join(f"{i}\n" for i in ordered[big:len(ordered) - small]))
for name in ("big", "small"):
    found = get(f'Groups?filter=displayName%20eq%20%22{name}%22&excludedAttributes=members')
    with open(f"{work}/{name}.group", "w") as out:
        out.write(found["Resources"][0]["id"])
PY

# ---------------------------------------------------------------------------------------------
# The workloads.
AS_ORG=(SCIM_ORG="$ORG" SCIM_KEY="$KEY")
echo "warming up (2 s each)…"
ROUND=0; SAVED=$DURATION; DURATION=2
wrk_run "$SERVER" warm-up bench/get-user.lua "$URL" "${AS_ORG[@]}" BENCH_IDS="$WORK/ids.txt" >/dev/null
reference warm-up bench/get-user.lua BENCH_IDS="$WORK/ref-ids.txt" >/dev/null
DURATION=$SAVED
echo "paging through $MEMBERS members…"
PAGING=$(python3 bench/page-all.py "$URL/v2/$ORG" "$KEY" 100)
echo "{\"kind\": \"paging\", \"result\": $PAGING}" >>"$RESULTS"
echo "$PAGING"
for ROUND in $(seq "$ROUNDS"); do
  wrk_run "$SERVER" version bench/report.lua "$URL/version"
  wrk_run "$SERVER" read bench/get-user.lua "$URL" "${AS_ORG[@]}" BENCH_IDS="$WORK/ids.txt"
  reference read bench/get-user.lua BENCH_IDS="$WORK/ref-ids.txt"
  wrk_run "$SERVER" filter-small bench/find-user.lua "$URL" SCIM_ORG="$SMALL_ORG_ID" SCIM_KEY="$SMALL_KEY" \
    BENCH_TEMPLATE="$TEMPLATE" BENCH_COUNT="$SMALL_ORG"
  wrk_run "$SERVER" filter bench/find-user.lua "$URL" "${AS_ORG[@]}" BENCH_TEMPLATE="$TEMPLATE" BENCH_COUNT="$MEMBERS"
  reference filter bench/find-user.lua BENCH_TEMPLATE="$TEMPLATE" BENCH_COUNT="$REF_MEMBERS"
  wrk_run "$SERVER" member-big bench/patch-member.lua "$URL" "${AS_ORG[@]}" BENCH_IDS="$WORK/outside.txt" \
    BENCH_GROUP="$(cat "$WORK/big.group")"
  wrk_run "$SERVER" member-small bench/patch-member.lua "$URL" "${AS_ORG[@]}" BENCH_IDS="$WORK/outside.txt" \
    BENCH_GROUP="$(cat "$WORK/small.group")"
  wrk_run "$SERVER" active bench/patch-active.lua "$URL" "${AS_ORG[@]}" BENCH_IDS="$WORK/ids.txt"
  wrk_run "$SERVER" entra bench/entra-cycle.lua "$URL" "${AS_ORG[@]}" BENCH_IDS="$WORK/ids.txt" BENCH_TEMPLATE="$TEMPLATE"
  wrk_run "$SERVER" create bench/create-user.lua "$URL" "${AS_ORG[@]}" SCIM_RUN="bench-$ROUND"
  reference create bench/create-user.lua SCIM_RUN="bench-$ROUND"
done
[ -z "$REF_URL" ] || { kill "$REF"; wait "$REF" 2>/dev/null || true; }
record kind=rss idle_kb="$IDLE_RSS" after_kb="$(rss_kb "$SERVER")" peak_kb="$(rss_kb "$SERVER" VmHWM)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

echo "cold starts…"
python3 - "$BIN" "$DATA" "$LOG_LEVEL" "$RESULTS" <<'PY'
import http.client, json, socket, subprocess, sys, time
binary, data, log_level, results = sys.argv[1:]
times = []
for _ in range(5):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}",
                               "--log-level", log_level], stderr=subprocess.DEVNULL)
    while time.perf_counter() - started < 30:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/alive")
            if connection.getresponse().status == 200:
                break
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.001)
    times.append((time.perf_counter() - started) * 1000)
    server.terminate()
    server.wait()
with open(results, "a") as out:
    out.write(json.dumps({"kind": "cold_start", "ms": [round(t, 1) for t in times]}) + "\n")
print("cold start ms:", ", ".join(f"{t:.1f}" for t in times))
PY

record kind=end load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
cp "$RESULTS" bench/results.jsonl
python3 bench/report.py bench/results.jsonl >bench/results.md
echo "wrote bench/results.md and bench/results.jsonl"
