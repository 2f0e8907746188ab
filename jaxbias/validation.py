"""Argument checks shared by every module: Python exceptions that name the argument, the value and what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_int"]


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """Returns ``value`` as an int, or raises ValueError naming ``name`` and the accepted range."""
    expected = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise ValueError(f"{name}={value!r}: expected {expected}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name}={value!r}: expected {expected}")
    return value
