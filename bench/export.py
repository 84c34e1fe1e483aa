"""Export streaming: peak Python memory of a full export does not grow with the number of rows.

Builds embedded indexes of a small and a large number of generated reports, streams every
document of a match-all and of a keyword query through ``engine.scan`` into CSV text (as
``/api/v1/reports.csv`` does) and prints, for each, the ratio of peak traced memory (large vs small)
next to the ratio of rows, and the rows per second against reading the same rows straight from
the index's table (the same-run baseline).

    .venv/bin/python bench/export.py [--small 5000] [--large 50000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import documents

from indexer.query import SearchQuery
from indexer.sqlite_fts import SqliteEngine


def build(path: Path, n: int) -> SqliteEngine:
    engine = SqliteEngine(path)
    engine.rebuild(documents(n))
    return engine


def to_csv(docs) -> int:  # noqa: ANN001
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows = 0
    for doc in docs:
        writer.writerow([doc["code"], doc["title"], doc["content"], doc["status"], doc.get("ward"), doc["submitted_at"]])
        rows += 1
        if rows % 200 == 0:
            buffer.seek(0)
            buffer.truncate()
    return rows


def measure(fn) -> tuple[int, float, float]:  # noqa: ANN001
    tracemalloc.start()
    start = time.perf_counter()
    rows = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return rows, peak, seconds


def raw_rows(path: Path):  # noqa: ANN201
    conn = sqlite3.connect(path)
    try:
        for (raw,) in conn.execute("SELECT doc FROM docs ORDER BY submitted_ts DESC"):
            yield json.loads(raw)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=50_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pakn-bench-export-"))
    engines = {n: build(work / f"idx-{n}.sqlite3", n) for n in (args.small, args.large)}
    for label, query in (("every report", SearchQuery()), ("q='ngập nước'", SearchQuery(q="ngập nước"))):
        small = measure(lambda q=query: to_csv(engines[args.small].scan(q)))
        large = measure(lambda q=query: to_csv(engines[args.large].scan(q)))
        print(f"export of {label}: {small[0]:,} rows vs {large[0]:,} rows")
        print(f"  ratio: {large[1] / small[1]:.2f}x the peak memory for {large[0] / max(small[0], 1):.1f}x the rows")
        print(f"  peak traced memory {small[1]:.1f} MB vs {large[1]:.1f} MB; {large[0] / large[2]:,.0f} rows/s")
    rows, _peak, seconds = measure(lambda: to_csv(raw_rows(engines[args.large].path)))
    scan_rows, _p, scan_seconds = measure(lambda: to_csv(engines[args.large].scan(SearchQuery())))
    print(f"baseline: reading the index table directly, {rows:,} rows")
    print(f"  ratio: scan takes {scan_seconds / seconds:.2f}x the time of a raw table read "
          f"({scan_rows / scan_seconds:,.0f} vs {rows / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    sys.exit(main())
