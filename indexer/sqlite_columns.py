"""The embedded engine's facet columns, held in each process's memory.

Counting a search's five facets by GROUP BY reads its candidates' values five times over in SQL
(a third of a broad search's time). Here every report's facet values are small integer codes in
numpy arrays indexed by report number, and a facet is one ``bincount`` over the candidates' ids.

The arrays follow the index file through its change log, the ``change_log`` table: every write
that changes reports adds their numbers there, in its own transaction, with the index generation
it started from and the one it made. A search takes the ``Snapshot`` of the file's state (its
generation and the log's last number, read in one short read transaction) and checks at its end
that the file is still in that state (``SqliteEngine._search`` runs it again if not). A snapshot is
made once per state by copying the newest and applying the changes in between, and never modified
after, so a thread counting with one never sees another thread's update. The generations chain the
writes: where a write started from another generation than the one before it ended with (a writer
that does not log, an older copy of the file put back), the file is read again whole, as it is
after a rebuild (a new file, a new ``meta.file`` key).

A snapshot also holds every report's date, as the big-endian bytes of an unsigned 32-bit number
(seconds since 1970, plus one; 0: no date): SQL's ``substr(?, id * 4 + 1, 4)`` reads one, and byte
order is date order. A search's candidates take their dates from it instead of reading each
candidate's row of ``docs`` (the dates order equal scores), which was most of the candidates' time.
A file with a date before 1970 or after 2106 reads its dates from the rows.

With ``lengths`` (where the ranking function in C is loaded: indexer/native_rank.py), a snapshot
also holds every report's length in tokens, as FTS5's ``%_docsize`` records it (16 bits a
report; 0: not known or longer), which ``pakn_rank`` reads instead of a statement per scored row.

When no snapshot can answer (a file written before the log existed, until its next write; a state
older than the snapshots kept; report numbers too sparse for an array), the engine counts in SQL,
with the same result.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Any

import numpy as np

# The facets, and the docs column each counts (the region counts the current ward; a report with a
# legacy place and no current ward counts under each ward doc_wards maps it to).
FACETS = {"field": "field", "region": "ward_code", "status": "status", "type": "type", "month": "month"}
DATES = "submitted_ts"  # the arrays' key of the dates (not a facet)
LENGTHS = "tokens"  # the arrays' key of the lengths (not a facet)
MAX_LENGTH = 0xFFFF  # the longest length the 2 bytes hold (a longer one is read from %_docsize)
MAX_CODES = 32_000  # values per facet that an int16 code holds
DATE = np.dtype(">u4")  # a date's bytes: big-endian, so that bytes compare as the dates do
LAST_DATE = 0xFFFF_FFFF - 1  # the last date (seconds since 1970) the 4 bytes hold
KEEP = 2  # snapshots kept: a search that read the state before a write still finds its own
LOG_KEEP = 100_000  # changes the log keeps; a process further behind loads the file whole
BACKGROUND_FROM = 200_000  # reports from which a file is read whole in the background (see Columns)
PART = 50_000  # reports read at a time
RETRY = 30.0  # seconds before a background read that failed is tried again
# The file's state: its identity, its generation, and the change log's newest and oldest numbers.
STATE = ("SELECT (SELECT value FROM meta WHERE key = 'file'), (SELECT value FROM meta WHERE key = 'generation'), "
         "(SELECT max(seq) FROM change_log), (SELECT min(seq) FROM change_log)")


log = logging.getLogger(__name__)


class UnfitError(Exception):
    """This file's reports do not fit the arrays (too many values, or numbers too sparse)."""


class Codes:
    """Each facet's values and their int16 codes (one per file; a code is never reused)."""

    def __init__(self) -> None:
        self.values: dict[str, list[Any]] = {name: [] for name in FACETS}  # only ever appended to
        self.codes: dict[str, dict[Any, int]] = {name: {None: -1} for name in FACETS}

    def code(self, name: str, value: Any) -> int:
        codes = self.codes[name]
        code = codes.get(value)
        if code is None:
            if len(codes) > MAX_CODES:
                raise UnfitError(f"{name}: more than {MAX_CODES} values")
            code = codes[value] = len(self.values[name])
            self.values[name].append(value)
        return code


class Snapshot:
    """The facet codes of every report as of change ``seq``; read-only once made."""

    def __init__(self, seq: int, generation: str, arrays: dict[str, np.ndarray],
                 legacy: tuple[np.ndarray, np.ndarray], values: dict[str, list[Any]], dates_fit: bool) -> None:
        self.seq = seq
        self.generation = generation  # the index generation this is the state of
        self.arrays = arrays  # facet -> int16 code per report number, -1: no value (or no report)
        self.legacy = legacy  # (report numbers, region codes) of doc_wards, sorted by number
        self.values = values  # facet -> value per code (shared, only ever appended to)
        self.dates_fit = dates_fit  # every date in 1970–2106

    @cached_property
    def lengths(self) -> bytes | None:
        """What pakn_rank reads a report's length from (2 bytes per report number, native order);
        None where the snapshot holds no lengths. Made at a search's first use."""
        return self.arrays[LENGTHS].tobytes() if LENGTHS in self.arrays else None

    @cached_property
    def dates(self) -> bytes | None:
        """What substr(?, id * 4 + 1, 4) reads (see the module); None: the dates are read from the
        rows. Made at a search's first use (a snapshot only passed through is never copied)."""
        return self.arrays[DATES].tobytes() if self.dates_fit else None

    def count(self, name: str, ids: np.ndarray) -> list[tuple[Any, int]] | None:
        """(value, how many of ``ids`` have it) for facet ``name``, values with a count only; None
        when an id is not in the arrays (never for ids read in this snapshot's transaction)."""
        if ids.size and int(ids.max()) >= self.arrays[name].size:
            return None
        codes = self.arrays[name][ids]
        counts = np.bincount(codes.astype(np.intp) + 1, minlength=1)[1:]
        if name == "region" and self.legacy[0].size:
            unplaced = ids[codes == -1]
            if unplaced.size:
                held = np.isin(self.legacy[0], unplaced)
                extra = np.bincount(self.legacy[1][held].astype(np.intp), minlength=counts.size)
                if extra.size > counts.size:
                    counts = np.concatenate([counts, np.zeros(extra.size - counts.size, counts.dtype)])
                counts[:extra.size] += extra
        values = self.values[name]
        return [(values[code], int(counts[code])) for code in np.flatnonzero(counts)]


class Columns:
    """The snapshots of one index file in this process (an engine holds one ``Columns``).

    Reading a file whole takes about 0.35 s at 100,000 reports and 3 s at 1,000,000. With an
    ``opener`` (a function returning a new read connection to the file), a file of
    ``background_from`` reports or more is read by a thread of its own, and until it is done the
    searches count in SQL (the same answers, slower) instead of waiting for it."""

    def __init__(self, opener: Callable[[], sqlite3.Connection] | None = None,
                 background_from: int = BACKGROUND_FROM, lengths: bool = False) -> None:
        self.lock = threading.Lock()
        self.lengths = lengths  # hold the reports' lengths too (the connections have pakn_tokens)
        self.file: str | None = None  # meta.file of the file the snapshots are of
        self.unusable: str | None = None  # a file found not to fit: not tried again
        self.snapshots: dict[int, Snapshot] = {}
        self.dictionary = Codes()
        self.opener = opener
        self.background_from = background_from
        self.loading: threading.Thread | None = None  # the thread reading a file whole, while it does
        self.loading_file: str | None = None  # the file it reads
        self.failed: tuple[str, float] | None = None  # a read that failed: (file, when), not retried for RETRY s

    def snapshot(self, conn: sqlite3.Connection, in_transaction: bool = False) -> Snapshot | None:
        """The snapshot of the file's state now, or None (count in SQL): of the state ``conn``'s
        open read transaction sees, or else read in a transaction of its own."""
        if in_transaction:
            return self._snapshot(conn)
        conn.execute("BEGIN")
        try:
            return self._snapshot(conn)
        finally:
            conn.execute("COMMIT")  # it only read

    @staticmethod
    def still(conn: sqlite3.Connection, snapshot: Snapshot) -> bool:
        """Whether the file is still in ``snapshot``'s state: no write that changed reports since
        (each moves the log's last number and the generation)."""
        try:
            return conn.execute("SELECT (SELECT value FROM meta WHERE key = 'generation'), "
                                "(SELECT max(seq) FROM change_log)").fetchone() == (snapshot.generation,
                                                                                   snapshot.seq or None)
        except sqlite3.OperationalError:  # the file was replaced by one without the log
            return False

    def _snapshot(self, conn: sqlite3.Connection) -> Snapshot | None:
        try:
            file, generation, seq, low = conn.execute(STATE).fetchone()
        except sqlite3.OperationalError:  # a file written before the log: until its next write
            return None
        seq = seq or 0
        if file is None or generation is None:
            return None
        with self.lock:
            if file == self.unusable:
                return None
            if file != self.file:
                self.file, self.snapshots, self.dictionary = file, {}, Codes()
            found = self.snapshots.get(seq)
            if found is not None and found.generation == generation:
                return found
            newest = max(self.snapshots) if self.snapshots else None
            if newest is not None and seq < newest:
                return None  # older than every snapshot kept
            try:
                made = None
                if newest is not None and low is not None and low <= newest + 1:
                    made = self._advance(conn, self.snapshots[newest], seq, generation)
                if made is None:  # the first search of this file, a log that no longer reaches back
                    if self._in_background(conn, file):  # or a broken chain of generations
                        return None
                    made = self._load(conn, seq, generation)
            except UnfitError:
                self.unusable, self.snapshots = file, {}
                return None
            self.snapshots[seq] = made
            for old in sorted(self.snapshots)[:-KEEP]:
                del self.snapshots[old]
            return made

    # -- reading a file whole in the background ------------------------------------------------
    def _in_background(self, conn: sqlite3.Connection, file: str) -> bool:
        """Whether the file is read whole by a thread of its own (started here if none is): with
        an opener, from ``background_from`` reports."""
        if self.opener is None:
            return False
        if self.loading is not None and self.loading.is_alive() and self.loading_file == file:
            return True
        # The highest report number first (one lookup; a count reads a whole index, and this holds
        # the lock): the count only where that is high. A thread still reading a replaced file
        # stops at its next part.
        if ((conn.execute("SELECT max(id) FROM docs").fetchone()[0] or 0) < self.background_from
                or conn.execute("SELECT count(*) FROM docs").fetchone()[0] < self.background_from):
            return False
        if self.failed is not None and self.failed[0] == file and time.monotonic() - self.failed[1] < RETRY:
            return True  # in SQL until then: a read that fails again and again would read the file again and again
        self.loading_file = file
        self.loading = threading.Thread(target=self._load_whole, args=(file,), name="pakn-facet-columns",
                                        daemon=True)
        self.loading.start()
        return True

    def _load_whole(self, file: str) -> None:
        """Read the file whole with a connection of its own, then make it the newest snapshot,
        unless the file was replaced meanwhile. Outside the lock (the searches go on, in SQL) and
        with a dictionary of codes of its own until then."""
        try:
            conn = self.opener()
            try:
                dictionary = Codes()
                made = self._read_in_parts(conn, file, dictionary)
            finally:
                conn.close()
        except UnfitError:
            with self.lock:
                if self.file == file:
                    self.unusable, self.snapshots = file, {}
            return
        except Exception:  # the searches count in SQL; a search after RETRY s starts another read
            log.warning("facet columns: reading the index file whole failed", exc_info=True)
            with self.lock:
                self.failed = (file, time.monotonic())
            return
        if made is not None:
            with self.lock:
                if self.file == file:
                    self.dictionary, self.snapshots = dictionary, {made.seq: made}

    def _read_in_parts(self, conn: sqlite3.Connection, file: str, dictionary: Codes) -> Snapshot | None:
        """The file's snapshot, read in parts of PART reports, each part its own short statement
        (one read transaction for the whole file would keep the indexer from writing for seconds,
        and the searches behind the waiting writer), then brought to the file's state at the end
        by the change log since the first part: a report written meanwhile is read again. None
        when the file was replaced, or the log does not reach back to the start."""
        found, generation, seq, _low = conn.execute(STATE).fetchone()
        if found != file or generation is None:
            return None
        top, arrays = _empty_arrays(conn, self.lengths)
        fit, last = True, -1
        while last < top:
            if self.file != file:  # replaced (a rebuild): the next search has the new file read
                return None
            rows = conn.execute(_rows("d.id > ? AND d.id <= ? ORDER BY d.id LIMIT ?", self.lengths),
                                (last, top, PART)).fetchall()
            if not rows:
                break
            fit = self._fill(arrays, [rows], dictionary) and fit
            last = rows[-1][0]
        legacy = self._legacy(conn.execute("SELECT id, ward FROM doc_wards ORDER BY id").fetchall(), dictionary)
        read = Snapshot(seq or 0, generation, arrays, legacy, dictionary.values, fit)
        conn.execute("BEGIN")
        try:
            found, generation, seq, low = conn.execute(STATE).fetchone()
            if found != file or generation is None or (low is not None and low > read.seq + 1):
                return None
            return self._advance(conn, read, seq or 0, generation, dictionary)
        finally:
            conn.execute("COMMIT")  # it only read

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background read of the file to end (tests, benches)."""
        loading = self.loading
        if loading is not None:
            loading.join(timeout)

    # -- making snapshots (under the lock, or in the background thread with a dictionary of its own)
    def _load(self, conn: sqlite3.Connection, seq: int, generation: str, dictionary: Codes | None = None) -> Snapshot:
        dictionary = dictionary or self.dictionary
        _top, arrays = _empty_arrays(conn, self.lengths)
        fit = self._fill(arrays, _batches(conn.execute(_rows("1", self.lengths))), dictionary)
        legacy = self._legacy(conn.execute("SELECT id, ward FROM doc_wards ORDER BY id").fetchall(), dictionary)
        return Snapshot(seq, generation, arrays, legacy, dictionary.values, fit)

    def _advance(self, conn: sqlite3.Connection, base: Snapshot, seq: int, generation: str,
                 dictionary: Codes | None = None) -> Snapshot | None:
        """``base`` with the changes logged after it applied; None when they do not follow from
        it (a broken chain of generations) or would grow the arrays by more than a load checks."""
        dictionary = dictionary or self.dictionary
        changed, reached, write = [], base.generation, None
        for doc_id, before, after in conn.execute(
                "SELECT id, before, after FROM change_log WHERE seq > ? ORDER BY seq", (base.seq,)):
            if (before, after) != write:  # the first change of a write
                if before != reached:
                    return None
                write, reached = (before, after), after
            changed.append(doc_id)
        if reached != generation:  # a write after the last logged one that was not logged
            return None
        if not changed:
            return Snapshot(seq, generation, base.arrays, base.legacy, dictionary.values, base.dates_fit)
        size = len(base.arrays[DATES])
        top = max(max(changed), size - 1)
        if top >= size + 1_000_000:  # a much higher number: a load decides whether arrays fit
            return None
        listed = json.dumps(sorted(set(changed)))
        arrays = {}
        for name, array in base.arrays.items():
            empty = -1 if name in FACETS else 0
            grown = np.full(top + 1, empty, dtype=array.dtype)
            grown[:array.size] = array
            grown[changed] = empty  # deleted, unless the report is still there
            arrays[name] = grown
        fit = self._fill(arrays, _batches(conn.execute(_rows("d.id IN (SELECT value FROM json_each(?))",
                                                             LENGTHS in base.arrays), (listed,))), dictionary)
        kept = ~np.isin(base.legacy[0], np.array(changed, dtype=np.int64))
        rows = conn.execute("SELECT id, ward FROM doc_wards WHERE id IN (SELECT value FROM json_each(?))",
                            (listed,)).fetchall()
        ids = np.concatenate([base.legacy[0][kept], np.array([r[0] for r in rows], dtype=np.int64)])
        wards = np.concatenate([base.legacy[1][kept],
                                np.array([dictionary.code("region", r[1]) for r in rows], dtype=np.int16)])
        order = np.argsort(ids, kind="stable")
        return Snapshot(seq, generation, arrays, (ids[order], wards[order]), dictionary.values,
                        base.dates_fit and fit)

    @staticmethod
    def _fill(arrays: dict[str, np.ndarray], batches: Iterable[list[tuple[Any, ...]]], dictionary: Codes) -> bool:
        """Set the rows' codes, dates (and lengths, where ``arrays`` hold them: the rows' last
        column); False when a date does not fit the 4 bytes. Each column of a batch is mapped by the
        codes' dict in C (``map``), new values given codes first."""
        fit = True
        for rows in batches:
            columns = list(zip(*rows, strict=True))
            ids = np.array(columns[0], dtype=np.int64)
            if LENGTHS in arrays:
                lengths = np.array(columns.pop(), dtype=np.int64)
                arrays[LENGTHS][ids] = np.where(lengths <= MAX_LENGTH, lengths, 0)
            for name, values in zip(FACETS, columns[1:-1], strict=True):
                codes = dictionary.codes[name]
                for value in set(values) - codes.keys():
                    dictionary.code(name, value)
                arrays[name][ids] = np.fromiter(map(codes.__getitem__, values), dtype=np.int16, count=len(values))
            dates, present = columns[-1], None
            if None in dates:
                present = np.fromiter((d is not None for d in dates), dtype=bool, count=len(dates))
                dates = [d or 0 for d in dates]
            stamps = np.array(dates, dtype=np.int64)
            real = stamps if present is None else stamps[present]
            if real.size and (int(real.min()) < 0 or int(real.max()) > LAST_DATE):
                fit = False  # (these dates are not read from here)
                continue
            arrays[DATES][ids] = stamps + 1 if present is None else np.where(present, stamps + 1, 0)
        return fit

    @staticmethod
    def _legacy(rows: list[tuple[int, int]], dictionary: Codes) -> tuple[np.ndarray, np.ndarray]:
        return (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                np.fromiter((dictionary.code("region", r[1]) for r in rows), dtype=np.int16, count=len(rows)))


def _rows(where: str, lengths: bool) -> str:
    """The SELECT of the reports' columns that ``Columns._fill`` reads: id, the facets, the date,
    and with ``lengths`` each report's length in tokens (FTS5's ``%_docsize`` record of it)."""
    columns = ["d.id", *(f"d.{column}" for column in FACETS.values()), "d.submitted_ts"]
    if lengths:
        return (f"SELECT {', '.join(columns)}, coalesce(pakn_tokens(z.sz), 0) FROM docs d "
                f"LEFT JOIN fts_docsize z ON z.id = d.id WHERE {where}")
    return f"SELECT {', '.join(columns)} FROM docs d WHERE {where}"


def _empty_arrays(conn: sqlite3.Connection, lengths: bool = False) -> tuple[int, dict[str, np.ndarray]]:
    """The highest report number, and arrays indexed up to it with no report in them; UnfitError
    when the numbers are too sparse for arrays indexed by number."""
    top, count = conn.execute("SELECT max(id), count(*) FROM docs").fetchone()
    top = top or 0
    if top > 8 * count + 1_000_000:
        raise UnfitError("report numbers too sparse")
    arrays = {name: np.full(top + 1, -1, dtype=np.int16) for name in FACETS}
    arrays[DATES] = np.zeros(top + 1, dtype=DATE)
    if lengths:
        arrays[LENGTHS] = np.zeros(top + 1, dtype=np.uint16)
    return top, arrays


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(PART):
        yield rows
