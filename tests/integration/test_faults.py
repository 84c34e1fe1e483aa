"""Faults lose nothing: the search engine, Redis, an RQ worker or the SMS gateway going away never
costs a report, never answers 500, and the index catches up once the service is back.

Every server a test stops is a private one it started itself on a free port (osmem-server for the
Elasticsearch engine, redis-server for the queue), never the machine's shared ones. The SMS
provider's HTTP endpoint is the only thing replaced: by a port where nothing listens, or a loopback
server that answers 500.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from indexer.elastic import ElasticsearchEngine
from indexer.engine import EngineUnavailable, SearchEngine
from indexer.sqlite_fts import SqliteEngine
from tests.conftest import sms_codes
from webapp.extensions import db
from webapp.reports.models import Report
from webapp.search.indexing import drain_outbox
from webapp.search.models import OutboxEntry

ROOT = Path(__file__).resolve().parents[2]
PHONE = "0912345678"
DEADLINE = 60.0  # generous: waits end as soon as the condition holds


# -- helpers --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, deadline: float = DEADLINE) -> object:
    """Poll ``condition`` until it is truthy; fail naming ``what`` when the deadline passes."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def require_binary(name: str) -> str:
    """The binary's path; skip (fail on CI, which must run these tests) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} not found on PATH (CI must run the fault tests)")
        pytest.skip(f"{name} not found on PATH")
    return path


def api_report(i: int) -> dict:
    return {"type": "pakn", "title": f"Đèn đường số {i} trên Quốc lộ 22 bị hỏng",
            "content": f"Cả đoạn đường gần cột điện số {i} tối om từ tuần trước.", "field": "dien",
            "ward": 25708, "address": f"Quốc lộ 22, cột {i}", "sender": {"kind": "individual", "name": "Nguyễn Văn An"}}


def web_report(i: int) -> dict:
    return {"title": f"Cống thoát nước số {i} bị tắc", "content": "Nước tràn lên mặt đường mỗi khi mưa lớn.",
            "field": "cap-thoat-nuoc", "ward": "25708", "address": f"Hẻm {i} đường Hùng Vương",
            "sender_kind": "individual", "sender_name": "Nguyễn Văn An", "sender_phone": PHONE,
            "idempotency_key": f"web-{i}"}


def pending_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxEntry)
                             .where(OutboxEntry.processed_at.is_(None))) or 0


def db_revisions(published_only: bool) -> dict[int, int]:
    query = select(Report.id, Report.revision)
    if published_only:
        query = query.where(Report.published.is_(True))
    return dict(db.session.execute(query).all())


class PrivateOsmem:
    """An osmem-server of this test alone, on a fixed free port, that can be stopped and started
    again (empty: it keeps everything in memory, as a cluster that lost its data would)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> None:
        from osmem_server import OsmemServer

        self.server = OsmemServer.start(japanese=False, addr=f"127.0.0.1:{self.port}")
        assert self.server.url == self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.process.kill()
            self.server.process.wait()
            self.server = None


@pytest.fixture
def private_osmem() -> Iterator[PrivateOsmem]:
    server = PrivateOsmem()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PrivateRedis:
    """A redis-server of this test alone (no persistence) on a free port, stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from redis import Redis
        from redis.exceptions import RedisError

        conn = Redis.from_url(self.url, socket_connect_timeout=1)

        def up() -> bool:
            try:
                return bool(conn.ping())
            except RedisError:
                assert self.process.poll() is None, "redis-server exited"
                return False

        wait_for(up, "the private redis-server to answer")
        conn.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def connection(self):  # noqa: ANN201 - a redis.Redis
        from redis import Redis

        return Redis.from_url(self.url, socket_connect_timeout=2)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def swap_engines(app, public: SearchEngine, staff: SearchEngine) -> Callable[[], None]:
    """Point the app at these engines; returns the function that puts the previous ones back."""
    previous = app.extensions.get("pakn_search"), app.extensions.get("pakn_search_staff")
    app.extensions["pakn_search"], app.extensions["pakn_search_staff"] = public, staff

    def restore() -> None:
        app.extensions["pakn_search"], app.extensions["pakn_search_staff"] = previous

    return restore


# -- the search engine goes away ------------------------------------------------------------------
def test_engine_down_while_200_reports_are_sent_then_reconcile_catches_up(
        app, session, client, cli, otp_login, make_report, make_staff, private_osmem):
    """Elasticsearch down: 200 sends succeed with their codes, status shows the backlog, and after the
    engine comes back (empty) reconcile makes the index match the database."""
    from webapp.workflow import services as workflow

    public = ElasticsearchEngine(private_osmem.url, prefix="pakn-faults", plain_json=True)
    staff = ElasticsearchEngine(private_osmem.url, prefix="pakn-faults-staff", plain_json=True)
    restore = swap_engines(app, public, staff)
    try:
        # Already indexed before the outage: these must come back too, the cluster loses them.
        earlier = [make_report(title=f"Phản ánh đã công khai {i}") for i in range(20)]
        session.commit()
        assert drain_outbox() == 20 and public.count() == 20

        officer = make_staff("tiepnhan", role="officer")
        otp_login(PHONE)
        private_osmem.stop()

        codes = []
        for i in range(200):
            if i % 50 == 0:  # the send form as well as the API
                response = client.post("/gui-phan-anh", data=web_report(i))
                assert response.status_code == 302, response.get_data(as_text=True)[:500]
                code = response.headers["Location"].rsplit("/", 1)[1]
                sent_page = client.get(f"/da-gui/{code}")
                assert sent_page.status_code == 200 and code in sent_page.get_data(as_text=True)
            else:
                response = client.post("/api/v1/reports", json=api_report(i))
                assert response.status_code == 201, response.get_data(as_text=True)[:500]
                code = response.get_json()["code"]
            codes.append(code)
        assert len(set(codes)) == 200
        saved = set(session.scalars(select(Report.code).where(Report.code.in_(codes))))
        assert saved == set(codes)

        # Officers keep working too: publishing while the engine is down is saved and queued.
        for report in session.scalars(select(Report).where(Report.code.in_(codes[:40]))):
            workflow.accept(officer, report, publish=True)
        earlier[0].title = "Phản ánh đã công khai 0 (đã sửa)"
        session.commit()

        with pytest.raises(EngineUnavailable):
            drain_outbox()  # what the sweep does; the entries stay pending with the error noted
        backlog = pending_count()
        assert backlog == 200 + 40 + 1

        # Readers get the standard 503 (the SQLite variant is test_search.py::
        # test_engine_unreachable_gives_503_with_a_vietnamese_message), not a 500.
        down = client.get("/api/v1/reports", query_string={"q": "đèn đường"})
        assert down.status_code == 503 and down.get_json()["error"]["code"] == "search_unavailable"
        page = client.get("/tra-cuu", query_string={"q": "den duong"})
        assert page.status_code == 503 and "tạm thời gián đoạn" in page.get_data(as_text=True)

        result = cli.invoke(args=["index", "status"])
        assert result.exit_code == 0, result.output
        assert "KHÔNG truy cập được" in result.output
        assert f"Hàng đợi chỉ mục (outbox) chưa xử lý: {backlog}" in result.output
        assert f"{backlog} mục đã thử lỗi" in result.output
        assert f"Phản ánh công khai trong cơ sở dữ liệu: {20 + 40}" in result.output
        assert "Các phản ánh vẫn được lưu" in result.output

        private_osmem.start()  # back, and empty: the indices must be created again
        result = cli.invoke(args=["index", "reconcile"])
        assert result.exit_code == 0, result.output + (result.stderr or "")
        assert public.count() == 60 and dict(public.revisions()) == db_revisions(published_only=True)
        everything = session.scalar(select(func.count()).select_from(Report))
        assert staff.count() == everything == 220
        assert dict(staff.revisions()) == db_revisions(published_only=False)

        drain_outbox()  # the sweep then clears the backlog without changing anything
        assert pending_count() == 0 and dict(public.revisions()) == db_revisions(published_only=True)
        result = cli.invoke(args=["index", "status"])
        assert "elasticsearch — 60 tài liệu" in result.output
        assert "Hàng đợi chỉ mục (outbox) chưa xử lý: 0" in result.output
        assert "vẫn được lưu" not in result.output and "lệch" not in result.output
        found = client.get("/api/v1/reports", query_string={"q": "đã sửa"}).get_json()
        assert [item["code"] for item in found["items"]] == [earlier[0].code]
    finally:
        restore()


# -- an RQ worker killed in the middle of a bulk job -------------------------------------------------
BULK = 2000  # four drain batches of 500: long enough to be caught half done


def add_reports(n: int) -> None:
    """Save ``n`` published reports in one transaction (its commit enqueues one drain job)."""
    from datetime import UTC, datetime

    from webapp.reference.models import Field, Ward
    from webapp.reports.codes import new_code

    field = db.session.scalar(select(Field).where(Field.slug == "giao-thong"))
    ward = db.session.get(Ward, 25708)
    for i in range(n):
        db.session.add(Report(
            code=new_code("pakn"), type="pakn", title=f"Ổ gà trên đường Hùng Vương đoạn {i}",
            content=f"Ổ gà sâu ở đoạn {i} gây nguy hiểm cho xe máy.", field=field, ward=ward,
            province_code=ward.province_code, address=f"Số {i} đường Hùng Vương", sender_name="Trần Thị Bình",
            sender_phone="0987654321", confidential=False, published=True, status="accepted",
            submitted_at=datetime(2025, 3, 1, 1, 0, tzinfo=UTC)))
    db.session.commit()


def processed_count() -> int:
    """Outbox entries done, as an outside observer sees them (committed rows only, no waiting)."""
    if db.engine.dialect.name == "sqlite":
        # Read-only, outside the app: polling through the app's connections (which may begin
        # IMMEDIATE, i.e. take the write lock) would compete with the very drain being watched.
        import sqlite3

        conn = sqlite3.connect(f"file:{db.engine.url.database}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM outbox WHERE processed_at IS NOT NULL").fetchone()[0]
        finally:
            conn.close()
    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(OutboxEntry)
                           .where(OutboxEntry.processed_at.is_not(None))) or 0


class Worker:
    """``flask worker`` of the project in a process of its own (its own session, so that it and
    everything it forks can be killed together), logging to a file the failure message shows."""

    def __init__(self, app, redis: PrivateRedis, log: Path, sweep_seconds: int, burst: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAKN_")}
        env.update(PAKN_DATABASE_URL=app.config["DATABASE_URL"], PAKN_INSTANCE_PATH=app.config["INSTANCE_PATH"],
                   PAKN_SECRET_KEY=app.config["SECRET_KEY"], PAKN_REDIS_URL=redis.url,
                   PAKN_SEARCH_INDEX_PATH=str(app.config["SEARCH_INDEX_PATH"]),
                   PAKN_SMS_FILE_PATH=str(app.config["SMS_FILE_PATH"]),
                   PAKN_INDEXER_SWEEP_SECONDS=str(sweep_seconds), PAKN_RATE_LIMITS="false")
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *(["--burst"] if burst else [])],
            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    def horse(self) -> int | None:
        """The work horse running a job now: RQ forks it into a process group of its own."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(stat.parent.name)
            if int(fields[1]) == self.process.pid and int(fields[2]) == pid:
                return pid
        return None

    def kill(self) -> None:
        """SIGKILL to the worker, its scheduler and its work horse, as a crashed machine would."""
        if self.process.poll() is not None:
            return  # already ended and reaped: its pid may belong to someone else by now
        horse = self.horse()
        signal_to(os.killpg, self.process.pid, signal.SIGKILL)
        if horse:
            signal_to(os.kill, horse, signal.SIGKILL)
        self.process.wait()



def signal_to(kill: Callable[[int, int], None], pid: int, sig: int) -> None:
    """Send ``sig``; a process that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        kill(pid, sig)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Every worker a test starts is stopped at the end, whatever happened."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()  # the test has checked what it needed: no warm shutdown to wait for


def kill_in_the_middle(worker: Worker, only_the_horse: bool) -> int:
    """Wait until the drain job has committed some batches but not all, then SIGKILL (the horse
    alone, or everything); returns how many outbox entries were done by then."""
    def horse_of_a_half_done_job() -> int | None:
        assert worker.process.poll() is None, worker.output()
        done = processed_count()
        assert done < BULK, "the drain job finished before it could be killed: make BULK larger"
        return worker.horse() if done else None

    horse = wait_for(horse_of_a_half_done_job, "the drain job to be half done")
    if only_the_horse:
        os.kill(horse, signal.SIGKILL)
    else:
        worker.kill()
    return processed_count()


def assert_nothing_lost(app) -> None:
    """Every report is in both indices at its database revision, and the outbox is empty."""
    with app.app_context():
        assert pending_count() == 0
        public = SqliteEngine(app.config["SEARCH_INDEX_PATH"])
        staff = SqliteEngine(str(app.config["SEARCH_INDEX_PATH"]).replace(".sqlite3", "-staff.sqlite3"))
        assert dict(public.revisions()) == db_revisions(published_only=True)
        assert dict(staff.revisions()) == db_revisions(published_only=False)
        assert public.count() == BULK
        db.session.remove()


def test_sigkill_of_the_whole_worker_mid_job_the_sweep_repairs_it(fresh_app, private_redis, workers, tmp_path):
    """A worker SIGKILLed with its horse mid-drain: RQ cannot tell for minutes, the next worker's
    sweep indexes the rest, 0 lost."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    app = fresh_app(REDIS_URL=private_redis.url)
    queue = Queue("pakn", connection=private_redis.connection())
    with app.app_context():
        add_reports(BULK)
        assert processed_count() == 0 and queue.count == 1  # the commit enqueued one drain job
        job_id = queue.job_ids[0]
        # The first worker's sweep is far away: only the RQ job can be doing the work.
        workers.append(Worker(app, private_redis, tmp_path / "worker1.log", sweep_seconds=3600))
        done = kill_in_the_middle(workers[0], only_the_horse=False)
        assert 0 < done < BULK
        # Killed while RQ counted it as running. RQ declares it abandoned only once its heartbeat
        # expires (about 90 s; then it is retried), and a new worker's maintenance leaves it alone
        # until then: the new worker's sweep is what repairs the backlog.
        assert job_id in StartedJobRegistry(queue=queue).get_job_ids(cleanup=False)
        db.session.remove()

    workers.append(Worker(app, private_redis, tmp_path / "worker2.log", sweep_seconds=1))
    with app.app_context():
        wait_for(lambda: processed_count() == BULK or workers[1].process.poll() is not None,
                 "the sweep to drain the backlog")
        assert workers[1].process.poll() is None, workers[1].output()
    assert_nothing_lost(app)


def test_sigkill_of_the_work_horse_mid_job_rq_retries_it(private_redis, workers, tmp_path):
    """The work horse SIGKILLed mid-drain (the OOM killer's pick): the worker fails the job, RQ's
    scheduler runs its retry, the retry drains the rest, 0 lost."""
    from rq import Queue
    from rq.job import Job

    from tests.conftest import build_app, migrate

    # What is tested is RQ's handling of the job, the same whatever the database: SQLite only.
    app = build_app(f"sqlite:///{tmp_path / 'pakn.sqlite3'}", tmp_path, REDIS_URL=private_redis.url)
    migrate(app)
    queue = Queue("pakn", connection=private_redis.connection())
    with app.app_context():
        add_reports(BULK)
        job_id = queue.job_ids[0]
        workers.append(Worker(app, private_redis, tmp_path / "worker.log", sweep_seconds=3600))  # no sweep
        done = kill_in_the_middle(workers[0], only_the_horse=True)
        assert 0 < done < BULK
        wait_for(lambda: processed_count() == BULK, "the retried job to drain the backlog")
        assert workers[0].process.poll() is None, workers[0].output()
        job = Job.fetch(job_id, connection=private_redis.connection())
        wait_for(lambda: job.get_status(refresh=True) == "finished", "the retried job to finish")
        assert job.retries_left == 4  # one retry used: the horse's death counted as a failure
        db.session.remove()
    assert_nothing_lost(app)


# -- Redis goes away -----------------------------------------------------------------------------------
def login_by_otp(app, client, phone: str = PHONE) -> None:
    """Log ``client`` in; the code comes by the SMS job, wherever it ran (thread or worker)."""
    before = len(sms_codes(app, phone))
    assert client.post("/dang-nhap", data={"phone": phone}).status_code == 302
    wait_for(lambda: len(sms_codes(app, phone)) > before, "the OTP SMS")
    response = client.post("/dang-nhap/ma", data={"code": sms_codes(app, phone)[-1]})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def sms_texts(app) -> str:
    path = Path(app.config["SMS_FILE_PATH"])
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_redis_down_while_reports_are_sent_all_saved_and_indexed_once_it_is_back(fresh_app, private_redis):
    """Redis stopped: login and sends answer normally (SMS jobs run in-process instead), every
    report is saved; Redis back: the next job drains the whole backlog into the index."""
    from rq import Queue, SimpleWorker

    # Jobs go through the real after-commit path (not JOBS_SYNC), rate limits on Redis storage too.
    app = fresh_app(REDIS_URL=private_redis.url, JOBS_SYNC=False, RATE_LIMITS=True, API_RATE_LIMIT="1000/minute",
                    SEND_RATE_LIMIT="1000/hour")  # one citizen sends 31 reports here
    client = app.test_client()
    private_redis.stop()

    login_by_otp(app, client)  # the OTP SMS went through the in-process fallback
    codes = []
    for i in range(30):
        response = client.post("/api/v1/reports", json=api_report(i))
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
        codes.append(response.get_json()["code"])
    response = client.post("/gui-phan-anh", data=web_report(99))
    assert response.status_code == 302
    codes.append(response.headers["Location"].rsplit("/", 1)[1])
    assert client.get(f"/da-gui/{codes[-1]}").status_code == 200

    with app.app_context():
        assert set(db.session.scalars(select(Report.code))) == set(codes)
        assert pending_count() == 31  # nothing could be queued: the outbox holds them all
        db.session.remove()
    # Each sender still gets the tracking-code SMS (by the in-process fallback).
    wait_for(lambda: all(code in sms_texts(app) for code in codes), "the tracking-code SMS")

    private_redis.start()
    response = client.post("/api/v1/reports", json=api_report(100))  # the first send after the outage
    assert response.status_code == 201
    codes.append(response.get_json()["code"])
    queue = Queue("pakn", connection=private_redis.connection())
    assert {job.func_name for job in queue.jobs} == {"webapp.worker.drain_job", "webapp.worker.run_job"}
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        assert pending_count() == 0
        staff = SqliteEngine(str(app.config["SEARCH_INDEX_PATH"]).replace(".sqlite3", "-staff.sqlite3"))
        assert dict(staff.revisions()) == db_revisions(published_only=False) and staff.count() == 32
        db.session.remove()
    assert codes[-1] in sms_texts(app)  # and that SMS went by the queue


# -- the same outbox entries delivered twice -----------------------------------------------------------
def snapshot(engine: SearchEngine) -> dict[int, dict]:
    """Every document of the index, whole (not only its revision)."""
    from indexer.query import SearchQuery

    return {doc["id"]: doc for doc in engine.scan(SearchQuery(facets=False))}


@pytest.fixture
def staff_engine(request, engine, tmp_path):
    """A staff index on the same kind of engine (and server) as ``engine``."""
    from tests.conftest import make_engine

    folder = tmp_path / "staff"
    folder.mkdir()
    staff = make_engine(request.node.callspec.params["engine"], folder)
    staff.ensure_index()
    yield staff
    staff.drop()


def test_outbox_entries_delivered_twice_or_out_of_order_change_nothing(session, make_report, engine, staff_engine):
    """Redelivered, duplicated and late entries (and a late older document) leave both indices
    exactly as one delivery did. The engine-level rules are in the contract tests
    (test_an_older_or_repeated_revision_changes_nothing, test_a_deletion_is_not_undone_…)."""
    from indexer.documents import build_document, build_staff_document

    def drain() -> int:
        session.commit()
        return drain_outbox(engine=engine, staff_engine=staff_engine)

    first, second = make_report(title="Đèn tín hiệu hỏng"), make_report(title="Cây đổ chắn đường")
    make_report(title="Chưa công khai", published=False)
    gone = make_report(title="Sẽ bị xóa")
    drain()
    old_first, old_first_staff = build_document(first), build_staff_document(first)
    old_gone = build_document(gone)
    first.title = "Đèn tín hiệu hỏng (đã sửa)"
    session.delete(gone)
    assert drain() == 2
    public, staff = snapshot(engine), snapshot(staff_engine)
    assert sorted(public) == sorted([first.id, second.id]) and len(staff) == 3
    assert public[first.id]["title"] == "Đèn tín hiệu hỏng (đã sửa)"

    # A worker that wrote the index but died before marking its entries: all of them again.
    session.execute(update(OutboxEntry).values(processed_at=None))
    assert drain() == 6
    assert (snapshot(engine), snapshot(staff_engine)) == (public, staff)

    # The same entries twice in the outbox (two jobs that picked the same rows).
    for entry in session.scalars(select(OutboxEntry)).all():
        session.add(OutboxEntry(entity=entry.entity, entity_id=entry.entity_id, revision=entry.revision,
                                op=entry.op, created_at=entry.created_at, attempts=0))
    assert drain() == 6
    assert (snapshot(engine), snapshot(staff_engine)) == (public, staff)

    # Older documents arriving after the newer ones (a slow job overtaken by a fast one).
    engine.bulk_upsert([old_first, old_gone])
    staff_engine.bulk_upsert([old_first_staff])
    assert (snapshot(engine), snapshot(staff_engine)) == (public, staff)
    assert dict(engine.revisions()) == dict(session.execute(
        select(Report.id, Report.revision).where(Report.published.is_(True))).all())


# -- the SMS gateway goes away ---------------------------------------------------------------------------
class Gateway:
    """A loopback SMS provider that answers 500 to whatever is posted, and keeps what it got."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                gateway.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(500)
                self.end_headers()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=["nothing-listens", "answers-500"])
def break_sms(request, app, monkeypatch) -> Iterator[Callable[[], Gateway | None]]:
    """Call it to point the http SMS backend at a gateway that is down (no listener, or a 500)."""
    gateways: list[Gateway] = []

    def down() -> Gateway | None:
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        if request.param == "nothing-listens":
            monkeypatch.setitem(app.config, "SMS_HTTP_URL", f"http://127.0.0.1:{free_port()}/send")
            return None
        gateways.append(Gateway())
        monkeypatch.setitem(app.config, "SMS_HTTP_URL", gateways[-1].url)
        return gateways[-1]

    yield down
    for gateway in gateways:
        gateway.close()


def test_sms_gateway_down_at_login_gives_a_clear_message_not_a_500(app, client, session, clock, break_sms):
    """OTP by a gateway that is down: the code page says the SMS failed and offers to send again;
    the API accepts the request and lets the client ask again at once (the web resend path is
    test_auth_otp.py::test_gateway_down_gives_a_clear_message_and_an_immediate_retry)."""
    gateway = break_sms()
    response = client.post("/dang-nhap", data={"phone": PHONE})
    assert response.status_code == 302
    page = client.get("/dang-nhap/ma")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Không gửi được tin nhắn SMS lúc này" in html
    assert "hidden" not in html.split('id="otp-sms-failed"')[1][:80]
    assert client.get("/dang-nhap/ma/trang-thai").get_json()["sms_status"] == "failed"
    if gateway is not None:
        assert [m["to"] for m in gateway.received] == [PHONE]  # it was tried, and refused

    api = app.test_client()
    first = api.post("/api/v1/auth/otp/request", json={"phone": "0987654321"})
    assert first.status_code == 202
    again = api.post("/api/v1/auth/otp/request", json={"phone": "0987654321"})
    assert again.status_code == 202  # a failed SMS starts no cooldown: asking again works at once


def test_a_report_sent_while_sms_is_down_is_saved_and_shows_its_code(app, client, session, otp_login, break_sms):
    """The tracking-code SMS fails; the report is saved and its code is on the screen and the API."""
    otp_login(PHONE)
    gateway = break_sms()
    response = client.post("/gui-phan-anh", data=web_report(1))
    assert response.status_code == 302
    code = response.headers["Location"].rsplit("/", 1)[1]
    page = client.get(f"/da-gui/{code}")
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    api = client.post("/api/v1/reports", json=api_report(2))
    assert api.status_code == 201
    saved = set(session.scalars(select(Report.code)))
    assert saved == {code, api.get_json()["code"]}
    if gateway is not None:
        assert sorted(code in m["text"] for m in gateway.received) == [False, True]
    mine = client.get("/api/v1/me/reports").get_json()["items"]
    assert {r["code"] for r in mine} == saved
