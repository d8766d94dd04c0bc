"""Errors raised when a film cannot be opened.

Every error is a :class:`FilmError`; ``str(error)`` is one plain sentence that can be shown to a
clinician as it is (in a dialog, or as the one line the command line prints before exiting with
status 2). The messages never contain patient data. The original library exception, when there is
one, stays reachable as ``error.__cause__`` for developers.
"""

from __future__ import annotations

__all__ = [
    "CalibrationError",
    "CorruptFilmError",
    "FilmError",
    "FilmNotFoundError",
    "FilmTooLargeError",
    "InconsistentFilmError",
    "NoImageError",
    "NotAFilmError",
    "NotDicomError",
    "TruncatedFilmError",
    "UnsupportedCompressionError",
    "UnsupportedFilmError",
]


class FilmError(Exception):
    """A film that cannot be opened; ``str()`` is a sentence for a clinician."""

    default_message = "This file could not be opened as a film."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class FilmNotFoundError(FilmError):
    """The path does not exist or cannot be read."""

    default_message = "The file could not be found or could not be read."


class NotAFilmError(FilmError):
    """Neither a DICOM file nor a PNG, JPEG or TIFF image."""

    default_message = "This file is neither a DICOM file nor a PNG, JPEG or TIFF image."


#: The same error under the name used in the architecture notes; ``except NotDicomError`` and
#: ``except NotAFilmError`` catch the same thing.
NotDicomError = NotAFilmError


class NoImageError(FilmError):
    """A DICOM file without pixel data (a report, a presentation state, a DICOMDIR...)."""

    default_message = (
        "This DICOM file contains no image (it may be a report or another non-image object)."
    )


class TruncatedFilmError(FilmError):
    """The pixel data is shorter than the header announces (a cut download or copy)."""

    default_message = (
        "The image in this file is incomplete: the file is shorter than its header announces, "
        "probably because it was cut during a copy or a transfer."
    )


class UnsupportedFilmError(FilmError):
    """A well-formed file whose kind of image this program does not handle."""

    default_message = "This file holds a kind of image that this program cannot display."


class UnsupportedCompressionError(UnsupportedFilmError):
    """The transfer syntax has no decoder here (MPEG video, JPEG XL, an unknown private one...)."""

    default_message = "This film is compressed in a way that this program cannot decode."


class FilmTooLargeError(FilmError):
    """The decoded image would exceed the memory limit or the plausible size of a film."""

    default_message = "This film is too large to open."


class InconsistentFilmError(FilmError):
    """The header (image size, bit depth) contradicts the pixel data."""

    default_message = (
        "The image size written in this file does not match the image data it contains."
    )


class CorruptFilmError(FilmError):
    """Compressed pixel data that the decoder rejects."""

    default_message = "The compressed image in this file could not be decoded; the file may be damaged."


class CalibrationError(ValueError):
    """Calibration points that cannot define a scale; ``str()`` is a sentence for the user."""

    def __init__(self, message: str = "These points cannot be used to calibrate the film.") -> None:
        super().__init__(message)
