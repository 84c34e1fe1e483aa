"""The report/idea form family (Vietnamese messages; choices come from the deployment)."""

from __future__ import annotations

from datetime import datetime

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
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from indexer.text import normalize_phone


class ReportForm(FlaskForm):
    title = StringField(_l("Tiêu đề"), validators=[DataRequired(_l("Vui lòng nhập tiêu đề.")),
                                                   Length(min=5, max=300, message=_l("Tiêu đề dài 5–300 ký tự."))])
    content = TextAreaField(_l("Nội dung"), validators=[DataRequired(_l("Vui lòng nhập nội dung.")),
                                                        Length(min=10, max=10000, message=_l("Nội dung dài 10–10.000 ký tự."))],
                            render_kw={"rows": 7})
    field = SelectField(_l("Lĩnh vực"), validators=[DataRequired(_l("Vui lòng chọn lĩnh vực."))])
    ward = SelectField(_l("Xã, phường"), validators=[DataRequired(_l("Vui lòng chọn xã, phường."))], coerce=str)
    address = StringField(_l("Địa chỉ cụ thể"), validators=[Length(max=500)])
    lat = DecimalField(_l("Vĩ độ"), places=6, validators=[Optional(), NumberRange(8.0, 24.0, _l("Vĩ độ không nằm trong Việt Nam."))])
    lon = DecimalField(_l("Kinh độ"), places=6, validators=[Optional(), NumberRange(102.0, 110.5, _l("Kinh độ không nằm trong Việt Nam."))])
    incident_at = DateTimeLocalField(_l("Thời điểm xảy ra"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    files = MultipleFileField(_l("Tệp đính kèm (ảnh, PDF, Word, Excel)"))
    sender_kind = RadioField(_l("Gửi với tư cách"), choices=[("individual", _l("Cá nhân")), ("organization", _l("Tổ chức"))],
                             default="individual")
    organization_name = StringField(_l("Tên tổ chức"), validators=[Length(max=300)])
    sender_name = StringField(_l("Họ và tên người gửi"), validators=[DataRequired(_l("Vui lòng nhập họ và tên.")), Length(max=200)])
    sender_phone = StringField(_l("Số điện thoại"), validators=[DataRequired(_l("Vui lòng nhập số điện thoại."))])
    sender_email = EmailField(_l("Email"), validators=[Optional(), Email(_l("Địa chỉ email không hợp lệ.")), Length(max=254)])
    sender_address = StringField(_l("Địa chỉ người gửi"), validators=[Length(max=500)])
    confidential = BooleanField(_l("Đề nghị bảo mật thông tin người gửi"))
    idempotency_key = HiddenField()

    def __init__(self, *args, report_type: str = "pakn", now: datetime | None = None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.report_type = report_type
        self._now = now

    def validate_address(self, field: StringField) -> None:
        if self.report_type == "pakn" and not (field.data or "").strip():
            raise ValidationError(_l("Vui lòng nhập địa chỉ nơi xảy ra sự việc."))

    def validate_organization_name(self, field: StringField) -> None:
        if self.sender_kind.data == "organization" and not (field.data or "").strip():
            raise ValidationError(_l("Vui lòng nhập tên tổ chức."))

    def validate_sender_phone(self, field: StringField) -> None:
        if normalize_phone(field.data) is None:
            raise ValidationError(_l("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."))

    def validate_incident_at(self, field: DateTimeLocalField) -> None:
        if field.data and self._now and field.data > self._now:
            raise ValidationError(_l("Thời điểm xảy ra không thể ở tương lai."))

    def _both_or_neither(self) -> None:
        # Runs from whichever of the two was filled in (an empty optional field stops its own checks).
        if (self.lat.data is None) != (self.lon.data is None):
            raise ValidationError(_l("Cần cả vĩ độ và kinh độ, hoặc bỏ trống cả hai."))

    def validate_lat(self, field: DecimalField) -> None:
        self._both_or_neither()

    def validate_lon(self, field: DecimalField) -> None:
        self._both_or_neither()


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
