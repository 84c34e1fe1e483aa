"""SMS gateway: one interface, backends `console`, `file` and `http`, chosen by SMS_BACKEND.

Messages are sent by jobs (``webapp.jobs``), never inside a request. A failed send is recorded on
the OTP challenge so that the page can tell the user and offer to send again.
"""

from __future__ import annotations

import json
import logging

from flask import current_app

from webapp import clock
from webapp.auth.models import OtpChallenge
from webapp.devfiles import append_json_line
from webapp.extensions import db

log = logging.getLogger("webapp.sms")


class SmsError(RuntimeError):
    """The gateway did not accept the message."""


def send_sms(to: str, text: str) -> None:
    """Send one SMS with the configured backend; raises ``SmsError`` when it fails."""
    config = current_app.config
    backend = config["SMS_BACKEND"]
    if backend == "console":
        log.info("SMS to %s: %s", to, text)
    elif backend == "file":
        try:
            append_json_line(config["SMS_FILE_PATH"], {"to": to, "text": text,
                                                       "sent_at": clock.now().isoformat()})
        except OSError as exc:
            raise SmsError(f"cannot write {config['SMS_FILE_PATH']}: {exc}") from exc
    else:
        _send_http(to, text)


def _send_http(to: str, text: str) -> None:
    import requests  # heavy (~0.2 s) and needed only by the http backend

    config = current_app.config
    if not config["SMS_HTTP_URL"]:
        raise SmsError("SMS_HTTP_URL is not set")
    body = config["SMS_HTTP_BODY_TEMPLATE"].replace("{to}", json.dumps(to)[1:-1]).replace(
        "{text}", json.dumps(text, ensure_ascii=False)[1:-1])
    headers = {"Content-Type": "application/json"}
    if config["SMS_HTTP_AUTH_HEADER"]:
        headers["Authorization"] = config["SMS_HTTP_AUTH_HEADER"]
    try:
        response = requests.post(config["SMS_HTTP_URL"], data=body.encode("utf-8"), headers=headers,
                                 timeout=10)
    except requests.RequestException as exc:
        raise SmsError(f"gateway unreachable: {exc}") from exc
    if response.status_code >= 300:
        raise SmsError(f"gateway answered {response.status_code}")


def otp_text(code: str, purpose: str = "login") -> str:
    """The OTP message. Unaccented on purpose: GSM-7 keeps it to one 160-character SMS everywhere."""
    name = current_app.config["SMS_SENDER_NAME"]
    if purpose == "register_known":  # someone registered with a number that has an account
        return (f"{name}: So nay da co tai khoan. Neu ban vua dang ky, dung ma {code} de dang nhap "
                "(1 phut). Neu khong, hay bo qua tin nay.")
    return (f"{name}: Ma xac thuc cua ban la {code}. Ma co hieu luc trong 1 phut. "
            "Khong chia se ma nay cho bat ky ai.")


def deliver_otp(challenge_id: str, code: str) -> None:
    """Job: send the code of an OTP challenge and record whether the gateway took it.

    Read, end the transaction, call the gateway, record the result in a short transaction: a slow
    gateway must not hold the database (on SQLite, the one write lock every send needs)."""
    challenge = db.session.get(OtpChallenge, challenge_id)
    if challenge is None:
        return
    phone, purpose = challenge.phone, challenge.purpose
    db.session.commit()
    status, error = "sent", None
    try:
        send_sms(phone, otp_text(code, purpose))
    except SmsError as exc:
        log.warning("SMS to %s failed: %s", phone[:3] + "****", exc)
        status, error = "failed", str(exc)[:300]
    challenge = db.session.get(OtpChallenge, challenge_id)
    if challenge is not None:
        challenge.sms_status, challenge.sms_error = status, error
    db.session.commit()
