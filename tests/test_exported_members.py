"""The public surface: everything in ``__all__`` exists and ``__all__`` is complete."""

import credit_usage


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(credit_usage).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("credit_usage")
    }
    assert credit_usage.__all__ == sorted(credit_usage.__all__)
    assert public <= set(credit_usage.__all__)


def test_every_exported_name_exists() -> None:
    for name in credit_usage.__all__:
        assert hasattr(credit_usage, name), name
