"""Benchmark: the embedded engine at 1,000,000 reports against itself at 100,000, in the same run.

Generated documents (``bench/common.py``) go straight into two index files by the engine's own
rebuild (100,000 and ``--reports``, default 1,000,000); the queries are those of ``bench/search.py``
(its 20 plus the judged set's texts), each with total, first page, highlights and the five facets,
result cache off, the default bound (``SearchQuery.total_bound``: 10,000). Three runs, each timing
every query once at both sizes, interleaved; the ratio 1,000,000 / 100,000 is computed inside each
run. For context it also times, in the same runs, the FTS5 floor (MATCH + bm25 + top 20, nothing
else, unbounded) at both sizes, and once the engine without its bound at the large size.

Memory per web worker: a fresh process (the search code imported, one engine, as a worker holds
it) runs every query on the large index; the bench prints its resident memory before and after and
its peak, how long its first search took (it reads the facet columns into memory, or from 200,000
reports counts in SQL while a thread of its own reads them) and when that read was done, against the
same search again. Takes about 8 minutes at 1,000,000 on the 2-core machine (most of it building the index).

Usage: cd bench && ../.venv/bin/python scale.py [--reports 1000000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUERIES, ROOT, documents, load_now, machine, percentile, spread
from search import Fts5Floor, judged_texts

from indexer.query import SearchQuery
from indexer.sqlite_fts import SqliteEngine

SMALL = 100_000

WORKER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
def rss(key="VmRSS"):  # VmHWM: the peak of this program (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024
from indexer.query import SearchQuery
from indexer.sqlite_fts import SqliteEngine
import time
engine = SqliteEngine(sys.argv[2], cache_size=0)
before = rss()
queries = json.loads(sys.argv[3])
times = []
t0 = time.perf_counter()
engine.search(SearchQuery(q=queries[0]))
times.append((time.perf_counter() - t0) * 1000)
engine._columns.wait()  # a large file's facet columns are read by a thread of their own
read = (time.perf_counter() - t0) * 1000
for q in queries:
    t0 = time.perf_counter()
    engine.search(SearchQuery(q=q))
    times.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"before": before, "after": rss(), "peak": rss("VmHWM"), "first": times[0], "read": read,
                  "again": times[1]}))
"""


def build(path: Path, n: int) -> None:
    start = time.perf_counter()
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        if done[0] % 100_000 == 0 or done[0] == n:
            print(f"\r  building {n:,}: {done[0]:,} ({100 * done[0] // n} %)", end="", flush=True)

    SqliteEngine(path).rebuild(documents(n), progress=progress)
    print(f"\r  index of {n:,} reports built in {time.perf_counter() - start:.0f} s ({path.stat().st_size / 2**20:,.0f} MiB)")


def timed(fn, q: str) -> float:
    t0 = time.perf_counter()
    fn(q)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="keep the index files in this folder and reuse them when present")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    queries = list(dict.fromkeys(QUERIES + judged_texts()))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pakn-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        paths = {n: work / f"search-{n}.sqlite3" for n in (SMALL, args.reports)}
        for n, path in paths.items():
            if not path.exists():
                build(path, n)
        run(args, queries, paths)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"machine after: load {load_now()}")


def run(args: argparse.Namespace, queries: list[str], paths: dict[int, Path]) -> None:
    engines = {n: SqliteEngine(p, cache_size=0) for n, p in paths.items()}
    floors = {n: Fts5Floor(p) for n, p in paths.items()}
    large = args.reports
    bounded_out = sum(1 for q in queries if not engines[large].search(SearchQuery(q=q)).total_exact)
    for engine in engines.values():  # the timed searches count in memory, not in SQL while it is read
        engine.search(SearchQuery(q=queries[0]))
        engine._columns.wait()
    print(f"  {len(queries)} queries; at {large:,} reports {bounded_out} of them match more than the bound "
          f"({SearchQuery().total_bound:,}) and are ranked within their newest {SearchQuery().total_bound:,} matches")
    stats: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.runs):
        times: dict[str, list[float]] = {}
        for q in queries:
            for n in paths:  # the floor and the engine take turns going first (cold pages)
                runs = [(f"engine {n}", lambda q, n=n: engines[n].search(SearchQuery(q=q))), (f"floor {n}", floors[n].search)]
                for name, fn in (runs if len(times.get(f"engine {n}", [])) % 2 else runs[::-1]):
                    times.setdefault(name, []).append(timed(fn, q))
        for name, values in times.items():
            for p in (50, 95):
                stats.setdefault(name, {}).setdefault(f"p{p}", []).append(percentile(values, p))
    unbounded = [timed(lambda q: engines[large].search(SearchQuery(q=q, total_bound=None)), q) for q in queries]

    print(f"search, {len(queries)} queries x {args.runs} runs, five facets, highlights, cache off; "
          "median of the runs (each run's value):")
    for name in stats:
        label = ("embedded engine" if name.startswith("engine") else "FTS5 floor (unbounded)") + f", {int(name.split()[1]):,} reports"
        print(f"  {label:<42} p50 {spread(stats[name]['p50'], 'ms')}   p95 {spread(stats[name]['p95'], 'ms')}")
    print(f"  {'embedded engine without its bound, ' + format(large, ',') + ' (one run)':<42} "
          f"p50 {percentile(unbounded, 50):.1f} ms   p95 {percentile(unbounded, 95):.1f} ms")
    for kind in ("engine", "floor"):
        for p in ("p50", "p95"):
            ratios = [a / b for a, b in zip(stats[f"{kind} {large}"][p], stats[f"{kind} {SMALL}"][p], strict=True)]
            print(f"  {kind} {p} at {large:,} / at {SMALL:,}: {spread(ratios, 'x', 2)}")

    # Memory of a web worker's search engine: a fresh process per index size.
    for n, path in paths.items():
        out = subprocess.run([sys.executable, "-c", WORKER, str(ROOT), str(path), json.dumps(queries)],
                             capture_output=True, text=True, check=True)
        mem = json.loads(out.stdout)
        print(f"memory of one process searching {n:,} reports (the search code only): {mem['before']:.0f} MiB "
              f"resident before, {mem['after']:.0f} MiB after the {len(queries)} queries, peak {mem['peak']:.0f} MiB; "
              f"its first search {mem['first']:.0f} ms (counted in SQL if a thread of its own reads the facet "
              f"columns whole: read {mem['read']:.0f} ms after the first search began), the same again "
              f"{mem['again']:.0f} ms")
    print(f"  (median engine p95 at {large:,}: {statistics.median(stats[f'engine {large}']['p95']):.1f} ms)")


if __name__ == "__main__":
    main()
