#!/usr/bin/env python3
"""A full paged read of an organization's members, as Okta and Google sync: GET
/Users?startIndex=1&count=100, then 101, 201, … until totalResults are read, over one
keep-alive connection, timed end to end, counting the distinct members the pages held and
every totalResults they announced. Then the first and the last page alone, 5 times each (their
median is the cost the issue compares). Prints one JSON object.

    python3 bench/page-all.py http://127.0.0.1:8080/v2/<org> <api key> [count, default 100]

Part of bench/run.sh; a measurement, never a pass/fail test.
"""

import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main() -> None:
    base, key = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port)
    headers = {"Authorization": f"Bearer {key}"}

    def page(start: int) -> tuple[float, dict]:
        started = time.perf_counter()
        connection.request("GET", f"{url.path}/Users?startIndex={start}&count={count}", headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"startIndex={start}: {response.status} {body[:200]!r}")
        return elapsed, json.loads(body)

    seen: set[str] = set()
    totals: set[int] = set()
    times: list[float] = []
    started = time.perf_counter()
    start = 1
    while True:
        elapsed, listed = page(start)
        times.append(elapsed)
        totals.add(listed["totalResults"])
        resources = listed.get("Resources", [])
        seen.update(r["id"] for r in resources)
        start += len(resources)
        if not resources or start > listed["totalResults"]:
            break
    total_seconds = time.perf_counter() - started
    total = max(totals)
    last_start = max(1, total - count + 1)
    first_alone = statistics.median(page(1)[0] for _ in range(5))
    last_alone = statistics.median(page(last_start)[0] for _ in range(5))
    print(json.dumps({
        "members": total,
        "pages": len(times),
        "count": count,
        "seconds": round(total_seconds, 2),
        "first_page_ms": round(times[0] * 1000, 2),
        "last_page_ms": round(times[-1] * 1000, 2),
        "median_page_ms": round(statistics.median(times) * 1000, 2),
        "first_page_alone_ms": round(first_alone * 1000, 2),
        "last_page_alone_ms": round(last_alone * 1000, 2),
        "last_page_start": last_start,
        "distinct_members": len(seen),
        "totals_seen": sorted(totals),
    }))


if __name__ == "__main__":
    main()
