"""Geometry and drawing of a synthetic standing long-leg film (internal to `dicom_io.demo`).

Everything here is pure numpy/OpenCV. Geometry is built per limb in the *construction frame* of
`shared/spec/measurements.md` ("Worked cases"): millimetres, origin at the knee centre `K`, `lat`
(first component) lateral, `sup` (second component) proximal, with the femoral condylar line along
`lat`. A limb is then turned about `K` so that its mechanical axis stands at a natural inclination,
mirrored for its side (`X = -lat` for the right limb on a standard AP film, `+lat` for the left,
`Y = -sup`), moved to its place on the film and divided by the pixel spacing. Angles are invariant
under that rigid map, so the landmarks measure exactly the requested angles.

Drawing is an attenuation model: soft-tissue thickness (elliptical limb sections), bone built from
filled shapes whose projected thickness comes from a distance transform (a cylinder of radius `R`
seen side-on has chord `2 sqrt(2 R s - s^2)` at distance `s` from its edge), a cortical shell and a
marrow of lower density, and a steel calibration ball. The sum is mapped to 12-bit values with bone
bright (MONOCHROME2), blurred slightly and given signal-dependent noise.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Reference joint angles (planning.md, normal means): the default angles a bent bone's segments keep
# to their joints, so that planning's CORA method finds the drawn bend.
REF_MLPFA_DEG = 90.0
REF_MLDFA_DEG = 87.0
REF_MPTA_DEG = 87.0
REF_LDTA_DEG = 89.0

LANDMARK_NAMES: tuple[str, ...] = (
    "femoral_head_center",
    "femoral_head_top",
    "greater_trochanter_tip",
    "femoral_neck_midpoint",
    "femoral_shaft_proximal_mid",
    "femoral_shaft_distal_mid",
    "femoral_condyle_medial",
    "femoral_condyle_lateral",
    "knee_center",
    "tibial_plateau_medial",
    "tibial_plateau_lateral",
    "tibial_shaft_proximal_mid",
    "tibial_shaft_distal_mid",
    "plafond_medial",
    "plafond_lateral",
    "ankle_center",
)

BALL_DIAMETER_MM = 25.0
BITS_STORED = 12
MAX_VALUE = (1 << BITS_STORED) - 1


# --------------------------------------------------------------------------------------------
# Specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimbSpec:
    """The shape of one limb: joint orientation angles (degrees, as `measure` reports them) and
    bone lengths (mm), plus optional levels of an angulation inside a bone (CORA).

    The five angles are exact on the generated landmarks. Without a CORA level the angulation
    sits at the joint line: the bone is straight along its mechanical axis and the joint line is
    tilted. With `femoral_cora_from_knee_mm` (distance from `K` up the distal femoral axis, as
    planning's `from_distal_mm`) or `tibial_cora_from_knee_mm` (distance from `K` down the proximal
    tibial axis, as planning's `from_proximal_mm`) the bone is drawn bent at that level by
    `(mLPFA - ref) + (mLDFA - ref)` (femur) or `(ref - MPTA) + (LDTA - ref)` (tibia), varus
    positive, with the `reference_*` angles. Use `bent_femur` / `bent_tibia` to get angles for
    which planning's CORA method, with those references, finds exactly the drawn bend.
    """

    mlpfa_deg: float = 90.0
    mldfa_deg: float = 87.0
    mpta_deg: float = 87.0
    ldta_deg: float = 89.0
    jlca_deg: float = 0.0
    femur_length_mm: float = 430.0  # |K - H|
    tibia_length_mm: float = 370.0  # |A - K|
    femoral_cora_from_knee_mm: float | None = None
    tibial_cora_from_knee_mm: float | None = None
    neck_shaft_deg: float = 130.0  # between neck axis and femoral anatomic axis
    anatomic_mechanical_deg: float = 6.0  # femoral AMA
    head_radius_mm: float = 23.0
    trochanter_distance_mm: float = 60.0  # |GT - H|
    neck_midpoint_mm: float = 30.0  # |N - H| along the neck axis
    condyle_span_mm: float = 50.0  # |Cl - Cm|
    plateau_width_mm: float = 76.0  # |Pl - Pm|
    plafond_width_mm: float = 30.0  # |Dl - Dm|
    knee_joint_space_mm: float = 5.0  # between condylar line and plateau, at the knee centre
    # The joint angles a bent bone's segments keep (planning's reference angles): the normal means
    # by default; `bent_femur` / `bent_tibia` set them to their base limb's angles, which is what
    # planning uses when that base limb is the other, normal, side.
    reference_mlpfa_deg: float = REF_MLPFA_DEG
    reference_mldfa_deg: float = REF_MLDFA_DEG
    reference_mpta_deg: float = REF_MPTA_DEG
    reference_ldta_deg: float = REF_LDTA_DEG

    def validate(self) -> None:
        """Raise ValueError for a limb that cannot be drawn plausibly."""
        for name in ("mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg"):
            value = getattr(self, name)
            if not 60.0 <= value <= 120.0:
                raise ValueError(f"{name} = {value} is outside 60..120 degrees")
        if not -15.0 <= self.jlca_deg <= 15.0:
            raise ValueError(f"jlca_deg = {self.jlca_deg} is outside -15..15 degrees")
        if not 250.0 <= self.femur_length_mm <= 600.0:
            raise ValueError(f"femur_length_mm = {self.femur_length_mm} is outside 250..600 mm")
        if not 200.0 <= self.tibia_length_mm <= 520.0:
            raise ValueError(f"tibia_length_mm = {self.tibia_length_mm} is outside 200..520 mm")
        for name, length in (
            ("femoral_cora_from_knee_mm", self.femur_length_mm),
            ("tibial_cora_from_knee_mm", self.tibia_length_mm),
        ):
            level = getattr(self, name)
            if level is not None and not 20.0 <= level <= length - 40.0:
                raise ValueError(f"{name} = {level} must lie in the bone (20..{length - 40:.0f} mm from the knee)")
        if not 100.0 <= self.neck_shaft_deg <= 160.0:
            raise ValueError(f"neck_shaft_deg = {self.neck_shaft_deg} is outside 100..160 degrees")


@dataclass(frozen=True, slots=True)
class FilmSpec:
    """A whole film: two limbs and the detector. Spacing in mm per pixel (square pixels).

    `pixel_spacing_mm` 0.15 gives about 2500 x 7000 pixels; 0.6 gives 625 x 1750 for fast tests.
    """

    right: LimbSpec = LimbSpec()
    left: LimbSpec = LimbSpec()
    pixel_spacing_mm: float = 0.15
    width_mm: float = 375.0
    height_mm: float = 1050.0
    hip_separation_mm: float = 176.0  # between the two femoral head centres
    stance_deg: float = 3.0  # inclination of each mechanical axis H-A to the vertical, hip lateral
    name: str = "custom"  # preset name, also the seed of the film's UIDs
    title: str = ""  # e.g. "Proximal tibial varus", for teaching keys
    diagnosis: str = ""  # what an expert would write, for teaching keys

    def validate(self) -> None:
        """Raise ValueError for a film that cannot be drawn."""
        if not 0.05 <= self.pixel_spacing_mm <= 2.0:
            raise ValueError(f"pixel_spacing_mm = {self.pixel_spacing_mm} is outside 0.05..2 mm")
        if not (300.0 <= self.width_mm <= 600.0 and 800.0 <= self.height_mm <= 1500.0):
            raise ValueError("the film must be 300..600 mm wide and 800..1500 mm tall")
        if not 120.0 <= self.hip_separation_mm <= 260.0:
            raise ValueError(f"hip_separation_mm = {self.hip_separation_mm} is outside 120..260 mm")
        self.right.validate()
        self.left.validate()

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the film."""
        return (round(self.height_mm / self.pixel_spacing_mm), round(self.width_mm / self.pixel_spacing_mm))


def bent_tibia(angle_deg: float, cora_from_knee_mm: float, base: LimbSpec = LimbSpec()) -> LimbSpec:
    """`base` with its tibia bent by `angle_deg` (varus positive) at `cora_from_knee_mm` below `K`.

    Both tibial segments keep `base`'s MPTA and LDTA to their joints (they become the limb's
    reference angles), so the measured MPTA and LDTA follow from the bend: in the triangle
    K-CORA-A the angle at `A` is `asin(c sin(a) / L)` and the rest shows at the knee.
    """
    a = math.radians(angle_deg)
    gamma = math.degrees(math.asin(cora_from_knee_mm * math.sin(a) / base.tibia_length_mm))
    beta = angle_deg - gamma
    return _replace(
        base,
        mpta_deg=base.mpta_deg - beta,
        ldta_deg=base.ldta_deg + gamma,
        tibial_cora_from_knee_mm=cora_from_knee_mm,
        reference_mpta_deg=base.mpta_deg,
        reference_ldta_deg=base.ldta_deg,
    )


def bent_femur(angle_deg: float, cora_from_knee_mm: float, base: LimbSpec = LimbSpec()) -> LimbSpec:
    """`base` with its femur bent by `angle_deg` (varus positive) at `cora_from_knee_mm` above `K`.

    Both segments keep `base`'s mLPFA (hip) and mLDFA (knee); the measured mLPFA and mLDFA follow
    from the bend as in `bent_tibia`.
    """
    a = math.radians(angle_deg)
    eps = math.degrees(math.asin(cora_from_knee_mm * math.sin(a) / base.femur_length_mm))
    delta = angle_deg - eps
    return _replace(
        base,
        mlpfa_deg=base.mlpfa_deg + eps,
        mldfa_deg=base.mldfa_deg + delta,
        femoral_cora_from_knee_mm=cora_from_knee_mm,
        reference_mlpfa_deg=base.mlpfa_deg,
        reference_mldfa_deg=base.mldfa_deg,
    )


def _replace(spec: LimbSpec, **changes: object) -> LimbSpec:
    return dataclasses.replace(spec, **changes)


# --------------------------------------------------------------------------------------------
# Plane geometry helpers (construction frame: component 0 = lat, component 1 = sup)
# --------------------------------------------------------------------------------------------


def _v(x: float, y: float) -> np.ndarray:
    return np.array([x, y], dtype=np.float64)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / math.hypot(v[0], v[1])


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    """Turn `v` counter-clockwise in (lat, sup): a distal vector turns toward lateral."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


@dataclass(frozen=True, slots=True)
class JointFrame:
    """A joint line frame: origin, `x` the lateral direction along the line, `y` its proximal normal."""

    origin: np.ndarray
    x: np.ndarray

    @property
    def y(self) -> np.ndarray:
        return _rot(self.x, 90.0)

    def at(self, pts: Iterable[Sequence[float]]) -> np.ndarray:
        """Points given as (lateral, proximal) mm in this frame -> construction frame, shape (n, 2)."""
        a = np.asarray(list(pts), dtype=np.float64).reshape(-1, 2)
        return self.origin + a[:, :1] * self.x + a[:, 1:] * self.y


@dataclass(frozen=True, slots=True)
class Polyline:
    """A bone's centre line, proximal to distal, with arc-length lookups (mm)."""

    points: np.ndarray  # (n, 2)

    @property
    def lengths(self) -> np.ndarray:
        return np.hypot(*np.diff(self.points, axis=0).T)

    @property
    def length(self) -> float:
        return float(self.lengths.sum())

    @property
    def knots(self) -> np.ndarray:
        """Arc length at each vertex."""
        return np.concatenate([[0.0], np.cumsum(self.lengths)])

    def segment(self, s: float) -> int:
        k = self.knots
        return int(min(max(np.searchsorted(k, s, side="right") - 1, 0), len(k) - 2))

    def point(self, s: float) -> np.ndarray:
        i = self.segment(s)
        d = self.direction(s)
        return self.points[i] + (s - self.knots[i]) * d

    def direction(self, s: float) -> np.ndarray:
        """Unit distal direction of the segment holding arc length `s`."""
        i = self.segment(s)
        return _unit(self.points[i + 1] - self.points[i])

    def offset(self, s: float, across: float) -> np.ndarray:
        """The point at arc length `s` moved `across` mm laterally (perpendicular to the bone)."""
        return self.point(s) + across * _rot(self.direction(s), 90.0)


@dataclass(frozen=True, slots=True)
class Cora:
    """A drawn bend: angle (degrees, varus positive), level from the knee (mm), point (construction mm)."""

    bone: str
    angle_deg: float
    from_knee_mm: float
    point: np.ndarray
    proximal_dir: np.ndarray  # distal direction of the proximal segment
    distal_dir: np.ndarray  # distal direction of the distal segment


@dataclass(frozen=True, slots=True)
class LimbGeometry:
    """One limb in the construction frame (mm): landmarks, bone centre lines and joint frames."""

    spec: LimbSpec
    landmarks: dict[str, np.ndarray]
    femur_mech: Polyline  # H (-> CORA) -> K
    femur_anat: Polyline  # anatomic axis, subtrochanteric to supracondylar (bent at a CORA)
    tibia_mech: Polyline  # K (-> CORA) -> A
    condyles: JointFrame  # origin K
    plateau: JointFrame  # origin: plateau midpoint
    plafond: JointFrame  # origin: A
    neck_dir: np.ndarray  # unit, from H toward the neck base (lateral, distal)
    femoral_cora: Cora | None
    tibial_cora: Cora | None


def build_limb(spec: LimbSpec) -> LimbGeometry:
    """Landmarks and bone lines of one limb, in the construction frame (mm, origin `K`).

    Follows the worked cases of measurements.md: the condylar line along `lat` through `K`;
    `H` at mLDFA from its lateral ray; `GT` at mLPFA from `H -> K`, toward lateral; the plateau at
    JLCA to the condylar line; `A` at MPTA from the plateau's medial ray; the plafond at LDTA.
    """
    spec.validate()
    lf, lt = spec.femur_length_mm, spec.tibia_length_mm
    k = _v(0.0, 0.0)
    x_c = _v(1.0, 0.0)
    cm, cl = k - spec.condyle_span_mm / 2 * x_c, k + spec.condyle_span_mm / 2 * x_c
    u_f = _rot(x_c, spec.mldfa_deg)  # K -> H
    h = k + lf * u_f
    gt = h + spec.trochanter_distance_mm * _rot(-u_f, spec.mlpfa_deg)

    # Femoral bend: segment angles to their joints are the references only for consistent specs
    # (bent_femur); in general the bend angle is the planning formula and the level is as asked.
    alpha_f = (spec.mlpfa_deg - spec.reference_mlpfa_deg) + (spec.mldfa_deg - spec.reference_mldfa_deg)
    femoral_cora = None
    if spec.femoral_cora_from_knee_mm is not None and abs(alpha_f) > 1e-9:
        c = spec.femoral_cora_from_knee_mm
        eps = math.degrees(math.asin(c * math.sin(math.radians(alpha_f)) / lf))
        q = _rot(u_f, -(alpha_f - eps))  # from K up the distal segment
        cora = k + c * q
        femoral_cora = Cora("femur", alpha_f, c, cora, _unit(cora - h), -q)
        femur_mech = Polyline(np.array([h, cora, k]))
    else:
        femur_mech = Polyline(np.array([h, k]))

    # Tibia.
    x_p = _rot(x_c, -spec.jlca_deg)
    # Why the gap grows with JLCA: the converging side must keep some joint space.
    gap = max(spec.knee_joint_space_mm, 1.5 + spec.condyle_span_mm / 2 * math.tan(math.radians(abs(spec.jlca_deg))))
    pc = k - gap * _rot(x_p, 90.0)
    pm, pl = pc - spec.plateau_width_mm / 2 * x_p, pc + spec.plateau_width_mm / 2 * x_p
    d_t = _rot(-x_p, spec.mpta_deg)  # K -> A
    a = k + lt * d_t
    x_a = _rot(-d_t, -spec.ldta_deg)
    dm, dl = a - spec.plafond_width_mm / 2 * x_a, a + spec.plafond_width_mm / 2 * x_a

    alpha_t = (spec.reference_mpta_deg - spec.mpta_deg) + (spec.ldta_deg - spec.reference_ldta_deg)
    tibial_cora = None
    if spec.tibial_cora_from_knee_mm is not None and abs(alpha_t) > 1e-9:
        c = spec.tibial_cora_from_knee_mm
        gamma = math.degrees(math.asin(c * math.sin(math.radians(alpha_t)) / lt))
        p = _rot(d_t, alpha_t - gamma)
        cora = k + c * p
        tibial_cora = Cora("tibia", alpha_t, c, cora, p, _unit(a - cora))
        tibia_mech = Polyline(np.array([k, cora, a]))
    else:
        tibia_mech = Polyline(np.array([k, a]))

    # Femoral anatomic axis, per segment: at AMA to the segment's mechanical direction, meeting the
    # knee joint level 4 mm medial to K (the unbent knee for the proximal segment).
    ama = spec.anatomic_mechanical_deg
    m_p = femur_mech.direction(0.0)
    m_d = femur_mech.direction(femur_mech.length)
    a_p, a_d = _rot(m_p, -ama), _rot(m_d, -ama)
    xk_p = h + lf * m_p - 4.0 * _rot(m_p, 90.0)
    xk_d = k - 4.0 * _rot(m_d, 90.0)

    def on_anat(level: float) -> np.ndarray:
        """Point of the anatomic axis at `level` mm below H measured along the mechanical line."""
        if femoral_cora is None or level <= float(np.dot(femoral_cora.point - h, m_p)):
            t = (level - float(np.dot(xk_p - h, m_p))) / float(np.dot(a_p, m_p))
            return xk_p + t * a_p
        from_k = femur_mech.length - level
        t = (-from_k - float(np.dot(xk_d - k, m_d))) / float(np.dot(a_d, m_d))
        return xk_d + t * a_d

    levels = [55.0, 0.33 * lf, 0.67 * lf, lf - 70.0]
    if femoral_cora is not None:
        levels.append(float(np.dot(femoral_cora.point - h, m_p)))
    levels = sorted(set(levels))
    femur_anat = Polyline(np.array([on_anat(lv) for lv in levels]))

    # Neck axis at the neck-shaft angle to the proximal anatomic axis: H - N makes NSA with a_p.
    neck_dir = _rot(a_p, 180.0 - spec.neck_shaft_deg)
    n = h + spec.neck_midpoint_mm * neck_dir

    landmarks = {
        "femoral_head_center": h,
        "greater_trochanter_tip": gt,
        "femoral_neck_midpoint": n,
        "femoral_shaft_proximal_mid": on_anat(0.33 * lf),
        "femoral_shaft_distal_mid": on_anat(0.67 * lf),
        "femoral_condyle_medial": cm,
        "femoral_condyle_lateral": cl,
        "knee_center": k,
        "tibial_plateau_medial": pm,
        "tibial_plateau_lateral": pl,
        "tibial_shaft_proximal_mid": tibia_mech.point(tibia_mech.length / 3),
        "tibial_shaft_distal_mid": tibia_mech.point(2 * tibia_mech.length / 3),
        "plafond_medial": dm,
        "plafond_lateral": dl,
        "ankle_center": a,
    }
    # A bend whose segments are off the reference joint angles is drawn as asked, but planning's CORA
    # (built from the reference angles) will then be elsewhere: say so.
    checks = []
    if femoral_cora is not None:
        checks.append((femoral_cora, _ray_deg(femoral_cora.proximal_dir, gt - h) - spec.reference_mlpfa_deg))
    if tibial_cora is not None:
        checks.append((tibial_cora, _ray_deg(tibial_cora.proximal_dir, pm - pl) - spec.reference_mpta_deg))
    for cora, off in checks:
        if abs(off) > 0.5:
            log.warning(
                "%s bend drawn at %.0f mm from the knee with its proximal segment %.1f deg off the "
                "reference joint angle: planning's CORA will not fall on the drawn bend; use bent_%s() "
                "for a consistent limb",
                cora.bone, cora.from_knee_mm, off, cora.bone,
            )
    return LimbGeometry(
        spec=spec,
        landmarks=landmarks,
        femur_mech=femur_mech,
        femur_anat=femur_anat,
        tibia_mech=tibia_mech,
        condyles=JointFrame(k, x_c),
        plateau=JointFrame(pc, x_p),
        plafond=JointFrame(a, x_a),
        neck_dir=neck_dir,
        femoral_cora=femoral_cora,
        tibial_cora=tibial_cora,
    )


def _ray_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Unsigned angle between rays `a` and `b`, degrees."""
    return math.degrees(math.atan2(abs(_cross(a, b)), float(np.dot(a, b))))


# --------------------------------------------------------------------------------------------
# Layout: each limb's rigid map from the construction frame to image pixels
# --------------------------------------------------------------------------------------------

RIGHT, LEFT = "right", "left"


@dataclass(frozen=True, slots=True)
class LimbPlacement:
    """One limb on the film: its geometry and the affine map construction mm -> image pixels."""

    side: str
    geometry: LimbGeometry
    linear: np.ndarray  # (2, 2), construction mm -> image pixels
    offset: np.ndarray  # (2,)
    spacing_mm: float

    def px(self, pts: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """Construction-frame mm (n, 2) or (2,) -> image pixels (x = column, y = row)."""
        a = np.asarray(pts, dtype=np.float64)
        return a @ self.linear.T + self.offset

    @property
    def lateral_sign(self) -> float:
        """+1 when lateral is toward increasing x on the film."""
        return -1.0 if self.side == RIGHT else 1.0

    def landmarks_px(self) -> dict[str, list[float]]:
        """All 16 landmarks in image pixels, spec order."""
        out: dict[str, list[float]] = {}
        lm = self.geometry.landmarks
        for name in LANDMARK_NAMES:
            if name == "femoral_head_top":
                h = self.px(lm["femoral_head_center"])
                # Most proximal point of the head circle: straight up on the film (the leg stands).
                p = h - np.array([0.0, self.geometry.spec.head_radius_mm / self.spacing_mm])
            else:
                p = self.px(lm[name])
            out[name] = [float(p[0]), float(p[1])]
        return out


@dataclass(frozen=True, slots=True)
class FilmLayout:
    """Where everything sits on the film: limbs, pelvis, calibration ball (pixels unless named)."""

    spec: FilmSpec
    rows: int
    cols: int
    limbs: dict[str, LimbPlacement]
    hip_y_mm: float
    midline_x_mm: float
    ball_center_px: tuple[float, float]

    @property
    def spacing(self) -> float:
        return self.spec.pixel_spacing_mm


def _stance_rotation(geo: LimbGeometry, stance_deg: float) -> np.ndarray:
    """Rotation (2x2) turning the limb about K so that H - A leans `stance_deg` toward lateral."""
    d = geo.landmarks["femoral_head_center"] - geo.landmarks["ankle_center"]
    current = math.degrees(math.atan2(d[0], d[1]))  # from sup toward lat
    turn = math.radians(current - stance_deg)  # counter-clockwise in (lat, sup) lowers that angle
    c, s = math.cos(turn), math.sin(turn)
    return np.array([[c, -s], [s, c]])


def layout_film(spec: FilmSpec) -> FilmLayout:
    """Place both limbs: femoral head centres level and `hip_separation_mm` apart about the midline."""
    spec.validate()
    sp = spec.pixel_spacing_mm
    rows, cols = spec.shape
    geos = {RIGHT: build_limb(spec.right), LEFT: build_limb(spec.left)}
    rots = {side: _stance_rotation(g, spec.stance_deg) for side, g in geos.items()}
    drop = max(
        float((rots[s] @ (g.landmarks["femoral_head_center"] - g.landmarks["ankle_center"]))[1])
        for s, g in geos.items()
    )
    # Keep the feet on the film; the pelvis gives way first (real films crop the iliac crests too).
    hip_y = max(40.0, min(165.0, spec.height_mm - 68.0 - drop))
    mid = spec.width_mm / 2
    limbs = {}
    for side, geo in geos.items():
        sign = -1.0 if side == RIGHT else 1.0
        mirror = np.diag([sign, -1.0])
        lin_mm = mirror @ rots[side]
        h_mm = np.array([mid + sign * spec.hip_separation_mm / 2, hip_y])
        off_mm = h_mm - lin_mm @ geo.landmarks["femoral_head_center"]
        limbs[side] = LimbPlacement(side, geo, lin_mm / sp, off_mm / sp, sp)
    for side, pl in limbs.items():
        for name, (x, y) in pl.landmarks_px().items():
            if not (0.0 <= x * sp <= spec.width_mm - 5.0 and 0.0 <= y * sp <= spec.height_mm - 20.0):
                raise ValueError(
                    f"the {side} limb does not fit on a {spec.width_mm:.0f} x {spec.height_mm:.0f} mm film "
                    f"({name} falls outside): use a larger film or smaller lengths or angles"
                )
    k = limbs[RIGHT].px(geos[RIGHT].landmarks["knee_center"]) * sp
    # Steel ball lateral to the right knee, in air, as a technologist tapes it to the stand.
    ball = (max(22.0, float(k[0]) - 85.0) / sp, float(k[1]) / sp)
    return FilmLayout(spec, rows, cols, limbs, hip_y, mid, ball)


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------

# Attenuation per mm, relative units (a processed-film look, not physics). Soft tissue is also
# saturated (see _to_pixels) the way a processed DR film flattens body thickness.
MU_BONE = 0.045  # per mm of cortical-bone equivalent
MU_STEEL = 0.6  # per mm of steel: the ball saturates within a fraction of a mm of its edge
_SHIFT = 4  # OpenCV sub-pixel bits for polygon vertices
_ONE = 1 << _SHIFT
_BAND_ROWS = 96  # bone maths runs band by band over the columns the bone occupies


def _circle(center: np.ndarray, r: float, n: int = 96) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.asarray(center) + r * np.stack([np.cos(t), np.sin(t)], axis=1)


def _ellipse(frame: JointFrame, cx: float, cy: float, ax: float, ay: float, n: int = 96, power: float = 2.0) -> np.ndarray:
    """(Super)ellipse with axes along a joint frame (mm in that frame) -> construction mm."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    e = 2.0 / power
    x = cx + ax * np.sign(c) * np.abs(c) ** e
    y = cy + ay * np.sign(s) * np.abs(s) ** e
    return frame.at(np.stack([x, y], axis=1))


def _quad(p0: np.ndarray, p1: np.ndarray, r0: float, r1: float) -> np.ndarray:
    d = _unit(p1 - p0)
    n = _rot(d, 90.0)
    return np.array([p0 + r0 * n, p1 + r1 * n, p1 - r1 * n, p0 - r0 * n])


def _smooth(poly: np.ndarray, pinned: Iterable[int] = (), iterations: int = 3) -> np.ndarray:
    """Chaikin corner cutting of a closed polygon; `pinned` vertices stay exactly where they are.

    Why: hand-placed outlines look like cut paper; landmark vertices (plateau and plafond ends,
    trochanter tip) must not move, and the edges next to them stay straight.
    """
    pts = np.asarray(poly, np.float64)
    pin = np.zeros(len(pts), bool)
    pin[list(pinned)] = True
    for _ in range(iterations):
        nxt = np.roll(pts, -1, axis=0)
        q, r = 0.75 * pts + 0.25 * nxt, 0.25 * pts + 0.75 * nxt
        # Per vertex i: [P_i if pinned], Q_i, R_i  (R_{i-1} and Q_i replace an unpinned corner).
        out, out_pin = [], []
        for i in range(len(pts)):
            if pin[i]:
                out.append(pts[i])
                out_pin.append(True)
            out += [q[i], r[i]]
            out_pin += [False, False]
        pts, pin = np.array(out), np.array(out_pin)
    return pts


def _tube(line: Polyline, s_from: float, s_to: float, half_width: Callable[[float], float], step: float = 15.0) -> list[np.ndarray]:
    """Convex pieces (quads, and discs at bends) covering a tube along `line` between arc lengths."""
    knots = [k for k in line.knots[1:-1] if s_from < k < s_to]
    n = max(2, int(math.ceil((s_to - s_from) / step)) + 1)
    ss = sorted(set(np.linspace(s_from, s_to, n).tolist() + knots))
    pieces = []
    for s0, s1 in zip(ss[:-1], ss[1:]):
        i = line.segment(0.5 * (s0 + s1))  # both ends lie on this segment (bends are sample points)
        d = _unit(line.points[i + 1] - line.points[i])
        base = line.points[i] - line.knots[i] * d
        pieces.append(_quad(base + s0 * d, base + s1 * d, half_width(s0), half_width(s1)))
    for k in knots:
        pieces.append(_circle(line.point(k), half_width(k), 48))
    return pieces


Profile = tuple[np.ndarray, np.ndarray, Sequence[float], Sequence[float]]


@dataclass(slots=True)
class _Canvas:
    """Film-sized accumulators: soft-tissue term and hard (bone, steel) attenuation, both unitless."""

    rows: int
    cols: int
    spacing: float
    rng: np.random.Generator
    soft: np.ndarray = field(init=False)
    hard: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.soft = np.zeros((self.rows, self.cols), np.float32)
        self.hard = np.zeros((self.rows, self.cols), np.float32)

    def _box(self, polys_px: Sequence[np.ndarray], margin_px: int) -> tuple[int, int, int, int] | None:
        allp = np.concatenate(polys_px, axis=0)
        x0 = max(int(math.floor(allp[:, 0].min())) - margin_px, 0)
        y0 = max(int(math.floor(allp[:, 1].min())) - margin_px, 0)
        x1 = min(int(math.ceil(allp[:, 0].max())) + margin_px + 1, self.cols)
        y1 = min(int(math.ceil(allp[:, 1].max())) + margin_px + 1, self.rows)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def bone(
        self,
        add: Sequence[np.ndarray],
        cut: Sequence[np.ndarray] = (),
        *,
        cortex_mm: float | Profile = 1.2,
        marrow: float | Profile = 0.35,
        r_max_mm: float = 30.0,
        r_window_mm: float = 16.0,
        density: float = 1.0,
        texture: float = 0.12,
    ) -> None:
        """Add one bone given as a union of polygons (image pixels) minus `cut` polygons.

        Projected thickness from the distance `s` to the outline (mm) and the local half-width `R`
        (the largest `s` within `r_window_mm`, at most `r_max_mm`): a cortical shell of
        `cortex_mm` around a marrow of relative density `marrow`. Either may vary along the bone:
        `(p0_px, p1_px, t_knots, values)` interpolates over the projection parameter `t` on p0->p1.
        """
        sp = self.spacing
        box = self._box(list(add), margin_px=3)
        if box is None:
            return
        x0, y0, x1, y1 = box
        h, w = y1 - y0, x1 - x0
        mask = np.zeros((h, w), np.uint8)
        org = np.array([x0, y0], np.float64)
        for value, polys in ((1, add), (0, cut)):
            # One call per piece: a single fillPoly call with several contours cancels overlaps.
            for poly in polys:
                pts = np.round((poly - org) * _ONE).astype(np.int32)
                cv2.fillPoly(mask, [pts], value, lineType=cv2.LINE_8, shift=_SHIFT)
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        # A pixel centre next to the outline lies half a pixel inside it.
        s_all = np.maximum(dist - np.float32(0.5), 0.0) * np.float32(sp)
        # Slowly varying fields on a coarse grid, brought back by interpolation: local half-width
        # (a grey dilation of the distance), cortex thickness and marrow density.
        f = max(1, int(round(1.5 / sp)))
        small = np.ascontiguousarray(s_all[::f, ::f])
        rad = max(1, int(round(r_window_mm / (f * sp))))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rad + 1, 2 * rad + 1))
        coarse = [cv2.dilate(small, kernel)]
        gy = (np.arange(small.shape[0], dtype=np.float32) * f + y0)[:, None]
        gx = (np.arange(small.shape[1], dtype=np.float32) * f + x0)[None, :]
        for prof in (cortex_mm, marrow):
            if isinstance(prof, tuple):
                p0, p1, tk, vals = prof
                d = np.asarray(p1, np.float64) - np.asarray(p0, np.float64)
                dd = float(d @ d)
                t = (gy - np.float32(p0[1])) * np.float32(d[1] / dd) + (gx - np.float32(p0[0])) * np.float32(d[0] / dd)
                coarse.append(np.interp(t, tk, vals).astype(np.float32))
            else:
                coarse.append(np.full(small.shape, float(prof), np.float32))
        stack = cv2.merge(coarse)
        # Coarse sample (i, j) sits at pixel (i*f, j*f): map with an affine warp, not a resize.
        m = np.array([[1.0 / f, 0.0, 0.0], [0.0, 1.0 / f, 0.0]])
        rows_any = mask.any(axis=1)
        tex = self._texture(h, w) if texture else None
        for b0 in range(0, h, _BAND_ROWS):
            b1 = min(b0 + _BAND_ROWS, h)
            if not rows_any[b0:b1].any():
                continue
            cols = np.flatnonzero(mask[b0:b1].any(axis=0))
            c0, c1 = int(cols[0]), int(cols[-1]) + 1
            mb = m.copy()
            mb[0, 2], mb[1, 2] = c0 / f, b0 / f
            fields = cv2.warpAffine(stack, mb, (c1 - c0, b1 - b0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE)
            s = s_all[b0:b1, c0:c1]
            r_loc = np.minimum(np.maximum(fields[..., 0], s), np.float32(r_max_mm))
            s = np.minimum(s, r_loc)
            c = np.minimum(fields[..., 1], np.float32(0.85) * r_loc)
            outer = _chord(r_loc, s)
            inner = _chord(r_loc - c, s - c)
            cancellous = inner * fields[..., 2]
            if tex is not None:
                cancellous *= np.float32(1.0) + np.float32(texture) * tex[b0:b1, c0:c1]
            att = (outer - inner + cancellous) * np.float32(MU_BONE * density)
            att[mask[b0:b1, c0:c1] == 0] = 0.0
            self.hard[y0 + b0:y0 + b1, x0 + c0:x0 + c1] += att

    def _texture(self, h: int, w: int) -> np.ndarray:
        """Smooth zero-mean noise with a grain of about 1 mm (trabecular look)."""
        g = max(1, int(round(1.0 / self.spacing)))
        lo = self.rng.standard_normal((h // g + 2, w // g + 2), dtype=np.float32)
        return np.clip(cv2.resize(lo, (w, h), interpolation=cv2.INTER_LINEAR), -2.5, 2.5)

    def steel_ball(self, center_px: tuple[float, float], diameter_mm: float) -> None:
        """An exact sphere projection (chord length through steel) at a sub-pixel centre."""
        r = diameter_mm / 2 / self.spacing
        cx, cy = center_px
        x0, x1 = max(int(cx - r) - 2, 0), min(int(cx + r) + 3, self.cols)
        y0, y1 = max(int(cy - r) - 2, 0), min(int(cy + r) + 3, self.rows)
        xs = np.arange(x0, x1, dtype=np.float64) - cx
        ys = np.arange(y0, y1, dtype=np.float64) - cy
        d2 = ys[:, None] ** 2 + xs[None, :] ** 2
        chord_mm = 2.0 * np.sqrt(np.maximum(r * r - d2, 0.0)) * self.spacing
        self.hard[y0:y1, x0:x1] += (chord_mm * MU_STEEL).astype(np.float32)

    def lead_letter(self, text: str, center_mm: tuple[float, float], height_mm: float = 14.0) -> None:
        """A lead marker letter, as taped to the cassette."""
        sp = self.spacing
        scale = height_mm / sp / 22.0  # Hershey simplex capitals are about 22 units tall at scale 1
        thick = max(1, int(round(2.2 / sp)))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        org = (int(round(center_mm[0] / sp - tw / 2)), int(round(center_mm[1] / sp + th / 2)))
        x0, y0 = max(org[0] - 4 * thick, 0), max(org[1] - th - 4 * thick, 0)
        x1, y1 = min(org[0] + tw + 4 * thick, self.cols), min(org[1] + 4 * thick, self.rows)
        sub = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.putText(sub, text, (org[0] - x0, org[1] - y0), cv2.FONT_HERSHEY_SIMPLEX, scale, 1, thick, cv2.LINE_AA)
        self.hard[y0:y1, x0:x1] += sub.astype(np.float32) * np.float32(3.0 * MU_STEEL)


def _chord(r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Chord through a cylinder of radius `r` at distance `s` inside its edge (0 outside)."""
    s = np.maximum(s, np.float32(0.0))
    return np.float32(2.0) * np.sqrt(np.maximum(np.float32(2.0) * r * s - s * s, np.float32(0.0)))


def _draw_femur(cv: _Canvas, pl: LimbPlacement) -> None:
    g = pl.geometry
    sp = g.spec
    lm = g.landmarks
    h, gt = lm["femoral_head_center"], lm["greater_trochanter_tip"]
    anat = g.femur_anat
    cos_ama = math.cos(math.radians(sp.anatomic_mechanical_deg))
    lf = sp.femur_length_mm
    px = pl.px

    def at_level(level: float, across: float) -> np.ndarray:
        """Proximal anatomic frame: `level` mm below H, `across` mm lateral of the anatomic axis."""
        return anat.offset((level - 55.0) / cos_ama, across)  # the line's first knot is 55 mm below H

    nd = g.neck_dir
    nn = _rot(nd, 90.0)  # toward the superior border of the neck
    # Outline from the trochanter tip round the lateral side, the shaft, the lesser trochanter, the
    # inferior and superior borders of the neck, the trochanteric fossa, back to the tip.
    tip_level = float(np.dot(gt - anat.points[0], anat.direction(0.0))) * cos_ama + 55.0
    proximal = np.array([
        gt,
        at_level(tip_level + 3.0, 20.0), at_level(tip_level + 12.0, 22.0), at_level(30.0, 22.0),
        at_level(45.0, 20.5), at_level(65.0, 17.0), at_level(95.0, 15.5),
        at_level(95.0, -15.5), at_level(72.0, -16.5), at_level(60.0, -21.0), at_level(55.0, -25.5),
        at_level(49.0, -23.0),
        h + 40.0 * nd - 17.0 * nn, h + 30.0 * nd - 15.0 * nn, h + 16.0 * nd - 15.5 * nn,
        h + 16.0 * nd + 14.0 * nn, h + 28.0 * nd + 14.0 * nn,
        at_level(tip_level + 14.0, -3.0),  # trochanteric fossa
        at_level(tip_level + 7.0, 3.5),
        at_level(tip_level + 2.5, 9.0),
    ])
    proximal = _smooth(proximal, pinned=[0])
    anat_len = anat.length

    def shaft_r(s_arc: float) -> float:
        return float(np.interp(s_arc / anat_len, [0.0, 0.15, 0.5, 0.85, 1.0], [15.8, 15.0, 13.8, 14.5, 15.5]))

    shaft = _tube(anat, (70.0 - 55.0) / cos_ama, anat_len, shaft_r)
    cf = g.condyles
    top = anat_len - (100.0 - 70.0) / cos_ama  # 100 mm above the joint (the last knot is 70 mm above)
    distal = np.concatenate([
        cf.at([(-40.5, 24.0), (-43.5, 34.0), (-41.0, 44.0), (-33.0, 58.0), (-23.0, 72.0)]),
        [anat.offset(top, -14.5), anat.offset(top, 14.5)],
        cf.at([(22.0, 72.0), (31.0, 58.0), (38.0, 45.0), (40.5, 34.0), (40.0, 24.0)]),
    ])
    half = sp.condyle_span_mm / 2
    condyles = [
        _ellipse(cf, -half, 21.0, 17.5, 21.0, power=2.6),
        _ellipse(cf, half, 20.0, 16.5, 20.0, power=2.6),
    ]
    notch = _smooth(cf.at([(-8.0, -3.0), (-8.0, 5.0), (-6.5, 11.0), (-3.0, 15.5), (3.0, 15.5), (6.5, 11.0),
                           (8.0, 5.0), (8.0, -3.0)]), iterations=2)
    add = ([px(_circle(h, sp.head_radius_mm, 160)), px(proximal)] + [px(q) for q in shaft]
           + [px(_smooth(distal))] + [px(c) for c in condyles])
    axis = (px(h), px(lm["knee_center"]))
    cv.bone(
        add,
        [px(notch)],
        cortex_mm=(*axis, [0.0, 0.12, 0.3, 0.62, 0.82, 0.93], [1.2, 2.2, 6.5, 6.5, 2.2, 1.2]),
        marrow=(*axis, [0.0, 0.14, 0.3, 0.62, 0.8, 1.0], [0.3, 0.32, 0.12, 0.12, 0.28, 0.3]),
        r_max_mm=30.0,
        r_window_mm=17.0,
    )
    # Patella, seen through the distal femur: faint.
    cv.bone([px(_ellipse(cf, 3.0, 44.0, 20.0, 23.0))], cortex_mm=0.8, marrow=0.3, r_max_mm=10.0, density=0.25)


def _draw_leg(cv: _Canvas, pl: LimbPlacement) -> None:
    g = pl.geometry
    sp = g.spec
    tib = g.tibia_mech
    lt = tib.length
    pt, pf = g.plateau, g.plafond
    hw = sp.plateau_width_mm / 2
    wf = sp.plafond_width_mm / 2
    px = pl.px
    j = min(95.0, 0.28 * lt)
    top = np.concatenate([
        pt.at([(-hw, 0.0), (-28.0, 0.2), (-12.0, 0.5), (-9.0, 2.5), (-6.5, 8.0), (-4.5, 8.3), (-2.5, 3.5),
               (2.5, 3.5), (4.5, 7.6), (6.5, 7.2), (9.0, 2.5), (12.0, 0.5), (28.0, 0.2), (hw, 0.0),
               (hw + 1.5, -3.0), (hw + 2.0, -10.0), (hw + 0.5, -20.0), (hw - 3.0, -30.0), (hw - 9.0, -42.0),
               (hw - 16.0, -56.0)]),
        [tib.offset(j, 15.0), tib.offset(j, -15.0)],
        pt.at([(-hw + 15.0, -56.0), (-hw + 7.0, -42.0), (-hw + 2.5, -30.0), (-hw - 0.5, -20.0), (-hw - 2.0, -10.0),
               (-hw - 1.5, -3.0)]),
    ])
    top = _smooth(top, pinned=[0, 13])

    def shaft_r(s: float) -> float:
        return float(np.interp(s / lt, [0.0, 0.25, 0.45, 0.7, 0.85, 1.0], [16.0, 15.0, 12.8, 11.8, 12.8, 14.5]))

    shaft = _tube(tib, j - 15.0, lt - 50.0, shaft_r)
    dj = lt - 80.0
    bottom = np.concatenate([
        pf.at([(-wf, 0.0), (-wf - 2.5, -1.2), (-wf - 3.5, -4.0), (-wf - 3.8, -10.0), (-wf - 5.0, -14.5),
               (-wf - 8.0, -16.0), (-wf - 11.5, -14.0), (-wf - 13.5, -7.0), (-wf - 14.0, 4.0), (-wf - 13.0, 16.0),
               (-wf - 10.0, 30.0)]),
        [tib.offset(dj, -13.0), tib.offset(dj, 13.0)],
        pf.at([(wf + 5.0, 32.0), (wf + 6.5, 18.0), (wf + 5.5, 6.0), (wf + 2.5, 1.2), (wf, 0.0)]),
    ])
    bottom = _smooth(bottom, pinned=[0, len(bottom) - 1])
    axis = (px(g.landmarks["knee_center"]), px(g.landmarks["ankle_center"]))
    cv.bone(
        [px(top), px(bottom)] + [px(q) for q in shaft],
        cortex_mm=(*axis, [0.0, 0.1, 0.3, 0.75, 0.9, 1.0], [1.2, 1.8, 5.5, 5.0, 2.0, 1.2]),
        marrow=(*axis, [0.0, 0.12, 0.3, 0.75, 0.9, 1.0], [0.32, 0.3, 0.12, 0.12, 0.28, 0.32]),
        r_max_mm=28.0,
        r_window_mm=15.0,
    )
    # Fibula: head below the lateral plateau, shaft lateral to the tibia (bent with it), malleolus.
    knots = [(30.0, pt.at([(hw - 5.0, -30.0)])[0]), (52.0, pt.at([(hw - 4.0, -50.0)])[0]),
             (120.0, tib.offset(120.0, 24.0)), (lt - 120.0, tib.offset(lt - 120.0, 21.5)),
             (lt - 40.0, pf.at([(wf + 7.0, 40.0)])[0]), (lt - 20.0, pf.at([(wf + 7.5, 20.0)])[0])]
    if g.tibial_cora is not None and 60.0 < g.tibial_cora.from_knee_mm < lt - 130.0:
        knots.append((g.tibial_cora.from_knee_mm, tib.offset(g.tibial_cora.from_knee_mm, 25.0)))
    fib = Polyline(np.array([p for _, p in sorted(knots, key=lambda kv: kv[0])]))
    fl = fib.length
    pieces = _tube(fib, 0.0, fl, lambda s: float(np.interp(s / fl, [0.0, 0.1, 0.5, 0.85, 1.0], [7.5, 6.0, 6.0, 6.5, 5.5])), 20.0)
    head = _ellipse(pt, hw - 5.0, -24.0, 10.5, 11.5)
    malleolus = _smooth(pf.at([(wf + 2.0, 32.0), (wf + 11.0, 32.0), (wf + 13.5, 10.0), (wf + 13.0, -6.0),
                               (wf + 10.5, -16.0), (wf + 7.0, -19.0), (wf + 3.5, -14.0), (wf + 2.5, -3.0),
                               (wf + 1.5, 10.0)]))
    cv.bone(
        [px(head), px(malleolus)] + [px(q) for q in pieces],
        cortex_mm=(px(fib.points[0]), px(fib.points[-1]), [0.0, 0.12, 0.3, 0.8, 0.92], [1.0, 1.5, 2.6, 2.6, 1.2]),
        marrow=0.3,
        r_max_mm=11.0,
        r_window_mm=9.0,
    )
    # Talus under the plafond (3 mm joint space), calcaneus and navicular overlapping below.
    talus = _smooth(pf.at([(-wf + 0.5, -3.8), (-8.0, -3.0), (0.0, -2.8), (8.0, -3.0), (wf - 0.5, -3.8), (wf, -6.0),
                           (wf + 1.5, -16.0), (wf - 2.0, -28.0), (6.0, -33.0), (-6.0, -33.0), (-wf + 1.0, -29.0),
                           (-wf - 1.0, -18.0), (-wf, -6.0)]), iterations=2)
    cv.bone([px(talus)], cortex_mm=1.3, marrow=0.38, r_max_mm=22.0, r_window_mm=12.0)
    cv.bone([px(_ellipse(pf, 6.0, -44.0, 25.0, 13.0, power=2.4))], cortex_mm=1.2, marrow=0.3, r_max_mm=20.0, density=0.55)
    cv.bone([px(_ellipse(pf, -15.0, -35.0, 9.0, 6.5))], cortex_mm=1.0, marrow=0.3, r_max_mm=8.0, density=0.45)


def _draw_pelvis(cv: _Canvas, lay: FilmLayout) -> None:
    """Both hemipelves, sacrum and the lowest lumbar vertebrae, symmetric about the midline.

    Pelvis coordinates: `u` mm lateral of the midline, `v` mm above the femoral head centres.
    """
    sp = lay.spacing
    hu = lay.spec.hip_separation_mm / 2
    r = max(lay.spec.right.head_radius_mm, lay.spec.left.head_radius_mm)

    def to_px(pts, sign: float) -> np.ndarray:
        a = np.asarray(pts, np.float64).reshape(-1, 2)
        return np.stack([lay.midline_x_mm + sign * a[:, 0], lay.hip_y_mm - a[:, 1]], axis=1) / sp

    lip = (hu + (r + 5.0) * math.cos(math.radians(52)), (r + 5.0) * math.sin(math.radians(52)))
    ilium = _smooth(np.array([
        lip, (hu + 22.0, 40.0), (hu + 20.0, 50.0), (hu + 40.0, 78.0), (hu + 46.0, 100.0), (hu + 36.0, 121.0),
        (hu + 12.0, 132.0), (hu - 20.0, 130.0), (hu - 42.0, 116.0), (40.0, 100.0),
        (37.0, 70.0), (40.0, 48.0), (52.0, 30.0), (hu - 26.0, 10.0), (hu - 28.0, -4.0),
        (40.0, -12.0), (18.0, -16.0), (3.0, -18.0), (3.0, -58.0), (16.0, -70.0), (40.0, -86.0), (60.0, -96.0),
        (hu - 8.0, -94.0), (hu + 2.0, -80.0), (hu + 4.0, -55.0), (hu + 8.0, -30.0), (hu + 20.0, -6.0),
    ]))
    tt = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ca, sa = math.cos(0.35), math.sin(0.35)
    obturator = np.stack([hu - 30.0 + 17.0 * np.cos(tt) * ca - 25.0 * np.sin(tt) * sa,
                          -50.0 + 17.0 * np.cos(tt) * sa + 25.0 * np.sin(tt) * ca], axis=1)
    t = np.radians(np.linspace(60.0, 200.0, 40))
    sourcil = np.concatenate([np.stack([hu + (r + 2.5) * np.cos(t), (r + 2.5) * np.sin(t)], axis=1),
                              np.stack([hu + (r + 8.0) * np.cos(t[::-1]), (r + 8.0) * np.sin(t[::-1])], axis=1)])
    brim = [(40.0, 52.0), (52.0, 32.0), (hu - 26.0, 12.0), (hu - 28.0, -3.0), (40.0, -11.0), (18.0, -15.0)]
    for sign in (-1.0, 1.0):
        cv.bone([to_px(ilium, sign)], [to_px(obturator, sign)], cortex_mm=1.4, marrow=0.4, r_max_mm=6.0,
                r_window_mm=8.0, texture=0.15)
        # Acetabular roof (sourcil): the beam runs along dense subchondral bone there.
        cv.bone([to_px(_smooth(sourcil, iterations=2), sign)], cortex_mm=1.5, marrow=0.6, r_max_mm=3.0,
                r_window_mm=4.0, density=1.1, texture=0.0)
        # Pelvic brim (iliopectineal line): a thin dense curve.
        cv.bone([to_px(_quad(np.array(a), np.array(b), 1.5, 1.5), sign) for a, b in zip(brim[:-1], brim[1:])]
                + [to_px(_circle(np.array(b), 1.5, 16), sign) for b in brim[1:-1]],
                cortex_mm=1.0, marrow=1.0, r_max_mm=1.5, r_window_mm=2.0, density=1.2, texture=0.0)
    sacrum = _smooth(np.array([(-44.0, 104.0), (44.0, 104.0), (40.0, 70.0), (33.0, 40.0), (18.0, 10.0), (8.0, -8.0),
                               (0.0, -22.0), (-8.0, -8.0), (-18.0, 10.0), (-33.0, 40.0), (-40.0, 70.0)]), iterations=2)
    foramina = [_circle(np.array([sx * u, v]), rr, 24) for v, u, rr in ((86.0, 16.0, 3.5), (67.0, 15.0, 3.2),
                                                                        (49.0, 13.0, 2.8), (32.0, 11.0, 2.4))
                for sx in (-1.0, 1.0)]
    cv.bone([to_px(sacrum, 1.0)], [to_px(f, 1.0) for f in foramina], cortex_mm=1.3, marrow=0.4, r_max_mm=12.0,
            r_window_mm=12.0, density=0.75)
    for v0 in (112.0, 150.0):  # L5, L4 bodies
        body = _smooth(np.array([(-25.0, v0), (25.0, v0), (23.0, v0 + 14.0), (25.0, v0 + 29.0), (-25.0, v0 + 29.0),
                                 (-23.0, v0 + 14.0)]), iterations=2)
        cv.bone([to_px(body, 1.0)], cortex_mm=1.6, marrow=0.4, r_max_mm=18.0, density=0.8)


_SOFT_GRID_MM = 0.6  # soft tissue is smooth: computed on this grid and interpolated to the film


def _soft_tissue(cv: _Canvas, lay: FilmLayout) -> None:
    """Body outline: trunk above the crotch and two limbs of elliptical section (mm of water)."""
    sp = lay.spacing
    f = max(1, int(round(_SOFT_GRID_MM / sp)))
    rows_s, cols_s = (cv.rows + f - 1) // f, (cv.cols + f - 1) // f
    ys = (np.arange(rows_s, dtype=np.float32) * np.float32(f * sp))[:, None]
    xs = (np.arange(cols_s, dtype=np.float32) * np.float32(f * sp))[None, :]
    layers = []
    for pl in lay.limbs.values():
        lm = pl.geometry.landmarks
        lat = pl.lateral_sign

        def at(name: str) -> np.ndarray:
            return pl.px(lm[name]) * sp

        h, k, a = at("femoral_head_center"), at("knee_center"), at("ankle_center")
        f1, f2 = at("femoral_shaft_proximal_mid"), at("femoral_shaft_distal_mid")
        t1, t2 = at("tibial_shaft_proximal_mid"), at("tibial_shaft_distal_mid")
        # (y mm, centre x mm, half-width mm, depth / half-width)
        ctrl = [
            (h[1] - 60.0, h[0] + lat * 5.0, 105.0, 1.6),
            (h[1] + 40.0, h[0] + lat * 18.0, 95.0, 1.6),
            (f1[1], f1[0] + lat * 2.0, 80.0, 1.6),
            (f2[1], f2[0] - lat * 2.0, 68.0, 1.5),
            (k[1] - 60.0, k[0] - lat * 2.0, 55.0, 1.5),
            (k[1], k[0], 52.0, 1.6),
            (t1[1] - 40.0, t1[0] + lat * 9.0, 58.0, 1.7),
            (t2[1], t2[0] + lat * 7.0, 43.0, 1.6),
            (a[1] - 30.0, a[0] + lat * 5.0, 35.0, 1.7),
            (a[1] + 5.0, a[0] + lat * 4.0, 40.0, 2.0),
            (a[1] + 45.0, a[0] + lat * 2.0, 50.0, 4.0),
            (a[1] + 200.0, a[0], 52.0, 4.2),
        ]
        cy, cx, cw, cd = (np.array(c, np.float32) for c in zip(*ctrl))
        yv = ys[:, 0]
        cen = np.interp(yv, cy, cx).astype(np.float32)[:, None]
        half = np.interp(yv, cy, cw).astype(np.float32)[:, None]
        depth = (np.interp(yv, cy, cd) * np.interp(yv, cy, cw)).astype(np.float32)[:, None]
        u = (xs - cen) / half
        layers.append(depth * np.sqrt(np.maximum(1.0 - u * u, 0.0)))
    # Trunk: wide, ending at a rounded crotch a little below the hips.
    mid = lay.midline_x_mm
    crotch = lay.hip_y_mm + 70.0 - 0.006 * (xs - mid) ** 2
    w = np.clip((crotch - ys) / 25.0, 0.0, 1.0)
    u = (xs - mid) / 200.0
    layers.append(np.float32(220.0) * np.sqrt(np.maximum(1.0 - u * u, 0.0)) * (w * w * (3.0 - 2.0 * w)))
    thick = np.maximum.reduce(layers).astype(np.float32)
    # Processed films flatten body thickness: the soft-tissue term saturates.
    term = np.float32(0.55) * (np.float32(1.0) - np.exp(thick * np.float32(-1.0 / 70.0)))
    m = np.array([[1.0 / f, 0.0, 0.0], [0.0, 1.0 / f, 0.0]])
    cv.soft = cv2.warpAffine(term, m, (cv.cols, cv.rows), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)


def _to_pixels(cv: _Canvas, blur_mm: float) -> np.ndarray:
    """Attenuation -> 12-bit values, bone bright; detector blur and signal-dependent noise."""
    total = cv.hard
    total += cv.soft
    cv.soft = np.empty((0, 0), np.float32)  # free it early: the film is large
    total *= np.float32(-1.25)
    value = cv2.exp(total)  # exp(-1.25 attenuation): the fraction of photons that arrives
    cv.hard = np.empty((0, 0), np.float32)
    value *= np.float32(-(MAX_VALUE - 70.0))
    value += np.float32(MAX_VALUE)
    value = cv2.GaussianBlur(value, (0, 0), max(0.5, blur_mm / cv.spacing))
    # Quantum noise grows where fewer photons arrive (brighter after the log), grain everywhere.
    noise = cv.rng.standard_normal(value.shape, dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
    scale = value * np.float32(0.012 * 1.6)
    scale += np.float32(16.0)
    noise *= scale
    value += noise
    np.clip(value, 0.0, MAX_VALUE, out=value)
    return np.rint(value, out=value).astype(np.uint16)


def render_film(lay: FilmLayout, seed: int) -> np.ndarray:
    """The film's pixels, uint16 (rows, columns), 12 bits stored, MONOCHROME2 (bone bright)."""
    cv = _Canvas(lay.rows, lay.cols, lay.spacing, np.random.default_rng(seed))
    _soft_tissue(cv, lay)
    _draw_pelvis(cv, lay)
    for pl in lay.limbs.values():
        _draw_femur(cv, pl)
        _draw_leg(cv, pl)
    cv.steel_ball(lay.ball_center_px, BALL_DIAMETER_MM)
    sp = lay.spacing
    a_r = lay.limbs[RIGHT].px(lay.limbs[RIGHT].geometry.landmarks["ankle_center"]) * sp
    a_l = lay.limbs[LEFT].px(lay.limbs[LEFT].geometry.landmarks["ankle_center"]) * sp
    cv.lead_letter("R", (max(18.0, float(a_r[0]) - 95.0), float(a_r[1]) - 150.0))
    cv.lead_letter("L", (min(lay.spec.width_mm - 18.0, float(a_l[0]) + 95.0), float(a_l[1]) - 150.0))
    return _to_pixels(cv, blur_mm=0.12)
