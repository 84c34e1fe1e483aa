"""Shared fixtures: an app per database backend (SQLite and PostgreSQL), a rolled-back database
per test, fresh empty databases on demand, and small factories.

PostgreSQL is the server at ``TEST_POSTGRES_URL`` (default 127.0.0.1:5432, database ``test``,
trust auth). Each run creates its own database there and drops it afterwards, so runs don't
collide. When the server is unreachable the PostgreSQL cases are skipped with the reason, except
on CI (``CI`` set), where that is a failure: CI starts the server and must test against it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from webapp import create_app
from webapp.extensions import db

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]

# The test process must not pick up a developer's PAKN_* settings (they would be validated and
# might point the suite at a real database).
for _key in [k for k in os.environ if k.startswith("PAKN_")]:
    del os.environ[_key]


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable" here
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


_PG_PROBLEM: str | None | bool = False  # False = not probed yet


def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_reachable()
    if _PG_PROBLEM:
        if os.environ.get("CI"):
            pytest.fail(f"{_PG_PROBLEM} (CI must run the PostgreSQL tests)")
        pytest.skip(str(_PG_PROBLEM))


class Databases:
    """Creates empty databases for one backend and drops them at the end of the run."""

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self.tmp = tmp
        self.created: list[str] = []

    def new(self) -> tuple[str, Path]:
        """A URL of a new, empty database and an instance folder to go with it."""
        name = f"pakn_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        instance = self.tmp / name
        instance.mkdir(parents=True)
        if self.backend == "sqlite":
            return f"sqlite:///{instance / 'pakn.sqlite3'}", instance
        require_postgres()
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", instance

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def build_app(url: str, instance: Path, **overrides) -> Flask:
    """An app for tests. Requests made while a test holds an app context share it (Flask reuses
    an active one), so per-request state cached on ``g`` (the logged-in user, the locale) is
    dropped at the start of every request, as a fresh context in production would."""
    # No background indexer thread: tests drain the outbox themselves, inside their transaction.
    config = {"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "TESTING": True,
              "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test-secret-key", "INDEXER_INLINE": False,
              "JOBS_SYNC": True, "RATE_LIMITS": False}
    config.update(overrides)
    application = create_app(config)

    @application.before_request
    def _fresh_request_state() -> None:
        from flask import g

        g.__dict__.clear()

    return application


def migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def databases(backend: str, tmp_path_factory) -> Iterator[Databases]:
    dbs = Databases(backend, tmp_path_factory.mktemp(backend))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def app(databases: Databases) -> Iterator[Flask]:
    """A migrated app on this backend, shared by the tests of the session."""
    url, instance = databases.new()
    application = build_app(url, instance)
    migrate(application)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def fresh_app(databases: Databases) -> Callable[..., Flask]:
    """Factory of apps on brand-new databases (migrated unless ``migrated=False``)."""
    made: list[Flask] = []

    def make(migrated: bool = True, **overrides) -> Flask:
        url, instance = databases.new()
        application = build_app(url, instance, **overrides)
        if migrated:
            migrate(application)
        made.append(application)
        return application

    yield make
    for application in made:
        with application.app_context():
            db.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Iterator:
    """The test's database session; everything the test (and its requests) write is rolled back."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        # A plain SQLAlchemy session: Flask-SQLAlchemy's own Session.get_bind() would pick the
        # engine and ignore the connection that holds the test's outer transaction.
        from flask_sqlalchemy.session import _app_ctx_id
        from sqlalchemy.orm import scoped_session, sessionmaker

        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id)
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask, session):
    return app.test_client()


@pytest.fixture
def cli(app: Flask, session):
    """Runs ``flask`` commands inside the test's rolled-back transaction (stdout/stderr separate)."""
    return app.test_cli_runner()


# -- factories -------------------------------------------------------------------------------------
@pytest.fixture
def make_report(session):
    """Create a report with sensible defaults; keyword arguments override any column."""
    from webapp.reference.models import Field, Ward
    from webapp.reports.codes import new_code
    from webapp.reports.models import Report

    def make(**values) -> Report:
        field = session.scalar(sa.select(Field).where(Field.slug == values.pop("field_slug", "giao-thong")))
        ward = session.get(Ward, values.pop("ward_code", 25708))  # Phường Trảng Bàng, Tây Ninh
        report_type = values.get("type", "pakn")
        defaults = dict(
            code=new_code(report_type), type=report_type, title="Đường ngập nước sau mưa",
            content="Đoạn đường trước chợ ngập sâu sau mỗi trận mưa.", field=field, ward=ward,
            province_code=ward.province_code, address="Số 1 đường Hùng Vương",
            sender_name="Nguyễn Văn An", sender_phone="0912345678", confidential=False,
            published=True, status="accepted", submitted_at=datetime(2025, 3, 1, 1, 0, tzinfo=UTC))
        defaults.update(values)
        report = Report(**defaults)
        session.add(report)
        session.flush()
        return report

    return make


# -- search engines -------------------------------------------------------------------------------
ENGINES = ["sqlite", "elasticsearch", "opensearch"]
_OSMEM: list = []
_OPENSEARCH: list = []  # [cluster] or [reason it could not start]


def _osmem_url() -> str:
    """A real cluster when ELASTICSEARCH_URL is set, else one osmem-server for the whole run."""
    if os.environ.get("ELASTICSEARCH_URL"):
        return os.environ["ELASTICSEARCH_URL"]
    if not _OSMEM:
        from osmem_server import OsmemServer

        _OSMEM.append(OsmemServer.start(japanese=False))
    return _OSMEM[0].url


def require_opensearch() -> None:
    """Skip (fail on CI) when the OpenSearch test node cannot run here: Java missing, jar not built."""
    from tests.opensearch_node import unavailable_reason

    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI builds the node with `make opensearch` and must test against it)")
        pytest.skip(reason)


def opensearch_url() -> str:
    """One single-node OpenSearch 2.19 cluster (engines/opensearch) for the whole run."""
    require_opensearch()
    if not _OPENSEARCH:
        from tests.opensearch_node import OpenSearchCluster

        try:
            _OPENSEARCH.append(OpenSearchCluster(nodes=1, heap="512m"))
        except RuntimeError as exc:
            _OPENSEARCH.append(str(exc))
    if isinstance(_OPENSEARCH[0], str):
        pytest.fail(f"OpenSearch test node did not start: {_OPENSEARCH[0]}")
    return _OPENSEARCH[0].url


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest hook signature
    for server in _OSMEM:
        server.process.kill()
    for cluster in _OPENSEARCH:
        if not isinstance(cluster, str):
            cluster.close()


def make_engine(kind: str, tmp_path: Path):
    from indexer.elastic import ElasticsearchEngine
    from indexer.sqlite_fts import SqliteEngine

    if kind == "sqlite":
        return SqliteEngine(tmp_path / "search.sqlite3")
    if kind == "opensearch":
        return ElasticsearchEngine(opensearch_url(), prefix=f"pakn-test-{uuid.uuid4().hex[:10]}",
                                   plain_json=True)
    real = bool(os.environ.get("ELASTICSEARCH_URL"))
    return ElasticsearchEngine(
        _osmem_url(), prefix=f"pakn-test-{uuid.uuid4().hex[:10]}", plain_json=not real,
        username=os.environ.get("ELASTICSEARCH_USERNAME", ""),
        password=os.environ.get("ELASTICSEARCH_PASSWORD", ""))


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    """An empty index on each engine: SQLite FTS5 file; the Elasticsearch engine on osmem-server (or
    the real cluster at ELASTICSEARCH_URL) and on an OpenSearch 2.19 node."""
    eng = make_engine(request.param, tmp_path)
    eng.ensure_index()
    yield eng
    eng.drop()


@pytest.fixture
def search(app, session, tmp_path):
    """The app's search engine for this test: an empty embedded index, and a helper to index."""
    from indexer.sqlite_fts import SqliteEngine
    from webapp.search.indexing import drain_outbox

    eng = SqliteEngine(tmp_path / "search.sqlite3")
    eng.ensure_index()
    staff = SqliteEngine(tmp_path / "search-staff.sqlite3")
    previous = app.extensions.get("pakn_search"), app.extensions.get("pakn_search_staff")
    app.extensions["pakn_search"] = eng
    app.extensions["pakn_search_staff"] = staff

    class Search:
        engine = eng
        staff_engine = staff

        @staticmethod
        def index() -> int:
            session.commit()
            return drain_outbox(engine=eng, staff_engine=staff)

    yield Search
    app.extensions["pakn_search"], app.extensions["pakn_search_staff"] = previous


# -- accounts -------------------------------------------------------------------------------------
@pytest.fixture
def clock():
    """A controllable clock for everything that expires or is counted per hour."""
    from datetime import timedelta

    from webapp import clock as clock_module

    class Clock:
        now = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)

        def advance(self, seconds: float = 0, minutes: float = 0, hours: float = 0) -> None:
            self.now += timedelta(seconds=seconds, minutes=minutes, hours=hours)

    fake = Clock()
    clock_module.set_source(lambda: fake.now)
    yield fake
    clock_module.reset()


def sms_codes(app, phone: str) -> list[str]:
    """The codes sent by SMS to ``phone`` (the `file` backend), oldest first."""
    import json
    import re

    path = Path(app.config["SMS_FILE_PATH"])
    if not path.exists():
        return []
    codes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        found = re.search(r"Ma xac thuc cua ban la (\d{6})", message["text"])
        if message["to"] == phone and found:
            codes.append(found.group(1))
    return codes


@pytest.fixture
def otp_login(app, client, clock):
    """Log ``client`` in by phone OTP; returns the user's phone."""

    def login(phone: str = "0912345678", c=None) -> str:
        c = c or client
        assert c.post("/dang-nhap", data={"phone": phone}).status_code == 302
        code = sms_codes(app, phone)[-1]
        response = c.post("/dang-nhap/ma", data={"code": code})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        clock.advance(seconds=61)  # past the resend cooldown for the next request
        return phone

    return login


@pytest.fixture
def make_staff(session):
    """Create a staff account with a role in a (new) unit."""
    from sqlalchemy import select as sa_select

    from webapp.auth.models import Membership, Role, Unit, User, UserKind, UserStatus
    from webapp.auth.services import hash_password

    def make(username: str = "canbo", role: str = "officer", password: str = "Mat-khau-rat-kho-2026",
             unit: str = "tiep-nhan") -> User:
        """``unit``: the slug of the unit; "tiep-nhan" is the intake unit, any other is a processing unit."""
        roles = {r.name: r for r in session.scalars(sa_select(Role))}
        found = session.scalar(sa_select(Unit).where(Unit.slug == unit))
        if found is None:
            found = (Unit(name="Bộ phận tiếp nhận", slug="tiep-nhan", is_intake=True) if unit == "tiep-nhan"
                     else Unit(name=f"Đơn vị {unit}", slug=unit, is_intake=False))
        unit_row = found
        user = User(username=username, full_name=f"Cán bộ {username}", kind=UserKind.STAFF,
                    status=UserStatus.ACTIVE, password_hash=hash_password(password))
        if role == "admin":
            user.roles.append(roles["admin"])
        user.memberships.append(Membership(unit=unit_row, role=roles["leader" if role == "admin" else role]))
        session.add(user)
        session.flush()
        return user

    return make


@pytest.fixture
def staff_login(app, clock, session):
    """A test client logged in as ``user`` (password, and TOTP for leaders and admins)."""
    import pyotp

    def login(user):
        c = app.test_client()
        c.post("/can-bo/dang-nhap", data={"username": user.username, "password": "Mat-khau-rat-kho-2026"})
        if user.needs_second_factor:
            user.totp_secret = user.totp_secret or pyotp.random_base32()
            user.totp_enabled_at = clock.now
            session.flush()
            c.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(user.totp_secret).at(clock.now)})
        assert c.get("/can-bo/").status_code == 200
        return c
    return login


# -- Redis ------------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def redis_conn():
    from redis import Redis
    from redis.exceptions import RedisError

    conn = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {exc} (CI must run the Redis tests)")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


