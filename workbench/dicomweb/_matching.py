"""Private: wildcard and fuzzy matching helpers, re-exported by :mod:`.query`."""

from __future__ import annotations

import re

__all__ = ["fuzzy_name_match", "wildcard_to_like", "wildcard_to_regex"]


def wildcard_to_like(value: str, escape: str = "\\") -> str:
    """Translate a DICOM wildcard value to an SQL ``LIKE`` pattern.

    Parameters
    ----------
    value
        A value where ``*`` matches any run of characters and ``?`` one character.
    escape
        The single character to declare with ``ESCAPE`` in the SQL statement.

    Returns
    -------
    str
        ``*`` becomes ``%``, ``?`` becomes ``_``; literal ``%``, ``_`` and `escape`
        are escaped with `escape`.

    Raises
    ------
    ValueError
        If `escape` is not one character or is a wildcard itself.
    """
    if len(escape) != 1 or escape in "*?%_":
        raise ValueError(f"escape must be one character other than * ? % _, not {escape!r}")
    out: list[str] = []
    for char in value:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", escape):
            out.append(escape + char)
        else:
            out.append(char)
    return "".join(out)


def wildcard_to_regex(value: str) -> re.Pattern[str]:
    """Compile a DICOM wildcard value to a case-insensitive, whole-string regex.

    Parameters
    ----------
    value
        A value where ``*`` matches any run of characters and ``?`` one character.

    Returns
    -------
    re.Pattern
        Anchored at both ends, so ``match``, ``search`` and ``fullmatch`` agree.
    """
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in value
    )
    return re.compile(rf"\A(?:{body})\Z", re.IGNORECASE | re.DOTALL)


def fuzzy_name_match(pattern: str, name: str) -> bool:
    """Match a person name the way ``fuzzymatching=true`` does here.

    The match ignores case (both sides are case-folded). The pattern is split
    into words on ``^``, ``=`` and spaces; it matches when every word is a prefix
    of some word of the stored name (split the same way, so any name group
    counts), in any order, and two pattern words may match the same name word.
    ``*`` and ``?`` inside a word keep their wildcard meaning. An empty pattern
    matches every name.

    Parameters
    ----------
    pattern
        The query value, e.g. ``"jo do"`` or ``"Doe^J"``.
    name
        The stored PN value, e.g. ``"Doe^John"``.

    Returns
    -------
    bool
        Whether the name matches.
    """
    words = [w for w in re.split(r"[\^= ]+", name.casefold()) if w]
    for part in re.split(r"[\^= ]+", pattern.casefold()):
        if not part:
            continue
        regex = wildcard_to_regex(part.rstrip("*") + "*")
        if not any(regex.match(word) for word in words):
            return False
    return True
