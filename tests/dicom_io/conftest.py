"""Fixtures for the dicom_io tests."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The test modules import their helpers by name; with pytest's importlib mode the test folder
# is not on sys.path by itself.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from dicom_io_helpers import make_dataset, save, smooth_image  # noqa: E402

_names = itertools.count()


@pytest.fixture
def write_film(tmp_path: Path) -> Callable[..., Path]:
    """``write_film(pixels, name=None, **attributes) -> path`` of an Explicit VR LE DICOM film."""

    def _write(pixels: np.ndarray, name: str | None = None, **attrs: Any) -> Path:
        ds = make_dataset(pixels, **attrs)
        return save(ds, tmp_path / (name or f"film{next(_names)}.dcm"))

    return _write


@pytest.fixture
def image16() -> np.ndarray:
    """A 48 x 40 12-bit test image in uint16."""
    return smooth_image(48, 40)
