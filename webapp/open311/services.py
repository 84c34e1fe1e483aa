"""Open311 GeoReport v2 over PAKN: services are the fields (lĩnh vực), service requests are the
published reports, and a POST goes into ``webapp.reports.services.create_report``.

What a request shows of a report comes from its public view (``webapp.reports.public.public_view``,
the one place that decides what is public): the masked text, never a sender, the deadline, the
public timeline's last change and a public image, as on the public report page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from indexer.query import MAX_PER_PAGE
from indexer.text import fold, nfc
from webapp.clock import now
from webapp.extensions import db
from webapp.opendata.apikeys import partner_account
from webapp.opendata.models import ApiKey
from webapp.reference.models import Field
from webapp.reference.services import ward_keys
from webapp.reports import validation
from webapp.reports.codes import normalize_code
from webapp.reports.models import STATUS_LABELS, Report, Status
from webapp.reports.public import LOAD_OPTIONS, PublicReport, public_view
from webapp.reports.services import SendError, create_report
from webapp.search import services as search
from webapp.search.request import SearchRequest
from webapp.search.services import ParamError
from webapp.workflow.services import OPEN_STATUSES

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00+07:00"  # when this implementation last changed what it serves
DEFAULT_DAYS = 90                          # the spec's default window
DEFAULT_PAGE_SIZE = 50
# Open311 has two statuses. "closed" = the agency is done with it: answered (a published answer; a
# reopened report goes back to processing, i.e. open), closed, rejected, or a duplicate (handled
# under the original). Every status the workflow still acts on is "open".
OPEN = tuple(Status(s) for s in OPEN_STATUSES)
CLOSED = tuple(s for s in Status if s not in OPEN)
SHOWN_DEADLINE = (Status.ACCEPTED, Status.PROCESSING)  # as on the public report page
TITLE_LENGTH = 80


class Open311Error(Exception):
    """An answer in the Open311 error format: an HTTP status and a Vietnamese description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _param(name: str, message: str) -> str:
    return f"{name}: {message}"


def _local(value: datetime | str | None) -> str | None:
    """A timestamp in W3C form with the deployment's offset (2026-03-01T08:00:00+07:00)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).isoformat(timespec="seconds")


# -- services ---------------------------------------------------------------------------------------------
def _service(field: Field) -> dict[str, Any]:
    return {
        "service_code": field.slug,
        "service_name": field.name,
        "description": _("Phản ánh, kiến nghị về lĩnh vực %(name)s. Thời hạn trả lời: %(n)d ngày làm việc "
                         "kể từ khi được giao xử lý.", name=field.name, n=field.deadline_days),
        # The definition has attributes (the ward is required), so clients must read it.
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys([field.name.lower(), fold(field.name)])),
        "group": _("Phản ánh kiến nghị"),
    }


def service_list() -> list[dict[str, Any]]:
    return [_service(f) for f in db.session.scalars(select(Field).order_by(Field.position))]


def _field(code: str) -> Field:
    field = db.session.scalar(select(Field).where(Field.slug == code))
    if field is None:
        raise Open311Error(404, _("Không có dịch vụ (lĩnh vực) mã '%(code)s'. Danh sách: services.json.", code=code))
    return field


def service_definition(code: str) -> dict[str, Any]:
    field = _field(code)
    ref = search.reference()
    return {"service_code": field.slug, "attributes": [
        {"variable": True, "code": "ward_code", "datatype": "singlevaluelist", "required": True,
         "datatype_description": _("Mã xã, phường theo danh mục hành chính từ 1/7/2025 (cũng nhận tên xã, phường). "
                                   "Không suy ra được từ tọa độ."),
         "order": 1, "description": _("Xã, phường nơi xảy ra sự việc"),
         "values": [{"key": str(code), "name": name} for code, (name, _p) in ref.wards.items()]},
        {"variable": True, "code": "confidential", "datatype": "singlevaluelist", "required": False,
         "datatype_description": _("true: thông tin người gửi không được công khai và không có trong Open311."),
         "order": 2, "description": _("Đề nghị bảo mật thông tin người gửi"),
         "values": [{"key": "false", "name": _("Không")}, {"key": "true", "name": _("Có")}]},
    ]}


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": _("Cổng tiếp nhận phản ánh kiến nghị: %(url)s", url=base_url.split("/open311/")[0] + "/"),
        "key_service": _("Khóa API (gửi phản ánh, hạn mức riêng) do quản trị cổng cấp cho đối tác."),
        "endpoints": [{"specification": SPECIFICATION, "url": base_url, "changeset": CHANGESET,
                       "type": "production", "formats": ["application/json", "text/xml"]}],
    }


# -- service requests (published reports) ----------------------------------------------------------------
def request_json(view: PublicReport) -> dict[str, Any]:
    """One service request, from the public view of a report: never a sender."""
    doc = view.doc
    status = Status(view.status)
    location = doc.get("location") or {}
    place = doc.get("ward") or doc.get("legacy_place")
    address = ", ".join(p for p in (view.address, place, doc.get("province")) if p)
    image = view.first_image
    return {
        "service_request_id": view.code,
        "status": "open" if status in OPEN else "closed",
        "status_notes": (view.answer.text or None) if view.answer else None,
        "service_name": view.field.name,
        "service_code": view.field.slug,
        "description": view.content,
        "agency_responsible": view.answer.unit if view.answer else None,
        "service_notice": None,
        "requested_datetime": _local(view.submitted_at),
        "updated_datetime": _local(view.updated_at),
        "expected_datetime": _local(view.deadline_at) if status in SHOWN_DEADLINE else None,
        "address": address,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": image.external_url if image else None,
        "extended_attributes": {
            "pakn_status": status.value,
            "pakn_status_label": str(STATUS_LABELS[status]),
            "type": view.type,
            "title": view.title,
            "ward_code": doc.get("ward_code"),
            "ward": doc.get("ward"),
            "province_code": doc["province_code"],
            "province": doc["province"],
            "url": url_for("reports.public_report", code=view.code, _external=True),
        },
    }


def _published(reports: list[Report]) -> list[dict[str, Any]]:
    out = []
    for report in reports:
        view = public_view(report)
        if view is not None:  # the index may lag behind an unpublication: the row decides
            out.append(request_json(view))
    return out


def _load(condition: Any) -> list[Report]:
    return list(db.session.scalars(select(Report).where(condition).options(*LOAD_OPTIONS)))


def get_request(request_id: str) -> dict[str, Any]:
    code = normalize_code(request_id)
    found = _published(_load(Report.code == code)) if code else []
    if not found:
        raise Open311Error(404, _("Không tìm thấy phản ánh công khai có mã '%(code)s'.", code=request_id))
    return found[0]


_LOOSE_OFFSET = re.compile(r"^(.+T[\d:.]+) (\d{2}:?\d{2})$")


def _datetime(name: str, text: str, end: bool) -> datetime:
    """An ISO 8601 datetime (or date) from a query; naive ones are in the deployment's time zone.

    A date alone means the whole day (``end``: up to its end). "+07:00" arriving as " 07:00" (an
    unencoded "+" in a URL) is read as meant.
    """
    text = _LOOSE_OFFSET.sub(r"\1+\2", text.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or not 1900 <= moment.year <= 2999:  # the API's years, far from datetime's ends
        raise Open311Error(400, _param(name, _("'%(value)s' không phải thời điểm ISO 8601, ví dụ "
                                               "2026-03-01T00:00:00+07:00.", value=text)))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
    if end and text.replace("-", "").isdigit():  # a date alone: through the end of that day
        moment += timedelta(days=1)
    elif end:
        moment += timedelta(seconds=1)  # "latest datetime to include": the index counts whole seconds
    return moment.astimezone(UTC)


def _date_window(args: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC. Neither given: the last 90 days. Only end: the 90 days before it. Only
    start: from it on. Both: exactly that (longer than 90 days is allowed; results are paged)."""
    start_text, end_text = (args.get("start_date") or "").strip(), (args.get("end_date") or "").strip()
    start = _datetime("start_date", start_text, end=False) if start_text else None
    end = _datetime("end_date", end_text, end=True) if end_text else None
    if start is None and end is None:
        return now() - timedelta(days=DEFAULT_DAYS), None
    if start is None and end is not None:
        start = end - timedelta(days=DEFAULT_DAYS)
    if end is not None and start is not None and start >= end:
        raise Open311Error(400, _param("start_date", _("Thời điểm bắt đầu phải trước thời điểm kết thúc.")))
    return start, end


_OPEN311_NAMES = {"field": "service_code", "per_page": "page_size"}


def list_requests(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The published reports a GET /requests asks for, and how many match in all (every page)."""
    ids = [part.strip() for part in (args.get("service_request_id") or "").split(",") if part.strip()]
    if ids:  # overrides every other argument (spec)
        if len(ids) > MAX_PER_PAGE:
            raise Open311Error(400, _param("service_request_id", _("Tối đa %(n)d mã mỗi lần.", n=MAX_PER_PAGE)))
        codes = list(dict.fromkeys(c for c in map(normalize_code, ids) if c))
        by_code = {r["service_request_id"]: r for r in _published(_load(Report.code.in_(codes)))} if codes else {}
        found = [by_code[c] for c in codes if c in by_code]
        return found, len(found)

    statuses: list[str] = []
    for value in (args.get("status") or "").split(","):
        value = value.strip().lower()
        if value == "open":
            statuses.extend(OPEN)
        elif value == "closed":
            statuses.extend(CLOSED)
        elif value:
            raise Open311Error(400, _param("status", _("Trạng thái '%(value)s' không hợp lệ (open hoặc closed).",
                                                       value=value)))
    # GeoReport's names for our search parameters; its status (open/closed) is mapped above.
    search_request = SearchRequest.from_args(args, ("q", "field", "page", "per_page"), names=_OPEN311_NAMES,
                                             defaults={"per_page": str(DEFAULT_PAGE_SIZE)})
    try:
        query = search_request.query()
    except ParamError as exc:
        raise Open311Error(400, _param(exc.field, exc.message)) from None
    query.statuses = [str(s) for s in dict.fromkeys(statuses)]
    query.date_from, query.date_to = _date_window(args)
    query.facets = False
    result = search.run_search(query)
    ids_in_order = [hit.id for hit in result.hits]
    rows = {r.id: r for r in _load(Report.id.in_(ids_in_order))} if ids_in_order else {}
    return _published([rows[i] for i in ids_in_order if i in rows]), result.total


# -- POST: a partner sends a report ------------------------------------------------------------------------
# The send form's field → the Open311 parameter it is filled from (errors name the parameter).
_FORM_TO_OPEN311 = {"title": "attribute[title]", "content": "description", "address": "address_string",
                    "lat": "lat", "lon": "long", "sender_name": "first_name/last_name", "sender_phone": "phone",
                    "sender_email": "email", "field": "service_code", "ward": "attribute[ward_code]",
                    "confidential": "attribute[confidential]"}


def _attribute(form: Mapping[str, str], code: str) -> str:
    return form.get(f"attribute[{code}]") or ""


def _ward_code(value: str) -> str:
    """A ward code from a code or a name ("Phường Trảng Bàng", "trang bang"); whether the ward lies
    in the deployment is the send rules' question."""
    value = nfc(value)
    if not value or value.isdigit():
        return value
    wards = search.reference().wards
    wanted = ward_keys(value)
    matches = [code for code, (name, _p) in wards.items() if wanted & ward_keys(name)]
    if len(matches) == 1:
        return str(matches[0])
    raise Open311Error(400, _param("attribute[ward_code]", _(
        "Xã, phường '%(value)s' không thuộc địa bàn tiếp nhận (hoặc có nhiều nơi cùng tên: dùng mã).", value=value)))


def _title(description: str) -> str:
    """The first words of the description, at most TITLE_LENGTH characters."""
    text = nfc(description)
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH - 1]
    words = cut.rsplit(" ", 1)[0]
    return (words if len(words) > TITLE_LENGTH // 2 else cut).rstrip(" ,.;:-") + "…"


def create_request(form: Mapping[str, str], key: ApiKey, idempotency_key: str | None) -> tuple[Report, bool]:
    """Check a GeoReport POST with the send rules (``webapp.reports.validation``, the form's messages)
    and create the report (flushed), owned by the key's partner account. Returns (report, created)."""
    lat, lon = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    address = form.get("address_string") or ""
    if not address.strip() and not (lat and lon):
        raise Open311Error(400, _param("address_string", _("Cần vị trí: address_string, hoặc cả lat và long.")))
    if not address.strip():
        address = _("Tọa độ %(lat)s, %(lon)s", lat=lat, lon=lon)
    refused = validation.idempotency_key_problem(idempotency_key)
    if refused is not None:
        raise Open311Error(400, _param("Idempotency-Key", refused.message))
    description = form.get("description") or ""
    title = _attribute(form, "title")
    values = {
        "type": "pakn", "title": title or _title(description), "content": description,
        "field": (form.get("service_code") or "").strip(), "ward": _ward_code(_attribute(form, "ward_code")),
        "address": address, "lat": lat, "lon": lon, "sender_kind": "individual",
        "sender_name": nfc(" ".join([form.get("last_name") or "", form.get("first_name") or ""])),  # Vietnamese order
        "sender_phone": form.get("phone") or "", "sender_email": form.get("email") or "",
        "confidential": _attribute(form, "confidential")}
    order = list(validation.ORDER)
    if not title:  # a title made from a bad description is only a consequence: the description first
        order.remove("content")
        order.insert(order.index("title"), "content")
    problems = validation.validate(values, names=order)
    if problems:
        raise Open311Error(400, _param(_FORM_TO_OPEN311.get(problems[0].field, problems[0].field), problems[0].message))
    try:
        return create_report(partner_account(key), validation.draft(values), [], idempotency_key, typed_phone=True)
    except SendError as exc:
        raise Open311Error(exc.status, _param(_FORM_TO_OPEN311.get(exc.field or "", exc.field or "request"),
                                              exc.message)) from None


def service_notice(report: Report) -> str:
    return _("Đã nhận phản ánh %(code)s; người gửi nhận mã theo dõi qua SMS. Phản ánh có trên Open311 sau khi "
             "được tiếp nhận và công khai. Thời hạn trả lời: %(n)d ngày làm việc kể từ khi được giao xử lý.",
             code=report.code, n=report.field.deadline_days)
