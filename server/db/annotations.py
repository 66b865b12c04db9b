"""Annotations and measurements that readers draw on a study's images.

An annotation belongs to a study and is visible exactly when its study is
(``server/db/visibility.py``). ``points_json`` holds the drawn points as image pixels
``[[row, col], ...]`` (zero-based, integers at pixel centres); ``points_mm_json`` the
same points in patient LPS millimetres when the image has a plane geometry (``null``
for projection images and cine loops); ``measurement_json`` the result the measurement
library computed (quantities with units, the calibration), ``null`` for arrows and text.
See ``server/services/annotation_values.py`` for the JSON shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class AnnotationRow(Base):
    """One annotation (a measurement, an arrow or a text) on one image frame."""

    __tablename__ = "annotations"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.pk", ondelete="CASCADE"),
                                          index=True)
    account_pk: Mapped[int] = mapped_column(Integer, index=True)  # the study's account
    series_uid: Mapped[str] = mapped_column(String(64))
    sop_uid: Mapped[str] = mapped_column(String(64))
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    frame: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    points_json: Mapped[str] = mapped_column(Text)
    points_mm_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    measurement_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    author_user_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


annotation_rows = cast(Table, AnnotationRow.__table__)
