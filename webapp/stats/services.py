"""Thống kê: counts and answer timeliness over the published reports matching the search filters.

The matching set is the search contract's (``scan``), so the statistics always describe exactly
the reports Tra cứu lists for the same filters. Counts come from the scanned documents; the
timeliness of answers comes from the database (the document has no deadline), read for the
scanned ids a chunk at a time, so memory holds counters and, per group, one integer per answer.

Definitions (also stated on the page and in ``compute``'s docstring):

- an *answered* report has a published answer; its answer is its first published one (the
  moment the public got an answer; later answers add to it). By unit, each unit that published an
  answer on a report counts once, with its own first published answer;
- *on time*: that answer was published at or before the report's ``deadline_at``. A report with
  no deadline (never assigned, e.g. imported from an older system) has no on-time verdict;
- *days*: calendar days (weekends and holidays included), with a fraction, from the report's
  submission to the answer's publication; a group shows their median;
- a group with fewer than ``MIN_GROUP_SIZE`` answered reports gets no median, no rate and no
  rank (``too_few``); one with enough answers but fewer than ``MIN_GROUP_SIZE`` of them with a
  deadline gets a median but no rate or rank (``too_few_deadlines``). Ranks order the groups that
  have a rate by that rate alone (equal rates share a rank).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from indexer.query import SearchQuery
from indexer.text import fold
from webapp.auth.models import Unit
from webapp.extensions import db
from webapp.reports.models import Answer, Report, Status
from webapp.search import services as search
from webapp.search.engines import get_engine
from webapp.search.request import SearchRequest
from webapp.search.services import month_label

MIN_GROUP_SIZE = 20        # fewer answered reports than this: no rate, no median, no rank
DB_CHUNK = 500             # report ids per database query (one IN list)
SCAN_BATCH = 500           # documents per round trip to the search engine
SECONDS_PER_DAY = 86400
_STATUS_ORDER = {status.value: i for i, status in enumerate(Status)}


# -- small pure functions ---------------------------------------------------------------------------
def median(values: Iterable[float]) -> float | None:
    """The median of ``values`` (mean of the two middle ones for an even count); None when empty."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    return float(ordered[middle]) if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def on_time_rate(on_time: int, total: int, minimum: int = MIN_GROUP_SIZE) -> float | None:
    """Share of ``total`` answered on time (0–1, four decimals), or None below ``minimum``."""
    if total < max(minimum, 1):
        return None
    return round(on_time / total, 4)


def median_days(seconds: Iterable[int], count: int, minimum: int = MIN_GROUP_SIZE) -> float | None:
    """Median of durations given in seconds, in days with one decimal; None below ``minimum``."""
    if count < max(minimum, 1):
        return None
    middle = median(seconds)
    return None if middle is None else round(middle / SECONDS_PER_DAY, 1)


def assign_ranks(groups: list[dict[str, Any]]) -> None:
    """Set ``rank`` on the groups that have an on-time rate: 1 = best; equal rates share a rank.

    Rates are compared exactly (on_time / with_deadline), not as rounded floats.
    """
    rated = [g for g in groups if g.get("on_time_rate") is not None]
    rated.sort(key=lambda g: Fraction(g["on_time"], g["with_deadline"]), reverse=True)
    previous, rank = None, 0
    for position, group in enumerate(rated, start=1):
        value = Fraction(group["on_time"], group["with_deadline"])
        if value != previous:
            rank, previous = position, value
        group["rank"] = rank
    for group in groups:
        group.setdefault("rank", None)


# -- accumulation -----------------------------------------------------------------------------------
@dataclass
class Timeliness:
    """Answers of one group: how many, how many had a deadline and met it, and their durations."""

    answered: int = 0
    with_deadline: int = 0
    on_time: int = 0
    seconds: array = field(default_factory=lambda: array("q"))

    def add(self, submitted_at: datetime, published_at: datetime, deadline_at: datetime | None) -> None:
        self.answered += 1
        self.seconds.append(int((published_at - submitted_at).total_seconds()))
        if deadline_at is not None:
            self.with_deadline += 1
            self.on_time += published_at <= deadline_at

    def as_json(self, key: Any, label: str) -> dict[str, Any]:
        too_few = self.answered < MIN_GROUP_SIZE
        rate = None if too_few else on_time_rate(self.on_time, self.with_deadline)
        return {
            "key": key, "label": label, "answered": self.answered, "with_deadline": self.with_deadline,
            "on_time": self.on_time, "on_time_rate": rate,
            "median_days": median_days(self.seconds, self.answered),
            "too_few": too_few, "too_few_deadlines": not too_few and rate is None,
        }


@dataclass(frozen=True)
class AnswerRow:
    """A published answer of a report, with what its timeliness needs (one database row)."""

    report_id: int
    unit_id: int
    unit_name: str
    published_at: datetime
    submitted_at: datetime
    deadline_at: datetime | None


def _ward_group(doc: dict[str, Any]) -> tuple[int | str | None, str | None]:
    """The by-ward group of a document: its ward; a legacy place the crosswalk resolves is its own
    group, keyed and labelled by that name ("địa danh cũ"), not "Chưa gắn xã, phường"."""
    if doc.get("ward_code") is None and doc.get("legacy_wards") and doc.get("legacy_place"):
        return doc["legacy_place"], _("%(name)s (địa danh cũ)", name=doc["legacy_place"])
    return doc.get("ward_code"), doc.get("ward")


@dataclass
class Accumulator:
    """Counters over the scanned documents and their answers; ``result`` shapes them as JSON."""

    total: int = 0
    fields: dict[str, list[Any]] = field(default_factory=dict)          # slug → [label, count]
    wards: dict[int | str | None, list[Any]] = field(default_factory=dict)  # code or legacy name → [label, count]
    statuses: dict[str, int] = field(default_factory=dict)
    months: dict[str, int] = field(default_factory=dict)
    overall: Timeliness = field(default_factory=Timeliness)
    by_unit: dict[int, Timeliness] = field(default_factory=dict)
    unit_names: dict[int, str] = field(default_factory=dict)
    by_field: dict[str, Timeliness] = field(default_factory=dict)
    by_ward: dict[int | str | None, Timeliness] = field(default_factory=dict)

    def add_doc(self, doc: dict[str, Any]) -> None:
        self.total += 1
        self.fields.setdefault(doc["field"], [doc.get("field_name") or doc["field"], 0])[1] += 1
        key, label = _ward_group(doc)
        self.wards.setdefault(key, [label, 0])[1] += 1
        self.statuses[doc["status"]] = self.statuses.get(doc["status"], 0) + 1
        if doc.get("month"):
            self.months[doc["month"]] = self.months.get(doc["month"], 0) + 1

    def add_answers(self, docs: dict[int, dict[str, Any]], rows: Iterable[AnswerRow]) -> None:
        """Count the answers of the documents ``docs`` (by id); ``rows`` are their published answers."""
        per_report: dict[int, dict[int, AnswerRow]] = {}
        for row in rows:
            if row.report_id not in docs:
                continue
            units = per_report.setdefault(row.report_id, {})
            kept = units.get(row.unit_id)
            if kept is None or row.published_at < kept.published_at:
                units[row.unit_id] = row  # the unit's first published answer
        for report_id, units in per_report.items():
            doc = docs[report_id]
            for row in units.values():
                self.unit_names[row.unit_id] = row.unit_name
                self.by_unit.setdefault(row.unit_id, Timeliness()).add(
                    row.submitted_at, row.published_at, row.deadline_at)
            first = min(units.values(), key=lambda r: (r.published_at, r.unit_id))
            for group in (self.overall, self.by_field.setdefault(doc["field"], Timeliness()),
                          self.by_ward.setdefault(_ward_group(doc)[0], Timeliness())):
                group.add(first.submitted_at, first.published_at, first.deadline_at)

    def result(self, status_label: Callable[[str], str], no_ward: str) -> dict[str, Any]:
        """Counts and timeliness as the API returns them (see ``compute``)."""
        def counted(entries: Iterable[tuple[Any, str, int]]) -> list[dict[str, Any]]:
            rows = [{"key": key, "label": label, "count": n} for key, label, n in entries]
            rows.sort(key=lambda r: (-r["count"], fold(r["label"]), r["label"]))
            return rows

        field_labels = {slug: label for slug, (label, _n) in self.fields.items()}
        ward_labels = {code: (label or no_ward) for code, (label, _n) in self.wards.items()}
        return {
            "total": self.total,
            "by_field": counted((slug, label, n) for slug, (label, n) in self.fields.items()),
            "by_ward": counted((code, ward_labels[code], n) for code, (_label, n) in self.wards.items()),
            "by_status": [{"key": s, "label": status_label(s), "count": n}
                          for s, n in sorted(self.statuses.items(), key=lambda i: _STATUS_ORDER.get(i[0], 99))],
            "by_month": [{"key": m, "label": month_label(m), "count": self.months.get(m, 0)}
                         for m in month_range(self.months)],
            "timeliness": {
                "min_group_size": MIN_GROUP_SIZE,
                "overall": {**self.overall.as_json(None, ""), "rank": None},  # the GROUP shape, never ranked
                "by_unit": _groups({k: (self.unit_names[k], t) for k, t in self.by_unit.items()}),
                "by_field": _groups({k: (field_labels.get(k, k), t) for k, t in self.by_field.items()}),
                "by_ward": _groups({k: (ward_labels.get(k) or no_ward, t) for k, t in self.by_ward.items()}),
            },
        }


def _groups(groups: dict[Any, tuple[str, Timeliness]]) -> list[dict[str, Any]]:
    """Groups as JSON, ranked; the ranked ones first (best first), then the rest by size."""
    rows = [t.as_json(key, label) for key, (label, t) in groups.items()]
    assign_ranks(rows)
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, -r["answered"], fold(r["label"]), r["label"]))
    return rows


def month_range(months: Iterable[str]) -> list[str]:
    """Every month from the first to the last of ``months`` ("YYYY-MM"), gaps included."""
    present = sorted(months)
    if not present:
        return []
    year, month = map(int, present[0].split("-"))
    last = present[-1]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append(key)
        if key >= last:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def chunks(docs: Iterable[dict[str, Any]], size: int = DB_CHUNK) -> Iterator[dict[int, dict[str, Any]]]:
    """The documents ``size`` at a time, each chunk keyed by report id."""
    chunk: dict[int, dict[str, Any]] = {}
    for doc in docs:
        chunk[doc["id"]] = doc
        if len(chunk) >= size:
            yield chunk
            chunk = {}
    if chunk:
        yield chunk


# -- database and search ----------------------------------------------------------------------------
def answer_rows(report_ids: list[int]) -> list[AnswerRow]:
    """The published answers of the published reports ``report_ids`` (keep the list to a chunk)."""
    if not report_ids:
        return []
    statement = (
        select(Answer.report_id, Answer.unit_id, Unit.name, Answer.published_at, Report.submitted_at,
               Report.deadline_at)
        .join(Report, Report.id == Answer.report_id).join(Unit, Unit.id == Answer.unit_id)
        .where(Answer.report_id.in_(report_ids), Answer.published_at.is_not(None), Report.published.is_(True)))
    return [AnswerRow(*row) for row in db.session.execute(statement)]


def filters_json(query: SearchQuery) -> dict[str, Any]:
    """The filters as understood (the echo in the API answer)."""
    return {
        "q": query.q, "region": [*query.provinces, *query.wards], "field": list(query.fields),
        "type": list(query.types), "status": list(query.statuses),
        "from": query.date_from.date().isoformat() if query.date_from else None,
        # ``date_to`` is the (exclusive) start of the day after the last one asked for.
        "to": (query.date_to - timedelta(days=1)).date().isoformat() if query.date_to else None,
    }


def compute(request: SearchRequest) -> dict[str, Any]:
    """Statistics of the published reports matching ``request`` (raises ``ParamError``,
    ``EngineUnavailable``).

    The answer (also the body of ``GET /api/v1/stats``)::

        {"filters": {"q": str, "region": [int], "field": [slug], "type": [str], "status": [str],
                     "from": "YYYY-MM-DD" | null, "to": "YYYY-MM-DD" | null},
         "any_words": bool,        # no report held every word: reports with any of them counted
         "total": int,             # matching published reports
         "by_field":  [{"key": slug, "label": name, "count": int}],       # most first
         "by_ward":   [{"key": ward code | legacy name | null, "label": name, "count": int}],  # null: no ward
         "by_status": [{"key": status, "label": name, "count": int}],     # workflow order
         "by_month":  [{"key": "2026-03", "label": "03/2026", "count": int}],  # submission month,
                                                                         # oldest first, gaps as 0
         "timeliness": {
             "min_group_size": 20,
             "overall": GROUP,
             "by_unit": [GROUP], "by_field": [GROUP], "by_ward": [GROUP]}}   # ranked ones first

        GROUP = {"key": unit id | field slug | ward code | null, "label": str,
                 "answered": int,          # answered reports (by unit: reports the unit answered)
                 "with_deadline": int,     # of which had a deadline
                 "on_time": int,           # of which were answered by the deadline
                 "on_time_rate": 0..1 | null,   # on_time / with_deadline
                 "median_days": float | null,   # calendar days, submission → published answer
                 "rank": int | null,            # by on_time_rate, 1 = best, ties share
                 "too_few": bool,               # answered < min_group_size: no rate/median/rank
                 "too_few_deadlines": bool}     # enough answers, too few with a deadline: no rate

    See the module docstring for the definitions.
    """
    # Match the search page exactly (the request's any-word policy for a scan).
    query = request.query()
    probe = request.probe(query)
    scan_query = replace(probe.query, sort="newest")
    acc = Accumulator()
    docs = get_engine("public").scan(scan_query, batch=SCAN_BATCH)
    for chunk in chunks(docs):
        for doc in chunk.values():
            acc.add_doc(doc)
        acc.add_answers(chunk, answer_rows(list(chunk)))
    body = acc.result(status_label=lambda s: search.facet_labels("status", s),
                      no_ward=_("Chưa gắn xã, phường"))
    return {"filters": filters_json(query), "any_words": probe.any_words, **body}
