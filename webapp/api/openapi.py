"""The OpenAPI 3 description of /api/v1, served at /api/openapi.json."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_doc", __name__)
