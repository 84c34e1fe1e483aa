"""``flask config-doc``: print or write the configuration reference."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.serving import run_simple

from config import markdown_reference
from webapp.extensions import db
from webapp.hardening import QuietRequestHandler
from webapp.reports.models import Report
from webapp.search.indexing import runner


@click.command("config-doc")
@click.option("--write", "path", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of printing (docs/configuration.md).")
def config_doc(path: str | None) -> None:
    """Print the configuration reference generated from config.py."""
    text = markdown_reference()
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"Đã ghi {path}")
    else:
        click.echo(text, nl=False)


@click.command("serve")
@with_appcontext
def serve() -> None:
    """Serve the portal on HOST:PORT from the configuration (what `make run` calls)."""

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    host, port = app.config["HOST"], app.config["PORT"]
    reports = db.session.scalar(select(func.count()).select_from(Report)) or 0
    db.session.remove()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # noqa: S104 - shown, not bound
    bar = "=" * 64
    click.echo(f"""{bar}
  Cổng phản ánh kiến nghị PAKN đang chạy tại: {url}
  Cơ sở dữ liệu: {_safe_url(app.config['DATABASE_URL'])} ({reports} phản ánh)
  Thư mục instance: {app.config['INSTANCE_PATH']}
  Mã OTP (SMS thử nghiệm) được ghi vào: {app.config['SMS_FILE_PATH']}
  Nhấn Ctrl+C để dừng.
{bar}""")
    if not app.config["REDIS_URL"] and app.config["INDEXER_INLINE"]:
        runner(app).start()  # sweeps the outbox and sends due saved-search alerts from the start
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False,
               request_handler=QuietRequestHandler)


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)
