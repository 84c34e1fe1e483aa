"""End-to-end fixtures: the portal served for real on loopback, and headless Chromium (Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
SHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE_WIDTH = {"width": 390, "height": 844}
# `@WIDTHS` on a test using `page` runs it once at desktop and once at phone width.
WIDTHS = pytest.mark.parametrize("page", [DESKTOP, PHONE_WIDTH], indirect=True, ids=["desktop", "phone"])


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (CI installs it in .ci/run)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def make_app(instance: Path):
    """The real app on a fresh SQLite file, migrated (file SMS backend, jobs in a background thread)."""
    from flask_migrate import upgrade

    from webapp import create_app

    app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "e2e-secret",
                      "INDEXER_INLINE": True, "INDEXER_SWEEP_SECONDS": 1, "RATE_LIMITS": False,
                      "TESTING": True})
    with app.app_context():
        upgrade()
    return app


@contextmanager
def serve(app) -> Iterator:
    """``app`` served on a free loopback port for the duration of the block (``server.url``)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.app = app
    server.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server
    finally:
        server.shutdown()
        # No thread of this app may outlive it: later tests swap the shared db.session.
        runner = app.extensions.get("pakn_indexer")
        if runner is not None:
            runner.stop()
        from webapp.jobs import _executor

        _executor.submit(lambda: None).result(timeout=10)


@pytest.fixture
def live_server(tmp_path):
    """The real app (SQLite file, file SMS backend, jobs in a background thread) on a free port."""
    with serve(make_app(tmp_path / "instance")) as server:
        yield server


def _shot_name(node_name: str, index: int) -> str:
    safe = re.sub(r"[^\w.-]+", "_", node_name).strip("_")
    return f"{safe}.png" if index == 0 else f"{safe}-{index}.png"


def _screenshot_on_failure(request, pages: list) -> None:
    failed = getattr(request.node, "rep_call", None)
    if failed is None or not failed.failed:
        return
    SHOTS.mkdir(exist_ok=True)
    for index, pg in enumerate(pages):
        try:
            pg.screenshot(path=str(SHOTS / _shot_name(request.node.name, index)), full_page=True)
        except Exception as exc:  # noqa: BLE001 - a closed page must not hide the test's own failure
            print(f"screenshot of page {index} failed: {exc}")


@pytest.fixture
def new_page(browser, request) -> Iterator[Callable[..., object]]:
    """A factory of pages, each in its own browser context (own cookies): ``new_page(viewport)``.

    Every page made is screenshotted when the test fails (tests/e2e/screenshots/<test>-<n>.png).
    """
    pages: list = []
    contexts: list = []

    def make(viewport: dict | None = None):
        context = browser.new_context(locale="vi-VN", viewport=viewport or DESKTOP, accept_downloads=True)
        contexts.append(context)
        pg = context.new_page()
        pages.append(pg)
        return pg

    yield make
    _screenshot_on_failure(request, pages)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page, request):
    """One page at desktop width, or at the viewport given by indirect parametrization."""
    return new_page(getattr(request, "param", None) or DESKTOP)


def is_phone(page) -> bool:
    return page.viewport_size["width"] < 860


def open_menu(page):
    """The main navigation, opened first at phone width where it is behind the Menu button."""
    if is_phone(page):
        page.get_by_text("Menu").click()
    return page.get_by_role("navigation", name="Điều hướng chính")


def open_user_menu(page):
    """The logged-in user's menu (PAKN của tôi, Tìm kiếm đã lưu, Khu vực cán bộ, Đăng xuất), opened."""
    nav = open_menu(page)
    nav.locator(".user-menu summary").click()
    return nav.locator(".user-menu")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
