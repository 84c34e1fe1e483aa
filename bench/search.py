"""Benchmark: faceted keyword search in the embedded engine vs a plain SQL LIKE scan, same run.

Generates N reports (default 100,000), indexes them in the SQLite FTS5 engine, and loads the same
rows (with a folded text column, so LIKE finds what the engine finds) into a plain SQLite table.
Runs the same keyword queries with the same facet counts (field, status, month) on both and prints
p50/p95 and the ratio. Usage: .venv/bin/python bench/search.py [--reports 100000]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from common import QUERIES, documents, percentile

from indexer.query import SearchQuery, analyze
from indexer.sqlite_fts import SqliteEngine
from indexer.text import fold


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pakn-bench-search-"))

    engine = SqliteEngine(work / "search.sqlite3", cache_size=0)  # measure searches, not the cache
    start = time.perf_counter()
    engine.rebuild(documents(args.reports))
    index_s = time.perf_counter() - start

    plain = sqlite3.connect(work / "plain.sqlite3")
    plain.execute("CREATE TABLE reports(id INTEGER PRIMARY KEY, text_folded TEXT, field TEXT, status TEXT,"
                  " month TEXT, submitted_at TEXT, title TEXT)")
    plain.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?)", (
        (d["id"], fold(" ".join([d["title"], d["content"], d["address"], d["sender_name"]])),
         d["field"], d["status"], d["month"], d["submitted_at"], d["title"]) for d in documents(args.reports)))
    plain.commit()

    def like_search(q: str) -> int:
        words = [t.folded[0] for t in analyze(q)]
        where = " AND ".join("text_folded LIKE ?" for _ in words)
        params = [f"%{w}%" for w in words]
        total = plain.execute(f"SELECT count(*) FROM reports WHERE {where}", params).fetchone()[0]
        plain.execute(f"SELECT id, title FROM reports WHERE {where} ORDER BY submitted_at DESC LIMIT 20", params).fetchall()
        for column in ("field", "status", "month"):
            plain.execute(f"SELECT {column}, count(*) FROM reports WHERE {where} GROUP BY {column}", params).fetchall()
        return total

    engine_ms: list[float] = []
    like_ms: list[float] = []
    for _ in range(args.rounds):
        for q in QUERIES:
            t0 = time.perf_counter()
            engine.search(SearchQuery(q=q))
            engine_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            like_search(q)
            like_ms.append((time.perf_counter() - t0) * 1000)

    e50, e95 = percentile(engine_ms, 50), percentile(engine_ms, 95)
    l50, l95 = percentile(like_ms, 50), percentile(like_ms, 95)
    print(f"search (embedded FTS5) vs SQL LIKE scan, {args.reports:,} reports, {len(engine_ms)} faceted queries:")
    print(f"  ratio p50: {l50 / e50:.1f}x faster than LIKE   ratio p95: {l95 / e95:.1f}x faster than LIKE")
    print(f"  engine: p50 {e50:.1f} ms, p95 {e95:.1f} ms   (index built in {index_s:.1f} s)")
    print(f"  LIKE:   p50 {l50:.1f} ms, p95 {l95:.1f} ms")


if __name__ == "__main__":
    main()
