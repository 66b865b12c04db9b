"""Who may do what: roles, token scopes, account states -> allowed actions.

Every route names one :class:`Action`; :func:`check` decides. Which *studies* a caller
sees is decided separately, in SQL (``server/db/visibility.py``).

- Roles (PRODUCT.md, People and roles): administrator, reading physician, technologist,
  transcriptionist, referring physician / recipient. A person may hold several.
- Token scopes narrow what a token may do within its user's roles: ``read`` (search,
  view, download), ``write`` (also store and annotate), ``admin`` (everything the roles
  allow). A browser session carries all three.
- Account states: *pending* and *closed* accounts reach nothing but their own account
  page; *suspended* accounts are read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workbench.errors import PermissionDeniedError


class Role(StrEnum):
    """Roles a member can hold."""

    ADMINISTRATOR = "administrator"
    READING_PHYSICIAN = "reading_physician"
    TECHNOLOGIST = "technologist"
    TRANSCRIPTIONIST = "transcriptionist"
    REFERRING_PHYSICIAN = "referring_physician"


class Action(StrEnum):
    """Everything a route can do, named once."""

    STUDY_READ = "study.read"          # search, view, download studies the caller sees
    STUDY_STORE = "study.store"        # STOW-RS, ingest, uploads
    STUDY_DELETE = "study.delete"
    STUDY_SHARE = "study.share"        # tag studies / folders for recipients and teams
    MEMBERS_MANAGE = "members.manage"
    SOURCES_MANAGE = "sources.manage"
    TEAMS_MANAGE = "teams.manage"
    AUDIT_READ = "audit.read"
    ACCOUNT_READ = "account.read"      # own account's state and reasons
    ACCOUNT_UPDATE = "account.update"  # payment method, NPI correction
    SELF = "self"                      # own profile, own tokens, log out
    STAFF = "staff"                    # operator staff: verify, activate, suspend, close
    BILLING = "billing"                # own ledger, invoices, payments, storage terms
    RETENTION = "retention"            # extend storage, legal holds on own studies
    REPORT_WRITE = "report.write"      # start and edit reports, addenda, amendments; dictate
    REPORT_SIGN = "report.sign"        # e-sign (finalise) reports; own signing keys
    REPORT_DISTRIBUTE = "report.distribute"  # send final reports, see the delivery log
    REPORT_TRANSCRIBE = "report.transcribe"  # dictation queue: play, type the text in


MEMBER_ROLES = frozenset({Role.ADMINISTRATOR, Role.READING_PHYSICIAN, Role.TECHNOLOGIST,
                          Role.TRANSCRIPTIONIST})
"""Roles that see every study of their own account (recipients see only shared ones)."""

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMINISTRATOR: frozenset({
        Action.STUDY_READ, Action.STUDY_STORE, Action.STUDY_DELETE, Action.STUDY_SHARE,
        Action.MEMBERS_MANAGE, Action.SOURCES_MANAGE, Action.TEAMS_MANAGE, Action.AUDIT_READ,
        Action.ACCOUNT_UPDATE, Action.BILLING, Action.RETENTION}),
    Role.READING_PHYSICIAN: frozenset({Action.STUDY_READ, Action.STUDY_STORE,
                                       Action.STUDY_SHARE, Action.REPORT_WRITE,
                                       Action.REPORT_SIGN, Action.REPORT_DISTRIBUTE,
                                       Action.REPORT_TRANSCRIBE}),
    Role.TECHNOLOGIST: frozenset({Action.STUDY_READ, Action.STUDY_STORE}),
    Role.TRANSCRIPTIONIST: frozenset({Action.STUDY_READ, Action.REPORT_TRANSCRIBE}),
    Role.REFERRING_PHYSICIAN: frozenset({Action.STUDY_READ}),
}
EVERYONE = frozenset({Action.ACCOUNT_READ, Action.SELF})
SOURCE_ACTIONS = frozenset({Action.STUDY_STORE})
"""An upload key (a source's token) may only store."""
RETRIEVING_SOURCE_ACTIONS = frozenset({Action.STUDY_STORE, Action.STUDY_READ})
"""A source allowed to query and retrieve (``can_retrieve``), over DIMSE only."""

SCOPE_ACTIONS: dict[str, frozenset[Action]] = {
    "read": frozenset({Action.STUDY_READ, Action.ACCOUNT_READ, Action.SELF}),
    "write": frozenset({Action.STUDY_READ, Action.STUDY_STORE, Action.ACCOUNT_READ,
                        Action.SELF, Action.REPORT_WRITE, Action.REPORT_TRANSCRIBE}),
    "admin": frozenset(Action),
}
SCOPES = tuple(SCOPE_ACTIONS)
READ_ONLY = frozenset({Action.STUDY_READ, Action.AUDIT_READ, Action.ACCOUNT_READ,
                       Action.ACCOUNT_UPDATE, Action.BILLING, Action.SELF})
"""What a suspended account may still do (reading, and fixing its payment: paying)."""
UNOPENED = frozenset({Action.ACCOUNT_READ, Action.ACCOUNT_UPDATE, Action.SELF})
"""What a pending account may do: see why it is pending and correct it."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (through a token, a session or the Hub) or a source.

    ``reader_teams`` are the teams whose shares the caller sees; ``sender_teams`` those it
    may upload to.
    """

    user_pk: int | None
    account_pk: int
    account_state: str
    label: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset(SCOPES)
    is_staff: bool = False
    source_pk: int | None = None
    source_team_pk: int | None = None
    reader_teams: tuple[int, ...] = ()
    sender_teams: tuple[int, ...] = ()
    via: str = "token"
    csrf_token: str | None = field(default=None, compare=False)
    source_can_retrieve: bool = False
    """A source's DIMSE association whose source may C-FIND/C-MOVE/C-GET (never set for
    upload keys, which only store)."""

    @property
    def sees_own_account(self) -> bool:
        """Whether every study of the caller's own account is visible to it."""
        if self.source_pk is not None:
            return self.source_can_retrieve
        return bool(self.roles & MEMBER_ROLES)

    def allowed(self) -> frozenset[Action]:
        """The actions this caller may take now."""
        if self.source_pk is not None:
            granted = RETRIEVING_SOURCE_ACTIONS if self.source_can_retrieve else SOURCE_ACTIONS
        else:
            granted = EVERYONE.union(*(ROLE_ACTIONS.get(Role(r), frozenset())
                                       for r in self.roles if r in Role.__members__.values()))
            if self.reader_teams:
                granted = granted | {Action.STUDY_READ}
            if self.sender_teams:
                granted = granted | {Action.STUDY_STORE}
            if self.is_staff:
                granted = granted | {Action.STAFF}
        by_scope = frozenset().union(*(SCOPE_ACTIONS[s] for s in self.scopes
                                       if s in SCOPE_ACTIONS))
        granted = granted & by_scope if self.source_pk is None else granted
        if self.account_state == "suspended":
            granted = granted & (READ_ONLY | {Action.STAFF})
        elif self.account_state != "active":
            granted = granted & (UNOPENED | {Action.STAFF})
        return granted


def check(principal: Principal, action: Action) -> None:
    """Raise :class:`PermissionDeniedError` naming why ``principal`` may not ``action``."""
    if action in principal.allowed():
        return
    state = principal.account_state
    if state == "suspended" and action not in READ_ONLY:
        raise PermissionDeniedError(
            f"the account is suspended and read-only ({action.value} is not allowed) until "
            "the minimum monthly payment is met")
    if state not in ("active", "suspended"):
        raise PermissionDeniedError(
            f"the account is {state}: only its account page is available ({action.value})")
    if principal.source_pk is not None:
        raise PermissionDeniedError(f"a source (upload key or DICOM AE without the query/"
                                    f"retrieve permission) may only store, not {action.value}")
    if not _by_roles(principal, action):
        roles = ", ".join(sorted(principal.roles)) or "none"
        raise PermissionDeniedError(f"{action.value} is not allowed for the roles {roles}")
    raise PermissionDeniedError(
        f"{action.value} is outside this token's scopes ({' '.join(sorted(principal.scopes))})")


def _by_roles(principal: Principal, action: Action) -> bool:
    unscoped = Principal(principal.user_pk, principal.account_pk, "active", principal.label,
                         principal.roles, frozenset(SCOPES), principal.is_staff, None, None,
                         principal.reader_teams, principal.sender_teams)
    return action in unscoped.allowed()
