"""What to draw over the film for an analysis, as plain data in image pixel coordinates.

One overlay model, two renderers: the Qt scene and the PDF report draw these primitives and nothing
else, so they cannot disagree with each other or with the numbers. Coordinates follow the case file
(`x` = column, `y` = row, origin at the centre of the top-left pixel).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .case import Case
from .geometry import GeometryError, line_intersection
from .landmarks import Side
from .measure import A, CL, CM, DL, DM, F1, F2, GT, H, K, N, PL, PM, CaseResult, LimbResult, measure_case
from .present import LABELS, format_value

Point = tuple[float, float]


class Layer(StrEnum):
    AXES = "axes"  # mechanical axis and the femoral and tibial mechanical axes
    JOINT_LINES = "joint_lines"
    ANGLES = "angles"  # arcs and their labels
    MAD = "mad"
    ANATOMIC = "anatomic"  # anatomic axis, neck axis and the anatomic angles

    @property
    def label(self) -> str:
        return {
            "axes": "Mechanical axes",
            "joint_lines": "Joint lines",
            "angles": "Angles",
            "mad": "MAD",
            "anatomic": "Anatomic axes",
        }[self.value]


# The colour each role is drawn in (RGB), the same on screen, on paper and in the DICOM objects.
ROLE_RGB: dict[str, tuple[int, int, int]] = {
    "mechanical_axis": (255, 235, 59),
    "femoral_mechanical_axis": (0, 230, 200),
    "tibial_mechanical_axis": (0, 230, 200),
    "femoral_joint_line": (120, 255, 120),
    "tibial_joint_line": (120, 255, 120),
    "plafond_line": (120, 255, 120),
    "trochanter_line": (120, 255, 120),
    "femoral_anatomic_axis": (150, 170, 255),
    "neck_axis": (150, 170, 255),
    "arc": (255, 255, 255),
    "mad": (255, 100, 255),
}


@dataclass(frozen=True, slots=True)
class Polyline:
    points: tuple[Point, ...]
    layer: Layer
    role: str  # e.g. "mechanical_axis", "joint_line", "arc"; renderers pick colour and width by role
    side: Side
    abnormal: bool = False
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Label:
    anchor: Point  # where the text is attached, image pixels
    text: str
    layer: Layer
    side: Side
    key: str = ""  # measurement key, when the label shows one
    abnormal: bool = False
    direction: Point = (0.0, 0.0)  # unit vector (image space) from the anchor toward where the text sits


@dataclass(frozen=True, slots=True)
class Overlay:
    polylines: tuple[Polyline, ...]
    labels: tuple[Label, ...]

    def in_layers(self, layers: set[Layer]) -> "Overlay":
        return Overlay(tuple(p for p in self.polylines if p.layer in layers),
                       tuple(lbl for lbl in self.labels if lbl.layer in layers))


def _arr(p: Point) -> np.ndarray:
    return np.asarray(p, dtype=float)


def _pt(v: np.ndarray) -> Point:
    return (float(v[0]), float(v[1]))


def _extend(p: np.ndarray, q: np.ndarray, fraction: float) -> tuple[Point, Point]:
    d = q - p
    return _pt(p - fraction * d), _pt(q + fraction * d)


def arc_points(vertex: Point, toward_a: Point, toward_b: Point, radius: float, steps: int = 24) -> tuple[Point, ...]:
    """Points of the arc of `radius` (image pixels) about `vertex`, from the ray toward `toward_a` to
    the ray toward `toward_b`, the short way round; drawn in image space so it meets the lines drawn."""
    v = _arr(vertex)
    da, db = _arr(toward_a) - v, _arr(toward_b) - v
    a0 = math.atan2(da[1], da[0])
    sweep = math.atan2(da[0] * db[1] - da[1] * db[0], float(da @ db))
    t = a0 + sweep * np.arange(steps + 1) / steps
    xs = (v[0] + radius * np.cos(t)).tolist()
    ys = (v[1] + radius * np.sin(t)).tolist()
    return tuple(zip(xs, ys))


def _bisector(vertex: Point, toward_a: Point, toward_b: Point) -> np.ndarray:
    v = _arr(vertex)
    ua = _arr(toward_a) - v
    ub = _arr(toward_b) - v
    ua, ub = ua / (np.linalg.norm(ua) or 1.0), ub / (np.linalg.norm(ub) or 1.0)
    b = ua + ub
    n = float(np.linalg.norm(b))
    return b / n if n > 1e-9 else np.array([-ua[1], ua[0]])


def _limb_overlay(side: Side, px: dict[str, np.ndarray], result: LimbResult, scale_px: float,
                  polylines: list[Polyline], labels: list[Label]) -> None:
    def abnormal(key: str) -> bool:
        flag = result.flags.get(key)
        return flag is not None and str(flag) != "normal"

    def has(*names: str) -> bool:
        return all(n in px for n in names)

    def line(p: np.ndarray, q: np.ndarray, layer: Layer, role: str, extend: float = 0.0, *, bad: bool = False,
             dashed: bool = False) -> None:
        a, b = _extend(p, q, extend) if extend else (_pt(p), _pt(q))
        polylines.append(Polyline((a, b), layer, role, side, bad, dashed))

    def angle(key: str, vertex: np.ndarray, toward_a: np.ndarray, toward_b: np.ndarray, radius: float,
              layer: Layer = Layer.ANGLES) -> None:
        if key not in result.values:
            return
        v, a, b = _pt(vertex), _pt(toward_a), _pt(toward_b)
        polylines.append(Polyline(arc_points(v, a, b, radius), layer, "arc", side, abnormal(key)))
        direction = _bisector(v, a, b)
        anchor = _arr(v) + direction * radius * 1.15
        labels.append(Label(_pt(anchor), f"{LABELS[key]} {format_value(key, result)}", layer, side, key,
                            abnormal(key), _pt(direction)))

    def meet(p: np.ndarray, d: np.ndarray, q: np.ndarray, e: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        try:
            return line_intersection(p, d, q, e)
        except GeometryError:
            return fallback

    r = scale_px
    # mechanical axes
    if has(H, A):
        line(px[H], px[A], Layer.AXES, "mechanical_axis", bad=abnormal("mad_mm"))
    if has(H, K):
        line(px[H], px[K], Layer.AXES, "femoral_mechanical_axis", dashed=True)
    if has(K, A):
        line(px[K], px[A], Layer.AXES, "tibial_mechanical_axis", dashed=True)
    # joint lines, extended a little past the points so the angle vertex is visible
    for m, l, role in ((CM, CL, "femoral_joint_line"), (PM, PL, "tibial_joint_line"), (DM, DL, "plafond_line")):
        if has(m, l):
            line(px[m], px[l], Layer.JOINT_LINES, role, 0.25)
    if has(H, GT):
        line(px[H], px[GT], Layer.JOINT_LINES, "trochanter_line", 0.15)
    # anatomic axis and neck axis
    if has(F1, F2):
        line(px[F1], px[F2], Layer.ANATOMIC, "femoral_anatomic_axis", 0.35)
    if has(H, N):
        line(px[H], px[N], Layer.ANATOMIC, "neck_axis", 0.8)

    # angles, each at the vertex where its two lines meet
    if has(H, K, GT):
        angle("mlpfa_deg", px[H], px[K], px[GT], r)
    if has(H, K, CM, CL):
        v = meet(px[K], px[H] - px[K], px[CM], px[CL] - px[CM], px[K])
        angle("mldfa_deg", v, v + (px[H] - px[K]), v + (px[CL] - px[CM]), r)
    if has(K, A, PM, PL):
        v = meet(px[K], px[A] - px[K], px[PM], px[PL] - px[PM], px[K])
        angle("mpta_deg", v, v + (px[A] - px[K]), v + (px[PM] - px[PL]), r)
    if has(K, A, DM, DL):
        v = meet(px[A], px[K] - px[A], px[DM], px[DL] - px[DM], px[A])
        angle("ldta_deg", v, v + (px[K] - px[A]), v + (px[DL] - px[DM]), r)
    if has(F1, F2, CM, CL):
        v = meet(px[F1], px[F2] - px[F1], px[CM], px[CL] - px[CM], px[F2])
        angle("aldfa_deg", v, v + (px[F1] - px[F2]), v + (px[CL] - px[CM]), r * 0.7, Layer.ANATOMIC)
    if has(F1, F2, GT, H):
        v = meet(px[F1], px[F2] - px[F1], px[GT], px[H] - px[GT], px[F1])
        angle("ampfa_deg", v, v + (px[F2] - px[F1]), v + (px[H] - px[GT]), r * 0.7, Layer.ANATOMIC)
    if has(F1, F2, H, N):
        v = meet(px[N], px[H] - px[N], px[F1], px[F2] - px[F1], px[N])
        angle("nsa_deg", v, v + (px[H] - px[N]), v + (px[F2] - px[F1]), r * 0.7, Layer.ANATOMIC)
    if "jlca_deg" in result.values and has(CM, CL, PM, PL):
        lateral_end = (px[CL] + px[PL]) / 2.0
        outward = px[CL] - px[CM]
        outward = outward / (np.linalg.norm(outward) or 1.0)
        labels.append(Label(_pt(lateral_end + outward * r * 0.6), f"JLCA {format_value('jlca_deg', result)}",
                            Layer.ANGLES, side, "jlca_deg", abnormal("jlca_deg"), _pt(outward)))
    if "mfta_deg" in result.values and has(K):
        below = np.array([0.0, 1.0])
        labels.append(Label(_pt(px[K] + below * r * 2.2), f"HKA {format_value('hka_deg', result)}",
                            Layer.AXES, side, "hka_deg", abnormal("hka_deg"), _pt(below)))

    # MAD: the perpendicular from the knee centre to the mechanical axis
    if has(H, K, A) and ("mad_mm" in result.values or "mad_px" in result.values):
        h, k, a = px[H], px[K], px[A]
        d = (h - a) / (np.linalg.norm(h - a) or 1.0)
        foot = a + float((k - a) @ d) * d
        polylines.append(Polyline((_pt(k), _pt(foot)), Layer.MAD, "mad", side, abnormal("mad_mm")))
        # the label hangs below the knee, beside the mechanical axis, where it reads with the HKA
        below = np.array([0.0, 1.0])
        labels.append(Label(_pt(foot + below * r * 3.3), f"MAD {format_value('mad_mm', result)}", Layer.MAD,
                            side, "mad_mm", abnormal("mad_mm"), _pt(below)))


def build_overlay(case: Case, result: CaseResult | None = None, scale_px: float | None = None) -> Overlay:
    """The lines, arcs and labels of the analysis of `case`, in image pixels.

    `scale_px` sets the arc radius; by default about 20 mm on the film (or 1.5 % of the image height
    when uncalibrated).
    """
    result = result or measure_case(case)
    if scale_px is None:
        if case.pixel_spacing_mm:
            scale_px = 20.0 / min(case.pixel_spacing_mm)
        else:
            scale_px = 0.015 * float(case.image.get("rows") or 4000)
    polylines: list[Polyline] = []
    labels: list[Label] = []
    for side in (Side.RIGHT, Side.LEFT):
        limb = case.limbs.get(side)
        limb_result = result.limbs.get(side)
        if limb is None or limb_result is None:
            continue
        px = {name: np.asarray(p, dtype=float) for name, p in limb.landmarks.items()}
        _limb_overlay(side, px, limb_result, scale_px, polylines, labels)
    return Overlay(tuple(polylines), tuple(labels))
