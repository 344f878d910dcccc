"""A configurable product: features declared per team, plans named by the host."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pandas as pd
import pytest

from credit_usage import (
    DEFAULT_FEATURES,
    CreditUsage,
    DateRange,
    Feature,
    FeatureSpec,
    LedgerEntry,
    PlanNotEligibleError,
    SqlStorage,
    Storage,
    ValidationError,
)
from credit_usage.domain.model import MAX_FEATURES
from credit_usage.testing.builders import make_member
from tests.conftest import NOW, Clock, make_team

SEARCH = FeatureSpec(value="search", label="Search")
ENRICH = FeatureSpec(value="enrich", label="Enrichment")
EXPORTS = FeatureSpec(value="exports", label="=Exports")
OWN_FEATURES = (ENRICH, SEARCH, EXPORTS)
PERIOD = DateRange(first=NOW.date(), last=NOW.date())


def product_app(storage: Storage, **settings: object) -> CreditUsage:
    """Team acme with its own three features; admin Ada, member Mia."""
    app = CreditUsage(storage=storage, clock=Clock(NOW), **settings)  # type: ignore[arg-type]
    app.create_team(make_team(features=OWN_FEATURES))
    app.add_member(make_member("ada", role="admin"))
    app.add_member(make_member("mia"))
    return app


def spend(app: CreditUsage, entry_id: str, feature: str, amount: int = 1) -> LedgerEntry:
    return app.record_usage(
        "acme", "mia", feature=feature, credit_type="email", amount=amount,
        occurred_at=NOW, entry_id=entry_id,
    )  # fmt: skip


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


class TestDeclaringFeatures:
    """A team's features are slugs with labels, declared once, in order."""

    def test_the_defaults_are_the_four_of_the_help_page(self) -> None:
        """Platform, Extension, API and Workspace, named by the Feature constants."""
        assert [(f.value, f.label) for f in DEFAULT_FEATURES] == [
            (Feature.PLATFORM, "Platform"),
            (Feature.EXTENSION, "Extension"),
            (Feature.API, "API"),
            (Feature.WORKSPACE, "Workspace"),
        ]
        assert make_team().features == DEFAULT_FEATURES

    @pytest.mark.parametrize(
        ("features", "message"),
        [
            ((SEARCH, FeatureSpec(value="search", label="Other")), "repeat a value"),
            ((SEARCH, FeatureSpec(value="other", label="Search")), "repeat a label"),
            ((), "at least one"),
            (("search",), "FeatureSpec"),
            ("search", "sequence"),
            (
                tuple(FeatureSpec(value=f"f{i}", label=f"F{i}") for i in range(MAX_FEATURES + 1)),
                "at most",
            ),
        ],
    )
    def test_a_bad_feature_list_is_refused(self, features: object, message: str) -> None:
        """Duplicates, nothing at all, or values that are no FeatureSpec: ValidationError."""
        with pytest.raises(ValidationError, match=message):
            make_team(features=features)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("value", "label"), [("Search", "Search"), ("search", ""), ("search", "   "), ("", "S")]
    )
    def test_a_feature_needs_a_slug_and_a_label(self, value: str, label: str) -> None:
        """The value is a slug; the label non-empty text."""
        with pytest.raises(ValidationError):
            FeatureSpec(value=value, label=label)


class TestRecordingAgainstTheDeclaredFeatures:
    """Usage names one of the team's features; any other is refused, nothing written."""

    def test_an_undeclared_feature_is_refused_naming_the_declared_ones(
        self, storage: Storage
    ) -> None:
        """ "api" is not one of this team's features: the message lists enrich, search, exports."""
        app = product_app(storage)
        with pytest.raises(ValidationError, match=r"'api'.*enrich, search, exports"):
            spend(app, "e1", "api")
        with pytest.raises(ValidationError, match="'api'"):
            app.record_many([_entry("m1", "api")])
        assert app.snapshot("ada", "acme").used == 0

    def test_a_declared_feature_is_recorded(self, storage: Storage) -> None:
        """Usage of a declared feature lands, stored as its slug."""
        app = product_app(storage)
        assert spend(app, "e1", "search", 3).feature == "search"
        assert app.record_many([_entry("m1", "enrich")]) == 1
        assert app.snapshot("ada", "acme").used == 4

    def test_the_feature_constants_still_work_on_the_default_features(
        self, storage: Storage
    ) -> None:
        """Feature.API names the default "api" feature."""
        app = CreditUsage(storage=storage, clock=Clock(NOW))
        app.create_team(make_team())
        app.add_member(make_member("mia"))
        entry = app.record_usage(
            "acme", "mia", feature=Feature.API, credit_type="email", amount=1,
            occurred_at=NOW, entry_id="e1",
        )  # fmt: skip
        assert entry.feature == "api"
        assert type(entry.feature) is str


class TestReportsFollowTheTeamsFeatures:
    """Breakdowns, CSV columns and data frames follow the declared features in order."""

    def test_breakdowns_list_the_features_in_declared_order(self, storage: Storage) -> None:
        """by_feature of a snapshot row and a report row: enrich, search, exports."""
        app = product_app(storage)
        spend(app, "e1", "search", 3)
        member = next(m for m in app.snapshot("ada", "acme").members if m.user_id == "mia")
        assert list(member.by_feature.items()) == [("enrich", 0), ("search", 3), ("exports", 0)]
        report = app.usage_report("ada", "acme", PERIOD)
        assert report.features == OWN_FEATURES
        assert [list(r.by_feature) for r in report.rows] == [["enrich", "search", "exports"]] * 4

    def test_the_wide_csv_has_a_column_per_feature_by_label_made_safe(
        self, storage: Storage
    ) -> None:
        """Columns Enrichment, Search, '=Exports: the label of a formula is neutralised."""
        app = product_app(storage)
        spend(app, "e1", "exports", 2)
        out = io.StringIO(newline="")
        app.export_csv("ada", "acme", PERIOD, out)
        header, *rows = csv_rows(out.getvalue())
        assert header == [
            "user_id", "name", "email", "group", "role", "credit_type",
            "Enrichment", "Search", "'=Exports", "total",
        ]  # fmt: skip
        mia_email = next(r for r in rows if r[0] == "mia" and r[5] == "email")
        assert mia_email[6:] == ["0", "0", "2", "2"]

    def test_the_long_csv_names_features_by_label(self, storage: Storage) -> None:
        """The long layout's feature column holds the label."""
        app = product_app(storage)
        spend(app, "e1", "search", 2)
        out = io.StringIO(newline="")
        app.export_csv("ada", "acme", PERIOD, out, layout="long")
        assert csv_rows(out.getvalue())[1][4] == "Search"

    def test_the_data_frame_has_a_column_per_feature(self, storage: Storage) -> None:
        """to_dataframe() columns follow the declared features by label."""
        app = product_app(storage)
        spend(app, "e1", "enrich", 5)
        frame = app.usage_report("ada", "acme", PERIOD).to_dataframe()
        assert list(frame.columns)[7:] == ["Enrichment", "Search", "=Exports", "total"]
        assert isinstance(frame, pd.DataFrame)
        assert int(frame["Enrichment"].sum()) == 5

    def test_a_feature_withdrawn_later_still_adds_up(self, storage: Storage) -> None:
        """Usage of a feature no longer declared shows after the others, by its value."""
        app = product_app(storage)
        spend(app, "e1", "exports", 4)
        spend(app, "e2", "search", 1)
        app.update_team(make_team(features=(ENRICH, SEARCH)))
        report = app.usage_report("ada", "acme", PERIOD)
        assert [f.value for f in report.features] == ["enrich", "search", "exports"]
        assert report.features[-1].label == "exports"
        assert report.total == 5
        snapshot = app.snapshot("ada", "acme")
        assert sum(m.used for m in snapshot.members) == snapshot.used == 5


class TestPlansTheHostNames:
    """Plans are slugs; eligible_plans says which get team views and exports."""

    def test_the_default_eligible_plans_are_pro_premium_and_scale(self, storage: Storage) -> None:
        """A team on "free" or any other plan gets PlanNotEligibleError on every read."""
        app = product_app(storage)
        app.update_team(make_team(plan="gold", features=OWN_FEATURES))
        with pytest.raises(PlanNotEligibleError, match="gold"):
            app.snapshot("ada", "acme")
        for plan in ("pro", "premium", "scale"):
            app.update_team(make_team(plan=plan, features=OWN_FEATURES))
            app.snapshot("ada", "acme")

    def test_a_host_makes_its_own_plans_eligible(self, storage: Storage) -> None:
        """eligible_plans={"gold"}: gold teams read, pro teams do not."""
        app = product_app(storage, eligible_plans={"gold"})
        with pytest.raises(PlanNotEligibleError, match="need one of the plans gold"):
            app.snapshot("ada", "acme")
        app.update_team(make_team(plan="gold", features=OWN_FEATURES))
        assert app.snapshot("ada", "acme").team_id == "acme"
        assert app.eligible_plans == frozenset({"gold"})

    def test_recording_usage_works_on_every_plan(self, storage: Storage) -> None:
        """Credits are spent whatever the plan."""
        app = product_app(storage)
        app.update_team(make_team(plan="free", features=OWN_FEATURES))
        assert spend(app, "e1", "search").amount == 1

    @pytest.mark.parametrize("eligible", ["pro", ["Pro"], [1]])
    def test_eligible_plans_are_slugs(self, eligible: object) -> None:
        """A single string or a value that is no slug is refused."""
        from credit_usage import InMemoryStorage

        with pytest.raises(ValidationError, match="eligible"):
            CreditUsage(InMemoryStorage(), eligible_plans=eligible)  # type: ignore[arg-type]


class TestTeamsStoredBeforeFeaturesWereDeclared:
    """A team row without features reads back with the default four."""

    @pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
    def test_a_team_without_features_reads_the_defaults(
        self, kind: str, request: pytest.FixtureRequest
    ) -> None:
        """teams.features NULL (as every team of release 0.1.0) means DEFAULT_FEATURES."""
        from tests.databases import sql_storage_factory

        factory = sql_storage_factory(kind, request)
        storage = next(factory)()
        app = CreditUsage(storage=storage, clock=Clock(NOW))
        app.create_team(make_team(features=OWN_FEATURES))
        assert isinstance(storage, SqlStorage)
        table = storage.metadata.tables[f"{storage.table_prefix}teams"]
        with storage.engine.begin() as conn:
            conn.execute(table.update().values(features=None))
        assert app.get_team("acme").features == DEFAULT_FEATURES
        next(factory, None)


def _entry(entry_id: str, feature: str) -> LedgerEntry:
    return LedgerEntry(
        team_id="acme",
        entry_id=entry_id,
        kind="usage",
        user_id="mia",
        group_id=None,
        feature=feature,
        credit_type="email",
        amount=1,
        occurred_at=datetime(2026, 11, 27, 15, tzinfo=UTC),
    )
