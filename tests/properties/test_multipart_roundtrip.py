"""Property: what multipart_chunks writes, MultipartParser reads back, however it is split."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workbench.dicomweb.multipart import (
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    multipart_chunks,
)

BOUNDARY = "b0und-ary"
DELIMITER = b"\r\n--" + BOUNDARY.encode()

# Pieces that stress the delimiter search: CR, LF, dashes and prefixes of the boundary.
_FRAGMENTS = [b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b"\t"] + [
    DELIMITER[:k] for k in range(1, len(DELIMITER) + 1)
]
_pieces = st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=40))
bodies = st.lists(_pieces, max_size=20).map(b"".join)
header_names = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
header_values = st.from_regex(r"[!-~]([ -~]{0,30}[!-~])?", fullmatch=True) | st.just("")
headers = st.dictionaries(header_names, header_values, max_size=4)
parts = st.lists(st.tuples(headers, bodies), min_size=1, max_size=5)
preambles = st.sampled_from([b"", b"\r\n", b"preamble text\r\n", b"--b0und-aryX\r\n"])
epilogues = st.sampled_from([b"", b"\r\n", b"epilogue\r\n--b0und-ary\r\n\r\nnot a part"])


def _holds_delimiter(body: bytes) -> bool:
    return DELIMITER in b"\r\n" + body


def _parse(chunks: list[bytes]) -> list[tuple[dict[str, str], bytes]]:
    parser = MultipartParser(BOUNDARY)
    events = [event for chunk in chunks for event in parser.feed(chunk)] + parser.close()
    result: list[tuple[dict[str, str], bytes]] = []
    body = bytearray()
    for event in events:
        if isinstance(event, PartStart):
            result.append((dict(event.headers.fields), b""))
            body = bytearray()
        elif isinstance(event, PartData):
            body += event.data
        else:
            assert isinstance(event, PartEnd)
            result[-1] = (result[-1][0], bytes(body))
    return result


@settings(max_examples=300, deadline=None)
@given(parts=parts, preamble=preambles, epilogue=epilogues, data=st.data())
def test_roundtrip_with_random_splits(
    parts: list[tuple[dict[str, str], bytes]], preamble: bytes, epilogue: bytes, data: st.DataObject
) -> None:
    assume(not any(_holds_delimiter(body) for _, body in parts))
    message = preamble + b"".join(multipart_chunks(parts, BOUNDARY)) + epilogue
    cuts = sorted(data.draw(st.lists(st.integers(0, len(message)), max_size=30)))
    edges = [0, *cuts, len(message)]
    chunks = [message[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    assert _parse(chunks) == parts
    assert _parse([message[i : i + 1] for i in range(len(message))]) == parts


@settings(max_examples=200, deadline=None)
@given(body=bodies, cut=st.integers(0, 200))
def test_writer_refuses_exactly_the_bodies_that_would_split(body: bytes, cut: int) -> None:
    pieces = [body[:cut], body[cut:]]
    try:
        message = b"".join(multipart_chunks([({}, pieces)], BOUNDARY))
    except ValueError:
        assert _holds_delimiter(body)
        return
    assert not _holds_delimiter(body)
    assert _parse([message]) == [({}, body)]
