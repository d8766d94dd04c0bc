"""A synthetic 50-megapixel 16-bit long-leg film with its ground-truth case, for the app benchmarks."""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

SPACING_MM = 0.09  # 4167 x 11667 pixels: about 48.6 megapixels


def big_demo(folder: Path | None = None) -> tuple[Path, Path]:
    from dicom_io.demo import DEFAULT_DEMO, write_demo

    folder = folder or Path(tempfile.mkdtemp(prefix="bench-film-"))
    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=SPACING_MM)
    return write_demo(folder, spec, name="big")
