"""The contract of ``verify`` and ``rebuild``, for storages that offer them."""

from __future__ import annotations

import pytest

from credit_usage.domain.ledger import BalanceKey
from credit_usage.ports import Storage
from credit_usage.testing.builders import (
    CYCLE,
    T0,
    append_entries,
    cell_totals,
    make_team,
    reads,
    team_pool,
    usage,
)
from credit_usage.testing.contract._base import _NeedsStorage, _seed_two_teams


class MaintenanceContract(_NeedsStorage):
    """verify and rebuild, for storages that offer them (they are not part of the protocol)."""

    def test_verify_finds_no_drift_after_writes_and_updates(self, storage: Storage) -> None:
        """verify(team_id) finds no drift when every figure came from appends and updates."""
        verify = getattr(storage, "verify", None)
        if verify is None:
            pytest.skip(f"{type(storage).__name__} has no verify()")
        acme, _ = _seed_two_teams(storage)
        append_entries(storage, acme, usage("u2", amount=5, user_id="noa", group_id="support"))
        storage.update_team(make_team(timezone="America/New_York"))
        assert verify("acme") == []
        assert verify("globex") == []

    def test_rebuild_keeps_the_figures_appends_wrote(self, storage: Storage) -> None:
        """rebuild(team_id) derives from the ledger the same figures the appends stored."""
        rebuild = getattr(storage, "rebuild", None)
        if rebuild is None:
            pytest.skip(f"{type(storage).__name__} has no rebuild()")
        _seed_two_teams(storage)
        keys = [team_pool(CYCLE), BalanceKey(CYCLE, "user", "mia", "email")]
        before = (
            cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)),
            cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())),
            reads(storage, "acme").balances(keys),
        )
        rebuild("acme")
        after = (
            cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)),
            cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())),
            reads(storage, "acme").balances(keys),
        )
        assert after == before


# pytest collects the tests of the last base first: listed backwards, they run
# in the order of this module.
