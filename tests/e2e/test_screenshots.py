"""The README's screenshots (docs/screenshots/): home, Tra cứu with filters, a public report with its
answer and Tra cứu mã, at 1280 and 390 px. The test takes them on demo data and checks each page
shows what its screenshot is meant to show; ``UPDATE_SCREENSHOTS=1`` writes them into docs/."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE_WIDTH, is_phone
from tests.e2e.test_usability_e2e import answered_portal  # noqa: F401 - the fixture is used by name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def save(page, name: str, tmp_path: Path) -> Path:
    """A viewport screenshot as a small palette PNG (in docs/ with UPDATE_SCREENSHOTS=1)."""
    raw = Image.open(io.BytesIO(page.screenshot(full_page=False)))
    small = raw.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    width = "390" if is_phone(page) else "1280"
    target = (DOCS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path) / f"{name}-{width}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    small.save(target, optimize=True)
    assert target.stat().st_size < 200_000, f"{target.name} is {target.stat().st_size} bytes"
    return target


@pytest.mark.parametrize("page", [DESKTOP, PHONE_WIDTH], indirect=True, ids=["desktop", "phone"])
def test_readme_screenshots(answered_portal, page, tmp_path):  # noqa: F811
    base = answered_portal.url
    code, phone, title, answer = answered_portal.answered

    page.goto(f"{base}/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    save(page, "home", tmp_path)

    for _ in range(40):  # the demo reports are indexed in the background
        page.goto(f"{base}/tra-cuu?q=nuoc&type=pakn")
        if page.locator(".result").count():
            break
        page.wait_for_timeout(500)
    expect(page.locator(".result").first).to_be_visible()
    page.locator("details.advanced summary").click()  # closed: the results and filters in view
    if is_phone(page):
        page.get_by_role("button", name="Bộ lọc (1)").click()
        expect(page.locator("aside.facets")).to_be_visible()
        page.evaluate("window.scrollTo(0, document.querySelector('.filters-button').getBoundingClientRect().top"
                      " + window.scrollY - 12)")
    else:
        page.evaluate("window.scrollTo(0, document.querySelector('.search-layout').getBoundingClientRect().top"
                      " + window.scrollY - 250)")
    save(page, "tra-cuu", tmp_path)

    page.goto(f"{base}/pakn/{code}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    if is_phone(page):
        page.evaluate("window.scrollTo(0, document.querySelector('.answer').getBoundingClientRect().top"
                      " + window.scrollY - 120)")
    expect(page.locator(".answer").first).to_contain_text(answer.strip()[:30])
    save(page, "phan-anh-co-tra-loi", tmp_path)

    page.goto(f"{base}/tra-cuu-ma")
    page.get_by_label("Mã phản ánh").fill(code)
    page.get_by_label("Số điện thoại người gửi").fill(phone)
    page.get_by_role("button", name="Tra cứu", exact=True).click()
    expect(page.locator(".lookup-result")).to_contain_text("Đã trả lời")
    if is_phone(page):
        page.evaluate("window.scrollTo(0, document.querySelector('.lookup-result').getBoundingClientRect().top"
                      " + window.scrollY - 12)")
    save(page, "tra-cuu-ma", tmp_path)
