"""The case: one analysed film, its calibration and the landmarks placed on it.

Reads and writes the case file of `shared/spec/case-format.md` (format "deformity-case/1").
Keys the format does not name are kept as they were read and written back unchanged, so that
other programs' additions survive a round trip through the application.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

from .landmarks import LANDMARK_NAMES, Side

FORMAT = "deformity-case/1"

CALIBRATION_SOURCES: tuple[str, ...] = (
    "PixelSpacing",
    "ImagerPixelSpacing",
    "ImagerPixelSpacing+ERMF",
    "marker",
    "manual",
    "none",
)

Point = tuple[float, float]


class CaseError(Exception):
    """A case file that cannot be used; `str()` names the reason in words a clinician understands."""


@dataclass(slots=True)
class Limb:
    """Landmarks of one limb in image pixel coordinates `(x = column, y = row)`."""

    landmarks: dict[str, Point] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # keys other programs (or later features) added

    def get(self, name: str) -> Point | None:
        return self.landmarks.get(name)

    def copy(self) -> "Limb":
        return Limb(dict(self.landmarks), copy.deepcopy(self.extra))


@dataclass(slots=True)
class Case:
    """One analysed film. The single source of truth the GUI edits and the measurements read."""

    image: dict[str, Any] = field(default_factory=dict)  # path, sop_instance_uid, rows, columns
    pixel_spacing_mm: tuple[float, float] | None = None  # (row_spacing, column_spacing)
    calibration_source: str = "none"
    patient_orientation: tuple[str, str] = ("L", "F")
    limbs: dict[Side, Limb] = field(default_factory=dict)
    calibration_extra: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # found while reading; not written back

    @property
    def calibrated(self) -> bool:
        return self.pixel_spacing_mm is not None

    def limb(self, side: Side | str) -> Limb:
        """The limb for `side`, created empty when absent."""
        side = Side(side)
        if side not in self.limbs:
            self.limbs[side] = Limb()
        return self.limbs[side]

    def copy(self) -> "Case":
        return Case(
            image=copy.deepcopy(self.image),
            pixel_spacing_mm=self.pixel_spacing_mm,
            calibration_source=self.calibration_source,
            patient_orientation=self.patient_orientation,
            limbs={side: limb.copy() for side, limb in self.limbs.items()},
            calibration_extra=copy.deepcopy(self.calibration_extra),
            extra=copy.deepcopy(self.extra),
            warnings=list(self.warnings),
        )

    # --- serialisation -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any) -> "Case":
        """Validate and build a case from the parsed JSON of a case file; raises CaseError."""
        if not isinstance(data, dict):
            raise CaseError("the file does not contain a case (expected a JSON object)")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise CaseError(f"unsupported case format {fmt!r} (expected {FORMAT!r})")
        warnings: list[str] = []

        image = data.get("image", {})
        if image is None:
            image = {}
        if not isinstance(image, dict):
            raise CaseError("'image' must be an object")

        spacing = _parse_spacing(data.get("pixel_spacing_mm"))
        calibration = data.get("calibration") or {}
        if not isinstance(calibration, dict):
            raise CaseError("'calibration' must be an object")
        source = calibration.get("source", "none" if spacing is None else "PixelSpacing")
        if source not in CALIBRATION_SOURCES:
            raise CaseError(
                f"unknown calibration source {source!r} (expected one of {', '.join(CALIBRATION_SOURCES)})"
            )
        if spacing is None and source != "none":
            warnings.append(f"calibration source {source!r} given without a pixel spacing: treated as uncalibrated")
            source = "none"
        if spacing is not None and source == "none":
            raise CaseError("a pixel spacing is given but the calibration source is 'none'")
        calibration_extra = {k: v for k, v in calibration.items() if k != "source"}

        orientation = _parse_orientation(data.get("patient_orientation", ["L", "F"]))

        limbs_data = data.get("limbs", {})
        if limbs_data is None:
            limbs_data = {}
        if not isinstance(limbs_data, dict):
            raise CaseError("'limbs' must be an object with 'right' and/or 'left'")
        limbs: dict[Side, Limb] = {}
        for key, limb_data in limbs_data.items():
            try:
                side = Side(key)
            except ValueError:
                raise CaseError(f"unknown limb {key!r} (expected 'right' or 'left')") from None
            limbs[side] = _parse_limb(side, limb_data, warnings)

        extra = {
            k: copy.deepcopy(v)
            for k, v in data.items()
            if k not in ("format", "image", "pixel_spacing_mm", "calibration", "patient_orientation", "limbs")
        }
        return cls(
            image=copy.deepcopy(image),
            pixel_spacing_mm=spacing,
            calibration_source=source,
            patient_orientation=orientation,
            limbs=limbs,
            calibration_extra=calibration_extra,
            extra=extra,
            warnings=warnings,
        )

    def to_dict(self) -> dict[str, Any]:
        """The case-file JSON object (limbs in right, left order; landmarks in clinical order)."""
        limbs: dict[str, Any] = {}
        for side in (Side.RIGHT, Side.LEFT):
            limb = self.limbs.get(side)
            if limb is None:
                continue
            ordered = [n for n in LANDMARK_NAMES if n in limb.landmarks]
            ordered += sorted(n for n in limb.landmarks if n not in LANDMARK_NAMES)
            out = {"landmarks": {n: [float(limb.landmarks[n][0]), float(limb.landmarks[n][1])] for n in ordered}}
            out.update(copy.deepcopy(limb.extra))
            limbs[str(side)] = out
        calibration = {"source": self.calibration_source}
        calibration.update(copy.deepcopy(self.calibration_extra))
        data: dict[str, Any] = {
            "format": FORMAT,
            "image": copy.deepcopy(self.image),
            "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm else None,
            "calibration": calibration,
            "patient_orientation": list(self.patient_orientation),
            "limbs": limbs,
        }
        data.update(copy.deepcopy(self.extra))
        return data


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_spacing(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_finite_number(v) for v in value)):
        raise CaseError("'pixel_spacing_mm' must be null or [row_spacing, column_spacing] in mm")
    row, col = float(value[0]), float(value[1])
    if row <= 0 or col <= 0:
        raise CaseError(f"pixel spacing must be positive (got {row} x {col} mm)")
    return (row, col)


_ORIENTATION_LETTERS = set("LRAPHF")


def _parse_orientation(value: Any) -> tuple[str, str]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise CaseError("'patient_orientation' must be a pair of DICOM direction codes such as [\"L\", \"F\"]")
    first, second = value[0].upper(), value[1].upper()
    if not first or not second or not set(first + second) <= _ORIENTATION_LETTERS:
        raise CaseError(f"'patient_orientation' {list(value)!r} uses letters other than L, R, A, P, H, F")
    return (first, second)


def _parse_limb(side: Side, data: Any, warnings: list[str]) -> Limb:
    if data is None:
        return Limb()
    if not isinstance(data, dict):
        raise CaseError(f"limb {str(side)!r} must be an object")
    landmarks_data = data.get("landmarks", {}) or {}
    if not isinstance(landmarks_data, dict):
        raise CaseError(f"the landmarks of the {side} limb must be an object")
    landmarks: dict[str, Point] = {}
    for name, value in landmarks_data.items():
        if not (
            isinstance(value, (list, tuple)) and len(value) == 2 and all(_finite_number(v) for v in value)
        ):
            raise CaseError(f"landmark {name!r} of the {side} limb is not a pair of finite numbers")
        if name not in LANDMARK_NAMES:
            warnings.append(f"unknown landmark {name!r} on the {side} limb is kept but not used")
        landmarks[str(name)] = (float(value[0]), float(value[1]))
    extra = {k: copy.deepcopy(v) for k, v in data.items() if k != "landmarks"}
    return Limb(landmarks, extra)


# --- files ----------------------------------------------------------------------------------------


def load_case(path: str | os.PathLike[str]) -> Case:
    """Read and validate a case file; raises CaseError with the reason (never another exception type)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError("file not found") from None
    except IsADirectoryError:
        raise CaseError("is a folder, not a case file") from None
    except UnicodeDecodeError:
        raise CaseError("not a case file (not UTF-8 text)") from None
    except OSError as exc:
        raise CaseError(f"cannot be read ({exc.strerror or exc})") from None
    return parse_case(text)


def parse_case(text: str) -> Case:
    """Validate and build a case from case-file text; raises CaseError."""
    if not text.strip():
        raise CaseError("the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the file may be truncated") from None
    except RecursionError:
        raise CaseError("not a case file (JSON nested too deeply)") from None
    return Case.from_dict(data)


_PAIR = re.compile(r"\[\s*(-?[\d.eE+-]+),\s*(-?[\d.eE+-]+)\s*\]")


def dumps_case(case: Case) -> str:
    """Indented JSON with number pairs (points, spacings) kept on one line, for people reading diffs."""
    text = json.dumps(case.to_dict(), indent=2, ensure_ascii=False)
    return _PAIR.sub(r"[\1, \2]", text) + "\n"


def _usual_file_mode() -> int:
    """What `open()` would give a new file: 0666 less the process's umask (read once, at import:
    reading it means setting it, which is not thread-safe)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


USUAL_FILE_MODE = _usual_file_mode()


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any], *, suffix: str = ".tmp",
                 mode: int | None = None) -> None:
    """Write a file so that `path` holds either its old content or the new one, never a part.

    `write(handle)` writes the bytes into a temporary file in the same folder (same file system),
    which is flushed to disk, given `mode` (default: the permissions a plain `open()` gives;
    mkstemp makes it 0600), then renamed over the target in one `os.replace`; on any error the
    temporary file is removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, USUAL_FILE_MODE if mode is None else mode)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable where the platform allows it
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """`atomic_write` of `text` in UTF-8 (lines end in "\\n" on every platform)."""
    data = text.encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data))


def save_case(case: Case, path: str | os.PathLike[str]) -> None:
    """Write the case file atomically."""
    atomic_write_text(path, dumps_case(case))


def case_from_mapping(data: Mapping[str, Any]) -> Case:
    """Build a case from an already-parsed mapping (e.g. a generator's output)."""
    return Case.from_dict(dict(data))
