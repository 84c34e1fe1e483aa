"""Benchmark of the Elasticsearch path on a real Lucene engine: one OpenSearch 2.19 node
(engines/opensearch, `make opensearch`) vs the embedded SQLite FTS5 engine, in the same run.

For N generated reports (default 100,000), three runs, each printing median and spread:
1. Faceted search: the 20 queries of bench/search.py, five facets (field, region, status, type,
   month), p50/p95 on both engines; caches off (the embedded engine's result cache, OpenSearch's
   shard request cache).
2. Rebuild with alias swap: time of a rebuild of all N documents on both engines; on OpenSearch,
   searches run without pause during it and must all answer with every document (the old index
   until the swap, the new one after).
3. Indexer throughput: `flask index drain` of N outbox entries (public and staff indices) into
   OpenSearch vs a raw `helpers.bulk` of the same documents into fresh indices of the same node.
Also: the machine (CPU, cores, load before/after) and the node's JVM heap.

Usage: .venv/bin/python bench/opensearch.py [--reports 100000] [--runs 3] [--heap 1g]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from common import QUERIES, ROOT, documents, machine, percentile, spread

from indexer.elastic import ElasticsearchEngine
from indexer.query import SearchQuery
from indexer.sqlite_fts import SqliteEngine
from tests.opensearch_node import OpenSearchCluster, unavailable_reason


def heap(url: str) -> str:
    from elasticsearch import Elasticsearch

    from indexer.elastic import PlainJsonNode

    client = Elasticsearch(url, node_class=PlainJsonNode)
    nodes = client.nodes.stats(metric="jvm")["nodes"]
    mem = next(iter(nodes.values()))["jvm"]["mem"]
    return (f"{mem['heap_used_in_bytes'] / 2**20:.0f} MiB used of {mem['heap_max_in_bytes'] / 2**20:.0f} MiB "
            f"({mem['heap_used_percent']} %)")


def no_request_cache(engine: ElasticsearchEngine) -> None:
    engine.client.indices.put_settings(index=engine.alias, settings={"index": {"requests.cache.enable": False}})


def timed_searches(engine: Any) -> list[float]:
    out = []
    for q in QUERIES:
        t0 = time.perf_counter()
        engine.search(SearchQuery(q=q))
        out.append((time.perf_counter() - t0) * 1000)
    return out


def rebuild_while_searching(engine: ElasticsearchEngine, n: int) -> tuple[float, int, list[str], set[int]]:
    """Rebuild, searching all the while: (seconds, searches answered, errors, totals seen)."""
    stop = threading.Event()
    answered, errors, totals = [0], [], set()

    def search() -> None:
        while not stop.is_set():
            try:
                totals.add(engine.search(SearchQuery(q="", facets=False)).total)
                answered[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a finding here
                errors.append(repr(exc)[:200])
            time.sleep(0.05)

    thread = threading.Thread(target=search)
    thread.start()
    t0 = time.perf_counter()
    engine.rebuild(documents(n))
    seconds = time.perf_counter() - t0
    time.sleep(0.5)  # a few searches on the new index too
    stop.set()
    thread.join()
    return seconds, answered[0], errors, totals


def drain_vs_raw(url: str, instance: Path, n: int) -> tuple[float, float, int]:
    """(seconds of `flask index drain`, seconds of raw helpers.bulk of the same documents, docs)."""
    from elasticsearch import helpers

    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAKN_")}
    env.update(PAKN_INSTANCE_PATH=str(instance), PAKN_SECRET_KEY="bench", PAKN_INDEXER_INLINE="false",
               PAKN_SEARCH_ENGINE="elasticsearch", PAKN_ELASTICSEARCH_URL=url,
               PAKN_ELASTICSEARCH_PLAIN_JSON="true", PAKN_ELASTICSEARCH_INDEX_PREFIX=prefix)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "index", "drain"],  # noqa: S603
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    drain_s = time.perf_counter() - t0
    raw_s, written = 0.0, 0
    for scope in ("", "-staff"):
        indexed = ElasticsearchEngine(url, prefix=prefix + scope, plain_json=True)
        docs = [hit["_source"] for hit in helpers.scan(indexed.client, index=indexed.alias, size=2000)]
        if len(docs) != n:
            sys.exit(f"the drain indexed {len(docs)} documents into {indexed.alias}, not {n}")
        raw = ElasticsearchEngine(url, prefix=f"{prefix}-raw{scope}", plain_json=True)
        raw.ensure_index()
        t0 = time.perf_counter()
        helpers.bulk(raw.client, ({"_index": raw.alias, "_id": str(d["id"]), "_source": d} for d in docs),
                     chunk_size=500)
        raw.client.indices.refresh(index=raw.alias)
        raw_s += time.perf_counter() - t0
        written += len(docs)
        indexed.drop()
        raw.drop()
    return drain_s, raw_s, written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--heap", default="1g")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        sys.exit(reason)
    n = args.reports
    work = Path(tempfile.mkdtemp(prefix="pakn-bench-opensearch-"))
    print(f"machine: {machine()}")
    print(f"reports: {n:,}, runs: {args.runs}, OpenSearch 2.19 single node, heap {args.heap}")
    sys.stdout.flush()

    from index import make_instance  # bench/index.py: a migrated instance with N reports and outbox

    pristine = work / "pristine"
    make_instance(pristine, n, with_outbox=True)

    results: dict[str, list[float]] = {k: [] for k in (
        "os_p50", "os_p95", "fts_p50", "fts_p95", "os_rebuild", "fts_rebuild", "drain", "raw", "ratio")}
    rebuild_notes = []
    with OpenSearchCluster(nodes=1, heap=args.heap, timeout=300) as cluster:
        es = ElasticsearchEngine(cluster.url, prefix="bench", plain_json=True, timeout=60)
        es.rebuild(documents(n))
        no_request_cache(es)
        fts = SqliteEngine(work / "search.sqlite3", cache_size=0)
        fts.rebuild(documents(n))
        for q in QUERIES:  # warm both (file cache, JIT) before anything is timed
            es.search(SearchQuery(q=q))
            fts.search(SearchQuery(q=q))
        for run in range(args.runs):
            seconds, answered, errors, totals = rebuild_while_searching(es, n)
            no_request_cache(es)
            results["os_rebuild"].append(seconds)
            rebuild_notes.append(f"run {run + 1}: {answered} searches during the rebuild, "
                                 f"{len(errors)} errors, totals seen {sorted(totals)}"
                                 + (f", first error {errors[0]}" if errors else ""))
            t0 = time.perf_counter()
            fts.rebuild(documents(n))
            results["fts_rebuild"].append(time.perf_counter() - t0)

            os_ms, fts_ms = [], []
            for _ in range(3):
                os_ms += timed_searches(es)
                fts_ms += timed_searches(fts)
            results["os_p50"].append(percentile(os_ms, 50))
            results["os_p95"].append(percentile(os_ms, 95))
            results["fts_p50"].append(percentile(fts_ms, 50))
            results["fts_p95"].append(percentile(fts_ms, 95))

            instance = work / f"run-{run}"
            shutil.copytree(pristine, instance)
            drain_s, raw_s, written = drain_vs_raw(cluster.url, instance, n)
            results["drain"].append(drain_s)
            results["raw"].append(raw_s)
            results["ratio"].append(drain_s / raw_s)
            shutil.rmtree(instance)
            print(f"  run {run + 1} done: search p50 {results['os_p50'][-1]:.1f} ms (OpenSearch) / "
                  f"{results['fts_p50'][-1]:.1f} ms (FTS5), rebuild {seconds:.1f} s, drain {drain_s:.1f} s, "
                  f"raw bulk {raw_s:.1f} s")
            sys.stdout.flush()
        heap_used = heap(cluster.url)
        es.drop()

    r = results
    print(f"\nfaceted search, {len(QUERIES)} queries x 3 per run, five facets, caches off:")
    print(f"  OpenSearch p50 {spread(r['os_p50'], 'ms')}, p95 {spread(r['os_p95'], 'ms')}")
    print(f"  FTS5       p50 {spread(r['fts_p50'], 'ms')}, p95 {spread(r['fts_p95'], 'ms')}")
    print(f"  ratio p50: OpenSearch takes {statistics.median(r['os_p50']) / statistics.median(r['fts_p50']):.2f}x "
          f"the embedded engine's time; p95: {statistics.median(r['os_p95']) / statistics.median(r['fts_p95']):.2f}x")
    print(f"rebuild of {n:,} documents with alias swap:")
    print(f"  OpenSearch {spread(r['os_rebuild'], 's')}; FTS5 {spread(r['fts_rebuild'], 's')}")
    for note in rebuild_notes:
        print(f"  {note}")
    print(f"indexer (`flask index drain`, public and staff) vs raw helpers.bulk of the same {2 * n:,} documents:")
    print(f"  ratio: the indexer takes {spread(r['ratio'], 'x', 2)} the time of raw bulk")
    print(f"  drain {spread(r['drain'], 's')} ({2 * n / statistics.median(r['drain']):,.0f} docs/s); "
          f"raw bulk {spread(r['raw'], 's')} ({2 * n / statistics.median(r['raw']):,.0f} docs/s)")
    print(f"JVM heap after the run: {heap_used}")
    print(f"machine after: load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
