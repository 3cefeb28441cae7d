#!/usr/bin/env python3
"""Fires a burst of wrong admin sign-ins and wrong API-key secrets at a real server, all at once
from one address, and reports what it cost: peak resident memory, thread count, argon2 runs and
the answers. Used to measure issue 12's fix (docs/security.md); the test suite asserts the same
bounds in tests/api/hostile.rs.

    python3 tests/ops/argon2-burst.py target/release/scim-appliance [--burst 200]

Loopback only; the server runs on a temporary data directory and is killed at the end.
"""
import argparse
import collections
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "correct horse battery staple"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    except OSError as e:
        return f"error: {type(e).__name__}", b""
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="argon2-burst-")
    run = lambda *a, **k: subprocess.run([args.binary, *a, "--data-dir", data], check=True,
                                          capture_output=True, **k)
    created = json.loads(run("org", "create", "Acme", "--json").stdout)
    org, key = created["id"], created["api_key"]
    run("admin", "set-password", "--password-stdin", input=(PASSWORD + "\n").encode())

    server = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                               "--metrics"], stderr=subprocess.PIPE, text=True)
    port = None
    for line in server.stderr:
        m = re.search(r"listening on https?://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    scim = f"/v2/{org}/ServiceProviderConfig"
    assert request(port, "GET", scim, {"Authorization": f"Bearer {key}"})[0] == 200
    pid = server.pid
    before = {"rss_kib": status_kib(pid, "VmRSS:"), "threads": status_kib(pid, "Threads:")}

    results = collections.defaultdict(collections.Counter)
    threads_peak = [before["threads"]]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            threads_peak[0] = max(threads_peak[0], status_kib(pid, "Threads:"))
            time.sleep(0.01)

    def sign_in(i):
        body = json.dumps({"password": f"wrong password {i}"})
        s, _ = request(port, "POST", "/api/admin/login", {"Content-Type": "application/json"}, body)
        results["sign_in"][s] += 1

    def guess(i):
        wrong = key[:-4] + f"{i:04d}"
        s, _ = request(port, "GET", scim, {"Authorization": f"Bearer {wrong}"})
        results["key_guess"][s] += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    workers = [threading.Thread(target=f, args=(i,)) for i in range(args.burst)
               for f in (sign_in, guess)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()

    status, metrics = request(port, "GET", "/metrics")
    runs = None
    if status == 200:
        m = re.search(rb"^scim_appliance_argon2_runs_total (\d+)", metrics, re.M)
        runs = int(m.group(1)) if m else None
    report = {
        "burst": args.burst,
        "seconds": round(elapsed, 2),
        "rss_kib_before": before["rss_kib"],
        "rss_kib_peak": status_kib(pid, "VmHWM:"),
        "rss_kib_after": status_kib(pid, "VmRSS:"),
        "threads_before": before["threads"],
        "threads_peak": threads_peak[0],
        # A 401 for a wrong password or a wrong secret of a real key id is one argon2 run.
        "argon2_runs_metric": runs,
        "answers": {k: dict(sorted((str(s), n) for s, n in v.items())) for k, v in results.items()},
    }
    server.kill()
    server.wait()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
