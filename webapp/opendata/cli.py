"""``flask alerts send``: mail the saved-search alerts that are due (for cron, or by hand)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from webapp.opendata.alerts import send_due


@click.group("alerts")
def alerts_cli() -> None:
    """E-mail alerts of saved searches."""


@alerts_cli.command("send")
@with_appcontext
def send_command() -> None:
    """Send every due alert now (immediate ones; daily ones after ALERTS_DAILY_HOUR, once a day)."""
    counts = send_due()
    click.echo(f"Đã xét {counts['checked']} tìm kiếm, gửi {counts['mailed']} thư "
               f"({counts['reports']} phản ánh); {counts['failed']} thư lỗi sẽ gửi lại lần sau.")
    if counts["failed"]:
        raise SystemExit(1)
