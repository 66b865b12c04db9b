"""The hanging protocol language: how a kind of study is laid out on screen.

A protocol has *matching rules* (which studies it is for, with weights; a failed required
rule excludes it), *series selectors* (named choices of a series of the current study or
of a prior), *stages* (grid layouts whose viewports show selected series with options)
and *synchronisation groups* (viewports that scroll, window or zoom together). Protocols
are YAML or JSON validated by these pydantic models; ``workbench/hanging/protocols/``
holds the defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Operator = Literal["equals", "contains", "icontains", "startsWith", "range", "greater",
                   "less", "notNull"]


class Rule(BaseModel):
    """One condition on a study or series attribute (DICOM keyword).

    ``equals`` compares exactly (any of a multi-valued attribute's values, e.g.
    ModalitiesInStudy); ``contains`` is case-sensitive, ``icontains`` not; ``range`` takes
    ``[low, high]`` inclusive (numbers, or DA/TM strings); ``notNull`` needs a value.
    Pseudo-attributes: ``NumberOfFrames`` (of a series' first instance),
    ``Reconstructable`` (a series of at least 3 slices with geometry).
    """

    model_config = ConfigDict(extra="forbid")

    attribute: str = Field(min_length=1, max_length=64)
    operator: Operator = "equals"
    value: str | float | list[str | float] | None = None
    weight: float = Field(default=1.0, ge=0)
    required: bool = False

    @model_validator(mode="after")
    def _value_fits(self) -> Rule:
        if self.operator == "range":
            if not isinstance(self.value, list) or len(self.value) != 2:
                raise ValueError(f"rule on {self.attribute}: range needs [low, high]")
        elif self.operator != "notNull" and self.value is None:
            raise ValueError(f"rule on {self.attribute}: {self.operator} needs a value")
        return self


class SeriesSelector(BaseModel):
    """A named choice of one series: of the current study or of the n-th prior."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    study: Literal["current", "prior"] = "current"
    prior_index: int = Field(default=0, ge=0, description="0: the most recent prior")
    rules: list[Rule] = Field(default_factory=list)
    occurrence: int = Field(default=0, ge=0, description="the n-th best matching series")


class Viewport(BaseModel):
    """One cell of a stage's grid."""

    model_config = ConfigDict(extra="forbid")

    series: str = Field(description="a series selector's name")
    orientation: Literal["acquired", "axial", "coronal", "sagittal"] = "acquired"
    window_preset: str | None = Field(default=None, description="e.g. lung, brain, bone")
    initial_slice: Literal["first", "middle", "last"] | int = "first"
    invert: bool = False


class SyncGroup(BaseModel):
    """Viewports (indices in the stage) that follow each other."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["scroll", "window", "zoom"]
    viewports: list[int] = Field(min_length=2)


class Stage(BaseModel):
    """A grid layout; the viewer switches stages with the keyboard."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    rows: int = Field(default=1, ge=1, le=4)
    columns: int = Field(default=1, ge=1, le=4)
    viewports: list[Viewport] = Field(min_length=1)
    sync: list[SyncGroup] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_grid(self) -> Stage:
        if len(self.viewports) > self.rows * self.columns:
            raise ValueError(f"stage {self.name!r}: {len(self.viewports)} viewports do not fit "
                             f"a {self.rows}x{self.columns} grid")
        for group in self.sync:
            wrong = [i for i in group.viewports if not 0 <= i < len(self.viewports)]
            if wrong:
                raise ValueError(f"stage {self.name!r}: sync group names viewports {wrong} "
                                 "that do not exist")
        return self


class HangingProtocol(BaseModel):
    """A whole protocol."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    rules: list[Rule] = Field(default_factory=list, description="study matching rules")
    priors: int = Field(default=0, ge=0, le=5, description="comparable priors to load")
    series: list[SeriesSelector] = Field(min_length=1)
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _selectors_exist(self) -> HangingProtocol:
        names = {s.name for s in self.series}
        if len(names) != len(self.series):
            raise ValueError(f"protocol {self.name!r}: series selector names repeat")
        for stage in self.stages:
            for viewport in stage.viewports:
                if viewport.series not in names:
                    raise ValueError(f"protocol {self.name!r}, stage {stage.name!r}: no series "
                                     f"selector named {viewport.series!r}")
        for selector in self.series:
            if selector.study == "prior" and selector.prior_index >= self.priors:
                raise ValueError(f"protocol {self.name!r}: selector {selector.name!r} uses "
                                 f"prior {selector.prior_index} but priors={self.priors}")
        return self


class ViewingPreferences(BaseModel):
    """A reading physician's preferences, stored in the archive per user."""

    model_config = ConfigDict(extra="forbid")

    window_presets: dict[str, str] = Field(
        default_factory=dict, description="modality -> default window preset name")
    layout: str = Field(default="1x1", pattern=r"^[1-4]x[1-4]$")
    overlay: Literal["none", "minimal", "full"] = "minimal"
    open_key_images_first: bool = False
    preferred_protocols: list[str] = Field(default_factory=list, max_length=50)
