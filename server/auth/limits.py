"""Login throttling: per client address (rate) and per user (lockout).

- An address may try :data:`PER_ADDRESS` logins per :data:`WINDOW_S` seconds; more get
  429 with Retry-After. This lives in process memory (per worker), which bounds guessing
  speed without a shared store.
- A user's consecutive failures are counted in the index; :data:`LOCKOUT_AFTER` of them
  lock the user for :data:`LOCKOUT_S` seconds, across every worker.
"""

from __future__ import annotations

import threading
import time
from collections import deque

PER_ADDRESS = 20
WINDOW_S = 60.0
LOCKOUT_AFTER = 5
LOCKOUT_S = 15 * 60


class LoginLimiter:
    """Sliding-window counter of login attempts per client address."""

    def __init__(self, per_address: int = PER_ADDRESS, window_s: float = WINDOW_S) -> None:
        self.per_address = per_address
        self.window_s = window_s
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Record an attempt from ``address``; seconds to wait if over the limit, else 0."""
        now = time.monotonic()
        with self._lock:
            recent = self._attempts.setdefault(address, deque())
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            if len(recent) >= self.per_address:
                return max(1, int(recent[0] + self.window_s - now) + 1)
            recent.append(now)
            if len(self._attempts) > 100_000:  # forget idle addresses
                self._attempts = {k: v for k, v in self._attempts.items() if v}
            return 0
