#!/usr/bin/env python3
"""Renders what bench/run.sh measured (one JSON object a line) as bench/results.md, with the
targets of issue #16 beside the measured values. Numbers are reported as they came; a missed
target says by how much.

    python3 bench/report.py results.jsonl > bench/results.md
"""

import json
import statistics
import sys

FULL = 100_000  # the size the absolute targets are set for


def main() -> None:
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    one = {r["kind"]: r for r in records if r["kind"] != "wrk"}
    rounds: dict[str, list[dict]] = {}
    for r in records:
        if r["kind"] == "wrk" and r["round"] > 0:
            rounds.setdefault(r["name"], []).append(r)
    wrk = {name: median_round(measured) for name, measured in rounds.items()}
    run = one["run"]
    print("\n".join(render(run, wrk, one)))


def rate(w: dict) -> float:
    return w["requests"] / (w["duration_us"] / 1e6)


def median_round(measured: list[dict]) -> dict:
    """The round of median rate (its latencies too), with the errors of all rounds, the largest
    RSS and every round's rate."""
    ordered = sorted(measured, key=rate)
    summary = dict(ordered[(len(ordered) - 1) // 2])
    summary["errors"] = sum(r["errors"] for r in measured)
    summary["non2xx"] = sum(r["non2xx"] for r in measured)
    summary["rss_kb"] = max(r["rss_kb"] for r in measured)
    summary["rates"] = [rate(r) for r in measured]
    return summary


def per_round(a: dict, b: dict) -> float:
    """The median over rounds of a's rate over b's in the same round: drift of a shared machine
    between rounds weighs on both sides of each ratio alike."""
    return statistics.median(x / y for x, y in zip(a["rates"], b["rates"]))


def rates(w: dict) -> str:
    return " ".join(f"{r:,.0f}" for r in w["rates"])


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def errors(w: dict) -> str:
    if not w["errors"] and not w["non2xx"]:
        return "0"
    parts = []
    if w["errors"]:
        parts.append(f"{w['errors']} socket")
    if w["non2xx"]:
        parts.append(f"{w['non2xx']} non-2xx or misses")
    return ", ".join(parts)


def at_least(measured: float, target: float, unit: str = "") -> str:
    if measured >= target:
        return f"met ({measured:.2f}{unit} ≥ {target:.2f}{unit})"
    return (f"**missed** by {target - measured:.2f}{unit} ({measured:.2f}{unit} is "
            f"{measured / target:.0%} of {target:.2f}{unit})")


def at_most(measured: float, target: float, unit: str = "", full_size: bool = True) -> str:
    if not full_size:
        return f"not judged: the target is for {FULL:,} members"
    if measured <= target:
        return f"met ({measured:.2f}{unit} ≤ {target:g}{unit})"
    return (f"**missed** by {measured - target:.2f}{unit} ({measured:.2f}{unit}, "
            f"{measured / target:.2f}× the target)")


def render(run: dict, wrk: dict, one: dict) -> list[str]:
    members = run["members"]
    full_size = members >= FULL
    ceiling = rate(wrk["version"])
    ratio = {name: per_round(w, wrk["version"]) for name, w in wrk.items()}
    imported, db = one["import"], one["db"]
    out = [
        f"# Benchmark: a full sync at {members:,} members (issue #16)",
        "",
        f"`{run['command']}` at commit {run['commit']}, {run['date']}: {run['nproc']} cores "
        f"({run['cpu']}), {run['memory_gib']} GiB; {run['version']}; wrk {run['wrk']} with "
        f"{run['threads']} threads × {run['connections']} connections on the same machine over "
        f"loopback, {run['seconds']} s per workload, {run['rounds']} round(s) of every workload in "
        f"turn; each row shows the round of median rate. The server is the release binary, "
        f"`serve --log-level {run['log_level']}`"
        f"{' (no line per request)' if run['log_level'] in ('warn', 'error') else ''} with the default "
        f"`--sync normal`, on a fresh data directory. Load average (1, 5, 15 min) before the "
        f"run: {run['load_before']}; after it: {one['end']['load_after']} (the machine is shared: "
        f"other work on it lowers every rate, the ceiling's too).",
        "",
        "A measurement, never a pass/fail test. The ratios to `GET /version` (no database work, "
        "measured in each round: the median over rounds of each round's ratio) are what compares "
        "across machines; the absolute rates depend on the machine and on what else runs on it. "
        "The raw measurements are in `bench/results.jsonl` (`python3 bench/report.py "
        "bench/results.jsonl` renders this page again).",
        "",
        f"Seeded with `scim-appliance import` from a generated CSV: {members:,} members, each in "
        f"one of {run['departments']} department groups, {run['big']:,} of them also in one big "
        f"group and {run['small']} in a small one; a second organization of "
        f"{run['small_org']:,} members for the filter at 1,000. The import of the {members:,} "
        f"members and {imported['groups']} groups took **{imported['seconds']:.1f} s** with a "
        f"peak RSS of **{mb(imported['peak_rss_kb'])}**. The database then held "
        f"**{db['bytes'] / members:,.0f} bytes per member** ({db['bytes'] / 1048576:.0f} MB "
        f"with the WAL, events included).",
        "",
        "## Throughput",
        "",
        "| # | workload | requests/s | ÷ `/version` | p50 ms | p99 ms | errors | server RSS mid-run (largest) | rounds (requests/s) |",
        "|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    rows = [
        ("0", "version", "`GET /version` (the ceiling)"),
        ("1", "read", "`GET /Users/{id}`, a random member"),
        ("2", "filter-small", f"`GET /Users?filter=userName eq \"…\"` at {run['small_org']:,} members"),
        ("2", "filter", f"`GET /Users?filter=userName eq \"…\"` at {members:,} members"),
        ("3", "create", "`POST /Users`, unique members"),
        ("4", "active", "`PATCH /Users/{id}` replace `active` false/true"),
        ("5", "member-big", f"`PATCH /Groups/{{id}}` add or remove one member, {run['big']:,}-member group"),
        ("5", "member-small", f"`PATCH /Groups/{{id}}` add or remove one member, {run['small']}-member group"),
        ("7", "entra", "Entra cycle: `userName eq` lookup + `PATCH` per member (2 requests)"),
    ]
    for number, name, label in rows:
        w = wrk[name]
        out.append(
            f"| {number} | {label} | {rate(w):,.0f} | {ratio[name]:.2f} | {w['p50_us'] / 1000:.2f} | "
            f"{w['p99_us'] / 1000:.2f} | {errors(w)} | {mb(w['rss_kb'])} | {rates(w)} |"
        )
    entra_members = rate(wrk["entra"]) / 2
    out += [
        "",
        f"The Entra cycle handles **{entra_members:,.0f} members/s**: a cycle over {members:,} "
        f"members takes {members / entra_members:.0f} s at that rate. Errors are socket errors "
        "and answers that were not 2xx (over all rounds); for the lookups, also answers without "
        "exactly one member. Each round's creates add members, so from the second round on the "
        f"filter at {members:,} runs on more (its lookups still pick among the first {members:,}).",
        "",
    ]

    paging = one["paging"]["result"]
    last_first = paging["last_page_alone_ms"] / paging["first_page_alone_ms"]
    out += [
        "## Full paged read (6)",
        "",
        f"`GET /Users?startIndex=…&count={paging['count']}` from 1 until `totalResults`, one "
        "keep-alive connection, as Okta and Google sync (`bench/page-all.py`, Python's "
        "`http.client`, parsing each page), once, before the rounds (so before any write); "
        "then the first and the last page alone, median of 5. Like the import, it runs once, so "
        "other work on the machine at that moment weighs on it fully.",
        "",
        "| members | pages | total | first page | last page | median page | first page alone | last page alone | last ÷ first |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {paging['members']:,} | {paging['pages']:,} | **{paging['seconds']:.1f} s** | "
        f"{paging['first_page_ms']:.1f} ms | {paging['last_page_ms']:.1f} ms | "
        f"{paging['median_page_ms']:.1f} ms | {paging['first_page_alone_ms']:.1f} ms | "
        f"{paging['last_page_alone_ms']:.1f} ms | **{last_first:.2f}** |",
        "",
        f"The pages held {paging['distinct_members']:,} distinct members; `totalResults` "
        f"read: {', '.join(f'{t:,}' for t in paging['totals_seen'])}.",
        "",
    ]

    cold = one["cold_start"]["ms"]
    rss = one["rss"]
    busiest = max(wrk[name]["rss_kb"] for _, name, _ in rows)
    out += [
        "## Cold start (8) and memory (9)",
        "",
        f"- Cold start, from exec to the first 200 from `/alive` on the seeded database: median "
        f"**{statistics.median(cold):.1f} ms** (runs: {', '.join(f'{t:.1f}' for t in cold)}).",
        f"- Server RSS: idle after start **{mb(rss['idle_kb'])}**; mid-run, at most "
        f"**{mb(busiest)}**; after all the workloads {mb(rss['after_kb'])}; peak (`VmHWM`, the "
        f"paged read included) **{mb(rss['peak_kb'])}**.",
        f"- Database: {db['bytes'] / members:,.0f} bytes per member.",
        "",
    ]

    reference = one["reference"]
    factors = {}
    out += ["## Against scim2-server (10)", ""]
    if "error" in reference:
        out += [f"Not measured: {reference['error']}.", ""]
    else:
        out += [
            f"The Python reference server: {reference['packages']}, its ASGI application over "
            f"its in-memory storage under uvicorn (one process: the storage lives in its memory), "
            f"one static bearer token (`bench/scim2_reference.py`); the same wrk scripts, client "
            f"and machine, each of its workloads right after scim-appliance's (the other server "
            f"idle). It held {reference['members']:,} members "
            f"(each created through its POST handler, {reference['seed_seconds']:.0f} s to seed); "
            f"scim-appliance's filter is measured at {members:,}.",
            "",
            "| workload | scim-appliance requests/s | scim2-server requests/s | scim2-server p50 / p99 ms | errors | factor (median of rounds) | target | scim2-server rounds |",
            "|---|---:|---:|---:|---|---:|---|---|",
        ]
        for name, label, target in (
            ("read", "`GET /Users/{id}`", 15),
            ("filter", "`userName eq` filter", 15),
            ("create", "`POST /Users`", 5),
        ):
            theirs = wrk[f"ref-{name}"]
            factor = per_round(wrk[name], theirs)
            factors[name] = (factor, target)
            out.append(
                f"| {label} | {rate(wrk[name]):,.0f} | {rate(theirs):,.0f} | "
                f"{theirs['p50_us'] / 1000:.2f} / {theirs['p99_us'] / 1000:.2f} | {errors(theirs)} | "
                f"**{factor:.1f}×** | ≥ {target}× | {rates(theirs)} |"
            )
        out += ["", f"scim2-server's RSS mid-run: at most {mb(max(wrk[f'ref-{n}']['rss_kb'] for n in factors))}.", ""]

    big_small = per_round(wrk["member-small"], wrk["member-big"])
    filter_drop = per_round(wrk["filter-small"], wrk["filter"])
    targets = [
        ("`GET /Users/{id}` ≥ 0.40 of `/version`", f"{ratio['read']:.2f}", at_least(ratio["read"], 0.40)),
        (f"`userName eq` at {members:,} ≥ 0.35 of `/version`", f"{ratio['filter']:.2f}",
         at_least(ratio["filter"], 0.35)),
        (f"`userName eq` at {members:,} within 1.2× of its rate at {run['small_org']:,}",
         f"{filter_drop:.2f}×", at_most(filter_drop, 1.2, "×")),
        ("`POST /Users` ≥ 0.10 of `/version` (`synchronous=NORMAL`)", f"{ratio['create']:.2f}",
         at_least(ratio["create"], 0.10)),
        (f"full paged read of {FULL:,} with `count=100` ≤ 10 s", f"{paging['seconds']:.1f} s",
         at_most(paging["seconds"], 10, " s", full_size)),
        ("last page ≤ 1.5× the first", f"{last_first:.2f}×", at_most(last_first, 1.5, "×")),
        (f"member add/remove at {run['big']:,} within 1.5× the cost at {run['small']}",
         f"{big_small:.2f}×", at_most(big_small, 1.5, "×")),
        (f"import of {FULL:,} ≤ 10 s", f"{imported['seconds']:.1f} s",
         at_most(imported["seconds"], 10, " s", full_size)),
        (f"import of {FULL:,}: peak RSS ≤ 120 MB", mb(imported["peak_rss_kb"]),
         at_most(imported["peak_rss_kb"] / 1024, 120, " MB", full_size)),
        ("cold start to `/alive` ≤ 100 ms", f"{statistics.median(cold):.1f} ms",
         at_most(statistics.median(cold), 100, " ms")),
        ("idle RSS ≤ 15 MB", mb(rss["idle_kb"]), at_most(rss["idle_kb"] / 1024, 15, " MB")),
        (f"RSS under load at {FULL:,} ≤ 150 MB", f"{mb(rss['peak_kb'])} (peak)",
         at_most(rss["peak_kb"] / 1024, 150, " MB", full_size)),
    ]
    for name, (factor, target) in factors.items():
        targets.append((f"{name} against scim2-server ≥ {target}×", f"{factor:.1f}×", at_least(factor, target, "×")))
    if not factors:
        targets.append(("against scim2-server: ≥ 15× reads and filters, ≥ 5× creates", "—", "not measured"))
    out += [
        "## The targets of issue #16",
        "",
        "Every ratio is the median over rounds of the ratio within each round; cost ratios are "
        "inverse rates (for member add/remove, the 10-member group's rate over the big group's).",
        "",
        "| target | measured | |",
        "|---|---:|---|",
    ]
    out += [f"| {name} | {measured} | {verdict} |" for name, measured, verdict in targets]
    return out


if __name__ == "__main__":
    main()
