"""File types from content, not names; dangerous content refused."""

from __future__ import annotations

import pytest

from tests import files
from workbench.filetypes import detect, fits


@pytest.mark.parametrize("data, media_type, category, inline", [
    (files.pdf(), "application/pdf", "document", True),
    (files.docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "document", False),
    (files.rtf(), "application/rtf", "document", False),
    (files.png(), "image/png", "image", True),
    (files.jpeg(), "image/jpeg", "image", True),
    (files.wav(), "audio/wav", "audio", True),
    (b"plain words\n", "text/plain; charset=utf-8", "document", False),
    (bytes(128) + b"DICM" + bytes(16), "application/dicom", "dicom", False),
    (b"\x00\x01\x02\x03garbage", "application/octet-stream", "other", False),
])
def test_types_come_from_content(data: bytes, media_type: str, category: str,
                                 inline: bool) -> None:
    kind = detect(data)
    assert (kind.media_type, kind.category, kind.inline) == (media_type, category, inline)
    assert kind.refusal == ""


@pytest.mark.parametrize("data, words", [
    (files.disguised_html(), "HTML"),
    (b"\xef\xbb\xbf<html><body>hi</body></html>", "HTML"),
    (files.svg_with_script(), "SVG"),
    (files.executable(), "executable"),
    (b"#!/bin/sh\nrm -rf /\n", "executable"),
])
def test_dangerous_content_is_refused_with_a_reason(data: bytes, words: str) -> None:
    assert words in detect(data).refusal


def test_a_plain_svg_is_accepted_but_never_inline() -> None:
    kind = detect(b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>')
    assert kind.refusal == "" and not kind.inline


def test_upload_types_accept_what_fits() -> None:
    assert fits(detect(files.pdf()), "document")
    assert fits(detect(files.png()), "scanned_document")
    assert not fits(detect(files.pdf()), "audio")
    assert fits(detect(files.wav()), "audio")
    assert not fits(detect(files.wav()), "image")
    assert fits(detect(files.docx()), "other")
