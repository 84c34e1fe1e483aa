"""Benchmark: `flask reports import` throughput against a raw bulk INSERT baseline, same run.

Generates N demo-like lines, imports them through the importer (validation, place resolution,
revision + outbox rows, answers, timeline), and compares with inserting the same number of bare
report rows with one executemany into the same kind of database. Prints the ratio first, the
absolute figures as context.

    .venv/bin/python bench/import_speed.py [--lines 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=3000)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import insert

    from webapp import create_app
    from webapp.extensions import db
    from webapp.reports.models import Report
    from webapp.reports.transfer import import_file

    work = Path(tempfile.mkdtemp(prefix="pakn-bench-"))
    records = [{
        "external_id": f"bench-{i}", "type": "pakn", "title": f"Đường ngập nước số {i}",
        "content": "Đoạn đường trước chợ ngập sâu sau mưa, đề nghị nạo vét cống.",
        "field": "cap-thoat-nuoc", "ward": "Phường Trảng Bàng", "address": f"Số {i} Hùng Vương",
        "submitted_at": "2024-05-01T08:30:00+07:00",
        "sender": {"kind": "individual", "name": "Nguyễn Văn A", "phone": "0912345678"},
        "status": "answered", "published": True,
        "answer": {"unit": "UBND phường Trảng Bàng", "text": "Đã xử lý.",
                   "answered_at": "2024-05-03T08:30:00+07:00"},
    } for i in range(args.lines)]
    source = work / "bench.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")

    def fresh(name: str):
        app = create_app({"INSTANCE_PATH": str(work / name), "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade()
        return app

    app = fresh("importer")
    with app.app_context():
        start = time.perf_counter()
        result = import_file(source)
        importer_s = time.perf_counter() - start
        if result.created != args.lines:
            sys.exit(f"import failed: {result.errors[:3]}")

    app = fresh("baseline")
    with app.app_context():
        rows = [{"code": f"PA-{i:04d}-BNCH"[:12], "type": "pakn", "title": r["title"],
                 "content": r["content"], "field_id": 6, "province_code": 80, "ward_code": 25708,
                 "address": r["address"], "sender_name": "Nguyễn Văn A", "sender_phone": "0912345678",
                 "status": "answered", "published": True, "revision": 1, "sender_kind": "individual",
                 "confidential": False}
                for i, r in enumerate(records)]
        start = time.perf_counter()
        db.session.execute(insert(Report.__table__), rows)
        db.session.commit()
        baseline_s = time.perf_counter() - start

    print(f"import vs raw bulk insert: {importer_s / baseline_s:.1f}x the baseline's time")
    print(f"  importer: {args.lines} lines in {importer_s:.2f} s ({args.lines / importer_s:.0f} lines/s)")
    print(f"  baseline: {args.lines} bare rows in {baseline_s:.3f} s ({args.lines / baseline_s:.0f} rows/s)")


if __name__ == "__main__":
    main()
