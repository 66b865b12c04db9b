#!/usr/bin/env python3
"""Invoice a month of a large ledger: 1,000,000 entries across 1,000 accounts.

Builds a fresh SQLite index (the archive's migrations) in a temporary folder, writes a
seeded year of ledger entries (studies, toolset fees, storage, monthly payments) for the
accounts, then times what the billing notebook asks the archive for: every account's
invoice for one month (``server.services.standing.invoices_for``: two indexed scans, then
the pure ``workbench.billing.build_invoice`` per account), and checks that the invoices'
closing balances equal the ledger's sums. Goal: under 30 s on the development machine.

    .venv/bin/python benchmarks/billing.py                   # 1,000,000 entries
    .venv/bin/python benchmarks/billing.py --entries 100000  # smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.db.accounts import accounts  # noqa: E402
from server.db.billing import ledger_entries  # noqa: E402
from server.db.engine import make_engine, upgrade  # noqa: E402
from server.services.standing import invoices_for  # noqa: E402
from workbench.billing import Period, PriceTable  # noqa: E402

GOAL_S = 30.0
YEAR = datetime(2026, 1, 1)


def seed(engine: object, n_accounts: int, n_entries: int, rng: random.Random) -> float:
    """Write the accounts and the entries; seconds taken."""
    start = time.perf_counter()
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(accounts), [
            {"pk": 100 + i, "name": f"Practice {i}", "npi": "", "email": f"a{i}@x.example",
             "state": "active", "state_reason": "", "identity_verified_at": YEAR,
             "payment_token": "", "card_brand": "", "card_last4": "",
             "payment_status": "valid", "payment_reason": "", "created_at": YEAR,
             "updated_at": YEAR} for i in range(n_accounts)])
        batch = []
        for n in range(n_entries):
            account = 100 + rng.randrange(n_accounts)
            at = YEAR + timedelta(seconds=rng.randrange(365 * 86400))
            roll = rng.random()
            kind, amount = (("study", 500) if roll < 0.8 else ("toolset", 100) if roll < 0.9
                            else ("storage", 200) if roll < 0.95 else ("payment", -2500))
            batch.append({"account_pk": account, "at": at, "recorded_at": at, "kind": kind,
                          "amount_cents": amount, "reason": kind, "study_uid": f"2.25.{n}",
                          "idempotency_key": f"{kind}:{n}", "actor": "", "reference": ""})
            if len(batch) == 50_000:
                conn.execute(insert(ledger_entries), batch)
                batch.clear()
        if batch:
            conn.execute(insert(ledger_entries), batch)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--period", default="2026-10")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'index.sqlite'}")
        upgrade(engine)
        took = seed(engine, args.accounts, args.entries, random.Random(11))
        print(f"seeded {args.entries:,} entries for {args.accounts:,} accounts in {took:.1f} s")
        period = Period.parse(args.period)
        start = time.perf_counter()
        with engine.connect() as conn:
            invoices = invoices_for(conn, period, PriceTable())
        elapsed = time.perf_counter() - start
        with engine.connect() as conn:
            sums = dict(conn.execute(
                select(ledger_entries.c.account_pk, func.sum(ledger_entries.c.amount_cents))
                .where(ledger_entries.c.at < period.end)
                .group_by(ledger_entries.c.account_pk)).all())
        engine.dispose()
    wrong = [i.account_pk for i in invoices if i.closing_balance != sums.get(i.account_pk)]
    lines = sum(len(i.lines) for i in invoices)
    met = "yes" if elapsed < GOAL_S and not wrong else "NO"
    print(f"invoiced {len(invoices):,} accounts for {period} ({lines:,} lines) in "
          f"{elapsed:.2f} s; goal < {GOAL_S:.0f} s: {met}")
    if wrong:
        print(f"closing balances differ from the ledger for accounts {wrong[:10]}")
    return 0 if met == "yes" else 1


if __name__ == "__main__":
    sys.exit(main())
