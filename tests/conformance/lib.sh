# Shared by the conformance scripts: build the release binary, start it on a fresh data
# directory and a free port, and create one organization. Source it, then call start_server;
# it sets $url (the organization's SCIM base URL), $key (its API key), $port and $log, and
# stops the server and removes the data on exit.

bin=target/release/scim-appliance
data=$(mktemp -d)
log="$data/serve.log"

cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null
    rm -rf "$data"
}
trap cleanup EXIT

# Third-party suites live beside the project, never in it; skip (exit 0) when absent.
shared_or_skip() {
    if [ ! -e "$1" ]; then
        echo "SKIPPED: $1 is not present (the external suite lives outside the repository)"
        exit 0
    fi
}

start_server() {
    cargo build --release --quiet
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local org
    org=$("$bin" org create "${1:-conformance}" --json --data-dir "$data/db" --public-url "http://127.0.0.1:$port")
    url=$(printf '%s' "$org" | python3 -c 'import json, sys; print(json.load(sys.stdin)["scim_url"])')
    key=$(printf '%s' "$org" | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')
    "$bin" serve --data-dir "$data/db" --listen "127.0.0.1:$port" >"$log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/alive')" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "the server did not start:"; cat "$log"; exit 1
}

server_log_tail() {
    echo "--- server log (tail, without 2xx)"
    grep -v ' status=2' "$log" | tail -30
}
