"""Frontal-plane measurements of `shared/spec/measurements.md`, computed from a Case.

Every landmark is first converted to millimetres (`X = x * column_spacing`, `Y = y * row_spacing`);
angles are between rays; signed values are read in the leg-local frame, so that the same code serves
right and left limbs on AP and PA films. An uncalibrated film is measured with unit spacing: angles
are right, lengths are in pixels (`*_px`) and every `*_mm` is unavailable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .case import Case
from .geometry import GeometryError, LegFrame, Vec, cross, leg_frame, line_intersection, norm, ray_angle, unit
from .landmarks import Side
from .mat import malalignment_test
from .normals import Flag, Normals, default_normals

# Landmark short names used in the constructions below (measurements.md notation).
H, T, GT, N = "femoral_head_center", "femoral_head_top", "greater_trochanter_tip", "femoral_neck_midpoint"
F1, F2 = "femoral_shaft_proximal_mid", "femoral_shaft_distal_mid"
CM, CL, K = "femoral_condyle_medial", "femoral_condyle_lateral", "knee_center"
PM, PL = "tibial_plateau_medial", "tibial_plateau_lateral"
DM, DL, A = "plafond_medial", "plafond_lateral", "ankle_center"

# What each measurement needs, in the order tables list them.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "mad_mm": (H, K, A),
    "mfta_deg": (H, K, A),
    "hka_deg": (H, K, A),
    "mlpfa_deg": (H, GT, K),
    "ampfa_deg": (H, GT, F1, F2),
    "nsa_deg": (H, N, F1, F2),
    "mldfa_deg": (H, K, CM, CL),
    "aldfa_deg": (F1, F2, CM, CL),
    "ama_deg": (H, K, F1, F2),
    "mpta_deg": (K, A, PM, PL),
    "ldta_deg": (K, A, DM, DL),
    "jlca_deg": (CM, CL, PM, PL),
    "mechanical_axis_length_mm": (H, A),
    "femur_length_mm": (H, K),
    "tibia_length_mm": (K, A),
    "limb_length_mm": (H, A),
}
ANGLE_KEYS = tuple(k for k in REQUIREMENTS if k.endswith("_deg"))
LENGTH_KEYS = tuple(k for k in REQUIREMENTS if k.endswith("_mm"))  # mad_mm included
MEASUREMENT_KEYS = tuple(REQUIREMENTS)

# Consistency rule of measurements.md: mFTA = mLDFA - MPTA + JLCA, warn above this residual.
CONSISTENCY_TOLERANCE_DEG = 1.0
JSON_DECIMALS = 2


@dataclass(slots=True)
class LimbResult:
    """Measurements of one limb. `values` holds `*_deg`, `*_mm` (calibrated only) and `*_px` keys."""

    side: Side
    values: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    flags: dict[str, Flag] = field(default_factory=dict)
    limb_length_basis: str | None = None
    mat: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    frame: LegFrame | None = None  # in physical space (mm, or pixels when uncalibrated)

    def get(self, key: str) -> float | None:
        return self.values.get(key)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in MEASUREMENT_KEYS:
            for k in (key, _px_key(key)):
                if k in self.values and k not in out:
                    out[k] = round(self.values[k], JSON_DECIMALS) + 0.0  # no negative zero
        if self.limb_length_basis is not None:
            out["limb_length_basis"] = self.limb_length_basis
        out["mat"] = dict(self.mat)
        out["unavailable"] = dict(self.unavailable)
        out["flags"] = {k: str(v) for k, v in self.flags.items()}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(slots=True)
class CaseResult:
    limbs: dict[Side, LimbResult]
    calibrated: bool
    calibration_source: str
    pixel_spacing_mm: tuple[float, float] | None
    lld_mm: float | None = None
    lld_px: float | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `measure --json` object of case-format.md (plus the free keys `flags` and `warnings`)."""
        out: dict[str, Any] = {"limbs": {str(side): r.to_json() for side, r in self.limbs.items()}}
        if self.lld_mm is not None:
            out["lld_mm"] = round(self.lld_mm, JSON_DECIMALS) + 0.0
        if self.lld_px is not None:
            out["lld_px"] = round(self.lld_px, JSON_DECIMALS) + 0.0
        if self.unavailable:
            out["unavailable"] = dict(self.unavailable)
        out["calibration"] = {
            "source": self.calibration_source,
            "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm else None,
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def _px_key(key: str) -> str:
    return key[:-3] + "_px" if key.endswith("_mm") else key


def _needs(missing: list[str]) -> str:
    return "needs " + ", ".join(missing)


def physical_points(case: Case, side: Side) -> dict[str, Vec]:
    """The limb's landmarks in physical space: mm when calibrated, else pixels (unit spacing)."""
    row_mm, col_mm = case.pixel_spacing_mm or (1.0, 1.0)
    limb = case.limbs.get(Side(side))
    if limb is None:
        return {}
    return {name: np.array([x * col_mm, y * row_mm]) for name, (x, y) in limb.landmarks.items()}


def _lateral_from_orientation(orientation: tuple[str, str], side: Side) -> tuple[Vec | None, str | None]:
    """Physical direction toward the limb's lateral side according to patient_orientation."""
    first = orientation[0]
    if "L" in first and "R" not in first:
        toward_left = np.array([1.0, 0.0])
    elif "R" in first and "L" not in first:
        toward_left = np.array([-1.0, 0.0])
    else:
        return None, f"patient orientation {first!r} does not say where the patient's left is"
    # The right limb's lateral side faces the patient's right.
    return (-toward_left if side is Side.RIGHT else toward_left), None


def _proximal_from_orientation(orientation: tuple[str, str]) -> Vec:
    second = orientation[1]
    return np.array([0.0, 1.0]) if "H" in second and "F" not in second else np.array([0.0, -1.0])


def limb_frame(
    orientation: tuple[str, str], side: Side, pts: dict[str, Vec], warnings: list[str] | None = None
) -> LegFrame:
    """The leg frame of measurements.md ('Geometry rules' 2), from the best landmarks available.

    `sup` follows the ankle-to-hip line (or the part of it that is placed, or the film's head
    direction); `lat` is taken from the greater trochanter when it is placed (anatomy), otherwise from
    `patient_orientation` and the limb side. A disagreement between the two is added to `warnings`.
    """
    warnings = warnings if warnings is not None else []
    if H in pts and A in pts and norm(pts[H] - pts[A]) > 1e-9:
        sup = pts[H] - pts[A]
    elif H in pts and K in pts and norm(pts[H] - pts[K]) > 1e-9:
        sup = pts[H] - pts[K]
    elif K in pts and A in pts and norm(pts[K] - pts[A]) > 1e-9:
        sup = pts[K] - pts[A]
    else:
        sup = _proximal_from_orientation(orientation)
    sup = unit(sup)
    perp = np.array([-sup[1], sup[0]])
    oriented, problem = _lateral_from_orientation(orientation, side)
    anatomic = None
    if GT in pts and H in pts:
        d = float(np.dot(pts[GT] - pts[H], perp))
        if abs(d) > 1e-6:
            anatomic = perp if d > 0 else -perp
    if anatomic is not None:
        lateral = anatomic
        if oriented is not None and float(np.dot(anatomic, oriented)) < 0:
            warnings.append(
                f"The {side} greater trochanter lies on the side the film's orientation calls medial; "
                "the anatomy is trusted. Check the limb side and the film's orientation (AP/PA, flipped)."
            )
    elif oriented is not None:
        lateral = oriented
    else:
        warnings.append(problem + "; assuming the standard AP display (patient's right on the viewer's left)")
        lateral = np.array([-1.0, 0.0]) if side is Side.RIGHT else np.array([1.0, 0.0])
    origin = pts.get(K, pts.get(H, pts.get(A, np.zeros(2))))
    return leg_frame(origin, sup, lateral)


def signed_mad(frame: LegFrame, h: Vec, k: Vec, a: Vec) -> float:
    """Mechanical axis deviation in the units of the points (mm, or pixels on an uncalibrated film).

    The distance from `k` to the line `h`-`a`, positive when the line passes medial to the knee
    (varus), read in `frame` (measurements.md, `mad_mm`). Raises GeometryError when `h` = `a`.
    """
    h, k, a = frame.direction(h), frame.direction(k), frame.direction(a)
    return cross(k - a, unit(h - a, "the mechanical axis"))  # positive when K is lateral to the line H-A


def _orientation_deg(frame: LegFrame, d: Vec) -> float:
    c = frame.direction(d)
    return math.degrees(math.atan2(c[1], c[0]))


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def measure_limb(case: Case, side: Side, normals: Normals | None = None) -> LimbResult:
    """All frontal-plane measurements of one limb, each with a reason when unavailable."""
    normals = normals or default_normals()
    side = Side(side)
    result = LimbResult(side)
    pts = physical_points(case, side)
    limb = case.limbs.get(side)
    pix = {n: np.array(p, dtype=float) for n, p in (limb.landmarks.items() if limb else [])}
    calibrated = case.calibrated
    values = result.values

    try:
        frame: LegFrame | None = limb_frame(case.patient_orientation, side, pts, result.warnings)
    except GeometryError:
        frame = None
    result.frame = frame

    def compute(key: str, fn) -> None:
        missing = [n for n in REQUIREMENTS[key] if n not in pts]
        if missing:
            result.unavailable[key] = _needs(missing)
            return
        try:
            values[key] = float(fn())
        except GeometryError as exc:
            result.unavailable[key] = str(exc)

    def intersect_check(p: Vec, d: Vec, q: Vec, e: Vec) -> None:
        line_intersection(p, d, q, e)  # raises GeometryError when parallel

    # --- angles (unsigned rays; no frame needed) -------------------------------------------------
    compute("mlpfa_deg", lambda: ray_angle(pts[K] - pts[H], pts[GT] - pts[H]))

    def ampfa() -> float:
        intersect_check(pts[F1], pts[F2] - pts[F1], pts[GT], pts[H] - pts[GT])
        return ray_angle(pts[F2] - pts[F1], pts[H] - pts[GT])

    compute("ampfa_deg", ampfa)

    def nsa() -> float:
        intersect_check(pts[N], pts[H] - pts[N], pts[F1], pts[F2] - pts[F1])
        return ray_angle(pts[H] - pts[N], pts[F2] - pts[F1])

    compute("nsa_deg", nsa)
    compute("mldfa_deg", lambda: ray_angle(pts[H] - pts[K], pts[CL] - pts[CM]))
    compute("aldfa_deg", lambda: ray_angle(pts[F1] - pts[F2], pts[CL] - pts[CM]))

    def ama() -> float:
        angle = ray_angle(pts[K] - pts[H], pts[F2] - pts[F1])
        return min(angle, 180.0 - angle)  # acute by definition, whichever way the shaft was drawn

    compute("ama_deg", ama)
    compute("mpta_deg", lambda: ray_angle(pts[A] - pts[K], pts[PM] - pts[PL]))
    compute("ldta_deg", lambda: ray_angle(pts[K] - pts[A], pts[DL] - pts[DM]))

    # --- signed values in the leg frame ------------------------------------------------------------
    def mfta() -> float:
        if frame is None:
            raise GeometryError("the leg frame is undefined")
        p = frame.direction(unit(pts[K] - pts[H], "the femoral mechanical axis"))
        e = frame.direction(unit(pts[A] - pts[K], "the tibial mechanical axis"))
        # planning.md's convention: atan2(cross(e, p), p . e), varus (distal segment medial) positive
        return math.degrees(math.atan2(cross(e, p), float(np.dot(p, e))))

    compute("mfta_deg", mfta)
    if "mfta_deg" in values:
        values["hka_deg"] = 180.0 - values["mfta_deg"]
    elif "mfta_deg" in result.unavailable:
        result.unavailable["hka_deg"] = result.unavailable["mfta_deg"]

    def jlca() -> float:
        if frame is None:
            raise GeometryError("the leg frame is undefined")
        unit(pts[CL] - pts[CM], "the femoral joint line")
        unit(pts[PL] - pts[PM], "the tibial joint line")
        return _wrap(_orientation_deg(frame, pts[CL] - pts[CM]) - _orientation_deg(frame, pts[PL] - pts[PM]))

    compute("jlca_deg", jlca)

    def mad_phys(points: dict[str, Vec]) -> float:
        if frame is None:
            raise GeometryError("the leg frame is undefined")
        return signed_mad(frame, points[H], points[K], points[A])

    # --- lengths: mm when calibrated, pixels always ------------------------------------------------
    def length(key: str, fn_mm, fn_px) -> None:
        missing = [n for n in REQUIREMENTS[key] if n not in pts]
        if missing:
            result.unavailable[key] = _needs(missing)
            return
        try:
            px = float(fn_px())
            values[_px_key(key)] = px
            if calibrated:
                values[key] = float(fn_mm())
            else:
                result.unavailable[key] = f"the film is uncalibrated: given in pixels as {_px_key(key)}"
        except GeometryError as exc:
            result.unavailable[key] = str(exc)

    try:  # the same frame built in pixel space, for the pixel twin of MAD
        px_frame: LegFrame | None = limb_frame(case.patient_orientation, side, pix)
    except GeometryError:
        px_frame = None

    def mad_px() -> float:
        if px_frame is None:
            raise GeometryError("the leg frame is undefined")
        return signed_mad(px_frame, pix[H], pix[K], pix[A])

    length("mad_mm", lambda: mad_phys(pts), mad_px)
    length("mechanical_axis_length_mm", lambda: norm(pts[A] - pts[H]), lambda: norm(pix[A] - pix[H]))
    length("femur_length_mm", lambda: norm(pts[K] - pts[H]), lambda: norm(pix[K] - pix[H]))
    length("tibia_length_mm", lambda: norm(pts[A] - pts[K]), lambda: norm(pix[A] - pix[K]))
    top = T if T in pts else H
    result.limb_length_basis = ("head_top" if top == T else "head_center") if top in pts and A in pts else None
    length("limb_length_mm", lambda: norm(pts[A] - pts[top]), lambda: norm(pix[A] - pix[top]))

    # --- flags, consistency, malalignment test ----------------------------------------------------------
    for key, value in values.items():
        flag = normals.flag(key, value)
        if flag is not None:
            result.flags[key] = flag
    if all(k in values for k in ("mfta_deg", "mldfa_deg", "mpta_deg", "jlca_deg")):
        expected = values["mldfa_deg"] - values["mpta_deg"] + values["jlca_deg"]
        residual = values["mfta_deg"] - expected
        if abs(residual) > CONSISTENCY_TOLERANCE_DEG:
            result.warnings.append(
                f"Inconsistent knee: mFTA {values['mfta_deg']:.1f}° but mLDFA - MPTA + JLCA = {expected:.1f}° "
                f"(differs by {abs(residual):.1f}°). Check that medial and lateral points are not swapped."
            )
    result.mat = malalignment_test(values, normals, calibrated=calibrated)
    return result


def measure_case(case: Case, normals: Normals | None = None) -> CaseResult:
    """Measure every limb of the case, then the limb-length discrepancy."""
    normals = normals or default_normals()
    limbs = {side: measure_limb(case, side, normals) for side in (Side.RIGHT, Side.LEFT) if side in case.limbs}
    result = CaseResult(
        limbs=limbs,
        calibrated=case.calibrated,
        calibration_source=case.calibration_source if case.calibrated else "none",
        pixel_spacing_mm=case.pixel_spacing_mm,
        warnings=list(case.warnings),
    )
    right, left = limbs.get(Side.RIGHT), limbs.get(Side.LEFT)
    if right is None or left is None:
        result.unavailable["lld_mm"] = "needs both limbs"
    elif right.limb_length_basis is None or left.limb_length_basis is None:
        result.unavailable["lld_mm"] = "needs the limb length of both limbs"
    elif right.limb_length_basis != left.limb_length_basis:
        result.unavailable["lld_mm"] = (
            "the two limb lengths use different proximal points (femoral head top on one side, "
            "head centre on the other)"
        )
    else:
        result.lld_px = right.values["limb_length_px"] - left.values["limb_length_px"]
        if case.calibrated:
            result.lld_mm = right.values["limb_length_mm"] - left.values["limb_length_mm"]
        else:
            result.unavailable["lld_mm"] = "the film is uncalibrated: given in pixels as lld_px"
    return result
