"""Hostile input at the edge of every request, in one place: JSON bodies (nesting, non-finite
numbers, lone surrogates), integer ids in URLs, the real client address behind
trusted proxies, and what responses say about caching and the server.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, ValidationError
from werkzeug.serving import WSGIRequestHandler

from webapp.errors import json_error

MAX_JSON_DEPTH = 32          # our payloads nest 3 levels; 32 leaves room and stops RecursionError
MAX_URL_ID = 2**63 - 1


class HostileJSONError(ValueError):
    """A JSON body we refuse; the message says why (in Vietnamese)."""


def _reject_constant(name: str) -> Any:
    raise HostileJSONError(_("Số không hữu hạn (%(name)s) không được nhận.", name=name))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HostileJSONError(_("Số %(text)s quá lớn.", text=text[:20]))
    return value


def _check(value: Any) -> None:
    """Depth and text checks over the parsed value, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise HostileJSONError(_("Dữ liệu lồng nhau quá sâu (tối đa %(n)d cấp).", n=MAX_JSON_DEPTH))
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None:
                    _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise HostileJSONError(_("Chuỗi chứa ký tự Unicode không hợp lệ (nửa cặp surrogate).")) from None


def strict_loads(data: str | bytes) -> Any:
    """``json.loads`` that refuses what no client of ours sends and what would crash later."""
    try:
        value = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise HostileJSONError(_("Dữ liệu lồng nhau quá sâu (tối đa %(n)d cấp).", n=MAX_JSON_DEPTH)) from None
    _check(value)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    ensure_ascii = False  # Vietnamese JSON stays readable

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return strict_loads(s)


class BoundedIntegerConverter(IntegerConverter):
    """``<int:id>`` that answers 404 beyond what a database id can be (instead of an overflow)."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:  # noqa: ANN001 - Werkzeug's Map
        kwargs.setdefault("max", MAX_URL_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        if len(value) > 19:  # longer than any 64-bit value: no int() of a huge string
            raise ValidationError()
        return super().to_python(value)


class QuietRequestHandler(WSGIRequestHandler):
    """The built-in server (`flask serve`, `make run`) without "Server: Werkzeug/x.y Python/x.y":
    a version tells an attacker which advisories to try. (gunicorn sends "gunicorn", no version.)"""

    def version_string(self) -> str:
        return "PAKN"


def register(app: Flask) -> None:
    """Install the JSON provider, the id converter, the proxy fix and the response headers."""
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntegerConverter
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,  # type: ignore[method-assign]
                                x_host=proxies, x_port=proxies)

    @app.before_request
    def refuse_hostile_json() -> Any:
        # Every JSON endpoint gets the same refusal before its view runs (the view parses the
        # body again through the same strict provider; JSON bodies here are small).
        if not request.is_json:
            return None
        body = request.get_data(cache=True)
        if not body.strip():
            return None
        try:
            strict_loads(body)
        except HostileJSONError as exc:
            return json_error("invalid_json", _("Thân yêu cầu bị từ chối: %(why)s", why=str(exc)), 400)
        except ValueError:
            return json_error("invalid_json", _("Thân yêu cầu không phải JSON hợp lệ."), 400)
        return None

    @app.after_request
    def cache_and_server_headers(response: Response) -> Response:
        # Pages and answers for a logged-in user, and every answer to a POST (a Tra cứu mã result,
        # a sent report), may carry personal data: no cache, shared or private, may keep them.
        if ("Cache-Control" not in response.headers and request.endpoint != "static"
                and (request.method not in ("GET", "HEAD") or current_user.is_authenticated)):
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response
