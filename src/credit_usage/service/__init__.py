"""The application service: :class:`CreditUsage` and the use cases behind it."""

from __future__ import annotations

from credit_usage.service.app import CreditUsage

__all__ = ["CreditUsage"]
