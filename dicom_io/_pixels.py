"""Pixel-level helpers shared by the DICOM and image readers: size limits and colour handling."""

from __future__ import annotations

import numpy as np

from dicom_io.errors import FilmTooLargeError

__all__ = ["MAX_SIDE", "check_size", "grey_if_identical", "to_rgb8"]

#: Longest side, in pixels, of anything we accept as a film (the longest long-leg cassettes at
#: 0.1 mm are about 15000 pixels); beyond it a header is corrupt or hostile.
MAX_SIDE = 40_000


def check_size(rows: int, columns: int, samples: int, bytes_per_sample: int, max_bytes: int) -> None:
    """Refuse, before anything is allocated, an image too large for memory or implausible.

    Raises
    ------
    FilmTooLargeError
        A side above 40 000 pixels, or ``rows * columns * samples * bytes_per_sample`` above
        ``max_bytes``.
    """
    if rows > MAX_SIDE or columns > MAX_SIDE:
        raise FilmTooLargeError(
            f"This film claims to be {rows} x {columns} pixels, more than any radiograph; "
            "the file is probably damaged."
        )
    needed = rows * columns * samples * bytes_per_sample
    if needed > max_bytes:
        raise FilmTooLargeError(
            f"This film is too large to open: {rows} x {columns} pixels need "
            f"{needed / 1e9:.1f} GB of memory, above the limit of {max_bytes / 1e9:.1f} GB."
        )


def to_rgb8(array: np.ndarray, bits_stored: int) -> np.ndarray:
    """Colour samples of any depth as uint8, keeping the most significant bits."""
    if array.dtype == np.uint8:
        return array
    shift = max(0, min(bits_stored, array.dtype.itemsize * 8) - 8)
    if array.dtype.kind == "i":
        array = np.clip(array, 0, None)
    return (array >> shift).astype(np.uint8)


def grey_if_identical(array: np.ndarray) -> np.ndarray | None:
    """The first channel when all three are equal (a grey film scanned or saved as RGB)."""
    if array.ndim != 3 or array.shape[2] != 3:
        return None
    probe = array[::17, ::17]
    if not (np.array_equal(probe[..., 0], probe[..., 1]) and np.array_equal(probe[..., 0], probe[..., 2])):
        return None
    if np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 0], array[..., 2]):
        return np.ascontiguousarray(array[..., 0])
    return None
