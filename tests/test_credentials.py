"""Database URLs and driver errors shown without their credentials.

``credit_usage.adapters.credentials`` masks a URL for messages and reprs
(``mask_url``), lists the secrets it holds (``url_secrets``) and scrubs them
from free text such as a driver's error (``redact``). The cases below are
every place a password hides in a URL: the userinfo, raw or percent-encoded or
with a raw ``@`` that SQLAlchemy misreads; query parameters such as
``?password=``, ``?passwd=``, ``?sslpassword=``; strings that are no URL.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy.pool import NullPool

from credit_usage.adapters.credentials import (
    MASK,
    SECRET_PARAMETER_FRAGMENTS,
    SECRET_PARAMETER_NAMES,
    mask_url,
    redact,
    url_secrets,
)
from tests.databases import server_url

SECRET = "S3cr3t"


def assert_hidden(url: str, *secrets: str, shown: tuple[str, ...] = ()) -> str:
    """Mask ``url``: no secret left, every ``shown`` part still there; the masked text."""
    masked = mask_url(url)
    for secret in secrets:
        assert secret not in masked, f"{secret!r} is visible in {masked!r}"
    for part in shown:
        assert part in masked, f"{part!r} is missing from {masked!r}"
    return masked


class TestUserinfoPasswords:
    """The password between ``user:`` and ``@host`` is shown as ``***``, however it is spelled."""

    def test_a_plain_password_is_masked(self) -> None:
        """user:S3cr3t@host reads user:***@host; host, port and database stay readable."""
        url = f"postgresql+psycopg://app:{SECRET}@db.example.com:5432/usage"
        assert mask_url(url) == "postgresql+psycopg://app:***@db.example.com:5432/usage"

    def test_a_percent_encoded_password_is_masked_in_both_spellings(self) -> None:
        """S3%40cr%3At is hidden, and url_secrets lets redact hide the decoded S3@cr:t too."""
        url = "postgresql+psycopg://app:S3%40cr%3At@db.example.com/usage"
        assert_hidden(url, "S3%40cr%3At", "S3@cr:t", "cr", shown=("app:***@db.example.com/usage",))
        secrets = url_secrets(url)
        assert {"S3%40cr%3At", "S3@cr:t"} <= set(secrets)
        message = "password authentication failed: got S3@cr:t, also known as S3%40cr%3At"
        assert (
            redact(message, secrets) == "password authentication failed: got ***, also known as ***"
        )

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://user:Pa55@w0rd@db.example.com/usage",
            "postgresql://user:Pa55@w0rd@db.example.com:5432/usage?sslmode=require",
            "mysql+pymysql://user:Pa55@w0rd:Xy9@db.example.com:3306/usage",
            "postgresql://user:Pa55@w0rd/Xy9@db.example.com/usage",
        ],
    )
    def test_a_password_with_a_raw_at_sign_is_masked_whole(self, url: str) -> None:
        """make_url cuts Pa55@w0rd at its first @; the mask runs to the last @ and hides all."""
        masked = assert_hidden(url, "Pa55", "w0rd", "Xy9", shown=("user:***@db.example.com",))
        assert masked.count("@") == 1

    def test_make_url_misreads_a_raw_at_sign_which_is_why_the_text_is_read_as_written(
        self,
    ) -> None:
        """SQLAlchemy's masked rendering shows the tail of such a password; mask_url does not."""
        url = "postgresql://user:Pa55@w0rd@db.example.com/usage"
        assert "w0rd@db.example.com" in sa.make_url(url).render_as_string(hide_password=True)
        assert mask_url(sa.make_url(url)) == "postgresql://user:***@db.example.com/usage"

    @pytest.mark.parametrize("password", ["a/b", "a?b", "a#b", "a:b", "a b", "a&b=c"])
    def test_raw_delimiters_in_a_password_stay_inside_the_mask(self, password: str) -> None:
        """A raw /, ?, #, :, space or & in the password does not end the masked part early."""
        url = f"postgresql://user:{password}@db.example.com/usage"
        assert mask_url(url) == "postgresql://user:***@db.example.com/usage"

    def test_a_user_name_with_an_at_sign_keeps_its_name(self) -> None:
        """Azure's user@server:password@host shows user@server and hides only the password."""
        url = f"postgresql://app@server:{SECRET}@server.postgres.example.com/usage"
        assert mask_url(url) == "postgresql://app@server:***@server.postgres.example.com/usage"

    def test_an_empty_password_is_masked_too(self) -> None:
        """user:@host reads user:***@host, as SQLAlchemy renders it: no hint of what is there."""
        assert mask_url("postgresql://user:@db.example.com/usage") == (
            "postgresql://user:***@db.example.com/usage"
        )
        assert url_secrets("postgresql://user:@db.example.com/usage") == ()


class TestQueryParameterSecrets:
    """Query parameters that name a secret have their values shown as ``***``."""

    @pytest.mark.parametrize("name", ["password", "passwd", "pwd", "sslpassword", "PassWord"])
    def test_a_password_parameter_is_masked(self, name: str) -> None:
        """?password=, ?passwd= (PyMySQL), ?pwd=, ?sslpassword= (libpq), in any case."""
        url = f"postgresql+psycopg://app@db.example.com/usage?{name}={SECRET}&sslmode=require"
        assert mask_url(url) == (
            f"postgresql+psycopg://app@db.example.com/usage?{name}=***&sslmode=require"
        )
        assert SECRET in url_secrets(url)

    @pytest.mark.parametrize(
        "name",
        [
            "client_secret",
            "access_token",
            "token",
            "api_key",
            "apikey",
            "X-Api-Key",
            "auth",
            "credentials",
            "private_key",
            "ssl_key",
            "sslkey",
            "passphrase",
            "odbc_connect",
            "pass%77ord",
        ],
    )
    def test_other_secret_parameters_are_masked(self, name: str) -> None:
        """Tokens, keys, credentials and a percent-encoded name are hidden like passwords."""
        url = f"snowflake://app@account/usage?{name}={SECRET}&warehouse=wh"
        assert_hidden(url, SECRET, shown=(f"?{name}=***&warehouse=wh",))

    def test_the_documented_names_are_all_secrets(self) -> None:
        """Every name and fragment in the module's lists has its value hidden."""
        for name in sorted(SECRET_PARAMETER_NAMES) + list(SECRET_PARAMETER_FRAGMENTS):
            assert_hidden(f"postgresql://h/db?{name}={SECRET}", SECRET)

    def test_a_password_given_twice_is_masked_twice(self) -> None:
        """?password=a&password=b hides both values, which both count as secrets."""
        url = f"postgresql+psycopg://h/db?password={SECRET}&password=Other1&charset=utf8"
        assert mask_url(url) == "postgresql+psycopg://h/db?password=***&password=***&charset=utf8"
        assert {SECRET, "Other1"} <= set(url_secrets(url))

    def test_the_same_password_in_userinfo_and_query_is_masked_everywhere(self) -> None:
        """user:pw@host/db?password=pw shows *** in both places."""
        url = f"postgresql+psycopg://app:{SECRET}@h/db?password={SECRET}"
        assert mask_url(url) == "postgresql+psycopg://app:***@h/db?password=***"

    def test_an_empty_password_parameter_is_masked(self) -> None:
        """?password= reads ?password=***."""
        assert mask_url("postgresql://h/db?password=&x=1") == "postgresql://h/db?password=***&x=1"

    def test_a_raw_ampersand_in_a_password_value_stays_inside_the_mask(self) -> None:
        """?password=a&b&charset=x: the segment without = is the rest of the value, hidden too."""
        url = "postgresql://h/db?password=S3c&r3t&charset=utf8"
        assert mask_url(url) == "postgresql://h/db?password=***&charset=utf8"

    def test_an_encoded_value_is_a_secret_in_both_spellings(self) -> None:
        """?passwd=p%40ss%2Bx is hidden, and redact also hides the decoded p@ss+x."""
        url = "mysql+pymysql://app@h/db?passwd=p%40ss%2Bx"
        assert {"p%40ss%2Bx", "p@ss+x"} <= set(url_secrets(url))
        assert redact("denied for p@ss+x", url_secrets(url)) == "denied for ***"

    def test_an_at_sign_in_a_secret_value_does_not_leak_its_tail(self) -> None:
        """?password=p@ss with a userinfo password: the last @ is in the query, so all is hidden."""
        url = f"postgresql://app:{SECRET}@h/db?password=p@ss"
        assert_hidden(url, SECRET, "p@ss", "ss")

    @pytest.mark.parametrize(
        "query",
        [
            "charset=utf8mb4",
            "sslmode=verify-full&sslrootcert=/etc/ca.pem&sslcert=/etc/client.pem",
            "application_name=usage&connect_timeout=3",
            "options=-c%20synchronous_commit%3Doff",
            "authenticator=externalbrowser&authentication=ActiveDirectoryPassword",
        ],
    )
    def test_harmless_parameters_stay_readable(self, query: str) -> None:
        """Parameters that hold no secret come back exactly as written."""
        url = f"postgresql+psycopg://app@db.example.com/usage?{query}"
        assert mask_url(url) == url


class TestUrlsWithoutSecrets:
    """A URL without a secret comes back unchanged, and holds no secrets to redact."""

    @pytest.mark.parametrize(
        "url",
        [
            "sqlite:///path",
            "sqlite:////var/lib/usage.db",
            "sqlite://",
            "mysql+pymysql://root@127.0.0.1:3306/db?charset=utf8mb4",
            "postgresql+psycopg://postgres@127.0.0.1:5432/db?options=-c%20synchronous_commit%3Doff",
            "postgresql://[::1]:5432/usage",
            "postgresql://app@db.example.com/usage?application_name=me@laptop",
        ],
    )
    def test_the_url_is_unchanged(self, url: str) -> None:
        """mask_url returns the text as given; url_secrets finds nothing."""
        assert mask_url(url) == url
        assert url_secrets(url) == ()


class TestStringsThatAreNoUrl:
    """Whatever is passed as a URL is masked without raising and without its secrets."""

    @pytest.mark.parametrize("text", ["garbage", "", "not a database url", "postgresql:"])
    def test_text_without_secrets_is_unchanged(self, text: str) -> None:
        """Garbage without a secret comes back as it was."""
        assert mask_url(text) == text

    def test_a_url_make_url_refuses_is_masked_by_the_textual_rules(self) -> None:
        """user:Pa55@w0rd:Xy9@host:5432 (make_url fails on the port) hides the whole password."""
        url = "postgresql://user:Pa55@w0rd:Xy9@db.example.com:5432/usage"
        with pytest.raises(ValueError, match=r"invalid literal for int"):  # the port
            sa.make_url(url)
        assert mask_url(url) == "postgresql://user:***@db.example.com:5432/usage"

    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            (
                f"host=db user=app password={SECRET} dbname=usage",
                "host=db user=app password=*** dbname=usage",
            ),
            (f"Server=db;Uid=app;Pwd={{{SECRET};x}};", "Server=db;Uid=app;Pwd=***;"),
            (f"password='{SECRET} x' host=db", "password=*** host=db"),
            (f"app:{SECRET}@db.example.com", "app:***@db.example.com"),
        ],
    )
    def test_keyword_strings_keep_their_secrets(self, text: str, masked: str) -> None:
        """libpq and ODBC keyword strings, or a URL missing its scheme, hide the password."""
        assert mask_url(text) == masked
        assert redact(text, url_secrets(text)) == masked

    @pytest.mark.parametrize("value", [None, 42, b"postgresql://u:S3cr3t@h/db"])
    def test_a_value_that_is_no_string_is_masked_as_its_text(self, value: object) -> None:
        """mask_url and url_secrets accept anything passed by mistake, without raising."""
        assert SECRET not in mask_url(value)  # type: ignore[arg-type]
        assert isinstance(url_secrets(value), tuple)  # type: ignore[arg-type]

    def test_a_value_whose_text_cannot_be_had_is_shown_as_the_mask(self) -> None:
        """An object whose str() raises reads ***, and holds no secrets to list."""

        class Unprintable:
            def __str__(self) -> str:
                raise RuntimeError("no text")

        assert mask_url(Unprintable()) == MASK  # type: ignore[arg-type]
        assert url_secrets(Unprintable()) == ()  # type: ignore[arg-type]


class TestUrlObjects:
    """A sqlalchemy.URL is masked as SQLAlchemy renders it, secret parameters included."""

    def test_password_and_secret_parameters_are_masked(self) -> None:
        """URL.create(password=..., query={"password": ...}) shows *** for both."""
        url = sa.URL.create(
            "postgresql+psycopg",
            username="app",
            password="p@ss",
            host="db.example.com",
            database="usage",
            query={"sslpassword": "k3y", "sslmode": "require"},
        )
        assert mask_url(url) == (
            "postgresql+psycopg://app:***@db.example.com/usage?sslmode=require&sslpassword=***"
        )
        assert {"p@ss", "p%40ss", "k3y"} <= set(url_secrets(url))

    def test_a_password_producing_object_is_never_stringified(self) -> None:
        """A dynamic password object is left alone: asking it could fetch a new token."""

        class TokenSource:
            def __str__(self) -> str:
                raise AssertionError("the password object was asked for a token")

        url = sa.URL.create("postgresql+psycopg", "app", TokenSource(), "db.example.com")  # type: ignore[arg-type]
        assert mask_url(url) == "postgresql+psycopg://app:***@db.example.com"
        assert url_secrets(url) == ()

    def test_a_misread_host_gives_up_the_tail_of_the_password(self) -> None:
        """make_url("user:Pa55@w0rd@host") has host "w0rd@host"; "w0rd" is a secret to redact."""
        url = sa.make_url("postgresql://user:Pa55@w0rd@db.example.com/usage")
        assert "w0rd" in url_secrets(url)
        assert redact("could not resolve w0rd@db.example.com", url_secrets(url)) == (
            "could not resolve ***@db.example.com"
        )


class TestUrlSecrets:
    """url_secrets lists every secret once, non-empty, longest first."""

    def test_secrets_come_longest_first_without_duplicates(self) -> None:
        """The order redact would need if it replaced one secret at a time."""
        secrets = url_secrets("postgresql://u:a%2Bb@h/db?password=a%2Bb&token=tok")
        assert len(set(secrets)) == len(secrets)
        assert all(secrets)
        assert [len(s) for s in secrets] == sorted((len(s) for s in secrets), reverse=True)
        assert {"a%2Bb", "a+b", "tok"} <= set(secrets)

    def test_a_misread_password_is_listed_in_pieces(self) -> None:
        """user:p4ss@S3cr3tPW@host lists S3cr3tPW, which make_url hands the driver as a host."""
        secrets = url_secrets("postgresql://user:p4ss@S3cr3tPW@127.0.0.1/usage")
        assert {"p4ss@S3cr3tPW", "p4ss", "S3cr3tPW"} <= set(secrets)


class TestRedact:
    """redact hides every occurrence of every secret, whole."""

    def test_every_occurrence_is_hidden(self) -> None:
        """A secret said twice is hidden twice; the rest of the text stays."""
        assert redact(f"{SECRET} and {SECRET}!", [SECRET]) == "*** and ***!"

    def test_a_secret_containing_another_is_hidden_whole(self) -> None:
        """With S3cr3t and S3cr3tPW, the longer one leaves no PW behind, in any order given."""
        for secrets in (["S3cr3t", "S3cr3tPW"], ["S3cr3tPW", "S3cr3t"]):
            assert redact("login S3cr3tPW failed", secrets) == "login *** failed"

    def test_overlapping_secrets_are_hidden_together(self) -> None:
        """xa and abc overlap in xabcx: every character of both is hidden, as one ***."""
        assert redact("xabcx", ["xa", "abc"]) == "***x"

    def test_empty_secrets_are_ignored(self) -> None:
        """An empty string is no secret: the text stays as it was."""
        assert redact("nothing to hide", ["", ""]) == "nothing to hide"

    def test_a_lone_string_is_one_secret(self) -> None:
        """redact(text, "pw") hides "pw", not every "p" and "w"."""
        assert redact("pw, power, wow", "pw") == "***, power, wow"


@pytest.fixture
def refused_login(request: pytest.FixtureRequest) -> str:
    """A URL to the test server for a role that does not exist, with S3cr3tPW as password."""
    kind = request.param
    server = sa.make_url(server_url(kind, request))
    if kind == "postgres":
        return (
            f"postgresql+psycopg://credit_usage_no_such_role:S3cr3tPW@{server.host}:{server.port}"
            "/postgres?password=S3cr3tPW&connect_timeout=3"
        )
    return (
        f"mysql+pymysql://credit_usage_no_such_role:S3cr3tPW@{server.host}:{server.port}"
        "/mysql?password=S3cr3tPW&connect_timeout=3"
    )


def connection_error(url: str) -> str:
    """The text of the error SQLAlchemy raises when connecting to ``url``."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            engine.connect().close()
    finally:
        engine.dispose()
    return str(raised.value)


class TestDriverErrors:
    """A real driver's error text, redacted with url_secrets, holds no password."""

    @pytest.mark.parametrize(
        "refused_login",
        [
            pytest.param("postgres", marks=pytest.mark.postgres),
            pytest.param("mariadb", marks=pytest.mark.mariadb),
        ],
        indirect=True,
    )
    def test_a_refused_login_is_scrubbed(self, refused_login: str) -> None:
        """The server refuses an unknown role; the redacted error has no S3cr3tPW."""
        text = redact(connection_error(refused_login), url_secrets(refused_login))
        assert "S3cr3tPW" not in text
        assert "S3cr3tPW" not in mask_url(refused_login)

    @pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
    def test_the_misread_tail_of_a_password_is_scrubbed_from_the_host_name(
        self, scheme: str
    ) -> None:
        """make_url turns p4ss@S3cr3tPW@127.0.0.1 into host "S3cr3tPW@127.0.0.1", which the
        driver fails to resolve and names in its error; redact hides it (no server needed).
        """
        url = f"{scheme}://nobody:p4ss@S3cr3tPW@127.0.0.1/usage?connect_timeout=3"
        error = connection_error(url)
        assert "S3cr3tPW" in error, "the driver no longer echoes the host; the case is moot"
        assert "S3cr3tPW" not in redact(error, url_secrets(url))
        assert mask_url(url) == f"{scheme}://nobody:***@127.0.0.1/usage?connect_timeout=3"


# -- properties ------------------------------------------------------------------------
#: Printable ASCII (with every URL delimiter: @:/?#&=% and space) or any printable character.
printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.characters(
    exclude_categories=("C", "Zl", "Zp")
)
passwords = st.text(printable, min_size=4, max_size=40)
hosts = st.sampled_from(["db.example.com", "127.0.0.1", "localhost", "[::1]"])
databases = st.sampled_from(["usage", "credit_usage", "db"])
harmless_parameters = st.dictionaries(
    st.sampled_from(["charset", "sslmode", "application_name", "connect_timeout", "options"]),
    st.text(printable, max_size=10),
    max_size=3,
)
#: Fragments that make masking work: delimiters, escapes, secret names, hosts.
url_words = st.sampled_from(["postgresql://", "[::1]", "h", "u", "password", "PWD", "token", "%40"])
url_pieces = url_words | st.sampled_from(":@/?&=%#;'{}* +")
url_like = st.lists(url_pieces | st.text(max_size=3), max_size=20).map("".join)


def bare(host: str) -> str:
    """The host as URL.create takes it: an IPv6 address without its brackets."""
    return host.strip("[]")


class TestProperties:
    """Invariants over generated passwords and URLs."""

    @given(password=passwords, host=hosts, database=databases, port=st.none() | st.just(5432))
    def test_a_userinfo_password_never_survives_masking(
        self, password: str, host: str, database: str, port: int | None
    ) -> None:
        """For a password of at least 4 characters that is not already part of the URL with
        its password hidden (``post`` is in ``postgresql``, ``:***`` in the mask itself), the
        URL that URL.create renders holds it (percent-encoded), and neither mask_url's text nor
        redact with url_secrets shows it, raw or encoded.
        """
        url = sa.URL.create("postgresql+psycopg", "app", password, bare(host), port, database)
        skeleton = url.render_as_string(hide_password=True)
        forms = {password, quote(password, safe=" +")}
        assume(not any(form in skeleton for form in forms))
        text = url.render_as_string(hide_password=False)
        for form in forms:
            assert form not in mask_url(text)
            assert form not in mask_url(url)
            assert form not in redact(text, url_secrets(text))
            assert form not in redact(text, url_secrets(url))

    @given(password=passwords, host=hosts, database=databases)
    def test_a_raw_password_never_survives_masking(
        self, password: str, host: str, database: str
    ) -> None:
        """The same, for a password typed into the URL as is, unencoded: @, :, /, ?, #, &, =
        and % included, so make_url may refuse or misread the URL.
        """
        text = f"postgresql://app:{password}@{host}/{database}"
        assume(password not in f"postgresql://app:{MASK}@{host}/{database}")
        assert password not in mask_url(text)
        assert password not in redact(text, url_secrets(text))

    @given(password=passwords, name=st.sampled_from(["password", "passwd", "PWD", "sslpassword"]))
    def test_a_query_password_never_survives_masking(self, password: str, name: str) -> None:
        """A password given as a query parameter is hidden, raw and encoded, by the same rule."""
        url = sa.URL.create(
            "mysql+pymysql", "app", host="db", database="usage", query={name: password}
        )
        skeleton = f"mysql+pymysql://app@db/usage?{name}={MASK}"
        forms = {password, quote_plus(password)}
        assume(not any(form in skeleton for form in forms))
        text = url.render_as_string(hide_password=False)
        for form in forms:
            assert form not in mask_url(text)
            assert form not in redact(text, url_secrets(text))

    @given(
        username=st.none() | st.text(printable, max_size=10),
        host=hosts,
        database=databases,
        query=harmless_parameters,
    )
    def test_a_url_without_secrets_is_unchanged(
        self, username: str | None, host: str, database: str, query: dict[str, str]
    ) -> None:
        """A rendered URL with no password and only harmless parameters is shown as it is."""
        url = sa.URL.create("postgresql+psycopg", username, None, bare(host), None, database, query)
        text = url.render_as_string(hide_password=False)
        assert mask_url(text) == text
        assert url_secrets(text) == ()

    @given(text=url_like | st.text())
    def test_masking_any_text_never_raises(self, text: str) -> None:
        """mask_url, url_secrets and redact accept any text; secrets are distinct, non-empty and
        longest first.
        """
        assert isinstance(mask_url(text), str)
        secrets = url_secrets(text)
        assert all(secrets)
        assert len(set(secrets)) == len(secrets)
        assert [len(s) for s in secrets] == sorted((len(s) for s in secrets), reverse=True)
        assert isinstance(redact(text, secrets), str)

    @given(text=url_like | st.text(), secrets=st.lists(st.text(max_size=4)))
    def test_redact_leaves_no_secret_behind(self, text: str, secrets: list[str]) -> None:
        """No non-empty secret without ``*`` (which the mask may form) is left in redact's text."""
        secrets = [s for s in secrets if "*" not in s]
        redacted = redact(text, secrets)
        assert not any(secret and secret in redacted for secret in secrets)
