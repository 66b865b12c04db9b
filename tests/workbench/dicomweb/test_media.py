"""Tests of DICOMweb media type parsing and content negotiation."""

from __future__ import annotations

import pytest

from workbench.dicomweb.media import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    TRANSFER_SYNTAX_MEDIA_TYPES,
    MediaRange,
    canonical_media_type,
    choose_frame_media_type,
    choose_instance_transfer_syntax,
    choose_media_type,
    choose_rendered_media_type,
    media_type_for_transfer_syntax,
    parse_accept,
    parse_content_type,
)
from workbench.errors import NotAcceptableError, QueryError

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = EXPLICIT_VR_LITTLE_ENDIAN
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
JLS = "1.2.840.10008.1.2.4.80"
J2K = "1.2.840.10008.1.2.4.90"
RLE = "1.2.840.10008.1.2.5"
MPEG4 = "1.2.840.10008.1.2.4.102"

# Accept values as dicomweb-client 0.61 builds them.
CLIENT_DICOM = 'multipart/related; type="application/dicom"'
CLIENT_DICOM_ANY = 'multipart/related; type="application/dicom"; transfer-syntax=*'
CLIENT_OCTET = 'multipart/related; type="application/octet-stream"'
CLIENT_JPEG = f'multipart/related; type="image/jpeg"; transfer-syntax={JPEG_BASELINE}'
CLIENT_FRAMES_DEFAULT = 'multipart/related; type="*/*"'
BROWSER = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def accept(value: str | None) -> list[MediaRange]:
    return parse_accept(value)


# -- parsing ---------------------------------------------------------------------------------


def test_parse_content_type() -> None:
    assert parse_content_type('Multipart/Related; TYPE="application/dicom"; boundary=x') == (
        "multipart/related",
        {"type": "application/dicom", "boundary": "x"},
    )
    assert parse_content_type('a/b; p="q\\"uo;ted, v"; e=') == (
        "a/b",
        {"p": 'q"uo;ted, v', "e": ""},
    )
    assert parse_content_type("application/dicom;") == ("application/dicom", {})


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("", "expected a media type"),
        ("application", "expected a media type"),
        ("a/b; c", "malformed parameter"),
        ('a/b; c="open', "malformed parameter"),
        ("a/b x", "unexpected text"),
    ],
)
def test_parse_content_type_errors(value: str, match: str) -> None:
    with pytest.raises(QueryError, match=match):
        parse_content_type(value)


def test_parse_accept_dicomweb_client_headers() -> None:
    (dicom,) = accept(CLIENT_DICOM)
    assert dicom.media_type == "multipart/related" and dicom.type_param == "application/dicom"
    assert dicom.transfer_syntax is None and dicom.q == 1.0
    (anything,) = accept(CLIENT_DICOM_ANY)
    assert anything.transfer_syntax == "*"
    (jpeg,) = accept(CLIENT_JPEG)
    assert (jpeg.type_param, jpeg.transfer_syntax) == ("image/jpeg", JPEG_BASELINE)
    assert [r.type_param for r in accept(f"{CLIENT_JPEG}, {CLIENT_OCTET}")] == [
        "image/jpeg",
        "application/octet-stream",
    ]


def test_parse_accept_unquoted_type_as_dicomweb_js_sends_it() -> None:
    (octet,) = accept("multipart/related; type=application/octet-stream; transfer-syntax=*")
    assert (octet.type_param, octet.transfer_syntax) == ("application/octet-stream", "*")
    assert choose_frame_media_type([octet], IMPLICIT) == ("application/octet-stream", IMPLICIT)


def test_parse_accept_sorts_by_q_stably_and_drops_q0() -> None:
    ranges = accept("a/x;q=0.5, b/x, c/x;q=0, d/x;q=1.0, e/x;q=.5, *;q=0.1")
    assert [(r.media_type, r.q) for r in ranges] == [
        ("b/x", 1.0),
        ("d/x", 1.0),
        ("a/x", 0.5),
        ("e/x", 0.5),
        ("*/*", 0.1),
    ]
    assert all("q" not in r.params for r in ranges)


def test_parse_accept_quoted_separators_and_whitespace() -> None:
    ranges = accept(' , A/B ; x="1,2;3" ;q=0.2 ,, c/d;y="\\"";  q=0.9 ,')
    assert [(r.media_type, dict(r.params), r.q) for r in ranges] == [
        ("c/d", {"y": '"'}, 0.9),
        ("a/b", {"x": "1,2;3"}, 0.2),
    ]


def test_parse_accept_defaults_and_browsers() -> None:
    assert accept(None) == accept("") == accept("  ") == [MediaRange("*/*")]
    browser = accept(BROWSER)
    assert browser[0].media_type == "text/html" and browser[-1].q == 0.7
    assert accept("application/dicom+json")[0].media_type == "application/dicom+json"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("text/html;q=abc", "q='abc'"),
        ("text/html;q=1.5", "q='1.5'"),
        ("text/html;q=nan", "q='nan'"),
        ("text/html image/png", "expected ','"),
        ("text", "expected a media type"),
        ("a/b; =x", "malformed parameter"),
    ],
)
def test_parse_accept_errors(value: str, match: str) -> None:
    with pytest.raises(QueryError, match=match):
        parse_accept(value)


def test_media_range_normalises_and_matches() -> None:
    media_range = MediaRange("Image/*", {"Type": "Application/DICOM", "X": "Keep"}, 0.5)
    assert media_range.media_type == "image/*"
    assert dict(media_range.params) == {"type": "application/dicom", "x": "Keep"}
    assert media_range.matches("image/png") and not media_range.matches("video/mp4")
    assert MediaRange("*/*").matches("anything/at-all")
    assert len({MediaRange("a/b", {"x": "1"}), MediaRange("A/B", {"X": "1"})}) == 1
    assert MediaRange("image/jls").matches("image/x-jls")
    assert str(accept(CLIENT_JPEG + ";q=0.5")[0]) == (
        f'multipart/related; type="image/jpeg"; transfer-syntax={JPEG_BASELINE}; q=0.5'
    )


def test_transfer_syntax_media_types() -> None:
    expected = {
        JPEG_BASELINE: "image/jpeg",
        "1.2.840.10008.1.2.4.51": "image/jpeg",
        "1.2.840.10008.1.2.4.57": "image/jpeg",
        JPEG_LOSSLESS: "image/jpeg",
        JLS: "image/jls",
        "1.2.840.10008.1.2.4.81": "image/jls",
        J2K: "image/jp2",
        "1.2.840.10008.1.2.4.91": "image/jp2",
        "1.2.840.10008.1.2.4.92": "image/jpx",
        "1.2.840.10008.1.2.4.93": "image/jpx",
        RLE: "image/dicom-rle",
        "1.2.840.10008.1.2.4.100": "video/mpeg",
        "1.2.840.10008.1.2.4.101": "video/mpeg",
        MPEG4: "video/mp4",
        "1.2.840.10008.1.2.4.106": "video/mp4",
        "1.2.840.10008.1.2.4.110": "image/jxl",
        "1.2.840.10008.1.2.4.112": "image/jxl",
        "1.2.840.10008.1.2.4.201": "image/jphc",
        "1.2.840.10008.1.2.4.203": "image/jphc",
        IMPLICIT: "application/octet-stream",
        EXPLICIT: "application/octet-stream",
        "1.2.840.10008.1.2.2": "application/octet-stream",
    }
    for uid, media_type in expected.items():
        assert TRANSFER_SYNTAX_MEDIA_TYPES[uid] == media_type, uid
    assert media_type_for_transfer_syntax("1.2.3.4") == "application/octet-stream"
    assert canonical_media_type(" Image/X-DICOM-RLE ") == "image/dicom-rle"
    assert canonical_media_type("video/mpeg2") == "video/mpeg"


# -- instances -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "stored", "expected"),
    [
        (CLIENT_DICOM, JPEG_BASELINE, EXPLICIT),
        (CLIENT_DICOM_ANY, JPEG_BASELINE, JPEG_BASELINE),
        (f'multipart/related; type="application/dicom"; transfer-syntax={J2K}', EXPLICIT, J2K),
        ("application/dicom", IMPLICIT, EXPLICIT),
        ("application/dicom; transfer-syntax=*", IMPLICIT, IMPLICIT),
        ("multipart/related", RLE, EXPLICIT),
        ("multipart/related; transfer-syntax=*", RLE, RLE),
        ('multipart/related; type="*/*"; transfer-syntax=*', RLE, RLE),
        ("*/*", JPEG_BASELINE, EXPLICIT),
        (None, JPEG_BASELINE, EXPLICIT),
        (BROWSER, JLS, EXPLICIT),
        ("application/*; transfer-syntax=*", JLS, JLS),
        (f"{CLIENT_DICOM};q=0.5, {CLIENT_DICOM_ANY}", J2K, J2K),
        (f"application/dicom+json, {CLIENT_DICOM_ANY};q=0.2", J2K, J2K),
        (f"{CLIENT_OCTET}, {CLIENT_DICOM}", J2K, EXPLICIT),
    ],
)
def test_choose_instance_transfer_syntax(header: str | None, stored: str, expected: str) -> None:
    assert choose_instance_transfer_syntax(accept(header), stored) == expected


def test_choose_instance_transfer_syntax_skips_what_cannot_be_served() -> None:
    ranges = accept(
        f"{CLIENT_DICOM}; transfer-syntax={JPEG_BASELINE}, {CLIENT_DICOM};q=0.9, "
        f"{CLIENT_DICOM_ANY};q=0.1"
    )
    assert choose_instance_transfer_syntax(ranges, J2K, can_serve=lambda ts: False) == J2K
    assert choose_instance_transfer_syntax(ranges, J2K, can_serve=lambda ts: ts == EXPLICIT) == (
        EXPLICIT
    )
    assert choose_instance_transfer_syntax(ranges, J2K) == JPEG_BASELINE
    odd = accept(f"{CLIENT_DICOM}; transfer-syntax=jpeg, {CLIENT_DICOM_ANY};q=0.5")
    assert choose_instance_transfer_syntax(odd, J2K) == J2K


@pytest.mark.parametrize(
    "header",
    [
        "application/dicom+json",
        "application/json, text/html",
        CLIENT_OCTET,
        'multipart/related; type="image/jpeg"',
        "application/dicom;q=0",
    ],
)
def test_choose_instance_transfer_syntax_not_acceptable(header: str) -> None:
    with pytest.raises(NotAcceptableError, match="cannot send the instance|refuses every"):
        choose_instance_transfer_syntax(accept(header), EXPLICIT)


def test_not_acceptable_message_names_the_request() -> None:
    with pytest.raises(NotAcceptableError, match=r"'application/dicom\+json'.*application/dicom"):
        choose_instance_transfer_syntax(accept("application/dicom+json"), J2K)


# -- frames and bulk data --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "stored", "expected"),
    [
        (CLIENT_OCTET, JPEG_BASELINE, ("application/octet-stream", EXPLICIT)),
        (CLIENT_OCTET, IMPLICIT, ("application/octet-stream", EXPLICIT)),
        (f"{CLIENT_OCTET}; transfer-syntax=*", IMPLICIT, ("application/octet-stream", IMPLICIT)),
        (f"{CLIENT_OCTET}; transfer-syntax=*", J2K, ("application/octet-stream", EXPLICIT)),
        (
            f"{CLIENT_OCTET}; transfer-syntax={EXPLICIT}",
            J2K,
            ("application/octet-stream", EXPLICIT),
        ),
        ("application/octet-stream", RLE, ("application/octet-stream", EXPLICIT)),
        (CLIENT_JPEG, JPEG_BASELINE, ("image/jpeg", JPEG_BASELINE)),
        ('multipart/related; type="image/jpeg"', JPEG_LOSSLESS, ("image/jpeg", JPEG_LOSSLESS)),
        ('multipart/related; type="image/jls"', JLS, ("image/jls", JLS)),
        ('multipart/related; type="image/x-jls"', JLS, ("image/x-jls", JLS)),
        ('multipart/related; type="image/x-dicom-rle"', RLE, ("image/x-dicom-rle", RLE)),
        (
            'multipart/related; type="image/dicom-rle"; transfer-syntax=*',
            RLE,
            ("image/dicom-rle", RLE),
        ),
        ("image/jp2", J2K, ("image/jp2", J2K)),
        (CLIENT_FRAMES_DEFAULT, J2K, ("image/jp2", J2K)),
        (CLIENT_FRAMES_DEFAULT, EXPLICIT, ("application/octet-stream", EXPLICIT)),
        ("*/*", RLE, ("image/dicom-rle", RLE)),
        (None, JLS, ("image/jls", JLS)),
        ("multipart/related", MPEG4, ("video/mp4", MPEG4)),
        ('multipart/related; type="video/*"', MPEG4, ("video/mp4", MPEG4)),
        ('multipart/related; type="image/*"', J2K, ("image/jp2", J2K)),
        (
            f'multipart/related; type="*/*"; transfer-syntax={JPEG_BASELINE}',
            JPEG_BASELINE,
            ("image/jpeg", JPEG_BASELINE),
        ),
        (
            f'multipart/related; type="*/*"; transfer-syntax={EXPLICIT}',
            J2K,
            ("application/octet-stream", EXPLICIT),
        ),
        (f"{CLIENT_JPEG}, {CLIENT_OCTET};q=0.5", J2K, ("application/octet-stream", EXPLICIT)),
        (f"{CLIENT_OCTET};q=0.5, {CLIENT_JPEG}", JPEG_BASELINE, ("image/jpeg", JPEG_BASELINE)),
        (
            f'multipart/related; type="image/jls", {CLIENT_JPEG}, {CLIENT_OCTET}; q=0.1',
            JPEG_BASELINE,
            ("image/jpeg", JPEG_BASELINE),
        ),
    ],
)
def test_choose_frame_media_type(
    header: str | None, stored: str, expected: tuple[str, str]
) -> None:
    assert choose_frame_media_type(accept(header), stored) == expected


def test_choose_frame_media_type_transcoding_needs_consent() -> None:
    ranges = accept(f"{CLIENT_JPEG}, {CLIENT_OCTET};q=0.5, {CLIENT_FRAMES_DEFAULT};q=0.1")
    assert choose_frame_media_type(ranges, J2K) == ("application/octet-stream", EXPLICIT)
    anything = choose_frame_media_type(ranges, J2K, can_serve=lambda ts: True)
    assert anything == ("image/jpeg", JPEG_BASELINE)
    only_native = choose_frame_media_type(ranges, J2K, can_serve=lambda ts: ts == EXPLICIT)
    assert only_native == ("application/octet-stream", EXPLICIT)
    assert choose_frame_media_type(ranges, J2K, can_serve=lambda ts: False) == ("image/jp2", J2K)


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        ('multipart/related; type="image/jpeg"', J2K),
        ('multipart/related; type="image/jls"; transfer-syntax=*', JPEG_BASELINE),
        (f'multipart/related; type="image/jp2"; transfer-syntax={JPEG_BASELINE}', JPEG_BASELINE),
        (f"{CLIENT_OCTET}; transfer-syntax={JPEG_BASELINE}", JPEG_BASELINE),
        (f"{CLIENT_OCTET}; transfer-syntax=1.2.840.10008.1.2.2", JPEG_BASELINE),
        (CLIENT_JPEG, J2K),
        (f'multipart/related; type="*/*"; transfer-syntax={JPEG_BASELINE}', J2K),
        ('multipart/related; type="application/dicom"', EXPLICIT),
        ("application/dicom+json", EXPLICIT),
        ('multipart/related; type="video/*"', JPEG_BASELINE),
        ("text/html", EXPLICIT),
    ],
)
def test_choose_frame_media_type_not_acceptable(header: str, stored: str) -> None:
    with pytest.raises(NotAcceptableError, match=f"frames stored as {stored}"):
        choose_frame_media_type(accept(header), stored)


# -- rendered and single-type resources ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "image/jpeg"),
        ("image/png", "image/png"),
        ("image/png, image/jpeg", "image/png"),
        ("image/jpeg;q=0.5, image/png", "image/png"),
        ("image/*", "image/jpeg"),
        (BROWSER, "image/jpeg"),
        ("image/webp, image/png;q=0.8", "image/png"),
    ],
)
def test_choose_rendered_media_type(header: str | None, expected: str) -> None:
    assert choose_rendered_media_type(accept(header)) == expected


def test_choose_rendered_media_type_not_acceptable() -> None:
    with pytest.raises(NotAcceptableError, match="available as image/jpeg, image/png"):
        choose_rendered_media_type(accept("image/gif, application/dicom"))
    gif = choose_rendered_media_type(accept("image/gif"), supported=("image/jpeg", "image/gif"))
    assert gif == "image/gif"


def test_choose_media_type_for_metadata() -> None:
    supported = ("application/dicom+json", "application/json")
    assert choose_media_type(accept("application/json"), supported) == "application/json"
    assert choose_media_type(accept(BROWSER), supported) == "application/dicom+json"
    with pytest.raises(NotAcceptableError, match="application/dicom\\+json"):
        choose_media_type(accept("application/dicom+xml"), supported)
