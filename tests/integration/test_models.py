"""Revision counter and outbox, timestamps, reference lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from webapp.reference.services import PlaceError, ReferenceIndex
from webapp.reports.models import Report, StatusEvent
from webapp.search.models import OutboxEntry


def outbox(session, report_id):
    return session.execute(select(OutboxEntry.revision, OutboxEntry.op)
                           .where(OutboxEntry.entity_id == report_id)
                           .order_by(OutboxEntry.id)).all()


def test_new_report_has_revision_one_and_an_outbox_row(session, make_report):
    report = make_report()
    assert report.revision == 1
    assert outbox(session, report.id) == [(1, "upsert")]


def test_every_change_bumps_the_revision_and_writes_the_outbox(session, make_report):
    report = make_report()
    session.commit()
    report.title = "Đường ngập sâu sau mưa lớn"
    session.commit()
    assert report.revision == 2
    report.events.append(StatusEvent(from_status="accepted", to_status="processing", note="Giao xử lý"))
    session.commit()
    assert report.revision == 3
    report_id = report.id
    session.delete(report)
    session.commit()
    assert outbox(session, report_id) == [(1, "upsert"), (2, "upsert"), (3, "upsert"), (3, "delete")]


def test_one_transaction_is_one_revision_however_many_flushes(session, make_report):
    report = make_report()
    session.commit()
    report.title = "Tiêu đề mới"
    session.flush()
    report.address = "Số 2 đường Hùng Vương"
    report.events.append(StatusEvent(from_status="accepted", to_status="processing"))
    session.flush()
    session.commit()
    assert report.revision == 2
    assert outbox(session, report.id) == [(1, "upsert"), (2, "upsert")]


def test_a_flush_without_changes_writes_nothing(session, make_report):
    report = make_report()
    session.commit()
    report.title = str(report.title)  # same value
    session.commit()
    assert report.revision == 1
    assert len(outbox(session, report.id)) == 1


def test_rolled_back_changes_leave_no_outbox_row(session, make_report):
    report = make_report()
    session.commit()
    nested = session.begin_nested()
    report.title = "Tiêu đề khác"
    session.flush()
    nested.rollback()
    assert session.scalar(select(func.count()).select_from(OutboxEntry)
                          .where(OutboxEntry.entity_id == report.id)) == 1


def test_timestamps_are_stored_utc_and_come_back_aware(session, make_report):
    local = datetime(2025, 7, 1, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    report = make_report(submitted_at=local)
    session.commit()
    session.expire_all()
    loaded = session.get(Report, report.id)
    assert loaded.submitted_at == local
    assert loaded.submitted_at.tzinfo is not None
    assert loaded.submitted_at.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(session, make_report):
    with pytest.raises(Exception, match="naive datetime"):
        make_report(submitted_at=datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test
    session.rollback()


def test_tracking_codes_are_unique(session, make_report):
    make_report(code="PA-2345-6789")
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError, wrapped differently per driver
        make_report(code="PA-2345-6789")
    session.rollback()


@pytest.mark.parametrize(("ward", "province", "expected"), [
    (25708, None, (80, 25708, None)),                                  # code
    ("Phường Trảng Bàng", None, (80, 25708, None)),                    # current name
    ("phuong trang bang", "80", (80, 25708, None)),                    # folded, with province
    ("Trảng Bàng", "Tây Ninh", (80, 25708, None)),                     # without the prefix
    ("Thị xã Trảng Bàng", None, (80, None, "Thị xã Trảng Bàng")),      # legacy town
    ("Huyện Gò Dầu", None, (80, None, "Huyện Gò Dầu")),
    ("Thành phố Thủ Dầu Một", "Bình Dương", (79, None, "Thành phố Thủ Dầu Một")),  # former province
    ("Phường Thủ Dầu Một", None, (79, 25747, None)),                   # unique outside Tây Ninh
    (None, "Tỉnh Long An", (80, None, None)),
])
def test_places_resolve_by_code_current_or_legacy_name(session, app, ward, province, expected):
    index = ReferenceIndex()
    place = index.place(ward, province, [80])
    assert (place.province_code, place.ward_code, place.legacy_place) == expected


@pytest.mark.parametrize(("ward", "province", "message"), [
    ("Phường Không Có", None, "không tìm thấy xã/phường"),
    ("Xã Tân An", "Hà Giang", "không tìm thấy tỉnh/thành"),
    ("Xã Tân An", None, "không tìm thấy"),           # not in Tây Ninh; several elsewhere
    (99999999, None, "không tồn tại"),
    (25708, "79", "không thuộc"),
])
def test_unknown_or_ambiguous_places_are_explained(session, app, ward, province, message):
    with pytest.raises(PlaceError, match=message):
        ReferenceIndex().place(ward, province, [80])


def test_a_name_shared_by_wards_of_the_deployment_must_be_disambiguated(session, app):
    index = ReferenceIndex()
    with pytest.raises(PlaceError, match="có nhiều xã/phường"):
        index.place("Tân An", None, [80, 8])  # Phường Tân An (Tây Ninh), Xã Tân An (Tuyên Quang)
    assert index.place("Tân An", "Tây Ninh", [80, 8]).ward_code == 27712


def test_sqlite_read_then_write_survives_a_commit_from_another_thread(fresh_app, backend):
    """A request reads a report and then changes it while a background job commits in between.

    With a deferred BEGIN, SQLite in WAL mode refuses the request's write at once ("database is
    locked", not retried by busy_timeout); the embedded default must wait instead.
    """
    if backend != "sqlite":
        pytest.skip("SQLite's locking only")
    import threading

    from sqlalchemy import update

    from webapp.extensions import db
    from webapp.reference.models import Field
    from webapp.reports.models import Report

    app = fresh_app()
    with app.app_context():
        field = db.session.scalar(select(Field))
        report = Report(code="PA-TEST-LOCK", title="A", content="B", field=field, province_code=80,
                        submitted_at=datetime(2025, 1, 1, tzinfo=UTC))
        db.session.add(report)
        db.session.commit()
        report_id, field_id = report.id, field.id
    errors: list[BaseException] = []

    def background_job() -> None:
        with app.app_context():
            try:
                db.session.execute(update(Field).where(Field.id == field_id).values(deadline_days=7))
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    with app.app_context():
        seen = db.session.get(Report, report_id)      # the request reads …
        job = threading.Thread(target=background_job)
        job.start()
        job.join(timeout=0.5)                         # … a job commits (or waits) meanwhile …
        seen.title = "Đã sửa"                          # … and the request writes
        db.session.commit()
        job.join(timeout=10)
        assert not job.is_alive() and errors == []
        db.session.expire_all()
        assert db.session.get(Report, report_id).title == "Đã sửa"
        assert db.session.get(Field, field_id).deadline_days == 7


def _hold_write_lock(app):  # noqa: ANN001, ANN202
    """Another process's writer: a raw connection holding SQLite's write lock on the app's database."""
    import sqlite3

    conn = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"),
                           isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE fields SET deadline_days = deadline_days")
    return conn


def _in_thread(fn):  # noqa: ANN001, ANN202
    import threading

    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_sqlite_read_only_pages_do_not_wait_for_a_writer(fresh_app, backend):
    """Pages that only read are served while another connection holds the write lock (the indexer
    or a send): readers of the embedded default must not queue behind writers or each other."""
    if backend != "sqlite":
        pytest.skip("SQLite's locking only")
    from webapp.extensions import db
    from webapp.reference.models import Field

    app = fresh_app()
    with app.app_context():
        report = Report(code="PA-READ-K7CK", title="Đèn đường hỏng", content="Đã ba đêm không sáng.",
                        field=db.session.scalar(select(Field)), province_code=80, published=True,
                        submitted_at=datetime(2025, 1, 1, tzinfo=UTC))
        db.session.add(report)
        db.session.commit()
    client = app.test_client()
    writer = _hold_write_lock(app)
    try:
        thread, out = _in_thread(lambda: client.get("/pakn/PA-READ-K7CK"))
        thread.join(timeout=3)  # the lock is held far longer than a page takes
        assert not thread.is_alive(), "the page waited for the writer's lock"
        assert out["value"].status_code == 200, out
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join(timeout=10)


def test_sqlite_a_get_that_must_write_waits_for_the_lock_instead_of_failing(fresh_app, backend):
    """A logged-in GET refreshes its session's last-seen time; when another connection writes and
    commits meanwhile, the request waits for the lock (no 'database is locked', no 500)."""
    if backend != "sqlite":
        pytest.skip("SQLite's locking only")
    import time

    from tests.conftest import sms_codes
    from webapp.auth.models import UserSession
    from webapp.extensions import db

    app = fresh_app()
    client = app.test_client()
    client.post("/dang-nhap", data={"phone": "0912345678"})
    client.post("/dang-nhap/ma", data={"code": sms_codes(app, "0912345678")[-1]})
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with app.app_context():
        db.session.execute(UserSession.__table__.update().values(last_seen_at=long_ago))
        db.session.commit()
    writer = _hold_write_lock(app)
    thread, out = _in_thread(lambda: client.get("/pakn-cua-toi"))
    time.sleep(0.3)  # the request has read its session and now wants to write
    writer.execute("COMMIT")  # a write it did not see: a deferred transaction could not write now
    writer.close()
    thread.join(timeout=10)
    assert out.get("value") is not None and out["value"].status_code == 200, out
    with app.app_context():
        seen = db.session.scalar(select(UserSession.last_seen_at))
    assert seen > long_ago
