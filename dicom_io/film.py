"""Open any clinic film (DICOM, or a PNG/JPEG/TIFF scan) as one :class:`Radiograph`.

>>> film = open_film("leg.dcm")                      # doctest: +SKIP
>>> film.pixels.shape, film.calibration.source       # doctest: +SKIP
((7000, 2400), <CalibrationSource.IMAGER: 'ImagerPixelSpacing'>)

Bad files raise a :class:`~dicom_io.errors.FilmError` subclass whose ``str()`` is a sentence for
the user; no other exception escapes :func:`open_film` or :func:`read_header` for a bad file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dicom_io._dicom import open_dicom, summarize_dicom
from dicom_io._model import FilmMetadata, FilmSummary, Radiograph, VoiLut, WindowPreset, auto_window
from dicom_io._raster import open_image
from dicom_io._sniff import image_header, sniff
from dicom_io.calibration import Calibration
from dicom_io.errors import FilmError, FilmTooLargeError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FilmMetadata",
    "FilmSummary",
    "Radiograph",
    "VoiLut",
    "WindowPreset",
    "auto_window",
    "open_film",
    "read_header",
]

log = logging.getLogger(__name__)

#: Largest decoded image :func:`open_film` accepts by default, bytes (a 100-megapixel 16-bit
#: film is 0.2 GB; beyond 1.5 GB the header is wrong or the machine will struggle).
DEFAULT_MAX_BYTES = 1_500_000_000

_GENERIC = (
    "This file could not be opened as a film: it is damaged or of a kind this program does not understand."
)


def open_film(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Radiograph:
    """Decode a film: DICOM (any common transfer syntax) or a PNG, JPEG or TIFF image.

    Only the first frame of a multi-frame file is decoded (``notes`` says so). Grey pixels are
    modality values at the film's own depth; colour films are RGB uint8.

    Parameters
    ----------
    path : the file.
    max_bytes : largest decoded image accepted, in bytes; larger films are refused from their
        header, before any pixel memory is allocated.

    Raises
    ------
    FilmError
        One of its subclasses for every file that cannot be shown (see :mod:`dicom_io.errors`).
    """
    file = Path(path)
    try:
        kind = sniff(file)
        if kind == "dicom":
            return open_dicom(file, max_bytes)
        return open_image(file, kind, max_bytes)
    except FilmError as exc:
        log.info("film refused: %s", type(exc).__name__)
        raise
    except MemoryError as exc:
        raise FilmTooLargeError("There is not enough free memory to open this film.") from exc
    except Exception as exc:  # noqa: BLE001 - the promise: no traceback for a bad file
        # The exception text may quote header values (patient names), so only its type is logged.
        log.warning("unexpected %s while opening a film", type(exc).__name__)
        raise FilmError(_GENERIC) from exc


def read_header(path: str | os.PathLike[str]) -> FilmSummary:
    """Describe a film from its header, without decoding pixels (fast, for lists and ``info``).

    A DICOM file without an image is described (``has_pixels`` False) rather than refused, so that
    its patient and study can still be shown.

    Raises
    ------
    FilmError
        Not a film (:class:`~dicom_io.errors.NotAFilmError`), unreadable or damaged header.
    """
    file = Path(path)
    try:
        kind = sniff(file)
        if kind == "dicom":
            return summarize_dicom(file)
        header = image_header(file, kind)
        return FilmSummary(
            path=file,
            kind="image",
            file_format=header.file_format,
            rows=header.rows,
            columns=header.columns,
            samples_per_pixel=header.channels,
            bits_allocated=8 if header.bits <= 8 else 16 if header.bits <= 16 else 32,
            bits_stored=header.bits,
            photometric="MONOCHROME2" if header.channels == 1 else "RGB",
            number_of_frames=header.pages,
            has_pixels=True,
            calibration=Calibration.uncalibrated(),
        )
    except FilmError:
        raise
    except Exception as exc:  # noqa: BLE001
        log.warning("unexpected %s while reading a film header", type(exc).__name__)
        raise FilmError(_GENERIC) from exc
