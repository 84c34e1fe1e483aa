"""The warning form (local times; the checks that need the database are in services)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, Length, Optional


class WarningForm(FlaskForm):
    unit = SelectField(_l("Đơn vị ban hành"), coerce=int, validators=[DataRequired(_l("Vui lòng chọn đơn vị."))])
    title = StringField(_l("Tiêu đề"), validators=[DataRequired(_l("Vui lòng nhập tiêu đề cảnh báo.")), Length(max=300)])
    content = TextAreaField(_l("Nội dung"), validators=[DataRequired(_l("Vui lòng nhập nội dung cảnh báo.")),
                                                        Length(max=5000)], render_kw={"rows": 5})
    level = SelectField(_l("Mức độ"), choices=[("info", _l("Thông tin")), ("warning", _l("Cảnh báo")),
                                                 ("danger", _l("Khẩn cấp"))], default="warning")
    whole_province = BooleanField(_l("Toàn tỉnh"))
    wards = SelectMultipleField(_l("Xã, phường áp dụng"), coerce=int, validators=[Optional()],
                                render_kw={"size": 8})
    starts_at = DateTimeLocalField(_l("Bắt đầu (giờ Việt Nam)"), format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired(_l("Vui lòng nhập thời điểm bắt đầu."))])
    ends_at = DateTimeLocalField(_l("Kết thúc (giờ Việt Nam)"), format="%Y-%m-%dT%H:%M",
                                 validators=[DataRequired(_l("Vui lòng nhập thời điểm kết thúc."))])


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Lý do từ chối"), validators=[DataRequired(_l("Vui lòng nêu lý do từ chối."))],
                           render_kw={"rows": 2})
