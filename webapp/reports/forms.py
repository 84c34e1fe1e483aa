"""The report/idea form family (Vietnamese messages; choices come from the deployment)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, Length, Optional

from webapp.reports import validation

rule = validation.form_validators


class CoordinateField(DecimalField):
    """A decimal coordinate whose unreadable text is left to the send rules (one message, in Vietnamese)."""

    def process_formdata(self, valuelist: list) -> None:  # noqa: D102
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None


class ReportForm(FlaskForm):
    """The send form: its checks are generated from ``webapp.reports.validation`` (one rule table for
    form, API and Open311); WTForms only renders, parses and carries the CSRF token."""

    title = StringField(_l("Tiêu đề"), validators=rule("title"))
    content = TextAreaField(_l("Nội dung"), validators=rule("content"), render_kw={"rows": 7})
    field = SelectField(_l("Lĩnh vực"), validators=rule("field"), validate_choice=False)
    ward = SelectField(_l("Xã, phường"), validators=rule("ward"), coerce=str, validate_choice=False)
    address = StringField(_l("Địa chỉ cụ thể"), validators=rule("address"))
    lat = CoordinateField(_l("Vĩ độ"), places=6, validators=rule("lat"))
    lon = CoordinateField(_l("Kinh độ"), places=6, validators=rule("lon"))
    incident_at = DateTimeLocalField(_l("Thời điểm xảy ra"), format="%Y-%m-%dT%H:%M",
                                     validators=[Optional(), *rule("incident_at")])
    files = MultipleFileField(_l("Tệp đính kèm (ảnh, PDF, Word, Excel)"))
    sender_kind = RadioField(_l("Gửi với tư cách"), choices=[("individual", _l("Cá nhân")), ("organization", _l("Tổ chức"))],
                             default="individual", validators=rule("sender_kind"), validate_choice=False)
    organization_name = StringField(_l("Tên tổ chức"), validators=rule("organization_name"))
    sender_name = StringField(_l("Họ và tên người gửi"), validators=rule("sender_name"))
    sender_phone = StringField(_l("Số điện thoại"), validators=rule("sender_phone"),
                               render_kw={"inputmode": "tel", "autocomplete": "tel"})
    sender_email = EmailField(_l("Email"), validators=rule("sender_email"))
    sender_address = StringField(_l("Địa chỉ người gửi"), validators=rule("sender_address"))
    confidential = BooleanField(_l("Đề nghị bảo mật thông tin người gửi"))
    idempotency_key = HiddenField()

    def __init__(self, *args, report_type: str = "pakn", now: datetime | None = None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.report_type = report_type
        self._now = now

    def send_values(self) -> dict[str, Any]:
        """What was typed, under the form's field names, as the send rules read it."""
        values: dict[str, Any] = {name: self[name].data for name in validation.ORDER if name in self._fields}
        for name in ("lat", "lon"):  # unreadable text is reported by the rules, not dropped
            raw = self[name].raw_data
            if values[name] is None and raw and str(raw[0]).strip():
                values[name] = raw[0]
        values["type"] = self.report_type
        return values


class RatingForm(FlaskForm):
    rating = RadioField(_l("Mức độ hài lòng"), choices=[(str(i), str(i)) for i in range(1, 6)],
                        validators=[DataRequired(_l("Vui lòng chọn mức độ hài lòng."))])
    comment = TextAreaField(_l("Nhận xét (không bắt buộc)"), validators=[Length(max=2000)], render_kw={"rows": 3})


class ReopenForm(FlaskForm):
    reason = TextAreaField(_l("Lý do đề nghị xử lý lại"), validators=[
        DataRequired(_l("Vui lòng nêu lý do.")), Length(min=10, max=2000, message=_l("Lý do dài 10–2.000 ký tự."))],
        render_kw={"rows": 3})


class LookupForm(FlaskForm):
    code = StringField(_l("Mã phản ánh"), validators=[DataRequired(_l("Vui lòng nhập mã phản ánh."))],
                       render_kw={"placeholder": "PA-XXXX-XXXX", "autocapitalize": "characters"})
    phone = StringField(_l("Số điện thoại người gửi"), validators=[DataRequired(_l("Vui lòng nhập số điện thoại."))],
                        render_kw={"inputmode": "tel"})
