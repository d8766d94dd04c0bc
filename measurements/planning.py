"""Deformity planning in the frontal plane (`shared/spec/planning.md`), after Paley.

Reference joint angles, the CORA of the femur and of the tibia, the weight-bearing line, and the
simulation of an osteotomy: the distal fragment turned about a hinge (and shifted along the cut),
then measured again by `measurements.measure` on a moved copy of the case, so that every predicted
value comes from the one implementation of that measurement.

Everything is computed in physical space (`measurements.md`, 'Geometry rules'): millimetres on a
calibrated film, pixels (unit spacing) on an uncalibrated one, where every length is reported under
its `*_px` name instead of `*_mm`. Image pixels appear only at the edges (`*_px` points and lines
for drawing, the fragment's affine transform for moving the film).

Signs: angulation varus positive (the distal segment turned toward medial); a plan's `angle_deg`
positive toward valgus (a distal ray turns toward lateral); translations and distances are signed
toward the side their key names (medial or lateral).

Main entry points:

- `plan_case(case)`: the `plan --json` object of the spec.
- `reference_angles(case, side)`, `find_cora(case, side, bone)`, `wbl_pct(case, side)`.
- `simulate(case, side, plan)`: one plan (a dict as in the case file), raising PlanUnavailable.
- `moved_case(...)` and `fragment_transform(...)`: the moved landmarks and the image transform of
  the distal fragment, for drawing while a hinge is dragged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .case import Case, CaseError, Limb
from .geometry import GeometryError, LegFrame, Vec, cross, line_intersection, norm, rotate, unit
from .growth import GrowthError, Patient, parse_patient, predict_growth
from .landmarks import Side
from .measure import (
    A, CL, CM, DL, DM, F1, F2, GT, H, K, MEASUREMENT_KEYS, PL, PM, CaseResult, LimbResult, limb_frame,
    measure_case, measure_limb, physical_points, signed_mad,
)
from .normals import Normals, default_normals

Point = tuple[float, float]

TS1, TS2 = "tibial_shaft_proximal_mid", "tibial_shaft_distal_mid"

REFERENCE_KEYS: tuple[str, ...] = ("mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg")
NO_CORA_BELOW_DEG = 2.0  # |angulation| below this is within reader error: no CORA
RULE_TOLERANCE_MM = 5.0  # hinge on the bisector / cut through the CORA
WEDGE_TOLERANCE_MM = 0.5  # an end opens or overlaps when it moves more than this
# Engine's choice (the spec is silent): a CORA this far from the joint-centre line lies outside the bone.
FAR_CORA_OFFSET_MM = 40.0
ANGLE_LIMIT_DEG = 45.0  # plans are simulated, and targets solved, in [-45, 45] degrees
SOLVE_TOLERANCE = {"mad_mm": 0.01, "wbl_pct": 0.01}  # mm, percent
SOLVE_GRID_STEP_DEG = 5.0  # steps outward from 0 that bracket the root nearest 0
# On an uncalibrated film the millimetre tolerances above are scaled by the bone's length in pixels
# over these nominal adult lengths (the normal leg of measurements.md); the spec does not say how.
NOMINAL_BONE_LENGTH_MM = {"femur": 430.0, "tibia": 370.0}
JSON_DECIMALS = 3


class Bone(StrEnum):
    FEMUR = "femur"
    TIBIA = "tibia"


class ReferenceSource(StrEnum):
    USER = "user"
    CONTRALATERAL = "contralateral"
    NORMAL = "normal"


class PlanInputError(CaseError):
    """The planning keys of a case file are malformed (`reference_deg`, `plans`, `patient`)."""


class PlanUnavailable(Exception):
    """A CORA, WBL or plan that cannot be computed; `str()` is the reason, for the user."""


@dataclass(frozen=True, slots=True)
class _BoneSpec:
    proximal_centre: str
    distal_centre: str
    proximal_ref: str  # reference angle of the proximal axis line
    proximal_from: tuple[str, str]  # the ray the proximal reference angle is measured from: unit(a - b)
    distal_ref: str
    distal_from: tuple[str, str]
    fragment: tuple[str, ...]  # always in the distal fragment
    shaft: tuple[str, ...]  # in it when on the distal side of the cut
    proximal_word: str
    distal_word: str


BONES: dict[Bone, _BoneSpec] = {
    Bone.TIBIA: _BoneSpec(K, A, "mpta_deg", (PM, PL), "ldta_deg", (DL, DM),
                          (A, DM, DL), (TS1, TS2), "knee centre", "ankle centre"),
    Bone.FEMUR: _BoneSpec(H, K, "mlpfa_deg", (GT, H), "mldfa_deg", (CL, CM),
                          (CM, CL, K, PM, PL, A, DM, DL, TS1, TS2), (F1, F2), "hip centre", "knee centre"),
}


def _r(x: float | None, decimals: int = JSON_DECIMALS) -> float | None:
    return None if x is None else round(float(x), decimals) + 0.0  # + 0.0: no negative zero


def _needs(missing: Sequence[str]) -> str:
    return "needs " + ", ".join(missing)


# --- the limb in physical space -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Geometry:
    """One limb in physical space, with its leg frame and the pixel <-> physical mapping."""

    case: Case
    side: Side
    pts: dict[str, Vec]
    frame: LegFrame
    row_mm: float
    col_mm: float
    unit: str  # "mm" or "px"
    handed: float  # +1 when (lat, sup) turn counter-clockwise in physical (x, y) components, else -1

    def to_px(self, p: Vec) -> Point:
        return (float(p[0]) / self.col_mm, float(p[1]) / self.row_mm)

    def from_px(self, p: Sequence[float]) -> Vec:
        return np.array([float(p[0]) * self.col_mm, float(p[1]) * self.row_mm])

    def dir_px(self, d: Vec) -> Point:
        v = unit(np.array([d[0] / self.col_mm, d[1] / self.row_mm]))
        return (float(v[0]), float(v[1]))

    def medial_distance(self, x: Vec, through: Vec, direction: Vec) -> float:
        """Signed distance from `x` to the line (`through`, `direction`), positive medial."""
        return -self.lateral_distance(x, through, direction)

    def lateral_distance(self, x: Vec, through: Vec, direction: Vec) -> float:
        d = self.frame.direction(unit(direction))
        n = np.array([d[1], -d[0]])
        if n[0] < 0:
            n = -n
        return float(np.dot(self.frame.direction(x - through), n))

    def missing(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if n not in self.pts]


def _geometry(case: Case, side: Side | str) -> _Geometry:
    side = Side(side)
    if side not in case.limbs or not case.limbs[side].landmarks:
        raise PlanUnavailable(f"the {side} limb has no landmarks")
    pts = physical_points(case, side)
    try:
        frame = limb_frame(case.patient_orientation, side, pts, [])
    except GeometryError as exc:
        raise PlanUnavailable(str(exc)) from None
    row_mm, col_mm = case.pixel_spacing_mm or (1.0, 1.0)
    handed = 1.0 if cross(frame.lat, frame.sup) > 0 else -1.0
    return _Geometry(case, side, pts, frame, row_mm, col_mm, "mm" if case.calibrated else "px", handed)


# --- weight-bearing line --------------------------------------------------------------------------


def wbl_from_points(pts: Mapping[str, Vec]) -> float:
    """Where the line H-A crosses the plateau line Pm-Pl, in % of the plateau from its medial end.

    Physical points (or unit-spacing pixels: the ratio does not depend on the scale). Raises
    GeometryError when the lines are parallel or the plateau ends coincide.
    """
    pm, pl = pts[PM], pts[PL]
    width = pl - pm
    w2 = float(np.dot(width, width))
    if w2 < 1e-18:
        raise GeometryError("the tibial plateau's two ends coincide")
    x = line_intersection(pts[H], pts[A] - pts[H], pm, width)
    return 100.0 * float(np.dot(x - pm, width)) / w2


def wbl_pct(case: Case, side: Side | str) -> float:
    """WBL % of the limb (0 medial edge of the plateau, 100 lateral edge; Fujisawa point 62.5)."""
    pts = physical_points(case, Side(side))
    missing = [n for n in (H, A, PM, PL) if n not in pts]
    if missing:
        raise PlanUnavailable(_needs(missing))
    try:
        return wbl_from_points(pts)
    except GeometryError as exc:
        raise PlanUnavailable(str(exc)) from None


# --- reference angles -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferenceAngles:
    """The angles a limb is planned against (`REFERENCE_KEYS`, degrees) and where each comes from."""

    values: dict[str, float]
    sources: dict[str, ReferenceSource]

    def to_json(self) -> dict[str, Any]:
        return {"reference_deg": {k: _r(v) for k, v in self.values.items()},
                "reference_source": {k: str(s) for k, s in self.sources.items()}}


def _user_references(limb: Limb | None, side: Side) -> dict[str, float]:
    data = None if limb is None else limb.extra.get("reference_deg")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PlanInputError(f"'reference_deg' of the {side} limb must be an object such as {{\"mpta_deg\": 88}}")
    out: dict[str, float] = {}
    for key, value in data.items():
        if key not in REFERENCE_KEYS:
            raise PlanInputError(
                f"unknown reference angle {key!r} on the {side} limb (expected {', '.join(REFERENCE_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 < value < 180:
            raise PlanInputError(f"reference angle {key!r} of the {side} limb must be a number of degrees "
                                 f"between 0 and 180 (got {value!r})")
        out[key] = float(value)
    return out


def reference_angles(case: Case, side: Side | str, normals: Normals | None = None,
                     contralateral: LimbResult | None = None) -> ReferenceAngles:
    """Reference mLPFA, mLDFA, MPTA and LDTA of one limb (planning.md, 'Reference joint angles').

    The user's value (`limbs.<side>.reference_deg`), else the other limb's measured value when it is
    inside the normal range, else the normal mean. `contralateral` may pass the other limb's
    measurements when they are at hand. Raises PlanInputError for a malformed `reference_deg`.
    """
    normals = normals or default_normals()
    side = Side(side)
    user = _user_references(case.limbs.get(side), side)
    if contralateral is None and side.other in case.limbs:
        contralateral = measure_limb(case, side.other, normals)
    values: dict[str, float] = {}
    sources: dict[str, ReferenceSource] = {}
    for key in REFERENCE_KEYS:
        rng = normals.get(key)
        other = None if contralateral is None else contralateral.values.get(key)
        if key in user:
            values[key], sources[key] = user[key], ReferenceSource.USER
        elif other is not None and rng is not None and rng.low <= other <= rng.high:
            values[key], sources[key] = other, ReferenceSource.CONTRALATERAL
        elif rng is not None:
            values[key], sources[key] = rng.mean, ReferenceSource.NORMAL
        else:
            raise PlanInputError(f"the normals file has no normal value for {key}")
    return ReferenceAngles(values, sources)


# --- CORA -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """A line in image pixels: a point and a unit direction (for drawing)."""

    point_px: Point
    direction_px: Point


@dataclass(frozen=True, slots=True)
class Cora:
    """The CORA of one bone (planning.md, 'CORA'). Lengths are in `unit` ("mm", or "px" uncalibrated).

    `angle_deg` is varus positive. With `direction` "none" (|angle| < 2 degrees) there is no CORA:
    `cora_px`, `from_proximal`, `from_distal`, `offset` and `bisector_px` are None, and `translation`
    (the distal joint centre's distance from the proximal axis line, positive medial) is what the
    bone shows instead. The `*_phys` fields hold the same construction in physical space for the
    engine (mm, or unit-spacing pixels).
    """

    side: Side
    bone: Bone
    angle_deg: float
    direction: str  # "varus", "valgus", "none"
    unit: str
    translation: float
    cora_px: Point | None
    from_proximal: float | None
    from_distal: float | None
    offset: float | None
    bisector_px: Line | None
    proximal_axis_px: Line
    distal_axis_px: Line
    notes: tuple[str, ...]
    reference: ReferenceAngles
    cora_phys: Point | None
    bisector_normal_phys: Point  # b = unit(p + e); the bisector line is perpendicular to it
    proximal_centre_phys: Point
    proximal_dir_phys: Point  # p
    distal_centre_phys: Point
    distal_dir_phys: Point  # q

    @property
    def has_cora(self) -> bool:
        return self.cora_phys is not None

    def to_json(self) -> dict[str, Any]:
        """The `cora.<bone>` object of the `plan` output."""
        u = self.unit
        out: dict[str, Any] = {"angle_deg": _r(self.angle_deg), "direction": self.direction}
        if not self.has_cora:
            out[f"translation_{u}"] = _r(self.translation)
        else:
            out["cora_px"] = [_r(self.cora_px[0]), _r(self.cora_px[1])]
            out[f"from_proximal_{u}"] = _r(self.from_proximal)
            out[f"from_distal_{u}"] = _r(self.from_distal)
            out[f"offset_{u}"] = _r(self.offset)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _tolerance_scale(g: _Geometry, bone: Bone) -> float:
    """Physical units per millimetre of tolerance: 1 when calibrated, else a scale from the bone's length."""
    if g.unit == "mm":
        return 1.0
    spec = BONES[bone]
    return norm(g.pts[spec.proximal_centre] - g.pts[spec.distal_centre]) / NOMINAL_BONE_LENGTH_MM[str(bone)]


def _ray(frame: LegFrame, base: Vec, angle_deg: float, sup_sign: float, what: str) -> Vec:
    """The ray at `angle_deg` from `base` whose `sup` component has the sign of `sup_sign`."""
    base = unit(base, what)
    best = max((rotate(base, s * angle_deg) for s in (1.0, -1.0)),
               key=lambda d: sup_sign * float(np.dot(d, frame.sup)))
    if sup_sign * float(np.dot(best, frame.sup)) <= 1e-9:
        raise GeometryError(f"{what} is along the limb, so the reference axis cannot be drawn from it")
    return best


def _cora(g: _Geometry, bone: Bone, ref: ReferenceAngles) -> Cora:
    spec = BONES[bone]
    needed = (spec.proximal_centre, spec.distal_centre) + spec.proximal_from + spec.distal_from
    missing = g.missing(list(dict.fromkeys(needed)))
    if missing:
        raise PlanUnavailable(_needs(missing))
    pts, frame = g.pts, g.frame
    p0, q0 = pts[spec.proximal_centre], pts[spec.distal_centre]
    try:
        a, b_ = spec.proximal_from
        p = _ray(frame, pts[a] - pts[b_], ref.values[spec.proximal_ref], -1.0,
                 "the femoral neck line" if bone is Bone.FEMUR else "the tibial plateau line")
        a, b_ = spec.distal_from
        q = _ray(frame, pts[a] - pts[b_], ref.values[spec.distal_ref], 1.0,
                 "the femoral condylar line" if bone is Bone.FEMUR else "the plafond line")
        unit(q0 - p0, f"the {bone}'s mechanical axis")
    except GeometryError as exc:
        raise PlanUnavailable(str(exc)) from None
    e = -q
    pf, ef = frame.direction(p), frame.direction(e)
    angle = math.degrees(math.atan2(cross(ef, pf), float(np.dot(pf, ef))))
    direction = "none" if abs(angle) < NO_CORA_BELOW_DEG else ("varus" if angle > 0 else "valgus")
    translation = g.medial_distance(q0, p0, p)
    b = p + e
    b = unit(b) if norm(b) > 1e-9 else np.array([-p[1], p[0]])
    u = g.unit
    notes: list[str] = []
    cora_px = cora_phys = bisector = None
    from_p = from_d = offset = None
    if direction != "none":
        try:
            c = line_intersection(p0, p, q0, q)
        except GeometryError as exc:  # cannot happen above 2 degrees, kept for safety
            raise PlanUnavailable(str(exc)) from None
        cora_phys = (float(c[0]), float(c[1]))
        cora_px = g.to_px(c)
        from_p = float(np.dot(c - p0, p))
        from_d = float(np.dot(c - q0, q))
        offset = g.lateral_distance(c, p0, q0 - p0)
        bisector = Line(cora_px, g.dir_px(np.array([-b[1], b[0]])))
        scale = _tolerance_scale(g, bone)
        if from_p < 0:
            notes.append(f"The CORA lies {abs(from_p):.0f} {u} proximal to the {spec.proximal_word}: "
                         "a translation deformity or a second apex is likely.")
        if from_d < 0:
            notes.append(f"The CORA lies {abs(from_d):.0f} {u} distal to the {spec.distal_word}: "
                         "a translation deformity or a second apex is likely.")
        if abs(offset) > FAR_CORA_OFFSET_MM * scale:
            notes.append(f"The CORA lies {abs(offset):.0f} {u} {'lateral' if offset > 0 else 'medial'} to the "
                         f"{bone}'s mechanical axis, outside the bone: a translation deformity or a second apex "
                         "is likely.")
    return Cora(
        side=g.side, bone=bone, angle_deg=angle, direction=direction, unit=u, translation=translation,
        cora_px=cora_px, from_proximal=from_p, from_distal=from_d, offset=offset, bisector_px=bisector,
        proximal_axis_px=Line(g.to_px(p0), g.dir_px(p)), distal_axis_px=Line(g.to_px(q0), g.dir_px(q)),
        notes=tuple(notes), reference=ref, cora_phys=cora_phys,
        bisector_normal_phys=(float(b[0]), float(b[1])),
        proximal_centre_phys=(float(p0[0]), float(p0[1])), proximal_dir_phys=(float(p[0]), float(p[1])),
        distal_centre_phys=(float(q0[0]), float(q0[1])), distal_dir_phys=(float(q[0]), float(q[1])),
    )


def find_cora(case: Case, side: Side | str, bone: Bone | str, normals: Normals | None = None,
              reference: ReferenceAngles | None = None) -> Cora:
    """The CORA of `bone` ("femur" or "tibia") of one limb; raises PlanUnavailable with the reason."""
    side = Side(side)
    try:
        bone = Bone(bone)
    except ValueError:
        raise PlanUnavailable(f"unknown bone {bone!r} (expected 'femur' or 'tibia')") from None
    ref = reference or reference_angles(case, side, normals)
    return _cora(_geometry(case, side), bone, ref)


# --- the distal fragment and its motion ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FragmentTransform:
    """The rigid motion of the distal fragment, as image-pixel mappings for drawing and moving the film.

    `matrix_px` is the 2x3 affine `[[a, b, tx], [c, d, ty]]`: `x' = a x + b y + tx`, `y' = c x + d y + ty`
    in image pixels (column, row). With unequal row and column spacings the motion is a rotation in
    physical space, so in pixels it is a general affine. `rotation_deg` is that physical rotation,
    counter-clockwise in (x, y) components: with y pointing down the screen, positive looks clockwise.
    For Qt: `QTransform(a, c, b, d, tx, ty)`.
    """

    matrix_px: tuple[tuple[float, float, float], tuple[float, float, float]]
    rotation_deg: float
    hinge_px: Point
    translation_px: Point  # the shift along the cut, in pixels

    def apply(self, point_px: Sequence[float]) -> Point:
        (a, b, tx), (c, d, ty) = self.matrix_px
        x, y = float(point_px[0]), float(point_px[1])
        return (a * x + b * y + tx, c * x + d * y + ty)


@dataclass(frozen=True, slots=True)
class _Cut:
    c0: Vec
    c1: Vec
    along: Vec  # unit, c0 -> c1
    normal: Vec  # unit, toward the distal fragment
    medial_end: Vec
    lateral_end: Vec


def _cut(g: _Geometry, bone: Bone, cut_px: Sequence[Sequence[float]]) -> _Cut:
    spec = BONES[bone]
    missing = g.missing([spec.proximal_centre, spec.distal_centre])
    if missing:
        raise PlanUnavailable(_needs(missing))
    c0, c1 = g.from_px(cut_px[0]), g.from_px(cut_px[1])
    if norm(c1 - c0) < 1e-6:
        raise PlanUnavailable("the osteotomy's two ends coincide")
    along = unit(c1 - c0)
    n = np.array([-along[1], along[0]])
    distal_side = float(np.dot(g.pts[spec.distal_centre] - c0, n))
    if abs(distal_side) < 1e-6:
        raise PlanUnavailable(f"the osteotomy line passes through the {spec.distal_word}")
    if distal_side < 0:
        n = -n
    if float(np.dot(g.pts[spec.proximal_centre] - c0, n)) >= 0:
        raise PlanUnavailable(f"the osteotomy line does not cross the {bone} between the {spec.proximal_word} "
                              f"and the {spec.distal_word}")
    ends = sorted((c0, c1), key=lambda x: float(np.dot(x, g.frame.lat)))
    return _Cut(c0, c1, along, n, ends[0], ends[1])


def _fragment(g: _Geometry, bone: Bone, cut: _Cut) -> tuple[str, ...]:
    spec = BONES[bone]
    names = [n for n in spec.fragment if n in g.pts]
    names += [n for n in spec.shaft if n in g.pts and float(np.dot(g.pts[n] - cut.c0, cut.normal)) > 0]
    return tuple(names)


def _motion(g: _Geometry, hinge: Vec, angle_deg: float, shift: float, cut: _Cut) -> tuple[np.ndarray, Vec]:
    """Physical rigid motion `x -> R x + o`: turn by `angle_deg` toward valgus about `hinge`, then
    shift by `shift` along the cut toward its lateral end."""
    r = math.radians(g.handed * angle_deg)
    rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    lateral = unit(cut.lateral_end - cut.medial_end)
    return rot, hinge - rot @ hinge + shift * lateral


def _transform_px(g: _Geometry, rot: np.ndarray, offset: Vec, hinge_px: Point, angle_deg: float,
                  shift: float, cut: _Cut) -> FragmentTransform:
    s = np.diag([g.col_mm, g.row_mm])
    s_inv = np.diag([1.0 / g.col_mm, 1.0 / g.row_mm])
    m = s_inv @ rot @ s
    t = s_inv @ offset
    shift_px = s_inv @ (shift * unit(cut.lateral_end - cut.medial_end))
    return FragmentTransform(
        matrix_px=((float(m[0, 0]), float(m[0, 1]), float(t[0])), (float(m[1, 0]), float(m[1, 1]), float(t[1]))),
        rotation_deg=g.handed * angle_deg,
        hinge_px=(float(hinge_px[0]), float(hinge_px[1])),
        translation_px=(float(shift_px[0]), float(shift_px[1])),
    )


def _with_landmarks(case: Case, side: Side, landmarks: dict[str, Point], light: bool = False) -> Case:
    """A copy of the case with the limb's landmarks replaced; `light`: only what measuring needs."""
    if light:
        return Case(pixel_spacing_mm=case.pixel_spacing_mm, calibration_source=case.calibration_source,
                    patient_orientation=case.patient_orientation, limbs={side: Limb(landmarks)})
    moved = case.copy()
    moved.limbs[side] = Limb(landmarks, moved.limbs[side].extra)
    return moved


def _moved_px(g: _Geometry, fragment: Sequence[str], rot: np.ndarray, offset: Vec) -> dict[str, Point]:
    limb = g.case.limbs[g.side]
    out = dict(limb.landmarks)
    for name in fragment:
        out[name] = g.to_px(rot @ g.pts[name] + offset)
    return out


def _check_point(value: Any, what: str) -> Point:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise PlanUnavailable(f"{what} must be a pair of finite numbers (image pixels)")
    return (float(value[0]), float(value[1]))


def _check_cut(value: Any) -> tuple[Point, Point]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise PlanUnavailable("needs the osteotomy line ('osteotomy_px': two points)")
    return (_check_point(value[0], "each end of the osteotomy"), _check_point(value[1], "each end of the osteotomy"))


def fragment_transform(case: Case, side: Side | str, bone: Bone | str, hinge_px: Sequence[float], angle_deg: float,
                       translation_mm: float, cut_px: Sequence[Sequence[float]]) -> FragmentTransform:
    """The image-pixel transform of the distal fragment of `bone`: a turn of `angle_deg` (toward
    valgus) about `hinge_px`, then `translation_mm` along the cut `cut_px` toward its lateral end
    (pixels when uncalibrated). Raises PlanUnavailable when the cut does not cross the bone."""
    side, bone = Side(side), Bone(bone)
    g = _geometry(case, side)
    cut = _cut(g, bone, _check_cut(cut_px))
    hinge_px = _check_point(hinge_px, "the hinge")
    rot, offset = _motion(g, g.from_px(hinge_px), angle_deg, translation_mm, cut)
    return _transform_px(g, rot, offset, hinge_px, angle_deg, translation_mm, cut)


def moved_case(case: Case, side: Side | str, bone: Bone | str, hinge_px: Sequence[float], angle_deg: float,
               translation_mm: float, cut_px: Sequence[Sequence[float]]) -> Case:
    """A copy of the case with the distal fragment of `bone` moved (planning.md, 'Simulation' 1-2).

    The fragment: for the tibia A, Dm, Dl; for the femur the condyles, the whole tibia and ankle;
    plus the bone's own shaft points on the distal side of the cut `cut_px` (required). The distal
    fragment turns by `angle_deg` toward valgus about `hinge_px`, then shifts by `translation_mm`
    along the cut toward its lateral end. Raises PlanUnavailable when the cut does not separate the
    bone's joint centres.
    """
    side, bone = Side(side), Bone(bone)
    g = _geometry(case, side)
    cut = _cut(g, bone, _check_cut(cut_px))
    rot, offset = _motion(g, g.from_px(_check_point(hinge_px, "the hinge")), angle_deg, translation_mm, cut)
    return _with_landmarks(case, side, _moved_px(g, _fragment(g, bone, cut), rot, offset))


# --- plans ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A plan entry of the case file, checked."""

    name: str
    bone: Bone
    cut_px: tuple[Point, Point]
    hinge_px: Point
    angle_deg: float | None
    target: tuple[str, float] | None  # ("mad_mm" | "wbl_pct", value)
    translation_mm: float  # pixels on an uncalibrated film (must then be 0)


def parse_plan(plan: Any, index: int = 0, calibrated: bool = True) -> PlanSpec:
    """Check one entry of `limbs.<side>.plans`; raises PlanUnavailable naming what is wrong."""
    if not isinstance(plan, dict):
        raise PlanUnavailable("a plan must be an object")
    name = plan.get("name")
    name = name if isinstance(name, str) and name.strip() else f"Plan {index + 1}"
    bone_word = plan.get("bone")
    try:
        bone = Bone(bone_word)
    except ValueError:
        raise PlanUnavailable(f"unknown bone {bone_word!r} (expected 'femur' or 'tibia')") from None
    if "osteotomy_px" not in plan:
        raise PlanUnavailable("needs the osteotomy line ('osteotomy_px': two points)")
    cut = _check_cut(plan["osteotomy_px"])
    if "hinge_px" not in plan:
        raise PlanUnavailable("needs the hinge ('hinge_px')")
    hinge = _check_point(plan["hinge_px"], "the hinge")

    def number(value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PlanUnavailable(f"{what} must be a number (got {value!r})")
        return float(value)

    angle = target = None
    has_angle, has_target = plan.get("angle_deg") is not None, plan.get("target") is not None
    if has_angle and has_target:
        raise PlanUnavailable("gives both an angle and a target; keep one")
    if has_angle:
        angle = number(plan["angle_deg"], "the angle")
        if abs(angle) > ANGLE_LIMIT_DEG:
            raise PlanUnavailable(f"the angle {angle:g}° is outside -{ANGLE_LIMIT_DEG:g}° to {ANGLE_LIMIT_DEG:g}°")
    elif has_target:
        t = plan["target"]
        if not isinstance(t, dict) or len(t) != 1 or next(iter(t)) not in SOLVE_TOLERANCE:
            raise PlanUnavailable("the target must be one of {\"mad_mm\": value} or {\"wbl_pct\": value}")
        key = next(iter(t))
        target = (key, number(t[key], f"the target {key}"))
        if key == "mad_mm" and not calibrated:
            raise PlanUnavailable("the film is uncalibrated: a MAD target in mm cannot be reached; "
                                  "use a WBL % target or an angle")
    else:
        raise PlanUnavailable("needs an angle ('angle_deg') or a target ('target')")
    shift = plan.get("translation_mm")
    shift = 0.0 if shift is None else number(shift, "the translation")
    if shift and not calibrated:
        raise PlanUnavailable("the film is uncalibrated: a translation in mm cannot be applied")
    return PlanSpec(name, bone, cut, hinge, angle, target, shift)


@dataclass(frozen=True, slots=True)
class Simulation:
    """The outcome of one plan (planning.md, 'Osteotomy plans'). Lengths in `unit` ("mm" or "px").

    `predicted` holds every measurement of the moved limb (as `measure`) plus `wbl_pct`; `current`
    the same before the osteotomy. `rule`, `hinge_to_bisector` and `cut_to_cora` are None when the
    bone has no CORA; `axis_translation` is measured on the CORA carried with the fragment (positive
    medial), or on the distal joint centre when there is no CORA (`axis_translation_basis`).
    """

    name: str
    side: Side
    bone: Bone
    angle_deg: float
    solved: bool
    target: tuple[str, float] | None
    translation: float
    unit: str
    hinge_px: Point
    cut_px: tuple[Point, Point]
    fragment: tuple[str, ...]
    moved_px: dict[str, Point]  # every landmark of the limb after the osteotomy
    transform: FragmentTransform
    predicted: dict[str, float]
    current: dict[str, float]
    predicted_result: LimbResult
    opening: dict[str, float]  # "medial", "lateral": + opens a gap, - overlap (bone to resect)
    wedge: str  # "opening", "closing", "neutral", "none"
    rule: int | None
    hinge_to_bisector: float | None
    cut_to_cora: float | None
    axis_translation: float | None
    axis_translation_basis: str | None  # "cora" or "distal joint centre"
    length_change: float | None
    cora: Cora | None

    def to_json(self) -> dict[str, Any]:
        """One entry of `limbs.<side>.plans` in the `plan` output."""
        u = self.unit
        out: dict[str, Any] = {"name": self.name, "bone": str(self.bone), "angle_deg": _r(self.angle_deg),
                               "angle_source": "solved" if self.solved else "given"}
        if self.target is not None:
            out["target"] = {self.target[0]: _r(self.target[1])}
        if u == "mm":
            out["translation_mm"] = _r(self.translation)
        out["rule"] = self.rule
        out["wedge"] = self.wedge
        out[f"opening_{u}"] = {k: _r(v) for k, v in self.opening.items()}
        out[f"axis_translation_{u}"] = _r(self.axis_translation)
        out["axis_translation_basis"] = self.axis_translation_basis
        out[f"length_change_{u}"] = _r(self.length_change)
        out[f"hinge_to_bisector_{u}"] = _r(self.hinge_to_bisector)
        out[f"cut_to_cora_{u}"] = _r(self.cut_to_cora)
        out["predicted"] = _values_json(self.predicted)
        return out


def _values_json(values: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in MEASUREMENT_KEYS:
        for k in (key, key[:-3] + "_px" if key.endswith("_mm") else key):
            if k in values and k not in out:
                out[k] = _r(values[k])
    if "wbl_pct" in values:
        out["wbl_pct"] = _r(values["wbl_pct"])
    return out


def _wedge(opening: Mapping[str, float], tol: float) -> str:
    opens = any(v > tol for v in opening.values())
    overlaps = any(v < -tol for v in opening.values())
    if opens and overlaps:
        return "neutral"
    if opens:
        return "opening"
    if overlaps:
        return "closing"
    return "none"


def _solve(evaluate: Callable[[float], float], target: float, tol: float, what: str) -> float:
    """The angle in [-45, 45] where `evaluate(angle)` = `target`, nearest to 0 when there are several.

    Steps of 5 degrees outward from 0 (both ways) bracket the nearest root; false position (Illinois)
    then narrows the bracket until the value is within a hundredth of `tol` (0.01 mm or 0.01 %).
    A typical correction takes 10 to 15 evaluations; a target out of reach, 19.
    """
    step = SOLVE_GRID_STEP_DEG
    values: dict[float, float] = {}

    def f(angle: float) -> float:
        if angle not in values:
            try:
                values[angle] = evaluate(angle) - target
            except GeometryError:
                values[angle] = math.nan
        return values[angle]

    def root_guess(br: tuple[float, float, float, float]) -> float:
        a, b, fa, fb = br
        return abs(a - fa * (b - a) / (fb - fa)) if fb != fa else abs(a)

    brackets: list[tuple[float, float, float, float]] = []
    if abs(f(0.0)) <= tol / 100:
        return 0.0
    for k in range(1, int(round(ANGLE_LIMIT_DEG / step)) + 1):
        for inner, outer in ((step * (k - 1), step * k), (-step * (k - 1), -step * k)):
            fi, fo = f(inner), f(outer)
            if math.isfinite(fo) and abs(fo) <= tol / 100:
                return outer
            if math.isfinite(fi) and math.isfinite(fo) and fi * fo < 0:
                brackets.append((min(inner, outer), max(inner, outer), fi if inner < outer else fo,
                                 fo if inner < outer else fi))
        if brackets:
            break
    if not brackets:
        finite = [v + target for v in values.values() if math.isfinite(v)]
        reach = f" (it reaches {min(finite):.1f} to {max(finite):.1f})" if finite else ""
        raise PlanUnavailable(f"no angle between -{ANGLE_LIMIT_DEG:g}° and {ANGLE_LIMIT_DEG:g}° reaches "
                              f"{what}{reach}")

    a, b, fa, fb = min(brackets, key=root_guess)
    # Illinois false position: keeps the bracket like bisection, converges in a few steps.
    side = 0
    for _ in range(100):
        m = b - fb * (b - a) / (fb - fa)
        if not a < m < b:
            m = 0.5 * (a + b)
        fm = evaluate(m) - target
        if abs(fm) <= tol / 100 or b - a < 1e-10:
            return m
        if (fm < 0) == (fb < 0):
            b, fb = m, fm
            if side == -1:
                fa *= 0.5
            side = -1
        else:
            a, fa = m, fm
            if side == 1:
                fb *= 0.5
            side = 1
    return 0.5 * (a + b)


def _current_values(g: _Geometry, normals: Normals, result: LimbResult | None = None) -> dict[str, float]:
    values = dict((result or measure_limb(g.case, g.side, normals)).values)
    try:
        values["wbl_pct"] = wbl_from_points(g.pts)
    except (KeyError, GeometryError):
        pass
    return values


def _simulate(g: _Geometry, spec: PlanSpec, cora: Cora | None, normals: Normals,
              current: dict[str, float]) -> Simulation:
    try:
        return _simulate_unchecked(g, spec, cora, normals, current)
    except GeometryError as exc:  # a degenerate construction met while solving or moving
        raise PlanUnavailable(str(exc)) from None


def _simulate_unchecked(g: _Geometry, spec: PlanSpec, cora: Cora | None, normals: Normals,
                        current: dict[str, float]) -> Simulation:
    bone = spec.bone
    needed = [H, K, A] + ([PM, PL] if spec.target and spec.target[0] == "wbl_pct" else [])
    missing = g.missing(needed)
    if missing:
        raise PlanUnavailable(_needs(missing))
    cut = _cut(g, bone, spec.cut_px)
    fragment = _fragment(g, bone, cut)
    hinge = g.from_px(spec.hinge_px)

    solved = spec.target is not None
    if solved:
        key, value = spec.target
        names = [n for n in (H, K, A, GT, PM, PL) if n in g.pts]  # all the frame, MAD and WBL read
        base = np.array([g.pts[n] for n in names])
        moving = np.array([n in fragment for n in names])
        orientation, side = g.case.patient_orientation, g.side

        def evaluate(angle: float) -> float:
            rot, offset = _motion(g, hinge, angle, spec.translation_mm, cut)
            arr = base.copy()
            arr[moving] = base[moving] @ rot.T + offset
            pts = dict(zip(names, arr))
            if key == "wbl_pct":
                return wbl_from_points(pts)
            return signed_mad(limb_frame(orientation, side, pts, []), pts[H], pts[K], pts[A])

        what = f"a WBL of {value:g} %" if key == "wbl_pct" else f"a MAD of {value:g} mm"
        angle = _solve(evaluate, value, SOLVE_TOLERANCE[key], what)
    else:
        angle = float(spec.angle_deg)

    rot, offset = _motion(g, hinge, angle, spec.translation_mm, cut)
    moved_px = _moved_px(g, fragment, rot, offset)
    moved = _with_landmarks(g.case, g.side, moved_px, light=True)
    result = measure_limb(moved, g.side, normals)
    predicted = dict(result.values)
    try:
        predicted["wbl_pct"] = wbl_from_points(physical_points(moved, g.side))
    except (KeyError, GeometryError):
        pass

    scale = _tolerance_scale(g, bone)
    opening = {}
    for word, end in (("medial", cut.medial_end), ("lateral", cut.lateral_end)):
        opening[word] = float(np.dot(rot @ end + offset - end, cut.normal))
    wedge = _wedge(opening, WEDGE_TOLERANCE_MM * scale)

    rule = hinge_to_bisector = cut_to_cora = axis_translation = basis = None
    if cora is not None:
        p0, p = np.array(cora.proximal_centre_phys), np.array(cora.proximal_dir_phys)
        if cora.has_cora:
            c = np.array(cora.cora_phys)
            hinge_to_bisector = abs(float(np.dot(hinge - c, np.array(cora.bisector_normal_phys))))
            cut_to_cora = abs(cross(c - cut.c0, cut.along))
            tol = RULE_TOLERANCE_MM * scale
            rule = (1 if cut_to_cora <= tol else 2) if hinge_to_bisector <= tol else 3
            axis_translation = g.medial_distance(rot @ c + offset, p0, p)
            basis = "cora"
        else:
            d0 = np.array(cora.distal_centre_phys)
            axis_translation = g.medial_distance(rot @ d0 + offset, p0, p)
            basis = "distal joint centre"

    length_key = "limb_length_mm" if g.unit == "mm" else "limb_length_px"
    length_change = (predicted[length_key] - current[length_key]
                     if length_key in predicted and length_key in current else None)
    return Simulation(
        name=spec.name, side=g.side, bone=bone, angle_deg=angle, solved=solved, target=spec.target,
        translation=spec.translation_mm, unit=g.unit, hinge_px=spec.hinge_px, cut_px=spec.cut_px,
        fragment=fragment, moved_px=moved_px,
        transform=_transform_px(g, rot, offset, spec.hinge_px, angle, spec.translation_mm, cut),
        predicted=predicted, current=current, predicted_result=result, opening=opening, wedge=wedge,
        rule=rule, hinge_to_bisector=hinge_to_bisector, cut_to_cora=cut_to_cora,
        axis_translation=axis_translation, axis_translation_basis=basis, length_change=length_change, cora=cora,
    )


def simulate(case: Case, side: Side | str, plan: Mapping[str, Any] | PlanSpec, normals: Normals | None = None,
             cora: Cora | None = None) -> Simulation:
    """Simulate one plan (a `plans` entry of the case file, or a PlanSpec) on one limb.

    Solves the angle when the plan gives a target. `cora` may pass the bone's CORA when the caller
    has it (a drag loop); otherwise it is found here (and the rule is None when it cannot be).
    Raises PlanUnavailable with the reason when the plan cannot be computed.
    """
    normals = normals or default_normals()
    side = Side(side)
    spec = plan if isinstance(plan, PlanSpec) else parse_plan(dict(plan), 0, case.calibrated)
    g = _geometry(case, side)
    if cora is None:
        try:
            cora = _cora(g, spec.bone, reference_angles(case, side, normals))
        except PlanUnavailable:
            cora = None
    return _simulate(g, spec, cora, normals, _current_values(g, normals))


# --- the whole case -------------------------------------------------------------------------------


def _plans_of(limb: Limb, side: Side) -> list[Any]:
    plans = limb.extra.get("plans")
    if plans is None:
        return []
    if not isinstance(plans, list):
        raise PlanInputError(f"'plans' of the {side} limb must be a list")
    for i, plan in enumerate(plans):
        if not isinstance(plan, dict):
            raise PlanInputError(f"plan {i + 1} of the {side} limb must be an object")
    return plans


def _plan_name(plan: Mapping[str, Any], index: int) -> str:
    name = plan.get("name")
    return name if isinstance(name, str) and name.strip() else f"Plan {index + 1}"


def _plan_limb(case: Case, side: Side, normals: Normals, measured: LimbResult,
               contralateral: LimbResult | None) -> dict[str, Any]:
    plans = _plans_of(case.limbs[side], side)
    ref = reference_angles(case, side, normals, contralateral)
    out: dict[str, Any] = ref.to_json()
    unavailable: dict[str, str] = {}
    try:
        g: _Geometry | None = _geometry(case, side)
        problem = ""
    except PlanUnavailable as exc:
        g, problem = None, str(exc)

    def need_geometry() -> _Geometry:
        if g is None:
            raise PlanUnavailable(problem)
        return g

    try:
        need_geometry()
        out["wbl_pct"] = _r(wbl_pct(case, side))
    except PlanUnavailable as exc:
        unavailable["wbl_pct"] = str(exc)

    coras: dict[Bone, Cora | None] = {}
    out["cora"] = {}
    for bone in (Bone.FEMUR, Bone.TIBIA):
        try:
            coras[bone] = _cora(need_geometry(), bone, ref)
            out["cora"][str(bone)] = coras[bone].to_json()
        except PlanUnavailable as exc:
            coras[bone] = None
            out["cora"][str(bone)] = {"unavailable": str(exc)}

    current = _current_values(g, normals, measured) if g is not None else {}
    out["plans"] = []
    for i, plan in enumerate(plans):
        try:
            spec = parse_plan(plan, i, case.calibrated)
            out["plans"].append(_simulate(need_geometry(), spec, coras[spec.bone], normals, current).to_json())
        except PlanUnavailable as exc:
            out["plans"].append({"name": _plan_name(plan, i), "bone": plan.get("bone"), "unavailable": str(exc)})
    out["unavailable"] = unavailable
    notes = [note for cora in coras.values() if cora is not None for note in cora.notes]
    if notes:
        out["warnings"] = notes
    return out


def plan_case(case: Case, normals: Normals | None = None) -> dict[str, Any]:
    """The `plan --json` object of planning.md for every limb of the case, and the growth prediction.

    Values are rounded to 3 decimals. Per limb: `reference_deg`, `reference_source`, `wbl_pct`,
    `cora` (femur, tibia; `{"unavailable": reason}` when it cannot be found), `plans` (one entry per
    plan of the case, in order; `{"name", "bone", "unavailable"}` when it cannot be computed),
    `unavailable` (`wbl_pct` and its reason) and `warnings` (a CORA outside the bone). At the top:
    `growth`, or `unavailable.growth` with the reason; `calibration` as in `measure`.
    Raises PlanInputError (a CaseError) for malformed planning keys.
    """
    normals = normals or default_normals()
    try:
        patient = parse_patient(case.extra.get("patient"))
    except GrowthError as exc:
        raise PlanInputError(str(exc)) from None
    measured = measure_case(case, normals)
    result: dict[str, Any] = {"limbs": {
        str(side): _plan_limb(case, side, normals, measured.limbs[side], measured.limbs.get(side.other))
        for side in (Side.RIGHT, Side.LEFT) if side in case.limbs
    }}
    growth, reason = _growth(case, measured, patient)
    if growth is not None:
        result["growth"] = growth
    else:
        result["unavailable"] = {"growth": reason}
    result["calibration"] = {"source": case.calibration_source if case.calibrated else "none",
                             "pixel_spacing_mm": list(case.pixel_spacing_mm) if case.pixel_spacing_mm else None}
    if case.warnings:
        result["warnings"] = list(case.warnings)
    return result


def _growth(case: Case, measured: CaseResult, patient: Patient) -> tuple[dict[str, Any] | None, str]:
    missing = [w for w, v in (("sex", patient.sex), ("age", patient.age_years)) if v is None]
    if missing:
        return None, f"needs the patient's {' and '.join(missing)} (case key 'patient')"
    if not case.calibrated:
        return None, "the film is uncalibrated: growth needs limb lengths in mm"
    if measured.lld_mm is None:
        return None, measured.unavailable.get("lld_mm", "needs the limb length of both limbs")
    right = measured.limbs[Side.RIGHT].values["limb_length_mm"]
    left = measured.limbs[Side.LEFT].values["limb_length_mm"]
    try:
        return predict_growth(right, left, patient.age_years, patient.sex).to_json(JSON_DECIMALS), ""
    except GrowthError as exc:
        return None, str(exc)


def fragment_band_px(case: Case, side: Side | str, plan: Mapping[str, Any], band_mm: float = 45.0
                     ) -> list[tuple[float, float]]:
    """The part of the film that moves with the distal fragment (drawn by the viewer and the report):
    a band along the limb from the cut to about 60 mm past the ankle centre, `band_mm` either side of
    the line from the cut's middle to the ankle; four corners in image pixels."""
    (x0, y0), (x1, y1) = plan["osteotomy_px"]
    limb = case.limbs.get(Side(side))
    ankle = limb.landmarks.get("ankle_center") if limb else None
    row_mm, col_mm = case.pixel_spacing_mm or (1.0, 1.0)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    if ankle is None:
        ankle = (mx, my + 300.0 / row_mm)
    ax, ay = ankle
    dx, dy = ax - mx, ay - my
    length = math.hypot(dx * col_mm, dy * row_mm) or 1.0
    ux, uy = dx / length, dy / length
    end = (ax + ux * 60.0, ay + uy * 60.0)
    px_mm, py_mm = -uy * row_mm, ux * col_mm
    n = math.hypot(px_mm, py_mm) or 1.0
    wx, wy = (px_mm / n) * band_mm / col_mm, (py_mm / n) * band_mm / row_mm
    half_cut = math.hypot((x1 - x0) * col_mm, (y1 - y0) * row_mm) / 2
    scale_top = max(1.0, band_mm / max(half_cut, 1e-6))
    cx0, cy0 = mx + (x0 - mx) * scale_top, my + (y0 - my) * scale_top
    cx1, cy1 = mx + (x1 - mx) * scale_top, my + (y1 - my) * scale_top
    b0, b1 = (end[0] - wx, end[1] - wy), (end[0] + wx, end[1] + wy)
    if (b0[0] - b1[0]) * (cx0 - cx1) + (b0[1] - b1[1]) * (cy0 - cy1) < 0:
        b0, b1 = b1, b0
    return [(cx0, cy0), (cx1, cy1), b1, b0]
