"""``flask reports import|export``: legacy data in and out (JSON Lines or CSV); ``flask uploads cleanup``."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.reports.models import Report
from webapp.reports.services import delete_stale_uploads
from webapp.reports.transfer import count_lines, export_file, import_file

reports_cli = AppGroup("reports", help="Nhập/xuất phản ánh (JSON Lines hoặc CSV).")


@reports_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True)
def import_command(path: Path, batch_size: int) -> None:
    """Import reports from FILE (.jsonl, or .csv with the same columns); bad lines are listed."""
    total = count_lines(path)
    with click.progressbar(length=total, label=f"Đang nhập {path.name}", file=sys.stderr,
                           show_pos=True) as bar:
        result = import_file(path, batch_size=batch_size, progress=bar.update)
    for line_no, reason in result.errors:
        click.echo(f"Dòng {line_no}: {reason}", err=True)
    click.echo(f"Đã nhập: {result.created} mới, {result.updated} cập nhật, "
               f"{result.unchanged} không đổi, {len(result.errors)} dòng lỗi bị bỏ qua.")
    if result.errors:
        sys.exit(1)


@reports_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_command(path: Path) -> None:
    """Export every report to FILE (.csv for CSV, otherwise JSON Lines), confidential data included."""
    total = db.session.scalar(select(func.count()).select_from(Report)) or 0
    with click.progressbar(length=total, label=f"Đang xuất {path.name}", file=sys.stderr,
                           show_pos=True) as bar:
        count = export_file(path, progress=bar.update)
    click.echo(f"Đã xuất {count} phản ánh vào {path}. Tệp chứa thông tin người gửi được bảo mật: "
               "chỉ lưu ở nơi an toàn.")


uploads_cli = AppGroup("uploads", help="Tệp tải lên chưa gửi kèm phản ánh.")


@uploads_cli.command("cleanup")
@click.option("--hours", type=int, default=None, help="Older than this many hours (default UPLOAD_STAGED_HOURS).")
def cleanup_uploads(hours: int | None) -> None:
    """Delete uploaded files never sent with a report (the periodic sweep does it too)."""
    count = delete_stale_uploads(timedelta(hours=hours) if hours is not None else None)
    click.echo(f"Đã xóa {count} tệp tải lên chưa gửi.")
