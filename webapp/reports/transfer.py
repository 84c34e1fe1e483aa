"""Legacy import and export of reports (JSON Lines or CSV, format in schemas/import/).

Import is idempotent on ``external_id``: an unchanged line changes nothing, a changed line
updates the report (its revision goes up through the outbox hook). A bad line is reported with
its number and reason and skipped; every good line is still imported.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from config import PROJECT_ROOT
from indexer.text import fold, nfc, nfc_multiline, normalize_phone
from webapp.auth.models import Unit
from webapp.extensions import db
from webapp.reference.services import PlaceError, ReferenceIndex
from webapp.reports.codes import new_code, normalize_code
from webapp.reports.models import (
    STATUS_NAMES_VI,
    Answer,
    AnswerState,
    Report,
    SenderKind,
    Status,
    StatusEvent,
)

SCHEMA_PATH = PROJECT_ROOT / "schemas" / "import" / "report.schema.json"
CSV_COLUMNS = [
    "external_id", "code", "type", "title", "content", "field", "province", "ward", "address",
    "submitted_at", "sender.kind", "sender.name", "sender.organization", "sender.phone",
    "sender.email", "sender.address", "confidential", "status", "published", "answer.unit",
    "answer.text", "answer.answered_at",
]
IMPORT_NOTE = "Nhập từ hệ thống cũ"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class LineError(ValueError):
    """Why one input line cannot be imported (Vietnamese, names the field)."""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.errors)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _schema_message(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    where = f"'{path}'" if path else "dòng"
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        name = f"{path + '.' if path else ''}{missing.group(1) if missing else '?'}"
        return f"thiếu trường bắt buộc '{name}'"
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message)
        return f"trường không được khai báo: {', '.join(extra)}"
    if error.validator in ("minLength", "pattern"):
        return f"trường {where} không được để trống"
    if error.validator == "maxLength":
        return f"trường {where} dài quá {error.validator_value} ký tự"
    if error.validator == "enum":
        return f"trường {where} phải là một trong: {', '.join(map(str, error.validator_value))}"
    if error.validator in ("type", "oneOf"):
        return f"trường {where} sai kiểu dữ liệu"
    return f"trường {where}: {error.message}"


def parse_datetime(value: str, name: str) -> datetime:
    """An ISO 8601 timestamp that carries its offset, as aware UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise LineError(f"'{name}' không phải ngày giờ ISO 8601: '{value}'") from None
    if parsed.tzinfo is None:
        raise LineError(f"'{name}' thiếu múi giờ (ví dụ +07:00): '{value}'")
    return parsed.astimezone(UTC)


def parse_status(value: str | None) -> Status:
    if not value:
        return Status.PENDING
    text = nfc(value)
    for status in Status:
        if text == status.value or fold(text) == fold(STATUS_NAMES_VI[status]):
            return status
    raise LineError(f"trạng thái không hợp lệ: '{value}'")


@dataclass
class Parsed:
    """A validated line, with every reference resolved, ready to compare and write."""

    external_id: str
    values: dict[str, Any]
    answer: dict[str, Any] | None
    code: str | None


class Importer:
    """Validates and writes import lines against one database session."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.ref = ReferenceIndex()
        self.default_provinces = [int(c) for c in current_app.config["PROVINCES"]]
        self.units = {fold(u.name): u for u in db.session.scalars(select(Unit))}
        self.rng = rng
        self.seen_ids: dict[str, int] = {}
        self.seen_codes: dict[str, int] = {}
        self.existing: dict[str, Report] = {}

    # -- validation -------------------------------------------------------------------------
    def parse(self, record: Any, line_no: int) -> Parsed:
        if not isinstance(record, dict):
            raise LineError("mỗi dòng phải là một đối tượng JSON")
        errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
        if errors:
            raise LineError(_schema_message(errors[0]))
        external_id = nfc(record["external_id"])
        if external_id in self.seen_ids:
            raise LineError(f"external_id '{external_id}' trùng với dòng {self.seen_ids[external_id]}")

        fld = self.ref.field(record["field"])
        if fld is None:
            raise LineError(f"lĩnh vực không tồn tại: '{record['field']}'")
        try:
            place = self.ref.place(record.get("ward"), record.get("province"), self.default_provinces)
        except PlaceError as exc:
            raise LineError(str(exc)) from None

        sender = record["sender"]
        kind = SenderKind(sender["kind"])
        organization = nfc(sender.get("organization")) or None
        if kind == SenderKind.ORGANIZATION and not organization:
            raise LineError("người gửi là tổ chức nhưng thiếu 'sender.organization'")
        phone = None
        if sender.get("phone"):
            phone = normalize_phone(sender["phone"])
            if phone is None:
                raise LineError(f"'sender.phone' không phải số điện thoại Việt Nam: '{sender['phone']}'")
        email = nfc(sender.get("email")) or None
        if email and not _EMAIL.match(email):
            raise LineError(f"'sender.email' không phải địa chỉ email: '{email}'")

        submitted_at = parse_datetime(record["submitted_at"], "submitted_at")
        status = parse_status(record.get("status"))
        published = bool(record.get("published", False))

        answer = None
        if record.get("answer"):
            a = record["answer"]
            answer = {"unit": nfc(a["unit"]), "text": nfc_multiline(a["text"]),
                      "answered_at": parse_datetime(a["answered_at"], "answer.answered_at")}
            if answer["answered_at"] < submitted_at:
                raise LineError("'answer.answered_at' sớm hơn ngày gửi 'submitted_at'")

        code = None
        if record.get("code"):
            code = normalize_code(record["code"])
            if not code or code[:2] != ("PA" if record["type"] == "pakn" else "HK"):
                raise LineError(f"mã theo dõi không hợp lệ: '{record['code']}'")
            if code in self.seen_codes:
                raise LineError(f"mã theo dõi '{code}' trùng với dòng {self.seen_codes[code]}")

        values = {
            "type": record["type"],
            "title": nfc(record["title"]),
            "content": nfc_multiline(record["content"]),
            "field_id": fld.id,
            "province_code": place.province_code,
            "ward_code": place.ward_code,
            "legacy_place": place.legacy_place,
            "address": nfc(record.get("address")),
            "submitted_at": submitted_at,
            "sender_kind": kind.value,
            "organization_name": organization,
            "sender_name": nfc(sender.get("name")),
            "sender_phone": phone,
            "sender_email": email,
            "sender_address": nfc(sender.get("address")) or None,
            "confidential": bool(record.get("confidential", False)),
            "status": status.value,
            "published": published,
            "published_at": (answer["answered_at"] if answer else submitted_at) if published else None,
        }
        self.seen_ids[external_id] = line_no
        if code:
            self.seen_codes[code] = line_no
        return Parsed(external_id, values, answer, code)

    # -- writing ----------------------------------------------------------------------------
    def _unit(self, name: str) -> Unit:
        key = fold(name)
        unit = self.units.get(key)
        if unit is None:
            slug = re.sub(r"[^a-z0-9]+", "-", key).strip("-")[:90] or "don-vi"
            base, n = slug, 2
            while db.session.scalar(select(Unit.id).where(Unit.slug == slug)) is not None:
                slug, n = f"{base}-{n}", n + 1
            unit = Unit(name=name, slug=slug)
            db.session.add(unit)
            self.units[key] = unit
        return unit

    def prefetch(self, batch: list[tuple[int, Parsed]]) -> list[tuple[int, str]]:
        """Load the batch's existing reports in one query; return lines whose code is taken."""
        ids = [p.external_id for _, p in batch]
        self.existing = {r.external_id: r for r in db.session.scalars(
            select(Report).where(Report.external_id.in_(ids))
            .options(selectinload(Report.answers).selectinload(Answer.unit)))}
        wanted = [p.code for _, p in batch if p.code]
        owners = dict(db.session.execute(
            select(Report.code, Report.external_id).where(Report.code.in_(wanted))).all()) if wanted else {}
        return [(n, f"mã theo dõi '{p.code}' đã thuộc phản ánh khác")
                for n, p in batch if p.code and owners.get(p.code, p.external_id) != p.external_id]

    def _fresh_codes(self, batch: list[tuple[int, Parsed]]) -> None:
        """Draw codes for the batch's new reports, avoiding every code already used."""
        new = [p for _, p in batch if p.code is None and p.external_id not in self.existing]
        while new:
            drawn = {new_code(p.values["type"], self.rng): p for p in new}
            taken = set(db.session.scalars(select(Report.code).where(Report.code.in_(list(drawn)))))
            for code, p in drawn.items():
                if code not in taken and code not in self.seen_codes:
                    p.code = code
            new = [p for p in new if p.code is None]

    def write(self, parsed: Parsed, line_no: int) -> str:
        """Create or update one report; returns 'created', 'updated' or 'unchanged'."""
        report = self.existing.get(parsed.external_id)
        if report is None:
            code = parsed.code
            if code is None:
                raise RuntimeError("codes are drawn by _fresh_codes before writing")
            self.seen_codes[code] = line_no
            report = Report(external_id=parsed.external_id, code=code, **parsed.values)
            report.created_at = parsed.values["submitted_at"]
            db.session.add(report)
            report.events.append(StatusEvent(from_status=None, to_status=report.status,
                                             note=IMPORT_NOTE, created_at=parsed.values["submitted_at"]))
            if parsed.answer:
                self._set_answer(report, parsed.answer)
            return "created"

        changed = False
        for key, value in parsed.values.items():
            if getattr(report, key) != value:
                if key == "status":
                    report.events.append(StatusEvent(from_status=report.status, to_status=value,
                                                     note=IMPORT_NOTE))
                setattr(report, key, value)
                changed = True
        if parsed.code and report.code != parsed.code:
            report.code = parsed.code
            changed = True
        current = report.published_answer
        if parsed.answer is None:
            if current is not None:
                current.published_at = None
                changed = True
        elif current is None or (current.unit.name, current.text, current.answered_at) != (
                parsed.answer["unit"], parsed.answer["text"], parsed.answer["answered_at"]):
            self._set_answer(report, parsed.answer, current)
            changed = True
        return "updated" if changed else "unchanged"

    def _set_answer(self, report: Report, data: dict[str, Any], answer: Answer | None = None) -> None:
        unit = self._unit(data["unit"])  # before the answer exists, so no half-built row flushes
        if answer is None:
            answer = Answer(state=AnswerState.APPROVED, unit=unit)
            report.answers.append(answer)
        answer.unit = unit
        answer.text = data["text"]
        answer.answered_at = data["answered_at"]
        answer.published_at = data["answered_at"]
        answer.created_at = data["answered_at"]


def read_records(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, record or LineError) from a JSON Lines or CSV file."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, _unflatten(row)
        return
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, LineError(f"JSON không hợp lệ (cột {exc.colno}): {exc.msg}")


def _unflatten(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row (flattened columns, text cells) as the JSON record it stands for."""
    record: dict[str, Any] = {}
    sender: dict[str, Any] = {}
    answer: dict[str, Any] = {}
    for key, raw in row.items():
        if key is None:
            return {"__csv_error__": "dòng có nhiều cột hơn tiêu đề"}
        value = raw if raw not in (None, "") else None
        if key.startswith("sender."):
            sender[key[7:]] = value
        elif key.startswith("answer."):
            if value is not None:
                answer[key[7:]] = value
        elif key in ("confidential", "published"):
            if value is not None:
                record[key] = value.strip().lower() in ("1", "true", "yes", "có", "x")
        elif value is not None:
            record[key] = int(value) if key in ("province", "ward") and value.isdigit() else value
    if any(v is not None for v in sender.values()):
        record["sender"] = {k: v for k, v in sender.items() if v is not None}
    record["answer"] = answer or None
    return record


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        total = sum(1 for _ in fh)
    return max(total - 1, 0) if path.suffix.lower() == ".csv" else total


def import_file(path: Path, *, batch_size: int = 500, rng: random.Random | None = None,
                progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import every good line of ``path``; commits in batches; bad lines are listed, not fatal."""
    importer = Importer(rng=rng)
    result = ImportResult()
    batch: list[tuple[int, Parsed]] = []

    def write_all(lines: list[tuple[int, Parsed]]) -> tuple[list[str], list[tuple[int, str]]]:
        taken = importer.prefetch(lines)
        bad = {n for n, _ in taken}
        lines = [(n, p) for n, p in lines if n not in bad]
        importer._fresh_codes(lines)
        with db.session.no_autoflush:  # one flush per batch, at commit
            return [importer.write(parsed, n) for n, parsed in lines], taken

    def flush_batch() -> None:
        if not batch:
            return
        try:
            outcomes, taken = write_all(batch)
            db.session.commit()
            result.errors.extend(taken)
        except IntegrityError:
            # A conflict the checks did not foresee: redo the batch line by line so that
            # only the offending line is lost.
            db.session.rollback()
            importer.units = {fold(u.name): u for u in db.session.scalars(select(Unit))}
            outcomes = []
            for n, parsed in batch:
                try:
                    done, taken = write_all([(n, parsed)])
                    db.session.commit()
                    outcomes.extend(done)
                    result.errors.extend(taken)
                except IntegrityError as exc:
                    db.session.rollback()
                    importer.units = {fold(u.name): u for u in db.session.scalars(select(Unit))}
                    result.errors.append((n, f"xung đột dữ liệu: {exc.orig}"))
        for outcome in outcomes:
            setattr(result, outcome, getattr(result, outcome) + 1)
        batch.clear()

    for line_no, record in read_records(path):
        if progress:
            progress(1)
        try:
            if isinstance(record, LineError):
                raise record
            if isinstance(record, dict) and "__csv_error__" in record:
                raise LineError(record["__csv_error__"])
            batch.append((line_no, importer.parse(record, line_no)))
        except LineError as exc:
            result.errors.append((line_no, str(exc)))
        if len(batch) >= batch_size:
            flush_batch()
    flush_batch()
    result.errors.sort()
    return result


# -- export -------------------------------------------------------------------------------------
def report_record(report: Report, tz: ZoneInfo) -> dict[str, Any]:
    """The import-format record of a report (everything, confidential senders included)."""

    def iso(value: datetime) -> str:
        return value.astimezone(tz).isoformat()

    answer = report.published_answer
    return {
        "external_id": report.external_id or report.code,
        "code": report.code,
        "type": report.type,
        "title": report.title,
        "content": report.content,
        "field": report.field.slug,
        "province": report.province_code,
        "ward": report.ward_code if report.ward_code is not None else report.legacy_place,
        "address": report.address or None,
        "submitted_at": iso(report.submitted_at),
        "sender": {
            "kind": report.sender_kind,
            "name": report.sender_name or None,
            "organization": report.organization_name,
            "phone": report.sender_phone,
            "email": report.sender_email,
            "address": report.sender_address,
        },
        "confidential": report.confidential,
        "status": report.status,
        "published": report.published,
        "answer": None if answer is None else {
            "unit": answer.unit.name, "text": answer.text, "answered_at": iso(answer.answered_at)},
    }


def iter_reports(batch: int = 500) -> Iterator[Report]:
    query = (select(Report).order_by(Report.id)
             .options(selectinload(Report.answers).selectinload(Answer.unit),
                      selectinload(Report.field)))
    yield from db.session.scalars(query.execution_options(yield_per=batch))


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key in CSV_COLUMNS:
        head, _, tail = key.partition(".")
        value = record.get(head)
        if tail:
            value = (value or {}).get(tail)
        if isinstance(value, bool):
            value = "true" if value else "false"
        row[key] = "" if value is None else value
    return row


def export_file(path: Path, progress: Callable[[int], None] | None = None) -> int:
    """Write every report to ``path`` (CSV if it ends in .csv, else JSON Lines); returns the count."""
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    count = 0
    is_csv = path.suffix.lower() == ".csv"
    with path.open("w", encoding="utf-8-sig" if is_csv else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS) if is_csv else None
        if writer:
            writer.writeheader()
        for report in iter_reports():
            record = report_record(report, tz)
            if writer:
                writer.writerow(_flatten(record))
            else:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
            if progress:
                progress(1)
    return count


def records_to_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """Helper for tests and tools: records as JSON Lines text."""
    buf = io.StringIO()
    for r in records:
        buf.write(json.dumps(r, ensure_ascii=False) + "\n")
    return buf.getvalue()
