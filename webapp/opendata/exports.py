"""Exports of a search: every matching public report as CSV or JSON lines, streamed.

Rows come from the search contract's ``scan`` (public documents only, so nothing the document
builder kept out — a confidential sender, an unpublished report — can reach a file), a batch at a
time, and are written out as they come: memory does not grow with the number of rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from indexer.query import SearchQuery
from webapp.search import services
from webapp.search.engines import get_engine

BOM = "\ufeff"
ROWS_PER_CHUNK = 200

# Column → how to read it from the public item (``services.item_json``) and its document.
CSV_COLUMNS = (
    "code", "type", "title", "content", "status", "status_label", "field", "field_name", "ward_code",
    "ward", "province", "legacy_place", "address", "sender_kind", "sender_name", "phone_masked",
    "submitted_at", "published_at", "answer_unit", "answer", "lat", "lon", "url",
)


def rows(query: SearchQuery) -> Iterator[dict[str, Any]]:
    """Every matching public report as one flat record (the item of the search API, plus text)."""
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    for doc, item in services.public_items(get_engine().scan(query), excerpts=False):
        location = doc.get("location") or {}
        yield {
            "code": item["code"], "type": item["type"], "title": item["title"], "content": doc.get("content") or "",
            "status": item["status"]["code"], "status_label": str(item["status"]["label"]),
            "field": item["field"]["slug"], "field_name": item["field"]["name"],
            "ward_code": item["region"]["ward_code"], "ward": item["region"]["ward"],
            "province": item["region"]["province"], "legacy_place": item["region"]["legacy_place"],
            "address": item["address"],
            "sender_kind": doc.get("sender_kind"),
            "sender_name": item["sender"]["name"] if item["sender"] else None,
            "phone_masked": item["phone_masked"],
            "submitted_at": _local(doc.get("submitted_at"), tz), "published_at": _local(doc.get("published_at"), tz),
            "answer_unit": doc.get("answer_unit"), "answer": doc.get("answer") or None,
            "lat": location.get("lat"), "lon": location.get("lon"), "url": item["url"],
        }


def _local(value: str | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 in the deployment's time zone (what a reader of the file expects to see)."""
    return datetime.fromisoformat(value).astimezone(tz).isoformat() if value else None


# OWASP's CSV-injection rule: a cell that starts with one of these is a formula to a spreadsheet
# program ("=HYPERLINK(...)", "+84…" evaluated, "@SUM"), so it is prefixed with an apostrophe, which
# the program shows as text. (defusedcsv 3.0 leaves a leading tab or CR alone, hence this rule.)
FORMULA_STARTS = frozenset(("=", "+", "-", "@", "\t", "\r"))


def safe_cells(record: dict[str, Any]) -> list[Any]:
    """The record's CSV_COLUMNS as a spreadsheet must show them: text that would start a formula
    gets a ``'``, and None is an empty cell. (A list at a time: a call per cell was a fifth of an
    export's time.)"""
    return [("'" + value if value[:1] in FORMULA_STARTS else value) if isinstance(value, str)
            else ("" if value is None else value) for value in map(record.get, CSV_COLUMNS)]


def csv_chunks(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    """CSV text in chunks: a UTF-8 BOM (spreadsheet programs then read Vietnamese correctly),
    the header, then the rows; CRLF line ends as RFC 4180 says."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(CSV_COLUMNS)
    for count, record in enumerate(records, start=1):
        writer.writerow(safe_cells(record))
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_chunks(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    lines: list[str] = []
    for record in records:
        lines.append(json.dumps(record, ensure_ascii=False))
        if len(lines) >= ROWS_PER_CHUNK:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"
