"""Tests of the streaming multipart/related parser and writer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pytest

from workbench.dicomweb.multipart import (
    InvalidMultipart,
    MultipartEvent,
    MultipartParser,
    PartData,
    PartEnd,
    PartHeaders,
    PartStart,
    boundary_from_content_type,
    iter_parts,
    multipart_chunks,
    multipart_content_type,
    new_boundary,
)
from workbench.errors import PayloadTooLargeError, WorkbenchError

B = "frontier"


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def parse(
    data: bytes, size: int, boundary: str = B, **limits: int
) -> list[tuple[dict[str, str], bytes]]:
    return [
        (dict(headers.fields), body)
        for headers, body in iter_parts(split(data, size), boundary, **limits)
    ]


def encode(
    parts: Iterable[tuple[Mapping[str, str], bytes | Iterable[bytes]]], boundary: str = B
) -> bytes:
    return b"".join(multipart_chunks(parts, boundary))


SIZES = [1, 2, 3, 7, 13, 64, 4096, 1 << 20]


@pytest.mark.parametrize("size", SIZES)
def test_roundtrip_any_chunking(size: int) -> None:
    parts: list[tuple[Mapping[str, str], bytes]] = [
        ({"Content-Type": "application/dicom"}, bytes(range(256)) * 40),
        ({"Content-Type": "application/dicom", "Content-Location": "/studies/1.2"}, b""),
        ({}, b"x"),
        ({"X-Empty": ""}, b"\r\n\r\n--\r\n"),
    ]
    got = parse(encode(parts), size)
    assert got == [({k.lower(): v for k, v in h.items()}, body) for h, body in parts]


TRICKY_BODIES = [
    b"--" + B.encode(),  # boundary-like text without the CRLF
    b"a--" + B.encode() + b"\r\n",
    b"\r\n--" + B.encode()[:-1] + b"\r\n",  # shorter than the boundary
    b"\r\n--" + B.encode() + b"X\r\n",  # longer boundary
    b"\r\n--" + B.encode() + b"-x",
    b"\r\n--" + B.encode() + b" x\r\n",  # padding followed by text
    b"\r\n--" + B.encode() + b"\r",  # CR without LF at the end
    b"\r\n-" + B.encode() + b"\r\n",
    b"\r\r\n\n--\r\n--",
    b"ends with CR\r",
    b"ends with a partial delimiter\r\n--front",
]


@pytest.mark.parametrize("body", TRICKY_BODIES)
@pytest.mark.parametrize("size", [1, 5, 1024])
def test_boundary_lookalikes_stay_in_the_body(body: bytes, size: int) -> None:
    message = b"--frontier\r\nA: 1\r\n\r\n%b\r\n--frontier\r\n\r\n%b\r\n--frontier--" % (body, body)
    assert parse(message, size) == [({"a": "1"}, body), ({}, body)]


def test_events_in_order_and_chunked_bodies_are_not_joined() -> None:
    message = encode([({"Content-Type": "application/dicom"}, [b"abc", b"", b"def"])])
    parser = MultipartParser(B)
    events: list[MultipartEvent] = []
    for byte in split(message, 1):
        events += parser.feed(byte)
    events += parser.close()
    assert isinstance(events[0], PartStart)
    assert events[0].headers.content_type == "application/dicom"
    assert isinstance(events[-1], PartEnd)
    assert b"".join(e.data for e in events if isinstance(e, PartData)) == b"abcdef"
    assert all(isinstance(e.data, bytes) for e in events if isinstance(e, PartData))
    assert parser.finished and parser.parts_started == 1


def test_preamble_epilogue_and_leading_crlf() -> None:
    body = b"\r\n--frontier\r\nContent-Type: a/b\r\n\r\nhello"
    for prefix in (b"", b"\r\n", b"This is the preamble.\r\n--frontierX not a boundary\r\n"):
        message = prefix + body + b"\r\n--frontier--\r\nthe epilogue\r\n--frontier\r\n\r\nignored"
        assert parse(message, 3) == [({"content-type": "a/b"}, b"hello")]


def test_first_delimiter_at_offset_zero_and_close_without_crlf() -> None:
    message = b"--frontier\r\n\r\npart\r\n--frontier--"
    assert parse(message, 1) == [({}, b"part")]


def test_transport_padding_after_boundary() -> None:
    message = b"--frontier \t \r\nA: 1\r\n\r\none\r\n--frontier\t\r\n\r\ntwo\r\n--frontier-- \r\n"
    assert parse(message, 1) == [({"a": "1"}, b"one"), ({}, b"two")]


def test_zero_parts() -> None:
    assert parse(b"--frontier--\r\n", 2) == []


def test_dicomweb_client_encoding_is_parsed() -> None:
    web = pytest.importorskip("dicomweb_client.web")
    content_type = 'multipart/related; type="application/dicom"; boundary=frontier'
    message = web.DICOMwebClient._encode_multipart_message([b"one", b"\r\ntwo"], content_type)
    assert parse(message, 5) == [
        ({"content-type": "application/dicom"}, b"one"),
        ({"content-type": "application/dicom"}, b"\r\ntwo"),
    ]


def test_headers_are_normalised() -> None:
    message = (
        b"--frontier\r\nContent-TYPE:  application/dicom \r\nX-A: 1\r\nx-a: 2\r\n"
        b"X-Folded: first\r\n second\r\n\r\nbody\r\n--frontier--"
    )
    ((headers, body),) = iter_parts([message], B)
    assert dict(headers.fields) == {
        "content-type": "application/dicom",
        "x-a": "1, 2",
        "x-folded": "first second",
    }
    assert headers.get("X-A") == "1, 2" and headers.content_location is None
    assert body == b"body"


def test_part_headers_constructor_normalises() -> None:
    headers = PartHeaders({"Content-Location": " /x "})
    assert headers.content_location == "/x" and dict(headers.fields) == {"content-location": "/x"}


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (b"", "no boundary delimiter '--frontier'"),
        (b"just a preamble\r\n--frontie", "no boundary delimiter"),
        (b"--frontier\r\nA: 1\r\n", "truncated in the headers of part 1"),
        (b"--frontier\r\n\r\nbody", "truncated in the body of part 1"),
        (b"--frontier\r\n\r\nbody\r\n--frontier", "truncated in the body of part 1"),
        (b"--frontier\r\n\r\nbody\r\n--frontier-", "close delimiter '--frontier--'"),
        (b"--frontier\r\n\r\na\r\n--frontier\r\n\r\nb\r\n", "truncated in the body of part 2"),
        (b"--frontier\r\n\r\nbody\r\n--frontier  ", "truncated"),
    ],
)
@pytest.mark.parametrize("size", [1, 1000])
def test_truncated_bodies_raise(message: bytes, match: str, size: int) -> None:
    with pytest.raises(InvalidMultipart, match=re.escape(match)):
        parse(message, size)


def test_missing_blank_line() -> None:
    message = b"--frontier\r\nContent-Type: a/b\r\n--frontier\r\n\r\nx\r\n--frontier--"
    for size in (1, 4096):
        with pytest.raises(InvalidMultipart, match="not ended by a blank line"):
            parse(message, size)


def test_malformed_header_line() -> None:
    with pytest.raises(InvalidMultipart, match=r"header line 'no colon here'"):
        parse(b"--frontier\r\nno colon here\r\n\r\nx\r\n--frontier--", 4096)


def test_header_limit() -> None:
    headers = {"X-Long": "v" * 200}
    message = encode([(headers, b"x")])
    assert parse(message, 7, max_header_bytes=300) == [({"x-long": "v" * 200}, b"x")]
    for size in (1, 7, 4096):
        with pytest.raises(PayloadTooLargeError, match="max_header_bytes=100"):
            parse(message, size, max_header_bytes=100)
    endless = b"--frontier\r\nX: " + b"y" * 5000
    with pytest.raises(PayloadTooLargeError, match="max_header_bytes=1000"):
        MultipartParser(B, max_header_bytes=1000).feed(endless)


@pytest.mark.parametrize("size", [1, 100, 4096])
def test_part_limit(size: int) -> None:
    message = encode([({}, b"a" * 100), ({}, b"b" * 101)])
    with pytest.raises(PayloadTooLargeError, match=r"part 2 exceeds max_part_bytes=100"):
        parse(message, size, max_part_bytes=100)
    assert len(parse(message, size, max_part_bytes=101)) == 2


def test_parser_refuses_input_after_an_error_and_ignores_it_after_the_end() -> None:
    parser = MultipartParser(B, max_part_bytes=1)
    with pytest.raises(PayloadTooLargeError):
        parser.feed(b"--frontier\r\n\r\nabcdef")
    with pytest.raises(InvalidMultipart, match="already failed"):
        parser.feed(b"more")
    done = MultipartParser(B)
    assert len(done.feed(bytearray(b"--frontier\r\n\r\nx\r\n--frontier--"))) == 3
    assert done.feed(memoryview(b"\r\n--frontier\r\n\r\nafter")) == [] and done.close() == []


def test_invalid_parser_arguments() -> None:
    with pytest.raises(InvalidMultipart, match="printable ASCII"):
        MultipartParser("bad\r\nboundary")
    with pytest.raises(InvalidMultipart):
        MultipartParser("")
    with pytest.raises(ValueError, match="max_header_bytes"):
        MultipartParser(B, max_header_bytes=0)
    assert issubclass(InvalidMultipart, WorkbenchError) and issubclass(InvalidMultipart, ValueError)


def test_writer_output_format() -> None:
    chunks = list(multipart_chunks([({"Content-Type": "a/b"}, b"1"), ({}, [b"2", b"3"])], B))
    assert chunks == [
        b"--frontier\r\nContent-Type: a/b\r\n\r\n",
        b"1",
        b"\r\n--frontier\r\n\r\n",
        b"2",
        b"3",
        b"\r\n--frontier--\r\n",
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"x\r\n--frontier\r\n",
        b"--frontier",  # would follow the header block's CRLF
        [b"x\r\n--fron", b"tier"],  # split across chunks
        [b"x\r", b"\n", b"--", b"frontier--"],
        [b"", b"--frontier"],
    ],
)
def test_writer_refuses_bodies_holding_the_delimiter(body: bytes | list[bytes]) -> None:
    with pytest.raises(ValueError, match="contains the delimiter '--frontier'"):
        encode([({}, body)])


def test_writer_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        encode([])
    with pytest.raises(ValueError, match="malformed header"):
        encode([({"Bad Name": "x"}, b"")])
    with pytest.raises(ValueError, match="malformed header"):
        encode([({"X": "a\r\nInjected: 1"}, b"")])
    with pytest.raises(ValueError, match="RFC 2046"):
        encode([({}, b"")], boundary="x" * 71)
    with pytest.raises(TypeError, match="str"):
        encode([({}, "text")])  # type: ignore[list-item]


def test_new_boundary() -> None:
    first, second = new_boundary(), new_boundary()
    assert first != second and len(first) <= 70
    assert boundary_from_content_type(multipart_content_type(first, "application/dicom")) == first


def test_multipart_content_type() -> None:
    assert (
        multipart_content_type("abc", "application/dicom")
        == 'multipart/related; type="application/dicom"; boundary=abc'
    )
    assert multipart_content_type(
        "a b", "application/dicom", transfer_syntax="1.2.840.10008.1.2.1"
    ) == (
        'multipart/related; type="application/dicom"; '
        'transfer-syntax=1.2.840.10008.1.2.1; boundary="a b"'
    )
    with pytest.raises(ValueError, match="parameter named 'type'"):
        multipart_content_type("abc", "a/b", type="x")


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/related; type=application/dicom; boundary=abc", "abc"),
        ('Multipart/Related; Boundary="a b:c"; type="application/dicom"', "a b:c"),
        ("multipart/form-data;boundary=----WebKitFormBoundary7MA4", "----WebKitFormBoundary7MA4"),
    ],
)
def test_boundary_from_content_type(content_type: str, boundary: str) -> None:
    assert boundary_from_content_type(content_type) == boundary


@pytest.mark.parametrize(
    ("content_type", "match"),
    [
        ("application/dicom", "is not multipart"),
        ('multipart/related; type="application/dicom"', "has no boundary"),
        ('multipart/related; boundary=""', "has no boundary"),
        ("multipart/related; boundary", "malformed parameter"),
        ("", "expected a media type"),
    ],
)
def test_boundary_from_content_type_errors(content_type: str, match: str) -> None:
    with pytest.raises(InvalidMultipart, match=match):
        boundary_from_content_type(content_type)
