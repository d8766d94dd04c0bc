"""Value types of ``dicom_io``: a film's metadata, display presets, header summary and pixels.

Defined here, re-exported by :mod:`dicom_io.film`, so that the readers can build them without
importing the module that orchestrates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from dicom_io.calibration import Calibration

__all__ = ["FilmMetadata", "FilmSummary", "Radiograph", "VoiLut", "WindowPreset", "auto_window"]


@dataclass(frozen=True, slots=True)
class WindowPreset:
    """A display window in modality values (the units of ``Radiograph.pixels``).

    ``center`` and ``width`` follow DICOM Window Center / Window Width; ``name`` is the file's
    explanation ("BONE", "SOFT TISSUE"...), or a description of where the window comes from.
    """

    center: float
    width: float
    name: str

    @property
    def low(self) -> float:
        """Modality value shown black (white on an inverted display)."""
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """Modality value shown white (black on an inverted display)."""
        return self.center + self.width / 2.0


@dataclass(frozen=True, slots=True, eq=False)
class VoiLut:
    """The first item of a film's VOI LUT Sequence: a display lookup on modality values.

    Modality value ``v`` displays as ``table[clip(v - first_mapped, 0, len(table) - 1)]``, an
    output in ``0 .. 2**bits - 1`` (to be scaled to the screen's range by the viewer).
    """

    first_mapped: int
    table: np.ndarray
    bits: int
    explanation: str = ""

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Look ``values`` (modality values, any shape) up in the table."""
        index = np.asarray(values).astype(np.int64, copy=True)
        index -= self.first_mapped
        np.clip(index, 0, len(self.table) - 1, out=index)
        return self.table[index]


@dataclass(frozen=True, slots=True)
class FilmMetadata:
    """Who, when and what a film is; empty strings where the file does not say.

    Text is decoded with the file's character set (Japanese, Korean, Chinese... come out as
    Unicode). Dates are ``YYYYMMDD`` as in DICOM. Person names keep DICOM's ``Family^Given``
    form, with ``=`` between alphabetic, ideographic and phonetic versions.
    """

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    study_date: str = ""
    study_description: str = ""
    accession_number: str = ""
    institution: str = ""
    laterality: str = ""
    view_position: str = ""
    patient_orientation: tuple[str, ...] = ()
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    modality: str = ""
    manufacturer: str = ""
    transfer_syntax: str = ""
    series_description: str = ""
    body_part_examined: str = ""
    sop_class: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form (the patient orientation as a list)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class FilmSummary:
    """What a film's header says, read without decoding its pixels (for lists and ``info``).

    Attributes
    ----------
    path: the file.
    kind: ``"dicom"`` or ``"image"``.
    file_format: ``"DICOM"``, ``"PNG"``, ``"JPEG"`` or ``"TIFF"``.
    rows, columns: image size in pixels (0 when the file has no image).
    samples_per_pixel: 1 for grey, 3 for colour (4 for an image with alpha).
    bits_allocated, bits_stored: container and significant bits per sample.
    photometric: DICOM Photometric Interpretation (``"MONOCHROME2"``, ``"RGB"``...).
    number_of_frames: frames (DICOM) or pages (TIFF) in the file.
    has_pixels: False for DICOM objects without an image.
    calibration: spacing from the header (uncalibrated for PNG/JPEG/TIFF).
    metadata: patient, study and image description.
    window_presets: display windows stored in the file.
    has_voi_lut: the file carries a VOI LUT Sequence.
    voi_function: DICOM VOI LUT Function of the presets (``"LINEAR"``, ``"SIGMOID"``...).
    """

    path: Path
    kind: str
    file_format: str
    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    photometric: str
    number_of_frames: int
    has_pixels: bool
    calibration: Calibration
    metadata: FilmMetadata = field(default_factory=FilmMetadata)
    window_presets: tuple[WindowPreset, ...] = ()
    has_voi_lut: bool = False
    voi_function: str = "LINEAR"

    @property
    def patient(self) -> str:
        """Patient name as written in the file."""
        return self.metadata.patient_name

    @property
    def patient_name(self) -> str:
        """Same as :attr:`patient` (the :class:`FilmMetadata` field name)."""
        return self.metadata.patient_name

    @property
    def study_date(self) -> str:
        """Same as :attr:`date` (the :class:`FilmMetadata` field name)."""
        return self.metadata.study_date

    @property
    def study_description(self) -> str:
        """Study description as written in the file."""
        return self.metadata.study_description

    @property
    def date(self) -> str:
        """Study date, ``YYYYMMDD``."""
        return self.metadata.study_date

    @property
    def description(self) -> str:
        """The most specific description available: series, then study, then body part."""
        m = self.metadata
        return m.series_description or m.study_description or m.body_part_examined

    @property
    def modality(self) -> str:
        """DICOM modality (``CR``, ``DX``...), empty for image files."""
        return self.metadata.modality

    @property
    def size_text(self) -> str:
        """``"rows x columns"``, as shown in lists."""
        return f"{self.rows} x {self.columns}"


@dataclass(eq=False, slots=True)
class Radiograph:
    """One film, decoded: pixels in modality values, calibration and what to show.

    Attributes
    ----------
    path: the file it came from.
    pixels: read-only array. Grey films: 2-D (rows, columns) modality values, i.e. after the
        modality LUT (rescale slope/intercept); integer films stay integer (uint8, uint16,
        int16, int32 when the rescale leaves 16 bits), float32 only for a non-integral rescale.
        Colour films: (rows, columns, 3) RGB uint8.
    photometric: DICOM Photometric Interpretation of the file ("MONOCHROME2" for grey images).
    bits_stored: significant bits per stored sample before the modality LUT.
    invert_display: show low values white (MONOCHROME1, or an INVERSE presentation shape).
    is_color: ``pixels`` is RGB.
    calibration: pixel spacing, its source and caveat.
    metadata: patient, study and image description.
    window_presets: windows stored in the file, in modality values.
    auto_window: robust window from the pixel histogram (0.5 to 99.5 percentiles).
    voi_lut: the file's first VOI LUT, or None.
    notes: plain sentences about what was done or guessed while opening (frames, lossy...).
    kind: "dicom" or "image".
    number_of_frames: frames in the file; the first one is shown.
    voi_function: VOI LUT Function of the presets ("LINEAR", "LINEAR_EXACT", "SIGMOID").
    file_format: "DICOM", "PNG", "JPEG" or "TIFF".
    """

    path: Path
    pixels: np.ndarray
    photometric: str
    bits_stored: int
    invert_display: bool
    is_color: bool
    calibration: Calibration
    metadata: FilmMetadata
    window_presets: tuple[WindowPreset, ...]
    auto_window: WindowPreset
    voi_lut: VoiLut | None = None
    notes: tuple[str, ...] = ()
    kind: str = "dicom"
    number_of_frames: int = 1
    voi_function: str = "LINEAR"
    file_format: str = "DICOM"

    @property
    def rows(self) -> int:
        """Image height in pixels."""
        return int(self.pixels.shape[0])

    @property
    def columns(self) -> int:
        """Image width in pixels."""
        return int(self.pixels.shape[1])

    @classmethod
    def from_array(
        cls,
        pixels: np.ndarray,
        *,
        calibration: Calibration | None = None,
        path: Path | str = "<memory>",
        metadata: FilmMetadata | None = None,
        invert_display: bool = False,
    ) -> Radiograph:
        """A film made from an array in memory (demos, tests): grey 2-D or RGB uint8 3-D."""
        array = np.asarray(pixels)
        is_color = array.ndim == 3
        if is_color and (array.shape[2] != 3 or array.dtype != np.uint8):
            raise ValueError("colour films are (rows, columns, 3) uint8 arrays")
        if array.ndim not in (2, 3):
            raise ValueError("a film is a 2-D grey array or a (rows, columns, 3) colour array")
        array = array.view()
        array.flags.writeable = False
        return cls(
            path=Path(path),
            pixels=array,
            photometric="RGB" if is_color else ("MONOCHROME1" if invert_display else "MONOCHROME2"),
            bits_stored=array.dtype.itemsize * 8,
            invert_display=invert_display,
            is_color=is_color,
            calibration=calibration or Calibration.uncalibrated(),
            metadata=metadata or FilmMetadata(),
            window_presets=(),
            auto_window=auto_window(array),
            kind="image",
            file_format="",
        )


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


# Enough samples for percentiles stable to a fraction of a grey level, few enough to take
# about a millisecond on any film.
_AUTO_WINDOW_SAMPLES = 250_000


def auto_window(pixels: np.ndarray, low_percent: float = 0.5, high_percent: float = 99.5) -> WindowPreset:
    """Window spanning the 0.5th to 99.5th percentiles of a strided subsample of ``pixels``.

    Robust to collimator borders and burnt-in labels (a few percent of the pixels), and cheap:
    the subsample has at most about 250 000 pixels whatever the film's size.
    """
    rows, columns = pixels.shape[:2]
    step = max(1, math.ceil(math.sqrt(rows * columns / _AUTO_WINDOW_SAMPLES)))
    sample = pixels[::step, ::step]
    values = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample.ravel()
    if values.size == 0:
        return WindowPreset(0.5, 1.0, "automatic (0.5-99.5 percentile)")
    low, high = (float(v) for v in np.percentile(values, [low_percent, high_percent]))
    width = high - low
    if width <= 0:
        # A flat image: any window shows it; one grey level wide keeps the centre meaningful.
        width = 1.0
    return WindowPreset((low + high) / 2.0, width, "automatic (0.5-99.5 percentile)")
