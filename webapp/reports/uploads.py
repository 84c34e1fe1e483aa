"""Attachments: accepted by content (never by name), images re-encoded without metadata, stored
outside the web root under generated names.

Images (JPEG, PNG, WebP) are decoded with a pixel cap (decompression bombs are refused) and
re-encoded, which drops every metadata block (EXIF with GPS included) and any bytes a polyglot
carried. Documents: PDF, Word and Excel (OLE2 .doc/.xls; OOXML .docx/.xlsx, whose archive must be
small once unpacked and carry no macros). Everything else — SVG, HTML, scripts, executables, GIF,
archives — is refused.
"""

from __future__ import annotations

import io
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

OOXML_MAX_UNPACKED = 60 * 1024 * 1024
OOXML_MAX_ENTRIES = 2000
OOXML_MAX_RATIO = 100
IMAGE_FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}


class UploadError(ValueError):
    """Why a file is refused, in Vietnamese; ``status`` 413 when it is too large."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Checked:
    data: bytes
    content_type: str
    extension: str
    is_image: bool


def _ole2_kind(filename: str) -> tuple[str, str] | None:
    lower = filename.lower()
    if lower.endswith(".doc"):
        return "application/msword", ".doc"
    if lower.endswith(".xls"):
        return "application/vnd.ms-excel", ".xls"
    return None


def _ooxml_kind(data: bytes) -> tuple[str, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise UploadError(_("Tệp bị hỏng hoặc không đúng định dạng.")) from None
    names = {i.filename for i in infos}
    unpacked = sum(i.file_size for i in infos)
    if len(infos) > OOXML_MAX_ENTRIES or unpacked > OOXML_MAX_UNPACKED or unpacked > OOXML_MAX_RATIO * max(len(data), 1):
        raise UploadError(_("Tệp nén bên trong quá lớn, có thể là tệp độc hại."))
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise UploadError(_("Không nhận tệp có macro."))
    if "[Content_Types].xml" not in names:
        raise UploadError(_("Chỉ nhận ảnh (JPEG, PNG, WebP) và tài liệu PDF, Word, Excel."))
    if "word/document.xml" in names:
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"
    if "xl/workbook.xml" in names:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"
    raise UploadError(_("Chỉ nhận ảnh (JPEG, PNG, WebP) và tài liệu PDF, Word, Excel."))


def _reencode_image(data: bytes) -> Checked:
    cap = current_app.config["IMAGE_MAX_PIXELS"]
    Image.MAX_IMAGE_PIXELS = cap
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
        if fmt not in IMAGE_FORMATS:
            raise UploadError(_("Chỉ nhận ảnh (JPEG, PNG, WebP) và tài liệu PDF, Word, Excel."))
        if width * height > cap:
            raise UploadError(_("Ảnh quá lớn (%(w)d×%(h)d điểm ảnh).", w=width, h=height))
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)  # keep what the camera meant, then drop EXIF
            out = io.BytesIO()
            if fmt == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            elif fmt == "PNG":
                clean = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
                clean.save(out, "PNG", optimize=True)
            else:
                image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "WEBP", quality=85)
    except Image.DecompressionBombError:
        raise UploadError(_("Ảnh quá lớn, có thể là tệp độc hại.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadError(_("Ảnh bị hỏng hoặc không đúng định dạng.")) from None
    content_type, extension = IMAGE_FORMATS[fmt]
    return Checked(out.getvalue(), content_type, extension, True)


def check(data: bytes, filename: str) -> Checked:
    """Decide by content what ``data`` is; return the bytes to store (images re-encoded)."""
    limit = current_app.config["UPLOAD_MAX_MB"] * 1024 * 1024
    if len(data) > limit:
        raise UploadError(_("Tệp “%(name)s” lớn hơn %(mb)d MB.", name=filename, mb=current_app.config["UPLOAD_MAX_MB"]),
                          status=413)
    if not data:
        raise UploadError(_("Tệp “%(name)s” rỗng.", name=filename))
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n") or (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return _reencode_image(data)
    if head.startswith(b"%PDF-"):
        return Checked(data, "application/pdf", ".pdf", False)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        kind = _ole2_kind(filename)
        if kind is None:
            raise UploadError(_("Chỉ nhận ảnh (JPEG, PNG, WebP) và tài liệu PDF, Word, Excel."))
        return Checked(data, kind[0], kind[1], False)
    if head.startswith(b"PK\x03\x04"):
        content_type, extension = _ooxml_kind(data)
        return Checked(data, content_type, extension, False)
    raise UploadError(_("Không nhận tệp “%(name)s”: chỉ nhận ảnh (JPEG, PNG, WebP) và tài liệu PDF, Word, Excel.",
                        name=filename))


def upload_dir() -> Path:
    path = Path(current_app.config["UPLOAD_PATH"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(checked: Checked) -> str:
    """Write the file under a generated name; returns that name."""
    name = secrets.token_hex(16) + checked.extension
    (upload_dir() / name).write_bytes(checked.data)
    return name


def discard(names: list[str]) -> None:
    """Delete stored files whose database rows were not kept (a refused send, a stale upload)."""
    folder = upload_dir()
    for name in names:
        (folder / Path(name).name).unlink(missing_ok=True)


def safe_filename(name: str) -> str:
    """The user's file name, for display and Content-Disposition only (never a path on disk)."""
    base = Path(name or "tep").name.replace("\x00", "").strip()
    return base[:200] or "tep"
