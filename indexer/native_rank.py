"""The embedded engine's ranking function in C (indexer/pakn_rank.c), where it is built.

FTS5's bm25() reads each scored row's length with a statement on its ``%_docsize`` table, which
was more than half of a search's ranking time. ``pakn_rank(fts, lengths, phrases, hits, weights…)``
computes the same score, in the same floating-point order, with the lengths read from a blob of the
index's state that each process holds in memory (``Snapshot.lengths``, indexer/sqlite_columns.py)
and the phrases' row counts (bm25's IDF) given by the caller, counted once per index state
(``_PhraseHits`` in indexer/sqlite_fts.py). Only the expression's first ``phrases`` phrases score:
phrases after them narrow the rows a ranking reads (the reports holding all words but one,
``SqliteEngine._ranked``) without changing a score.

`make native` (run by `make run` and `make test`) builds ``indexer/pakn_rank.so`` with the C
compiler and SQLite's headers (Debian: gcc, libsqlite3-dev). Loading it registers the functions
with ``sqlite3_auto_extension`` of the SQLite library the ``sqlite3`` module uses, so every
connection the process opens afterwards has them; the standard module cannot load extensions
itself. Where the library is not built, cannot be loaded, or the check of its scores against
bm25() fails, ``available()`` is False and the engine ranks with bm25(): the same answers, slower.
An engine made with ``native=False`` (the setting ``SEARCH_NATIVE_RANK=false``) ranks with bm25()
too (bench/search.py times both).
"""

from __future__ import annotations

import ctypes
import logging
import sqlite3
import struct
import threading
from pathlib import Path

LIBRARY = Path(__file__).with_name("pakn_rank.so")
log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict[str, object] = {}  # "available": bool, "reason": str (why not)


def available() -> bool:
    """Whether ``pakn_rank`` and ``pakn_tokens`` exist on the connections opened from now on
    (loaded once per process)."""
    with _lock:
        if "available" not in _state:
            reason = _load()
            _state["available"], _state["reason"] = reason is None, reason or ""
            if reason:
                log.info("ranking with FTS5's bm25(): %s", reason)
        return bool(_state["available"])


def reason() -> str:
    """Why the native ranking is not used ('' when it is)."""
    available()
    return str(_state["reason"])


def _load() -> str | None:
    """Register the library's functions for every new connection; the reason when it cannot."""
    if not LIBRARY.exists():
        return f"{LIBRARY.name} is not built (make native)"
    try:
        library = ctypes.CDLL(str(LIBRARY))
        # The SQLite that the sqlite3 module uses: looking the symbol up through the module's own
        # shared object finds its library, linked in or loaded beside it.
        import _sqlite3  # noqa: PLC0415 - the module's file, for its SQLite

        sqlite = ctypes.CDLL(_sqlite3.__file__)
        register = sqlite.sqlite3_auto_extension
        register.argtypes = [ctypes.c_void_p]
        register.restype = ctypes.c_int
        rc = register(ctypes.cast(library.pakn_rank_init, ctypes.c_void_p))
    except (OSError, AttributeError) as exc:
        return f"{LIBRARY.name} could not be loaded: {exc}"
    if rc != 0:
        return f"sqlite3_auto_extension failed ({rc})"
    return _check()


def _check() -> str | None:
    """The functions answer on a new connection, and their scores are bm25()'s, with the lengths
    read from %_docsize and from a blob made of pakn_tokens' counts (a row of 200 words: varints
    of two bytes), the phrases' row counts counted by the function and given to it."""
    rows = [(1, "ngập nước", "đường ngập"), (2, "ngập", "nước nước nước đường"), (3, "cây", "xanh"),
            (4, "nước " * 200, "ngập")]
    try:
        conn = sqlite3.connect(":memory:")
        try:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, b)")
            conn.executemany("INSERT INTO t(rowid, a, b) VALUES (?, ?, ?)", rows)
            lengths = dict(conn.execute("SELECT id, pakn_tokens(sz) FROM t_docsize").fetchall())
            blob = struct.pack(f"={len(rows) + 1}H", 0, *(lengths.get(i, 0) for i in range(1, len(rows) + 1)))
            match = "WHERE t MATCH 'ngập OR nước' ORDER BY rowid"
            expected = conn.execute(f"SELECT rowid, bm25(t, 2.0, 1.0) FROM t {match}").fetchall()
            # the phrases' row counts given (the IDFs), or counted by the function
            hits = struct.pack("=2q", *(conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", [w]).fetchone()[0]
                                        for w in ("ngập", "nước")))
            got = [conn.execute(f"SELECT rowid, pakn_rank(t, ?, 0, ?, 2.0, 1.0) FROM t {match}", given).fetchall()
                   for given in ([None, None], [blob, None], [blob, hits])]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"the functions are not there on a new connection ({exc})"
    words = {i: len(a.split()) + len(b.split()) for i, a, b in rows}
    if lengths != words or got != [expected] * 3:
        return f"its answers differ from FTS5's: scores {got} != {expected}, lengths {lengths} != {words}"
    return None
