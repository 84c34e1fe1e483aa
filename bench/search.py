"""Benchmark: faceted keyword search in the embedded engine against its peers, in the same run.

Generates N reports (default 100,000) and gives the same documents to four systems:

- the embedded engine (``indexer/sqlite_fts.py``), result cache off: total, the first page of 20
  with highlights, the five facets (field, region, status, type, month);
- a SQL ``LIKE`` scan of a plain SQLite table holding the folded words of the same texts, one
  ``LIKE '% word %'`` per folded form (whole words, as the engine's tokens): same total, same
  five facets by GROUP BY, 20 newest;
- PostgreSQL full-text search (``unaccent`` + ``simple`` configuration, a GIN index): same total,
  same five facets by GROUP BY, top 20 by ts_rank with their documents; skipped with the reason
  when no PostgreSQL answers at ``--pg`` (default 127.0.0.1:5432, trust auth, user postgres);
- the same engine ranking with FTS5's ``bm25()`` instead of ``pakn_rank`` (indexer/native_rank.py),
  where that is built: what a deployment without a C compiler gets; and the engine with its
  phrases' row counts (bm25's IDF, kept per index state: ``_PhraseHits``) counted anew for every
  search, as for a search right after a write or with words no earlier search used;
- the FTS5 floor: MATCH + bm25 + top 20 rowids on the engine's own index file; and the same within
  the bound (find where the newest 10,000 matches start, rank those): the floor of the bounded design.

Before timing, the bench checks that every query's total and facets are the same in the engine
(exact, without its bound), the LIKE scan and PostgreSQL, and stops with the differences when they
are not; and that the engine as users get it (``total_bound`` 10,000) answers exactly the same within
the bound and says "more than 10,000" past it, printing how many query words the first ten results
hold in both rankings. Both the bounded engine and the exact one are timed. The queries are
the 20 of ``bench/common.py`` plus the texts of the judged query set. Three runs (``--runs``); each
run times every query once on every system, interleaved, in a shuffled order; the bench prints the machine (CPU,
cores, load average before and after), the median of the runs' p50/p95 with every run's value,
and the ratios, each computed inside one run.

Usage: cd bench && ../.venv/bin/python search.py [--reports 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import QUERIES, documents, load_now, machine, percentile, spread

from indexer import native_rank
from indexer.query import WORD, SearchQuery, analyze
from indexer.sqlite_fts import WEIGHTS, SqliteEngine, _match_expression
from indexer.text import fold, nfc

FACET_SQL = {"field": "field", "region": "ward_code", "status": "status", "type": "type", "month": "month"}
Answer = tuple[int, dict[str, dict[str, int]]]  # total, facet -> value -> count


def judged_texts() -> list[str]:
    """The texts of the judged query set (tests/contract/test_relevance.py), without duplicates."""
    try:
        from tests.contract.test_relevance import JUDGED
    except ImportError as exc:  # pytest not installed in this environment
        print(f"  (judged query texts left out: {exc})")
        return []
    return list(dict.fromkeys(q for q, _filters, _ids in JUDGED if q.strip()))


def folded_words(doc: dict[str, Any]) -> str:
    """The folded words of the texts the engine matches, space-bounded for LIKE '% word %'."""
    parts = [doc.get("title"), doc.get("content"), doc.get("address"), doc.get("answer"), doc.get("sender_name")]
    words = [fold(w) for text in parts if text for w in analyze_words(text)]
    return " " + " ".join(words) + " "


def analyze_words(text: str) -> list[str]:
    return WORD.findall(nfc(text).lower())


# -- the LIKE scan ------------------------------------------------------------------------------
class AnyWordFallback:
    """A peer that answers as the engine does: every word's folded forms, and when no document has
    them all, any of them (the engine's any-word fallback); ``_once`` is the peer's own query."""

    def search(self, q: str) -> Answer:
        forms = [list(t.folded) for t in analyze(q)]
        answer = self._once(forms, False)
        if answer[0] == 0 and len(forms) > 1:
            answer = self._once(forms, True)
        return answer

    def _once(self, forms: list[list[str]], any_words: bool) -> Answer:
        raise NotImplementedError


class LikeScan(AnyWordFallback):
    def __init__(self, path: Path, n: int) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE reports(id INTEGER PRIMARY KEY, words TEXT, field TEXT, ward_code INTEGER,"
                          " status TEXT, type TEXT, month TEXT, submitted_at TEXT, doc TEXT)")
        self.conn.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?)", (
            (d["id"], folded_words(d), d["field"], d["ward_code"], d["status"], d["type"], d["month"],
             d["submitted_at"], d["title"]) for d in documents(n)))
        self.conn.commit()

    def _where(self, forms: list[list[str]], any_words: bool) -> tuple[str, list[str]]:
        groups, params = [], []
        for alternatives in forms:
            groups.append("(" + " OR ".join("words LIKE ? ESCAPE '\\'" for _ in alternatives) + ")")
            params += ["% " + f.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + " %"
                       for f in alternatives]
        return (" OR " if any_words else " AND ").join(groups), params

    def _once(self, forms: list[list[str]], any_words: bool) -> Answer:
        where, params = self._where(forms, any_words)
        total = self.conn.execute(f"SELECT count(*) FROM reports WHERE {where}", params).fetchone()[0]
        self.conn.execute(f"SELECT id, doc FROM reports WHERE {where} ORDER BY submitted_at DESC LIMIT 20",
                          params).fetchall()
        facets = {}
        for name, column in FACET_SQL.items():
            rows = self.conn.execute(f"SELECT {column}, count(*) FROM reports WHERE {where} GROUP BY {column}",
                                     params).fetchall()
            facets[name] = {str(v): c for v, c in rows if v is not None}
        return total, facets


# -- PostgreSQL full-text search ----------------------------------------------------------------
class PostgresFts(AnyWordFallback):
    DB = "pakn_bench_search"

    def __init__(self, dsn: str, n: int) -> None:
        import psycopg
        self.psycopg = psycopg
        with psycopg.connect(dsn + " dbname=postgres", autocommit=True, connect_timeout=3) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.DB}")
            admin.execute(f"CREATE DATABASE {self.DB}")
        self.dsn = dsn
        self.conn = psycopg.connect(dsn + f" dbname={self.DB}", autocommit=True)
        c = self.conn
        c.execute("CREATE EXTENSION unaccent")
        c.execute("CREATE TEXT SEARCH CONFIGURATION vi (COPY = simple)")
        c.execute("ALTER TEXT SEARCH CONFIGURATION vi ALTER MAPPING FOR hword, hword_part, word, asciiword,"
                  " asciihword, hword_asciipart WITH unaccent, simple")
        c.execute("CREATE TABLE reports(id integer PRIMARY KEY, body text, field text, ward_code integer,"
                  " status text, type text, month text, submitted_at timestamptz, doc text, tsv tsvector)")
        with c.cursor().copy("COPY reports(id, body, field, ward_code, status, type, month, submitted_at, doc)"
                             " FROM STDIN") as copy:
            for d in documents(n):
                body = " ".join(x for x in (d["title"], d["content"], d["address"], d["answer"],
                                            d["sender_name"]) if x)
                copy.write_row((d["id"], body, d["field"], d["ward_code"], d["status"], d["type"], d["month"],
                                d["submitted_at"], d["title"]))
        c.execute("UPDATE reports SET tsv = to_tsvector('vi', body)")
        c.execute("CREATE INDEX ix_reports_tsv ON reports USING gin(tsv)")
        c.execute("VACUUM ANALYZE reports")

    def _once(self, forms: list[list[str]], any_words: bool) -> Answer:
        tsquery = (" | " if any_words else " & ").join("(" + " | ".join(alts) + ")" for alts in forms)
        matched = "FROM reports WHERE tsv @@ to_tsquery('vi', %(q)s)"
        self.conn.execute(f"SELECT id, doc, ts_rank(tsv, to_tsquery('vi', %(q)s)) AS r {matched} "
                          "ORDER BY r DESC, submitted_at DESC LIMIT 20", {"q": tsquery}).fetchall()
        union = " UNION ALL ".join(f"SELECT '{name}', {column}::text, count(*) FROM m GROUP BY {column}"
                                   for name, column in FACET_SQL.items())
        rows = self.conn.execute(
            f"WITH m AS MATERIALIZED (SELECT field, ward_code, status, type, month {matched}) "
            f"SELECT 'total', NULL, count(*) FROM m UNION ALL {union}", {"q": tsquery}).fetchall()
        total, facets = 0, {name: {} for name in FACET_SQL}
        for name, value, count in rows:
            if name == "total":
                total = count
            elif value is not None:
                facets[name][value] = count
        return total, facets

    def close(self) -> None:
        self.conn.close()
        with self.psycopg.connect(self.dsn + " dbname=postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.DB}")


# -- the FTS5 floor -----------------------------------------------------------------------------
class Fts5Floor:
    """MATCH + bm25 + top 20 rowids on the engine's file, nothing else; with ``bound``, over the
    newest ``bound`` matches only (the floor of the bounded design: find where they start, rank them)."""

    def __init__(self, path: Path, bound: int | None = None) -> None:
        self.conn = sqlite3.connect(path)
        self.weights = ", ".join(str(w) for w in WEIGHTS)
        self.bound = bound

    def _top(self, expression: str) -> list[Any]:
        start = 0
        if self.bound:
            cut = self.conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                                    (expression, self.bound)).fetchone()
            start = cut[0] if cut else 0
        return self.conn.execute(f"SELECT rowid, bm25(fts, {self.weights}) AS s FROM fts WHERE fts MATCH ? "
                                 "AND rowid > ? ORDER BY s LIMIT 20", (expression, start)).fetchall()

    def search(self, q: str) -> None:
        terms = analyze(q)
        if not self._top(_match_expression(terms, False)) and len(terms) > 1:
            self._top(_match_expression(terms, True))


def engine_answer(engine: SqliteEngine, q: str) -> Answer:
    """The engine's exact answer (no bound), to compare with the peers'."""
    result = engine.search(SearchQuery(q=q, total_bound=None))
    return result.total, {name: dict(values) for name, values in result.facets.items()}


def words_held(doc: dict[str, Any], q: str) -> int:
    """How many of the query's words (any folded form) a document's texts hold."""
    held = set(folded_words(doc).split())
    return sum(1 for t in analyze(q) if held & set(t.folded))


def check_bound(engine: SqliteEngine, queries: list[str]) -> list[str]:
    """The bounded search (what users get) against the exact one: the same answer within the bound;
    past it the bound as total, and how many query words the first ten results hold."""
    wrong, beyond = [], []
    for q in queries:
        exact = engine.search(SearchQuery(q=q, total_bound=None))
        bounded = engine.search(SearchQuery(q=q))
        bound = SearchQuery().total_bound
        if exact.total <= bound:
            if (bounded.total, bounded.facets, [h.id for h in bounded.hits]) != \
                    (exact.total, exact.facets, [h.id for h in exact.hits]) or not bounded.total_exact:
                wrong.append(f"  {q!r}: within the bound, the bounded search differs from the exact one")
        elif (bounded.total, bounded.total_exact) != (bound, False):
            wrong.append(f"  {q!r}: {exact.total} matches but the bounded total is {bounded.total}")
        else:
            held = [statistics.mean(words_held(h.doc, q) for h in r.hits[:10]) for r in (exact, bounded)]
            same = len({h.id for h in exact.hits[:10]} & {h.id for h in bounded.hits[:10]})
            beyond.append((q, exact.total, len(analyze(q)), *held, same))
    if beyond:
        print(f"  {len(beyond)} queries match more than the bound ({bound:,}); the bounded search ranks their "
              "newest matches. Words of the query held by the first ten results, exact ranking vs bounded:")
        for q, total, n, a, b, same in beyond:
            print(f"    {q[:36]!r:<40} {total:>7,} matches  {a:.1f} vs {b:.1f} of {n} words  "
                  f"({same} of the 10 the same)")
    return wrong


def differences(q: str, name: str, ours: Answer, theirs: Answer) -> list[str]:
    out = []
    if ours[0] != theirs[0]:
        out.append(f"  {q!r}: total {ours[0]} in the engine, {theirs[0]} in {name}")
    for facet in FACET_SQL:
        a, b = ours[1].get(facet, {}), theirs[1].get(facet, {})
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:3]
            out.append(f"  {q!r}: facet {facet} differs in {name}, e.g. "
                       + ", ".join(f"{k}: {a.get(k)} vs {b.get(k)}" for k in diff))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres",
                        help="libpq keywords of the PostgreSQL server for the full-text peer")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    queries = list(dict.fromkeys(QUERIES + judged_texts()))
    work = Path(tempfile.mkdtemp(prefix="pakn-bench-search-"))
    try:
        run(args, queries, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine after: load {load_now()}")


def run(args: argparse.Namespace, queries: list[str], work: Path) -> None:
    engine = SqliteEngine(work / "search.sqlite3", cache_size=0)  # measure searches, not the cache
    start = time.perf_counter()
    engine.rebuild(documents(args.reports))
    print(f"  engine index built in {time.perf_counter() - start:.1f} s ({args.reports:,} reports)")
    like = LikeScan(work / "plain.sqlite3", args.reports)
    floor = Fts5Floor(work / "search.sqlite3")
    bounded_floor = Fts5Floor(work / "search.sqlite3", bound=SearchQuery().total_bound)
    pg: PostgresFts | None = None
    try:
        start = time.perf_counter()
        pg = PostgresFts(args.pg, args.reports)
        print(f"  PostgreSQL table and GIN index built in {time.perf_counter() - start:.1f} s")
    except Exception as exc:  # noqa: BLE001 - any failure to reach or set up the server skips the peer
        print(f"  PostgreSQL full-text peer skipped: no PostgreSQL answers at '{args.pg}' ({exc})")
    try:
        measure(args, queries, engine, like, floor, bounded_floor, pg)
    finally:
        if pg:
            pg.close()


def measure(args: argparse.Namespace, queries: list[str], engine: SqliteEngine, like: LikeScan,
            floor: Fts5Floor, bounded_floor: Fts5Floor, pg: PostgresFts | None) -> None:
    # Same question, same answer: totals and facets of every query, before any timing.
    wrong: list[str] = []
    for q in queries:
        ours = engine_answer(engine, q)
        wrong += differences(q, "LIKE", ours, like.search(q))
        if pg:
            wrong += differences(q, "PostgreSQL", ours, pg.search(q))
    if wrong:
        print("FAILED: the baselines do not answer the same question as the engine:")
        print("\n".join(wrong))
        sys.exit(1)
    print(f"  checked: the same totals and five facets for all {len(queries)} queries in the engine (exact), LIKE"
          + (" and PostgreSQL" if pg else ""))
    wrong = check_bound(engine, queries)
    if wrong:
        print("FAILED: the bounded search does not answer as it should:")
        print("\n".join(wrong))
        sys.exit(1)

    # The same engine ranking with FTS5's bm25() instead of pakn_rank (indexer/native_rank.py), where
    # that is built: what a deployment without a C compiler gets (the same answers).
    plain = SqliteEngine(engine.path, cache_size=0, native=False) if engine.native else None
    systems: dict[str, Callable[[str], Any]] = {
        "engine": lambda q: engine.search(SearchQuery(q=q)),
        "exact": lambda q: engine.search(SearchQuery(q=q, total_bound=None)),
        "floor": floor.search, "bfloor": bounded_floor.search, "like": like.search}
    if pg:
        systems["pg"] = pg.search
    if plain:
        systems["bm25"] = lambda q: plain.search(SearchQuery(q=q))

        def cold(q: str) -> Any:
            engine._hits.state = None  # as if no search had counted its phrases in this index state
            return engine.search(SearchQuery(q=q))

        systems["cold"] = cold
        page = lambda e, q: [(h.id, h.score) for h in e.search(SearchQuery(q=q)).hits]  # noqa: E731
        differ = [q for q in queries if page(engine, q) != page(plain, q)]
        if differ:
            print(f"FAILED: pakn_rank and bm25() rank these queries differently: {differ}")
            sys.exit(1)
        print(f"  checked: the same first page, scores included, with pakn_rank and with bm25() for all {len(queries)} queries")
    stats: dict[str, dict[str, list[float]]] = {s: {"p50": [], "p95": []} for s in systems}
    ratios: dict[str, dict[str, list[float]]] = {s: {"p50": [], "p95": []} for s in systems if s != "engine"}
    for _ in range(args.runs):
        times: dict[str, list[float]] = {s: [] for s in systems}
        for i, q in enumerate(queries):
            # The systems run in a shuffled order (the same in every invocation): the one that reads
            # a query's pages first pays for the cold cache, and the one right after it profits.
            names = list(systems)
            random.Random(i).shuffle(names)
            for name in names:
                t0 = time.perf_counter()
                systems[name](q)
                times[name].append((time.perf_counter() - t0) * 1000)
        for name in systems:
            for p in ("p50", "p95"):
                stats[name][p].append(percentile(times[name], int(p[1:])))
        for name in ratios:
            for p in ("p50", "p95"):
                ratios[name][p].append(stats[name][p][-1] / stats["engine"][p][-1])

    label = {"engine": "embedded engine (bound 10,000)", "exact": "embedded engine, exact (no bound)",
             "floor": "FTS5 floor (MATCH + bm25 + top 20)", "bfloor": "FTS5 floor within the bound",
             "like": "SQL LIKE scan (folded whole words)", "pg": "PostgreSQL FTS (unaccent+simple, GIN)",
             "bm25": "embedded engine, FTS5's bm25()", "cold": "embedded engine, phrase counts cold"}
    print(f"ranking: {'pakn_rank (indexer/native_rank.py)' if engine.native else 'bm25(): ' + native_rank.reason()}")
    print(f"search, {args.reports:,} reports, {len(queries)} queries x {args.runs} runs, five facets, highlights, "
          f"cache off; median of the runs (each run's value):")
    for name in systems:
        print(f"  {label[name]:<40} p50 {spread(stats[name]['p50'], 'ms')}   p95 {spread(stats[name]['p95'], 'ms')}")
    print("ratios, each run's peer time / engine time in that run (>1: the engine is faster):")
    for name in ratios:
        print(f"  {label[name]:<40} p50 {spread(ratios[name]['p50'], 'x', 2)}   "
              f"p95 {spread(ratios[name]['p95'], 'x', 2)}")
    for name in ("floor", "bfloor"):
        over = [1 / r for r in ratios[name]["p95"]]
        print(f"  engine p95 / {label[name]} p95: {spread(over, 'x', 2)}")
    if "pg" in ratios:
        print(f"  PostgreSQL p95 / engine p95: {statistics.median(ratios['pg']['p95']):.2f}x")
        exact_vs_pg = [e / p for e, p in zip(stats["exact"]["p95"], stats["pg"]["p95"], strict=True)]
        print(f"  PostgreSQL p95 / exact engine p95: {statistics.median([1 / r for r in exact_vs_pg]):.2f}x")


if __name__ == "__main__":
    main()
