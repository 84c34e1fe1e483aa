"""The embedded engine's facet columns, held in each process's memory.

Counting a search's five facets by GROUP BY reads its candidates' values five times over in SQL
(a third of a broad search's time). Here every report's facet values are small integer codes in
numpy arrays indexed by report number, and a facet is one ``bincount`` over the candidates' ids.

The arrays follow the index file through its change log, the ``changes`` table: every write that
changes a report adds its number there, in the write's own transaction. A search reads the log's
last number in the same read transaction as its candidates, and counts with a ``Snapshot`` of
exactly that number: made once per number by copying the newest snapshot and applying the changes
between them, and never modified after, so a thread counting with one never sees another thread's
update. A rebuild makes a new file (a new ``meta.file`` key): the next search loads it whole.

A snapshot also holds every report's date, as the big-endian bytes of an unsigned 32-bit number
(seconds since 1970, plus one; 0: no date): SQL's ``substr(?, id * 4 + 1, 4)`` reads one, and byte
order is date order. A search's candidates take their dates from it instead of reading each
candidate's row of ``docs`` (the dates order equal scores), which was most of the candidates' time.
A file with a date before 1970 or after 2106 reads its dates from the rows.

When no snapshot can answer (a file written before the log existed, until its next write; a search
whose transaction is older than the snapshots kept; report numbers too sparse for an array), the
engine counts in SQL, with the same result.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import numpy as np

# The facets, and the docs column each counts (the region counts the current ward; a report with a
# legacy place and no current ward counts under each ward doc_wards maps it to).
FACETS = {"field": "field", "region": "ward_code", "status": "status", "type": "type", "month": "month"}
DATES = "submitted_ts"  # the arrays' key of the dates (not a facet)
MAX_CODES = 32_000  # values per facet that an int16 code holds
DATE = np.dtype(">u4")  # a date's bytes: big-endian, so that bytes compare as the dates do
LAST_DATE = 0xFFFF_FFFF - 1  # the last date (seconds since 1970) the 4 bytes hold
KEEP = 2  # snapshots kept: a search whose transaction began before a write still finds its own
LOG_KEEP = 100_000  # changes the log keeps; a process further behind loads the file whole


class UnfitError(Exception):
    """This file's reports do not fit the arrays (too many values, or numbers too sparse)."""


class Snapshot:
    """The facet codes of every report as of change ``seq``; read-only once made."""

    def __init__(self, seq: int, arrays: dict[str, np.ndarray], legacy: tuple[np.ndarray, np.ndarray],
                 values: dict[str, list[Any]], dates_fit: bool) -> None:
        self.seq = seq
        self.arrays = arrays  # facet -> int16 code per report number, -1: no value (or no report)
        self.legacy = legacy  # (report numbers, region codes) of doc_wards, sorted by number
        self.values = values  # facet -> value per code (shared, only ever appended to)
        self.dates_fit = dates_fit  # every date in 1970–2106
        # what substr(?, id * 4 + 1, 4) reads (see the module); None: the dates are read from the rows
        self.dates = arrays[DATES].tobytes() if dates_fit else None

    def count(self, name: str, ids: np.ndarray) -> list[tuple[Any, int]]:
        """(value, how many of ``ids`` have it) for facet ``name``, values with a count only."""
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
    """The snapshots of one index file in this process (an engine holds one ``Columns``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.file: str | None = None  # meta.file of the file the snapshots are of
        self.unusable: str | None = None  # a file found not to fit: not tried again
        self.snapshots: dict[int, Snapshot] = {}
        self.values: dict[str, list[Any]] = {}
        self.codes: dict[str, dict[Any, int]] = {}

    def snapshot(self, conn: sqlite3.Connection) -> Snapshot | None:
        """The snapshot of what ``conn``'s open read transaction sees, or None (count in SQL)."""
        try:
            file, seq, low = conn.execute(
                "SELECT (SELECT value FROM meta WHERE key = 'file'), "
                "(SELECT max(seq) FROM changes), (SELECT min(seq) FROM changes)").fetchone()
        except sqlite3.OperationalError:  # a file written before the log: until its next write
            return None
        seq = seq or 0
        if file is None:
            return None
        with self.lock:
            if file == self.unusable:
                return None
            if file != self.file:
                self.file, self.snapshots = file, {}
                self.values = {name: [] for name in FACETS}
                self.codes = {name: {} for name in FACETS}
            found = self.snapshots.get(seq)
            if found is not None:
                return found
            newest = max(self.snapshots) if self.snapshots else None
            if newest is not None and seq < newest:
                return None  # older than every snapshot kept
            try:
                if newest is not None and low is not None and low <= newest + 1:
                    made = self._advance(conn, self.snapshots[newest], seq)
                else:  # the first search of this file, or the log no longer reaches back
                    made = self._load(conn, seq)
            except UnfitError:
                self.unusable, self.snapshots = file, {}
                return None
            self.snapshots[seq] = made
            for old in sorted(self.snapshots)[:-KEEP]:
                del self.snapshots[old]
            return made

    # -- making snapshots (under the lock) -----------------------------------------------------
    def _code(self, name: str, value: Any) -> int:
        if value is None:
            return -1
        codes = self.codes[name]
        code = codes.get(value)
        if code is None:
            if len(codes) >= MAX_CODES:
                raise UnfitError(f"{name}: more than {MAX_CODES} values")
            code = codes[value] = len(codes)
            self.values[name].append(value)
        return code

    def _load(self, conn: sqlite3.Connection, seq: int) -> Snapshot:
        top, count = conn.execute("SELECT max(id), count(*) FROM docs").fetchone()
        top = top or 0
        if top > 8 * count + 1_000_000:  # numbers too sparse for arrays indexed by number
            raise UnfitError("report numbers too sparse")
        arrays = {name: np.full(top + 1, -1, dtype=np.int16) for name in FACETS}
        arrays[DATES] = np.zeros(top + 1, dtype=DATE)
        fit = self._fill(arrays, conn.execute(f"SELECT id, {', '.join(FACETS.values())}, submitted_ts FROM docs"))
        legacy = self._legacy(conn.execute("SELECT id, ward FROM doc_wards ORDER BY id").fetchall())
        return Snapshot(seq, arrays, legacy, self.values, fit)

    def _advance(self, conn: sqlite3.Connection, base: Snapshot, seq: int) -> Snapshot:
        changed = [row[0] for row in conn.execute("SELECT DISTINCT id FROM changes WHERE seq > ?", (base.seq,))]
        if not changed:
            return Snapshot(seq, base.arrays, base.legacy, self.values, base.dates_fit)
        listed = json.dumps(changed)
        top = max(max(changed), len(base.arrays[DATES]) - 1)
        arrays = {}
        for name, array in base.arrays.items():
            grown = np.full(top + 1, 0 if name == DATES else -1, dtype=array.dtype)
            grown[:array.size] = array
            grown[changed] = 0 if name == DATES else -1  # deleted, unless the report is still there
            arrays[name] = grown
        fit = self._fill(arrays, conn.execute(f"SELECT id, {', '.join(FACETS.values())}, submitted_ts FROM docs "
                                              "WHERE id IN (SELECT value FROM json_each(?))", (listed,)))
        kept = ~np.isin(base.legacy[0], np.array(changed, dtype=np.int64))
        rows = conn.execute("SELECT id, ward FROM doc_wards WHERE id IN (SELECT value FROM json_each(?))",
                            (listed,)).fetchall()
        ids = np.concatenate([base.legacy[0][kept], np.array([r[0] for r in rows], dtype=np.int64)])
        wards = np.concatenate([base.legacy[1][kept],
                                np.array([self._code("region", r[1]) for r in rows], dtype=np.int16)])
        order = np.argsort(ids, kind="stable")
        return Snapshot(seq, arrays, (ids[order], wards[order]), self.values, base.dates_fit and fit)

    def _fill(self, arrays: dict[str, np.ndarray], cursor: sqlite3.Cursor) -> bool:
        """Set the rows' codes and dates; False when a date does not fit the 4 bytes."""
        names, fit = list(FACETS), True
        while rows := cursor.fetchmany(20_000):
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            for j, name in enumerate(names, 1):
                code = self._code
                arrays[name][ids] = np.fromiter((code(name, row[j]) for row in rows), dtype=np.int16,
                                                count=len(rows))
            dated = [row[-1] for row in rows if row[-1] is not None]
            if dated and (min(dated) < 0 or max(dated) > LAST_DATE):
                fit = False  # (its place keeps 0: these dates are not read from here)
                continue
            arrays[DATES][ids] = np.fromiter((0 if row[-1] is None else row[-1] + 1 for row in rows),
                                             dtype=np.int64, count=len(rows))
        return fit

    def _legacy(self, rows: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        return (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                np.fromiter((self._code("region", r[1]) for r in rows), dtype=np.int16, count=len(rows)))
