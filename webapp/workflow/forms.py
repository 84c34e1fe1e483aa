"""Forms of the staff report page (the checks that need the database are in services)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateField
from wtforms.validators import DataRequired, Length, Optional


class AcceptForm(FlaskForm):
    publish = BooleanField(_l("Công khai phản ánh trên cổng Tra cứu"), default=True)
    note = TextAreaField(_l("Ghi chú (không bắt buộc)"), validators=[Length(max=2000)], render_kw={"rows": 2})


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Lý do không tiếp nhận (người gửi sẽ thấy)"),
                           validators=[DataRequired(_l("Vui lòng nêu lý do không tiếp nhận; người gửi sẽ thấy lý do này.")),
                                       Length(max=2000)], render_kw={"rows": 2})


class DuplicateForm(FlaskForm):
    original = StringField(_l("Mã phản ánh gốc"), validators=[DataRequired(_l("Vui lòng nhập mã phản ánh gốc.")),
                                                              Length(max=20)],
                           render_kw={"placeholder": "PA-XXXX-XXXX", "autocomplete": "off"})
    note = TextAreaField(_l("Ghi chú (không bắt buộc)"), validators=[Length(max=2000)], render_kw={"rows": 2})


class AssignForm(FlaskForm):
    units = SelectMultipleField(_l("Đơn vị xử lý"), coerce=int,
                                validators=[DataRequired(_l("Chọn ít nhất một đơn vị xử lý."))], render_kw={"size": 5})
    deadline = DateField(_l("Hạn xử lý (để trống = theo số ngày làm việc của lĩnh vực)"), validators=[Optional()])
    note = TextAreaField(_l("Ghi chú (không bắt buộc)"), validators=[Length(max=2000)], render_kw={"rows": 2})


class CorrectForm(FlaskForm):
    field = SelectField(_l("Lĩnh vực"))
    ward = SelectField(_l("Xã, phường"), coerce=int)


class AnswerForm(FlaskForm):
    unit = SelectField(_l("Đơn vị trả lời"), coerce=int)
    text = TextAreaField(_l("Nội dung trả lời"), validators=[DataRequired(_l("Vui lòng nhập nội dung trả lời.")),
                                                             Length(max=20000)], render_kw={"rows": 8})
    files = MultipleFileField(_l("Tệp đính kèm (ảnh, PDF, Word, Excel)"))


class ReturnForm(FlaskForm):
    note = TextAreaField(_l("Cần sửa gì"), validators=[DataRequired(_l("Vui lòng ghi rõ cần sửa gì.")),
                                                       Length(max=2000)], render_kw={"rows": 2})


class CloseForm(FlaskForm):
    note = TextAreaField(_l("Ghi chú (không bắt buộc)"), validators=[Length(max=2000)], render_kw={"rows": 2})


class TemplateForm(FlaskForm):
    field = SelectField(_l("Lĩnh vực"))
    title = StringField(_l("Tên mẫu"), validators=[DataRequired(_l("Vui lòng nhập tên mẫu.")), Length(max=200)])
    text = TextAreaField(_l("Nội dung mẫu"), validators=[DataRequired(_l("Vui lòng nhập nội dung mẫu.")),
                                                         Length(max=20000)], render_kw={"rows": 6})
