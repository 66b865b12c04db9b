"""What a file really is, from its first bytes: never from its name or declared type.

:func:`detect` reads the signature ("magic number") of the formats a practice uploads
(documents, images, audio, video, DICOM) and recognises what must never be served inline
from the archive's origin: HTML, SVG with script, executables. Those come back with a
``refusal`` that names them.

Categories match the upload types of the Media Uploads page: ``image``, ``document``,
``audio``, ``video``, ``dicom``, ``other``.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from io import BytesIO

SNIFF_BYTES = 4096
"""How many leading bytes :func:`detect` needs (pass more for DOCX detection of zips)."""


@dataclass(frozen=True)
class FileType:
    """A detected file type.

    Attributes
    ----------
    media_type
        The MIME type to serve it with.
    description
        Words for people ("PDF document").
    category
        ``image``, ``document``, ``audio``, ``video``, ``dicom`` or ``other``.
    extension
        The usual file name extension, with its dot.
    inline
        Whether a browser may show it inline (PDF, images, audio, video); everything
        else is served as an attachment.
    refusal
        Why the archive refuses it (dangerous content), or "" when acceptable.
    """

    media_type: str
    description: str
    category: str
    extension: str
    inline: bool = False
    refusal: str = ""


def _t(media_type: str, description: str, category: str, extension: str,
       inline: bool = False) -> FileType:
    return FileType(media_type, description, category, extension, inline)


PDF = _t("application/pdf", "PDF document", "document", ".pdf", inline=True)
PNG = _t("image/png", "PNG image", "image", ".png", inline=True)
JPEG = _t("image/jpeg", "JPEG image", "image", ".jpg", inline=True)
GIF = _t("image/gif", "GIF image", "image", ".gif", inline=True)
WEBP = _t("image/webp", "WebP image", "image", ".webp", inline=True)
TIFF = _t("image/tiff", "TIFF image", "image", ".tif")
BMP = _t("image/bmp", "BMP image", "image", ".bmp", inline=True)
WAV = _t("audio/wav", "WAV audio", "audio", ".wav", inline=True)
MP3 = _t("audio/mpeg", "MP3 audio", "audio", ".mp3", inline=True)
OGG = _t("audio/ogg", "Ogg audio", "audio", ".ogg", inline=True)
FLAC = _t("audio/flac", "FLAC audio", "audio", ".flac", inline=True)
M4A = _t("audio/mp4", "MPEG-4 audio", "audio", ".m4a", inline=True)
MP4 = _t("video/mp4", "MPEG-4 video", "video", ".mp4", inline=True)
QUICKTIME = _t("video/quicktime", "QuickTime video", "video", ".mov", inline=True)
WEBM = _t("video/webm", "WebM video", "video", ".webm", inline=True)
RTF = _t("application/rtf", "RTF document", "document", ".rtf")
DOC = _t("application/msword", "Word 97-2003 document", "document", ".doc")
DOCX = _t("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "Word document", "document", ".docx")
ODT = _t("application/vnd.oasis.opendocument.text", "OpenDocument text", "document", ".odt")
ZIP = _t("application/zip", "ZIP archive", "other", ".zip")
TEXT = _t("text/plain; charset=utf-8", "plain text", "document", ".txt")
SVG = _t("image/svg+xml", "SVG image", "image", ".svg")
DICOM = _t("application/dicom", "DICOM file", "dicom", ".dcm")
UNKNOWN = _t("application/octet-stream", "unrecognised binary file", "other", ".bin")

_MARKUP = re.compile(rb"^\s*<(!doctype\s+html|html|head|body|script|iframe|meta|title|"
                     rb"\?xml[^>]*>\s*<!doctype\s+html)", re.IGNORECASE)
_SVG = re.compile(rb"<svg[\s>]", re.IGNORECASE)
_ACTIVE = re.compile(rb"<script|\son[a-z]+\s*=|javascript:|<foreignobject", re.IGNORECASE)
_EXECUTABLES = (
    (b"MZ", "a Windows executable"), (b"\x7fELF", "a Linux executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"), (b"\xfe\xed\xfa\xcf", "a macOS executable"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java executable"), (b"#!", "a script"),
)


def _refused(media_type: str, what: str, why: str) -> FileType:
    return FileType(media_type, what, "other", ".bin", False, why)


def _zip_kind(data: bytes) -> FileType:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = (archive.read("mimetype") if "mimetype" in names else b"").strip()
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return ZIP
    if "word/document.xml" in names:
        return DOCX
    if mimetype == b"application/vnd.oasis.opendocument.text":
        return ODT
    return ZIP


def _text_kind(head: bytes) -> FileType | None:
    body = head.removeprefix(b"\xef\xbb\xbf")
    if _MARKUP.match(body) or re.search(rb"<(script|html)[\s>]", body[:1024], re.I):
        return _refused("text/html", "HTML document",
                        "HTML pages are refused: they would run in the archive's origin")
    if _SVG.search(body[:1024]):
        if _ACTIVE.search(body):
            return _refused("image/svg+xml", "SVG image with script",
                            "SVG images with scripts or event handlers are refused")
        return SVG
    if b"\x00" in body:
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the sniff limit
        if exc.start < len(body) - 4:
            return None
    return TEXT


def detect(data: bytes) -> FileType:
    """The type of a file from its leading bytes.

    Parameters
    ----------
    data
        The first :data:`SNIFF_BYTES` bytes or more; a whole ZIP-based file is needed to
        tell a Word document from another ZIP archive.

    Examples
    --------
    >>> detect(b"%PDF-1.7\\n").description
    'PDF document'
    >>> detect(b"<!DOCTYPE html><p>hi").refusal != ""
    True
    """
    head = data[:SNIFF_BYTES]
    simple = (
        (b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG),
        (b"GIF87a", GIF), (b"GIF89a", GIF), (b"II*\x00", TIFF), (b"MM\x00*", TIFF),
        (b"{\\rtf", RTF), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", DOC), (b"OggS", OGG),
        (b"fLaC", FLAC), (b"ID3", MP3), (b"\x1a\x45\xdf\xa3", WEBM),
    )
    for signature, kind in simple:
        if head.startswith(signature):
            return kind
    if len(head) >= 132 and head[128:132] == b"DICM":
        return DICOM
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return M4A
        return QUICKTIME if brand == b"qt  " else MP4
    if head[:2] == b"BM" and len(head) > 14:
        return BMP
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return MP3  # an MPEG audio frame header without ID3 tag
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    for signature, what in _EXECUTABLES:
        if head.startswith(signature):
            return _refused("application/octet-stream", what,
                            f"executable files are refused (this is {what})")
    return _text_kind(head) or UNKNOWN


def fits(kind: FileType, upload_type: str) -> bool:
    """Whether a detected type fits the upload type a person chose.

    ``document`` and ``scanned_document`` take documents and images (scans are images or
    PDFs); ``image`` takes images; ``audio`` and ``video`` their kind; ``other`` anything
    acceptable.
    """
    allowed = {
        "image": {"image"},
        "document": {"document", "image"},
        "scanned_document": {"document", "image"},
        "audio": {"audio"},
        "video": {"video"},
        "other": {"image", "document", "audio", "video", "other"},
    }
    return kind.category in allowed.get(upload_type, set())
