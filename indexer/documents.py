"""The document builder, and the pure rules of what the public sees of a report.

Only published reports get a document. A confidential report's document carries no sender
name, phone, email or sender address at all: a field that is indexed but hidden can still be
matched, which leaks. Its free text (title, content, address, answer) is masked by
``public_text``: personal data typed into it is hidden, and a confidential sender's own name,
phone and email are removed whatever their spelling. Nothing else in the code base puts report
data into the search index.

The report is read through its attributes only (duck-typed): this library imports nothing from
the web app. ``webapp.reports.public.public_view`` wraps these rules with what needs the ORM and
the request (timeline, attachments, links); every public surface is built from that view.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from indexer.text import mask_personal_data, nfc, nfc_multiline, redact_sender

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Fields of a public document (the Elasticsearch mapping is strict and lists the same ones).
DOC_FIELDS = (
    "id", "revision", "code", "type", "title", "content", "address", "answer", "answer_unit",
    "sender_kind", "sender_name", "sender_phone", "field", "field_name", "ward_code", "ward",
    "province_code", "province", "legacy_place", "legacy_wards", "status", "submitted_at", "published_at", "month",
    "location",
)
# Extra fields of a staff document (the staff index only; never in a public one).
STAFF_FIELDS = ("units", "deadline_at", "confidential", "published", "answer_state")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def public_text(report: Any) -> Callable[[str | None], str]:
    """How the public version of ``report``'s free text is masked (title, content, address, the
    published answer, timeline notes: all the same rule).

    Phones, 12-digit citizen IDs, emails and plates typed into the text are masked; for a
    confidential report the sender's own name, organisation, phone and email are removed first,
    in any spelling (a masked "098****222" of their own phone would still give most of it away).
    """
    if report.confidential:
        names = (report.sender_name, report.organization_name)
        phone, email = report.sender_phone, report.sender_email

        def text(value: str | None) -> str:
            return mask_personal_data(redact_sender(value or "", names, phone, email))
        return text
    return mask_personal_data


def _same(value: str | None) -> str:
    return value or ""


def _fields(report: Any, public: bool) -> dict[str, Any]:
    """The fields both indices share; ``public`` masks the text as ``public_text`` says."""
    answer = report.published_answer
    if report.sender_kind == "organization" and report.organization_name:
        sender_name = report.organization_name
    else:
        sender_name = report.sender_name
    text = public_text(report) if public else _same
    return {
        "id": report.id,
        "revision": report.revision,
        "code": report.code,
        "type": report.type,
        # Phones, citizen IDs, emails and plates typed into the text are masked for the public.
        "title": text(nfc(report.title)),
        "content": text(nfc_multiline(report.content)),
        "address": text(nfc(report.address)),
        "answer": text(nfc_multiline(answer.text)) if answer else "",
        "answer_unit": answer.unit.name if answer else None,
        "sender_kind": report.sender_kind,
        # Confidential: the keys are absent, not empty-but-hidden (in both indices).
        **({"sender_name": nfc(sender_name) or None, "sender_phone": report.sender_phone or None}
           if not report.confidential else {}),
        "field": report.field.slug,
        "field_name": report.field.name,
        "ward_code": report.ward_code,
        "ward": report.ward.name if report.ward is not None else None,
        "province_code": report.province_code,
        "province": report.province.name,
        "legacy_place": report.legacy_place,
        # A report named by a pre-2025 place only: the current wards that place became (the
        # crosswalk), so that filtering by one of them finds it ("địa danh cũ").
        "legacy_wards": list(getattr(report, "legacy_ward_codes", ()) or ()),
        "status": report.status,
        "submitted_at": iso(report.submitted_at),
        "published_at": iso(report.published_at),
        "month": report.submitted_at.astimezone(VN_TZ).strftime("%Y-%m"),
        "location": ({"lat": report.lat, "lon": report.lon}
                     if report.lat is not None and report.lon is not None else None),
    }


def build_document(report: Any) -> dict[str, Any] | None:
    """The public search document of ``report``, or None when it must not be in the index."""
    if not report.published:
        return None
    return _fields(report, public=True)


def build_staff_document(report: Any) -> dict[str, Any]:
    """The staff index's document of ``report``: every report, whatever its status or publication.

    Staff read the original text (not masked). The sender's name and phone are in it only when the
    sender did not ask for confidentiality; a confidential sender is shown on the report's staff
    page alone, where every display is audited. ``units`` (the assigned units) is the staff scope.
    """
    working = [a for a in report.answers if a.published_at is None]
    return {
        **_fields(report, public=False),
        "units": sorted(a.unit_id for a in report.assignments),
        "deadline_at": iso(report.deadline_at),
        "confidential": bool(report.confidential),
        "published": bool(report.published),
        "answer_state": working[-1].state if working else None,
    }
