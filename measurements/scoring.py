"""Scoring a practice attempt against a teaching key (shared/spec/practice.md, "Scoring an attempt").

Both are cases on the same film. The attempt is measured with the key's film properties (pixel
spacing, calibration, orientation), so that a fellow's own calibration cannot change the score.
Lengths are in millimetres with the key's spacing, or in pixels when the key's film is
uncalibrated; tolerances and bands are read from `resources/teaching/scoring.json` and then carry
the film's unit (practice.md gives no pixel tolerance: on an uncalibrated key the millimetre
numbers are read as pixels, and every output says so).

"For each measurement the key has" includes the case-level limb-length discrepancy (`lld_mm`,
measurements.md; `lld_px` uncalibrated): it is scored with the lengths' band, once per case, under
the limb name "case" (:data:`CASE`).

Pure: no Qt, no application; the command line (`deformity-app score`) and the practice mode call
:func:`score_attempt`.

    >>> from measurements.case import Case
    >>> key = Case(pixel_spacing_mm=(0.5, 0.5), calibration_source="PixelSpacing")
    >>> key.limb("right").landmarks["knee_center"] = (100.0, 200.0)
    >>> attempt = key.copy()
    >>> attempt.limb("right").landmarks["knee_center"] = (104.0, 200.0)  # 4 px = 2 mm off
    >>> result = score_attempt(attempt, key)
    >>> result.limbs["right"].landmarks["knee_center"].error, result.limbs["right"].landmarks["knee_center"].passed
    (2.0, True)
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .case import Case
from .landmarks import LANDMARK_NAMES, Side
from .measure import MEASUREMENT_KEYS, CaseResult, LimbResult, measure_case
from .normals import Normals

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "resources" / "teaching" / "scoring.json"
RULES_FORMAT = "deformity-scoring/1"

# Each shaft midpoint and the other midpoint of its bone: together they make the key's shaft line.
SHAFT_PARTNERS: dict[str, str] = {
    "femoral_shaft_proximal_mid": "femoral_shaft_distal_mid",
    "femoral_shaft_distal_mid": "femoral_shaft_proximal_mid",
    "tibial_shaft_proximal_mid": "tibial_shaft_distal_mid",
    "tibial_shaft_distal_mid": "tibial_shaft_proximal_mid",
}
MAT_CLASSES: tuple[str, ...] = ("malalignment", "femur", "tibia", "joint")
MAT_SHOWN: tuple[str, ...] = ("malalignment", "femur", "tibia", "joint", "hip", "ankle")
UNKNOWN = "unknown"
CASE = "case"  # the score JSON's section for case-level measurements (the limb-length discrepancy)
CASE_KEYS: tuple[str, ...] = ("lld_mm",)
# practice.md gives tolerances in mm and says lengths are in pixels on an uncalibrated film, but no
# pixel tolerance: the same numbers are used as pixels, and every output says so in these words.
UNCALIBRATED_NOTE = ("The key's film is uncalibrated: landmark errors, lengths, tolerances and bands are in pixels "
                     "(the millimetre tolerances and bands of the scoring rules are applied as pixels).")


def case_measurement_label(key: str) -> str:
    """What a person calls a case-level measurement: "LLD (right − left)", "(px)" when uncalibrated."""
    return "LLD (right − left)" + (" (px)" if key.endswith("_px") else "")
# Float noise must not fail an error that prints as exactly the tolerance.
_EPS = 1e-9
JSON_DECIMALS = 2


class ScoringError(ValueError):
    """An attempt that cannot be scored against this key; `str()` says why in plain words.

    `about` names the file at fault: "attempt", "key" or "rules"."""

    def __init__(self, message: str, about: str = "attempt") -> None:
        super().__init__(message)
        self.about = about


# --- rules -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """Landmark tolerances and measurement bands (in the film's unit: mm, or px when uncalibrated)."""

    landmark_tolerances: Mapping[str, float]
    default_tolerance: float
    bands: Mapping[str, float]  # by the `*_mm` / `*_deg` key
    mat_classes: tuple[str, ...] = MAT_CLASSES
    path: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def tolerance(self, landmark: str) -> float:
        return float(self.landmark_tolerances.get(landmark, self.default_tolerance))

    def band(self, key: str) -> float | None:
        """The band of a measurement key; a `*_px` key uses its `*_mm` twin's number."""
        if key.endswith("_px"):
            key = key[:-3] + "_mm"
        value = self.bands.get(key)
        return None if value is None else float(value)


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ScoringError(f"{where} must be a positive number (got {value!r})", about="rules")
    return float(value)


def rules_from_mapping(data: Mapping[str, Any], path: Path | None = None) -> ScoringRules:
    """Validate the parsed scoring file; raises ScoringError."""
    if not isinstance(data, Mapping) or data.get("format") != RULES_FORMAT:
        raise ScoringError(f"not a scoring file (expected format {RULES_FORMAT!r})", about="rules")
    tol = data.get("landmark_tolerances_mm")
    bands = data.get("measurement_bands")
    if not isinstance(tol, Mapping) or not isinstance(bands, Mapping):
        raise ScoringError("the scoring file needs 'landmark_tolerances_mm' and 'measurement_bands' objects",
                           about="rules")
    tolerances = {str(k): _positive(v, f"tolerance of {k}") for k, v in tol.items() if k != "default"}
    default = _positive(tol.get("default", 2.0), "the default landmark tolerance")
    band_values = {str(k): _positive(v, f"band of {k}") for k, v in bands.items()}
    classes = data.get("mat_classes", list(MAT_CLASSES))
    if not isinstance(classes, list) or not all(c in MAT_SHOWN for c in classes):
        raise ScoringError(f"'mat_classes' must list some of {', '.join(MAT_SHOWN)}", about="rules")
    sources = {k: str(v) for k, v in data.items() if k.endswith("_source")}
    return ScoringRules(tolerances, default, band_values, tuple(classes), path, sources)


def load_rules(path: str | Path) -> ScoringRules:
    """Read a scoring file (the format of `resources/teaching/scoring.json`); raises ScoringError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScoringError(f"the scoring file {path} cannot be read ({exc})", about="rules") from None
    return rules_from_mapping(data, path)


@functools.lru_cache(maxsize=1)
def default_rules() -> ScoringRules:
    return load_rules(DEFAULT_RULES_PATH)


# --- results -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LandmarkScore:
    """One key landmark: how far the attempt's point is (in `unit`), and whether that is close enough.

    For a shaft midpoint `perpendicular_only` is True when only the distance across the key's shaft
    line counted (the point may slide along the shaft).
    """

    name: str
    placed: bool
    error: float | None
    tolerance: float
    passed: bool
    perpendicular_only: bool = False


@dataclass(frozen=True, slots=True)
class MeasurementScore:
    """One measurement of the key: signed error attempt - key, in the measurement's unit."""

    key: str  # e.g. "mpta_deg", "mad_mm" ("mad_px" on an uncalibrated film)
    attempt: float | None
    expected: float
    error: float | None
    band: float
    passed: bool
    reason: str = ""  # why the attempt could not compute it, or what makes it differ (limb length basis)


@dataclass(frozen=True, slots=True)
class MatScore:
    """The malalignment test side by side; `compared` are the classes the key has (not unknown)."""

    passed: bool
    attempt: Mapping[str, str]
    expected: Mapping[str, str]
    compared: tuple[str, ...]
    attempt_summary: str = ""
    key_summary: str = ""

    def class_passed(self, name: str) -> bool | None:
        if name not in self.compared:
            return None
        return self.attempt.get(name) == self.expected.get(name)


@dataclass(frozen=True, slots=True)
class LimbScore:
    side: Side
    landmarks: Mapping[str, LandmarkScore]
    measurements: Mapping[str, MeasurementScore]
    mat: MatScore | None  # None when the key's limb has no MAT verdict at all


@dataclass(frozen=True, slots=True)
class AttemptScore:
    """The whole score. `unit` is "mm" (calibrated key) or "px"; `score_pct` None when nothing was scored."""

    limbs: Mapping[Side, LimbScore]
    unit: str
    measurements_passed: int
    measurements_scored: int
    mat_passed: int
    mat_scored: int
    score_pct: float | None
    landmarks_passed: int
    landmarks_scored: int
    attempt_result: CaseResult | None = None
    key_result: CaseResult | None = None
    case_measurements: Mapping[str, MeasurementScore] = field(default_factory=dict)  # "lld_mm" / "lld_px"

    def to_json(self) -> dict[str, Any]:
        """The `score --json` object of practice.md (plus counts, the unit and the tolerances).

        Case-level measurements (the limb-length discrepancy) sit beside the limbs in
        ``measurements`` under ``"case"``."""
        u = self.unit
        out: dict[str, Any] = {"unit": u, "landmarks": {}, "measurements": {}, "mat": {}}
        for side in (Side.RIGHT, Side.LEFT):
            limb = self.limbs.get(side)
            if limb is None:
                continue
            out["landmarks"][str(side)] = {
                name: {
                    "placed": s.placed,
                    f"error_{u}": _r(s.error),
                    f"tolerance_{u}": s.tolerance,
                    "pass": s.passed,
                    **({"perpendicular_only": True} if s.perpendicular_only else {}),
                }
                for name, s in limb.landmarks.items()
            }
            out["measurements"][str(side)] = {key: _measurement_json(m) for key, m in limb.measurements.items()}
            if limb.mat is not None:
                out["mat"][str(side)] = {
                    "pass": limb.mat.passed,
                    "compared": list(limb.mat.compared),
                    "attempt": dict(limb.mat.attempt),
                    "key": dict(limb.mat.expected),
                    "attempt_summary": limb.mat.attempt_summary,
                    "key_summary": limb.mat.key_summary,
                }
        if self.case_measurements:
            out["measurements"][CASE] = {key: _measurement_json(m) for key, m in self.case_measurements.items()}
        out["measurements_passed"] = self.measurements_passed
        out["measurements_scored"] = self.measurements_scored
        out["mat_passed"] = self.mat_passed
        out["mat_scored"] = self.mat_scored
        out["landmarks_passed"] = self.landmarks_passed
        out["landmarks_scored"] = self.landmarks_scored
        out["score_pct"] = None if self.score_pct is None else round(self.score_pct, 1) + 0.0
        return out


def _measurement_json(m: MeasurementScore) -> dict[str, Any]:
    return {"attempt": _r(m.attempt), "key": _r(m.expected), "error": _r(m.error), "band": m.band,
            "pass": m.passed, **({"reason": m.reason} if m.reason else {})}


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), JSON_DECIMALS) + 0.0  # no negative zero


# --- scoring -----------------------------------------------------------------------------------------


def check_same_film(attempt: Case, key: Case) -> None:
    """Raise ScoringError when the two cases name different images (SOP Instance UID or size)."""
    a_uid = str(attempt.image.get("sop_instance_uid") or "")
    k_uid = str(key.image.get("sop_instance_uid") or "")
    if a_uid and k_uid and a_uid != k_uid:
        raise ScoringError("the attempt was made on another film than the key (SOP Instance UID differs)")
    for dim in ("rows", "columns"):
        a, k = attempt.image.get(dim), key.image.get(dim)
        if isinstance(a, int) and isinstance(k, int) and a != k:
            raise ScoringError(
                f"the attempt's image is {attempt.image.get('rows')} x {attempt.image.get('columns')} pixels but the "
                f"key's is {key.image.get('rows')} x {key.image.get('columns')}: not the same film")


def on_key_film(attempt: Case, key: Case) -> Case:
    """The attempt's landmarks with the key's spacing, calibration and orientation (the same film)."""
    placed = attempt.copy()
    placed.pixel_spacing_mm = key.pixel_spacing_mm
    placed.calibration_source = key.calibration_source
    placed.calibration_extra = dict(key.calibration_extra)
    placed.patient_orientation = key.patient_orientation
    return placed


def blank_attempt(key: Case) -> Case:
    """A fresh attempt on the key's film: its image, spacing, calibration and orientation, with the
    key's limbs present but empty and none of the key's free keys (no `key`, no ground truth)."""
    return Case(
        image={k: v for k, v in key.image.items() if k in ("path", "sop_instance_uid", "rows", "columns")},
        pixel_spacing_mm=key.pixel_spacing_mm,
        calibration_source=key.calibration_source,
        patient_orientation=key.patient_orientation,
        limbs={side: type(limb)() for side, limb in key.limbs.items()},
        calibration_extra=dict(key.calibration_extra),
    )


def _physical(case: Case, side: Side) -> dict[str, np.ndarray]:
    row_mm, col_mm = case.pixel_spacing_mm or (1.0, 1.0)
    limb = case.limbs.get(side)
    if limb is None:
        return {}
    return {n: np.array([x * col_mm, y * row_mm], dtype=float) for n, (x, y) in limb.landmarks.items()}


def landmark_error(name: str, attempt_pt: np.ndarray, key_pts: Mapping[str, np.ndarray]) -> tuple[float, bool]:
    """Distance from the attempt's point to the key's, in physical units, and whether only its part
    across the key's shaft line counted (the shaft rule of practice.md)."""
    expected = key_pts[name]
    partner = SHAFT_PARTNERS.get(name)
    if partner is not None and partner in key_pts:
        axis = key_pts[partner] - expected
        length = float(np.hypot(axis[0], axis[1]))
        if length > 1e-9:
            d = attempt_pt - expected
            return abs(float(d[0] * axis[1] - d[1] * axis[0])) / length, True
    d = attempt_pt - expected
    return float(np.hypot(d[0], d[1])), False


def _score_landmarks(attempt_pts: Mapping[str, np.ndarray], key_pts: Mapping[str, np.ndarray],
                     rules: ScoringRules) -> dict[str, LandmarkScore]:
    ordered = [n for n in LANDMARK_NAMES if n in key_pts] + sorted(n for n in key_pts if n not in LANDMARK_NAMES)
    out: dict[str, LandmarkScore] = {}
    for name in ordered:
        tol = rules.tolerance(name)
        if name not in attempt_pts:
            out[name] = LandmarkScore(name, False, None, tol, False)
            continue
        error, perpendicular = landmark_error(name, attempt_pts[name], key_pts)
        out[name] = LandmarkScore(name, True, error, tol, error <= tol + _EPS, perpendicular)
    return out


def scored_keys(result: LimbResult, calibrated: bool) -> list[str]:
    """The measurement keys of a limb that are scored: angles, and lengths in mm (px when uncalibrated)."""
    keys: list[str] = []
    for key in MEASUREMENT_KEYS:
        if key.endswith("_deg"):
            if key in result.values:
                keys.append(key)
        else:
            k = key if calibrated else key[:-3] + "_px"
            if k in result.values:
                keys.append(k)
    return keys


def _score_measurements(attempt: LimbResult | None, key: LimbResult, calibrated: bool,
                        rules: ScoringRules) -> dict[str, MeasurementScore]:
    out: dict[str, MeasurementScore] = {}
    for k in scored_keys(key, calibrated):
        band = rules.band(k)
        if band is None:
            continue  # a measurement the rules do not score
        expected = key.values[k]
        value = attempt.values.get(k) if attempt is not None else None
        if value is None:
            twin = k[:-3] + "_mm" if k.endswith("_px") else k
            reason = "the attempt has no landmarks on this limb" if attempt is None else \
                attempt.unavailable.get(twin, attempt.unavailable.get(k, "not measured"))
            out[k] = MeasurementScore(k, None, expected, None, band, False, reason)
            continue
        error = value - expected
        reason = ""
        if k.startswith("limb_length") and attempt.limb_length_basis != key.limb_length_basis:
            reason = (f"measured from the femoral head {_BASIS_WORDS.get(attempt.limb_length_basis, '?')}, "
                      f"the key from the head {_BASIS_WORDS.get(key.limb_length_basis, '?')}")
        out[k] = MeasurementScore(k, value, expected, error, band, abs(error) <= band + _EPS, reason)
    return out


_BASIS_WORDS = {"head_top": "top", "head_center": "centre"}


def _score_case_measurements(attempt: CaseResult, key: CaseResult, calibrated: bool,
                             rules: ScoringRules) -> dict[str, MeasurementScore]:
    """The limb-length discrepancy (right minus left), when the key has it and the rules give it a band."""
    out: dict[str, MeasurementScore] = {}
    for k in CASE_KEYS:
        name = k if calibrated else k[:-3] + "_px"
        expected = getattr(key, name, None)
        band = rules.band(k)
        if expected is None or band is None:
            continue
        value = getattr(attempt, name, None)
        if value is None:
            reason = attempt.unavailable.get(k, "not measured")
            out[name] = MeasurementScore(name, None, float(expected), None, band, False, reason)
            continue
        error = float(value) - float(expected)
        out[name] = MeasurementScore(name, float(value), float(expected), error, band, abs(error) <= band + _EPS)
    return out


def _score_mat(attempt: LimbResult | None, key: LimbResult, rules: ScoringRules) -> MatScore | None:
    compared = tuple(c for c in rules.mat_classes if key.mat.get(c, UNKNOWN) != UNKNOWN)
    if not compared:
        return None
    attempt_mat = attempt.mat if attempt is not None else {}
    shown = [c for c in MAT_SHOWN if c in key.mat or c in attempt_mat]
    mine = {c: str(attempt_mat.get(c, UNKNOWN)) for c in shown}
    theirs = {c: str(key.mat.get(c, UNKNOWN)) for c in shown}
    passed = all(mine[c] == theirs[c] for c in compared)
    return MatScore(passed, mine, theirs, compared, str(attempt_mat.get("summary", "")), str(key.mat.get("summary", "")))


def score_attempt(attempt: Case, key: Case, rules: ScoringRules | None = None,
                  normals: Normals | None = None) -> AttemptScore:
    """Score `attempt` against `key` (practice.md, "Scoring an attempt").

    Every landmark of the key is scored (distance in mm with the key's spacing, pixels when the key
    is uncalibrated; the shaft rule for the four shaft midpoints); every measurement the key has is
    compared within its band, the case-level limb-length discrepancy too; the malalignment test's
    classes the key has must match;
    ``score_pct = 100 (measurements passed + MAT passed) / (measurements scored + MAT scored)``
    over both limbs. Raises ScoringError when the two cases are not on the same film or the key
    has no landmarks.
    """
    rules = rules or default_rules()
    check_same_film(attempt, key)
    if not any(limb.landmarks for limb in key.limbs.values()):
        raise ScoringError("the key has no landmarks to compare with", about="key")
    placed = on_key_film(attempt, key)
    key_result = measure_case(key, normals)
    attempt_result = measure_case(placed, normals)
    calibrated = key.calibrated
    limbs: dict[Side, LimbScore] = {}
    m_pass = m_scored = mat_pass = mat_scored = l_pass = l_scored = 0
    for side in (Side.RIGHT, Side.LEFT):
        key_limb = key.limbs.get(side)
        if key_limb is None or not key_limb.landmarks:
            continue
        key_pts = _physical(key, side)
        attempt_pts = _physical(placed, side)
        landmarks = _score_landmarks(attempt_pts, key_pts, rules)
        a_limb = attempt_result.limbs.get(side) if attempt_pts else None
        measurements = _score_measurements(a_limb, key_result.limbs[side], calibrated, rules)
        mat = _score_mat(a_limb, key_result.limbs[side], rules)
        limbs[side] = LimbScore(side, landmarks, measurements, mat)
        l_scored += len(landmarks)
        l_pass += sum(s.passed for s in landmarks.values())
        m_scored += len(measurements)
        m_pass += sum(m.passed for m in measurements.values())
        if mat is not None:
            mat_scored += 1
            mat_pass += int(mat.passed)
    case_measurements = _score_case_measurements(attempt_result, key_result, calibrated, rules)
    m_scored += len(case_measurements)
    m_pass += sum(m.passed for m in case_measurements.values())
    total = m_scored + mat_scored
    pct = None if total == 0 else 100.0 * (m_pass + mat_pass) / total
    return AttemptScore(limbs, "mm" if calibrated else "px", m_pass, m_scored, mat_pass, mat_scored, pct,
                        l_pass, l_scored, attempt_result, key_result, case_measurements)


__all__ = [
    "AttemptScore",
    "CASE",
    "DEFAULT_RULES_PATH",
    "LandmarkScore",
    "LimbScore",
    "MAT_CLASSES",
    "MatScore",
    "MeasurementScore",
    "SHAFT_PARTNERS",
    "ScoringError",
    "UNCALIBRATED_NOTE",
    "case_measurement_label",
    "ScoringRules",
    "blank_attempt",
    "check_same_film",
    "default_rules",
    "landmark_error",
    "load_rules",
    "on_key_film",
    "rules_from_mapping",
    "score_attempt",
    "scored_keys",
]
