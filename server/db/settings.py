"""Per-user settings kept in the archive: viewing preferences and hanging protocols."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class UserSetting(Base):
    """One named JSON document of a user (``kind``: ``preferences`` or ``protocol``)."""

    __tablename__ = "user_settings"
    __table_args__ = (UniqueConstraint("user_pk", "kind", "name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


user_settings = cast(Table, UserSetting.__table__)
