"""The installable app on the server side: the manifest (and who gets which shortcuts), the icons made
from the one source image, the service worker at the site root, the manifest linked from every page,
logout clearing the device, and coordinates sent through the API reaching the report and the staff."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from sqlalchemy import select

from webapp.pwa import icons
from webapp.reports.models import Report

PHONE = "0912345678"
MANIFEST_LINK = '<link rel="manifest" href="/manifest.webmanifest">'


@pytest.fixture
def citizen(client, otp_login):
    otp_login(PHONE)
    return client


def test_manifest_for_everyone(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    m = response.get_json()
    assert m["name"] == "1022 — Phản ánh kiến nghị" and m["short_name"] == "1022" and m["lang"] == "vi"
    assert m["display"] == "standalone" and m["start_url"].startswith("/") and m["scope"] == "/"
    assert m["theme_color"] == "#b3261e" and m["background_color"]
    sizes = {(i["sizes"], i["purpose"]) for i in m["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= sizes
    for icon in m["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200 and served.mimetype == "image/png"
        with Image.open(io.BytesIO(served.data)) as img:
            assert f"{img.width}x{img.height}" == icon["sizes"]
    names = [s["name"] for s in m["shortcuts"]]
    assert names == ["Gửi phản ánh", "Tra cứu", "PAKN của tôi"]  # no staff shortcut for the public
    for shortcut in m["shortcuts"]:
        assert client.get(shortcut["url"]).status_code in (200, 302)
    # It depends on who asks: no shared cache may keep one person's copy for another.
    assert "private" in response.headers["Cache-Control"] and "Cookie" in response.headers["Vary"]


def test_staff_get_the_approval_shortcut(app, make_staff, staff_login):
    leader = staff_login(make_staff("lanhdao", role="leader"))
    shortcuts = {s["name"]: s["url"] for s in leader.get("/manifest.webmanifest").get_json()["shortcuts"]}
    assert shortcuts["Cảnh báo chờ duyệt"] == "/can-bo/canh-bao"
    assert leader.get(shortcuts["Cảnh báo chờ duyệt"]).status_code == 200


def test_committed_icons_are_what_the_source_gives():
    for name, (size, maskable) in icons.ICONS.items():
        with Image.open(icons.APP_DIR / name) as committed:
            assert committed.size == (size, size), name
            made = icons.render(size, maskable)
            diff = ImageChops.difference(committed.convert("RGB"), made)
            # Pillow versions may round a resampled pixel differently; the picture must be the same.
            assert max(channel[1] for channel in diff.getextrema()) <= 8, f"{name}: run `flask app icons`"


def test_icons_cli_writes_every_size(tmp_path):
    written = icons.generate(out=tmp_path)
    assert sorted(p.name for p in written) == sorted(icons.ICONS)
    with Image.open(tmp_path / "icon-maskable-512.png") as img:
        assert img.size == (512, 512) and img.getpixel((5, 5)) == (0xB3, 0x26, 0x1E)  # full-bleed brand colour


def test_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert "no-cache" in response.headers["Cache-Control"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    body = response.get_data(as_text=True)
    assert 'importScripts("/static/js/drafts-store.js")' in body
    assert (Path(__file__).parents[2] / "webapp" / "static" / "sw.js").read_text(encoding="utf-8") == body


def _html_pages(app):
    """Every GET page without a URL parameter (the API, feeds and files excepted)."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        if rule.rule.startswith(("/api/", "/open311")) or rule.rule.endswith((".js", ".webmanifest", ".xml")):
            continue
        yield rule.rule


@pytest.mark.parametrize("who", ["anonymous", "citizen"])
def test_manifest_linked_from_every_page(app, client, otp_login, who):
    if who == "citizen":
        otp_login(PHONE)
    checked = 0
    for path in _html_pages(app):
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        body = response.get_data(as_text=True)
        assert MANIFEST_LINK in body, path
        assert '<script src="/static/js/app.js"' in body and "<script>" not in body, path  # no inline script
        checked += 1
    assert checked >= 10
    missing = client.get("/khong-co-trang-nay")
    assert missing.status_code == 404 and MANIFEST_LINK in missing.get_data(as_text=True)


def test_logout_clears_the_device(citizen):
    response = citizen.post("/dang-xuat")
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


def test_pages_name_the_account_to_the_service_worker_without_naming_it(app, client, otp_login):
    anonymous = client.get("/").get_data(as_text=True)
    assert 'data-user=""' in anonymous
    otp_login(PHONE)
    page = client.get("/").get_data(as_text=True)
    marker = page.split('data-user="', 1)[1].split('"', 1)[0]
    assert len(marker) == 24 and int(marker, 16) >= 0 and PHONE not in marker
    assert marker in client.get("/ban-nhap").get_data(as_text=True)  # stable for the account


BODY = {"type": "pakn", "title": "Cống thoát nước bị vỡ trước trường học", "content": "Nước tràn ra đường.",
        "field": "cap-thoat-nuoc", "ward": 25708, "address": "Đường 30/4", "lat": 11.310123, "lon": 106.098765,
        "sender": {"kind": "individual", "name": "An"}}


def test_api_json_send_keeps_coordinates_and_staff_see_them(citizen, session, clock, make_staff, staff_login):
    response = citizen.post("/api/v1/reports", json=BODY, headers={"Idempotency-Key": "toa-do-1"})
    assert response.status_code == 201, response.get_json()
    report = session.scalar(select(Report).where(Report.code == response.get_json()["code"]))
    assert (report.lat, report.lon) == (pytest.approx(11.310123), pytest.approx(106.098765))
    officer = staff_login(make_staff("canbo-toado"))
    page = officer.get(f"/can-bo/pakn/{report.code}").get_data(as_text=True)
    assert "Tọa độ" in page and "11.310123, 106.098765" in page


def test_api_multipart_send_keeps_coordinates(citizen, session, clock):
    data = {k: str(v) for k, v in BODY.items() if k != "sender"}
    data.update(sender_kind="individual", sender_name="An")
    data["files"] = [(io.BytesIO(_jpeg()), "anh.jpg")]
    response = citizen.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                            headers={"X-Requested-With": "fetch", "Idempotency-Key": "toa-do-2"})
    assert response.status_code == 201, response.get_json()
    report = session.scalar(select(Report).where(Report.code == response.get_json()["code"]))
    assert report.lat == pytest.approx(11.310123) and report.lon == pytest.approx(106.098765)


@pytest.mark.parametrize(("lat", "lon", "field"), [(48.85, 2.35, "lat"), ("bac", 106.1, "lat"), (11.3, None, "lat")])
def test_api_refuses_bad_coordinates(citizen, clock, lat, lon, field):
    body = dict(BODY, lat=lat, lon=lon)
    response = citizen.post("/api/v1/reports", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()
