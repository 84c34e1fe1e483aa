"""Open311 GeoReport v2 at /open311/v2: every resource as .json or .xml; errors in the spec's format."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask.blueprints import BlueprintSetupState

from webapp import access
from webapp.errors import register_renderer
from webapp.extensions import csrf, db
from webapp.feeds import xml_text
from webapp.open311 import services
from webapp.open311.services import Open311Error
from webapp.opendata import apikeys
from webapp.search.services import EngineUnavailable, unavailable_message

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)  # a machine API: POST is authorised by an API key, not a session cookie

FMT = "<any(json, xml):fmt>"  # any other extension matches no route: 404
XML_TYPE = "text/xml; charset=utf-8"
# Names of the elements of a list, by the name of the list (the spec's XML).
_ITEM_TAGS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for tag, item in value.items():
            child = ET.SubElement(element, tag)
            if isinstance(item, list):
                for entry in item:
                    _fill(ET.SubElement(child, _ITEM_TAGS[tag]), entry)
            else:
                _fill(child, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = xml_text(value)  # ElementTree escapes; XML 1.0's missing characters dropped


def xml_bytes(root: str, value: Any, item: str | None = None) -> bytes:
    """``value`` as the spec's XML: a dict as child elements, a list as ``item`` elements of ``root``."""
    element = ET.Element(root)
    if item is not None:
        for entry in value:
            _fill(ET.SubElement(element, item), entry)
    else:
        _fill(element, value)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def respond(fmt: str, value: Any, root: str, item: str | None = None, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(xml_bytes(root, value, item), status=status, content_type=XML_TYPE)
    response = jsonify(value)
    response.status_code = status
    return response


def error_response(status: int, description: str) -> Response:
    """``[{"code": 400, "description": "…"}]`` (XML: ``<errors><error>…``), in the format the path asks for."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return respond(fmt, [{"code": status, "description": description}], "errors", "error", status)


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    db.session.rollback()
    return error_response(exc.status, exc.description)


@bp.errorhandler(EngineUnavailable)
def _engine_down(exc: EngineUnavailable):
    return error_response(503, unavailable_message())


@bp.errorhandler(access.ApiKeyRefused)
def _key_refused(exc: access.ApiKeyRefused):
    return error_response(403, "api_key: " + str(exc.description))


@bp.before_request
def _refuse_bad_key():
    check = apikeys.current()
    if check.raw and check.key is None:
        return error_response(403, "api_key: " + apikeys.invalid_key_message())
    return None


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    base = url_for("open311.discovery", fmt="json", _external=True).rsplit("/", 1)[0]
    return respond(fmt, services.discovery(base), "discovery")


@bp.get(f"/services.{FMT}")
def service_list(fmt: str):
    return respond(fmt, services.service_list(), "services", "service")


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code: str, fmt: str):
    return respond(fmt, services.service_definition(code), "service_definition")


@bp.get(f"/requests.{FMT}")
def request_list(fmt: str):
    items, total = services.list_requests(request.args)
    response = respond(fmt, items, "service_requests", "request")
    response.headers["X-Total-Count"] = str(total)  # all matches, for paging with page/page_size
    return response


@bp.get(f"/requests/<request_id>.{FMT}")
def request_detail(request_id: str, fmt: str):
    return respond(fmt, [services.get_request(request_id)], "service_requests", "request")


@bp.post(f"/requests.{FMT}")
def create_request(fmt: str):
    """A partner sends a report: form-encoded per the spec, with a key that may write (else 403)."""
    key = access.sending_api_key()
    idempotency_key = (request.headers.get("Idempotency-Key") or request.form.get("idempotency_key") or "").strip()
    report, created = services.create_request(request.form, key, idempotency_key or None)
    db.session.commit()
    answer = [{"service_request_id": report.code, "service_notice": services.service_notice(report),
               "account_id": None}]
    return respond(fmt, answer, "service_requests", "request", 201 if created else 200)


@bp.record_once
def _render_http_errors(state: BlueprintSetupState) -> None:
    """The app's HTTP errors (404, 405, 429, 500…) under /open311/ answer in the spec's format."""
    register_renderer(state.app, "/open311/", error_response)
