"""Real files of the kinds practices upload, made by the tests (no binary fixtures).

Each maker returns the bytes of a well-formed file of its type: a PDF with text, a Word
document (DOCX), an RTF letter, PNG and JPEG photos, a WAV clip, and files that must be
refused (an HTML page named like a PDF, an SVG with script, an executable).
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zipfile

import numpy as np
from PIL import Image


def pdf(text: str = "Referral letter") -> bytes:
    """A one-page PDF 1.4 showing ``text`` (a real cross-reference table and trailer)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
              .encode())
    return out.getvalue()


def docx(text: str = "Requisition") -> bytes:
    """A minimal Word document (Office Open XML) with one paragraph.

    Byte for byte the same on every call (fixed member times): parametrized tests are
    collected by each xdist worker, and their ids must agree."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        def member(name: str, content: str) -> None:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)

        member("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="applicati'
            'on/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" Conten'
            'tType="application/xml"/><Override PartName="/word/document.xml" ContentType="app'
            'lication/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            '</Types>'))
        member("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxm'
            'lformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://sch'
            'emas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
            '"word/document.xml"/></Relationships>'))
        member("word/document.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxml'
            f'formats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r>'
            '</w:p></w:body></w:document>'))
    return buffer.getvalue()


def rtf(text: str = "Dear colleague") -> bytes:
    """An RTF letter."""
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times New Roman;}}\\f0\\fs24 "
            f"{text}\\par}}\n").encode()


def png(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    """A colour PNG photo."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(seed: int = 0) -> bytes:
    """A JPEG photo."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def wav(seconds: float = 0.25, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV clip of a 440 Hz tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        clip.writeframes(frames)
    return buffer.getvalue()


def disguised_html() -> bytes:
    """An HTML page with script, as someone might name 'results.pdf'."""
    return b"\n  <!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def svg_with_script() -> bytes:
    """An SVG image carrying an event handler."""
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
            b'<rect width="10" height="10"/></svg>')


def executable() -> bytes:
    """The start of a Windows executable."""
    return b"MZ\x90\x00" + bytes(60) + b"PE\x00\x00" + bytes(200)
