"""Request bodies of the report routes (``server/routes/reports.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

Values = Annotated[dict[str, Any], Field(default_factory=dict, description="field id -> value")]


class NewReport(BaseModel):
    """A new report: template (default: by preference and modality) and values."""

    template: str | None = Field(None, max_length=64, description="default: by preference "
                                 "and modality")
    values: Values


class Edit(BaseModel):
    """Values of the open version; ``expected_version`` guards against lost updates."""

    values: Values
    template: str | None = Field(None, max_length=64)
    expected_version: int | None = Field(None, ge=1, le=2**31)


class Signing(BaseModel):
    """The physician's password, asked again to sign."""

    password: str | None = Field(None, max_length=1024)


class Addendum(BaseModel):
    """Text appended to a signed report."""

    text: str = Field(min_length=1, max_length=100_000)
    reason: str = Field("", max_length=2000)


class Amendment(BaseModel):
    """Replacement values of a signed report, with the reason."""

    values: Values
    template: str | None = Field(None, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class RecipientSpec(BaseModel):
    """A member (``user_id``) or a fax number with a name."""

    user_id: int | None = Field(None, ge=1, le=2**53)
    fax: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=200)


class Distribute(BaseModel):
    """Recipients; none: the users the study is shared with."""

    recipients: list[RecipientSpec] = Field(default_factory=list, max_length=100)


class Transcript(BaseModel):
    """Typed dictation, the report (default: the study's open one) and text field."""

    text: str = Field(min_length=1, max_length=100_000)
    report_id: str | None = Field(None, max_length=32)
    field: str | None = Field(None, max_length=64)
