"""The one shape of a JSON error: ``{"error": {"code", "message", "field"}}`` with a status.

Every JSON endpoint (``/api/v1``, the auth API, exports, Thống kê) answers errors through
``json_error``; Open311 keeps its own list shape (GeoReport v2) but builds it from the same parts.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, jsonify
from flask.typing import ResponseReturnValue

# Path prefix -> render(status, message) for a feature whose HTTP errors have their own format
# (Open311's list of errors): the app's error handlers ask here, so they import no feature.
_RENDERERS_KEY = "pakn_error_renderers"


def json_error(code: str, message: str, status: int, field: str | None = None,
               retry_after: int | None = None) -> tuple[Response, int]:
    """A JSON error response: a stable ``code``, a Vietnamese ``message``, the ``field`` at fault."""
    response = jsonify(error={"code": code, "message": message, "field": field})
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response, status


def register_renderer(app: Flask, prefix: str, render: Callable[[int, str], ResponseReturnValue]) -> None:
    """Answer the HTTP errors of paths under ``prefix`` with ``render(status, message)``."""
    app.extensions.setdefault(_RENDERERS_KEY, {})[prefix] = render


def renderer_for(path: str) -> Callable[[int, str], ResponseReturnValue] | None:
    """The renderer a feature registered for ``path``, if any."""
    for prefix, render in current_app.extensions.get(_RENDERERS_KEY, {}).items():
        if path.startswith(prefix):
            return render
    return None
