"""PNG, JPEG and TIFF films (scanned or exported), decoded by OpenCV at their own depth.

Such files carry neither calibration nor patient data: the film is uncalibrated until the user
measures a marker or a known length.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dicom_io._model import FilmMetadata, Radiograph, auto_window
from dicom_io._pixels import check_size, grey_if_identical
from dicom_io._sniff import ImageHeader, image_header
from dicom_io.calibration import Calibration
from dicom_io.errors import CorruptFilmError, TruncatedFilmError, UnsupportedFilmError

__all__ = ["open_image"]

log = logging.getLogger(__name__)

_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _check_complete(path: Path, kind: str) -> None:
    """A PNG ends with its IEND chunk and a JPEG with an EOI marker; a cut file does not.

    Checked before decoding because libjpeg "decodes" a cut JPEG, filling the missing part
    with grey, which would look like a film.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 4096))
        tail = f.read()
    if kind == "png" and _PNG_END not in tail:
        raise TruncatedFilmError("This PNG image is incomplete: the file was probably cut during a copy.")
    if kind == "jpeg" and b"\xff\xd9" not in tail:
        raise TruncatedFilmError("This JPEG image is incomplete: the file was probably cut during a copy.")


def _bytes_per_sample(header: ImageHeader) -> int:
    return 1 if header.bits <= 8 else 2 if header.bits <= 16 else 4


def open_image(path: Path, kind: str, max_bytes: int) -> Radiograph:
    """Decode a PNG, JPEG or TIFF film (``kind`` from the sniffer) into a :class:`Radiograph`."""
    header = image_header(path, kind)
    check_size(header.rows, header.columns, max(1, header.channels), _bytes_per_sample(header), max_bytes)
    _check_complete(path, kind)

    import cv2  # imported here: it is large, and DICOM-only use never needs it

    # np.fromfile + imdecode rather than imread: imread cannot open non-ASCII paths on Windows.
    encoded = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    del encoded
    if image is None:
        raise CorruptFilmError(
            f"This {header.file_format} image could not be decoded; the file may be damaged or incomplete."
        )

    notes: list[str] = []
    is_color = image.ndim == 3
    if is_color:
        channels = image.shape[2]
        if channels == 4:
            notes.append("The image's transparency channel was ignored.")
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        elif channels == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        elif channels == 1:
            image, is_color = image[..., 0], False
        else:
            raise UnsupportedFilmError(f"This image has {channels} channels, which is not supported.")
    if image.dtype.kind == "f":
        if is_color:
            raise UnsupportedFilmError("Floating-point colour images are not supported.")
        image = image.astype(np.float32, copy=False)
    elif image.dtype not in (np.uint8, np.uint16):
        raise UnsupportedFilmError(f"This image stores its pixels as {image.dtype}, which is not supported.")

    bits_stored = image.dtype.itemsize * 8
    if is_color:
        grey = grey_if_identical(image)
        if grey is not None:
            image, is_color = grey, False
            notes.append("The colour image has identical red, green and blue; it is shown in grey.")
        elif image.dtype == np.uint16:
            notes.append("The 16-bit colour image was reduced to 8 bits per colour for display.")
            image = (image >> 8).astype(np.uint8)
    if header.pages > 1:
        notes.append(f"This file holds {header.pages} images; the first one is shown.")
    notes.append("An image file carries no patient details and no calibration; check the name on the film.")

    image = np.ascontiguousarray(image)
    image.flags.writeable = False
    log.info("opened %s film %dx%d", header.file_format, image.shape[0], image.shape[1])
    return Radiograph(
        path=path,
        pixels=image,
        photometric="RGB" if is_color else "MONOCHROME2",
        bits_stored=bits_stored,
        invert_display=False,
        is_color=is_color,
        calibration=Calibration.uncalibrated(),
        metadata=FilmMetadata(),
        window_presets=(),
        auto_window=auto_window(image),
        voi_lut=None,
        notes=tuple(notes),
        kind="image",
        number_of_frames=header.pages,
        file_format=header.file_format,
    )
