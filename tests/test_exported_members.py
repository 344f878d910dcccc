"""The public surface: everything in ``__all__`` exists and ``__all__`` is complete."""

import subprocess
import sys

import credit_usage


def _isort_order(name: str) -> tuple[int, str]:
    # Constants, then classes, then functions: the order ruff's RUF022 keeps.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` lists every public name defined in the package, sorted."""
    public = {
        name
        for name, value in vars(credit_usage).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("credit_usage")
    }
    public |= {name for name in ("DEFAULT_FEATURES",) if hasattr(credit_usage, name)}
    assert credit_usage.__all__ == sorted(credit_usage.__all__, key=_isort_order)
    assert public <= set(credit_usage.__all__)


def test_every_exported_name_exists() -> None:
    """Each name of ``__all__`` can be imported from the package."""
    for name in credit_usage.__all__:
        assert hasattr(credit_usage, name), name


def test_importing_the_package_does_not_import_sqlalchemy_or_cattrs() -> None:
    """A host on in-memory storage pays for neither; SqlStorage imports SQLAlchemy on first use."""
    code = (
        "import sys, credit_usage\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
        "assert 'cattrs' not in sys.modules, 'cattrs imported'\n"
        "from credit_usage import SqlStorage\n"
        "assert 'sqlalchemy' in sys.modules\n"
        "assert SqlStorage.__name__ == 'SqlStorage'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
