"""The ranking function in C (indexer/pakn_rank.c, indexer/native_rank.py): bm25's scores, with
each report's length read from the process's snapshot instead of FTS5's %_docsize. Users rely on
the order of their results not depending on whether it is built: every score is compared with
bm25()'s, exactly."""

from __future__ import annotations

import sqlite3
import struct

import pytest

from indexer import native_rank
from indexer.query import SearchQuery, analyze
from indexer.sqlite_columns import LENGTHS
from indexer.sqlite_fts import WEIGHTS, SqliteEngine, _phrase_list, _scored_expression

WORDS = ["ngập", "nước", "đường", "Lê", "Văn", "Duyệt", "vỡ", "ống", "cấp", "nước", "sinh", "hoạt",
         "rác", "thải", "chợ", "cây", "xanh", "đổ", "mất", "điện", "hòa", "hội", "trạm", "y", "tế",
         "thiếu", "thuốc", "đèn", "tín", "hiệu", "hỏng"]


def _doc(i: int, words: int, revision: int = 1, start: int = 0) -> dict:
    text = " ".join(WORDS[(start + i * 7 + k * 3) % len(WORDS)] for k in range(words))
    return {"id": i, "revision": revision, "code": f"PA-TEST-{i:04d}", "type": "pakn",
            "title": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(3 + i % 5)),
            "content": text, "address": f"Số {i} đường Lê Văn Duyệt", "answer": "", "answer_unit": None,
            "sender_kind": "individual", "sender_name": "Nguyễn Văn A", "sender_phone": None,
            "field": ["giao-thong", "moi-truong", "y-te"][i % 3], "field_name": "", "ward_code": 25450 + i % 2,
            "ward": "Xã A", "province_code": 80, "province": "Tây Ninh", "legacy_place": None,
            "status": "accepted", "submitted_at": f"2026-05-{1 + i % 28:02d}T03:00:00+00:00", "published_at": None,
            "month": "2026-05", "location": None}


# Lengths from 4 to 600 words a report: a column of 128 tokens or more is a varint of 2 bytes or more.
DOCS = [_doc(i, 4 + (i * 37) % 600) for i in range(1, 61)]
QUERIES = ["ngập nước", "ngap nuoc", "vỡ ống cấp nước", "Lê Văn Duyệt", "mat dien hoa hoi",
           "trạm y tế thiếu thuốc", "đèn", "cây xanh đổ chợ", "rac thai cho cay"]


def test_the_ranking_function_is_built_and_used_by_the_engine(tmp_path):
    """`make test` builds it (make native); the engine uses it unless told not to."""
    assert native_rank.available(), native_rank.reason()
    assert SqliteEngine(tmp_path / "a.sqlite3").native
    assert not SqliteEngine(tmp_path / "b.sqlite3", native=False).native


def test_the_setting_search_native_rank_false_ranks_with_bm25(tmp_path):
    from indexer.engine import engine_from_config

    config = {"SEARCH_ENGINE": "sqlite", "SEARCH_INDEX_PATH": str(tmp_path / "s.sqlite3")}
    assert engine_from_config({**config, "SEARCH_NATIVE_RANK": True}).native
    assert not engine_from_config({**config, "SEARCH_NATIVE_RANK": False}).native


def _tokens(sz: bytes) -> int:
    """A %_docsize record's token count, decoded here (SQLite's big-endian varints)."""
    total, value, i = 0, 0, 0
    while i < len(sz):
        byte = sz[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            total, value = total + value, 0
    return total


def test_scores_are_bm25s_for_every_matching_row(tmp_path):
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    long = {**_doc(99, 0), "content": "nước ngập " * 33_000}  # 66,000 words: too long for 2 bytes
    engine.bulk_upsert([*DOCS, long])
    conn = sqlite3.connect(engine.path)
    sizes = dict(conn.execute("SELECT id, sz FROM fts_docsize").fetchall())
    assert {i: n for i, n in conn.execute("SELECT id, pakn_tokens(sz) FROM fts_docsize")} == {
        i: _tokens(sz) for i, sz in sizes.items()}
    assert max(_tokens(sz) for sz in sizes.values()) > 0xFFFF
    # the lengths as the snapshot holds them: 2 bytes per report number, 0 for the long one
    lengths = [0] * 100
    for i, sz in sizes.items():
        lengths[i] = _tokens(sz) if _tokens(sz) <= 0xFFFF else 0
    blob = struct.pack(f"={len(lengths)}H", *lengths)
    weights = ", ".join(map(str, WEIGHTS))
    compared = narrowed_rows = 0
    for q in QUERIES:
        for any_words in (False, True):
            expression = _scored_expression(analyze(q), any_words)
            expected = conn.execute(f"SELECT rowid, bm25(fts, {weights}) FROM fts WHERE fts MATCH ? ORDER BY rowid",
                                    [expression]).fetchall()
            for given in (blob, None, blob[:40]):  # from the blob, from %_docsize, past the blob's end
                got = conn.execute(f"SELECT rowid, pakn_rank(fts, ?, 0, NULL, {weights}) FROM fts WHERE fts MATCH ? "
                                   "ORDER BY rowid", [given, expression]).fetchall()
                assert got == expected, (q, any_words)
            # Phrases after the first ``phrases`` only narrow the rows: the scores are the same.
            narrowed = f'({expression}) AND ({{f_title}} : ("thuoc" OR "hong"))'
            got = conn.execute(f"SELECT rowid, pakn_rank(fts, ?, ?, NULL, {weights}) FROM fts WHERE fts MATCH ? "
                               "ORDER BY rowid", [blob, len(_phrase_list(expression)), narrowed]).fetchall()
            held = {row for row, in conn.execute("SELECT rowid FROM fts WHERE fts MATCH ?", [narrowed])}
            assert got == [(row, score) for row, score in expected if row in held], (q, any_words)
            compared, narrowed_rows = compared + len(expected), narrowed_rows + len(got)
    conn.close()
    assert compared > 300 and 0 < narrowed_rows < compared / 2


def _page(engine: SqliteEngine, **kwargs) -> list[tuple[int, float]]:
    return [(h.id, h.score) for h in engine.search(SearchQuery(**kwargs)).hits]


def test_the_engine_answers_as_with_bm25_and_follows_another_process_writes(tmp_path, monkeypatch):
    """Same pages, same scores, with and without the function (also where the ranking reads only
    the reports holding all words but one); after another process adds, lengthens, shortens and
    deletes reports, the lengths the reader holds follow them."""
    path = tmp_path / "search.sqlite3"
    native, plain = SqliteEngine(path, cache_size=0), SqliteEngine(path, cache_size=0, native=False)
    narrowed = []
    ranked = SqliteEngine._ranked

    def spy(self, *args, **kwargs):
        sql, params = ranked(self, *args, **kwargs)
        narrowed.append(self.native and "m.tier = 1" in sql and ") AND (" in params[-3])
        return sql, params

    monkeypatch.setattr(SqliteEngine, "_ranked", spy)
    writer = SqliteEngine(path)
    writer.bulk_upsert(DOCS)

    def same() -> None:
        for q in QUERIES:
            for kwargs in ({}, {"page": 2, "per_page": 5}, {"fields": ["y-te"]}, {"sort": "newest"},
                           {"total_bound": 10}, {"any_words": True, "total_bound": 10},
                           {"any_words": True, "total_bound": 10, "per_page": 3},
                           {"any_words": True, "total_bound": 10, "per_page": 3, "page": 2}):
                assert _page(native, q=q, **kwargs) == _page(plain, q=q, **kwargs), (q, kwargs)
        snapshot = native._columns.snapshots[max(native._columns.snapshots)]
        with sqlite3.connect(path) as conn:
            held = snapshot.arrays[LENGTHS]
            for i, sz in conn.execute("SELECT id, sz FROM fts_docsize"):
                assert held[i] == _tokens(sz), i

    same()
    assert native._columns.snapshots and native.native
    writer.bulk_upsert([_doc(3, 500, revision=2, start=5), _doc(10, 2, revision=2), _doc(70, 300)])
    writer.delete([(4, 2), (11, 2)])
    same()
    held = native._columns.snapshots[max(native._columns.snapshots)].arrays[LENGTHS]
    assert held[4] == held[11] == 0 and held[70] > 0
    assert any(narrowed)


@pytest.mark.parametrize("size", [0, 1])
def test_an_empty_or_tiny_index_ranks(tmp_path, size):
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    engine.bulk_upsert(DOCS[:size])
    assert engine.search(SearchQuery(q="ngập nước")).total == size


def test_phrase_counts_are_kept_per_index_state_and_only_while_it_holds(tmp_path):
    """bm25's IDF counts, kept between searches: counted again in a new state, and not kept when
    the file left the state they were counted for (a write during the search)."""
    from indexer.sqlite_fts import _PhraseHits

    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    engine.bulk_upsert(DOCS)
    hits = _PhraseHits()
    phrases = ['{f_title f_content f_address f_answer f_sender} : "nuoc"', 'pairs : "ngap_nuoc"']
    with sqlite3.connect(engine.path) as conn:
        counted = [conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", [p]).fetchone()[0] for p in phrases]
        assert struct.unpack("=2q", hits.blob(conn, "state 1", phrases, still=lambda: False)) == tuple(counted)
        assert hits.counts == {}  # counted in a state the file had left: not kept
        hits.blob(conn, "state 1", phrases, still=lambda: True)
        assert hits.counts == dict(zip(phrases, counted, strict=True))
        hits.counts[phrases[0]] = 7  # (what it keeps is what it gives, until the state changes)
        assert struct.unpack("=2q", hits.blob(conn, "state 1", phrases, still=lambda: True))[0] == 7
        assert struct.unpack("=2q", hits.blob(conn, "state 2", phrases, still=lambda: True)) == tuple(counted)
