"""Benchmark: a CSV export as users get it (``/api/v1/reports.csv``), next to the engine's scan alone.

``bench/export.py`` times the engine's scan with a CSV writer of its own; this one times the
route: the same data as ``make load`` (bench/out/load-<reports>/, made once by bench/load.py), the
Flask test client in one process, the whole body read. The baseline in the same run is the
engine's ``scan`` of the same query with every document parsed and nothing written: what is left
is the public items (the one public shape of a report), the CSV cells and the streaming. Three
runs; the median and the spread.

    .venv/bin/python bench/export_route.py                 # 100,000 reports: "đường" and "xe tải"
    .venv/bin/python bench/export_route.py --q "ngập nước"
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import load_now, machine, spread  # noqa: E402 - bench/ is not a package
from load import prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--q", action="append", help="query text (repeatable)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    texts = args.q or ["đường", "xe tải"]

    data = prepare(args.reports)
    work = Path(tempfile.mkdtemp(prefix="pakn-export-"))
    instance = work / "instance"
    shutil.copytree(data, instance)
    os.environ.update({"PAKN_INSTANCE_PATH": str(instance), "PAKN_RATE_LIMITS": "false"})
    sys.path.insert(0, str(ROOT))
    from indexer.query import SearchQuery
    from webapp import create_app
    from webapp.search.engines import get_engine

    app = create_app()
    client = app.test_client()
    print(f"machine: {machine()}")
    print(f"{args.reports:,} reports (bench/out/load-{args.reports}), /api/v1/reports.csv in one process, "
          f"{args.runs} runs")
    client.get("/api/v1/reports.csv", query_string={"q": "xe tải"}).get_data()  # warm the process
    for q in texts:
        route, scan = [], []
        rows = 0
        for _run in range(args.runs):
            started = time.perf_counter()
            response = client.get("/api/v1/reports.csv", query_string={"q": q})
            body = response.get_data()
            route.append(time.perf_counter() - started)
            rows = int(response.headers["X-Total-Count"])
            with app.test_request_context():
                started = time.perf_counter()
                scanned = sum(1 for _doc in get_engine().scan(SearchQuery(q=q)))
                scan.append(time.perf_counter() - started)
            if scanned != rows:
                raise SystemExit(f"{q!r}: the file says {rows} rows, the scan gave {scanned}")
        ratio = statistics.median(route) / statistics.median(scan)
        print(f"  {q!r}: {rows:,} rows, {len(body) / 1e6:.1f} MB; route {spread([r * 1000 for r in route], 'ms')}, "
              f"scan alone {spread([s * 1000 for s in scan], 'ms')}; route / scan {ratio:.2f}x, "
              f"{rows / statistics.median(route):,.0f} rows/s")
    print(f"machine after: load {load_now()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
