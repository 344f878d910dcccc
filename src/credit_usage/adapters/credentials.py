"""Database URLs and error messages with their credentials hidden.

A database URL can carry a secret in more places than ``URL.password``, the
only one ``URL.render_as_string(hide_password=True)`` hides:

* the password of the userinfo, ``postgresql://user:S3cr3t@host/db``, raw or
  percent-encoded (``S3%40cr%3At`` is the password ``S3@cr:t``);
* a query parameter that the dialect hands to the driver as a connection
  argument: ``?password=`` (psycopg, PyMySQL), ``?passwd=`` (PyMySQL,
  mysqlclient), ``?sslpassword=`` (libpq), the tokens and keys of other drivers;
* a password holding a raw ``@`` (``user:p@ss@host``): :func:`sqlalchemy.make_url`
  cuts it at the first ``@``, so its tail becomes part of the host, which
  SQLAlchemy's rendering and the driver's error (``failed to resolve host
  'ss@host'``) then show. Other such strings make ``make_url`` fail, and the
  message saying so must not quote the password either.

:func:`mask_url` gives a URL as text safe for messages and reprs;
:func:`url_secrets` lists the secrets themselves, in every spelling a driver
may echo, so that :func:`redact` can scrub them from free text such as a
driver's error message.

The rules read the text itself rather than trust one parse, and they err on
hiding: a wrong guess shows ``***`` where a host name was, never a password.

* The userinfo ends at the **last** ``@`` after ``://`` (after the start of
  the text when there is no ``://``), and everything from the first ``:`` of
  the userinfo to that ``@`` is the password. So a raw ``@``, ``/``, ``?`` or
  ``#`` in a password stays hidden, and a URL whose query holds an ``@`` (and
  the userinfo a ``:``) loses its host and database to the mask too.
* A query parameter is a secret when its name, percent-decoded, lowercased and
  stripped of everything but letters and digits, is one of
  :data:`SECRET_PARAMETER_NAMES` or contains one of
  :data:`SECRET_PARAMETER_FRAGMENTS`: ``PassWord``, ``ssl_password``,
  ``X-Api-Key`` and ``pass%77ord`` all are. Every ``?`` and ``&`` may start a
  parameter (a raw ``?`` in a password makes the start of the query
  uncertain); the value runs to the next ``&``, as :func:`urllib.parse.parse_qsl`
  reads it, and on through the ``&``-segments after it that hold no ``=``,
  the rest of a value with a raw ``&``.
* A secret name followed by ``=`` at the start of the text or after
  whitespace, ``;``, ``,`` or ``(`` has its value hidden up to the next
  whitespace, ``;``, ``,`` or ``&`` (or the closing quote or brace): strings
  that are no URL at all, ``host=h password=S3cr3t`` (libpq) or
  ``Server=h;Pwd={S3cr3t}`` (ODBC), keep their secrets too.
* A secret is shown as ``***`` even when it is empty, so the text tells
  neither whether there is one nor how long it is.

Example:
    >>> mask_url("postgresql+psycopg://app:S3cr3t@db.example.com/usage?sslpassword=K3y")
    'postgresql+psycopg://app:***@db.example.com/usage?sslpassword=***'
    >>> url = "mysql+pymysql://app@db/usage?passwd=p%40ss"
    >>> redact("Access denied (using password p@ss)", url_secrets(url))
    'Access denied (using password ***)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from sqlalchemy.engine import URL, make_url

__all__ = [
    "MASK",
    "SECRET_PARAMETER_FRAGMENTS",
    "SECRET_PARAMETER_NAMES",
    "mask_url",
    "redact",
    "url_secrets",
]

#: What a hidden secret is shown as.
MASK: Final = "***"

#: Parameter names that are secrets exactly (after the normalisation above):
#: too short to look for inside longer names, where they would hide harmless
#: values (``authenticator``, ``authentication``, ``keyspace``).
SECRET_PARAMETER_NAMES: Final = frozenset(
    {"auth", "authorization", "key", "pw", "sig", "signature"}
)

#: A parameter whose normalised name contains one of these is a secret:
#: ``password``, ``passwd``, ``sslpassword``, ``passphrase``, ``passcode``
#: (and ``passfile``, a mere path, hidden all the same); ``pwd``; ``secret``,
#: ``client_secret``; ``token``, ``access_token``; ``credentials``; ``api_key``,
#: ``apikey``; ``aws_access_key_id``; ``private_key``; ``sslkey`` and
#: ``ssl_key`` (a path for libpq and PyMySQL, the key itself for some
#: drivers); ``odbc_connect``, a whole ODBC connection string with its ``PWD``.
SECRET_PARAMETER_FRAGMENTS: Final = (
    "pass",
    "pwd",
    "secret",
    "token",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "sslkey",
    "odbcconnect",
)

# Every "?" or "&" may start a parameter; the lookahead lets matches overlap.
_PARAMETER: Final = re.compile(r"(?=[?&]([^?&=]*)=([^&]*))")
_KEYWORD: Final = re.compile(
    r"""(?<![^\s;,(])([\w.-]+)[ \t]*=[ \t]*('[^']*'?|"[^"]*"?|\{[^}]*\}?|[^\s;,&]*)"""
)
_NOT_ALPHANUMERIC: Final = re.compile(r"[^0-9a-z]")
# Where make_url cuts a password with a raw "@" into username, password, host,
# port, database and query.
_URL_DELIMITERS: Final = re.compile(r"[@:/?#&=]")


def mask_url(url: str | URL) -> str:
    """``url`` as text safe to show: its password and secret parameters become ``***``.

    A string is masked as written, so a URL without secrets comes back
    unchanged; a :class:`sqlalchemy.URL` is masked as SQLAlchemy renders it.
    Strings that :func:`sqlalchemy.make_url` refuses or misreads are masked by
    the same rules (see the module's docstring). Never raises: text that
    cannot even be had from ``url`` is shown as ``***``.

    Args:
        url: a database URL, or whatever was passed as one.

    Returns:
        The URL with every secret replaced by ``***``.

    Example:
        >>> mask_url("postgresql://user:p@ss@db.example.com/usage")
        'postgresql://user:***@db.example.com/usage'
        >>> mask_url("sqlite:///usage.db")
        'sqlite:///usage.db'
    """
    try:
        text = url.render_as_string(hide_password=True) if isinstance(url, URL) else str(url)
    except Exception:  # whatever ``url`` is, an error message about it must still be possible
        return MASK
    return _hide(text, _secret_spans(text))


def url_secrets(url: str | URL) -> tuple[str, ...]:
    """Every secret in ``url``, in every spelling a driver may echo, longest first.

    The password and the values of secret query parameters, each as written,
    percent-decoded and percent-encoded, and the part of the host before an
    ``@``: the tail of a password that :func:`sqlalchemy.make_url` cut at a
    raw ``@``. For a string, both what the module's rules hide and what
    ``make_url`` reads; and when ``make_url`` misreads the password (its host
    or database then holds an ``@``), also each piece of the password between
    URL delimiters, which the driver is handed as host or database and names
    in its error. Short pieces make :func:`redact` hide more than needed: the
    price of such a URL.

    A password that is not a string (a password-producing object) is not
    stringified: that could fetch a new token, not the one the driver used.
    Never raises.

    Args:
        url: a database URL, or whatever was passed as one.

    Returns:
        The distinct non-empty secrets, longest first, for :func:`redact`.

    Example:
        >>> url_secrets("postgresql://app:S3%40cr%3At@db/usage?sslpassword=K3y")
        ('S3%2540cr%253At', 'S3%40cr%3At', 'S3@cr:t', 'K3y')
    """
    found: list[str] = []
    if isinstance(url, URL):
        found.extend(_parsed_secrets(url))
    else:
        try:
            text = str(url)
        except Exception:  # nothing can be read from it, so nothing to list
            return ()
        found.extend(text[start:end] for start, end in _secret_spans(text))
        parsed = _parse(text)
        if parsed is not None:
            found.extend(_parsed_secrets(parsed))
            if "@" in (parsed.host or "") + (parsed.database or ""):
                found.extend(_password_pieces(text))
    return _spellings(found)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``***``.

    Every character inside an occurrence of any secret is hidden, and a run of
    overlapping or adjacent occurrences becomes one ``***``: a secret that
    contains another is hidden whole, as if the longest were replaced first.
    A lone string passed as ``secrets`` is one secret, not its characters.

    Args:
        text: free text, such as a driver's error message.
        secrets: the strings to hide, such as :func:`url_secrets`'s.

    Returns:
        ``text`` without the secrets.

    Example:
        >>> redact("password S3cr3t rejected; S3cr3t3 too", ["S3cr3t", "S3cr3t3"])
        'password *** rejected; *** too'
    """
    needles = {secrets} if isinstance(secrets, str) else set(secrets)
    spans: list[tuple[int, int]] = []
    for needle in needles:
        if not needle:
            continue
        start = text.find(needle)
        while start >= 0:
            spans.append((start, start + len(needle)))
            start = text.find(needle, start + 1)
    return _hide(text, spans)


# -- reading the text ---------------------------------------------------------------
def _secret_spans(text: str) -> Iterator[tuple[int, int]]:
    """The ``(start, end)`` of every secret in ``text``, by all of the module's rules."""
    password = _password_span(text)
    if password is not None:
        yield password
    for match in _PARAMETER.finditer(text):
        if _is_secret_name(match.group(1)):
            yield match.start(2), _value_end(text, match.end(2))
    for match in _KEYWORD.finditer(text):
        if _is_secret_name(match.group(1)):
            yield match.span(2)


def _password_span(text: str) -> tuple[int, int] | None:
    """From the first ``:`` of the userinfo to its end, the last ``@``; None without both."""
    scheme_end = text.find("://")
    start = 0 if scheme_end < 0 else scheme_end + len("://")
    at = text.rfind("@", start)
    colon = text.find(":", start, max(at, start))
    if at < 0 or colon < 0:
        return None
    return colon + 1, at


def _value_end(text: str, end: int) -> int:
    """Where a query value ending at ``end`` really ends: on through segments without ``=``."""
    while end < len(text) and text[end] == "&":
        following = text.find("&", end + 1)
        segment_end = len(text) if following < 0 else following
        if "=" in text[end + 1 : segment_end]:
            break
        end = segment_end
    return end


def _is_secret_name(name: str) -> bool:
    key = _NOT_ALPHANUMERIC.sub("", unquote_plus(name).casefold())
    return key in SECRET_PARAMETER_NAMES or any(part in key for part in SECRET_PARAMETER_FRAGMENTS)


def _password_pieces(text: str) -> list[str]:
    """The parts ``make_url`` may cut the password into: its pieces between URL delimiters."""
    span = _password_span(text)
    return [] if span is None else _URL_DELIMITERS.split(text[span[0] : span[1]])


def _parse(text: str) -> URL | None:
    try:
        return make_url(text)
    except Exception:  # refused or unreadable: the textual rules alone apply
        return None


def _parsed_secrets(url: URL) -> Iterator[str]:
    """The password (when a string) and secret parameter values of a parsed URL."""
    if isinstance(url.password, str):
        yield url.password
    if url.host is not None and "@" in url.host:
        # The tail of a password with a raw "@", read by make_url as the host.
        yield from _URL_DELIMITERS.split(url.host.rpartition("@")[0])
    for name, values in url.normalized_query.items():
        if _is_secret_name(name):
            yield from values


def _spellings(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as given, percent-decoded and percent-encoded; distinct, longest first."""
    found: set[str] = set()
    for secret in secrets:
        decoded = {secret, unquote(secret), unquote_plus(secret)}
        found |= decoded
        for plain in decoded:
            # Userinfo as typed, as SQLAlchemy renders it, and query values.
            found |= {quote(plain, safe=""), quote(plain, safe=" +"), quote_plus(plain)}
    found.discard("")
    return tuple(sorted(found, key=lambda secret: (-len(secret), secret)))


# -- writing it back ----------------------------------------------------------------
def _hide(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or touching spans replaced by one ``***``."""
    parts: list[str] = []
    shown = 0  # text[:shown] is already in parts
    hiding: tuple[int, int] | None = None
    for start, end in sorted(spans):
        if hiding is not None and start <= hiding[1]:
            hiding = (hiding[0], max(hiding[1], end))
            continue
        if hiding is not None:
            parts += [text[shown : hiding[0]], MASK]
            shown = hiding[1]
        hiding = (start, end)
    if hiding is None:
        return text
    parts += [text[shown : hiding[0]], MASK, text[hiding[1] :]]
    return "".join(parts)
