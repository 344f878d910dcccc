"""The value types refuse invalid input on construction, naming the offending value."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given

from credit_usage import (
    BillingSchedule,
    CreditLimit,
    DateRange,
    EntryKind,
    Feature,
    Frequency,
    Group,
    LedgerEntry,
    LimitScope,
    Member,
    Period,
    Plan,
    Role,
    Team,
    ValidationError,
)
from credit_usage.domain.validation import (
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
)
from tests.conftest import make_team
from tests.strategies import ZONE_NAMES, aware_instants, ledger_entries

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def usage(**overrides: Any) -> LedgerEntry:
    fields: dict[str, Any] = {
        "team_id": "acme",
        "entry_id": "e1",
        "kind": "usage",
        "user_id": "mia",
        "group_id": "sales",
        "feature": "api",
        "credit_type": "email",
        "amount": 5,
        "occurred_at": WHEN,
    }
    fields.update(overrides)
    return LedgerEntry(**fields)


def grant(**overrides: Any) -> LedgerEntry:
    fields: dict[str, Any] = {
        "kind": "grant",
        "user_id": None,
        "group_id": None,
        "feature": None,
        "credit_type": None,
    }
    fields.update(overrides)
    return usage(**fields)


def reversal(**overrides: Any) -> LedgerEntry:
    return usage(**{"kind": "reversal", "entry_id": "r1", "reverses": "e1", **overrides})


def member(**overrides: Any) -> Member:
    fields: dict[str, Any] = {
        "team_id": "acme",
        "user_id": "mia",
        "name": "Mia",
        "email": "mia@acme.test",
        "role": "member",
    }
    fields.update(overrides)
    return Member(**fields)


def refused(value: object) -> pytest.RaisesExc[ValidationError]:
    """Expect a ValidationError whose message shows ``value`` (as its repr)."""
    return pytest.raises(ValidationError, match=re.escape(repr(value)))


class TestAwareDatetimes:
    """Instants must carry a time zone; they are stored in UTC."""

    def test_a_naive_occurred_at_is_refused(self) -> None:
        """A naive occurred_at is refused, naming it."""
        with pytest.raises(ValidationError, match=r"occurred_at.*naive 2026-03-01T12:00:00"):
            usage(occurred_at=datetime(2026, 3, 1, 12))

    def test_a_naive_recorded_at_is_refused(self) -> None:
        """A naive recorded_at is refused, naming it."""
        with pytest.raises(ValidationError, match=r"recorded_at.*naive 2026-03-01T12:00:00"):
            usage(recorded_at=datetime(2026, 3, 1, 12))

    def test_a_date_is_not_an_instant(self) -> None:
        """A calendar date is not accepted where an instant is expected."""
        with refused(date(2026, 3, 1)):
            usage(occurred_at=date(2026, 3, 1))

    @given(instant=aware_instants())
    def test_occurred_at_is_normalised_to_utc(self, instant: datetime) -> None:
        """occurred_at and recorded_at keep their instant and are expressed in UTC."""
        entry = usage(occurred_at=instant, recorded_at=instant)
        # Compared as timestamps: PEP 495 makes == across zones False for an
        # ambiguous wall time (a fold), even for the very same instant.
        assert entry.occurred_at.timestamp() == instant.timestamp()
        assert entry.occurred_at.tzinfo is UTC
        assert entry.recorded_at is not None
        assert entry.recorded_at.tzinfo is UTC
        assert entry.recorded_at.utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        "instant",
        [
            # In the last monthly cycle of year 9999: the next one would start past date.max.
            datetime(9999, 12, 31, 12, tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=ZoneInfo("America/New_York")),
            datetime(1, 1, 1, 23, 59, tzinfo=UTC),
            # Before datetime.min, or after datetime.max, once converted to UTC.
            datetime.min.replace(tzinfo=ZoneInfo("Etc/GMT-14")),
            datetime.max.replace(tzinfo=ZoneInfo("Etc/GMT+12")),
            datetime.combine(EARLIEST_DAY, time(0), tzinfo=UTC) - timedelta(microseconds=1),
            datetime.combine(LATEST_DAY + timedelta(days=1), time(0), tzinfo=UTC),
        ],
        ids=lambda instant: instant.isoformat(),
    )
    @pytest.mark.parametrize("field", ["occurred_at", "recorded_at"])
    def test_an_instant_outside_the_supported_days_is_refused_naming_it_and_the_span(
        self, field: str, instant: datetime
    ) -> None:
        """Instants whose UTC day is outside 0002-01-01..9997-12-31 are refused, never overflow."""
        with pytest.raises(
            ValidationError, match=rf"{field}.*0002-01-01\.\.9997-12-31.*{instant.year}"
        ):
            usage(**{field: instant})

    def test_the_first_and_last_supported_instants_are_accepted(self) -> None:
        """The span includes the whole of its first and last UTC days."""
        first = datetime.combine(EARLIEST_DAY, time(0), tzinfo=UTC)
        last = datetime.combine(LATEST_DAY, time.max, tzinfo=UTC)
        assert usage(occurred_at=first).occurred_at == first
        assert usage(occurred_at=last, recorded_at=last).recorded_at == last

    def test_a_time_zone_whose_offset_fails_is_refused_with_its_error_as_cause(self) -> None:
        """Whatever a custom tzinfo raises is a ValidationError naming the instant, chained."""
        instant = datetime(2026, 3, 1, 12, tzinfo=_FailingZone())
        with pytest.raises(ValidationError, match=r"occurred_at.*2026, 3, 1, 12") as caught:
            usage(occurred_at=instant)
        assert isinstance(caught.value.__cause__, ZeroDivisionError)


class _FailingZone(tzinfo):
    """A time zone whose offset cannot be worked out."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise ZeroDivisionError("no offset")

    def dst(self, dt: datetime | None) -> timedelta:
        raise ZeroDivisionError("no offset")


class TestCreditAmounts:
    """Credits are integers: amounts at least 1, pools and limits at least 0."""

    @pytest.mark.parametrize("amount", [0, -1, 1.5, 2.0, True, "5", None])
    def test_an_amount_that_is_not_a_positive_integer_is_refused(self, amount: object) -> None:
        """A zero, negative, float, boolean or text amount is refused, naming it."""
        with refused(amount):
            usage(amount=amount)

    @pytest.mark.parametrize("credits", [-1, 0.5, 10.0, False])
    def test_a_limit_that_is_not_a_non_negative_integer_is_refused(self, credits: object) -> None:
        """A limit of negative, float or boolean credits is refused, naming it."""
        with refused(credits):
            CreditLimit(scope="user", subject_id="mia", credits=credits)  # type: ignore[arg-type]

    @pytest.mark.parametrize("credits", [-1, 1.5, True])
    def test_a_pool_that_is_not_a_non_negative_integer_is_refused(self, credits: object) -> None:
        """credits_per_cycle must be a non-negative integer."""
        with refused(credits):
            make_team(credits_per_cycle=credits)

    def test_zero_is_a_valid_limit_and_pool(self) -> None:
        """A limit of 0 blocks all usage; a pool of 0 lives on grants."""
        assert CreditLimit(scope="user", subject_id="mia", credits=0).credits == 0
        assert make_team(credits_per_cycle=0).credits_per_cycle == 0


class TestCreditTypes:
    """Credit types are slugs a team declares."""

    @pytest.mark.parametrize(
        "slug", ["", "Email", "-email", "_email", "e mail", "émail", "a" * 65, "email\n"]
    )
    def test_a_bad_slug_is_refused(self, slug: str) -> None:
        """A credit type that is not [a-z0-9][a-z0-9_-]{0,63} is refused, naming it."""
        with refused(slug):
            usage(credit_type=slug)
        with refused(slug):
            make_team(credit_types=("standard", slug))

    @pytest.mark.parametrize("slug", ["a", "email", "phone-2", "x_y", "0" * 64])
    def test_a_good_slug_is_accepted(self, slug: str) -> None:
        """Slugs of one to 64 characters are accepted."""
        assert usage(credit_type=slug).credit_type == slug

    def test_an_undeclared_type_is_refused_by_the_team(self) -> None:
        """Team.require_credit_type refuses a type the team did not declare, naming it."""
        team = make_team(credit_types=("email", "phone"))
        with pytest.raises(ValidationError, match=r"'fax'.*acme.*email, phone"):
            team.require_credit_type("fax")
        assert team.require_credit_type("phone") == "phone"

    @pytest.mark.parametrize("credit_types", [(), "email", ("email", "email")])
    def test_a_team_declares_at_least_one_type_and_none_twice(self, credit_types: object) -> None:
        """No types, a bare string or a repeated type is refused."""
        with pytest.raises(ValidationError, match="credit_types"):
            make_team(credit_types=credit_types)

    def test_a_team_declares_standard_by_default(self) -> None:
        """Without credit_types a team has the one type "standard"."""
        team = Team(
            team_id="acme",
            name="Acme",
            plan="pro",
            billing=BillingSchedule(anchor=date(2026, 1, 1)),
            credits_per_cycle=100,
        )
        assert (team.credit_types, team.timezone) == (("standard",), "UTC")


class TestEnums:
    """Enum-typed arguments take the enum or its string value, and nothing else."""

    @pytest.mark.parametrize(
        ("enum", "build"),
        [
            (Role, lambda value: member(role=value).role),
            (EntryKind, lambda value: usage(**_kind_fields(value)).kind),
            (LimitScope, lambda value: CreditLimit(scope=value, subject_id="s", credits=1).scope),
            (Period, lambda value: BillingSchedule(anchor=date(2026, 1, 1), period=value).period),
        ],
    )
    def test_string_values_are_accepted(self, enum: Any, build: Any) -> None:
        """Every value of the enum, as a string, gives the enum member."""
        for item in enum:
            built = build(item.value)
            assert built is item
            assert build(item) is item

    @pytest.mark.parametrize(
        ("enum", "build"),
        [
            (Plan, lambda value: make_team(plan=value).plan),
            (Feature, lambda value: usage(feature=value).feature),
        ],
    )
    def test_plans_and_features_are_stored_as_plain_slugs(self, enum: Any, build: Any) -> None:
        """Plan and Feature name defaults; a member or its value is stored as the plain string."""
        for item in enum:
            for value in (item, item.value):
                built = build(value)
                assert built == item
                assert type(built) is str

    def test_enum_values_are_lower_case(self) -> None:
        """The string values hosts send are lower case."""
        for enum in (Role, Plan, Feature, Period, LimitScope, Frequency, EntryKind):
            assert all(item.value == item.value.lower() for item in enum)

    @pytest.mark.parametrize("feature", ["API", "", 1, "platform ", "-api", "a" * 65])
    def test_a_feature_that_is_no_slug_is_refused(self, feature: object) -> None:
        """A feature must be a slug; which slugs a team accepts, it declares."""
        with pytest.raises(ValidationError, match=f"feature.*{re.escape(repr(feature))}"):
            usage(feature=feature)

    def test_any_slug_is_a_feature_of_an_entry(self) -> None:
        """An entry may name any slug; the team's declaration is checked when it is recorded."""
        assert usage(feature="sms").feature == "sms"

    @pytest.mark.parametrize("plan", ["Gold", "", "gold plan", 7])
    def test_a_plan_that_is_no_slug_is_refused(self, plan: object) -> None:
        """A plan is any slug the host names; anything else is refused, naming it."""
        with pytest.raises(ValidationError, match="plan"):
            make_team(plan=plan)

    def test_any_slug_is_a_plan(self) -> None:
        """Plans are the host's: "gold" is a plan like "pro"."""
        assert make_team(plan="gold").plan == "gold"

    def test_an_unknown_role_is_refused(self) -> None:
        """Roles outside the enum are refused, naming the value."""
        with refused("owner"):
            member(role="owner")

    def test_features_have_labels(self) -> None:
        """Features read "Platform", "Extension", "API", "Workspace" in reports."""
        assert [feature.label for feature in Feature] == [
            "Platform",
            "Extension",
            "API",
            "Workspace",
        ]


def _kind_fields(kind: object) -> dict[str, Any]:
    if kind in (EntryKind.GRANT, "grant"):
        return {
            "kind": kind,
            "user_id": None,
            "group_id": None,
            "feature": None,
            "credit_type": None,
        }
    if kind in (EntryKind.REVERSAL, "reversal"):
        return {"kind": kind, "reverses": "e0"}
    return {"kind": kind}


class TestTimeZones:
    """A team's time zone is an IANA name."""

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "Mars/Olympus",
            "UTC ",
            "utc",
            "America/New York",
            "../../etc/passwd",
            "/etc/localtime",
            "a\x00b",
            "America",
            "Etc",
            "zone.tab",
        ],
    )
    def test_an_invalid_zone_name_is_refused(self, name: str) -> None:
        """A name that is not a zone is a ValidationError naming it (directories included)."""
        with refused(name):
            make_team(timezone=name)

    def test_a_zone_must_be_a_name(self) -> None:
        """A tzinfo object is not a zone name."""
        with pytest.raises(ValidationError, match="timezone"):
            make_team(timezone=UTC)

    @pytest.mark.parametrize("name", ZONE_NAMES)
    def test_iana_zones_are_accepted(self, name: str) -> None:
        """Real IANA zone names are accepted and give the team's tzinfo."""
        team = make_team(timezone=name)
        assert str(team.tz) == name

    def test_a_teams_local_day_is_in_its_zone(self) -> None:
        """An instant's local day depends on the team's zone."""
        late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        assert make_team(timezone="UTC").local_day(late) == date(2026, 3, 1)
        assert make_team(timezone="Asia/Kolkata").local_day(late) == date(2026, 3, 2)


class TestIds:
    """Ids are non-empty strings of at most 255 characters."""

    @pytest.mark.parametrize("value", ["", "x" * 256, 42, None])
    @pytest.mark.parametrize(
        ("field", "build"),
        [
            ("team_id", lambda v: Group(team_id=v, group_id="g", name="G")),
            ("group_id", lambda v: Group(team_id="acme", group_id=v, name="G")),
            ("user_id", lambda v: member(user_id=v)),
            ("entry_id", lambda v: usage(entry_id=v)),
            ("subject_id", lambda v: CreditLimit(scope="user", subject_id=v, credits=1)),
            ("team_id", lambda v: make_team(team_id=v)),
        ],
    )
    def test_a_bad_id_is_refused(self, field: str, build: Any, value: object) -> None:
        """An empty, too long or non-string id is refused, naming the field and the value.

        A long value is named by its first 40 characters and its length.
        """
        shown = repr(value[:40]) if isinstance(value, str) and len(value) > 40 else repr(value)
        with pytest.raises(ValidationError, match=f"{field}.*{re.escape(shown)}"):
            build(value)

    def test_any_text_up_to_255_characters_is_an_id(self) -> None:
        """Ids may hold any characters, up to 255 of them."""
        assert member(user_id="x" * 255).user_id == "x" * 255
        assert member(user_id="=cmd|' /C calc'!A0").user_id == "=cmd|' /C calc'!A0"


class TestMembers:
    """A member has a valid email, a non-empty name and a boolean active flag."""

    @pytest.mark.parametrize(
        "email",
        [
            "",
            "mia",
            "mia@",
            "@acme.test",
            "mia@acme",
            "mia @acme.test",
            "mia@acme.test\r\nBcc: all@acme.test",
            "mia@acme.test\n",
            "mia@acme.test\r",
            "mia\r\n@acme.test",
            "mia,noa@acme.test",
            "<mia@acme.test>",
            "mia@@acme.test",
            None,
        ],
    )
    def test_a_bad_email_is_refused(self, email: object) -> None:
        """An address without user, domain or dot, or with spaces, CR/LF or commas is refused."""
        with refused(email):
            member(email=email)

    @pytest.mark.parametrize("email", ["mia@acme.test", "mia.b+tag@mail.acme.example"])
    def test_a_plain_email_is_accepted(self, email: str) -> None:
        """Ordinary addresses are accepted as given."""
        assert member(email=email).email == email

    @pytest.mark.parametrize("name", ["", "   ", "\n", None])
    def test_an_empty_name_is_refused(self, name: object) -> None:
        """A name must contain something other than white space."""
        with refused(name):
            member(name=name)

    @pytest.mark.parametrize("name", ["=HYPERLINK(1)", "Ana\nBo", "-", "@mia", "Zoë"])
    def test_any_other_name_is_accepted(self, name: str) -> None:
        """Formula-like names and line breaks are allowed; the CSV writer makes them safe."""
        assert member(name=name).name == name

    def test_a_name_holds_at_most_1000_characters(self) -> None:
        """Names stop at 1,000 characters, far inside MariaDB's 65,535-byte TEXT."""
        longest = "é" * MAX_NAME_LENGTH
        assert member(name=longest).name == longest
        assert Group(team_id="acme", group_id="g", name=longest).name == longest
        assert make_team(name=longest).name == longest
        for build in (
            lambda name: member(name=name),
            lambda name: Group(team_id="acme", group_id="g", name=name),
            lambda name: make_team(name=name),
        ):
            with pytest.raises(
                ValidationError, match="name must be at most 1000 characters, got 70000"
            ):
                build("N" * 70_000)
            with pytest.raises(ValidationError, match="at most 1000 characters, got 1001"):
                build("N" * (MAX_NAME_LENGTH + 1))

    def test_an_email_holds_at_most_254_characters(self) -> None:
        """An address longer than RFC 5321 allows (254 characters) is refused, naming the bound."""
        domain = "@acme.test"
        longest = "m" * (MAX_EMAIL_LENGTH - len(domain)) + domain
        assert member(email=longest).email == longest
        with pytest.raises(ValidationError, match="email must be at most 254 characters, got 255"):
            member(email="m" + longest)

    @pytest.mark.parametrize("active", [1, 0, "yes", None])
    def test_active_is_a_boolean(self, active: object) -> None:
        """active must be True or False, not a truthy value."""
        with refused(active):
            member(active=active)


class TestDateRanges:
    """Date ranges are never reversed."""

    def test_a_reversed_range_is_refused(self) -> None:
        """first after last is refused, naming both dates."""
        with pytest.raises(ValidationError, match=r"first 2026-03-31.*last 2026-03-01"):
            DateRange(first=date(2026, 3, 31), last=date(2026, 3, 1))


class TestLedgerEntryShape:
    """Each kind of entry carries exactly the fields it needs."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("user_id", "mia"),
            ("group_id", "sales"),
            ("feature", "api"),
            ("credit_type", "email"),
            ("reverses", "e1"),
        ],
    )
    def test_a_grant_carries_no_user_group_feature_type_or_reversal(
        self, field: str, value: object
    ) -> None:
        """A grant goes to the team's pool, so a user (or the like) on it is refused, named."""
        with pytest.raises(ValidationError, match=f"grant.*{field}.*{re.escape(repr(value))}"):
            grant(**{field: value})

    def test_a_bare_grant_is_accepted(self) -> None:
        """A grant with just an amount and an instant is valid."""
        entry = grant(amount=500)
        assert (entry.kind, entry.usage_delta) == (EntryKind.GRANT, 0)

    @pytest.mark.parametrize("field", ["user_id", "feature", "credit_type"])
    @pytest.mark.parametrize("build", [usage, reversal])
    def test_usage_and_reversals_need_user_feature_and_type(self, build: Any, field: str) -> None:
        """Usage (and its reversal) without a user, feature or credit type is refused."""
        with pytest.raises(ValidationError, match=f"needs a {field}"):
            build(**{field: None})

    def test_usage_may_have_no_group(self) -> None:
        """A member with no group spends credits under group None."""
        assert usage(group_id=None).group_id is None

    def test_a_reversal_names_what_it_reverses(self) -> None:
        """A reversal without reverses is refused, naming the reversal."""
        with pytest.raises(ValidationError, match="reversal 'r1' must name"):
            reversal(reverses=None)

    def test_usage_reverses_nothing(self) -> None:
        """A usage entry that names an entry to reverse is refused, naming it."""
        with refused("e0"):
            usage(reverses="e0")

    def test_usage_delta_by_kind(self) -> None:
        """Usage adds its amount to used, a reversal subtracts it, a grant adds nothing."""
        assert usage(amount=7).usage_delta == 7
        assert reversal(amount=3).usage_delta == -3
        assert grant(amount=9).usage_delta == 0


class TestSamePayload:
    """same_payload compares every recorded fact except recorded_at."""

    @given(entry=ledger_entries(), recorded_at=aware_instants())
    def test_same_payload_ignores_recorded_at(
        self, entry: LedgerEntry, recorded_at: datetime
    ) -> None:
        """An entry re-sent with another recorded_at (or none) records the same fact."""
        assert entry.same_payload(attrs.evolve(entry, recorded_at=recorded_at))
        assert entry.same_payload(attrs.evolve(entry, recorded_at=None))

    @pytest.mark.parametrize(
        ("base", "change"),
        [
            (usage, {"team_id": "other"}),
            (usage, {"entry_id": "e2"}),
            (usage, {"user_id": "noa"}),
            (usage, {"group_id": None}),
            (usage, {"group_id": "support"}),
            (usage, {"feature": "platform"}),
            (usage, {"credit_type": "phone"}),
            (usage, {"amount": 6}),
            (usage, {"occurred_at": WHEN + timedelta(microseconds=1)}),
            (usage, {"kind": "reversal", "reverses": "e0"}),
            (reversal, {"reverses": "e2"}),
            (grant, {"amount": 6}),
        ],
    )
    def test_any_other_difference_is_another_payload(
        self, base: Any, change: dict[str, Any]
    ) -> None:
        """Changing any field but recorded_at makes a different payload."""
        entry = base()
        assert not entry.same_payload(attrs.evolve(entry, **change))
        assert entry.same_payload(attrs.evolve(entry))

    def test_the_same_instant_in_another_zone_is_the_same_payload(self) -> None:
        """occurred_at is compared as an instant, whatever zone it was given in."""
        local = WHEN.astimezone(ZoneInfo("Pacific/Chatham"))
        assert usage().same_payload(usage(occurred_at=local))


class TestTrustedConstructors:
    """Adapters rebuild stored values without re-validating; the result is the same value."""

    def test_a_trusted_member_equals_a_validated_one(self) -> None:
        """Member.trusted gives an equal, equally hashable member."""
        checked = Member(team_id="t", user_id="u", name="N", email="n@x.io", role="admin")
        trusted = Member.trusted("t", "u", "N", "n@x.io", Role.ADMIN, None, True)
        assert trusted == checked
        assert hash(trusted) == hash(checked)

    def test_a_trusted_entry_equals_a_validated_one(self) -> None:
        """LedgerEntry.trusted gives an equal entry, still frozen."""
        at = datetime(2026, 1, 1, tzinfo=UTC)
        checked = LedgerEntry(
            team_id="t", entry_id="e", kind="usage", user_id="u", group_id=None,
            feature="api", credit_type="email", amount=3, occurred_at=at, recorded_at=at,
        )  # fmt: skip
        trusted = LedgerEntry.trusted(
            "t", "e", EntryKind.USAGE, "u", None, Feature.API, "email", 3, at, at, None
        )
        assert trusted == checked
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            trusted.amount = 4  # type: ignore[misc]


class TestValuesEveryStorageCanHold:
    """Values the SQL backends cannot store are refused before any storage sees them."""

    @pytest.mark.parametrize("field", ["user_id", "name"])
    def test_nul_characters_are_refused(self, field: str) -> None:
        """PostgreSQL cannot store NUL in text, so no id or name may hold it."""
        values: dict[str, Any] = {
            "team_id": "t", "user_id": "u", "name": "N", "email": "n@x.io", "role": "admin",
        }  # fmt: skip
        values[field] = "a\x00b"
        with pytest.raises(ValidationError, match="NUL"):
            Member(**values)

    @pytest.mark.parametrize(
        ("field", "build"),
        [
            ("team_id", lambda v: make_team(team_id=v)),
            ("name", lambda v: make_team(name=v)),
            ("group_id", lambda v: Group(team_id="acme", group_id=v, name="G")),
            ("name", lambda v: Group(team_id="acme", group_id="g", name=v)),
            ("user_id", lambda v: member(user_id=v)),
            ("name", lambda v: member(name=v)),
            ("email", lambda v: member(email=f"mi{v}@acme.test")),
            ("group_id", lambda v: member(group_id=v)),
            ("entry_id", lambda v: usage(entry_id=v)),
            ("user_id", lambda v: usage(user_id=v)),
            ("group_id", lambda v: usage(group_id=v)),
            ("reverses", lambda v: reversal(reverses=v)),
            ("subject_id", lambda v: CreditLimit(scope="user", subject_id=v, credits=1)),
        ],
    )
    @pytest.mark.parametrize("bad", ["a\ud800", "\udfff", "\ud83d\ude00"], ids=ascii)
    def test_lone_surrogates_are_refused_naming_the_field(
        self, field: str, build: Any, bad: str
    ) -> None:
        """No SQL driver encodes a lone surrogate as UTF-8, so no id, name or email may hold one."""
        shown = re.escape(repr(bad)[1:-1])  # as the message shows it: escaped
        with pytest.raises(ValidationError, match=f"{field} must be valid Unicode.*{shown}"):
            build(bad)

    def test_characters_beyond_the_basic_plane_are_kept(self) -> None:
        """A real astral character (not a lone half of one) is valid Unicode and accepted."""
        assert member(name="Zoë 😀", user_id="😀").name == "Zoë 😀"

    def test_amounts_beyond_a_quadrillion_are_refused(self) -> None:
        """Amounts stay far inside 64-bit integers, so sums cannot overflow in SQL."""
        with pytest.raises(ValidationError, match="at most 1000000000000000"):
            make_team(credits_per_cycle=10**15 + 1)
        assert make_team(credits_per_cycle=10**15).credits_per_cycle == 10**15
