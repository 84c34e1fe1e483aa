"""A three-node OpenSearch cluster loses a node while citizens send reports: nothing is lost.

The app runs as deployed without Redis (the indexer drains the outbox in a background thread after
each commit) against a cluster of three OpenSearch 2.19 nodes (engines/opensearch), both indices
with one replica. While 500 reports are sent through the API, a node holding a copy of the public
index is stopped: every send succeeds, the public search keeps answering with every document
(cluster yellow), ``flask index status`` says what happened, and once the node is back
``flask index reconcile`` finds nothing to repair. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import build_app, migrate, require_opensearch, sms_codes
from webapp.extensions import db
from webapp.reports.models import Report
from webapp.search.models import OutboxEntry

PHONE = "0912345678"
SENDS = 500
STOP_AT = 150  # the node goes away with 350 sends still to come
PUBLISHED = 40  # already public (and indexed) before the sends
DEADLINE = 120.0


def wait_for(condition: Callable[[], object], what: str, deadline: float = DEADLINE,
             why: Callable[[], str] = str) -> object:
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline:.0f} s waiting for {what} {why()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster() -> Iterator:
    require_opensearch()
    from tests.opensearch_node import OpenSearchCluster

    with OpenSearchCluster(nodes=3, heap="768m") as c:
        yield c


def api_report(i: int) -> dict:
    return {"type": "pakn", "title": f"Nắp cống số {i} trên đường Trần Hưng Đạo bị vỡ",
            "content": f"Nắp cống trước nhà số {i} vỡ từ tuần trước, xe máy sụp bánh nhiều lần.",
            "field": "cap-thoat-nuoc", "ward": 25708, "address": f"Số {i} đường Trần Hưng Đạo",
            "sender": {"kind": "individual", "name": "Lê Thị Hồng"}}


def add_published(n: int) -> None:
    """``n`` published reports, already public before the sends (one commit: one drain)."""
    from webapp.reference.models import Field, Ward
    from webapp.reports.codes import new_code

    field = db.session.scalar(select(Field).where(Field.slug == "giao-thong"))
    ward = db.session.get(Ward, 25708)
    for i in range(n):
        db.session.add(Report(
            code=new_code("pakn"), type="pakn", title=f"Đèn tín hiệu ngã tư số {i} không hoạt động",
            content="Đèn tín hiệu tắt cả ngày, xe cộ ùn tắc giờ tan tầm.", field=field, ward=ward,
            province_code=ward.province_code, address=f"Ngã tư số {i}", sender_name="Phạm Văn Nam",
            sender_phone="0987654321", confidential=False, published=True, status="accepted",
            submitted_at=datetime(2025, 6, 1, 2, 0, tzinfo=UTC)))
    db.session.commit()


def db_revisions(published_only: bool) -> dict[int, int]:
    query = select(Report.id, Report.revision)
    if published_only:
        query = query.where(Report.published.is_(True))
    return dict(db.session.execute(query).all())


class Outbox:
    """The outbox as an outside observer sees it: read-only, outside the app's connections (the
    watcher must not compete with the drain for SQLite's lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def pending(self) -> int:
        return self._rows("SELECT count(*) FROM outbox WHERE processed_at IS NULL")[0][0]

    def errors(self) -> str:
        rows = self._rows("SELECT count(*), max(attempts), last_error FROM outbox "
                          "WHERE processed_at IS NULL GROUP BY last_error")
        return "; ".join(f"{n} pending, {a} attempts: {e}" for n, a, e in rows)


def shard_nodes(engine) -> dict[str, str]:  # noqa: ANN001
    """Node name → 'p' (primary) or 'r' (replica) for the copies of the engine's index."""
    index = next(iter(engine.client.indices.get_alias(name=engine.alias).body))
    rows = engine.client.cat.shards(index=index, format="json", h="prirep,state,node").body
    return {row["node"]: row["prirep"] for row in rows if row["state"] == "STARTED"}


def test_a_node_lost_while_500_reports_are_sent_loses_nothing(cluster, tmp_path):
    prefix = f"pakn-cluster-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(tmp_path / "pakn.sqlite3")
    app = build_app(f"sqlite:///{outbox.path}", tmp_path,
                    SEARCH_ENGINE="elasticsearch", ELASTICSEARCH_URL=cluster.urls[0],
                    ELASTICSEARCH_PLAIN_JSON=True, ELASTICSEARCH_INDEX_PREFIX=prefix,
                    ELASTICSEARCH_REPLICAS=1, JOBS_SYNC=False, INDEXER_INLINE=True,
                    INDEXER_SWEEP_SECONDS=1)
    migrate(app)
    client = app.test_client()
    runner = app.test_cli_runner()
    # The test reads the database in short app contexts of its own: requests then run in theirs, as
    # in production, and no transaction of the test's holds SQLite's write lock while it waits.
    from indexer.elastic import ElasticsearchEngine

    # The two indices the app writes (public, staff), seen from outside the app.
    public = ElasticsearchEngine(cluster.urls[0], prefix=prefix, plain_json=True, replicas=1)
    staff = ElasticsearchEngine(cluster.urls[0], prefix=f"{prefix}-staff", plain_json=True, replicas=1)
    try:
        with app.app_context():
            add_published(PUBLISHED)
            db.session.remove()
        wait_for(lambda: outbox.pending() == 0, "the published reports to be indexed", why=outbox.errors)
        assert public.count() == PUBLISHED
        assert wait_for(lambda: public.health()["cluster"]["status"] == "green", "both copies of each index")
        copies = shard_nodes(public)
        assert len(copies) == 2  # one primary, one replica, on two different nodes
        # Stop a node that holds a copy of the public index (the primary if it can), never node-0,
        # the one the app talks to: a client configured with one address has no other.
        victim = min((n for n in copies if n != "node-0"), key=lambda n: copies[n] != "p")
        victim_index = int(victim.split("-")[1])

        # The citizen logs in (the OTP comes by SMS from a background job).
        assert client.post("/dang-nhap", data={"phone": PHONE}).status_code == 302
        wait_for(lambda: sms_codes(app, PHONE), "the OTP SMS")
        response = client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

        codes, searches, health_down = [], [], []
        started = time.monotonic()
        for i in range(SENDS):
            if i == STOP_AT:
                cluster.stop_node(victim_index)
            response = client.post("/api/v1/reports", json=api_report(i))
            assert response.status_code == 201, (i, response.get_data(as_text=True)[:500])
            codes.append(response.get_json()["code"])
            if i % 25 == 0:  # the public search answers all along, with every public report
                found = client.get("/api/v1/reports", query_string={"q": "đèn tín hiệu"})
                assert found.status_code == 200, (i, found.get_data(as_text=True)[:500])
                searches.append(found.get_json()["total"])
                if i >= STOP_AT:
                    health_down.append(public.health()["cluster"]["status"])
        sending = time.monotonic() - started
        assert searches == [PUBLISHED] * len(searches)
        # Yellow while the node is away (a copy of the index is missing, every document still
        # served), never red; green again only if the replica was rebuilt on the third node.
        assert health_down[0] == "yellow" and "red" not in health_down, health_down
        assert len(set(codes)) == SENDS
        with app.app_context():
            saved = db.session.scalar(select(func.count()).select_from(Report).where(Report.code.in_(codes)))
            db.session.remove()
        assert saved == SENDS

        # Indexed on the remaining two nodes; the cluster yellow (a replica has nowhere to go
        # until the node returns, or the delayed reallocation places it on the third node).
        wait_for(lambda: outbox.pending() == 0, "the indexer to drain the outbox with a node down", why=outbox.errors)
        health = public.health()
        assert health["cluster"]["nodes"] == 2 and health["cluster"]["status"] in ("yellow", "green")
        status = runner.invoke(args=["index", "status"])
        assert status.exit_code == 0, status.output
        assert f"elasticsearch — {PUBLISHED} tài liệu" in status.output
        assert "Hàng đợi chỉ mục (outbox) chưa xử lý: 0" in status.output
        assert "Cụm máy tìm kiếm: " in status.output and "2 nút" in status.output, status.output
        if health["cluster"]["status"] == "yellow":
            assert "bản sao chưa sẵn sàng" in status.output, status.output
        with app.app_context():
            assert staff.count() == PUBLISHED + SENDS
            assert dict(staff.revisions()) == db_revisions(published_only=False)
            retried = db.session.scalar(select(func.count()).select_from(OutboxEntry)
                                        .where(OutboxEntry.attempts > 0)) or 0
            db.session.remove()

        cluster.start_node(victim_index)
        def whole_again() -> bool:
            clusters = [public.health().get("cluster") or {}, staff.health().get("cluster") or {}]
            return all(c.get("status") == "green" and c.get("nodes") == 3 for c in clusters)

        wait_for(whole_again, "the node to rejoin and the cluster to be green")
        status = runner.invoke(args=["index", "status"])
        assert "Cụm máy tìm kiếm: green — 3 nút" in status.output, status.output
        result = runner.invoke(args=["index", "reconcile"])
        assert result.exit_code == 0, result.output
        assert result.output.count("Chỉ mục khớp với cơ sở dữ liệu.") == 2, result.output
        with app.app_context():
            assert dict(public.revisions()) == db_revisions(published_only=True)
            assert dict(staff.revisions()) == db_revisions(published_only=False)
            db.session.remove()
        # A drain batch the node's departure interrupted is retried by the next sweep: reported
        # here, never lost (every entry processed, both indices match the database).
        print(json.dumps({"victim": victim, "copies": copies, "retried_entries": retried,
                          "sending_seconds": round(sending, 1), "health_while_down": health_down}))
    finally:
        indexer = app.extensions.get("pakn_indexer")
        if indexer is not None:
            indexer.stop()
        for engine in (public, staff):
            with contextlib.suppress(Exception):  # best effort: the cluster is stopped next anyway
                engine.drop()
        with app.app_context():
            db.engine.dispose()


# -- the drain holds no SQLite lock while the engine works ------------------------------------------
class SilentServer:
    """A loopback port that accepts connections and never answers, until ``release()`` closes it
    (then connections are refused): an engine that is slow to answer, then gone."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.connections.append(conn)
                self.accepted.set()

    def release(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.mark.parametrize("command", ["drain", "reconcile"])
def test_indexing_holds_no_sqlite_write_lock_while_the_engine_answers(command, tmp_path):
    """While `flask index drain` (what the indexer thread and worker run) or `flask index reconcile`
    waits for the search engine, a citizen's send can still write. SQLite has one write lock: both
    held it across their engine calls, so every send waited for the engine, and failed with
    "database is locked" once that took longer than the busy timeout (`make run` failed so in
    `flask seed-demo`, whose commits the indexer thread drains while it seeds)."""
    server = SilentServer()
    outbox = Outbox(tmp_path / "pakn.sqlite3")
    app = build_app(f"sqlite:///{outbox.path}", tmp_path, SEARCH_ENGINE="elasticsearch",
                    ELASTICSEARCH_URL=server.url, ELASTICSEARCH_PLAIN_JSON=True, INDEXER_INLINE=False)
    migrate(app)
    with app.app_context():
        add_published(3)
        db.session.remove()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(app.test_cli_runner().invoke(args=["index", command])))
    worker.start()
    try:
        assert server.accepted.wait(30), f"flask index {command} never called the engine"
        # It is inside its engine call now. Another writer (what a send does) must get the write
        # lock at once.
        conn = sqlite3.connect(outbox.path, timeout=0.5, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE reports SET title = title WHERE id = 1")
            conn.execute("COMMIT")
        finally:
            conn.close()
    finally:
        server.release()
        worker.join(60)
    assert not worker.is_alive()
    assert result[0].exit_code == 2, result[0].output  # the engine went away: said so
    assert outbox.pending() == 3  # nothing marked done that was not indexed
    if command == "drain":
        assert "3 pending, 1 attempts" in outbox.errors()
