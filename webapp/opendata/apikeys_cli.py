"""``flask apikeys …``: partner API keys (create, list, revoke)."""

from __future__ import annotations

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from webapp.extensions import db
from webapp.opendata import apikeys
from webapp.opendata.models import ApiKey

apikeys_cli = AppGroup("apikeys", help="Khóa API của đối tác: tạo, liệt kê, thu hồi.")


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"

    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


@apikeys_cli.command("create")
@click.option("--name", required=True, help="Partner's name, e.g. \"Báo Tây Ninh\".")
@click.option("--rate-limit", default="1000/hour", show_default=True,
              help="Flask-Limiter limit counted per key, e.g. 1000/hour or 10/second;5000/day.")
@click.option("--write", is_flag=True, help="The key may also send reports (Open311 POST).")
def create(name: str, rate_limit: str, write: bool) -> None:
    """Create a key and print it, once: only its hash is stored."""
    try:
        key, raw = apikeys.create(name, rate_limit.strip(), write)
    except ValueError as exc:
        click.echo(f"Lỗi: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    rights = "đọc và gửi phản ánh" if key.can_write else "chỉ đọc"
    click.echo(f"Đã tạo khóa API cho \"{key.name}\" (tiền tố {key.prefix}, giới hạn {key.rate_limit}, {rights}).")
    click.echo("Khóa dưới đây chỉ hiện MỘT LẦN; hệ thống không lưu khóa (chỉ lưu mã băm) nên không thể "
               "xem lại. Hãy sao chép và gửi cho đối tác qua kênh an toàn:")
    click.echo(raw)


@apikeys_cli.command("list")
def list_keys() -> None:
    """Every key: prefix, name, limit, write, created, last used, revoked."""
    rows = [("PREFIX", "NAME", "LIMIT", "WRITE", "CREATED", "LAST USED", "REVOKED")]
    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)):
        rows.append((key.prefix, key.name, key.rate_limit, "yes" if key.can_write else "no",
                     _when(key.created_at), _when(key.last_used_at), _when(key.revoked_at)))
    if len(rows) == 1:
        click.echo("Chưa có khóa API nào. Tạo khóa: flask apikeys create --name \"Tên đối tác\"")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@apikeys_cli.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key with PREFIX: its requests are refused from now on."""
    key = apikeys.revoke(prefix)
    if key is None:
        click.echo(f"Lỗi: không có khóa API tiền tố '{prefix}' (xem flask apikeys list).", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Đã thu hồi khóa {key.prefix} (\"{key.name}\") lúc {_when(key.revoked_at)}.")
