"""What the public sees of a report: one view, and every public surface is built from it.

``public_view(report)`` decides it all: which reports are public at all (published ones), the
fields, the masked text of title, content, address and the published answer (one masking rule,
``indexer.documents.public_text``), the sender or no sender (a confidential report's view has no
sender name, phone, email or sender address at all), the public timeline (no internal steps such
as an answer draft sent for approval or returned), and the public files (the sender's files and
the published answer's, never a draft answer's; none for a confidential report).

The pure rules live in ``indexer.documents`` (the index document is part of this view and the
indexer is a library that imports nothing from the web app); this module adds what needs the ORM
and a request: timeline, files, links and labels. The public report page, the API (list, detail,
similar reports), the exports, the Atom feed, Open311 (JSON and XML) and the saved-search alerts
all read a ``PublicReport`` or the public document/item made here; nothing else reads a report's
events, sender fields or files for a public answer (tests/integration/test_public_view.py checks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import g, has_request_context, request, url_for
from flask_babel import get_locale
from sqlalchemy.orm import selectinload

from indexer.documents import build_document, public_text
from indexer.query import plain_excerpt
from indexer.text import mask_phone
from webapp.reports.models import REPORT_TYPE_LABELS, STATUS_LABELS, Answer, Report, ReportType, Status

# What ``public_view`` reads, for queries that load many reports at once (a few queries, not one per row).
LOAD_OPTIONS = (selectinload(Report.field), selectinload(Report.ward), selectinload(Report.province),
                selectinload(Report.events), selectinload(Report.attachments),
                selectinload(Report.answers).options(selectinload(Answer.unit), selectinload(Answer.attachments)))
# The answer deadline is shown while the report is being handled (as the staff see it).
DEADLINE_SHOWN = (Status.ACCEPTED, Status.PROCESSING)


@dataclass(frozen=True)
class PublicEvent:
    """One public step of the timeline; the note masked like the rest of the public text."""

    status: str
    label: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class PublicFile:
    """A file the public may download."""

    id: int
    filename: str
    content_type: str

    @property
    def url(self) -> str:
        return url_for("reports.attachment", attachment_id=self.id)

    @property
    def external_url(self) -> str:
        return url_for("reports.attachment", attachment_id=self.id, _external=True)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True)
class PublicAnswer:
    unit: str
    text: str
    published_at: datetime | None
    files: tuple[PublicFile, ...]


@dataclass(frozen=True)
class PublicSender:
    kind: str | None
    name: str
    phone_masked: str | None


@dataclass(frozen=True)
class PublicField:
    slug: str
    name: str


@dataclass(frozen=True)
class PublicReport:
    """A published report as the public sees it (see the module's docstring)."""

    doc: dict[str, Any]            # the public search document, exactly what the index holds
    code: str
    type: str
    type_label: str
    status: str
    status_label: str
    title: str
    content: str
    address: str
    field: PublicField
    place_name: str
    submitted_at: datetime
    published_at: datetime | None
    deadline_at: datetime | None   # only while accepted or processing
    confidential: bool
    sender: PublicSender | None
    answer: PublicAnswer | None
    timeline: tuple[PublicEvent, ...]
    files: tuple[PublicFile, ...]  # the sender's files

    @property
    def updated_at(self) -> datetime:
        """The last change the public can see: a timeline step, the publication or the answer."""
        moments = [self.submitted_at, self.published_at, *(e.at for e in self.timeline),
                   self.answer.published_at if self.answer else None]
        return max(m for m in moments if m is not None)

    @property
    def first_image(self) -> PublicFile | None:
        return next((f for f in self.files if f.is_image), None)

    def item(self) -> dict[str, Any]:
        return public_item(self.doc)

    def detail_json(self) -> dict[str, Any]:
        """The API's ``GET /api/v1/reports/<code>``: the list item, the full text and the timeline."""
        return {**self.item(), "content": self.content, "timeline": [
            {"status": {"code": e.status, "label": e.label}, "at": e.at.isoformat(), "note": e.note}
            for e in self.timeline]}


def public_timeline(report: Report) -> tuple[PublicEvent, ...]:
    """The steps of ``report`` the public (and its sender) may see: never an internal one."""
    text = public_text(report)
    return tuple(PublicEvent(status=e.to_status, label=e.to_label, at=e.created_at, note=text(e.note) or None)
                 for e in report.events if not e.internal)


def _files(items: list[Any]) -> tuple[PublicFile, ...]:
    return tuple(PublicFile(id=a.id, filename=a.filename, content_type=a.content_type) for a in items)


def sender_answer(report: Report, may_open: Callable[[Any], bool] | None = None) -> PublicAnswer | None:
    """The published answer as its sender sees it ("PAKN của tôi", Tra cứu mã): unit, text, date and
    the files of the published answer (a draft or returned answer never), those ``may_open`` lets
    through (the access rule of the one asking: a visitor of Tra cứu mã is not logged in). The
    sender's own report, so the text is not masked."""
    row = report.published_answer
    if row is None:
        return None
    files = [a for a in row.attachments if may_open is None or may_open(a)]
    return PublicAnswer(unit=row.unit.name, text=row.text, published_at=row.published_at, files=_files(files))


def public_view(report: Report | None) -> PublicReport | None:
    """The public view of ``report``, or None when it is not public (missing or unpublished)."""
    doc = build_document(report) if report is not None else None
    if report is None or doc is None:
        return None
    answer_row = report.published_answer
    # A confidential report's files may show its sender (a photo, a signed letter): none are public.
    shown = not report.confidential
    answer = PublicAnswer(
        unit=doc["answer_unit"], text=doc["answer"], published_at=answer_row.published_at,
        files=_files(answer_row.attachments) if shown else ()) if answer_row is not None else None
    item = public_item(doc)
    sender = (PublicSender(kind=item["sender"]["kind"], name=item["sender"]["name"], phone_masked=item["phone_masked"])
              if item["sender"] else None)
    return PublicReport(
        doc=doc, code=doc["code"], type=doc["type"], type_label=str(REPORT_TYPE_LABELS[ReportType(doc["type"])]),
        status=doc["status"], status_label=str(STATUS_LABELS[Status(doc["status"])]), title=doc["title"],
        content=doc["content"], address=doc["address"], field=PublicField(doc["field"], doc["field_name"]),
        place_name=report.place_name, submitted_at=report.submitted_at, published_at=report.published_at,
        deadline_at=report.deadline_at if report.status in DEADLINE_SHOWN else None,
        confidential=bool(report.confidential), sender=sender, answer=answer, timeline=public_timeline(report),
        files=_files([a for a in report.attachments if a.answer_id is None]) if shown else ())


# -- the public shape of a search document (list items of the API, exports, feeds, alerts) ----------
def excerpt(doc: dict[str, Any], highlight: dict[str, str]) -> str:
    for key in ("content", "answer", "address"):
        if highlight.get(key):
            return highlight[key]
    return plain_excerpt(doc.get("content") or "")


def public_item(doc: dict[str, Any], highlight: dict[str, str] | None = None) -> dict[str, Any]:
    """The public item of a search document (no more than the document builder let in)."""
    return _item(doc, highlight or {}, _per_request(), True)


def public_items(docs: Iterable[dict[str, Any]],
                 excerpts: bool = True) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each of many documents (an export's thousands) with its public item, the request's shared
    values looked up once; without ``excerpts`` each item's excerpt is None (an export writes the
    whole text, and cutting an excerpt it does not write was a tenth of its time)."""
    shared = _per_request()
    for doc in docs:
        yield doc, _item(doc, {}, shared, excerpts)


def _item(doc: dict[str, Any], highlight: dict[str, str], shared: _PerRequest, excerpts: bool) -> dict[str, Any]:
    status = doc["status"]
    public_sender = "sender_name" in doc and doc.get("sender_name")
    return {
        "code": doc["code"],
        "type": doc["type"],
        "title": doc["title"],
        "excerpt": excerpt(doc, highlight) if excerpts else None,
        "field": {"slug": doc["field"], "name": doc["field_name"]},
        "region": {"ward_code": doc.get("ward_code"), "ward": doc.get("ward"),
                   "province_code": doc["province_code"], "province": doc["province"],
                   "legacy_place": doc.get("legacy_place")},
        "address": doc.get("address") or None,
        "status": {"code": status, "label": shared.labels.get(status, status)},
        "submitted_at": doc["submitted_at"],
        "sender": {"kind": doc.get("sender_kind"), "name": doc["sender_name"]} if public_sender else None,
        "phone_masked": mask_phone(doc["sender_phone"]) if doc.get("sender_phone") else None,
        "answer": ({"unit": doc.get("answer_unit"), "text": doc["answer"]} if doc.get("answer") else None),
        "url": shared.report_url + quote(doc["code"], safe=""),
    }


@dataclass(frozen=True)
class _PerRequest:
    labels: dict[str, str]  # status → its label in this request's language
    report_url: str         # a report page's external URL, but its code


def _per_request() -> _PerRequest:
    """What every item of a list shares, made once per request (an export writes thousands of
    items: a lazy label and a url_for for each took a third of its time). Kept by language and
    host, since a job may hold one app context across several (``force_locale``, links_context)."""
    key = (str(get_locale()), request.host_url if has_request_context() else "")
    made = g.setdefault("_public_items", {})
    shared = made.get(key)
    if shared is None:
        probe = url_for("reports.public_report", code="0", _external=True)
        shared = made[key] = _PerRequest(labels={s.value: str(label) for s, label in STATUS_LABELS.items()},
                                         report_url=probe[:-1])
    return shared
