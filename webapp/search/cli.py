"""``flask index …`` (rebuild, reconcile, status, drain, sync) and ``flask worker`` (RQ)."""

from __future__ import annotations

import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from rq import Worker

from indexer.engine import EngineUnavailable
from webapp.extensions import db
from webapp.jobs import QUEUE_NAME, redis_connection
from webapp.search.engines import get_engine
from webapp.search.indexing import drain_and_notify, drain_outbox, public_count, rebuild, reconcile, status

index_cli = AppGroup("index", help="Chỉ mục tìm kiếm: dựng lại, đối soát, trạng thái.")


def _fail(exc: Exception) -> None:
    click.echo(f"Lỗi: máy tìm kiếm không sẵn sàng: {exc}", err=True)
    sys.exit(2)


SCOPE_NAMES = {"public": "công khai", "staff": "cán bộ"}
scope_option = click.option("--scope", type=click.Choice(["all", "public", "staff"]), default="all",
                            show_default=True, help="Which index: the public one, the staff one, or both.")


def _scopes(scope: str) -> list[str]:
    return ["public", "staff"] if scope == "all" else [scope]


@index_cli.command("rebuild")
@scope_option
def rebuild_command(scope: str) -> None:
    """Build a new index from the database, swap it in atomically, drop the old one."""
    for name in _scopes(scope):
        total = public_count(name)
        try:
            with click.progressbar(length=total, label=f"Đang dựng chỉ mục {SCOPE_NAMES[name]}", file=sys.stderr,
                                   show_pos=True, show_percent=True) as bar:
                count = rebuild(progress=bar.update, scope=name)
        except EngineUnavailable as exc:
            _fail(exc)
        click.echo(f"Đã dựng lại chỉ mục {SCOPE_NAMES[name]}: {count} phản ánh.")


def _print_reconcile(report) -> None:  # noqa: ANN001
    def ids(values: list[int]) -> str:
        shown = ", ".join(map(str, values[:10]))
        return shown + (f" … (+{len(values) - 10})" if len(values) > 10 else "")

    click.echo(f"Thiếu trong chỉ mục (đã thêm): {len(report.missing)}"
               + (f" [{ids(report.missing)}]" if report.missing else ""))
    click.echo(f"Cũ hơn cơ sở dữ liệu (đã cập nhật): {len(report.stale)}"
               + (f" [{ids(report.stale)}]" if report.stale else ""))
    click.echo(f"Không còn công khai (đã xóa khỏi chỉ mục): {len(report.orphaned)}"
               + (f" [{ids(report.orphaned)}]" if report.orphaned else ""))
    if report.newer_in_index:
        click.echo(f"Mới hơn cơ sở dữ liệu (cần `flask index rebuild`): {len(report.newer_in_index)}")


@index_cli.command("reconcile")
@scope_option
def reconcile_command(scope: str) -> None:
    """Compare (id, revision) between database and index and repair the differences."""
    for name in _scopes(scope):
        try:
            report = reconcile(scope=name)
        except EngineUnavailable as exc:
            _fail(exc)
        click.echo(f"Chỉ mục {SCOPE_NAMES[name]}:")
        _print_reconcile(report)
        click.echo(f"Đã sửa {report.fixed} mục." if report.fixed else "Chỉ mục khớp với cơ sở dữ liệu.")


@index_cli.command("status")
def status_command() -> None:
    """Document counts, outbox backlog and the age of its oldest entry."""
    st = status()
    engine = st.engine
    if engine.get("ok"):
        click.echo(f"Máy tìm kiếm: {engine['engine']} — {engine.get('documents')} tài liệu")
        if engine.get("cluster"):
            click.echo(_cluster_line(engine["cluster"]))
    else:
        click.echo(f"Máy tìm kiếm: {engine['engine']} — KHÔNG truy cập được ({engine.get('error')})")
    click.echo(f"Phản ánh công khai trong cơ sở dữ liệu: {st.public_reports}")
    click.echo(f"Hàng đợi chỉ mục (outbox) chưa xử lý: {st.backlog}"
               + (f", cũ nhất {st.oldest_pending_seconds:.0f} giây" if st.oldest_pending_seconds is not None else "")
               + (f", {st.failing} mục đã thử lỗi" if st.failing else ""))
    if not engine.get("ok") or st.failing:
        click.echo("Các phản ánh vẫn được lưu trong cơ sở dữ liệu; hàng đợi được đánh chỉ mục khi máy tìm "
                   "kiếm hoạt động lại (lượt quét định kỳ, hoặc `flask index sync`).")
    elif not st.backlog and engine.get("documents") != st.public_reports:
        click.echo("Chỉ mục lệch với cơ sở dữ liệu: chạy `flask index reconcile`.")


def _cluster_line(cluster: dict) -> str:
    """What the cluster's health means for the index, in words an operator can act on."""
    head = f"Cụm máy tìm kiếm: {cluster['status']} — {cluster['nodes']} nút"
    missing = cluster["unassigned_shards"] + cluster.get("initializing_shards", 0)
    if cluster["status"] == "green":
        return head + ", mọi bản sao của chỉ mục đều sẵn sàng."
    if cluster["status"] == "yellow":
        return (head + f"; {missing} bản sao chưa sẵn sàng (một nút đã rời cụm hoặc đang phục hồi): "
                "mọi tài liệu vẫn tìm được, nhưng chưa có dự phòng cho đến khi bản sao được phục hồi.")
    return (head + f"; {missing} phân đoạn chưa sẵn sàng, có phân đoạn chính bị thiếu: kết quả tìm kiếm "
            "có thể thiếu tài liệu cho đến khi nút chứa nó trở lại (sau đó chạy `flask index reconcile`).")


@index_cli.command("drain")
def drain_command() -> None:
    """Index every pending outbox entry now (what the worker does)."""
    try:
        count = drain_outbox()
    except EngineUnavailable as exc:
        _fail(exc)
    click.echo(f"Đã xử lý {count} mục trong hàng đợi chỉ mục.")


@index_cli.command("sync")
def sync_command() -> None:
    """Drain the outbox, then reconcile (what `make run` does before serving)."""
    try:
        get_engine().ensure_index()
        get_engine("staff").ensure_index()
        drained = drain_outbox()
        report = reconcile()
        staff = reconcile(scope="staff")
    except EngineUnavailable as exc:
        click.echo(f"Cảnh báo: chưa cập nhật được chỉ mục tìm kiếm ({exc}); trang vẫn chạy, "
                   "chỉ mục sẽ được cập nhật sau.", err=True)
        return
    click.echo(f"Chỉ mục tìm kiếm đã cập nhật ({drained} thay đổi, {report.fixed + staff.fixed} mục được sửa).")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Process the queue and exit.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the indexer (inside the app context), with a periodic outbox sweep."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config["REDIS_URL"]:
        click.echo("PAKN_REDIS_URL chưa được đặt: không có hàng đợi để chạy worker.", err=True)
        sys.exit(2)
    stop = threading.Event()

    def sweep() -> None:
        while not stop.wait(app.config["INDEXER_SWEEP_SECONDS"]):
            with app.app_context():
                try:
                    drain_and_notify()
                except EngineUnavailable as exc:
                    app.logger.warning("sweep: search engine unavailable: %s", exc)
                except Exception:
                    app.logger.exception("sweep failed")
                finally:
                    db.session.remove()

    if not burst:
        threading.Thread(target=sweep, name="pakn-sweep", daemon=True).start()
    db.engine.dispose()  # the work horses are forked: no pooled connection may cross the fork
    worker = Worker([QUEUE_NAME], connection=redis_connection(app.config["REDIS_URL"]))
    try:
        # The scheduler runs the retries that jobs are enqueued with (Retry intervals put a failed
        # job in the scheduled registry; without a scheduler it would never run again).
        worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()
