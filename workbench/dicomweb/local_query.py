"""QIDO-RS matching applied to datasets in memory.

The archive's index runs these rules as SQL (``server/db/qido.py``); the functions
here run them in Python for :class:`~workbench.dicomweb.local_archive.LocalFolderArchiveClient`
and anything else that filters headers: single values match exactly (Person Names
ignoring case), ``*``/``?`` wildcards (case-insensitive for Person Names only),
DA/TM ranges with open ends, UID lists, and fuzzy Person Name matching (PS3.4 C.2.2.2,
:func:`workbench.dicomweb.query.fuzzy_name_match`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from workbench.dicom.read import text
from workbench.dicomweb.query import Match, QidoQuery, fuzzy_name_match, wildcard_to_regex

__all__ = ["attribute_vr", "dataset_matches", "modalities_match", "value_matches"]


def attribute_vr(tag: int) -> str:
    """The dictionary VR of ``tag`` (the first one of ``"US or SS"``), ``"UN"`` if unknown."""
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        return "UN"


def value_matches(match: Match, value: str, vr: str, fuzzy: bool = False) -> bool:
    """Whether an attribute's value satisfies one matching key.

    Parameters
    ----------
    match
        A parsed matching key (see :func:`workbench.dicomweb.query.parse_qido`).
    value
        The attribute's value as text, multiple values joined by ``\\``; ``""``
        when absent.
    vr
        The attribute's VR.
    fuzzy
        ``fuzzymatching=true``: Person Names match by word prefixes.

    Returns
    -------
    bool
    """
    kind = match.kind
    if kind == "universal":
        return True
    if vr == "PN" and fuzzy and kind in ("single", "wildcard"):
        return fuzzy_name_match(match.value, value)
    if kind == "list":
        return value in match.values
    if kind == "range":
        low_ok = match.low is None or value >= match.low
        high_ok = match.high is None or value[: len(match.high)] <= match.high
        return value != "" and low_ok and high_ok
    if kind == "wildcard":
        regex = wildcard_to_regex(match.value)
        if vr != "PN":  # only person names match case-insensitively
            regex = re.compile(regex.pattern, re.DOTALL)
        return regex.match(value) is not None
    if vr == "IS":
        try:
            return int(value) == int(match.value)
        except ValueError:
            return False
    if vr == "PN":
        return value.lower() == match.value.lower()
    return value == match.value


def modalities_match(match: Match, modalities: Sequence[str]) -> bool:
    """ModalitiesInStudy: whether any of a study's modalities is one asked for.

    A value holding several modalities (``CT\\MR`` or ``CT,MR``) asks for any of them.
    """
    if match.kind == "universal":
        return True
    if match.kind == "wildcard":
        regex = re.compile(wildcard_to_regex(match.value).pattern, re.DOTALL)
        return any(regex.match(modality) for modality in modalities)
    wanted = set(match.values) | set(re.split(r"[\\,]", match.value))
    return any(modality in wanted for modality in modalities)


def dataset_matches(query: QidoQuery, header: Dataset, modalities: Sequence[str] = ()) -> bool:
    """Whether ``header`` satisfies every matching key of ``query``.

    Parameters
    ----------
    query
        The parsed query.
    header
        A dataset holding the attributes matched (for a study or series, any of its
        instances' headers).
    modalities
        The study's modalities, for a ModalitiesInStudy key.

    Returns
    -------
    bool
    """
    for match in query.matches:
        if match.keyword == "ModalitiesInStudy":
            if not modalities_match(match, modalities):
                return False
            continue
        value = text(header, match.keyword, limit=1 << 16)
        if not value_matches(match, value, attribute_vr(match.tag), query.fuzzy):
            return False
    return True
