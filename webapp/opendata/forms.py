"""Forms of saved searches."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from webapp.opendata.models import ALERT_FREQUENCY_LABELS, AlertFrequency


class SavedSearchForm(FlaskForm):
    name = StringField(_l("Tên tìm kiếm"), validators=[DataRequired(_l("Vui lòng đặt tên cho tìm kiếm.")),
                                                       Length(max=200, message=_l("Tên dài tối đa 200 ký tự."))])
    frequency = RadioField(_l("Nhận thư khi có phản ánh mới"), default=AlertFrequency.DAILY,
                           choices=[(k.value, v) for k, v in ALERT_FREQUENCY_LABELS.items()],
                           validators=[DataRequired(_l("Vui lòng chọn cách nhận thư."))])
    email = EmailField(_l("Địa chỉ e-mail nhận thư"),
                       validators=[Optional(), Length(max=254), Email(_l("Địa chỉ e-mail không hợp lệ."))])

    def validate(self, extra_validators=None) -> bool:  # noqa: ANN001 - WTForms' signature
        ok = super().validate(extra_validators)
        # Not an inline validator: Optional() ends the e-mail field's chain when it is empty.
        if self.frequency.data != AlertFrequency.NONE and not (self.email.data or "").strip():
            self.email.errors = [*self.email.errors, _l("Vui lòng nhập e-mail để nhận thư, hoặc chọn “Không gửi thư”.")]
            return False
        return ok
