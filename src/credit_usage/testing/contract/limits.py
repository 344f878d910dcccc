"""The contract of credit limits: stored, replaced and removed by a write's decision."""

from __future__ import annotations

import pytest

from credit_usage.domain.ledger import Batch
from credit_usage.domain.model import CreditLimit
from credit_usage.ports import Decision, Storage, TeamReads
from credit_usage.testing.builders import ledger, make_team, reads, seed_team, usage
from credit_usage.testing.contract._base import _NeedsStorage

MIA_100 = CreditLimit(scope="user", subject_id="mia", credits=100)
MIA_EMAIL_40 = CreditLimit(scope="user", subject_id="mia", credits=40, credit_type="email")
SALES_500 = CreditLimit(scope="group", subject_id="sales", credits=500)


def _set(storage: Storage, *limits: CreditLimit, team_id: str = "acme") -> None:
    decision: Decision[None] = Decision(Batch.empty(), None, set_limits=limits)
    storage.append(team_id, lambda tx: decision)


def _remove(storage: Storage, *limits: CreditLimit, team_id: str = "acme") -> None:
    decision: Decision[None] = Decision(Batch.empty(), None, removed_limits=limits)
    storage.append(team_id, lambda tx: decision)


class LimitsContract(_NeedsStorage):
    """limits(), and the set_limits and removed_limits of a write's decision."""

    def test_a_team_without_limits_lists_none(self, storage: Storage) -> None:
        """A new team has no limits."""
        seed_team(storage)
        assert reads(storage).limits() == []

    def test_limits_read_back_ordered_by_scope_subject_and_credit_type(
        self, storage: Storage
    ) -> None:
        """Every limit set reads back equal, groups before users, all types before one type."""
        seed_team(storage)
        _set(storage, MIA_EMAIL_40, SALES_500, MIA_100)
        assert reads(storage).limits() == [SALES_500, MIA_100, MIA_EMAIL_40]

    def test_the_limits_of_some_subjects(self, storage: Storage) -> None:
        """limits(subject_ids): those users' and groups' limits only, in the same order."""
        seed_team(storage)
        _set(storage, MIA_EMAIL_40, SALES_500, MIA_100)
        assert reads(storage).limits({"mia"}) == [MIA_100, MIA_EMAIL_40]
        assert reads(storage).limits(["sales", "zoe"]) == [SALES_500]
        assert reads(storage).limits({"mia", "sales"}) == [SALES_500, MIA_100, MIA_EMAIL_40]
        assert reads(storage).limits(set()) == []
        many = {f"user-{i}" for i in range(2_000)} | {"mia"}
        assert reads(storage).limits(many) == [MIA_100, MIA_EMAIL_40]

    def test_setting_a_limit_again_replaces_it(self, storage: Storage) -> None:
        """The same scope, subject and credit type: the new credits replace the old."""
        seed_team(storage)
        _set(storage, MIA_100, MIA_EMAIL_40)
        lowered = CreditLimit(scope="user", subject_id="mia", credits=7)
        _set(storage, lowered)
        assert reads(storage).limits() == [lowered, MIA_EMAIL_40]

    def test_a_removed_limit_is_matched_on_scope_subject_and_credit_type(
        self, storage: Storage
    ) -> None:
        """Removing the all-types limit leaves the per-type one, whatever credits it names."""
        seed_team(storage)
        _set(storage, MIA_100, MIA_EMAIL_40, SALES_500)
        _remove(storage, CreditLimit(scope="user", subject_id="mia", credits=0))
        assert reads(storage).limits() == [SALES_500, MIA_EMAIL_40]

    def test_limits_and_entries_of_one_decision_land_together_or_not_at_all(
        self, storage: Storage
    ) -> None:
        """A plan that raises writes neither its batch nor its limits."""
        team = seed_team(storage)

        def refused(tx: TeamReads) -> Decision[None]:
            raise KeyError("refused")

        with pytest.raises(KeyError):
            storage.append("acme", refused)
        decision: Decision[str] = Decision(
            Batch.of(team, [usage("u1")]), "written", set_limits=(MIA_100,)
        )
        assert storage.append("acme", lambda tx: decision) == "written"
        assert reads(storage).limits() == [MIA_100]
        assert [e.entry_id for e in ledger(storage)] == ["u1"]

    def test_limits_are_kept_per_team(self, storage: Storage) -> None:
        """The same user id in two teams has two separate limits."""
        seed_team(storage)
        seed_team(storage, make_team("globex"))
        _set(storage, MIA_100)
        _set(storage, SALES_500, team_id="globex")
        assert reads(storage).limits() == [MIA_100]
        assert reads(storage, "globex").limits() == [SALES_500]
        _remove(storage, MIA_100, team_id="globex")
        assert reads(storage).limits() == [MIA_100]
