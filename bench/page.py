"""Benchmark: Tra cứu pages over the load test's searches, in one process, without the load.

`make load` measures the portal under 50 users; this bench takes the load generator, the network
and the other users away and times what one search page costs: the same data (bench/out/
load-<reports>/, made once by bench/load.py), the same mix of searches (bench/locustfile.py's:
keywords with and without diacritics, some with a field or ward filter, some on page 2, some
filters only, picked with the same Zipf weights), the result cache off, each page rendered by the
Flask test client. It prints the pages' p50/p95, the engine's part of them (the baseline, measured
in the same requests: the rest is the route and the template), the ratio, and the slowest pages
with their parameters. Three runs of the same seeded sequence; the median of the runs.

    .venv/bin/python bench/page.py                      # 100,000 reports, 400 pages a run
    .venv/bin/python bench/page.py --reports 20000 --pages 200
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import load_now, machine, percentile, spread  # noqa: E402 - bench/ is not a package
from load import prepare, queries  # noqa: E402


def mix(instance: Path, seed: int, n: int) -> list[dict[str, str]]:
    """``n`` search parameters as bench/locustfile.py's users draw them."""
    with sqlite3.connect(instance / "pakn.sqlite3") as conn:
        fields = [r[0] for r in conn.execute("SELECT slug FROM fields ORDER BY position")]
        wards = [r[0] for r in conn.execute(
            "SELECT DISTINCT ward_code FROM reports WHERE ward_code IS NOT NULL ORDER BY ward_code")]
    texts = queries()
    weights = [1 / (i + 1) for i in range(len(texts))]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        roll, q = rng.random(), rng.choices(texts, weights)[0]
        if roll < 0.55:
            out.append({"q": q})
        elif roll < 0.75:
            out.append({"q": q, "field": rng.choice(fields)})
        elif roll < 0.85:
            out.append({"q": q, "page": "2"})
        elif roll < 0.93:
            out.append({"q": q, "region": str(rng.choice(wards))})
        else:
            out.append({"field": rng.choice(fields), "from": "2025-07-01", "to": "2026-06-30"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=400, help="search pages per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    data = prepare(args.reports)
    work = Path(tempfile.mkdtemp(prefix="pakn-page-"))
    instance = work / "instance"
    shutil.copytree(data, instance)
    os.environ.update({"PAKN_INSTANCE_PATH": str(instance), "PAKN_SEARCH_CACHE_SIZE": "0",
                       "PAKN_RATE_LIMITS": "false"})
    sys.path.insert(0, str(ROOT))
    from webapp import create_app
    from webapp.search import services

    app = create_app()
    engine_ms: list[float] = []
    run_search = services.run_search

    def timed(query):
        started = time.perf_counter()
        try:
            return run_search(query)
        finally:
            engine_ms.append((time.perf_counter() - started) * 1000)

    services.run_search = timed  # the engine's part of each page (the route calls it by module)
    client = app.test_client()
    pages = mix(instance, 1, args.pages)
    print(f"machine: {machine()}")
    print(f"{args.reports:,} reports (bench/out/load-{args.reports}), {args.pages} Tra cứu pages a run, "
          f"result cache off, {args.runs} runs")
    for params in pages[:20]:  # warm the process (imports, templates, the index file's pages)
        client.get("/tra-cuu", query_string=params)
    runs = []
    for _run in range(args.runs):
        page_ms, slow = [], []
        for params in pages:
            engine_ms.clear()
            started = time.perf_counter()
            response = client.get("/tra-cuu", query_string=params)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{params}: status {response.status_code}")
            page_ms.append(elapsed)
            slow.append((elapsed, sum(engine_ms), params))
        engine = [e for _p, e, _q in slow]
        runs.append({"p50": statistics.median(page_ms), "p95": percentile(page_ms, 95),
                     "engine p50": statistics.median(engine), "engine p95": percentile(engine, 95),
                     "rest p50": statistics.median(p - e for p, e, _q in slow),
                     "ratio p95": percentile(page_ms, 95) / percentile(engine, 95), "slow": slow})
    for key in ("p50", "p95", "engine p50", "engine p95", "rest p50"):
        print(f"  page {key:<11} {spread([r[key] for r in runs], 'ms')}")
    print(f"  page p95 / engine p95: {spread([r['ratio p95'] for r in runs], 'x', 2)}")
    last = runs[-1]["slow"]
    print("the slowest pages of the last run (page ms, engine ms, parameters):")
    for elapsed, engine, params in sorted(last, key=lambda row: -row[0])[:8]:
        print(f"  {elapsed:6.1f} {engine:6.1f}  {params}")
    print(f"machine after: load {load_now()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
