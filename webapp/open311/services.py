"""Open311 GeoReport v2 over PAKN: services are the fields (lĩnh vực), service requests are the
published reports, and a POST goes into ``webapp.reports.services.create_report``.

What a request shows of a report comes from its public document (``indexer.documents.build_document``,
the one place that decides what is public): the masked text, never a sender. The row adds only
non-personal facts the public report page shows too (deadline, the public timeline's last change,
a public image).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from indexer.documents import build_document
from indexer.query import MAX_PER_PAGE
from indexer.text import fold, nfc
from webapp.clock import now
from webapp.extensions import db
from webapp.opendata.models import ApiKey
from webapp.reference.models import Field
from webapp.reference.services import ward_keys
from webapp.reports.codes import normalize_code
from webapp.reports.models import STATUS_LABELS, Answer, Report, Status
from webapp.search import services as search
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
def _updated(report: Report) -> datetime:
    """The last change the public can see: a public timeline step, the publication or the answer."""
    moments = [report.submitted_at, report.published_at, *(e.created_at for e in report.public_events)]
    answer = report.published_answer
    if answer is not None:
        moments.append(answer.published_at)
    return max(m for m in moments if m is not None)


def _media_url(report: Report) -> str | None:
    """The first image the sender attached, where the public may see it (as the report page decides)."""
    if report.confidential:
        return None
    image = next((a for a in report.own_attachments if a.content_type.startswith("image/")), None)
    return url_for("reports.attachment", attachment_id=image.id, _external=True) if image else None


def request_json(report: Report, doc: dict[str, Any]) -> dict[str, Any]:
    """One service request: text and place from the public document ``doc``, never a sender."""
    status = Status(doc["status"])
    location = doc.get("location") or {}
    place = doc.get("ward") or doc.get("legacy_place")
    address = ", ".join(p for p in (doc.get("address"), place, doc.get("province")) if p)
    return {
        "service_request_id": doc["code"],
        "status": "open" if status in OPEN else "closed",
        "status_notes": doc.get("answer") or None,
        "service_name": doc["field_name"],
        "service_code": doc["field"],
        "description": doc["content"],
        "agency_responsible": doc.get("answer_unit"),
        "service_notice": None,
        "requested_datetime": _local(doc["submitted_at"]),
        "updated_datetime": _local(_updated(report)),
        "expected_datetime": _local(report.deadline_at) if status in SHOWN_DEADLINE else None,
        "address": address,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": _media_url(report),
        "extended_attributes": {
            "pakn_status": status.value,
            "pakn_status_label": str(STATUS_LABELS[status]),
            "type": doc["type"],
            "title": doc["title"],
            "ward_code": doc.get("ward_code"),
            "ward": doc.get("ward"),
            "province_code": doc["province_code"],
            "province": doc["province"],
            "url": url_for("reports.public_report", code=doc["code"], _external=True),
        },
    }


def _published(reports: list[Report]) -> list[dict[str, Any]]:
    out = []
    for report in reports:
        doc = build_document(report)
        if doc is not None:  # the index may lag behind an unpublication: the row decides
            out.append(request_json(report, doc))
    return out


def _load(condition: Any) -> list[Report]:
    return list(db.session.scalars(select(Report).where(condition).options(
        selectinload(Report.field), selectinload(Report.ward), selectinload(Report.province),
        selectinload(Report.events), selectinload(Report.attachments),
        selectinload(Report.answers).selectinload(Answer.unit))))


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


_OPEN311_NAMES = {"field": "service_code", "per_page": "page_size", "status": "status"}


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
    source = {"q": args.get("q") or "", "field": args.get("service_code") or "", "status": list(dict.fromkeys(statuses)),
              "page": args.get("page") or "", "per_page": args.get("page_size") or str(DEFAULT_PAGE_SIZE)}
    try:
        query = search.parse_params(source)
    except ParamError as exc:
        raise Open311Error(400, _param(_OPEN311_NAMES.get(exc.field, exc.field), exc.message)) from None
    query.date_from, query.date_to = _date_window(args)
    query.facets = False
    result = search.run_search(query)
    ids_in_order = [hit.id for hit in result.hits]
    rows = {r.id: r for r in _load(Report.id.in_(ids_in_order))} if ids_in_order else {}
    return _published([rows[i] for i in ids_in_order if i in rows]), result.total


# -- POST: a partner sends a report ------------------------------------------------------------------------
_TRUE, _FALSE = {"true", "1", "yes", "on", "y"}, {"false", "0", "no", "off", "n", ""}
# ReportForm's field → the Open311 parameter it was filled from (for error descriptions).
_FORM_TO_OPEN311 = {"title": "attribute[title]", "content": "description", "address": "address_string",
                    "lat": "lat", "lon": "long", "sender_name": "first_name/last_name", "sender_phone": "phone",
                    "sender_email": "email", "field": "service_code", "ward": "attribute[ward_code]"}


def _attribute(form: Mapping[str, str], code: str) -> str:
    return nfc(form.get(f"attribute[{code}]") or "")


def _ward_code(value: str) -> int:
    """A deployment ward from its code or its name ("Phường Trảng Bàng", "trang bang")."""
    wards = search.reference().wards
    if not value:
        raise Open311Error(400, _param("attribute[ward_code]", _(
            "Vui lòng cho biết xã, phường (mã theo danh mục từ 1/7/2025, xem services/<mã>.json); hệ thống "
            "không suy ra xã, phường từ tọa độ hay địa chỉ.")))
    if value.isdigit() and int(value) in wards:
        return int(value)
    wanted = ward_keys(value)
    matches = [code for code, (name, _p) in wards.items() if wanted & ward_keys(name)]
    if len(matches) == 1:
        return matches[0]
    raise Open311Error(400, _param("attribute[ward_code]", _(
        "Xã, phường '%(value)s' không thuộc địa bàn tiếp nhận (hoặc có nhiều nơi cùng tên: dùng mã).", value=value)))


def _number(form: Mapping[str, str], name: str) -> str:
    text = (form.get(name) or "").strip()
    if not text:
        return ""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise Open311Error(400, _param(name, _("'%(value)s' không phải số.", value=text)))
    return repr(number)


def _title(description: str) -> str:
    """The first words of the description, at most TITLE_LENGTH characters."""
    text = nfc(description)
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH - 1]
    words = cut.rsplit(" ", 1)[0]
    return (words if len(words) > TITLE_LENGTH // 2 else cut).rstrip(" ,.;:-") + "…"


def create_request(form: Mapping[str, str], key: ApiKey, idempotency_key: str | None) -> tuple[Report, bool]:
    """Check a GeoReport POST with the send form's rules and create the report (flushed), owned by
    the key's partner account. Returns (report, created)."""
    from webapp.opendata.apikeys import partner_account
    from webapp.reports.forms import ReportForm
    from webapp.reports.services import Draft, SendError, create_report, local_now_naive

    slug = (form.get("service_code") or "").strip()
    if not slug:
        raise Open311Error(400, _param("service_code", _("Vui lòng chọn lĩnh vực (service_code).")))
    field = db.session.scalar(select(Field).where(Field.slug == slug))
    if field is None:
        raise Open311Error(400, _param("service_code", _("Lĩnh vực '%(code)s' không tồn tại (xem services.json).",
                                                         code=slug)))
    ward = _ward_code(_attribute(form, "ward_code"))
    lat, lon = _number(form, "lat"), _number(form, "long")
    address = nfc(form.get("address_string") or "")
    if not address and not (lat and lon):
        raise Open311Error(400, _param("address_string", _("Cần vị trí: address_string, hoặc cả lat và long.")))
    if not address:
        address = _("Tọa độ %(lat)s, %(lon)s", lat=lat, lon=lon)
    confidential = _attribute(form, "confidential").lower()
    if confidential not in _TRUE | _FALSE:
        raise Open311Error(400, _param("attribute[confidential]", _("Chỉ nhận true hoặc false.")))
    description = form.get("description") or ""
    name = nfc(" ".join([form.get("last_name") or "", form.get("first_name") or ""]))  # Vietnamese order
    if idempotency_key and len(idempotency_key) > 64:
        raise Open311Error(400, _param("Idempotency-Key", _("Dài tối đa 64 ký tự.")))

    checked = ReportForm(formdata=MultiDict({
        "title": _attribute(form, "title") or _title(description), "content": description, "field": slug,
        "ward": str(ward), "address": address, "lat": lat, "lon": lon, "sender_kind": "individual",
        "sender_name": name, "sender_phone": form.get("phone") or "", "sender_email": (form.get("email") or "").strip(),
        "confidential": "y" if confidential in _TRUE else ""}),
        meta={"csrf": False}, report_type="pakn", now=local_now_naive())
    checked.field.choices = [(field.slug, field.name)]
    checked.ward.choices = [(str(ward), str(ward))]
    if not checked.validate():
        # The description first: a title made from a bad description is only a consequence.
        name_ = "content" if "content" in checked.errors else next(iter(checked.errors))
        raise Open311Error(400, _param(_FORM_TO_OPEN311.get(name_, name_), str(checked.errors[name_][0])))

    from indexer.text import normalize_phone

    draft = Draft(type="pakn", title=checked.title.data, content=checked.content.data, field_slug=field.slug,
                  ward_code=ward, address=checked.address.data or "", sender_kind="individual", organization_name=None,
                  sender_name=checked.sender_name.data, sender_phone=normalize_phone(checked.sender_phone.data) or "",
                  sender_email=checked.sender_email.data or None, sender_address=None,
                  confidential=bool(checked.confidential.data),
                  lat=float(lat) if lat else None, lon=float(lon) if lon else None)
    try:
        return create_report(partner_account(key), draft, [], idempotency_key)
    except SendError as exc:
        raise Open311Error(exc.status, _param(_FORM_TO_OPEN311.get(exc.field or "", exc.field or "request"),
                                              exc.message)) from None


def service_notice(report: Report) -> str:
    return _("Đã nhận phản ánh %(code)s; người gửi nhận mã theo dõi qua SMS. Phản ánh có trên Open311 sau khi "
             "được tiếp nhận và công khai. Thời hạn trả lời: %(n)d ngày làm việc kể từ khi được giao xử lý.",
             code=report.code, n=report.field.deadline_days)
