"""Login and registration forms (Vietnamese messages; checks that need context get it passed in)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from indexer.text import normalize_phone


class PhoneForm(FlaskForm):
    phone = StringField(_l("Số điện thoại"), validators=[DataRequired(_l("Vui lòng nhập số điện thoại."))],
                        render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "0912 345 678"})

    def validate_phone(self, field: StringField) -> None:
        if normalize_phone(field.data) is None:
            raise ValidationError(_l("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."))


class CodeForm(FlaskForm):
    code = StringField(_l("Mã xác thực (6 chữ số)"),
                       validators=[DataRequired(_l("Vui lòng nhập mã xác thực.")),
                                   Length(min=6, max=12, message=_l("Mã xác thực gồm 6 chữ số."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 12})


class RegisterForm(FlaskForm):
    full_name = StringField(_l("Họ và tên"), validators=[DataRequired(_l("Vui lòng nhập họ và tên.")),
                                                         Length(max=200)],
                            render_kw={"autocomplete": "name"})
    phone = StringField(_l("Số điện thoại"), validators=[DataRequired(_l("Vui lòng nhập số điện thoại."))],
                        render_kw={"inputmode": "tel", "autocomplete": "tel"})
    email = EmailField(_l("Email"), validators=[Optional(), Email(_l("Địa chỉ email không hợp lệ.")),
                                                Length(max=254)], render_kw={"autocomplete": "email"})
    address = StringField(_l("Địa chỉ"), validators=[Optional(), Length(max=500)],
                          render_kw={"autocomplete": "street-address"})
    password = PasswordField(_l("Mật khẩu"), validators=[DataRequired(_l("Vui lòng nhập mật khẩu."))],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Nhập lại mật khẩu"),
                            validators=[DataRequired(_l("Vui lòng nhập lại mật khẩu.")),
                                        EqualTo("password", _l("Hai mật khẩu không khớp."))],
                            render_kw={"autocomplete": "new-password"})

    def __init__(self, *args, password_check=None, **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self._password_check = password_check

    def validate_phone(self, field: StringField) -> None:
        phone = normalize_phone(field.data)
        if phone is None:
            raise ValidationError(_l("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."))

    def validate_password(self, field: PasswordField) -> None:
        if self._password_check:
            problem = self._password_check(field.data, (self.phone.data or "", self.email.data or "",
                                                        *(self.full_name.data or "").split()))
            if problem:
                raise ValidationError(problem)


class PasswordLoginForm(FlaskForm):
    login = StringField(_l("Số điện thoại hoặc email"),
                        validators=[DataRequired(_l("Vui lòng nhập số điện thoại hoặc email."))],
                        render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Mật khẩu"), validators=[DataRequired(_l("Vui lòng nhập mật khẩu."))],
                             render_kw={"autocomplete": "current-password"})


class StaffLoginForm(FlaskForm):
    username = StringField(_l("Tên đăng nhập"), validators=[DataRequired(_l("Vui lòng nhập tên đăng nhập."))],
                           render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Mật khẩu"), validators=[DataRequired(_l("Vui lòng nhập mật khẩu."))],
                             render_kw={"autocomplete": "current-password"})


class TotpForm(FlaskForm):
    code = StringField(_l("Mã từ ứng dụng xác thực (6 chữ số)"),
                       validators=[DataRequired(_l("Vui lòng nhập mã."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 8})


class UnlockPhoneForm(FlaskForm):
    phone = StringField(_l("Số điện thoại cần mở khóa"), validators=[DataRequired(_l("Vui lòng nhập số."))])
