"""Hanging protocols and priors: the study opens the way the physician reads.

>>> [p.name for p in default_protocols()][:2]
['CT chest with prior', 'MR brain']
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from workbench.hanging.matching import Hanging, Match, best_protocol, hang, score, select_series
from workbench.hanging.priors import comparable, find_priors
from workbench.hanging.schema import (
    HangingProtocol,
    Rule,
    SeriesSelector,
    Stage,
    SyncGroup,
    ViewingPreferences,
    Viewport,
)
from workbench.hanging.study import SeriesInfo, StudyInfo

__all__ = [
    "Hanging", "HangingProtocol", "Match", "Rule", "SeriesInfo", "SeriesSelector", "Stage",
    "StudyInfo", "SyncGroup", "ViewingPreferences", "Viewport", "best_protocol", "comparable",
    "default_protocols", "find_priors", "hang", "load_protocol", "parse_protocol", "score",
    "select_series",
]

DEFAULT_ORDER = ("ct-chest", "mr-brain", "mammography", "chest-xray", "echo", "xa",
                 "nm-gated-spect")


def parse_protocol(text: str, source: str = "protocol") -> HangingProtocol:
    """A protocol from YAML or JSON text; ``ValueError`` naming what is wrong."""
    try:
        data = yaml.safe_load(text) if not text.lstrip().startswith("{") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(f"{source}: not valid YAML/JSON: {exc}") from None
    try:
        return HangingProtocol.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"{source}: {problems}") from None


def load_protocol(path: Path) -> HangingProtocol:
    """A protocol from a ``.yaml`` / ``.json`` file."""
    return parse_protocol(path.read_text(encoding="utf-8"), str(path))


def default_protocols() -> list[HangingProtocol]:
    """The protocols shipped with workbench, in matching order."""
    folder = resources.files("workbench.hanging") / "protocols"
    return [parse_protocol((folder / f"{name}.yaml").read_text(encoding="utf-8"), name)
            for name in DEFAULT_ORDER]
