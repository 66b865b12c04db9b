"""Which studies a caller sees, as SQL: the one rule every read path applies.

A study is visible to a principal when

- it belongs to the principal's own account and the principal holds a member role
  (administrator, reading physician, technologist, transcriptionist), or
- it is shared with the principal's user, or with a team in which the user is a reader, or
- its patient folder is shared that way (studies arriving later for the patient too).

Referring physicians / recipients therefore see only what is tagged for them; upload keys
see nothing. Whatever a caller may not see does not exist for it: QIDO leaves it out and
WADO answers 404, exactly as for a study that was never stored.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, and_, false, or_, select

from server.auth.permissions import Principal
from server.db.accounts import shares
from server.db.media import media
from server.db.models import patients, studies


def _granted(principal: Principal) -> ColumnElement[bool] | None:
    grantees = []
    if principal.user_pk is not None:
        grantees.append(shares.c.user_pk == principal.user_pk)
    if principal.reader_teams:
        grantees.append(shares.c.team_pk.in_(principal.reader_teams))
    return or_(*grantees) if grantees else None


def visible_studies(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause over ``studies`` true for the studies ``principal`` may see."""
    clauses: list[ColumnElement[bool]] = []
    if principal.sees_own_account:
        clauses.append(studies.c.account_pk == principal.account_pk)
    granted = _granted(principal)
    if granted is not None:
        clauses.append(studies.c.pk.in_(
            select(shares.c.study_pk).where(shares.c.study_pk.is_not(None), granted)))
        clauses.append(studies.c.patient_pk.in_(
            select(shares.c.patient_pk).where(shares.c.patient_pk.is_not(None), granted)))
    return or_(*clauses) if clauses else false()


def visible_patients(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause over ``patients`` true for the folders ``principal`` sees as a whole
    (its own account's, for member roles; folders shared with it) — what holds files
    attached to a folder rather than to one of its studies."""
    clauses: list[ColumnElement[bool]] = []
    if principal.sees_own_account:
        clauses.append(patients.c.account_pk == principal.account_pk)
    granted = _granted(principal)
    if granted is not None:
        clauses.append(patients.c.pk.in_(
            select(shares.c.patient_pk).where(shares.c.patient_pk.is_not(None), granted)))
    return or_(*clauses) if clauses else false()


def visible_media(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause over ``media``: files of studies the caller sees, and files of
    folders (not of a study) it sees as a whole."""
    return or_(and_(media.c.study_pk.is_not(None), media.c.study_pk.in_(
        select(studies.c.pk).where(visible_studies(principal)))),
        and_(media.c.study_pk.is_(None), media.c.patient_pk.in_(
            select(patients.c.pk).where(visible_patients(principal)))))


def study_is_visible(conn: Connection, principal: Principal, study_uid: str) -> bool:
    """Whether the study with ``study_uid`` exists and ``principal`` may see it."""
    stmt = select(studies.c.pk).where(and_(studies.c.study_uid == study_uid,
                                           visible_studies(principal)))
    return conn.execute(stmt).first() is not None
