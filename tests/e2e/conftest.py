"""End-to-end fixtures: the portal served for real on loopback, and headless Chromium (Playwright)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
SHOTS = Path(__file__).parent / "screenshots"


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


@pytest.fixture
def live_server(tmp_path):
    """The real app (SQLite file, file SMS backend, jobs in a background thread) on a free port."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from webapp import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "e2e-secret",
                      "INDEXER_INLINE": True, "INDEXER_SWEEP_SECONDS": 1, "RATE_LIMITS": False})
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.app = app
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    # No thread of this app may outlive the test: later tests swap the shared db.session.
    runner = app.extensions.get("pakn_indexer")
    if runner is not None:
        runner.stop()
    from webapp.jobs import _executor

    _executor.submit(lambda: None).result(timeout=10)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(locale="vi-VN", viewport=getattr(request, "param", {"width": 1280, "height": 900}))
    pg = context.new_page()
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SHOTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
