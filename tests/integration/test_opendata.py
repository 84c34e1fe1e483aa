"""Open data: CSV/JSONL exports and Atom feeds of any search, saved searches and their e-mail alerts."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from indexer.sqlite_fts import SqliteEngine

ATOM = "{http://www.w3.org/2005/Atom}"


def published(make_report, n: int, **values):
    start = values.pop("start", datetime(2025, 3, 1, 1, 0, tzinfo=UTC))
    title = values.pop("title", "Đường ngập nước")
    return [make_report(title=f"{title} số {i}",
                        submitted_at=start + timedelta(hours=i), published_at=start + timedelta(hours=i, minutes=5),
                        **values) for i in range(n)]


def csv_rows(response, body: bytes | None = None) -> list[dict[str, str]]:
    body = response.get_data() if body is None else body
    assert body.startswith("\ufeff".encode())  # the BOM: spreadsheet programs then read UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


# -- exports ------------------------------------------------------------------------------------------
def test_public_items_made_in_one_app_context_follow_its_language_and_host(app):
    """A job may hold one app context across languages (force_locale) and request contexts (the
    mail links' host): what items share per request is kept apart for each."""
    from flask_babel import force_locale

    from tests.contract.docs import doc
    from webapp.reports.public import public_item

    item = doc(1, "Ngập nước", status="accepted", code="PA-2025-000001")
    with app.app_context():
        with app.test_request_context("/", base_url="https://pakn.example.vn"):
            with force_locale("en"):
                english = public_item(item)
            with force_locale("vi"):
                vietnamese = public_item(item)
        with app.test_request_context("/", base_url="https://khac.example.vn"):
            other_host = public_item(item)
    assert (english["status"]["label"], vietnamese["status"]["label"]) == ("Accepted", "Đã tiếp nhận")
    assert english["url"] == "https://pakn.example.vn/pakn/PA-2025-000001"
    assert other_host["url"] == "https://khac.example.vn/pakn/PA-2025-000001"


def test_csv_export_has_every_matching_row_not_one_page(client, session, search, make_report):
    published(make_report, 45, title="Ngập nước")
    published(make_report, 3, title="Mất điện", field_slug="dien")
    make_report(title="Ngập nước chưa công khai", published=False)
    search.index()
    response = client.get("/api/v1/reports.csv", query_string={"q": "ngap nuoc", "per_page": 5})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert 'attachment; filename="pakn-tra-cuu-' in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert len(rows) == 45 == int(response.headers["X-Total-Count"])
    assert {r["title"].rsplit(" số ", 1)[0] for r in rows} == {"Ngập nước"}  # Vietnamese intact
    assert len({r["code"] for r in rows}) == 45
    # Every row's URL and label are made once per request (docs/performance.md): still the report's
    # own page, and the label in the request's language.
    assert {r["url"] for r in rows} == {f"http://localhost/pakn/{r['code']}" for r in rows}
    assert {r["status_label"] for r in rows} == {"Đã tiếp nhận"}
    english = csv_rows(client.get("/api/v1/reports.csv", query_string={"q": "ngap nuoc", "lang": "en"}))
    assert {r["status_label"] for r in english} == {"Accepted"}
    only_power = csv_rows(client.get("/api/v1/reports.csv", query_string={"field": "dien"}))
    assert [r["field_name"] for r in only_power] == ["Điện"] * 3


def test_export_is_the_same_rows_as_the_search_in_the_same_order(client, session, search, make_report):
    published(make_report, 30, title="Cây xanh đổ")
    published(make_report, 12, title="Rác thải", field_slug="moi-truong")
    search.index()
    params = {"field": "moi-truong", "sort": "oldest"}
    pages = []
    for page in (1, 2):
        pages += [i["code"] for i in client.get("/api/v1/reports", query_string={**params, "page": page,
                                                                                   "per_page": 10}).get_json()["items"]]
    lines = client.get("/api/v1/reports.jsonl", query_string=params).get_data(as_text=True).splitlines()
    items = [json.loads(line) for line in lines]
    assert [i["code"] for i in items] == pages and len(pages) == 12
    assert items[0]["content"] and items[0]["field"] == "moi-truong"
    # Nothing holds every word: the page and the export both fall back to any word, flagged the same.
    fallback = client.get("/api/v1/reports", query_string={"q": "cây rác"}).get_json()
    assert fallback["any_words"] and fallback["total"] == 42
    assert len(client.get("/api/v1/reports.jsonl", query_string={"q": "cây rác"}).get_data().splitlines()) == 42


def test_exports_never_carry_a_confidential_sender(client, session, search, make_report):
    make_report(title="Phản ánh công khai người gửi", sender_name="Trần Thị Công Khai", sender_phone="0911111111")
    make_report(title="Phản ánh bảo mật người gửi", confidential=True, sender_name="Lê Văn Bí Mật",
                sender_phone="0987654321", sender_email="bimat@example.vn", sender_address="Số 9 hẻm Bí Mật")
    search.index()
    for path in ("/api/v1/reports.csv", "/api/v1/reports.jsonl", "/tra-cuu/feed.atom"):
        body = client.get(path).get_data(as_text=True)
        assert "Trần Thị Công Khai" in body, path
        for secret in ("Lê Văn Bí Mật", "0987654321", "bimat@example.vn", "Hẻm Bí Mật", "hẻm Bí Mật"):
            assert secret not in body, (path, secret)
        assert "0911111111" not in body  # phones are masked even for public senders
    rows = csv_rows(client.get("/api/v1/reports.csv"))
    secret_row = next(r for r in rows if r["title"].endswith("bảo mật người gửi"))
    assert secret_row["sender_name"] == "" and secret_row["phone_masked"] == ""


def test_export_errors_come_before_the_file_as_json(client, session, search, app, tmp_path):
    bad = client.get("/api/v1/reports.csv", query_string={"from": "2025-02-30"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "from"
    unknown = client.get("/api/v1/reports.jsonl", query_string={"field": "khong-co"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_field"
    phone = client.get("/api/v1/reports.csv", query_string={"phone": "0912345678"})
    assert phone.status_code == 400 and phone.get_json()["error"]["code"] == "phone_in_url"
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    app.extensions["pakn_search"] = SqliteEngine(blocker / "search.sqlite3")
    down = client.get("/api/v1/reports.csv")
    assert down.status_code == 503 and down.get_json()["error"]["code"] == "search_unavailable"


def test_a_large_export_is_written_out_in_chunks(client, session, search, make_report):
    from webapp.opendata.exports import ROWS_PER_CHUNK

    published(make_report, ROWS_PER_CHUNK * 2 + 7)
    search.index()
    response = client.get("/api/v1/reports.csv")
    chunks = [c for c in response.response if c]
    assert len(chunks) >= 3  # streamed as it is read, not built whole in memory
    assert len(csv_rows(response, b"".join(chunks))) == ROWS_PER_CHUNK * 2 + 7


def test_tra_cuu_offers_export_feed_and_saving_of_the_same_search(client, session, search, make_report):
    published(make_report, 3)
    search.index()
    page = client.get("/tra-cuu", query_string={"q": "ngập", "field": "giao-thong", "page": 1}).get_data(as_text=True)
    for path in ("/api/v1/reports.csv?", "/api/v1/reports.jsonl?", "/tra-cuu/feed.atom?", "/tim-kiem-da-luu/moi?"):
        start = page.index(path)
        link = page[start:page.index('"', start)]
        assert "q=ng%E1%BA%ADp" in link and "field=giao-thong" in link and "page=" not in link
    assert 'rel="alternate" type="application/atom+xml"' in page


# -- feeds --------------------------------------------------------------------------------------------
def test_search_feed_lists_the_newest_matches_as_atom(client, session, search, make_report):
    published(make_report, 60, title="Ngập nước")
    make_report(title="Mất điện cả khu", field_slug="dien")
    search.index()
    response = client.get("/tra-cuu/feed.atom", query_string={"q": "ngập nước", "sort": "oldest"})
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.get_data())  # noqa: S314 - our own feed
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 50  # the newest 50, whatever sort was asked for the page
    assert entries[0].find(f"{ATOM}title").text.endswith("Ngập nước số 59")
    assert "ngập nước" in feed.find(f"{ATOM}title").text
    self_link = feed.find(f"{ATOM}link[@rel='self']").get("href")
    assert "/tra-cuu/feed.atom?" in self_link and "q=ng" in self_link
    assert client.get("/tra-cuu/feed.atom", query_string={"to": "hôm qua"}).status_code == 400


# -- saved searches -----------------------------------------------------------------------------------
def test_saving_a_search_needs_a_login_and_keeps_its_parameters(client, session, otp_login):
    anonymous = client.get("/tim-kiem-da-luu/moi?q=ng%E1%BA%ADp&field=giao-thong")
    assert anonymous.status_code == 302 and "/dang-nhap" in anonymous.headers["Location"]
    assert "next=/tim-kiem-da-luu/moi?q%3Dng" in anonymous.headers["Location"]
    otp_login("0912345678")
    form = client.get("/tim-kiem-da-luu/moi?q=ng%E1%BA%ADp&field=giao-thong&page=3")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "“ngập” · Giao thông" in html
    missing_email = client.post("/tim-kiem-da-luu/moi?q=ng%E1%BA%ADp&field=giao-thong",
                                data={"name": "Ngập ở Trảng Bàng", "frequency": "daily", "email": ""})
    assert missing_email.status_code == 400 and "Vui lòng nhập e-mail" in missing_email.get_data(as_text=True)
    assert "Ngập ở Trảng Bàng" in missing_email.get_data(as_text=True)  # what was typed is kept
    saved = client.post("/tim-kiem-da-luu/moi?q=ng%E1%BA%ADp&field=giao-thong&page=3",
                        data={"name": "Ngập ở Trảng Bàng", "frequency": "daily", "email": "an@example.vn"})
    assert saved.status_code == 302
    from webapp.opendata.models import SavedSearch

    row = session.query(SavedSearch).one()
    assert row.query_string == "q=ng%E1%BA%ADp&field=giao-thong" and row.email == "an@example.vn"
    listing = client.get("/tim-kiem-da-luu").get_data(as_text=True)
    assert "Ngập ở Trảng Bàng" in listing and "Mỗi ngày một thư" in listing


def test_saved_searches_belong_to_their_owner(client, session, otp_login, app):
    from webapp.opendata.models import SavedSearch

    otp_login("0912345678")
    client.post("/tim-kiem-da-luu/moi?q=r%C3%A1c", data={"name": "Rác", "frequency": "none", "email": ""})
    saved = session.query(SavedSearch).one()
    other = app.test_client()
    otp_login("0987654321", c=other)
    assert other.post(f"/tim-kiem-da-luu/{saved.id}/xoa").status_code == 404
    assert other.post(f"/tim-kiem-da-luu/{saved.id}", data={f"s{saved.id}-name": "Của tôi",
                                                             f"s{saved.id}-frequency": "none"}).status_code == 404
    assert "Rác" not in other.get("/tim-kiem-da-luu").get_data(as_text=True)
    updated = client.post(f"/tim-kiem-da-luu/{saved.id}", data={
        f"s{saved.id}-name": "Rác thải", f"s{saved.id}-frequency": "immediate", f"s{saved.id}-email": "a@example.vn"})
    assert updated.status_code == 302
    session.refresh(saved)
    assert saved.name == "Rác thải" and saved.frequency == "immediate"
    assert client.post(f"/tim-kiem-da-luu/{saved.id}/xoa").status_code == 302
    assert session.query(SavedSearch).count() == 0


# -- alerts -------------------------------------------------------------------------------------------
def mails(app) -> list[dict]:
    from pathlib import Path

    path = Path(app.config["MAIL_FILE_PATH"])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.fixture
def saved_search(app, session):
    from pathlib import Path

    from webapp.auth.models import User
    from webapp.opendata.models import SavedSearch

    Path(app.config["MAIL_FILE_PATH"]).unlink(missing_ok=True)

    def make(query_string: str = "q=ng%E1%BA%ADp", frequency: str = "immediate",
             created_at: datetime = datetime(2025, 3, 2, tzinfo=UTC), email: str | None = "an@example.vn",
             confirmed: bool = True):
        user = User(phone=f"09{len(session.query(User).all()):08d}", full_name="Nguyễn An", status="active")
        session.add(user)
        session.flush()
        saved = SavedSearch(user_id=user.id, name="Ngập", query_string=query_string, frequency=frequency,
                            email=email, created_at=created_at,
                            email_confirmed_at=created_at if confirmed and email else None)  # by its link
        session.add(saved)
        session.commit()
        return saved

    return make


def test_an_alert_mails_each_new_match_once(app, session, search, make_report, saved_search):
    from webapp.opendata.alerts import send_due

    app.config["MAIL_BACKEND"] = "file"
    saved = saved_search(created_at=datetime(2025, 3, 2, tzinfo=UTC))
    published(make_report, 2, title="Ngập nước cũ", start=datetime(2025, 3, 1, tzinfo=UTC))  # before saving
    new = published(make_report, 3, title="Ngập nước mới", start=datetime(2025, 3, 3, tzinfo=UTC))
    published(make_report, 2, title="Mất điện mới", content="Cả khu phố mất điện", start=datetime(2025, 3, 3, tzinfo=UTC))
    make_report(title="Ngập nước bí mật", confidential=True, sender_name="Lê Bí Mật",
                published_at=datetime(2025, 3, 3, 9, tzinfo=UTC))
    search.index()
    counts = send_due(datetime(2025, 3, 4, tzinfo=UTC))
    assert counts == {"checked": 1, "mailed": 1, "reports": 4, "failed": 0}
    [mail] = mails(app)
    assert mail["to"] == "an@example.vn" and "4 phản ánh mới" in mail["subject"]
    for report in new:
        assert report.code in mail["text"]
    assert "Ngập nước cũ" not in mail["text"] and "Mất điện" not in mail["text"]
    assert "Lê Bí Mật" not in mail["text"]
    assert "/tim-kiem-da-luu/huy/" in mail["headers"]["List-Unsubscribe"]
    # Run again (or twice at once): nothing new, nothing sent.
    assert send_due(datetime(2025, 3, 4, 0, 1, tzinfo=UTC))["mailed"] == 0
    later = published(make_report, 1, title="Ngập nước sau nữa", start=datetime(2025, 3, 4, 5, tzinfo=UTC))
    search.index()
    send_due(datetime(2025, 3, 4, 6, tzinfo=UTC))
    assert len(mails(app)) == 2 and later[0].code in mails(app)[1]["text"]
    assert new[0].code not in mails(app)[1]["text"]
    session.refresh(saved)
    assert saved.last_sent_at == datetime(2025, 3, 4, 6, tzinfo=UTC)


def test_daily_alerts_wait_for_their_hour_and_go_once_a_day(app, session, search, make_report, saved_search):
    from webapp.opendata.alerts import send_due

    app.config.update(MAIL_BACKEND="file", ALERTS_DAILY_HOUR=7)
    saved_search(frequency="daily", created_at=datetime(2025, 3, 2, tzinfo=UTC))
    published(make_report, 2, start=datetime(2025, 3, 3, tzinfo=UTC))
    search.index()
    assert send_due(datetime(2025, 3, 3, 23, tzinfo=UTC))["mailed"] == 0  # 06:00 in Vietnam
    assert send_due(datetime(2025, 3, 4, 0, 30, tzinfo=UTC))["mailed"] == 1  # 07:30
    published(make_report, 1, start=datetime(2025, 3, 4, 1, tzinfo=UTC))
    search.index()
    assert send_due(datetime(2025, 3, 4, 9, tzinfo=UTC))["checked"] == 0  # same local day
    assert send_due(datetime(2025, 3, 5, 0, 30, tzinfo=UTC))["reports"] == 1  # next morning


def test_a_failed_mail_is_retried_and_loses_nothing(app, session, search, make_report, saved_search):
    from webapp.opendata.alerts import send_due

    saved_search()
    published(make_report, 2, start=datetime(2025, 3, 3, tzinfo=UTC))
    search.index()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=9, MAIL_SMTP_SECURITY="none")
    assert send_due(datetime(2025, 3, 4, tzinfo=UTC)) == {"checked": 0, "mailed": 0, "reports": 0, "failed": 1}
    app.config["MAIL_BACKEND"] = "file"
    assert send_due(datetime(2025, 3, 4, 0, 5, tzinfo=UTC))["reports"] == 2
    assert len(mails(app)) == 1


def test_smtp_backend_delivers_utf8_to_a_real_server(app):
    from aiosmtpd.controller import Controller

    from webapp.mail import send_mail

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append(envelope)
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config.update(MAIL_BACKEND="smtp", MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=port,
                          MAIL_SMTP_SECURITY="none", MAIL_FROM="pakn@tayninh.example")
        with app.app_context():
            send_mail("an@example.vn", "[PAKN] Phản ánh mới: ngập nước", "Đường ngập sâu ở phường Trảng Bàng.")
    finally:
        controller.stop()
    [envelope] = received
    assert envelope.rcpt_tos == ["an@example.vn"] and envelope.mail_from == "pakn@tayninh.example"
    from email import message_from_bytes
    from email.policy import default

    message = message_from_bytes(envelope.original_content, policy=default)
    assert message["Subject"] == "[PAKN] Phản ánh mới: ngập nước"
    assert message.get_content().strip() == "Đường ngập sâu ở phường Trảng Bàng."


def test_the_unsubscribe_link_stops_the_mail_after_a_confirmation(app, client, session, saved_search):
    from webapp.opendata.alerts import unsubscribe_token

    saved = saved_search()
    with app.test_request_context():
        token = unsubscribe_token(saved)
    page = client.get(f"/tim-kiem-da-luu/huy/{token}")
    assert page.status_code == 200 and "Ngừng nhận thư" in page.get_data(as_text=True)
    session.refresh(saved)
    assert saved.frequency == "immediate"  # opening the link (a mail scanner does) changes nothing
    assert client.post(f"/tim-kiem-da-luu/huy/{token}").status_code == 200
    session.refresh(saved)
    assert saved.frequency == "none"
    assert client.get(f"/tim-kiem-da-luu/huy/{token}x").status_code == 404


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_text(client, session, search, make_report):
    """Title, content, address, sender and answer starting with = + - @ tab or CR come out with a
    leading apostrophe in CSV (shown as text by spreadsheet programs); JSONL keeps them as written."""
    hostile = {"=HYPERLINK(\"http://x\",\"bấm\")", "+CMD|' /C calc'!A0 ngập", "-1+1 đường hỏng", "@SUM(A1) rác"}
    for i, text in enumerate(sorted(hostile)):
        make_report(title=f"{text}", content=f"{text} nội dung", address=text, sender_name=text,
                    submitted_at=datetime(2025, 3, 1, 1, i, tzinfo=UTC))
    search.index()
    rows = csv_rows(client.get("/api/v1/reports.csv"))
    assert len(rows) == len(hostile)
    for row in rows:
        for column in ("title", "content", "address", "sender_name"):
            assert row[column][:1] == "'" and row[column][1:2] in "=+-@", (column, row[column])
    lines = client.get("/api/v1/reports.jsonl").get_data(as_text=True).splitlines()
    titles = {json.loads(line)["title"] for line in lines}
    assert all(t[:1] in "=+-@" for t in titles)  # JSONL: data, not a spreadsheet; unchanged


def test_alerts_go_only_to_an_address_confirmed_by_its_link(app, client, session, search, make_report, otp_login,
                                                            clock):
    """Typing someone else's address into a saved search must not make the portal mail them
    alerts: a confirmation link goes there first, and nothing else until it is used."""
    import re
    from pathlib import Path

    from webapp.opendata.alerts import send_due
    from webapp.opendata.models import SavedSearch

    app.config["MAIL_BACKEND"] = "file"
    Path(app.config["MAIL_FILE_PATH"]).unlink(missing_ok=True)
    otp_login("0912345678")
    response = client.post("/tim-kiem-da-luu/moi?q=ng%E1%BA%ADp",
                           data={"name": "Ngập", "frequency": "immediate", "email": "nguoi.khac@example.vn"})
    assert response.status_code == 302
    assert "Đã gửi thư xác nhận" in client.get("/tim-kiem-da-luu").get_data(as_text=True)
    saved = session.scalar(select(SavedSearch))
    [confirmation] = mails(app)
    assert confirmation["to"] == "nguoi.khac@example.vn" and "Xác nhận" in confirmation["subject"]
    link = re.search(r"https?://\S+/tim-kiem-da-luu/xac-nhan/\S+", confirmation["text"]).group()
    published(make_report, 2, title="Ngập nước", start=clock.now + timedelta(hours=1))
    search.index()
    assert send_due(clock.now + timedelta(hours=2))["mailed"] == 0 and len(mails(app)) == 1  # not confirmed

    from urllib.parse import urlsplit

    path = urlsplit(link).path
    page = client.get(path)
    assert page.status_code == 200 and "nguoi.khac@example.vn" in page.get_data(as_text=True)
    session.refresh(saved)
    assert saved.email_confirmed_at is None  # opening the link (a mail scanner) confirms nothing
    assert "Đã xác nhận" in client.post(path).get_data(as_text=True)
    assert send_due(clock.now + timedelta(hours=3))["mailed"] == 1
    assert mails(app)[-1]["to"] == "nguoi.khac@example.vn"

    # A new address needs its own confirmation; the old link does not confirm it.
    client.post(f"/tim-kiem-da-luu/{saved.id}", data={f"s{saved.id}-name": "Ngập",
                                                     f"s{saved.id}-frequency": "immediate",
                                                     f"s{saved.id}-email": "moi@example.vn"})
    session.refresh(saved)
    assert saved.email == "moi@example.vn" and saved.email_confirmed_at is None
    assert client.get(path).status_code == 404
    assert mails(app)[-1]["to"] == "moi@example.vn"


def test_an_address_confirmed_once_needs_no_second_link(app, client, session, otp_login, clock):
    from webapp.opendata.models import SavedSearch

    otp_login("0912345678")
    client.post("/tim-kiem-da-luu/moi?q=a", data={"name": "A", "frequency": "daily", "email": "an@example.vn"})
    first = session.scalar(select(SavedSearch))
    first.email_confirmed_at = clock.now
    session.commit()
    client.post("/tim-kiem-da-luu/moi?q=b", data={"name": "B", "frequency": "daily", "email": "AN@example.vn"})
    second = session.scalar(select(SavedSearch).where(SavedSearch.name == "B"))
    assert second.email_confirmed_at is not None
