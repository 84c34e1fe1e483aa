"""Accessibility in real Chromium: axe-core on the public pages and the send form (desktop and phone
width), every form control named in Vietnamese, and the send form used with the keyboard alone.

axe-core is vendored in tests/e2e/vendor/axe-core (see its README); nothing is downloaded. It is
evaluated through the DevTools protocol rather than added as a <script> tag, so the page keeps its
real Content-Security-Policy (``script-src 'self'`` refuses inline scripts) while it is checked.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import DESKTOP, PHONE_WIDTH, is_phone
from tests.e2e.test_login_e2e import login_by_otp, wait_for_code

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]
# WCAG 2.0/2.1 A and AA, plus Deque's best practices (landmarks, one h1, heading order, region,
# unique landmark names...): they are cheap to meet here and they are what a screen-reader user
# navigates by. Only serious and critical findings fail the build; minor/moderate ones are printed.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}


# -- helpers ------------------------------------------------------------------------------------
def inject_axe(page) -> None:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))


def axe_run(page) -> list[dict]:
    """axe's violations on the current page (every impact)."""
    inject_axe(page)
    return page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
                .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    helpUrl: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target.join(' '),
                    summary: n.failureSummary, html: n.html.slice(0, 160)}))})))""",
        AXE_TAGS)


def describe(where: str, violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{where}] {v['impact']}: {v['id']} — {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}  {node['html']}\n        {summary[:300]}")
    return "\n".join(lines)


class Scans:
    """Collects axe results over several pages; fails once, listing everything that must be fixed."""

    def __init__(self, page) -> None:
        self.page, self.serious, self.minor = page, [], []

    def check(self, where: str) -> None:
        # axe checks that a lang exists and is valid; the portal's default language must be the one named.
        assert self.page.get_attribute("html", "lang") == "vi", f"[{where}] <html lang> is not 'vi'"
        violations = axe_run(self.page)
        self.serious += [(where, v) for v in violations if v["impact"] in FAILING_IMPACTS]
        self.minor += [(where, v) for v in violations if v["impact"] not in FAILING_IMPACTS]

    def assert_clean(self) -> None:
        if self.minor:  # shown with -s or on failure; not a failure
            print("\n".join(describe(w, [v]) for w, v in self.minor))
        assert not self.serious, "serious/critical accessibility violations:\n" + "\n".join(
            describe(w, [v]) for w, v in self.serious)


def wait_until_searchable(page, base: str, query: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(f"{base}/tra-cuu?q={query}")
        if page.locator(".result").count():
            return
        time.sleep(0.5)
    raise AssertionError(f"nothing indexed for {query!r}")


def login(page, server, phone: str = "0912 000 555") -> None:
    page.goto(f"{server.url}/dang-nhap")
    login_by_otp(page, server, phone)
    page.wait_for_url(f"{server.url}/")


# -- data ---------------------------------------------------------------------------------------
@pytest.fixture
def portal(live_server):
    """The portal with demo data (answered, published reports, ideas) and a warning in force."""
    from sqlalchemy import select

    from webapp.auth.models import Unit, User, UserKind
    from webapp.demo.seed import seed
    from webapp.extensions import db
    from webapp.reports.models import Report
    from webapp.warnings.models import PublicWarning, WarningLevel, WarningState

    with live_server.app.app_context():
        seed(count=40, echo=lambda *_: None)
        staff = db.session.scalar(select(User).where(User.kind == UserKind.STAFF))
        unit = db.session.scalar(select(Unit).where(Unit.is_intake.is_(True)))
        now = datetime.now(UTC)
        db.session.add(PublicWarning(
            unit=unit, title="Triều cường dâng cao khu vực ven sông Vàm Cỏ Đông", content="Người dân chủ động.",
            level=WarningLevel.DANGER, whole_province=True, starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=6), state=WarningState.APPROVED, created_by_id=staff.id,
            approved_by_id=staff.id))
        db.session.commit()
        answered = db.session.scalar(select(Report.code).where(Report.published.is_(True),
                                                              Report.status == "answered",
                                                              Report.confidential.is_(False)).limit(1))
    assert answered, "the demo data has no published answer to show"
    live_server.answered_code = answered
    return live_server


# -- axe ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", WIDTHS, indirect=True)
def test_public_pages_have_no_serious_axe_violations(portal, page):
    base, scans = portal.url, Scans(page)
    page.goto(f"{base}/")
    scans.check("home")
    if is_phone(page):
        page.get_by_text("Menu").click()
        scans.check("home, menu open")

    wait_until_searchable(page, base, "ngap")
    page.goto(f"{base}/tra-cuu")
    scans.check("Tra cứu")
    page.goto(f"{base}/tra-cuu?q=ngap")
    scans.check("Tra cứu ?q=ngap (results)")
    page.goto(f"{base}/tra-cuu?q=zzqqxx")
    scans.check("Tra cứu, no result")
    page.goto(f"{base}/tra-cuu")
    page.locator("details.advanced summary").click()
    scans.check("Tra cứu, advanced filters open")
    page.goto(f"{base}/tra-cuu?q=ngap&type=pakn&from=2025-13-40")
    scans.check("Tra cứu, filter error")
    page.goto(f"{base}/tra-cuu")
    page.get_by_label("Tìm theo số điện thoại người gửi").fill("0912 345 678")
    page.get_by_role("button", name="Tìm theo số").click()
    page.wait_for_selector("#results-title")
    scans.check("Tra cứu by phone (POST)")

    page.goto(f"{base}/pakn/{portal.answered_code}")
    scans.check("public report (answered)")

    page.goto(f"{base}/dang-nhap")
    scans.check("login")
    page.get_by_label("Số điện thoại").fill("12345")
    page.get_by_role("button", name="Nhận mã qua SMS").click()
    page.wait_for_selector("#phone-error")
    scans.check("login, error")
    page.get_by_label("Số điện thoại").fill("0912 000 666")
    page.get_by_role("button", name="Nhận mã qua SMS").click()
    page.wait_for_url("**/dang-nhap/ma")
    scans.check("login, code")
    wait_for_code(Path(portal.app.config["SMS_FILE_PATH"]), "0912000666")
    scans.assert_clean()


@pytest.mark.parametrize("page", WIDTHS, indirect=True)
def test_send_form_has_no_serious_axe_violations(live_server, page):
    base, scans = live_server.url, Scans(page)
    login(page, live_server)
    page.goto(f"{base}/gui-phan-anh")
    scans.check("send")
    page.locator("details.advanced summary").click()
    scans.check("send, location open")
    page.get_by_label("Họ và tên người gửi").fill("")
    page.get_by_label("Email").fill("khong-phai-email")
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_selector("#error-summary")
    scans.check("send, errors")
    page.get_by_label("Tiêu đề").fill("Cống thoát nước bị tắc trước nhà văn hóa")
    page.get_by_label("Nội dung").fill("Nước đọng thành vũng sau mỗi cơn mưa, bốc mùi hôi.")
    page.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    page.locator("#region").select_option("25708")
    page.get_by_label("Địa chỉ cụ thể").fill("Số 2 đường Hùng Vương")
    page.get_by_label("Họ và tên người gửi").fill("Phạm Văn Long")
    page.get_by_label("Email").fill("")
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_url("**/da-gui/*")
    scans.check("sent")
    page.goto(f"{base}/gui-hien-ke")
    scans.check("send idea")
    scans.assert_clean()


@pytest.mark.parametrize("page", WIDTHS, indirect=True)
def test_send_form_verifying_a_phone_has_no_serious_axe_violations(live_server, page):
    from tests.e2e.test_send_e2e import fill_report, password_citizen_without_phone

    base, scans = live_server.url, Scans(page)
    password_citizen_without_phone(live_server)
    page.goto(f"{base}/dang-nhap/mat-khau")
    page.get_by_label("Số điện thoại hoặc email").fill("ha@example.vn")
    page.get_by_label("Mật khẩu").fill("Mat-khau-rat-kho-2026")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/gui-phan-anh")
    scans.check("send, phone not verified")
    fill_report(page)
    page.get_by_label("Số điện thoại", exact=True).fill("0912 000 889")
    page.get_by_role("button", name="Gửi mã xác thực").click()
    page.wait_for_selector("#phone_code")
    scans.check("send, code sent")
    page.get_by_label("Mã xác thực (6 chữ số)").fill("12")
    page.get_by_role("button", name="Xác thực số điện thoại").click()
    page.wait_for_selector("#phone_code-error")
    scans.check("send, wrong code")
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_selector("#error-summary")
    scans.check("send, phone not verified, errors")
    scans.assert_clean()


# -- every control named, in Vietnamese ------------------------------------------------------------
CONTROLS_JS = """() => {
  axe.setup(document);
  try {
    return Array.from(document.querySelectorAll('input, select, textarea, button')).filter(el =>
        // shown (a closed <details> hides its content without display:none); opacity 0 counts as
        // shown: the phone's Menu checkbox is invisible but focusable, so it needs a name too
        el.type !== 'hidden' && el.checkVisibility({visibilityProperty: true})
    ).map(el => {
      const sources = [];
      if (el.labels && el.labels.length) sources.push('label');
      if ((el.getAttribute('aria-label') || '').trim()) sources.push('aria-label');
      if ((el.getAttribute('aria-labelledby') || '').trim()) sources.push('aria-labelledby');
      if (el.tagName === 'BUTTON' && el.textContent.trim()) sources.push('content');
      return {control: el.tagName.toLowerCase() + (el.id ? '#' + el.id : el.name ? '[name=' + el.name + ']'
                       : ' "' + el.textContent.trim().slice(0, 40) + '"'),
              name: axe.commons.text.accessibleText(el).trim(), sources};
    });
  } finally { axe.teardown(); }
}"""
# Letters only Vietnamese writes (tone marks, ă â đ ê ô ơ ư): a name with one of them is Vietnamese text.
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.I)
# Names without such a letter that are nonetheless the Vietnamese UI's own words (loanwords the
# Vietnamese interface uses as such); anything else without one is taken for English.
LOANWORDS = {"Email", "Menu"}


def english_strings() -> set[str]:
    """Every English translation that differs from its Vietnamese original (a leak if shown in vi)."""
    from babel.messages.pofile import read_po

    po = Path(__file__).parents[2] / "webapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    return {m.string for m in catalog if m.id and isinstance(m.string, str) and m.string and m.string != m.id}


def unnamed_or_not_vietnamese(page, where: str, english: set[str]) -> list[str]:
    inject_axe(page)
    problems = []
    controls = page.evaluate(CONTROLS_JS)
    assert controls, f"[{where}] no form control found"
    for c in controls:
        name = c["name"]
        if not c["sources"]:
            problems.append(f"[{where}] {c['control']}: no label, aria-label or aria-labelledby (name {name!r})")
        elif not name:
            problems.append(f"[{where}] {c['control']}: empty accessible name")
        elif not (VIETNAMESE.search(name) or name in LOANWORDS) or name in english:
            problems.append(f"[{where}] {c['control']}: name {name!r} is not Vietnamese")
    return problems


@pytest.mark.parametrize("page", WIDTHS, indirect=True)
def test_every_form_control_is_named_in_vietnamese(portal, page):
    base, english, problems = portal.url, english_strings(), []
    page.goto(f"{base}/dang-nhap")
    problems += unnamed_or_not_vietnamese(page, "login", english)
    page.get_by_label("Số điện thoại").fill("0912 000 999")
    page.get_by_role("button", name="Nhận mã qua SMS").click()
    page.wait_for_url("**/dang-nhap/ma")
    problems += unnamed_or_not_vietnamese(page, "login code", english)
    page.get_by_label("Mã xác thực (6 chữ số)").fill(
        wait_for_code(Path(portal.app.config["SMS_FILE_PATH"]), "0912000999"))
    page.get_by_role("button", name="Xác nhận").click()
    page.wait_for_url(f"{base}/")

    wait_until_searchable(page, base, "ngap")
    page.locator("details.advanced summary").click()
    problems += unnamed_or_not_vietnamese(page, "Tra cứu with results, advanced open", english)
    page.get_by_label("Tìm theo số điện thoại người gửi").fill("0912 345 678")
    page.get_by_role("button", name="Tìm theo số").click()
    page.locator("details.advanced summary").click()
    problems += unnamed_or_not_vietnamese(page, "Tra cứu by phone", english)

    for path in ("/gui-phan-anh", "/gui-hien-ke"):
        page.goto(f"{base}{path}")
        page.locator("details.advanced summary").click()
        problems += unnamed_or_not_vietnamese(page, path, english)
    page.get_by_label("Tiêu đề").fill("Hỏng")
    page.get_by_role("button", name="Gửi hiến kế").click()
    page.wait_for_selector("#error-summary")
    page.locator("details.advanced summary").click()
    problems += unnamed_or_not_vietnamese(page, "send idea, errors", english)
    assert not problems, "\n".join(problems)


# -- the send form with the keyboard alone -----------------------------------------------------------
FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  // The phone's Menu checkbox is drawn by its label (the checkbox itself has opacity 0).
  const drawn = el.id === 'menu-toggle' ? document.querySelector('label[for=menu-toggle]') : el;
  const style = getComputedStyle(drawn), box = drawn.getBoundingClientRect();
  return {id: el.id, tag: el.tagName.toLowerCase(), text: (el.innerText || el.value || '').trim().slice(0, 40),
          focusVisible: el.matches(':focus-visible'), outline: style.outlineStyle,
          outlineWidth: parseFloat(style.outlineWidth) || 0, onScreen: box.width > 0 && box.height > 0
          && box.bottom > 0 && box.right > 0 && box.top < innerHeight && box.left < innerWidth};
}"""


class Keyboard:
    """Moves through the page with Tab only, checking that every stop shows where the focus is."""

    def __init__(self, page) -> None:
        self.page, self.stops = page, []

    def focused(self) -> dict | None:
        return self.page.evaluate(FOCUSED_JS)

    def tab_to(self, element_id: str, most: int = 6) -> None:
        """Tab (at most ``most`` presses) until the element with ``element_id`` has the focus."""
        for _ in range(most):
            self.page.keyboard.press("Tab")
            now = self.focused()
            assert now is not None, f"the focus left the page on the way to #{element_id}: {self.stops[-5:]}"
            self.stops.append(now)
            assert now["focusVisible"] and now["outline"] != "none" and now["outlineWidth"] >= 2, (
                f"no visible focus ring on {now}")
            assert now["onScreen"], f"the focused element is off screen: {now}"
            if now["id"] == element_id:
                return
        raise AssertionError(f"#{element_id} not reached with {most} Tabs; focus went {self.stops[-most:]}")

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def choose(self, element_id: str, label: str, most: int = 40) -> None:
        """On a focused closed <select>: ArrowDown until the option ``label`` is selected."""
        selected = f"document.getElementById('{element_id}').selectedOptions[0].text"
        for _ in range(most):
            if self.page.evaluate(selected) == label:
                return
            self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"option {label!r} not reached in #{element_id}")


@pytest.mark.parametrize("page", WIDTHS, indirect=True)
def test_send_form_with_the_keyboard_alone(live_server, page):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.reports.models import Report

    login(page, live_server, "0912 000 321")
    page.goto(f"{live_server.url}/gui-phan-anh")
    kb = Keyboard(page)

    # The first Tab shows the skip link, and it leads past the navigation.
    kb.tab_to("", most=1)
    assert kb.stops[-1]["text"] == "Bỏ qua điều hướng"
    kb.tab_to("title", most=12)
    kb.type("Hỏng")  # too short: the form comes back
    kb.tab_to("content")
    kb.type("Đèn đường trước cổng trường tiểu học tắt từ ba hôm nay, buổi tối rất tối.")
    page.keyboard.press("Shift+Tab")  # back to the title, and forward again
    assert page.evaluate("document.activeElement.id") == "title"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "content"
    for _ in range(30):  # the remaining fields up to the send button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    page.keyboard.press("Enter")
    page.wait_for_selector("#error-summary")
    page.wait_for_load_state("load")  # send.js is deferred: it runs once the page is parsed, not when the summary appears

    # Coming back with errors: the focus is on the error summary, an alert that names each problem.
    summary = page.locator("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert summary.get_attribute("role") == "alert"
    assert "Tiêu đề dài 5–300 ký tự." in summary.inner_text()
    assert "Vui lòng chọn lĩnh vực." in summary.inner_text()
    assert page.locator("#title").get_attribute("aria-invalid") == "true"
    assert page.locator("#title-error").inner_text() in page.evaluate(
        "document.getElementById(document.getElementById('title').getAttribute('aria-describedby')).innerText")
    assert page.locator("#content").input_value().startswith("Đèn đường")  # kept
    # Its first link takes the focus to the title, which still holds what was typed.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#title"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "title"
    page.keyboard.press("End")
    kb.type(" đèn đường trước cổng Trường Tiểu học Lê Lợi")

    kb.tab_to("content")
    kb.tab_to("field")
    kb.choose("field", "Giao thông")
    kb.tab_to("region-filter")
    kb.type("Trảng Bàng")
    kb.tab_to("region")
    page.keyboard.press("ArrowDown")  # the first ward left by the filter
    assert page.evaluate("document.getElementById('region').value") == "25708"
    kb.tab_to("address")
    kb.type("Số 7 đường 30 Tháng 4")
    kb.tab_to("sender_kind-0", most=4)  # past "Vị trí trên bản đồ…" and the file input
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("ArrowRight")  # the radios answer the arrow keys: "Tổ chức", then back
    assert page.evaluate("[document.activeElement.id, document.activeElement.checked]") == ["sender_kind-1", True]
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("[document.activeElement.id, document.activeElement.checked]") == ["sender_kind-0", True]
    kb.tab_to("sender_name", most=3)
    kb.type("Lê Thị Mai")
    kb.tab_to("sender_email", most=3)  # past the verified phone number (read-only)
    kb.type("mai.le@example.vn")
    kb.tab_to("confidential", most=3)
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Gửi phản ánh"
    page.keyboard.press("Enter")

    page.wait_for_url("**/da-gui/*")
    code = page.locator(".tracking-code").inner_text().strip()
    assert re.fullmatch(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    with live_server.app.app_context():
        report = db.session.scalar(select(Report).where(Report.code == code))
        assert (report.title, report.field.slug, report.ward_code, report.address) == (
            "Hỏng đèn đường trước cổng Trường Tiểu học Lê Lợi", "giao-thong", 25708, "Số 7 đường 30 Tháng 4")
        assert report.content.startswith("Đèn đường trước cổng trường")
        assert (report.sender_name, report.sender_email, report.sender_phone, report.confidential) == (
            "Lê Thị Mai", "mai.le@example.vn", "0912000321", True)
