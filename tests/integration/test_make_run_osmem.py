"""The commands of `make run` with the Elasticsearch engine on osmem-server and 3,000 demo reports,
on the SQLite default (issue:
`flask seed-demo` died twice out of two with "database is locked", because the outbox drain of the
in-process indexer held the one write transaction through the engine's bulk calls). The same
commands `make run` runs, as separate processes, against a private osmem-server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.integration.test_faults import ROOT, PrivateOsmem, free_port, wait_for

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def osmem():
    server = PrivateOsmem()
    server.start()
    yield server
    server.stop()


def test_make_run_with_elasticsearch_and_3000_demo_reports(osmem, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAKN_")}
    port = free_port()
    env.update(PAKN_SEARCH_ENGINE="elasticsearch", PAKN_ELASTICSEARCH_URL=osmem.url,
               PAKN_ELASTICSEARCH_PLAIN_JSON="true", PAKN_ELASTICSEARCH_INDEX_PREFIX=f"run-{uuid.uuid4().hex[:8]}",
               PAKN_INSTANCE_PATH=str(tmp_path), PAKN_DEMO_REPORTS="3000", PAKN_PORT=str(port))
    run(env, "db", "upgrade")
    assert "3000" in run(env, "seed-demo", "--if-empty")
    run(env, "index", "sync")
    status = run(env, "index", "status")
    assert "chưa xử lý: 0" in status, status
    server = subprocess.Popen([*FLASK, "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        def answers() -> requests.Response | None:
            try:
                return requests.get(f"http://127.0.0.1:{port}/tra-cuu", params={"q": "ngap nuoc"}, timeout=5)
            except requests.ConnectionError:
                assert server.poll() is None, "flask serve exited"
                time.sleep(0.2)
                return None

        page = wait_for(answers, "the portal to answer")
        assert page.status_code == 200 and "kết quả" in page.text
    finally:
        server.terminate()
        server.wait(10)
