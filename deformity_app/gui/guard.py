"""Exceptions must not escape Python code that Qt calls to paint.

An exception raised in a ``paint``/``paintEvent`` override travels back through C++ to shiboken,
and in PySide6 6.11 storing it there can crash the interpreter (measured: a TypeError in an item's
paint under a Python ``viewportEvent`` override ended in a segfault in
``Shiboken::Errors::storePythonOverrideErrorOrPrint``). A crash loses the user's unsaved work; a
part of the picture not drawn does not. :func:`guarded` catches the exception, logs it once per
class and method (a paint fails again on every frame), and returns.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_reported: set[tuple[str, str]] = set()


def guarded(method: F) -> F:
    """Wrap a Qt override so that an exception in it is logged (once) instead of reaching Qt."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001 - see the module's docstring
            key = (type(self).__name__, method.__name__)
            if key not in _reported:
                _reported.add(key)
                log.exception("%s.%s failed; that part of the view is not drawn", *key)
            return None

    return wrapper  # type: ignore[return-value]


def reported() -> set[tuple[str, str]]:
    """The (class, method) pairs that have failed so far (diagnostics and tests)."""
    return set(_reported)
