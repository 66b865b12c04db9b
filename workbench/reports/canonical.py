"""Canonical bytes of report content, so that a hash or signature means one thing.

The canonical form is JSON in the manner of RFC 8785 (JCS): object keys sorted by code
point, no insignificant whitespace, UTF-8, strings in Unicode NFC, integral floats
written as integers (``2.0`` and ``2`` are the same number) and other floats in
Python's shortest round-trip form. NaN and infinities are refused: they are not JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["GENESIS", "canonical_bytes", "sha256_hex"]

GENESIS = "0" * 64
"""The "previous version hash" of the first signed version of a report."""


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be part of signed report content")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"report content keys must be strings, got {key!r}")
            out[unicodedata.normalize("NFC", key)] = _normal(item)
        return out
    if isinstance(value, Sequence):
        return [_normal(item) for item in value]
    raise ValueError(f"{type(value).__name__} cannot be part of signed report content")


def canonical_bytes(value: Any) -> bytes:
    """Return the canonical JSON encoding of `value`.

    Parameters
    ----------
    value
        JSON-like data: dicts with string keys, lists or tuples, strings, numbers,
        booleans and None.

    Raises
    ------
    ValueError
        A NaN or infinite float, a non-string key, or a value JSON cannot hold.

    Examples
    --------
    >>> canonical_bytes({"b": 2.0, "a": [1.5, "x"]})
    b'{"a":[1.5,"x"],"b":2}'
    """
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def sha256_hex(value: Any) -> str:
    """Return the SHA-256 (hex) of the canonical encoding of `value`.

    Examples
    --------
    >>> sha256_hex({"a": 1}) == sha256_hex({"a": 1.0})
    True
    """
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
