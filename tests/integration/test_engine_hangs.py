"""A search engine that hangs must not hold the database (issue: `make run` with Elasticsearch
failed with "database is locked" because the outbox drain kept its write transaction open through
the engine's bulk calls). 50 citizens send while the drain is stuck inside a call to a loopback
server that accepts connections and never answers: every send succeeds, nothing is lost, and the
backlog drains once a real engine answers on that address."""

from __future__ import annotations

import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.conftest import sms_codes
from tests.integration.test_faults import PrivateOsmem, api_report, free_port, pending_count, wait_for
from webapp.extensions import db
from webapp.reports.models import Report

CITIZENS = 50


class HangingServer:
    """Accepts TCP connections on a loopback port and never answers (a stuck engine)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.listener = socket.create_server(("127.0.0.1", port))
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.held.append(conn)  # read nothing, answer nothing

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.listener.close()


@pytest.fixture
def hanging_engine():
    server = HangingServer(free_port())
    yield server
    if not server.stopped.is_set():
        server.stop()


def log_in(app, client, phone: str, n: int) -> None:
    ip = {"REMOTE_ADDR": f"198.51.100.{n + 1}"}  # per-network code limits: one network each
    assert client.post("/dang-nhap", data={"phone": phone}, environ_base=ip).status_code == 302
    code = sms_codes(app, phone)[-1]
    assert client.post("/dang-nhap/ma", data={"code": code}, environ_base=ip).status_code == 302


def test_fifty_citizens_send_while_the_engine_hangs_and_the_backlog_drains_when_it_returns(
        fresh_app, hanging_engine):
    app = fresh_app(SEARCH_ENGINE="elasticsearch", ELASTICSEARCH_URL=hanging_engine.url,
                    ELASTICSEARCH_PLAIN_JSON=True, ELASTICSEARCH_INDEX_PREFIX=f"hang-{uuid.uuid4().hex[:8]}",
                    INDEXER_INLINE=True, INDEXER_SWEEP_SECONDS=1, JOBS_SYNC=True)
    clients = []
    for n in range(CITIZENS):
        client = app.test_client()
        log_in(app, client, f"09120{n:05d}", n)
        clients.append(client)

    # The first send starts a drain that gets stuck inside the engine's bulk call.
    first = clients[0].post("/api/v1/reports", json=api_report(0))
    assert first.status_code == 201, first.get_data(as_text=True)[:300]
    wait_for(lambda: hanging_engine.held, "the drain to call the hanging engine")

    def send(n: int) -> tuple[int, str]:
        response = clients[n].post("/api/v1/reports", json=api_report(n))
        return response.status_code, response.get_data(as_text=True)[:300]

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(send, range(1, CITIZENS)))
    assert [status for status, _body in answers] == [201] * (CITIZENS - 1), answers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == CITIZENS  # nothing lost
        assert pending_count() >= 1  # the backlog waits for the engine
        db.session.remove()

    # The engine comes back on the same address: the sweep drains the whole backlog.
    hanging_engine.stop()
    engine = PrivateOsmem()
    engine.port, engine.url = hanging_engine.port, hanging_engine.url
    engine.start()
    try:
        def drained() -> bool:
            with app.app_context():
                try:
                    return pending_count() == 0
                finally:
                    db.session.remove()

        wait_for(drained, "the backlog to drain", deadline=120)
        with app.app_context():
            from webapp.search.engines import get_engine

            staff = dict(get_engine("staff").revisions())
            assert staff == dict(db.session.execute(select(Report.id, Report.revision)).all())
            db.session.remove()
    finally:
        runner = app.extensions.get("pakn_indexer")
        if runner is not None:
            runner.stop()
        engine.stop()
