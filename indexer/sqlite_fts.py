"""The embedded engine: SQLite FTS5 in a file of its own, independent of the records' database.

FTS5's ``unicode61`` tokenizer does not fold "đ", so folding is done here in Python: every text
is stored twice (lower-case with diacritics, and folded), plus the folded adjacent-syllable pairs.
A query matches the folded columns (all words, or any word in the fallback); bm25 ranks, and
matches in the diacritic columns and in the pairs column add to the score, so "ngập nước" typed
with its marks ranks exact, adjacent matches first. The filters a report is found by (field,
region, status, type, unit) are tokens of a last column, ``tags``, so that FTS5 applies them as it
reads the posting lists, the way a search engine filters by term; that column weighs nothing.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from indexer import native_rank
from indexer.engine import EngineUnavailable, SearchEngine, falls_back
from indexer.query import (
    WORD,
    Hit,
    SearchQuery,
    SearchResult,
    Term,
    analyze,
    highlight,
    pairs,
    text_pairs,
)
from indexer.sqlite_columns import FACETS, LOG_KEEP, Columns, Snapshot
from indexer.text import fold, nfc

SCHEMA_VERSION = "1"
TEXT_FIELDS = ("title", "content", "address", "answer", "sender")
# bm25 weights by column: exact columns, folded columns, pairs, tags (same order as the table).
WEIGHTS = (3.0, 1.0, 1.5, 0.5, 2.0, 3.0, 1.0, 1.5, 0.5, 2.0, 1.0, 0.0)
# An any-word search past its bound looks for reports holding every word but one within this many
# times the span of report numbers its newest matches cover (docs/search.md).
NEAR_SPAN = 4
# Whole numbers: a boost is a group written that many times (a column weight would not do: bm25
# saturates a phrase's weighted frequency, so doubling a weight does not double a score).
PAIR_BOOST = 2
EXACT_BOOST = 1

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}');
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY, revision INTEGER NOT NULL, type TEXT, status TEXT, field TEXT,
    ward_code INTEGER, province_code INTEGER, month TEXT, submitted_ts INTEGER,
    sender_phone TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_docs_phone ON docs(sender_phone);
CREATE INDEX IF NOT EXISTS ix_docs_province ON docs(province_code);
DROP INDEX IF EXISTS ix_docs_submitted;
DROP INDEX IF EXISTS ix_docs_ward;
DROP INDEX IF EXISTS ix_docs_field;
DROP INDEX IF EXISTS ix_docs_status;
DROP INDEX IF EXISTS ix_docs_type;
DROP INDEX IF EXISTS ix_docs_month;
-- A filter reads its own index, which holds the candidates' narrow columns in report
-- number order: a filtered search never reads the wide rows (the single-column indexes above,
-- replaced by these, made it read one row per match).
CREATE INDEX IF NOT EXISTS ix_docs_by_submitted ON docs(submitted_ts, id, field, ward_code, status, type, month);
CREATE INDEX IF NOT EXISTS ix_docs_by_ward ON docs(ward_code, id, field, status, type, month, submitted_ts);
CREATE INDEX IF NOT EXISTS ix_docs_by_field ON docs(field, id, ward_code, status, type, month, submitted_ts);
CREATE INDEX IF NOT EXISTS ix_docs_by_status ON docs(status, id, field, ward_code, type, month, submitted_ts);
CREATE INDEX IF NOT EXISTS ix_docs_by_type ON docs(type, id, field, ward_code, status, month, submitted_ts);
CREATE INDEX IF NOT EXISTS ix_docs_by_month ON docs(month, id, field, ward_code, status, type, submitted_ts);
CREATE INDEX IF NOT EXISTS ix_docs_facets ON docs(
    id, submitted_ts, field, ward_code, province_code, status, type, month, sender_phone);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
CREATE TABLE IF NOT EXISTS tombstones(id INTEGER PRIMARY KEY, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS doc_units(unit INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(unit, id));
CREATE TABLE IF NOT EXISTS doc_wards(ward INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(ward, id));
CREATE INDEX IF NOT EXISTS ix_doc_wards_id ON doc_wards(id);
-- The change log that each process's facet columns follow (indexer/sqlite_columns.py): the reports
-- each write changed, with the generation it started from and the one it made; and the file's
-- identity (a rebuild's new file gets a new one).
CREATE TABLE IF NOT EXISTS change_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER NOT NULL,
                                      before TEXT NOT NULL, after TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('file', lower(hex(randomblob(16))));
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    title, content, address, answer, sender,
    f_title, f_content, f_address, f_answer, f_sender, pairs, tags,
    tokenize = "unicode61 remove_diacritics 0 tokenchars '_'");
"""
FTS_COLUMNS = ("title", "content", "address", "answer", "sender", "f_title", "f_content", "f_address",
               "f_answer", "f_sender", "pairs", "tags")
# The facets' columns of docs d, for counting in SQL (indexer/sqlite_columns.py names them once).
FACET_COLUMNS = {name: f"d.{column}" for name, column in FACETS.items()}


def _words(text: str | None) -> list[str]:
    return WORD.findall(nfc(text).lower()) if text else []


def _fts_row(doc: dict[str, Any]) -> tuple[str, ...]:
    texts = {"title": doc.get("title"), "content": doc.get("content"), "address": doc.get("address"),
             "answer": doc.get("answer"), "sender": doc.get("sender_name")}
    exact = [" ".join(_words(texts[f])) for f in TEXT_FIELDS]
    folded = [" ".join(fold(w) for w in _words(texts[f])) for f in TEXT_FIELDS]
    pair_tokens = [p for f in ("title", "content", "address", "answer") for p in text_pairs(texts[f] or "")]
    return (*exact, *folded, " ".join(pair_tokens), " ".join(_doc_tags(doc)))


# -- filters as tokens -------------------------------------------------------------------------
# The kinds of tag, by the filter that asks for them (a legacy place is tagged with each current
# ward it maps to, so that the region filter finds it as the SQL one does through doc_wards).
TAGGED = {"field": "f", "status": "s", "type": "t", "ward": "w", "province": "p", "unit": "u"}


def _tag(kind: str, value: Any) -> str:
    """The token of one filter value: its kind and the hex of its text, which no tokenizer splits
    and no word of a report can be (the words are never matched in the tags column anyway)."""
    return f"{TAGGED[kind]}_{str(value).encode().hex()}"


def _doc_tags(doc: dict[str, Any]) -> list[str]:
    tags = [_tag(kind, doc.get(key)) for kind, key in
            (("field", "field"), ("status", "status"), ("type", "type"), ("ward", "ward_code"),
             ("province", "province_code")) if doc.get(key) is not None]
    tags += [_tag("ward", ward) for ward in doc.get("legacy_wards") or ()]
    tags += [_tag("unit", unit) for unit in doc.get("units") or ()]
    return tags


def _tags_of(kind: str, values: Iterable[Any]) -> str:
    return "(" + " OR ".join(_quote(_tag(kind, v)) for v in values) + ")"


def _with_tags(expression: str | None, tags: str) -> str | None:
    return None if expression is None else f"({expression}) AND {tags}"


def _log(conn: sqlite3.Connection, changed: list[int]) -> None:
    """End a write that changed the reports ``changed``: a new generation (cached results of the
    old one are not served), and the change log's rows of this write (kept: the newest LOG_KEEP;
    a process further behind reads the file whole)."""
    before = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
    after = uuid.uuid4().hex
    conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (after,))
    conn.executemany("INSERT INTO change_log(id, before, after) VALUES (?, ?, ?)",
                     [(doc_id, before, after) for doc_id in changed])
    conn.execute("DELETE FROM change_log WHERE seq <= (SELECT max(seq) FROM change_log) - ?", (LOG_KEEP,))


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


# In an expression of this module: a quoted token, or the column filter of the tokens after it.
_PHRASE_OR_COLUMNS = re.compile(r'"(?:[^"]|"")*"|\{[^}"]*\}\s*:|\bpairs\s*:|\btags\s*:')


def _phrase_list(expression: str) -> list[str]:
    """Each phrase of an expression of this module (a ``_quote``d token after the column filter
    of its group), in FTS5's order, as an expression of its own: what FTS5 counts for its IDF."""
    out, columns = [], ""
    for found in _PHRASE_OR_COLUMNS.finditer(expression):
        text = found.group()
        if text.startswith('"'):
            out.append(f"{columns} {text}" if columns else text)
        else:
            columns = text
    return out


def _match_expression(terms: list[Term], any_words: bool) -> str:
    groups = ["(" + " OR ".join(_quote(f) for f in t.folded) + ")" for t in terms]
    joined = (" OR " if any_words else " AND ").join(groups)
    return "{f_title f_content f_address f_answer f_sender} : (" + joined + ")"


def _all_but_one(terms: list[Term]) -> str | None:
    """The folded-column expression of the documents holding every word of ``terms`` but at most
    one; None outside 3–8 words (two words: that is any word; more: the expression grows as n²)."""
    if not 3 <= len(terms) <= 8:
        return None
    groups = ["(" + " OR ".join(_quote(f) for f in t.folded) + ")" for t in terms]
    alternatives = ["(" + " AND ".join(g for j, g in enumerate(groups) if j != i) + ")" for i in range(len(groups))]
    return "{f_title f_content f_address f_answer f_sender} : (" + " OR ".join(alternatives) + ")"


def _scored_expression(terms: list[Term], any_words: bool, common: Iterable[str] = ()) -> str:
    """The expression whose bm25 ranks the candidates (rows already known to match M): M OR P… OR E….

    FTS5's bm25 is a sum over the expression's phrases, and a phrase a row does not hold adds
    nothing, so a group written n times weighs n times: the score is bm25(M) + PAIR_BOOST·bm25(P)
    + EXACT_BOOST·bm25(E), P the adjacent pairs and E the exact-diacritic words. The rows come from
    the candidates, so the boosts never widen the match; and each phrase is written no more often
    than its weight asks, since bm25 reads each phrase's whole posting list once per search (its IDF).

    The ``common`` words (held by at least half the reports: ``_Frequencies``) are left out: FTS5
    floors their IDF at 1e-6, so they weigh nothing, yet reading their lists ("đường" is in most
    addresses) was most of the ranking's time. A word of an all-words match is left out only while
    another remains, so that the expression still holds every candidate.
    """
    common = set(common)
    kept = terms if any_words else [t for t in terms if not set(t.folded) <= common]
    groups = [_match_expression(kept or terms, any_words)]
    query_pairs = pairs(terms)
    if query_pairs:
        groups += ["pairs : (" + " OR ".join(_quote(p) for p in query_pairs) + ")"] * PAIR_BOOST
    exact = [e for t in terms for e in t.exact if e not in common]
    if exact:
        groups += ["{title content address answer sender} : (" + " OR ".join(_quote(e) for e in exact) + ")"] * EXACT_BOOST
    return " OR ".join(f"({g})" for g in groups)


def _epoch(value: str | datetime | None) -> int | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return int(moment.timestamp())


class SqliteEngine(SearchEngine):
    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str], cache_size: int = 256, busy_timeout: float = 30,
                 native: bool | None = None) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout  # seconds a statement waits for another process's lock
        self._cache = _ResultCache(cache_size)
        self._frequencies = _Frequencies()
        self._hits = _PhraseHits()
        # bm25 by the ranking function in C where it is built (indexer/native_rank.py; loaded before
        # this engine opens a connection); ``native=False``: FTS5's bm25(), the same scores.
        self.native = native_rank.available() if native is None else native and native_rank.available()
        # The facet columns in this process's memory (a large file is read in the background), with
        # the reports' lengths that the ranking function reads.
        self._columns = Columns(opener=self._open, lengths=self.native)
        self._local = threading.local()  # this thread's read connection, and the file it opened

    # -- connections ------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """A new read-only connection of the caller's thread (the facet columns' background read)."""
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout,
                               isolation_level=None)

    @contextmanager
    def _connect(self, path: Path | None = None) -> Iterator[sqlite3.Connection]:
        target = path or self.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise EngineUnavailable(f"không mở được chỉ mục {target}: {exc}") from exc
        try:
            # A rollback journal, not WAL: rebuild swaps the whole file with os.replace().
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        except sqlite3.Error as exc:
            raise EngineUnavailable(f"lỗi chỉ mục tìm kiếm: {exc}") from exc
        finally:
            conn.close()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """This thread's read connection, kept open between searches and reopened when the file
        it opened is no longer the index file (a rebuild's os.replace, or a drop).

        While the connection holds the old file open its inode cannot be reused, so a changed
        (device, inode) pair is a reliable sign of a new file. A connection is never used across a
        fork (SQLite forbids it): the process id is part of the key."""
        local = self._local
        try:
            st = os.stat(self.path)
            current = (os.getpid(), st.st_dev, st.st_ino)  # a forked worker opens its own
        except OSError:
            current = None
        conn = getattr(local, "conn", None)
        if conn is not None and (current is None or local.file != current):
            conn.close()
            local.conn = conn = None
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                       check_same_thread=True)
                conn.execute("PRAGMA journal_mode=DELETE")
            except (OSError, sqlite3.Error) as exc:
                raise EngineUnavailable(f"không mở được chỉ mục {self.path}: {exc}") from exc
            local.conn, local.file = conn, current  # None for a new file: reopened once it exists
        try:
            yield conn
        except sqlite3.Error as exc:
            local.conn = None  # a failed connection is not kept
            conn.close()
            raise EngineUnavailable(f"lỗi chỉ mục tìm kiếm: {exc}") from exc

    def ensure_index(self) -> None:
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def drop(self) -> None:
        for suffix in ("", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    # -- writing ----------------------------------------------------------------------------
    def _write(self, conn: sqlite3.Connection, docs: list[dict[str, Any]],
               versioned: bool = True) -> tuple[int, list[int]]:
        """Write ``docs``; returns (how many accepted, the ids changed): a revision the index
        already holds is accepted without a change."""
        done, changed = 0, []
        # An index file made before the tags column keeps its layout until it is rebuilt.
        columns = FTS_COLUMNS if _tagged(conn) else FTS_COLUMNS[:-1]
        insert_fts = f"INSERT INTO fts(rowid, {', '.join(columns)}) VALUES (?{',?' * len(columns)})"
        for doc in docs:
            if versioned:
                row = conn.execute("SELECT revision FROM docs WHERE id = ?", (doc["id"],)).fetchone()
                stone = conn.execute("SELECT revision FROM tombstones WHERE id = ?", (doc["id"],)).fetchone()
                newest = max(row[0] if row else 0, stone[0] if stone else 0)
                if newest >= doc["revision"]:
                    done += 1  # the index already holds this revision or a newer one
                    continue
                if row:
                    conn.execute("DELETE FROM fts WHERE rowid = ?", (doc["id"],))
                    conn.execute("DELETE FROM doc_units WHERE id = ?", (doc["id"],))
                    conn.execute("DELETE FROM doc_wards WHERE id = ?", (doc["id"],))
                conn.execute("DELETE FROM tombstones WHERE id = ?", (doc["id"],))
            conn.execute(
                "INSERT OR REPLACE INTO docs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (doc["id"], doc["revision"], doc["type"], doc["status"], doc["field"], doc.get("ward_code"),
                 doc["province_code"], doc["month"], _epoch(doc["submitted_at"]), doc.get("sender_phone"),
                 json.dumps(doc, ensure_ascii=False)))
            conn.execute(insert_fts, (doc["id"], *_fts_row(doc)[:len(columns)]))
            conn.executemany("INSERT OR IGNORE INTO doc_wards VALUES (?, ?)",
                             [(ward, doc["id"]) for ward in doc.get("legacy_wards") or ()])
            conn.executemany("INSERT OR IGNORE INTO doc_units VALUES (?, ?)",
                             [(unit, doc["id"]) for unit in doc.get("units") or ()])
            done += 1
            changed.append(doc["id"])
        return done, changed

    def bulk_upsert(self, docs: list[dict[str, Any]]) -> int:
        if not docs:
            return 0
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                done, changed = self._write(conn, docs)
                if changed:  # a repeated delivery changes nothing, so cached results stay valid
                    _log(conn, changed)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return done

    def delete(self, items: Iterable[tuple[int, int]]) -> int:
        removed: list[int] = []
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for doc_id, revision in items:
                    row = conn.execute("SELECT revision FROM docs WHERE id = ?", (doc_id,)).fetchone()
                    if row and row[0] > revision:
                        continue  # the index holds a newer revision than this deletion
                    if row:
                        conn.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
                        conn.execute("DELETE FROM fts WHERE rowid = ?", (doc_id,))
                        conn.execute("DELETE FROM doc_units WHERE id = ?", (doc_id,))
                        conn.execute("DELETE FROM doc_wards WHERE id = ?", (doc_id,))
                        removed.append(doc_id)
                    conn.execute("INSERT INTO tombstones VALUES (?, ?) ON CONFLICT(id) DO UPDATE "
                                 "SET revision = max(revision, excluded.revision)", (doc_id, revision))
                if removed:  # a tombstone alone (e.g. an unpublished report) changes no result
                    _log(conn, removed)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(removed)

    def rebuild(self, docs: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None) -> int:
        tmp = self.path.with_name(f"{self.path.name}.rebuild-{uuid.uuid4().hex[:8]}")
        count = 0
        try:
            with self._connect(tmp) as conn:
                conn.execute("PRAGMA synchronous=OFF")
                conn.executescript(SCHEMA)
                conn.execute("BEGIN")
                batch: list[dict[str, Any]] = []
                for doc in docs:
                    batch.append(doc)
                    if len(batch) >= 1000:
                        count += self._write(conn, batch, versioned=False)[0]
                        if progress:
                            progress(len(batch))
                        batch.clear()
                count += self._write(conn, batch, versioned=False)[0]
                if progress and batch:
                    progress(len(batch))
                # A new generation number, so that no cached result of the old index is served.
                conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (uuid.uuid4().hex,))
                conn.execute("COMMIT")
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            os.replace(tmp, self.path)  # the atomic swap: readers see the old file or the new one
        finally:
            tmp.unlink(missing_ok=True)
            Path(str(tmp) + "-journal").unlink(missing_ok=True)
        return count

    # -- reading ----------------------------------------------------------------------------
    @staticmethod
    def _generation(conn: sqlite3.Connection) -> str:
        """The index's generation, creating the schema only when the file has none yet: the schema
        script writes, and a write lock on every search would make concurrent searches queue."""
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        except sqlite3.OperationalError:  # no such table: a new or dropped file
            row = None
        if row is None:
            conn.executescript(SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return row[0]

    def count(self) -> int:
        with self._connect() as conn:
            self._generation(conn)
            return conn.execute("SELECT count(*) FROM docs").fetchone()[0]

    def revisions(self) -> Iterator[tuple[int, int]]:
        with self._connect() as conn:
            self._generation(conn)
            rows = conn.execute("SELECT id, revision FROM docs ORDER BY id").fetchall()
        yield from rows

    def health(self) -> dict[str, Any]:
        try:
            return {"engine": self.name, "ok": True, "path": str(self.path), "documents": self.count()}
        except EngineUnavailable as exc:
            return {"engine": self.name, "ok": False, "path": str(self.path), "error": str(exc)}

    @staticmethod
    def _filters(query: SearchQuery, skip: str | None = None, tagged: bool = False) -> tuple[str, list[Any]]:
        """The SQL condition of ``query``'s filters but ``skip``'s, on the rows of ``docs d``; with
        ``tagged``, without those that ``_tag_expression`` applies in the MATCH."""
        clauses: list[str] = []
        params: list[Any] = []

        def any_of(column: str, values: list[Any]) -> None:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)

        if tagged:
            query = replace(query, wards=[], provinces=[], fields=[], types=[], statuses=[],
                            units=None if query.units else query.units)
        if skip != "region" and (query.wards or query.provinces):
            parts = []
            if query.wards:
                marks = ",".join("?" * len(query.wards))
                parts.append(f"d.ward_code IN ({marks})")
                # or a legacy place that the crosswalk maps to one of them
                parts.append(f"d.id IN (SELECT id FROM doc_wards WHERE ward IN ({marks}))")
                params.extend([*query.wards, *query.wards])
            if query.provinces:
                parts.append(f"d.province_code IN ({','.join('?' * len(query.provinces))})")
                params.extend(query.provinces)
            clauses.append("(" + " OR ".join(parts) + ")")
        if skip != "field" and query.fields:
            any_of("d.field", query.fields)
        if skip != "type" and query.types:
            any_of("d.type", query.types)
        if skip != "status" and query.statuses:
            any_of("d.status", query.statuses)
        if query.date_from is not None:
            clauses.append("d.submitted_ts >= ?")
            params.append(_epoch(query.date_from))
        if query.date_to is not None:
            clauses.append("d.submitted_ts < ?")
            params.append(_epoch(query.date_to))
        if query.phone:
            clauses.append("d.sender_phone = ?")
            params.append(query.phone)
        if query.units is not None:  # the staff scope
            if query.units:
                clauses.append(f"d.id IN (SELECT id FROM doc_units WHERE unit IN ({','.join('?' * len(query.units))}))")
                params.extend(query.units)
            else:
                clauses.append("0")
        if query.deadline_before is not None:
            clauses.append("unixepoch(json_extract(d.doc, '$.deadline_at')) < ?")
            params.append(_epoch(query.deadline_before))
        if query.published_after is not None:
            # Milliseconds since the epoch (julianday reads fractions and offsets on every SQLite 3)
            clauses.append("CAST(round((julianday(json_extract(d.doc, '$.published_at')) - 2440587.5) "
                           "* 86400000) AS INTEGER) > ?")
            params.append(int(query.published_after.timestamp() * 1000))
        return (" AND ".join(clauses) or "1"), params

    @staticmethod
    def _tag_expression(query: SearchQuery, skip: str | None = None) -> str | None:
        """The filters of ``query`` but ``skip``'s that the tags column answers, as an FTS5
        expression (None when there are none); ``_filters(tagged=True)`` leaves them out."""
        groups = []
        if skip != "region" and (query.wards or query.provinces):
            groups.append("(" + " OR ".join([_quote(_tag("ward", w)) for w in query.wards]
                                            + [_quote(_tag("province", p)) for p in query.provinces]) + ")")
        for name, values in (("field", query.fields), ("type", query.types), ("status", query.statuses)):
            if skip != name and values:
                groups.append(_tags_of(name, values))
        if query.units:  # the staff scope (an empty one matches nothing, in SQL)
            groups.append(_tags_of("unit", query.units))
        return "tags : (" + " AND ".join(groups) + ")" if groups else None

    def _search(self, query: SearchQuery) -> SearchResult:
        terms = analyze(query.q)
        with self._reader() as conn:
            key = (self._generation(conn), repr(query))
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            # No read transaction spans the search at first (it would hold the file's read lock for
            # the whole search, and a writer waiting for it would hold back every search starting
            # meanwhile): the facet columns' snapshot is made in a short one, and at the end the
            # file is checked to be still in the snapshot's state. A write that changed reports in
            # between makes the search run again; the third time, in one read transaction.
            for attempt in range(3):
                locked = attempt == 2
                if locked:
                    conn.execute("BEGIN")
                try:
                    columns = self._columns.snapshot(conn, locked)  # None: counted in SQL
                    total, exact = self._candidates(conn, query, terms, columns=columns)
                    if total == 0 and falls_back(query):  # this answer is replaced by the any-word one
                        return SearchResult(total=0, hits=[], facets={}, total_exact=exact)
                    facets, facets_exact = (self._facets(conn, query, terms, exact, columns) if query.facets
                                            else ({}, True))
                    # The page's ids first (ordering reads the candidates' dates), then only their
                    # documents.
                    page = []
                    if total and query.offset < total:
                        sql, params = self._ranked(conn, query, terms, bounded=not exact, columns=columns)
                        page = conn.execute(sql + " LIMIT ? OFFSET ?",
                                            [*params, query.per_page, query.offset]).fetchall()
                        if params and isinstance(params[0], bytes):
                            # The same statement on nothing (LIMIT 0) lets go of its copy of the lengths.
                            conn.execute(sql + " LIMIT ? OFFSET ?", [b"", *params[1:], 0, 0])
                    raws = dict(conn.execute(
                        f"SELECT id, doc FROM docs WHERE id IN ({','.join('?' * len(page))})",
                        [doc_id for doc_id, _ in page]).fetchall()) if page else {}
                finally:
                    if locked and conn.in_transaction:
                        conn.execute("COMMIT")  # it only read
                if locked or columns is None or self._columns.still(conn, columns):
                    break
        # (a report deleted between the ranking and the reading of the page: left out)
        page = [(doc_id, value) for doc_id, value in page if doc_id in raws]
        hits = []
        for doc_id, value in page:
            doc = json.loads(raws[doc_id])
            hits.append(Hit(id=doc_id, score=-float(value or 0), doc=doc, highlight=_highlights(doc, terms)))
        result = SearchResult(total=total, hits=hits, facets=facets, any_words=query.any_words, total_exact=exact,
                              facets_exact=facets_exact)
        self._cache.put(key, result)
        return result

    def _candidates(self, conn: sqlite3.Connection, query: SearchQuery, terms: list[Term],
                    skip: str | None = None, table: str = "m", dated: bool = True,
                    columns: Snapshot | None = None) -> tuple[int, bool]:
        """Fill the temporary ``table`` with the documents matching ``query`` (every filter but
        ``skip``'s) and their dates (which order equal scores: from the ``columns`` snapshot where
        no filter reads the rows; without ``dated``, only where one does); returns (how many,
        whether that is all of them).

        With a ``total_bound`` only the bound's newest matches are kept (oldest for the oldest
        sort): FTS5 reads the posting lists in rowid order and stops there, so the work of a
        search stops growing with the index. Counting, facets and ranking then read this table.
        Its key is the report id times ``_sign(query)``, so that rows arrive in increasing key
        order whichever way the lists are read (appending to a B-tree is the cheap insert).
        """
        where, params = self._filters(query, skip=skip)
        sign = _sign(query)
        selected, selected_params = f"{sign} * d.id, d.submitted_ts", []
        direction = "ASC" if sign == 1 else "DESC"
        by_json = query.deadline_before is not None or query.published_after is not None
        match = near = None
        if terms:
            match = _match_expression(terms, query.any_words)
            if (query.any_words and query.total_bound is not None and query.effective_sort == "relevance"
                    and skip is None):
                # Only for the candidates that are ranked: sorted by date, the bound keeps the newest
                # or oldest matches whatever they hold, and a facet's own candidates are the newest
                # matches of its search (what the page says its counts are).
                near = _all_but_one(terms)
            if _tagged(conn):  # the filters that are tags apply in the MATCH, as FTS5 reads the lists
                where, params = self._filters(query, skip=skip, tagged=True)
                tags = self._tag_expression(query, skip)
                match, near = (_with_tags(match, tags), _with_tags(near, tags)) if tags else (match, near)
            covering = not by_json and _has_index(conn, "ix_docs_facets")
            # The filters' columns and the date from the covering index (an index file written
            # before that index existed gets it at its next write; until then, from the rows).
            source = "fts CROSS JOIN docs d " + ("INDEXED BY ix_docs_facets " if covering else "") + "ON d.id = fts.rowid"
            if where == "1" and not dated:  # the ids alone (a facet's candidates): no row is read
                source, selected = "fts", f"{sign} * fts.rowid, NULL"
            elif where == "1" and columns is not None and columns.dates is not None:  # dates from memory: no row read
                source, selected = "fts", f"{sign} * fts.rowid, substr(?, fts.rowid * 4 + 1, 4)"
                selected_params = [columns.dates]
            where = f"fts MATCH ? AND {where}"
            order = f"fts.rowid {direction}"
        else:
            source, order = "docs d", f"d.id {direction}"
            if (query.total_bound is not None and not by_json and _dates_only(query, skip)
                    and _has_index(conn, "ix_docs_by_submitted")):
                # A date range alone: its index gives the matches in date order, to be sorted by
                # report number. When more than the bound match, reading the narrow index newest
                # first stops at the bound instead (report numbers follow dates).
                probe = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM docs d INDEXED BY ix_docs_by_submitted "
                                     f"WHERE {where} LIMIT ?)", [*params, query.total_bound + 1]).fetchone()[0]
                if probe > query.total_bound:
                    source = "docs d INDEXED BY ix_docs_facets"
        bound = query.total_bound
        # submitted_ts: the date, or its 4 bytes from the snapshot (one kind in one search)
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table}(id INTEGER PRIMARY KEY, submitted_ts, tier INTEGER)")
        conn.execute(f"DELETE FROM {table}")
        insert = (f"INSERT INTO {table} SELECT {selected}, ? FROM {source} WHERE {where} "
                  f"ORDER BY {order} LIMIT ?")
        limit = -1 if bound is None else bound + 1
        count = conn.execute(insert, [*selected_params, 0, *([match] if terms else []), *params, limit]).rowcount
        if selected_params:
            # A prepared statement keeps the parameters it last ran with until it runs again: the
            # same statement, run on nothing, lets go of its copy of the dates' bytes (4 per report).
            conn.execute(insert, [b"", 0, *([match] if terms else []), *params, 0])
        if near and count > bound:
            # Any-word results past the bound are ranked among the newest matches holding every word
            # but one (tier 1), then the newest of the rest (tier 0), not among the newest alone.
            # Those are looked for within NEAR_SPAN times the report numbers the candidates span,
            # so that this work too stays bounded however large the index grows.
            first, last = (sign * key for key in _ends(conn, table))
            reach = first + sign * NEAR_SPAN * abs(last - first)
            near_insert = (insert.replace(" ORDER BY", " AND fts.rowid BETWEEN ? AND ? ORDER BY")
                           + " ON CONFLICT(id) DO UPDATE SET tier = 1")
            conn.execute(near_insert, [*selected_params, 1, near, *params, min(first, reach), max(first, reach), limit])
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # upserts are not new rows
            if selected_params:
                conn.execute(near_insert, [b"", 1, near, *params, 0, 0, 0])
        if bound is not None and count > bound:  # more than the bound: "more than bound"
            # Keys grow in reading order: drop the last read (of the lowest tier).
            if near:
                conn.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY tier, id DESC LIMIT ?)",
                             (count - bound,))
            else:
                conn.execute(f"DELETE FROM {table} WHERE id = (SELECT max(id) FROM {table})")
            return bound, False
        return count, True

    def _facets(self, conn: sqlite3.Connection, query: SearchQuery, terms: list[Term],
                exact: bool, columns: Snapshot | None) -> tuple[dict[str, list[tuple[str, int]]], bool]:
        """The facets of the candidates, and whether every candidate set was complete (``exact``:
        the search's own). A facet counts the documents that pass every filter but its own, so a
        facet whose own filter is set reads candidates of its own. Counted with this process's
        facet columns (indexer/sqlite_columns.py), or by GROUP BY where they cannot answer."""
        where = self._filters(query)[0]
        facets: dict[str, list[tuple[str, int]]] = {}
        sign = _sign(query)
        candidates = None
        for name, column in FACET_COLUMNS.items():
            table = "m"
            if self._filters(query, skip=name)[0] != where:
                exact = self._candidates(conn, query, terms, skip=name, table="mf", dated=False)[1] and exact
                table = "mf"
            if columns is not None:
                if table == "m":
                    candidates = _ids(conn, "m", sign) if candidates is None else candidates
                counted = columns.count(name, candidates if table == "m" else _ids(conn, "mf", sign))
                if counted is not None:
                    facets[name] = _ordered((str(value), n) for value, n in counted)
                    continue
            # In SQL (a file written before the change log): the candidates' values from their rows.
            rows = f"{table} AS c CROSS JOIN docs d ON d.id = {sign} * c.id"
            counted = conn.execute(f"SELECT {column}, count(*) FROM {rows} WHERE {column} IS NOT NULL "
                                   f"GROUP BY {column}").fetchall()
            if name == "region" and conn.execute("SELECT 1 FROM doc_wards LIMIT 1").fetchone():
                # a legacy place counts under each current ward it maps to
                merged = dict(counted)
                # the few candidates without a current ward drive the join (not every legacy row)
                for ward, n in conn.execute(f"SELECT w.ward, count(*) FROM {rows} CROSS JOIN doc_wards w "
                                            "ON w.id = d.id WHERE d.ward_code IS NULL GROUP BY w.ward"):
                    merged[ward] = merged.get(ward, 0) + n
                counted = list(merged.items())
            facets[name] = _ordered((str(value), n) for value, n in counted)
        return facets, exact

    def _ranked(self, conn: sqlite3.Connection, query: SearchQuery, terms: list[Term],
                bounded: bool = False, columns: Snapshot | None = None) -> tuple[str, list[Any]]:
        """SELECT of the candidates' (id, bm25) in the query's order (``_candidates`` run first;
        ``bounded``: it kept only the bound's candidates). bm25 is ``pakn_rank`` reading the
        lengths of the ``columns`` snapshot where it has them (indexer/native_rank.py): the first
        parameter is then their bytes."""
        sort, sign = query.effective_sort, _sign(query)
        if sort == "relevance" and terms:
            # bm25 on the candidates only; the rowid range lets FTS5 skip the rest of each list, and
            # the filters' tags the rows that no filter lets through (the tags column weighs 0).
            low, high = sorted(sign * key for key in _ends(conn, "m"))
            order, among = "score ASC, m.submitted_ts DESC, fts.rowid DESC", ""
            if query.any_words and bounded:
                # Past the bound, an any-word search's candidates are the reports holding every word
                # but one (tier 1), then the rest (``_candidates``): they rank in that order, each tier
                # by bm25. A page within tier 1 scores tier 1 alone (bm25 is most of a search's time).
                near, first, last = conn.execute("SELECT count(*), min(id), max(id) FROM m WHERE tier = 1").fetchone()
                if near and query.offset + query.per_page <= near:
                    among, (low, high) = " AND m.tier = 1", sorted((sign * first, sign * last))
                elif near:
                    order = "m.tier DESC, " + order
            words = {w for t in terms for w in (*t.folded, *t.exact)}
            scored = _scored_expression(terms, query.any_words, self._frequencies.common(conn, self.path, words))
            phrases = _phrase_list(scored)  # those that score (not the tags, nor what narrows the rows below)
            weights = WEIGHTS
            if _tagged(conn):
                tags = self._tag_expression(query)
                scored = _with_tags(scored, tags) if tags else scored
            else:
                weights = WEIGHTS[:-1]
            lengths = columns.lengths if self.native and columns is not None else None
            rank, first = "bm25(fts, ", []
            if lengths is not None:
                hits = self._hits.blob(conn, (self._columns.file, columns.generation, columns.seq), phrases,
                                       still=lambda: self._columns.still(conn, columns))
                rank, first = "pakn_rank(fts, ?, ?, ?, ", [lengths, len(phrases), hits]
                near = _all_but_one(terms) if among else None
                if near:
                    # Tier 1 alone: FTS5 reads only the reports holding all words but one (sparse
                    # across the wide range tier 1 spans), not every report holding any word; the
                    # phrases of ``near`` come after those that score, so no score changes.
                    scored = f"({scored}) AND ({near})"
            return (f"SELECT fts.rowid, {rank}{', '.join(map(str, weights))}) AS score FROM fts CROSS JOIN m "
                    f"ON m.id = {sign} * fts.rowid WHERE fts MATCH ? AND fts.rowid BETWEEN ? AND ?{among} "
                    f"ORDER BY {order}", [*first, scored, low, high])
        # Words that are all punctuation ("???") leave no terms: ranked by date.
        order = "submitted_ts ASC, doc_id ASC" if sort == "oldest" else "submitted_ts DESC, doc_id DESC"
        return f"SELECT {sign} * id AS doc_id, 0 FROM m ORDER BY {order}", []

    def _scan(self, query: SearchQuery, batch: int) -> Iterator[dict[str, Any]]:
        # Every match (no bound), in order, goes to a temporary table of this connection (SQLite's
        # temp store, not Python memory); documents are then read by keyset pages, each its own
        # short statement, so no read lock is held while the caller writes the previous page out.
        terms = analyze(query.q)
        query = replace(query, total_bound=None)
        with self._connect() as conn:
            self._generation(conn)
            total, _exact = self._candidates(conn, query, terms)
            conn.execute("DROP TABLE IF EXISTS temp.scan")
            conn.execute("CREATE TEMP TABLE scan(pos INTEGER PRIMARY KEY, id INTEGER, score REAL)")
            if total:
                sql, params = self._ranked(conn, query, terms)
                conn.execute(f"INSERT INTO scan(id, score) {sql}", params)
            last = 0
            while True:
                rows = conn.execute("SELECT s.pos, d.doc FROM scan s JOIN docs d ON d.id = s.id "
                                    "WHERE s.pos > ? ORDER BY s.pos LIMIT ?", (last, batch)).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                for _pos, raw in rows:
                    yield json.loads(raw)


def _ends(conn: sqlite3.Connection, table: str) -> tuple[int, int]:
    """The lowest and highest key of candidate ``table`` (two lookups: "min(id), max(id)" in one
    SELECT reads every row)."""
    return conn.execute(f"SELECT (SELECT min(id) FROM {table}), (SELECT max(id) FROM {table})").fetchone()


def _ids(conn: sqlite3.Connection, table: str, sign: int) -> np.ndarray:
    """The report numbers in candidate ``table``, as an array (one string from SQLite, parsed in C:
    a row per candidate costs more)."""
    listed = conn.execute(f"SELECT group_concat({sign} * id) FROM {table}").fetchone()[0]
    return np.fromstring(listed, dtype=np.int64, sep=",") if listed else np.empty(0, dtype=np.int64)


def _tagged(conn: sqlite3.Connection) -> bool:
    """Whether the index file's FTS table has the tags column (files made before it answer the
    same, filtering in SQL, until ``flask index rebuild`` remakes them)."""
    return conn.execute("SELECT 1 FROM pragma_table_info('fts') WHERE name = 'tags'").fetchone() is not None


def _has_index(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the index file has index ``name`` (a file written by an older version gets its
    indexes at its next write; until then the planner picks among those it has)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone() is not None


def _dates_only(query: SearchQuery, skip: str | None) -> bool:
    """Whether the date range is the only filter of ``query`` (but ``skip``'s) that an index serves."""
    others = {"region": bool(query.wards or query.provinces), "field": bool(query.fields),
              "type": bool(query.types), "status": bool(query.statuses)}
    return ((query.date_from is not None or query.date_to is not None) and not query.phone
            and query.units is None and not any(on for name, on in others.items() if name != skip))


def _sign(query: SearchQuery) -> int:
    """1 when the candidates are the oldest matches (the oldest sort), -1 when the newest."""
    return 1 if query.effective_sort == "oldest" else -1


def _ordered(counts: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(counts, key=lambda kv: (-kv[1], kv[0]))


class _Frequencies:
    """How many reports hold each word, per process: the words at least half the reports hold
    weigh nothing in bm25 (``_scored_expression``). Counted once (FTS5's vocabulary table reads
    the word's list) and kept for REFRESH seconds, or until a rebuild replaces the file; a word is
    taken as common from COMMON of the reports, above FTS5's half, so that the count may be that
    old and still never leave out a word that weighs."""

    REFRESH = 60.0
    COMMON = 0.6

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.file: tuple[int, int] | None = None
        self.since = 0.0
        self.reports = 0
        self.docs: dict[str, int] = {}

    def common(self, conn: sqlite3.Connection, path: Path, words: set[str]) -> set[str]:
        try:
            st = os.stat(path)
        except OSError:  # the file was dropped while this search reads it: leave nothing out
            return set()
        with self.lock:
            if self.file != (st.st_dev, st.st_ino) or time.monotonic() - self.since > self.REFRESH:
                self.file, self.since = (st.st_dev, st.st_ino), time.monotonic()
                self.reports = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
                self.docs = {}
            missing = sorted(words - self.docs.keys())
        if missing:
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_vocab USING fts5vocab(main, 'fts', 'row')")
            found = dict(conn.execute(f"SELECT term, doc FROM temp.fts_vocab WHERE term IN ({','.join('?' * len(missing))})",
                                      missing).fetchall())
            with self.lock:
                if len(self.docs) > 10_000:  # a bounded memory: start again
                    self.docs = {}
                self.docs.update({w: found.get(w, 0) for w in missing})
        with self.lock:
            return {w for w in words if self.reports and self.docs.get(w, 0) >= self.COMMON * self.reports}


class _PhraseHits:
    """How many reports each phrase of a ranking matches, per index state: bm25's IDF, which FTS5
    counts by reading each phrase's whole posting list on every search (2–5 ms of a long query's
    ranking). Counted here (the same count: the phrase with its column filter) once per phrase
    and state, the file's identity and generation, which every write that changes reports moves;
    given to ``pakn_rank``, so the scores stay those of bm25() on that state. Words recur across
    searches (streets, "nước", "đường"), so most phrases of a search were counted by an earlier
    one; a new state starts again from nothing."""

    LIMIT = 20_000  # phrases kept for one state (a bounded memory: start again)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: Any = None
        self.counts: dict[str, int] = {}

    def blob(self, conn: sqlite3.Connection, state: Any, phrases: list[str], still: Callable[[], bool]) -> bytes:
        """The row counts of ``phrases`` in ``state``, that of the snapshot the search ranks with.
        Counts made when the file is no longer in that state (``still()`` says) are not kept: that
        search runs again anyway (``SqliteEngine._search``), and another one of the same snapshot
        must not take them."""
        with self.lock:
            if state != self.state or len(self.counts) > self.LIMIT:
                self.state, self.counts = state, {}
            counts = self.counts
            missing = [p for p in dict.fromkeys(phrases) if p not in counts]
        found = {p: conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", [p]).fetchone()[0] for p in missing}
        if found and still():
            with self.lock:
                if self.state == state:
                    self.counts.update(found)
        counts = {**counts, **found}
        return struct.pack(f"={len(phrases)}q", *(counts[p] for p in phrases))


class _ResultCache:
    """Results of recent searches, valid while the index generation does not change."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.data: dict[Any, SearchResult] = {}
        self.lock = threading.Lock()

    def get(self, key: Any) -> SearchResult | None:
        with self.lock:
            return self.data.get(key)

    def put(self, key: Any, value: SearchResult) -> None:
        if self.size <= 0:
            return
        with self.lock:
            if len(self.data) >= self.size:
                self.data.pop(next(iter(self.data)))
            self.data[key] = value


def _highlights(doc: dict[str, Any], terms: list[Term]) -> dict[str, str]:
    if not terms:
        return {}
    out = {}
    for name, source, words in (("title", "title", 0), ("content", "content", 30),
                                ("answer", "answer", 30), ("address", "address", 0),
                                ("sender_name", "sender_name", 0)):
        marked = highlight(doc.get(source) or "", terms, words)
        if marked:
            out[name] = marked
    return out
