#!/usr/bin/env python3
"""The loopback receiver of tests/ops/webhooks.sh, and the checks it makes on what arrived.

  webhook_receiver.py serve DIR PORT
      Answers POSTs on 127.0.0.1:PORT. Each path is one endpoint: DIR/secrets.json maps a path to
      its whsec_ secret, DIR/modes.json (optional) a path to the status to answer (default 204);
      both are read on every request, so the script can change them while the receiver runs.
      Every request is verified with the official `standardwebhooks` package
      (Webhook(secret).verify) and logged, verified or not, as one line of DIR/requests.jsonl.
      A request that fails verification is answered 400.
  webhook_receiver.py count DIR PATH
      Prints how many distinct messages PATH has received (delivered: verified and answered 2xx).
  webhook_receiver.py expect FILE TYPE EVENT KEY RESOURCE [ADDED [REMOVED]] [--key-id K|none]
      Appends one expected message to FILE: its type, its event-log name, and the resource
      (JSON) it must carry under data.KEY; ADDED/REMOVED are comma-separated user ids.
  webhook_receiver.py check DIR PATH --after N --expected FILE --org ID NAME --key-id K
      Waits (at most --timeout s) for the messages expected after the first N on PATH, then
      asserts they are exactly those, in order, and that nothing else arrives for --settle s.
  webhook_receiver.py wait DIR PATH COUNT
      Waits until PATH has received COUNT distinct messages.
  webhook_receiver.py attempts DIR PATH
      Prints each request to PATH as one line: webhook-id, status answered, type.
  webhook_receiver.py audit DIR [--org PATH ORG_ID]…
      Asserts what must hold for every request of the run: it verified; its webhook-timestamp
      is the time it was sent (a redelivery signed with the first attempt's time would be
      refused by every Standard Webhooks library after 5 minutes); a webhook-id always comes
      with the same body, and one body never with two webhook-ids; every message on PATH
      belongs to ORG_ID.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# How far a webhook-timestamp (whole seconds) may be from the receiver's clock when the request
# arrives over loopback. Less than the first retry's delay (5 s), so a retry stamped with an
# earlier attempt's time is caught.
FRESH_SECONDS = 3


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def read_json(path, default):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default


def serve(args):
    directory = Path(args.dir)
    log_lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            secrets = read_json(directory / "secrets.json", {})
            status = read_json(directory / "modes.json", {}).get(self.path, 204)
            entry = {
                "path": self.path,
                "received": time.time(),
                "webhook_id": self.headers.get("webhook-id"),
                "webhook_timestamp": self.headers.get("webhook-timestamp"),
                "content_type": self.headers.get("content-type"),
                "user_agent": self.headers.get("user-agent"),
                "verified": False,
                "error": None,
                "body": None,
            }
            try:
                secret = secrets[self.path]
                entry["body"] = Webhook(secret).verify(body, dict(self.headers))
                entry["verified"] = True
            except KeyError:
                entry["error"] = f"no secret for path {self.path}"
            except (WebhookVerificationError, ValueError) as e:
                entry["error"] = f"{type(e).__name__}: {e}"
                entry["raw_body"] = body.decode("utf-8", "replace")
            if not entry["verified"]:
                status = 400
            entry["status"] = status
            with log_lock, open(directory / "requests.jsonl", "a") as log:
                log.write(json.dumps(entry) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    server.daemon_threads = True
    server.serve_forever()


def requests(directory):
    path = Path(directory) / "requests.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def delivered(directory, path):
    """The distinct messages `path` accepted, in the order they first arrived."""
    seen, messages = set(), []
    for r in requests(directory):
        if r["path"] != path or not r["verified"] or not 200 <= r["status"] < 300:
            continue
        if r["webhook_id"] not in seen:
            seen.add(r["webhook_id"])
            messages.append(r)
    return messages


def wait_for(directory, path, count, timeout):
    deadline = time.monotonic() + timeout
    while True:
        messages = delivered(directory, path)
        if len(messages) >= count:
            return messages
        if time.monotonic() > deadline:
            got = [m["body"]["type"] for m in messages]
            fail(f"{path}: waited {timeout} s for {count} messages, got {len(messages)}: {got}")
        time.sleep(0.2)


def count(args):
    print(len(delivered(args.dir, args.path)))


def wait(args):
    wait_for(args.dir, args.path, args.count, args.timeout)


def expect(args):
    entry = {"type": args.type, "event": args.event, "key": args.key,
             "resource": json.loads(args.resource)}
    if args.added is not None:
        entry["added"] = [i for i in args.added.split(",") if i]
        entry["removed"] = [i for i in (args.removed or "").split(",") if i]
    if args.key_id is not None:
        entry["key_id"] = None if args.key_id == "none" else args.key_id
    with open(args.file, "a") as f:
        f.write(json.dumps(entry) + "\n")


def check(args):
    expected = [json.loads(line) for line in Path(args.expected).read_text().splitlines()]
    wanted = args.after + len(expected)
    wait_for(args.dir, args.path, wanted, args.timeout)
    time.sleep(args.settle)  # anything extra would arrive now
    messages = delivered(args.dir, args.path)[args.after:]
    got_types = [m["body"]["type"] for m in messages]
    want_types = [e["type"] for e in expected]
    if got_types != want_types:
        fail(f"{args.path}: expected the types {want_types}, got {got_types}")
    for i, (m, e) in enumerate(zip(messages, expected)):
        where = f"{args.path} message {i + 1} ({e['type']}, webhook-id {m['webhook_id']})"
        body = m["body"]
        if set(body) != {"type", "timestamp", "data"}:
            fail(f"{where}: the body has the keys {sorted(body)}, not type/timestamp/data")
        if not (m["webhook_id"] or "").startswith("msg_"):
            fail(f"{where}: webhook-id {m['webhook_id']!r} does not start with msg_")
        if not (m["content_type"] or "").startswith("application/json"):
            fail(f"{where}: content-type is {m['content_type']!r}")
        data = body["data"]
        org = data.get("organization") or {}
        if (org.get("id"), org.get("name")) != (args.org[0], args.org[1]):
            fail(f"{where}: data.organization is {org}, "
                 f"expected id {args.org[0]} and name {args.org[1]!r}")
        event = data.get("event") or {}
        if event.get("name") != e["event"]:
            fail(f"{where}: data.event.name is {event.get('name')!r}, expected {e['event']!r}")
        key_id = e.get("key_id", args.key_id)
        if event.get("key_id") != key_id:
            fail(f"{where}: data.event.key_id is {event.get('key_id')!r}, expected {key_id!r}")
        if data.get(e["key"]) != e["resource"]:
            fail(f"{where}: data.{e['key']} is not the resource as it was right after the "
                 f"change\n  got:      {json.dumps(data.get(e['key']), sort_keys=True)}"
                 f"\n  expected: {json.dumps(e['resource'], sort_keys=True)}")
        if "added" in e:
            for side in ("added", "removed"):
                if sorted(data.get(side) or []) != sorted(e[side]):
                    fail(f"{where}: data.{side} is {data.get(side)}, expected {e[side]}")
    noun = "message" if len(messages) == 1 else "messages"
    print(f"{args.path}: {len(messages)} {noun} as expected: {' '.join(got_types)}")


def attempts(args):
    for r in requests(args.dir):
        if r["path"] == args.path:
            kind = r["body"]["type"] if r["body"] else "-"
            print(r["webhook_id"], r["status"], kind, r["webhook_timestamp"])


def audit(args):
    by_id, by_body = {}, {}
    owner = dict(args.org)
    for r in requests(args.dir):
        where = f"{r['path']} webhook-id {r['webhook_id']}"
        if not r["verified"]:
            fail(f"{where}: failed verification with standardwebhooks: {r['error']}")
        age = r["received"] - int(r["webhook_timestamp"])
        if abs(age) > FRESH_SECONDS:
            fail(f"{where}: webhook-timestamp is {age:.0f} s from the time it arrived; every "
                 "attempt must be signed with the time it is sent")
        org = r["body"]["data"].get("organization", {}).get("id")
        if r["path"] in owner and org != owner[r["path"]]:
            fail(f"{where}: a message of organization {org} reached an endpoint of "
                 f"{owner[r['path']]}: {r['body']['type']}")
        body = json.dumps(r["body"], sort_keys=True)
        key = (r["path"], r["webhook_id"])
        if by_id.setdefault(key, body) != body:
            fail(f"{where}: the same webhook-id came with two different bodies")
        other = by_body.setdefault((r["path"], body), r["webhook_id"])
        if other != r["webhook_id"]:
            fail(f"{r['path']}: one message came under two webhook-ids, {other} and "
                 f"{r['webhook_id']}: a redelivery must keep its webhook-id")
    print(f"audit: {len(requests(args.dir))} requests, all verified, fresh, one id per message")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("serve")
    p.add_argument("dir")
    p.add_argument("port", type=int)
    p.set_defaults(run=serve)
    p = sub.add_parser("count")
    p.add_argument("dir")
    p.add_argument("path")
    p.set_defaults(run=count)
    p = sub.add_parser("expect")
    p.add_argument("file")
    p.add_argument("type")
    p.add_argument("event")
    p.add_argument("key")
    p.add_argument("resource")
    p.add_argument("added", nargs="?")
    p.add_argument("removed", nargs="?")
    p.add_argument("--key-id", help="the key id the event names; none: no key (not a SCIM change)")
    p.set_defaults(run=expect)
    p = sub.add_parser("check")
    p.add_argument("dir")
    p.add_argument("path")
    p.add_argument("--after", type=int, required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--org", nargs=2, required=True, metavar=("ID", "NAME"))
    p.add_argument("--key-id", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--settle", type=float, default=1.5)
    p.set_defaults(run=check)
    p = sub.add_parser("wait")
    p.add_argument("dir")
    p.add_argument("path")
    p.add_argument("count", type=int)
    p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(run=wait)
    p = sub.add_parser("attempts")
    p.add_argument("dir")
    p.add_argument("path")
    p.set_defaults(run=attempts)
    p = sub.add_parser("audit")
    p.add_argument("dir")
    p.add_argument("--org", nargs=2, action="append", default=[], metavar=("PATH", "ORG_ID"),
                   help="every message on PATH must belong to ORG_ID")
    p.set_defaults(run=audit)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
