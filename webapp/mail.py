"""E-mail: one interface, backends `console`, `file` and `smtp`, chosen by MAIL_BACKEND.

Mail is sent by jobs (the alert sweep), never inside a request. ``MailError`` tells the caller the
message did not go, so that it can keep what it meant to send for the next run.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app

from webapp import clock
from webapp.devfiles import append_json_line

log = logging.getLogger("webapp.mail")


class MailError(RuntimeError):
    """The mail could not be handed to the backend."""


def send_mail(to: str, subject: str, text: str, headers: dict[str, str] | None = None) -> None:
    """Send one plain-text UTF-8 message; raises ``MailError`` when it fails."""
    config = current_app.config
    backend = config["MAIL_BACKEND"]
    if backend == "console":
        log.info("Mail to %s: %s\n%s", to, subject, text)
    elif backend == "file":
        try:
            append_json_line(config["MAIL_FILE_PATH"], {"to": to, "subject": subject, "text": text,
                                                        "headers": headers or {},
                                                        "sent_at": clock.now().isoformat()})
        except OSError as exc:
            raise MailError(f"cannot write {config['MAIL_FILE_PATH']}: {exc}") from exc
    else:
        _send_smtp(to, subject, text, headers or {})


def _send_smtp(to: str, subject: str, text: str, headers: dict[str, str]) -> None:
    config = current_app.config
    if not config["MAIL_SMTP_HOST"]:
        raise MailError("MAIL_SMTP_HOST is not set")
    message = EmailMessage()
    message["From"] = formataddr((config["MAIL_FROM_NAME"], config["MAIL_FROM"]))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2] or None)
    for key, value in headers.items():
        message[key] = value
    message.set_content(text)  # UTF-8, quoted-printable or base64 as needed
    try:
        if config["MAIL_SMTP_SECURITY"] == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], timeout=15,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], timeout=15)
        with smtp:
            if config["MAIL_SMTP_SECURITY"] == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_SMTP_USERNAME"]:
                smtp.login(config["MAIL_SMTP_USERNAME"], config["MAIL_SMTP_PASSWORD"])
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {config['MAIL_SMTP_HOST']}:{config['MAIL_SMTP_PORT']}: {exc}") from exc
