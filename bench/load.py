"""Load test: concurrent users against a gunicorn-served portal on loopback, embedded default.

The portal runs as `make run` configures it (SQLite database, embedded search index, jobs in
the process) under gunicorn, with N demo reports (default 100,000). Locust (bench/locustfile.py)
drives it with a realistic mix — search 70 %, report pages 20 %, sends 5 %, exports 5 % — first
with ONE user and no pause between actions (the same-run baseline: each action's latency on an
otherwise idle server), then with 50 users pausing 1–3 s between actions, for a bounded time.
Prints, per action, the request count, the error rate and p50/p95, and the loaded p95 as a ratio
of the baseline p95. Afterwards it checks that every send that succeeded is a row in the database
and that the index caught up (nothing lost under load).

    make load                                   # 100,000 reports, 50 users, 60 s
    .venv/bin/python bench/load.py --reports 20000 --users 50 --duration 60
    make load LOAD_ARGS="--cache 0 --export-workers 2"   # exports by a pool of their own (docs/deploy.md)

The generated data is kept in bench/out/load-<reports>/ (made once, ~10 min at 100,000) and
copied for each run, so every run starts from the same database. All virtual users come from
127.0.0.1, so the per-IP limits (OTP requests, request rates) are lifted for the served instance;
everything else is the default configuration.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import QUERIES, STREETS  # noqa: E402 - bench/ is not a package (common puts ROOT on the path)

from config import load_config  # noqa: E402
from indexer import native_rank  # noqa: E402
from indexer.text import fold  # noqa: E402

BIN = Path(sys.executable).parent
OUT = ROOT / "bench" / "out"
ACTIONS = ["search", "report page", "send: form", "send", "export", "login"]
TARGET_P95_SEARCH_MS = 500


def log(message: str) -> None:
    print(f"[load] {message}", flush=True)


def flask(instance: Path, *args: str, extra_env: dict[str, str] | None = None) -> None:
    env = {**_clean_env(), "PAKN_INSTANCE_PATH": str(instance), **(extra_env or {})}
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAKN_")}


def prepare(reports: int) -> Path:
    """The instance folder with ``reports`` demo reports, indexed; made once and kept."""
    data = OUT / f"load-{reports}"
    ready = data / "ready.json"
    if ready.exists():
        log(f"using the data prepared in {data}")
        return data
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    log(f"preparing {reports:,} demo reports in {data} (once; later runs reuse it)")
    started = time.perf_counter()
    flask(data, "db", "upgrade")
    # No indexing while seeding: one sync afterwards is faster than a drain per commit.
    flask(data, "seed-demo", "--reports", str(reports), extra_env={"PAKN_INDEXER_INLINE": "false"})
    flask(data, "index", "rebuild", "--scope", "all")
    flask(data, "index", "drain")
    ready.write_text(json.dumps({"reports": reports, "seconds": round(time.perf_counter() - started)}))
    return data


def queries() -> list[str]:
    """Distinct search texts, most popular first (users pick them with Zipf weights, so a few
    are frequent and most are rare, as in a real search log): the keyword queries, then a keyword
    with a street name, half of them typed without diacritics, then street names alone."""
    out = list(QUERIES)
    for i, street in enumerate(STREETS):
        for j, keyword in enumerate(QUERIES):
            text = f"{keyword} {street}"
            out.append(fold(text) if (i + j) % 2 else text)
    out += [f"đường {street}" for street in STREETS] + [fold(f"duong {street}") for street in STREETS]
    return out


def plan(instance: Path, work: Path) -> Path:
    with sqlite3.connect(instance / "pakn.sqlite3") as conn:
        codes = [r[0] for r in conn.execute("SELECT code FROM reports WHERE published = 1 ORDER BY id")]
        fields = [r[0] for r in conn.execute("SELECT slug FROM fields ORDER BY position")]
        wards = [r[0] for r in conn.execute(
            "SELECT DISTINCT ward_code FROM reports WHERE ward_code IS NOT NULL ORDER BY ward_code")]
    path = work / "plan.json"
    path.write_text(json.dumps({
        "codes": codes, "fields": fields, "wards": wards, "queries": queries(), "streets": STREETS,
        "sms_file": str(instance / "sms.jsonl"), "sent_file": str(work / "sent.txt"), "phone_prefix": f"{int(time.time()) % 1000:03d}",
    }, ensure_ascii=False), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(instance: Path, port: int, workers: int, threads: int, cache: int,
          nice: int = 0) -> subprocess.Popen[bytes]:
    env = {**_clean_env(), "PAKN_INSTANCE_PATH": str(instance), "PAKN_RATE_LIMITS": "false",
           "PAKN_OTP_MAX_PER_IP_HOUR": "1000000", "PAKN_SEARCH_CACHE_SIZE": str(cache)}
    if "PAKN_SEARCH_NATIVE_RANK" in os.environ:  # =false: the engine ranks with bm25() (an A/B)
        env["PAKN_SEARCH_NATIVE_RANK"] = os.environ["PAKN_SEARCH_NATIVE_RANK"]
    proc = subprocess.Popen(
        [*(["nice", "-n", str(nice)] if nice else []),
         str(BIN / "gunicorn"), "--workers", str(workers), "--threads", str(threads), "--bind",
         f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("gunicorn did not answer within 60 s")


def run_locust(url: str, plan_path: Path, users: int, duration: int, wait: bool, prefix: Path,
               run: int, export_url: str | None = None) -> dict[str, dict]:
    env = {**_clean_env(), "LOAD_PLAN": str(plan_path), "LOAD_RUN": str(run)}
    if export_url:
        env["LOAD_EXPORT_URL"] = export_url
    if not wait:
        env["LOAD_NO_WAIT"] = "1"
    subprocess.run(
        [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--host", url,
         "--users", str(users), "--spawn-rate", str(max(1, users // 5)), "--run-time", f"{duration}s",
         "--csv", str(prefix), "--only-summary", "--stop-timeout", "30", "--loglevel", "WARNING",
         "--exit-code-on-error", "0"],
        cwd=ROOT, env=env, check=True)
    stats = {}
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            stats[row["Name"]] = row
    # Exceptions raised in tasks (a page without its form, a login whose SMS never came) are not
    # failed requests, but they are errors of the run all the same.
    with open(f"{prefix}_exceptions.csv", encoding="utf-8") as fh:
        stats["_exceptions"] = {"count": sum(int(row["Count"]) for row in csv.DictReader(fh))}
    return stats


def counts(instance: Path) -> tuple[int, int]:
    with sqlite3.connect(instance / "pakn.sqlite3") as conn:
        reports = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM outbox WHERE processed_at IS NULL").fetchone()[0]
    return reports, pending


def missing_sends(instance: Path, sent_file: Path) -> tuple[int, list[str]]:
    """The tracking codes users were shown that are not reports in the database (must be none)."""
    shown = sent_file.read_text(encoding="utf-8").split() if sent_file.exists() else []
    with sqlite3.connect(instance / "pakn.sqlite3") as conn:
        stored = {r[0] for r in conn.execute("SELECT code FROM reports WHERE sender_name = ?",
                                             ("Người dùng thử tải",))}
    return len(shown), [code for code in shown if code not in stored]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60, help="seconds of the loaded run")
    parser.add_argument("--baseline", type=int, default=30, help="seconds of the one-user run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--cache", type=int, default=256,
                        help="SEARCH_CACHE_SIZE of the served instance (0: every search computed)")
    parser.add_argument("--export-workers", type=int, default=0,
                        help="serve the exports from a pool of their own, of this many workers at "
                             "nice 10 (docs/deploy.md: the export pool); 0: the one pool serves all")
    args = parser.parse_args()

    data = prepare(args.reports)
    work = Path(tempfile.mkdtemp(prefix="pakn-load-"))
    instance = work / "instance"
    shutil.copytree(data, instance)
    plan_path = plan(instance, work)
    before, _ = counts(instance)
    port = free_port()
    log(f"gunicorn: {args.workers} workers x {args.threads} threads on 127.0.0.1:{port}, {before:,} reports")
    # the served portal's reading of the setting (config.py), from this environment's variable alone
    native = load_config(environ={k: v for k, v in os.environ.items() if k == "PAKN_SEARCH_NATIVE_RANK"})[
        "SEARCH_NATIVE_RANK"]
    ranking = ("pakn_rank" if native and native_rank.available()
               else f"FTS5's bm25() ({native_rank.reason() or 'PAKN_SEARCH_NATIVE_RANK'})")
    log(f"search ranking: {ranking}")
    server = serve(instance, port, args.workers, args.threads, args.cache)
    url, export_url, pools = f"http://127.0.0.1:{port}", None, [server]
    if args.export_workers:
        export_port = free_port()
        log(f"export pool: {args.export_workers} workers x {args.threads} threads at nice 10 on 127.0.0.1:{export_port}")
        pools.append(serve(instance, export_port, args.export_workers, args.threads, args.cache, nice=10))
        export_url = f"http://127.0.0.1:{export_port}"
    try:
        log("warm-up, 10 s, 5 users (not counted)")
        run_locust(url, plan_path, 5, 10, False, work / "warmup", 0, export_url)
        log(f"baseline: 1 user, no pause, {args.baseline} s")
        base = run_locust(url, plan_path, 1, args.baseline, False, work / "baseline", 1, export_url)
        log(f"load: {args.users} users, 1–3 s between actions, {args.duration} s")
        loaded = run_locust(url, plan_path, args.users, args.duration, True, work / "load", 2, export_url)
        sent_after, _ = counts(instance)
        deadline = time.monotonic() + 120
        while (pending := counts(instance)[1]) and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        for pool in pools:
            pool.send_signal(signal.SIGTERM)
        for pool in pools:
            pool.wait(30)

    shown, lost = missing_sends(instance, work / "sent.txt")
    print()
    exports_by = f", exports by a pool of {args.export_workers}x{args.threads} at nice 10" if args.export_workers else ""
    print(f"{args.reports:,} reports, embedded engine, gunicorn {args.workers}x{args.threads}{exports_by}, "
          f"search cache {args.cache}, ranking {ranking}, {args.users} users for {args.duration} s (baseline: 1 user, {args.baseline} s)")
    header = f"{'action':<12} {'requests':>8} {'errors':>7} {'p50 ms':>7} {'p95 ms':>7} {'base p50':>9} {'base p95':>9} {'p95 ratio':>10}"
    print(header)
    print("-" * len(header))
    total_req = total_err = 0
    for name in ACTIONS:
        row, b = loaded.get(name), base.get(name)
        if not row:
            continue
        n, err = int(row["Request Count"]), int(row["Failure Count"])
        total_req, total_err = total_req + n, total_err + err
        p50, p95 = float(row["50%"]), float(row["95%"])
        b50 = float(b["50%"]) if b else float("nan")
        b95 = float(b["95%"]) if b else float("nan")
        ratio = p95 / b95 if b and b95 else float("nan")
        print(f"{name:<12} {n:>8} {err:>7} {p50:>7.0f} {p95:>7.0f} {b50:>9.0f} {b95:>9.0f} {ratio:>9.2f}x")
    agg = loaded.get("Aggregated", {})
    rps = float(agg.get("Requests/s", 0) or 0)
    print("-" * len(header))
    exceptions = loaded["_exceptions"]["count"]
    total_err += exceptions
    rate = total_err / total_req if total_req else 0.0
    print(f"error rate {rate:.2%} ({total_err} of {total_req}, of which {exceptions} exceptions in tasks); "
          f"throughput {rps:.1f} requests/s")
    print(f"sends: {shown} tracking codes shown to users, {len(lost)} of them missing from the database "
          f"(it grew by {sent_after - before}: a send cut off when a run's time was up may be saved "
          f"without its answer being counted); outbox pending after the run: {pending}")
    search = loaded.get("search")
    if search:
        p95 = float(search["95%"])
        verdict = "met" if p95 < TARGET_P95_SEARCH_MS and total_err == 0 and not lost else "NOT met"
        print(f"target (0 errors, search p95 < {TARGET_P95_SEARCH_MS} ms): {verdict}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
