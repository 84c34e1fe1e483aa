"""The web shell: Vietnamese pages, menu, home counts, public report page, errors, language."""

from __future__ import annotations

import re

import pytest
from flask import Flask

MENU = ["Trang chủ", "Gửi phản ánh", "Gửi hiến kế", "Tra cứu", "Cảnh báo", "Đăng nhập"]


def text(response) -> str:
    return response.get_data(as_text=True)


def test_home_is_vietnamese_with_menu_counts_and_latest_reports(client, make_report):
    make_report(title="Đèn đường hỏng trên Quốc lộ 22")
    make_report(title="Phản ánh chưa công khai", published=False)
    make_report(title="Hiến kế trồng cây", type="idea")
    response = client.get("/")
    assert response.status_code == 200
    html = text(response)
    assert '<html lang="vi">' in html
    for item in MENU:
        assert f">{item}</a>" in html
    assert "Đèn đường hỏng trên Quốc lộ 22" in html
    assert "Phản ánh chưa công khai" not in html
    assert re.search(r"<strong>1</strong> <span>phản ánh đã công khai", html)
    assert re.search(r"<strong>1</strong> <span>hiến kế đã công khai", html)


def test_home_with_no_reports_says_so(client):
    assert "Chưa có phản ánh nào được công khai." in text(client.get("/"))


def test_no_asset_comes_from_another_site(client):
    html = text(client.get("/"))
    assert not re.search(r'(src|href)="(https?:)?//', html)


@pytest.mark.parametrize("path", ["/tra-cuu", "/canh-bao", "/dang-nhap", "/tra-cuu-ma"])
def test_menu_pages_answer(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/gui-phan-anh", "/gui-hien-ke", "/pakn-cua-toi"])
def test_sending_needs_a_login_and_comes_back_after_it(client, path):
    response = client.get(path)
    assert response.status_code == 302 and f"/dang-nhap?next={path}" in response.headers["Location"]


def test_public_report_page_shows_sender_masked_and_finds_code_in_any_case(client, make_report):
    report = make_report(sender_name="Trần Thị Bích", sender_phone="0912345678")
    html = text(client.get(f"/pakn/{report.code.lower()}"))
    assert report.title in html
    assert "Trần Thị Bích" in html
    assert "091*****78" in html and "0912345678" not in html


def test_confidential_sender_never_reaches_the_public_page(client, make_report):
    report = make_report(confidential=True, sender_name="Phạm Văn Kín", sender_phone="0987654321",
                         sender_email="kin@example.vn", sender_address="Số 9 hẻm 3")
    html = text(client.get(f"/pakn/{report.code}"))
    assert "Thông tin người gửi được bảo mật" in html
    for secret in ("Phạm Văn Kín", "0987654321", "098*****21", "kin@example.vn", "Số 9 hẻm 3"):
        assert secret not in html


def test_unpublished_or_unknown_reports_are_not_found(client, make_report):
    hidden = make_report(published=False)
    assert client.get(f"/pakn/{hidden.code}").status_code == 404
    assert client.get("/pakn/PA-2222-2222").status_code == 404
    assert client.get("/pakn/not-a-code").status_code == 404


def test_missing_page_is_a_vietnamese_404(client):
    response = client.get("/khong-ton-tai")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in text(response)


def test_errors_get_a_vietnamese_500_without_a_stack_trace(databases):
    from tests.conftest import build_app, migrate

    url, instance = databases.new()
    app: Flask = build_app(url, instance)
    migrate(app)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    html = text(response)
    assert "Lỗi hệ thống" in html
    assert "secret internal detail" not in html and "Traceback" not in html


def test_english_is_available_and_remembered(app):
    # A client outside the `session` fixture: each request gets its own app context, as in
    # production (the fixture's shared context would also cache the locale between requests).
    client = app.test_client()
    html = text(client.get("/?lang=en"))
    assert '<html lang="en">' in html and ">Look up</a>" in html
    response = client.get("/ngon-ngu/en?next=/tra-cuu")
    assert response.status_code == 302 and response.headers["Location"].endswith("/tra-cuu")
    assert ">Look up</a>" in text(client.get("/"))
    client.get("/ngon-ngu/vi")
    assert ">Tra cứu</a>" in text(client.get("/"))


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/ngon-ngu/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_active_warnings_only_inside_their_window(client, session, make_report):
    from datetime import timedelta

    from webapp.auth.models import Unit, User
    from webapp.db import utcnow
    from webapp.warnings.models import PublicWarning

    unit = Unit(name="Ban Chỉ huy phòng chống thiên tai", slug="pctt")
    author = User(username="w", full_name="Cán bộ", kind="staff", status="active")
    session.add_all([unit, author])
    now = utcnow()
    for title, state, start, end in [
        ("Triều cường dâng cao", "approved", now - timedelta(hours=1), now + timedelta(hours=5)),
        ("Cảnh báo đã hết hạn", "approved", now - timedelta(days=3), now - timedelta(days=1)),
        ("Cảnh báo chưa duyệt", "pending", now - timedelta(hours=1), now + timedelta(hours=5)),
        ("Cảnh báo sắp tới", "approved", now + timedelta(days=1), now + timedelta(days=2)),
    ]:
        session.add(PublicWarning(unit=unit, title=title, content="Nội dung", state=state,
                                  starts_at=start, ends_at=end, created_by=author))
    session.flush()
    html = text(client.get("/canh-bao"))
    current, _, archive = html.partition("Cảnh báo đã hết hiệu lực</h2>")
    assert "Triều cường dâng cao" in current and "Cảnh báo đã hết hạn" not in current
    assert "Cảnh báo đã hết hạn" in archive  # past ones stay readable in the archive
    for hidden in ("Cảnh báo chưa duyệt", "Cảnh báo sắp tới"):
        assert hidden not in html
    home = text(client.get("/"))  # the banner on every page shows only the one in force
    assert "Triều cường dâng cao" in home.split('class="warning-banner"')[1].split("</aside>")[0]
    assert "Cảnh báo đã hết hạn" not in home and "Cảnh báo sắp tới" not in home
