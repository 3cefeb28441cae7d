#!/usr/bin/env bash
# The LDAP directory (docs/ldap.md) end to end, through real clients: OpenLDAP's ldapsearch,
# ldapwhoami, ldapadd, ldapmodify, ldapdelete, ldapmodrdn, ldappasswd and ldapcompare (Debian's
# ldap-utils) and the Python `ldap3` package, against the real binary.
#
#   - binds: a read key as its service account; a provision key, a wrong password, another
#     organization's key, a revoked key and a member refused (49); anonymous reads the root DSE
#     and nothing else (50);
#   - the tree and every attribute, DN escaping, groups sharing a displayName;
#   - each application's own filters (Gitea/Forgejo, Nextcloud, Jellyfin, Grafana, Portainer,
#     Authelia, SSSD) returning exactly the right entries; memberOf and member agreeing with
#     SCIM's GET /Groups;
#   - paged results over 2,500 members, every entry exactly once, and the size limit;
#   - SCIM revoke, restore and renames seen by the very next search;
#   - two organizations that see nothing of each other, on every scope and base;
#   - writes refused (53); LDAPS with a test certificate when the build has --ldaps-listen.
#
# The checks are tests/ops/ldap_clients.py; each prints its name, and the run fails if any
# fails. Loopback only; about 15 s once the release build is there (bounded at 5 minutes).
#
#   bash tests/ops/ldap.sh                        # builds and tests the release binary
#   LDAP_TEST_BIN=target/debug/scim-appliance bash tests/ops/ldap.sh
set -euo pipefail
# The whole run is bounded: 5 minutes, then SIGTERM (the trap below cleans up).
if [ -z "${LDAP_TEST_BOUNDED:-}" ]; then
    LDAP_TEST_BOUNDED=1 exec timeout --kill-after=30 300 bash "$0" "$@"
fi
cd "$(dirname "$0")/../.."

if ! command -v ldapsearch > /dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "-- installing ldap-utils (OpenLDAP's clients)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ldap-utils > /dev/null
fi

LDAP3_VERSION=2.9.1
venv=target/venv-ldap
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('ldap3') != '$LDAP3_VERSION')" 2> /dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "ldap3==$LDAP3_VERSION"
fi

# LDAP_TEST_BIN runs the test against another build (a debug one while developing).
bin=${LDAP_TEST_BIN:-target/release/scim-appliance}
[ -n "${LDAP_TEST_BIN:-}" ] || cargo build --release --locked --quiet

work=$(mktemp -d)
data="$work/data"
server_pid=""
checks_pid=""
cleanup() {
    local pid
    for pid in $checks_pid $server_pid; do
        if kill "$pid" 2> /dev/null; then
            wait "$pid" 2> /dev/null || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "FAIL: stopped (over 5 minutes, or interrupted)" >&2; exit 1' TERM INT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
port=$(free_port)
ldap_port=$(free_port)
serve=(serve --listen "127.0.0.1:$port" --ldap-listen "127.0.0.1:$ldap_port"
    --data-dir "$data" --log-level warn)
checks=(--bin "$bin" --data-dir "$data" --ldap-port "$ldap_port")

if "$bin" serve --help | grep -q -- '--ldaps-listen'; then
    ldaps_port=$(free_port)
    # A self-signed certificate for 127.0.0.1, trusted by the clients as their CA.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2> /dev/null
    serve+=(--ldaps-listen "127.0.0.1:$ldaps_port" --tls-cert "$work/cert.pem"
        --tls-key "$work/key.pem")
    checks+=(--ldaps-port "$ldaps_port" --cacert "$work/cert.pem" --http "https://127.0.0.1:$port")
    alive=(curl -fsS --cacert "$work/cert.pem" -o /dev/null "https://127.0.0.1:$port/alive")
else
    echo "SKIP LDAPS: this build has no --ldaps-listen"
    checks+=(--http "http://127.0.0.1:$port")
    alive=(curl -fsS -o /dev/null "http://127.0.0.1:$port/alive")
fi

echo "-- $("$bin" --version), ldap3 $LDAP3_VERSION, $(ldapsearch -VV 2>&1 | head -n 1)"
"$bin" "${serve[@]}" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
    "${alive[@]}" 2> /dev/null && (exec 3<> "/dev/tcp/127.0.0.1/$ldap_port") 2> /dev/null && break
    kill -0 "$server_pid" 2> /dev/null || fail "the server exited: $(tail -n 20 "$work/server.log")"
    sleep 0.1
done
"${alive[@]}" || fail "the server did not answer /alive within 60 s"

# In the background, so that a SIGTERM (the time bound) stops the run at once.
"$venv/bin/python" tests/ops/ldap_clients.py "${checks[@]}" &
checks_pid=$!
status=0
wait "$checks_pid" || status=$?
checks_pid=""
if [ "$status" != 0 ]; then
    echo "-- the server's log (warnings and errors):"
    tail -n 40 "$work/server.log"
fi
kill "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly (status $?)"
server_pid=""
[ "$status" = 0 ] && echo "ldap: OK"
exit "$status"
