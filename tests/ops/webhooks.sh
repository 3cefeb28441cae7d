#!/usr/bin/env bash
# Webhook deliveries end to end, verified by the official `standardwebhooks` Python package
# (docs/integrations.md):
#
#   - every SCIM change yields exactly its documented message, in order, carrying the resource
#     as it was right after the change (what a GET returned then);
#   - a receiver that is down, then up, gets everything afterwards (the first retry is ~5 s);
#   - a change acknowledged while the receiver is down survives a SIGKILL of the server and
#     arrives after the restart; a message that got a 500, then a SIGKILL, is redelivered under
#     the same webhook-id;
#   - an endpoint filtered to member.revoked gets only those; a second organization's
#     endpoints never see the first's events; a 410 disables the endpoint;
#   - every request verifies, is signed with the time it was sent, and a webhook-id always
#     names one message.
#
# Loopback only; every wait is bounded (60 s), the whole run takes about a minute.
set -euo pipefail
# The whole run is bounded: 5 minutes, then SIGTERM (the trap below cleans up).
if [ -z "${WEBHOOKS_TEST_BOUNDED:-}" ]; then
    WEBHOOKS_TEST_BOUNDED=1 exec timeout --kill-after=90 300 bash "$0" "$@"
fi
cd "$(dirname "$0")/../.."

STANDARDWEBHOOKS_VERSION=1.1.0
venv=target/venv-webhooks
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('standardwebhooks') != '$STANDARDWEBHOOKS_VERSION')" 2> /dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
fi
py="$venv/bin/python"
receiver=tests/ops/webhook_receiver.py

# WEBHOOKS_TEST_BIN runs the test against another build (a debug one while developing).
bin=${WEBHOOKS_TEST_BIN:-target/release/scim-appliance}
[ -n "${WEBHOOKS_TEST_BIN:-}" ] || cargo build --release --locked --quiet

work=$(mktemp -d)
rdir="$work/receiver"
mkdir "$rdir"
data="$work/data"
server_pid=""
receiver_pid=""
cleanup() {
    local pid
    for pid in $server_pid $receiver_pid; do
        kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "FAIL: stopped (over 5 minutes, or interrupted)" >&2; exit 1' TERM INT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND"; tail -n 20 "$work/server.log" 2> /dev/null' ERR

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
# json_get JSON KEY.PATH: a string as is, anything else as JSON.
json_get() {
    python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
port=$(free_port)
rport=$(free_port)
base="http://127.0.0.1:$port"
hook="http://127.0.0.1:$rport"

start_server() {
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --log-level warn \
        >> "$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 600); do
        curl -fsS -o /dev/null "$base/alive" 2> /dev/null && return
        kill -0 "$server_pid" 2> /dev/null ||
            fail "the server exited: $(tail -n 20 "$work/server.log")"
        sleep 0.1
    done
    fail "the server did not answer /alive within 60 s"
}
kill_server() {
    kill -KILL "$server_pid"
    wait "$server_pid" 2> /dev/null || true
    server_pid=""
}
start_receiver() {
    "$py" "$receiver" serve "$rdir" "$rport" >> "$work/receiver.log" 2>&1 &
    receiver_pid=$!
    for _ in $(seq 600); do
        (exec 3<> "/dev/tcp/127.0.0.1/$rport") 2> /dev/null && return
        sleep 0.1
    done
    fail "the receiver did not listen within 60 s: $(cat "$work/receiver.log")"
}
stop_receiver() {
    kill "$receiver_pid"
    wait "$receiver_pid" 2> /dev/null || true
    receiver_pid=""
}
# mode PATH STATUS: what the receiver answers on PATH from now on.
mode() {
    python3 -c '
import json, pathlib, sys
f = pathlib.Path(sys.argv[1]); m = json.loads(f.read_text()) if f.exists() else {}
m[sys.argv[2]] = int(sys.argv[3]); f.write_text(json.dumps(m))' "$rdir/modes.json" "$1" "$2"
}
count() { "$py" "$receiver" count "$rdir" "$1"; }

# scim ORG_ID KEY METHOD PATH [BODY]: the response body; fails unless the status is 2xx.
scim() {
    local status
    status=$(curl -sS -o "$work/response" -w '%{http_code}' -X "$3" "$base/v2/$1$4" \
        -H "Authorization: Bearer $2" -H 'Content-Type: application/scim+json' \
        ${5:+--data-binary "$5"})
    case "$status" in
        2??) cat "$work/response" ;;
        *) fail "$3 $4 answered $status: $(cat "$work/response")" ;;
    esac
}
user_body() { # userName displayName active
    printf '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],%s}' \
        "$(printf '"userName":"%s","displayName":"%s","active":%s,"emails":[%s]' "$1" "$2" "$3" \
            "{\"value\":\"$1\",\"primary\":true,\"type\":\"work\"}")"
}
patch_body() { # one operation, as JSON
    printf '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}' "$1"
}

stage() { echo "-- $* (${SECONDS} s)"; }
stage "standardwebhooks $STANDARDWEBHOOKS_VERSION, $("$bin" --version)"

org_a=$("$bin" org create "Webhooks A" --json --data-dir "$data")
a=$(json_get "$org_a" id)
key_a=$(json_get "$org_a" api_key)
key_a_id=$(key=${key_a#scim_} && echo "${key%%_*}")
org_b=$("$bin" org create "Webhooks B" --json --data-dir "$data")
b=$(json_get "$org_b" id)
key_b=$(json_get "$org_b" api_key)
key_b_id=$(key=${key_b#scim_} && echo "${key%%_*}")

# add_webhook ORG PATH [--events …]: prints the endpoint id; the secret goes to the receiver.
add_webhook() {
    local org=$1 path=$2 added
    shift 2
    added=$("$bin" webhook add "$org" "$hook$path" "$@" --json --data-dir "$data")
    python3 -c '
import json, pathlib, sys
f = pathlib.Path(sys.argv[1]); s = json.loads(f.read_text()) if f.exists() else {}
s[sys.argv[2]] = sys.argv[3]; f.write_text(json.dumps(s))' \
        "$rdir/secrets.json" "$path" "$(json_get "$added" secret)"
    json_get "$added" webhook.id
}
ep_a=$(add_webhook "$a" /a --description "everything")
ep_f=$(add_webhook "$a" /filtered --events member.revoked)
ep_b=$(add_webhook "$b" /b)
ep_g=$(add_webhook "$b" /gone)

start_receiver
start_server

# backlog ORG EP: the endpoint's undelivered messages, from `webhook list --json`.
endpoint() { # ORG EP FIELD
    python3 -c '
import json, sys
listing = json.loads(sys.argv[1])
for ep in listing["webhooks"] if isinstance(listing, dict) else listing:
    if ep["id"] == sys.argv[2]:
        print(json.dumps(ep[sys.argv[3]]))
        break
else:
    sys.exit(f"endpoint {sys.argv[2]} is not in webhook list")' \
        "$("$bin" webhook list "$1" --json --data-dir "$data")" "$2" "$3"
}
settled() { # ORG EP…: wait until the endpoints have no backlog
    local org=$1 ep
    shift
    for ep in "$@"; do
        for _ in $(seq 300); do
            [ "$(endpoint "$org" "$ep" backlog)" = 0 ] && continue 2
            sleep 0.2
        done
        fail "endpoint $ep still has a backlog after 60 s: $(endpoint "$org" "$ep" backlog)"
    done
}
settled "$a" "$ep_a" "$ep_f"
settled "$b" "$ep_b" "$ep_g"

# SCIM in organization A or B, with its key.
scim_a() { scim "$a" "$key_a" "$@"; }
scim_b() { scim "$b" "$key_b" "$@"; }
user_a() { scim_a GET "/Users/$1"; }
group_a() { scim_a GET "/Groups/$1?excludedAttributes=members"; }
new_user() { # scim_a|scim_b USERNAME DISPLAYNAME: prints the id
    json_get "$("$1" POST /Users "$(user_body "$2" "$3" true)")" id
}
new_group() { # DISPLAYNAME [MEMBER_ID] (organization A): prints the id
    local members=""
    [ -z "${2:-}" ] || members=",\"members\":[{\"value\":\"$2\"}]"
    local schemas='"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]'
    json_get "$(scim_a POST /Groups "{$schemas,\"displayName\":\"$1\"$members}")" id
}
set_active() { # USER_ID VALUE (a JSON value: false, true, "False")
    scim_a PATCH "/Users/$1" \
        "$(patch_body "{\"op\":\"replace\",\"path\":\"active\",\"value\":$2}")" > /dev/null
}
expected="$work/expected.jsonl"
expect() { # TYPE EVENT KEY RESOURCE [ADDED REMOVED] [--key-id K|none]
    "$py" "$receiver" expect "$expected" "$@"
}
# check PATH ORG_ID ORG_NAME KEY_ID AFTER: PATH got exactly the expected messages after its
# first AFTER; then the expectations start afresh.
check() {
    "$py" "$receiver" check "$rdir" "$1" --org "$2" "$3" --key-id "$4" --after "$5" \
        --expected "$expected"
    : > "$expected"
}
check_a() {
    check /a "$a" "Webhooks A" "$key_a_id" "$after_a"
    after_a=$(count /a)
}

stage "every SCIM change yields exactly its message, in order, with the resource after it"
after_a=$(count /a)
[ "$(count /filtered)" = 0 ] || fail "/filtered (member.revoked only) received other messages"
alice=$(new_user scim_a alice@example.com Alice)
expect member.created OrganizationUser_Invited member "$(user_a "$alice")"
set_active "$alice" false
revoked_alice=$(user_a "$alice")
expect member.revoked OrganizationUser_Revoked member "$revoked_alice"
scim_a PATCH "/Users/$alice" "$(patch_body '{"op":"replace","value":{"active":true}}')" > /dev/null
expect member.restored OrganizationUser_Restored member "$(user_a "$alice")"
scim_a PUT "/Users/$alice" "$(user_body alice@example.com "Alice Liddell" true)" > /dev/null
expect member.updated OrganizationUser_Updated member "$(user_a "$alice")"
media=$(new_group Media)
expect group.created Group_Created group "$(group_a "$media")"
scim_a PATCH "/Groups/$media" "$(patch_body \
    "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$alice\"}]}")" > /dev/null
expect group.members_changed OrganizationUser_UpdatedGroups group "$(group_a "$media")" "$alice" ""
scim_a PATCH "/Groups/$media" \
    "$(patch_body "{\"op\":\"remove\",\"path\":\"members[value eq \\\"$alice\\\"]\"}")" > /dev/null
expect group.members_changed OrganizationUser_UpdatedGroups group "$(group_a "$media")" "" "$alice"
bob=$(new_user scim_a bob@example.com Bob)
expect member.created OrganizationUser_Invited member "$(user_a "$bob")"
admins=$(new_group Admins "$bob")
expect group.created Group_Created group "$(group_a "$admins")"
expect group.members_changed OrganizationUser_UpdatedGroups group "$(group_a "$admins")" "$bob" ""
scim_a DELETE "/Groups/$media" > /dev/null
expect group.deleted Group_Deleted group "{\"id\":\"$media\"}"
scim_a DELETE "/Users/$alice" > /dev/null
expect member.deleted OrganizationUser_Removed member "{\"id\":\"$alice\"}"
check_a
expect member.revoked OrganizationUser_Revoked member "$revoked_alice"
check /filtered "$a" "Webhooks A" "$key_a_id" 0

stage "a receiver that is down, then up, gets everything afterwards"
stop_receiver
carol=$(new_user scim_a carol@example.com Carol)
expect member.created OrganizationUser_Invited member "$(user_a "$carol")"
set_active "$carol" '"False"'
revoked_carol=$(user_a "$carol")
expect member.revoked OrganizationUser_Revoked member "$revoked_carol"
failed_attempt() {
    "$bin" webhook deliveries "$a" "$ep_a" --json --data-dir "$data" | python3 -c '
import json, sys
sys.exit(not any(t["outcome"] == "failed" for t in json.load(sys.stdin)["attempts"]))'
}
for _ in $(seq 300); do
    failed_attempt && break
    sleep 0.2
done
failed_attempt || fail "no failed attempt recorded for $ep_a within 60 s with its receiver down"
start_receiver
check_a
expect member.revoked OrganizationUser_Revoked member "$revoked_carol"
check /filtered "$a" "Webhooks A" "$key_a_id" 1

stage "a change acknowledged while the receiver is down survives a SIGKILL of the server"
stop_receiver
dave=$(new_user scim_a dave@example.com Dave)
kill_server
start_server
expect member.created OrganizationUser_Invited member "$(user_a "$dave")"
start_receiver
check_a

stage "answered 500, then a SIGKILL: redelivered after the restart with the same webhook-id"
mode /a 500
requests_before=$("$py" "$receiver" attempts "$rdir" /a | wc -l)
scim_a PUT "/Users/$dave" "$(user_body dave@example.com "Dave Bowman" true)" > /dev/null
expect member.updated OrganizationUser_Updated member "$(user_a "$dave")"
refused_id=""
for _ in $(seq 300); do
    refused_id=$("$py" "$receiver" attempts "$rdir" /a | tail -n +"$((requests_before + 1))" |
        awk '$2 == 500 { print $1; exit }')
    [ -n "$refused_id" ] && break
    sleep 0.2
done
[ -n "$refused_id" ] || fail "no attempt reached the receiver within 60 s"
kill_server
mode /a 204
start_server
check_a
delivered_id=$("$py" "$receiver" attempts "$rdir" /a | awk '$2 == 204 { id = $1 } END { print id }')
[ "$delivered_id" = "$refused_id" ] ||
    fail "the redelivery came as $delivered_id, the refused attempt was $refused_id"
echo "redelivered as $delivered_id"

stage "a second organization's endpoints see only its own events; 410 disables an endpoint"
after_b=$(count /b)
mode /gone 410
erin=$(new_user scim_b erin@example.com Erin)
expect member.created OrganizationUser_Invited member "$(scim_b GET "/Users/$erin")"
for _ in $(seq 300); do
    [ "$(endpoint "$b" "$ep_g" enabled)" = false ] && break
    sleep 0.2
done
[ "$(endpoint "$b" "$ep_g" enabled)" = false ] || fail "$ep_g answered 410 and is still enabled"
[ "$(endpoint "$b" "$ep_g" disabled_reason)" != null ] || fail "$ep_g is disabled without a reason"
echo "410: $ep_g disabled: $(endpoint "$b" "$ep_g" disabled_reason)"
gone_requests=$("$py" "$receiver" attempts "$rdir" /gone | wc -l)
expect webhook.disabled Webhook_Disabled webhook \
    "{\"id\":\"$ep_g\",\"url\":\"$hook/gone\",\"enabled\":false}" --key-id none
check /b "$b" "Webhooks B" "$key_b_id" "$after_b"
after_b=$(count /b)
frank=$(new_user scim_b frank@example.com Frank)
expect member.created OrganizationUser_Invited member "$(scim_b GET "/Users/$frank")"
check /b "$b" "Webhooks B" "$key_b_id" "$after_b"
[ "$("$py" "$receiver" attempts "$rdir" /gone | wc -l)" = "$gone_requests" ] ||
    fail "the disabled endpoint $ep_g still receives requests"
[ "$(count /filtered)" = 2 ] || fail "/filtered received $(count /filtered) messages, expected 2"

"$py" "$receiver" audit "$rdir" --org /a "$a" --org /filtered "$a" --org /b "$b" --org /gone "$b"
echo "webhooks: OK"
