"""What a valid report or idea is: the one set of send rules for the HTML forms, /api/v1 (JSON and
multipart) and Open311's POST.

Each surface turns its input into plain values under the send form's field names and asks this
module; every refusal is a ``Problem`` (field, message, stable code) with the form's Vietnamese
message, which the form shows at the field, the API returns as ``{"error": {"code", "message",
"field"}}`` and Open311 as ``"<parameter>: <message>"``. The limits live in ``TEXT_RULES`` (the
OpenAPI document's send schema is checked against it by a test); attachments are checked by
``webapp.reports.uploads`` (called here, not copied).

Who gets the tracking-code SMS is a send rule too: a citizen sends with the phone of their account,
and only once that phone was verified by a one-time code (``sender_phone``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.validators import StopValidation

from indexer.text import normalize_phone
from webapp.auth.models import User
from webapp.extensions import db
from webapp.reference.models import Field, Ward
from webapp.reports import uploads

TYPES = ("pakn", "idea")
SENDER_KINDS = ("individual", "organization")
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "n", ""})
IDEMPOTENCY_KEY_MAX = 64  # the column's length
LAT_RANGE = (8.0, 24.0)
LON_RANGE = (102.0, 110.5)

# C0 and C1 control characters (NUL included), lone surrogates (JSON can carry "\ud800") and the
# two non-characters XML cannot hold. Multi-line text keeps tab and line breaks.
_BAD_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BAD_CHARS_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class TextRule:
    """A text field: its label, its length limits (of the trimmed NFC text) and its messages."""

    label: Any
    max: int
    length: Any                   # the message when too short or too long
    min: int = 0
    required: Any = None          # the message when empty, if always required
    multiline: bool = False


TEXT_RULES: dict[str, TextRule] = {
    "title": TextRule(_l("Tiêu đề"), 300, _l("Tiêu đề dài 5–300 ký tự."), min=5,
                      required=_l("Vui lòng nhập tiêu đề.")),
    "content": TextRule(_l("Nội dung"), 10000, _l("Nội dung dài 10–10.000 ký tự."), min=10,
                        required=_l("Vui lòng nhập nội dung."), multiline=True),
    "address": TextRule(_l("Địa chỉ cụ thể"), 500, _l("Địa chỉ dài tối đa 500 ký tự.")),
    "organization_name": TextRule(_l("Tên tổ chức"), 300, _l("Tên tổ chức dài tối đa 300 ký tự.")),
    "sender_name": TextRule(_l("Họ và tên người gửi"), 200, _l("Họ và tên dài tối đa 200 ký tự."),
                            required=_l("Vui lòng nhập họ và tên.")),
    "sender_phone": TextRule(_l("Số điện thoại"), 32, _l("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."),
                             required=_l("Vui lòng nhập số điện thoại.")),
    "sender_email": TextRule(_l("Email"), 254, _l("Email dài tối đa 254 ký tự.")),
    "sender_address": TextRule(_l("Địa chỉ người gửi"), 500, _l("Địa chỉ người gửi dài tối đa 500 ký tự.")),
}

MESSAGES = {
    "type": _l("Loại phải là pakn hoặc idea."),
    "field_required": _l("Vui lòng chọn lĩnh vực."),
    "field_unknown": _l("Lĩnh vực không tồn tại."),
    "ward_required": _l("Vui lòng chọn xã, phường."),
    "ward_unknown": _l("Xã, phường không thuộc địa bàn tiếp nhận."),
    "address_required": _l("Vui lòng nhập địa chỉ nơi xảy ra sự việc."),
    "sender_kind": _l("Người gửi phải là cá nhân hoặc tổ chức."),
    "organization_required": _l("Vui lòng nhập tên tổ chức."),
    "phone_invalid": _l("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."),
    "phone_not_verified": _l("Vui lòng xác thực số điện thoại bằng mã OTP trước khi gửi: mã theo dõi chỉ được "
                             "gửi bằng SMS tới số đã xác thực."),
    "email_invalid": _l("Địa chỉ email không hợp lệ."),
    "confidential": _l("Đề nghị bảo mật chỉ nhận true hoặc false."),
    "lat": _l("Vĩ độ không nằm trong Việt Nam."),
    "lon": _l("Kinh độ không nằm trong Việt Nam."),
    "coordinates_pair": _l("Cần cả vĩ độ và kinh độ, hoặc bỏ trống cả hai."),
    "not_a_number": _l("Tọa độ phải là một số."),
    "incident_future": _l("Thời điểm xảy ra không thể ở tương lai."),
}

# The order of the send form: the first problem a surface reports is the first the form shows.
ORDER = ("type", "title", "content", "field", "ward", "address", "lat", "lon", "incident_at", "sender_kind",
         "organization_name", "sender_name", "sender_phone", "sender_email", "sender_address", "confidential")


@dataclass(frozen=True)
class Problem:
    """Why a send is refused: the form's field name, the form's message, a stable code for the API."""

    field: str
    message: str
    code: str = "invalid_parameter"
    status: int = 400


@dataclass
class Draft:
    """What a sender typed, already checked by ``validate``."""

    type: str
    title: str
    content: str
    field_slug: str
    ward_code: int
    address: str
    sender_kind: str
    organization_name: str | None
    sender_name: str
    sender_phone: str
    sender_email: str | None
    sender_address: str | None
    confidential: bool
    lat: float | None = None
    lon: float | None = None
    incident_at: datetime | None = None


def _problem(field: str, message: Any, code: str = "invalid_parameter") -> Problem:
    return Problem(field, str(message), code)


def _text(value: Any) -> str:
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else ""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def deployment_ward(code: Any) -> Ward | None:
    """The ward with this code if it lies in one of the deployment's provinces, else None."""
    if isinstance(code, bool):
        return None
    try:
        number = int(code)
    except (TypeError, ValueError):
        return None
    if not 0 < number < 2**31:  # a larger number cannot even be looked up (SQLite overflows)
        return None
    ward = db.session.get(Ward, number)
    provinces = {int(c) for c in current_app.config["PROVINCES"]}
    return ward if ward is not None and ward.province_code in provinces else None


def parse_flag(value: Any) -> bool | None:
    """The confidentiality flag from a boolean or a form word (true/false, 1/0, on/off, yes/no)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    return None


def _number(value: Any) -> float | None | str:
    """A coordinate as a float, None when empty, "bad" when it is no finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "bad"
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return "bad"
    return float(number) if number.is_finite() else "bad"


def check_text(name: str, value: Any) -> Problem | None:
    """Presence (when always required), characters and length of one text field."""
    rule = TEXT_RULES[name]
    if _blank(value):
        return _problem(name, rule.required, "required") if rule.required else None
    text = _text(value)
    bad = _BAD_CHARS_MULTILINE if rule.multiline else _BAD_CHARS
    if bad.search(value):
        return _problem(name, _("%(label)s chứa ký tự không được phép (ký tự điều khiển).", label=rule.label),
                        "invalid_characters")
    if len(text) < rule.min:
        return _problem(name, rule.length, "too_short")
    if len(text) > rule.max:
        return _problem(name, rule.length, "too_long")
    return None


def check(name: str, values: Mapping[str, Any], now: datetime | None = None) -> Problem | None:
    """The first problem of field ``name`` given all the ``values`` of a send (some rules read
    another field: the address is required for a pakn, the organisation name for an organisation)."""
    value = values.get(name)
    if name == "type":
        return None if value in TYPES else _problem("type", MESSAGES["type"])
    if name == "field":
        if _blank(value):
            return _problem("field", MESSAGES["field_required"], "required")
        if not isinstance(value, str) or db.session.scalar(select(Field.id).where(Field.slug == value.strip())) is None:
            return _problem("field", MESSAGES["field_unknown"], "unknown_field")
        return None
    if name == "ward":
        if _blank(value):
            return _problem("ward", MESSAGES["ward_required"], "required")
        return None if deployment_ward(value) is not None else _problem("ward", MESSAGES["ward_unknown"], "unknown_ward")
    if name == "sender_kind":
        return None if (value or "individual") in SENDER_KINDS else _problem("sender_kind", MESSAGES["sender_kind"])
    if name == "confidential":
        return None if parse_flag(value) is not None else _problem("confidential", MESSAGES["confidential"])
    if name in ("lat", "lon"):
        number = _number(value)
        if number == "bad":
            return _problem(name, MESSAGES["not_a_number"])
        low, high = LAT_RANGE if name == "lat" else LON_RANGE
        if number is None:
            return None  # optional; a lone other coordinate is reported at that one
        if not low <= number <= high:
            return _problem(name, MESSAGES[name])
        if _number(values.get("lon" if name == "lat" else "lat")) is None:
            return _problem(name, MESSAGES["coordinates_pair"])
        return None
    if name == "incident_at":
        if isinstance(value, datetime) and now is not None and value > now:
            return _problem("incident_at", MESSAGES["incident_future"])
        return None
    problem = check_text(name, value)
    if problem is not None:
        return problem
    if name == "address" and values.get("type") == "pakn" and _blank(value):
        return _problem("address", MESSAGES["address_required"], "required")
    if name == "organization_name" and values.get("sender_kind") == "organization" and _blank(value):
        return _problem("organization_name", MESSAGES["organization_required"], "required")
    if name == "sender_phone" and normalize_phone(_text(value)) is None:
        return _problem("sender_phone", MESSAGES["phone_invalid"], "phone_invalid")
    if name == "sender_email" and not _blank(value):
        try:
            validate_email(_text(value), check_deliverability=False)
        except EmailNotValidError:
            return _problem("sender_email", MESSAGES["email_invalid"], "email_invalid")
    return None


def validate(values: Mapping[str, Any], now: datetime | None = None,
             names: Iterable[str] = ORDER) -> list[Problem]:
    """Every problem of a send, at most one per field, in the form's order."""
    return [p for p in (check(name, values, now) for name in names) if p is not None]


def idempotency_key_problem(key: Any) -> Problem | None:
    """A caller's key against double sends: a string of at most IDEMPOTENCY_KEY_MAX plain characters."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or len(key) > IDEMPOTENCY_KEY_MAX:
        return _problem("idempotency_key", _("Idempotency-Key dài tối đa %(n)d ký tự.", n=IDEMPOTENCY_KEY_MAX))
    if _BAD_CHARS.search(key):
        return _problem("idempotency_key", _("%(label)s chứa ký tự không được phép (ký tự điều khiển).",
                                             label="Idempotency-Key"), "invalid_characters")
    return None


def verified_phone(user: User) -> str | None:
    """The phone the account verified by a one-time code (the only number a tracking code goes to)."""
    return user.phone if user.phone and user.phone_verified_at else None


def phone_not_verified() -> Problem:
    return Problem("sender_phone", str(MESSAGES["phone_not_verified"]), "phone_not_verified", 403)


def draft(values: Mapping[str, Any]) -> Draft:
    """The checked ``values`` as a Draft for ``services.create_report``."""
    def text(name: str) -> str:
        return _text(values.get(name))

    lat, lon = _number(values.get("lat")), _number(values.get("lon"))
    kind = values.get("sender_kind") or "individual"
    return Draft(type=values["type"], title=text("title"), content=values["content"], field_slug=text("field"),
                 ward_code=int(values["ward"]), address=text("address"), sender_kind=kind,
                 organization_name=text("organization_name") or None if kind == "organization" else None,
                 sender_name=text("sender_name"), sender_phone=normalize_phone(text("sender_phone")) or "",
                 sender_email=text("sender_email") or None, sender_address=text("sender_address") or None,
                 confidential=bool(parse_flag(values.get("confidential"))),
                 lat=lat if isinstance(lat, float) else None, lon=lon if isinstance(lon, float) else None,
                 incident_at=values.get("incident_at") if isinstance(values.get("incident_at"), datetime) else None)


# -- attachments --------------------------------------------------------------------------------------
def read_limit() -> int:
    """How many bytes to read of one file: one more than allowed, so that too large is seen."""
    return current_app.config["UPLOAD_MAX_MB"] * 1024 * 1024 + 1


def too_many_files(filename: str) -> Problem:
    limit = current_app.config["UPLOAD_MAX_FILES"]
    return _problem("files", _("Tối đa %(n)d tệp đính kèm; tệp “%(name)s” chưa được nhận.", n=limit, name=filename),
                    "too_many_files")


def check_file(filename: str, data: bytes) -> uploads.Checked | Problem:
    """One attachment by its content (``uploads.check``): the bytes to store, or why it is refused."""
    try:
        return uploads.check(data, filename)
    except uploads.UploadError as exc:
        code = "file_too_large" if exc.status == 413 else "file_refused"
        return Problem("files", exc.message, code, exc.status)


def check_files(already: int, files: Iterable[tuple[str, bytes]]) -> list[tuple[str, uploads.Checked | Problem]]:
    """Each new file (name, bytes) checked in turn, after ``already`` kept ones; past the limit of
    files per report a file is refused without being read further."""
    limit = current_app.config["UPLOAD_MAX_FILES"]
    out: list[tuple[str, uploads.Checked | Problem]] = []
    accepted = already
    for filename, data in files:
        if accepted >= limit:
            out.append((filename, too_many_files(filename)))
            continue
        result = check_file(filename, data)
        accepted += not isinstance(result, Problem)
        out.append((filename, result))
    return out


# -- the HTML form's validators, generated from the same rules ------------------------------------------
class Rule:
    """A WTForms validator that asks ``check`` about its field (the form passes its values and now)."""

    def __init__(self, name: str) -> None:
        self.name = name
        always = name in ("field", "ward") or bool(TEXT_RULES.get(name) and TEXT_RULES[name].required)
        self.field_flags = {"required": True} if always else {}

    def __call__(self, form: Any, field: Any) -> None:
        problem = check(self.name, form.send_values(), getattr(form, "_now", None))
        if problem is not None:
            raise StopValidation(problem.message)


def form_validators(name: str) -> list[Rule]:
    return [Rule(name)]
