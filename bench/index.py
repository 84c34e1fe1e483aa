"""Benchmark: indexer throughput vs raw bulk into the same engine, and rebuild memory vs size.

1. N reports (default 20,000) in a SQLite database with their outbox entries. The indexer
   (`drain_outbox`: load rows, build the public and staff documents, versioned bulk upserts into
   both indices, mark entries done) is timed against raw `bulk_upsert`s of the same, already built
   documents into fresh indices of the same engine. Prints the ratio.
2. Peak memory (max RSS) of `flask index rebuild` on databases of 10,000 and 100,000 reports, each
   in its own process. It must not grow with N (documents are streamed in id-ordered batches).

Usage: .venv/bin/python bench/index.py [--reports 20000] [--small 10000] [--large 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, documents

from indexer.sqlite_fts import SqliteEngine

FIELD_IDS = {"giao-thong": 1, "moi-truong": 2, "dat-dai": 3, "xay-dung-do-thi": 4, "dien": 5,
             "cap-thoat-nuoc": 6, "y-te": 7, "giao-duc": 8, "an-ninh-trat-tu": 9, "van-hoa-xa-hoi": 10,
             "hanh-chinh-cong": 11, "kinh-te": 12, "khac": 13}


def make_instance(path: Path, n: int, with_outbox: bool) -> None:
    """A migrated instance with ``n`` published reports, inserted in bulk (no ORM per row)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from webapp import create_app
    from webapp.extensions import db
    from webapp.reference.models import Ward
    from webapp.reports.models import Report
    from webapp.search.models import OutboxEntry

    app = create_app({"INSTANCE_PATH": str(path), "SECRET_KEY": "bench", "INDEXER_INLINE": False})
    with app.app_context():
        upgrade()
        wards = db.session.scalars(select(Ward.code).where(Ward.province_code == 80)).all()
        now = datetime.now(UTC)
        batch, outbox = [], []
        for d in documents(n):
            batch.append({
                "id": d["id"], "code": f"PA-{d['id']:08d}", "type": d["type"], "title": d["title"],
                "content": d["content"], "field_id": FIELD_IDS[d["field"]], "province_code": 80,
                "ward_code": wards[d["id"] % len(wards)], "address": d["address"], "sender_kind": "individual",
                "sender_name": d["sender_name"], "sender_phone": d["sender_phone"], "confidential": False,
                "status": d["status"], "published": True, "revision": 1,
                "submitted_at": datetime.fromisoformat(d["submitted_at"]), "created_at": now, "updated_at": now})
            outbox.append({"entity": "report", "entity_id": d["id"], "revision": 1, "op": "upsert",
                           "created_at": now, "attempts": 0})
            if len(batch) == 5000:
                db.session.execute(insert(Report), batch)
                if with_outbox:
                    db.session.execute(insert(OutboxEntry), outbox)
                batch, outbox = [], []
        if batch:
            db.session.execute(insert(Report), batch)
            if with_outbox:
                db.session.execute(insert(OutboxEntry), outbox)
        db.session.commit()


def throughput(n: int, work: Path) -> None:
    from webapp import create_app

    instance = work / "throughput"
    make_instance(instance, n, with_outbox=True)
    app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench", "INDEXER_INLINE": False})
    with app.app_context():
        from webapp.search.indexing import drain_outbox, public_documents

        # The indexer writes both indices (public and staff), so the baseline writes both too.
        engine = SqliteEngine(instance / "indexer.sqlite3", cache_size=0)
        staff = SqliteEngine(instance / "indexer-staff.sqlite3", cache_size=0)
        engine.ensure_index()
        staff.ensure_index()
        start = time.perf_counter()
        processed = drain_outbox(engine=engine, staff_engine=staff)
        indexer_s = time.perf_counter() - start
        built = {"public": list(public_documents()), "staff": list(public_documents(scope="staff"))}
    raw_s = 0.0
    for scope, docs in built.items():
        raw = SqliteEngine(instance / f"raw-{scope}.sqlite3", cache_size=0)
        raw.ensure_index()
        start = time.perf_counter()
        for i in range(0, len(docs), 500):
            raw.bulk_upsert(docs[i:i + 500])
        raw_s += time.perf_counter() - start
    written = sum(len(docs) for docs in built.values())
    print(f"indexer vs raw bulk into the same engine (SQLite FTS5), {n:,} reports, public and staff indices:")
    print(f"  ratio: the indexer takes {indexer_s / raw_s:.2f}x the time of raw bulk upserts")
    print(f"  indexer: {processed:,} outbox entries in {indexer_s:.1f} s ({processed / indexer_s:,.0f}/s)")
    print(f"  raw bulk: {written:,} documents (both indices) in {raw_s:.1f} s ({written / raw_s:,.0f}/s)")


def rebuild_memory(sizes: list[int], work: Path) -> None:
    results = []
    for n in sizes:
        instance = work / f"rebuild-{n}"
        make_instance(instance, n, with_outbox=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAKN_")}
        env.update(PAKN_INSTANCE_PATH=str(instance), PAKN_SECRET_KEY="bench", PAKN_INDEXER_INLINE="false")
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "index", "rebuild"],  # noqa: S603
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            sys.exit(f"rebuild of {n} reports failed (status {status})")
        results.append((n, usage.ru_maxrss / 1024, seconds))
    (small, small_mb, small_s), (large, large_mb, large_s) = results
    print(f"`flask index rebuild` peak memory, {small:,} vs {large:,} reports:")
    print(f"  ratio: {large_mb / small_mb:.2f}x the memory for {large / small:.0f}x the reports")
    print(f"  {small:,}: {small_mb:.0f} MB max RSS, {small_s:.1f} s;  {large:,}: {large_mb:.0f} MB max RSS, {large_s:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pakn-bench-index-"))
    throughput(args.reports, work)
    rebuild_memory([args.small, args.large], work)


if __name__ == "__main__":
    main()
