"""One account cannot fill the disk (issue: a refused multipart send left 18.9 MB per try, the form
with errors kept its files forever, and nothing limited the send form): a quota of files not yet
sent, deletion of stale uploads by the sweep and `flask uploads cleanup`, no file left by a refused
API send, and a per-account budget of sends that keeps what was typed."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.reports.models import Report, Upload

PHONE = "0912345678"
GOOD = {"title": "Đường Hùng Vương ngập nước sau mưa", "content": "Mỗi khi mưa lớn đoạn đường ngập sâu 40 cm.",
        "field": "cap-thoat-nuoc", "ward": "25708", "address": "Số 10 đường Hùng Vương",
        "sender_kind": "individual", "sender_name": "Nguyễn Văn An"}


def pdf(size: int) -> bytes:
    return b"%PDF-1.4\n%" + b"0" * size + b"\n"


def stored(app) -> set[Path]:
    folder = Path(app.config["UPLOAD_PATH"])
    return set(folder.iterdir()) if folder.exists() else set()


def post_form(client, files=(), **changes):
    data = {**GOOD, **changes, "idempotency_key": "k-form"}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/gui-phan-anh", data=data, content_type="multipart/form-data")


def test_files_not_yet_sent_have_a_quota_per_account(app, client, session, otp_login, monkeypatch):
    otp_login(PHONE)
    monkeypatch.setitem(app.config, "UPLOAD_STAGED_QUOTA_MB", 1)
    before = stored(app)
    first = post_form(client, files=[("a.pdf", pdf(600_000))], title="Ổ gà")  # refused: the file is kept
    assert first.status_code == 400 and session.scalar(select(func.count()).select_from(Upload)) == 1
    second = post_form(client, files=[("b.pdf", pdf(600_000))], title="Ổ gà")
    page = second.get_data(as_text=True)
    assert second.status_code == 413 and "quá nhiều tệp chưa gửi" in page
    assert "Mỗi khi mưa lớn" in page  # what was typed is still there
    assert session.scalar(select(func.count()).select_from(Upload)) == 1
    assert len(stored(app) - before) == 1  # nothing written for the refused file


def test_stale_uploads_are_deleted_with_their_files(app, client, session, otp_login, clock, cli):
    otp_login(PHONE)
    before = stored(app)
    post_form(client, files=[("a.pdf", pdf(1000))], title="Ổ gà")
    assert session.scalar(select(func.count()).select_from(Upload)) == 1 and len(stored(app) - before) == 1
    clock.advance(hours=23)
    result = cli.invoke(args=["uploads", "cleanup"])
    assert "Đã xóa 0" in result.output and session.scalar(select(func.count()).select_from(Upload)) == 1
    clock.advance(hours=2)
    result = cli.invoke(args=["uploads", "cleanup"])
    assert result.exit_code == 0 and "Đã xóa 1" in result.output
    assert session.scalar(select(func.count()).select_from(Upload)) == 0 and stored(app) == before


def test_sent_reports_keep_their_files_through_a_cleanup(app, client, session, otp_login, clock, cli):
    from webapp.reports.services import delete_stale_uploads

    otp_login(PHONE)
    response = post_form(client, files=[("a.pdf", pdf(1000))])
    assert response.status_code == 302
    report = session.scalar(select(Report))
    delete_stale_uploads(timedelta(seconds=0))
    assert (Path(app.config["UPLOAD_PATH"]) / report.attachments[0].stored_name).exists()


def test_a_refused_api_send_after_staging_leaves_no_file(app, client, session, otp_login, monkeypatch):
    """The refusal can come after the files were written (here: the account's phone is not
    verified any more); the rollback takes the rows, and the files go with them."""
    from webapp.auth.models import User

    otp_login(PHONE)
    user = session.scalar(select(User).where(User.phone == PHONE))
    user.phone_verified_at = None
    session.flush()
    before = stored(app)
    response = client.post("/api/v1/reports", data={**GOOD, "files": [(io.BytesIO(pdf(5000)), "a.pdf")]},
                           content_type="multipart/form-data", headers={"X-Requested-With": "test"})
    assert response.status_code in (400, 403)
    assert stored(app) == before


@pytest.fixture
def limited(fresh_app):
    return fresh_app(RATE_LIMITS=True, SEND_RATE_LIMIT="3/hour")


def test_the_send_form_has_a_per_account_budget_and_keeps_the_input(limited, clock):
    from tests.conftest import sms_codes

    client = limited.test_client()
    with limited.app_context():
        assert client.post("/dang-nhap", data={"phone": PHONE}).status_code == 302
        client.post("/dang-nhap/ma", data={"code": sms_codes(limited, PHONE)[-1]})
    for _ in range(3):
        post_form(client, title="Ổ gà")  # refused for the title, but each post counts
    page = post_form(client, content="Nội dung tôi đã gõ rất dài và không muốn mất.")
    text = page.get_data(as_text=True)
    assert page.status_code == 429 and "gửi quá nhiều lần" in text
    assert "Nội dung tôi đã gõ rất dài và không muốn mất." in text
    api = client.post("/api/v1/reports", json={**GOOD, "ward": 25708})
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "rate_limited"
    assert int(api.headers["Retry-After"]) > 0
    with limited.app_context():
        from webapp.extensions import db

        assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_the_sweep_deletes_stale_uploads_hourly(app, client, session, otp_login, clock):
    from webapp.search.indexing import drain_and_notify

    otp_login(PHONE)
    before = stored(app)
    post_form(client, files=[("a.pdf", pdf(1000))], title="Ổ gà")
    app.extensions.pop("pakn_upload_cleanup", None)
    clock.advance(hours=25)
    drain_and_notify()  # what the worker's sweep and the in-process runner call
    assert session.scalar(select(func.count()).select_from(Upload)) == 0 and stored(app) == before
