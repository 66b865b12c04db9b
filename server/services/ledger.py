"""The billing ledger: append-only entries, each written once under its idempotency key.

Who pays: accounts that signed up and were activated (``identity_verified_at`` set). The
installation's own practice (account 1, created by the migrations) is never billed.

What is written, and the key that makes it happen once per account:

- ``startup``: the start-up fee, dated at activation (``startup``);
- ``study``: each stored study at its price (``study:<uid>``; a study stored again after
  the purge deleted it is a new receipt, ``study:<uid>#<n>``);
- ``toolset``: the Advanced Toolset fee, once per study whose content shows a report,
  dictation audio, an annotation, a key image or an uploaded document
  (``toolset:<uid>``); :func:`record_toolset_use` is what reports, media and annotation
  code calls when they add such content outside DICOM;
- ``storage``, ``payment``, ``credit``: extensions, payments and credits, keyed by the
  caller's idempotency key.

:class:`LedgerHandlers` writes the ``study`` and ``toolset`` entries from "instance
stored" events; it reads first and takes the write lock only when something is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from server.auth.tokens import now_utc
from server.config import Settings
from server.db.accounts import accounts
from server.db.billing import ledger_entries, study_retention
from server.db.engine import write_transaction
from server.db.models import instances, series, studies
from workbench.billing import EntryKind, LedgerEntry, PriceTable, signed_amount
from workbench.retention import INCLUDED_MONTHS
from workbench.toolset import UPLOAD_TYPE_FEATURES, ToolsetFeature, toolset_features

log = logging.getLogger(__name__)


def load_prices(settings: Settings) -> PriceTable:
    """The configured price table (``WORKBENCH_PRICES_FILE``) or the defaults."""
    return _prices_from(settings.prices_file)


@lru_cache(maxsize=4)
def _prices_from(path: Path | None) -> PriceTable:
    if path is None:
        return PriceTable()
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the price table must be a mapping of price names")
    return PriceTable.from_mapping(data)


def append(conn: Connection, account_pk: int, kind: EntryKind, cents: int, *, key: str,
           reason: str, study_uid: str = "", at: datetime | None = None, actor: str = "",
           reference: str = "") -> bool:
    """Write one entry unless ``key`` is used already for the account; True if written.

    ``cents`` is the unsigned amount (0 allowed for charges); the sign follows ``kind``.
    """
    amount = 0 if cents == 0 and kind in _ZERO_OK else signed_amount(kind, cents)
    now = now_utc()
    values = {"account_pk": account_pk, "at": at or now, "recorded_at": now,
              "kind": str(kind), "amount_cents": amount, "reason": reason[:2000],
              "study_uid": study_uid, "idempotency_key": key[:200], "actor": actor[:300],
              "reference": reference[:200]}
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = make(ledger_entries).values(**values).on_conflict_do_nothing(
            index_elements=["account_pk", "idempotency_key"])
        return bool(conn.execute(stmt).rowcount)
    if has_entry(conn, account_pk, key):
        return False
    conn.execute(insert(ledger_entries).values(**values))
    return True


_ZERO_OK = frozenset({EntryKind.STUDY, EntryKind.TOOLSET, EntryKind.STORAGE})


def has_entry(conn: Connection, account_pk: int, key: str) -> bool:
    """Whether the account's ledger holds an entry under ``key``."""
    return conn.execute(select(ledger_entries.c.pk).where(
        ledger_entries.c.account_pk == account_pk,
        ledger_entries.c.idempotency_key == key)).first() is not None


def billable_since(conn: Connection, account_pk: int) -> datetime | None:
    """When the account was activated after sign-up; None for an account not billed."""
    value = conn.execute(select(accounts.c.identity_verified_at)
                         .where(accounts.c.pk == account_pk)).scalar()
    return value if isinstance(value, datetime) else None


def charge_startup(conn: Connection, account_pk: int, prices: PriceTable) -> bool:
    """Charge the start-up fee of an activated account once, dated at its activation."""
    since = billable_since(conn, account_pk)
    if since is None:
        return False
    return append(conn, account_pk, EntryKind.STARTUP, prices.startup_fee, key="startup",
                  reason="start-up fee", at=since)


def charge_pending_startups(conn: Connection, prices: PriceTable) -> int:
    """Charge the start-up fee of every activated account that has none yet; how many."""
    charged = select(ledger_entries.c.account_pk).where(
        ledger_entries.c.idempotency_key == "startup")
    pks = conn.execute(select(accounts.c.pk).where(
        accounts.c.identity_verified_at.is_not(None), accounts.c.pk.not_in(charged))).scalars()
    return sum(charge_startup(conn, int(pk), prices) for pk in pks)


def ensure_startup_fees(engine: Engine, prices: PriceTable, account_pk: int | None = None
                        ) -> None:
    """Write the start-up fee of activated accounts that lack it (one read when none do).

    Activation happens in the accounts service; billing reads and events call this so
    that the fee, dated at activation, is in the ledger before anyone looks.
    """
    charged = select(ledger_entries.c.account_pk).where(
        ledger_entries.c.idempotency_key == "startup")
    stmt = select(accounts.c.pk).where(accounts.c.identity_verified_at.is_not(None),
                                       accounts.c.pk.not_in(charged))
    if account_pk is not None:
        stmt = stmt.where(accounts.c.pk == account_pk)
    with engine.connect() as conn:
        if conn.execute(stmt.limit(1)).first() is None:
            return
    with write_transaction(engine) as conn:
        if account_pk is None:
            charge_pending_startups(conn, prices)
        else:
            charge_startup(conn, account_pk, prices)


def _receipt_key(prefix: str, study_uid: str, receipt: int) -> str:
    return f"{prefix}:{study_uid}" + (f"#{receipt}" if receipt else "")


def _receipt(conn: Connection, study_uid: str) -> int:
    value = conn.execute(select(study_retention.c.receipt)
                         .where(study_retention.c.study_uid == study_uid)).scalar()
    return int(value or 0)


def study_content(conn: Connection, study_uid: str) -> tuple[Any, list[str], list[str]]:
    """The study row, its modalities and its instances' SOP classes (row None if absent)."""
    study = conn.execute(select(studies.c.pk, studies.c.account_pk, studies.c.created_at)
                         .where(studies.c.study_uid == study_uid)).first()
    if study is None:
        return None, [], []
    modalities = sorted({m for m in conn.execute(select(series.c.modality).where(
        series.c.study_pk == study.pk)).scalars() if m})
    classes = list(conn.execute(select(instances.c.sop_class_uid).distinct()
                                .where(instances.c.study_pk == study.pk)).scalars())
    return study, modalities, classes


def charge_study(conn: Connection, study_uid: str, prices: PriceTable) -> bool:
    """Charge a stored study at the price of its modalities (once per receipt)."""
    study, modalities, classes = study_content(conn, study_uid)
    if study is None or billable_since(conn, study.account_pk) is None:
        return False
    charge_startup(conn, study.account_pk, prices)
    receipt = _receipt(conn, study_uid)
    written = append(conn, study.account_pk, EntryKind.STUDY, prices.study_price(modalities),
                     key=_receipt_key("study", study_uid, receipt), study_uid=study_uid,
                     reason=f"stored study ({' '.join(modalities) or 'no modality'})",
                     at=study.created_at)
    features = toolset_features(classes, modalities)
    if features:
        record_toolset_use(conn, study_uid, features, prices)
    return written


def record_toolset_use(conn: Connection, study_uid: str, features: Iterable[ToolsetFeature],
                       prices: PriceTable) -> bool:
    """Charge the Advanced Toolset fee of a study that gained toolset content (once).

    Reports, dictation, annotation, key image and media code call this, in their own
    write transaction, when they add such content to ``study_uid`` outside DICOM.

    Returns
    -------
    bool
        True when the fee was charged now; False when it was charged before, the study
        is absent, or its account is not billed.
    """
    found = sorted(str(f) for f in features)
    if not found:
        return False
    study = conn.execute(select(studies.c.account_pk).where(studies.c.study_uid == study_uid)
                         ).first()
    if study is None or billable_since(conn, study.account_pk) is None:
        return False
    key = _receipt_key("toolset", study_uid, _receipt(conn, study_uid))
    return append(conn, study.account_pk, EntryKind.TOOLSET, prices.toolset_fee, key=key,
                  study_uid=study_uid, reason="Advanced Toolset: " + ", ".join(found))


def note_receipt(conn: Connection, study_uid: str) -> None:
    """A study stored again after the purge deleted it starts a new storage term."""
    row = conn.execute(select(study_retention).where(
        study_retention.c.study_uid == study_uid)).first()
    if row is None or row.purged_at is None or row.pending_blobs:
        return
    created = conn.execute(select(studies.c.created_at).where(
        studies.c.study_uid == study_uid)).scalar()
    if created is None:
        return
    conn.execute(study_retention.update().where(study_retention.c.pk == row.pk).values(
        received_at=created, receipt=row.receipt + 1, paid_months=INCLUDED_MONTHS,
        purged_at=None, updated_at=now_utc()))


class LedgerHandlers:
    """Event handlers that write a study's charges after ingest (idempotent, retried)."""

    def __init__(self, engine: Engine, prices: PriceTable) -> None:
        self.engine = engine
        self.prices = prices
        self._charged: set[tuple[str, int]] = set()  # (study, receipt) known to be charged

    def on_instance_stored(self, payload: dict[str, Any]) -> None:
        """Charge the study once, and the toolset fee once its content calls for it.

        The instances of a study arrive one event each: once its charge is known to be
        written, an instance that brings no toolset content costs one indexed lookup.
        """
        study_uid = str(payload["study"])
        if payload.get("sop_class") is not None and not toolset_features(
                [str(payload["sop_class"])], [str(payload.get("modality") or "")]):
            with self.engine.connect() as conn:
                term = conn.execute(select(study_retention.c.receipt,
                                           study_retention.c.purged_at)
                                    .where(study_retention.c.study_uid == study_uid)).first()
            purged = term is not None and term.purged_at is not None
            known = (study_uid, int(term.receipt) if term is not None else 0)
            if known in self._charged and not purged:  # stored again after a purge: charge
                return
        else:
            known = None
        with self.engine.connect() as conn:
            need_study, features = self._missing(conn, study_uid, str(payload.get("instance", "")))
        if need_study or features:
            with write_transaction(self.engine) as conn:
                note_receipt(conn, study_uid)
                if need_study:
                    charge_study(conn, study_uid, self.prices)
                if features:
                    record_toolset_use(conn, study_uid, features, self.prices)
        if known is not None:
            if len(self._charged) > 100_000:
                self._charged.clear()
            with self.engine.connect() as conn:
                self._charged.add((study_uid, _receipt(conn, study_uid)))

    def on_instances_stored(self, payloads: list[dict[str, Any]]) -> None:
        """:meth:`on_instance_stored` for events queued together.

        An instance without toolset content can only make its study's charge due, so
        one such instance per study stands for all of them: a batch of a study's slices
        costs one lookup.
        """
        plain: set[str] = set()
        for payload in payloads:
            study_uid = str(payload["study"])
            if payload.get("sop_class") is not None and not toolset_features(
                    [str(payload["sop_class"])], [str(payload.get("modality") or "")]):
                if study_uid in plain:
                    continue
                plain.add(study_uid)
            self.on_instance_stored(payload)

    def on_media_stored(self, payload: dict[str, Any]) -> None:
        """An uploaded document or audio clip in a study: the toolset fee (once)."""
        feature = UPLOAD_TYPE_FEATURES.get(str(payload.get("upload_type", "")))
        study_uid = payload.get("study")
        if feature is None or not study_uid:
            return
        with write_transaction(self.engine) as conn:
            record_toolset_use(conn, str(study_uid), [feature], self.prices)

    def toolset_handler(self, feature: ToolsetFeature) -> Callable[[dict[str, Any]], None]:
        """A handler for events that add ``feature`` content to ``payload["study"]``
        (a report created, dictation audio stored)."""

        def handler(payload: dict[str, Any]) -> None:
            study_uid = payload.get("study")
            if study_uid:
                with write_transaction(self.engine) as conn:
                    record_toolset_use(conn, str(study_uid), [feature], self.prices)

        handler.__name__ = f"charge_toolset_{feature.name.lower()}"
        return handler

    @staticmethod
    def _missing(conn: Connection, study_uid: str, sop_uid: str
                 ) -> tuple[bool, frozenset[ToolsetFeature]]:
        """Whether the study charge is missing; the toolset features still to charge.

        Looks at the one stored instance only, so a study of many instances costs a few
        indexed lookups per instance.
        """
        study = conn.execute(select(studies.c.account_pk).where(
            studies.c.study_uid == study_uid)).first()
        if study is None or billable_since(conn, study.account_pk) is None:
            return False, frozenset()
        retention = conn.execute(select(study_retention.c.receipt, study_retention.c.purged_at)
                                 .where(study_retention.c.study_uid == study_uid)).first()
        if retention is not None and retention.purged_at is not None:
            return True, frozenset()  # stored again after a purge: a new receipt
        receipt = int(retention.receipt) if retention is not None else 0
        need_study = not has_entry(conn, study.account_pk,
                                   _receipt_key("study", study_uid, receipt))
        item = conn.execute(select(instances.c.sop_class_uid, series.c.modality)
                            .join(series, instances.c.series_pk == series.c.pk)
                            .where(instances.c.sop_uid == sop_uid)).first()
        features = (toolset_features([item.sop_class_uid], [item.modality or ""])
                    if item is not None else frozenset())
        if features and has_entry(conn, study.account_pk,
                                  _receipt_key("toolset", study_uid, receipt)):
            features = frozenset()
        return need_study, features


def entries(conn: Connection, account_pk: int, start: datetime | None = None,
            end: datetime | None = None) -> list[LedgerEntry]:
    """An account's entries with ``start <= at < end``, oldest first."""
    stmt = select(ledger_entries).where(ledger_entries.c.account_pk == account_pk)
    if start is not None:
        stmt = stmt.where(ledger_entries.c.at >= start)
    if end is not None:
        stmt = stmt.where(ledger_entries.c.at < end)
    return [to_entry(r) for r in conn.execute(stmt.order_by(ledger_entries.c.at,
                                                           ledger_entries.c.pk))]


def to_entry(row: Any) -> LedgerEntry:
    """A ledger row as the pure :class:`workbench.billing.LedgerEntry`."""
    return LedgerEntry(row.at, EntryKind(row.kind), int(row.amount_cents), row.reason,
                       row.study_uid, row.idempotency_key)


def balance(conn: Connection, account_pk: int, before: datetime | None = None) -> int:
    """Sum of the account's entries (before ``before`` when given): what it owes."""
    stmt = select(func.coalesce(func.sum(ledger_entries.c.amount_cents), 0)).where(
        ledger_entries.c.account_pk == account_pk)
    if before is not None:
        stmt = stmt.where(ledger_entries.c.at < before)
    return int(conn.execute(stmt).scalar() or 0)
