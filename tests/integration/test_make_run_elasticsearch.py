"""`make run` with the Elasticsearch engine, from a fresh instance, with the 3,000 demo reports.

The README's first command, exactly as a developer types it, with
``PAKN_SEARCH_ENGINE=elasticsearch PAKN_ELASTICSEARCH_URL=<an OpenSearch 2.19 node>``: migrate,
``flask seed-demo`` (whose commits the background indexer drains while it seeds), ``flask index
sync``, serve. It failed in ``flask seed-demo`` with "database is locked": the drain held SQLite's
write lock across the engine's bulk calls. Bounded: at most ten minutes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from tests.conftest import opensearch_url

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a loopback URL of the test
        assert response.status == 200
        return json.load(response)


def test_make_run_with_elasticsearch_from_a_fresh_instance_with_the_demo_reports(tmp_path):
    url = opensearch_url()
    prefix = f"pakn-makerun-{uuid.uuid4().hex[:8]}"
    port = free_port()
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAKN_")}
    env.update(PAKN_INSTANCE_PATH=str(instance), PAKN_SEARCH_ENGINE="elasticsearch",
               PAKN_ELASTICSEARCH_URL=url, PAKN_ELASTICSEARCH_PLAIN_JSON="true",
               PAKN_ELASTICSEARCH_INDEX_PREFIX=prefix, PAKN_PORT=str(port))
    log_path = tmp_path / "make-run.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w", encoding="utf-8") as log:
        # This test's own virtualenv (already installed, so make installs nothing).
        make = subprocess.Popen(["make", "run", f"VENV={sys.prefix}"], cwd=ROOT, env=env,  # noqa: S607
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            end = time.monotonic() + DEADLINE
            answer = None
            while answer is None:
                assert make.poll() is None, f"make run exited ({make.returncode}):\n{log_path.read_text()[-3000:]}"
                assert time.monotonic() < end, f"make run did not serve in {DEADLINE:.0f} s:\n{log_path.read_text()[-3000:]}"
                try:
                    answer = get_json(f"{base}/api/v1/reports?per_page=5")
                except OSError:
                    time.sleep(1)

            db = sqlite3.connect(f"file:{instance / 'pakn.sqlite3'}?mode=ro", uri=True)
            try:
                reports = db.execute("SELECT count(*) FROM reports").fetchone()[0]
                published = db.execute("SELECT count(*) FROM reports WHERE published").fetchone()[0]
                pending = db.execute("SELECT count(*) FROM outbox WHERE processed_at IS NULL").fetchone()[0]
            finally:
                db.close()
            assert reports == 3000  # the demo data, all of it
            assert 0 < published < reports
            assert pending == 0  # seeded, drained and synced before serving
            # Every public report is searchable, on the Elasticsearch engine.
            assert answer["total"] == published and len(answer["items"]) == 5
            assert {"field", "region", "status", "type", "month"} <= set(answer["facets"])
            found = get_json(f"{base}/api/v1/reports?q=ngap+nuoc")
            assert 0 < found["total"] < published
            with urllib.request.urlopen(f"{base}/tra-cuu?q=m%E1%BA%A5t+%C4%91i%E1%BB%87n", timeout=10) as page:  # noqa: S310
                assert page.status == 200 and "<mark>" in page.read().decode()
            from indexer.elastic import ElasticsearchEngine

            assert ElasticsearchEngine(url, prefix=prefix, plain_json=True).count() == published
            assert ElasticsearchEngine(url, prefix=prefix + "-staff", plain_json=True).count() == reports
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGTERM)
                make.wait(30)
            from indexer.elastic import ElasticsearchEngine

            for scope in ("", "-staff"):
                ElasticsearchEngine(url, prefix=prefix + scope, plain_json=True).drop()
    assert "database is locked" not in log_path.read_text()
