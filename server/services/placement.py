"""Where stored instances belong: the account that owns new studies, and a team to share with.

The placement is written into each blob's name (``<uuid>.a<account>[t<team>].dcm``) so
that the start-up sweep, which indexes blobs whose commit was lost, puts them where the
original request would have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.auth.permissions import Principal

LOCAL_ACCOUNT = 1
_TAG = re.compile(r"\.a(\d+)(?:t(\d+))?\.dcm$")


@dataclass(frozen=True)
class Placement:
    """Where instances go.

    ``principal`` is who stores them: adding instances to an existing study of another
    account needs that study to be visible to it. None means a trusted caller (the
    start-up sweep, the demo loader).
    """

    account_pk: int = LOCAL_ACCOUNT
    team_pk: int | None = None
    principal: Principal | None = None

    @property
    def tag(self) -> str:
        """The blob-name tag recording this placement."""
        return f"a{self.account_pk}" + (f"t{self.team_pk}" if self.team_pk else "")

    @classmethod
    def from_key(cls, key: str) -> Placement:
        """The placement recorded in a blob key (the local account for untagged keys)."""
        match = _TAG.search(key)
        if match is None:
            return cls()
        team = match.group(2)
        return cls(int(match.group(1)), int(team) if team else None)
