"""The installable app in real Chromium: the manifest and service worker, a report typed offline kept
as a draft (with a downscaled photo and the current position) that survives a reload and is sent
exactly once when the connection returns, logout clearing the device, the leader approving a warning
at 390 px from the app's shortcut, and axe-core on the new pages."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE_WIDTH, SHOTS, open_user_menu
from tests.e2e.test_accessibility import Scans
from tests.e2e.test_login_e2e import login_by_otp
from tests.e2e.test_send_e2e import assert_fits
from tests.e2e.test_workflow_e2e import people, staff_page  # noqa: F401 - `people` is a fixture

TITLE = "Ngập sâu trước cổng chợ Trảng Bàng sau mưa lớn"
POSITION = {"latitude": 11.031234, "longitude": 106.359876}


@pytest.fixture
def phone(browser, request):
    """A page at 390 px in its own context that may use the position (a phone with GPS on)."""
    context = browser.new_context(locale="vi-VN", viewport=PHONE_WIDTH, geolocation=POSITION,
                                  permissions=["geolocation"], service_workers="allow")
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"app-{name}.png"), full_page=True)


def poll(page, script: str, arg=None, timeout: float = 15.0) -> None:
    """Wait until ``script`` (a JS function of ``arg``, may return a promise) is truthy.

    Polled from Python: Playwright's wait_for_function evaluates strings, which the page's CSP
    (no 'unsafe-eval') refuses for predicates returning promises; page.evaluate is not affected."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(script, arg):
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {script[:120]}")


def wait_for_worker(page) -> None:
    """The service worker is installed, active and controls the page."""
    poll(page, "() => document.documentElement.dataset.sw === 'ready' && navigator.serviceWorker.controller !== null")


def cache_keys(page) -> list[str]:
    return page.evaluate("caches.keys()")


def wait_for_user_cache(page, *paths: str) -> None:
    poll(page,
        """paths => caches.keys().then(keys => {
              const name = keys.find(k => k.startsWith('pakn-user-'));
              if (!name) return false;
              return caches.open(name).then(c => Promise.all(paths.map(p => c.match(p))))
                  .then(hits => hits.every(Boolean));
           })""", list(paths))


def served_paths(server) -> list[str]:
    """From now on, every path the server answers is appended to the list returned (to prove that
    what the offline browser showed came from the device, not the network)."""
    seen: list[str] = []
    inner = server.app.wsgi_app

    def recording(environ, start_response):
        seen.append(environ.get("PATH_INFO", ""))
        return inner(environ, start_response)

    server.app.wsgi_app = recording
    return seen


def drafts_in_db(page) -> int:
    return page.evaluate("PaknDrafts.list().then(d => d.length)")


def reports(server, title: str) -> list:
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.reports.models import Report

    with server.app.app_context():
        rows = db.session.scalars(select(Report).where(Report.title == title)).all()
        return [(r.code, r.lat, r.lon, [(a.filename, a.stored_name) for a in r.attachments]) for r in rows]


def test_manifest_and_service_worker_install(live_server, phone):
    base = live_server.url
    phone.goto(f"{base}/")
    href = phone.get_attribute("link[rel=manifest]", "href")
    manifest = phone.request.get(base + href).json()
    assert manifest["name"] == "1022 — Phản ánh kiến nghị" and manifest["display"] == "standalone"
    assert phone.request.get(base + manifest["start_url"]).ok
    for icon in manifest["icons"]:
        assert phone.request.get(base + icon["src"]).headers["content-type"] == "image/png"
    wait_for_worker(phone)
    assert phone.evaluate("navigator.serviceWorker.controller.scriptURL") == f"{base}/sw.js"
    assert "pakn-shell-v1" in cache_keys(phone)
    # The shared cache holds the anonymous shell and static files, nothing of anyone's account.
    kept = phone.evaluate("caches.open('pakn-shell-v1').then(c => c.keys()).then(r => r.map(x => x.url))")
    assert f"{base}/ngoai-tuyen" in kept and f"{base}/static/css/app.css" in kept
    assert not any("/pakn-cua-toi" in u or "/gui-phan-anh" in u for u in kept)
    # Chromium's own verdict: the manifest parses without errors and the app is installable.
    cdp = phone.context.new_cdp_session(phone)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["url"] == f"{base}/manifest.webmanifest" and parsed["errors"] == [], parsed["errors"]
    errors = [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
    # Playwright's contexts are incognito profiles, where Chromium never installs; that is the only
    # objection allowed (a bad manifest, icon or service worker would be listed here too).
    assert [e for e in errors if e != "in-incognito"] == [], errors


def test_offline_report_is_a_draft_then_sent_exactly_once(live_server, phone, tmp_path):
    base = live_server.url
    big = tmp_path / "anh-ngap.png"
    Image.new("RGB", (3200, 2400), (30, 90, 200)).save(big, "PNG")  # a phone camera's size
    phone.goto(f"{base}/dang-nhap")
    login_by_otp(phone, live_server, "0912 000 555")
    phone.wait_for_url(f"{base}/**")
    phone.goto(f"{base}/gui-phan-anh")
    wait_for_worker(phone)
    wait_for_user_cache(phone, "/gui-phan-anh", "/ban-nhap", "/pakn-cua-toi")
    shared = phone.evaluate("caches.open('pakn-shell-v1').then(c => c.keys()).then(r => r.map(x => x.url))")
    assert not any(re.search(r"/(gui-phan-anh|pakn-cua-toi)", u) for u in shared)  # never in the shared cache

    # No signal: the form opens from the device, with the banner.
    phone.context.set_offline(True)
    seen = served_paths(live_server)
    assert phone.reload().from_service_worker
    expect(phone.locator("#offline-banner")).to_be_visible()
    expect(phone.locator("#offline-banner")).to_contain_text("Đang ngoại tuyến")
    expect(phone.locator("h1")).to_have_text("Gửi phản ánh kiến nghị")
    shot(phone, "offline-send-form")
    phone.get_by_label("Tiêu đề").fill(TITLE)
    phone.get_by_label("Nội dung").fill("Nước ngập sâu 40 cm trước chợ, xe máy chết máy hàng loạt.")
    phone.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    phone.locator("#region").select_option("25708")
    phone.get_by_label("Địa chỉ cụ thể").fill("Số 15 đường Trưng Nữ Vương")
    phone.get_by_label("Họ và tên người gửi").fill("Trần Văn Bình")
    phone.locator("details.advanced summary").click()
    phone.get_by_role("button", name="Dùng vị trí hiện tại").click()
    expect(phone.get_by_label("Vĩ độ")).to_have_value("11.031234")
    expect(phone.get_by_label("Kinh độ")).to_have_value("106.359876")
    phone.get_by_label("Tệp đính kèm (ảnh, PDF, Word, Excel)").set_input_files(str(big))
    poll(phone, "() => document.getElementById('files').dataset.resized === '1'")
    assert_fits(phone)
    phone.get_by_role("button", name="Gửi phản ánh").click()

    phone.wait_for_url("**/ban-nhap?da-luu=1")
    expect(phone.locator("#draft-saved")).to_be_visible()
    expect(phone.locator("#draft-saved")).to_contain_text("phản ánh đã được lưu làm bản nháp")
    expect(phone.locator("#drafts-waiting li")).to_have_count(1)
    expect(phone.locator("#drafts-waiting li h3")).to_have_text(TITLE)
    expect(phone.locator("#drafts-waiting li")).to_contain_text("Số ảnh: 1")
    shot(phone, "offline-draft")
    assert reports(live_server, TITLE) == []

    # The draft survives a reload (still offline), read back from IndexedDB.
    phone.reload()
    expect(phone.locator("#drafts-waiting li h3")).to_have_text(TITLE)
    assert drafts_in_db(phone) == 1
    assert reports(live_server, TITLE) == []
    assert seen == [], seen  # everything while offline came from the device

    # Back online: sent once (Background Sync and the page may both try; the key keeps one report).
    phone.context.set_offline(False)
    code_link = phone.locator("#drafts-sent a.code")
    expect(code_link).to_have_count(1, timeout=20000)
    code = code_link.inner_text()
    assert re.fullmatch(r"PA-\w{4}-\w{4}", code), code
    expect(phone.locator("#app-notice")).to_contain_text(code)
    expect(phone.locator("#drafts-waiting li")).to_have_count(0)
    expect(phone.locator("#offline-banner")).to_be_hidden()
    shot(phone, "draft-sent")
    phone.reload()  # a visit after the send tries the (now empty) drafts again: nothing more is sent
    expect(phone.locator("#drafts-sent a.code")).to_have_text(code)
    phone.wait_for_timeout(1000)
    sent = reports(live_server, TITLE)
    assert len(sent) == 1, sent
    got_code, lat, lon, attachments = sent[0]
    assert got_code == code
    assert (lat, lon) == (pytest.approx(11.031234), pytest.approx(106.359876))
    assert len(attachments) == 1 and attachments[0][0] == "anh-ngap.jpg"
    # The photo was downscaled on the device (3200 px wide on the camera, at most 1600 px sent).
    response = phone.request.get(f"{base}/pakn-cua-toi/{code}")
    assert response.ok
    href = re.search(r'href="(/tep/\d+)">anh-ngap\.jpg<', response.text())
    photo = phone.request.get(base + href.group(1))
    assert photo.ok and photo.headers["content-type"] == "image/jpeg"
    with Image.open(BytesIO(photo.body())) as img:
        assert max(img.size) == 1600, img.size

    phone.get_by_role("link", name=code).click()
    phone.wait_for_url(f"**/da-gui/{code}")
    expect(phone.locator(".tracking-code")).to_have_text(code)


def test_logout_clears_personal_caches_and_drafts(live_server, phone):
    base = live_server.url
    phone.goto(f"{base}/dang-nhap")
    login_by_otp(phone, live_server, "0912 000 666")
    phone.wait_for_url(f"{base}/**")
    phone.goto(f"{base}/pakn-cua-toi")
    wait_for_worker(phone)
    wait_for_user_cache(phone, "/pakn-cua-toi", "/gui-phan-anh")
    fd = "(() => { const f = new FormData(); f.append('title', 'Bản nháp riêng'); return f; })()"
    phone.evaluate(f"PaknDrafts.saveForm({fd}, 'pakn')")
    assert drafts_in_db(phone) == 1

    open_user_menu(phone).get_by_role("button", name="Đăng xuất").click()  # opens the phone menu too
    expect(phone.locator("main")).to_contain_text("Bạn đã đăng xuất.")
    poll(phone, "() => document.documentElement.dataset.sw === 'ready'")
    assert not [k for k in cache_keys(phone) if k.startswith("pakn-user-")]
    poll(phone, "() => window.PaknDrafts !== undefined")
    assert drafts_in_db(phone) == 0
    # Offline, "PAKN của tôi" is no longer on the device: the offline page answers, not the list.
    phone.context.set_offline(True)
    phone.goto(f"{base}/pakn-cua-toi")
    expect(phone.locator("h1")).to_have_text("Đang ngoại tuyến")
    expect(phone.locator("main")).not_to_contain_text("Bản nháp riêng")


def test_leader_approves_a_warning_at_390px_from_the_app(live_server, new_page, people):  # noqa: F811
    officer = staff_page(new_page, live_server, "tn-canbo", people)
    officer.goto(f"{live_server.url}/can-bo/canh-bao/moi")
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    officer.get_by_label("Tiêu đề").fill("Sạt lở bờ kênh Tây, tạm cấm xe tải")
    officer.get_by_label("Nội dung").fill("Xe trên 5 tấn đi đường vòng qua cầu Gò Chai.")
    officer.get_by_label("Toàn tỉnh").check()
    officer.get_by_label("Bắt đầu (giờ Việt Nam)").fill((datetime.now(tz) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    officer.get_by_label("Kết thúc (giờ Việt Nam)").fill((datetime.now(tz) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    officer.get_by_role("button", name="Lưu và gửi duyệt").click()
    assert "Đã gửi cảnh báo để lãnh đạo duyệt." in officer.content()

    leader = staff_page(new_page, live_server, "tn-lanhdao", people, PHONE_WIDTH)  # password + TOTP
    wait_for_worker(leader)
    manifest = leader.request.get(live_server.url + "/manifest.webmanifest").json()
    shortcut = next(s for s in manifest["shortcuts"] if s["name"] == "Cảnh báo chờ duyệt")
    leader.goto(live_server.url + shortcut["url"])  # what the home-screen shortcut opens
    expect(leader.locator("main")).to_contain_text("Sạt lở bờ kênh Tây, tạm cấm xe tải")
    assert_fits(leader)
    shot(leader, "leader-queue")
    # Staff pages are never kept on the device.
    kept = leader.evaluate("""caches.keys().then(ks => Promise.all(ks.map(k => caches.open(k).then(c => c.keys()))))
                                .then(all => all.flat().map(r => r.url))""")
    assert not [u for u in kept if "/can-bo/" in u], kept
    approve = leader.get_by_role("button", name="Duyệt", exact=True)
    box = approve.bounding_box()
    assert box["x"] + box["width"] <= PHONE_WIDTH["width"], box
    approve.click()
    assert "Đã duyệt cảnh báo." in leader.content()
    assert_fits(leader)


def test_new_pages_are_accessible(live_server, phone):
    base = live_server.url
    scans = Scans(phone)
    phone.goto(f"{base}/ngoai-tuyen")
    scans.check("ngoai-tuyen")
    phone.goto(f"{base}/dang-nhap")
    login_by_otp(phone, live_server, "0912 000 888")
    phone.wait_for_url(f"{base}/**")
    phone.goto(f"{base}/gui-phan-anh")
    wait_for_worker(phone)
    phone.locator("details.advanced summary").click()
    expect(phone.get_by_role("button", name="Dùng vị trí hiện tại")).to_be_visible()
    scans.check("gui-phan-anh (vị trí)")
    phone.evaluate("PaknDrafts.saveForm((() => { const f = new FormData(); f.append('title', 'Đèn đường hỏng'); "
                   "return f; })(), 'pakn')")
    phone.goto(f"{base}/ban-nhap")
    expect(phone.locator("#drafts-waiting li")).to_have_count(1)
    scans.check("ban-nhap")
    phone.context.set_offline(True)
    phone.reload()
    expect(phone.locator("#offline-banner")).to_be_visible()
    scans.check("ban-nhap (ngoại tuyến)")
    shot(phone, "drafts-offline")
    scans.assert_clean()


def test_a_refused_draft_opens_in_the_form_and_is_sent_once(live_server, phone, tmp_path):
    """A draft the server refuses (no sender name) keeps the server's message; "Mở để sửa" fills the
    form with its fields and photo, and sending it leaves one report and no draft."""
    base = live_server.url
    photo = tmp_path / "anh.jpg"
    Image.new("RGB", (200, 150), (200, 60, 30)).save(photo, "JPEG")
    phone.goto(f"{base}/dang-nhap")
    login_by_otp(phone, live_server, "0912 000 999")
    phone.wait_for_url(f"{base}/**")
    phone.goto(f"{base}/gui-phan-anh")
    wait_for_worker(phone)
    wait_for_user_cache(phone, "/gui-phan-anh", "/ban-nhap")
    phone.context.set_offline(True)
    phone.reload()
    phone.get_by_label("Tiêu đề").fill(TITLE)
    phone.get_by_label("Nội dung").fill("Nước ngập sâu 40 cm trước chợ, xe máy chết máy hàng loạt.")
    phone.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    phone.locator("#region").select_option("25708")
    phone.get_by_label("Địa chỉ cụ thể").fill("Số 15 đường Trưng Nữ Vương")
    phone.get_by_label("Tệp đính kèm (ảnh, PDF, Word, Excel)").set_input_files(str(photo))
    phone.get_by_role("button", name="Gửi phản ánh").click()  # no sender name: the server will refuse
    phone.wait_for_url("**/ban-nhap?da-luu=1")
    phone.context.set_offline(False)
    draft = phone.locator("#drafts-waiting li")
    expect(draft).to_contain_text("Chưa gửi được: Vui lòng nhập họ và tên.", timeout=20000)
    assert reports(live_server, TITLE) == []

    draft.get_by_role("link", name=f"Mở để sửa: {TITLE}").click()
    phone.wait_for_url("**/gui-phan-anh?ban-nhap=*")
    expect(phone.get_by_label("Tiêu đề")).to_have_value(TITLE)
    expect(phone.locator("#region")).to_have_value("25708")
    poll(phone, "() => document.getElementById('files').files.length === 1")
    phone.get_by_label("Họ và tên người gửi").fill("Trần Văn Bình")
    phone.get_by_role("button", name="Gửi phản ánh").click()
    phone.wait_for_url("**/da-gui/*")
    code = phone.locator(".tracking-code").inner_text().strip()
    sent = reports(live_server, TITLE)
    assert [r[0] for r in sent] == [code] and len(sent[0][3]) == 1
    phone.goto(f"{base}/ban-nhap")
    expect(phone.locator("#drafts-empty")).to_be_visible()
    assert drafts_in_db(phone) == 0


def test_a_send_that_fails_on_the_network_becomes_a_draft(live_server, phone):
    """Online, but the send's request dies on the way (one bar of signal): the service worker keeps
    the posted form as a draft instead of the browser's error page, and it is sent once later."""
    base = live_server.url
    phone.goto(f"{base}/dang-nhap")
    login_by_otp(phone, live_server, "0912 000 321")
    phone.wait_for_url(f"{base}/**")
    phone.goto(f"{base}/gui-phan-anh")
    wait_for_worker(phone)
    wait_for_user_cache(phone, "/gui-phan-anh", "/ban-nhap")
    title = "Mất điện cả khu phố 3 từ sáng"
    phone.get_by_label("Tiêu đề").fill(title)
    phone.get_by_label("Nội dung").fill("Cả khu phố mất điện từ 6 giờ sáng, chưa có thông báo.")
    phone.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    phone.locator("#region").select_option("25708")
    phone.get_by_label("Địa chỉ cụ thể").fill("Khu phố 3")
    phone.get_by_label("Họ và tên người gửi").fill("Lê Thị Hạnh")
    # Only the service worker's own forward of the form post fails, as a dropped connection would.
    phone.context.route(f"{base}/gui-phan-anh",
                        lambda route: route.abort("internetdisconnected") if route.request.method == "POST"
                        else route.continue_())
    phone.get_by_role("button", name="Gửi phản ánh").click()
    phone.wait_for_url("**/ban-nhap?da-luu=1")
    expect(phone.locator("#draft-saved")).to_be_visible()
    # The connection is back (the API is reachable): the page sends the draft at once, exactly once.
    expect(phone.locator("#drafts-sent a.code")).to_have_count(1, timeout=20000)
    expect(phone.locator("#drafts-waiting li")).to_have_count(0)
    code = phone.locator("#drafts-sent a.code").inner_text()
    phone.reload()
    phone.wait_for_timeout(1000)
    assert [r[0] for r in reports(live_server, title)] == [code]
