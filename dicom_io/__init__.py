"""Films in, one Radiograph out: DICOM and scanned images, pixel data, metadata and calibration.

Never imports Qt or the application.

Main entry points: :func:`open_film` (decode one film), :func:`read_header` (describe it without
decoding), :func:`list_films` (the films of a folder or a DICOMDIR), and the calibration helpers
of :mod:`dicom_io.calibration`. Every bad file raises a :class:`FilmError` whose ``str()`` is a
sentence for the user.
"""

from dicom_io.calibration import (
    Calibration,
    CalibrationSource,
    CircleFit,
    calibration_from_dataset,
    calibration_from_line,
    calibration_from_marker,
    fit_circle,
)
from dicom_io.errors import (
    CalibrationError,
    CorruptFilmError,
    FilmError,
    FilmNotFoundError,
    FilmTooLargeError,
    InconsistentFilmError,
    NoImageError,
    NotAFilmError,
    NotDicomError,
    TruncatedFilmError,
    UnsupportedCompressionError,
    UnsupportedFilmError,
)
from dicom_io.film import FilmMetadata, FilmSummary, Radiograph, VoiLut, WindowPreset, open_film, read_header
from dicom_io.folder import FilmListing, list_films

__all__ = [
    "Calibration",
    "CalibrationError",
    "CalibrationSource",
    "CircleFit",
    "CorruptFilmError",
    "FilmError",
    "FilmListing",
    "FilmMetadata",
    "FilmNotFoundError",
    "FilmSummary",
    "FilmTooLargeError",
    "InconsistentFilmError",
    "NoImageError",
    "NotAFilmError",
    "NotDicomError",
    "Radiograph",
    "TruncatedFilmError",
    "UnsupportedCompressionError",
    "UnsupportedFilmError",
    "VoiLut",
    "WindowPreset",
    "calibration_from_dataset",
    "calibration_from_line",
    "calibration_from_marker",
    "fit_circle",
    "list_films",
    "open_film",
    "read_header",
]
