"""Plane geometry in physical space: rays, angles, intersections, the leg frame, circle fits.

Points and vectors are numpy arrays of shape (2,), in millimetres (or pixels on an uncalibrated
film). Angles are in degrees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

Vec = np.ndarray

# Below this |d x e| (for unit directions: the sine of the angle between them) two lines are
# treated as parallel: 1e-4 rad is 0.006 degrees.
PARALLEL_SINE = 1e-4


class GeometryError(ValueError):
    """A construction that has no answer (coincident points, parallel lines); `str()` is the reason."""


def vec(x: float, y: float) -> Vec:
    return np.array([float(x), float(y)])


def cross(a: Vec, b: Vec) -> float:
    """z component of the 2-D cross product a x b."""
    return float(a[0] * b[1] - a[1] * b[0])


def norm(a: Vec) -> float:
    return float(math.hypot(a[0], a[1]))


def unit(a: Vec, what: str = "direction") -> Vec:
    n = norm(a)
    if n < 1e-9:
        raise GeometryError(f"{what} is undefined (its two points coincide)")
    return a / n


def ray_angle(a: Vec, b: Vec) -> float:
    """Unsigned angle between rays of directions `a` and `b`, in degrees (0 to 180).

    Uses atan2(|a x b|, a . b), which keeps full precision near 0 and 180 degrees (acos does not).
    """
    if norm(a) < 1e-9 or norm(b) < 1e-9:
        raise GeometryError("an angle needs two distinct points on each ray")
    return math.degrees(math.atan2(abs(cross(a, b)), float(np.dot(a, b))))


def signed_angle(a: Vec, b: Vec) -> float:
    """Angle from `a` to `b` in degrees, in (-180, 180], counter-clockwise positive in (x, y) components."""
    if norm(a) < 1e-9 or norm(b) < 1e-9:
        raise GeometryError("an angle needs two distinct points on each ray")
    return math.degrees(math.atan2(cross(a, b), float(np.dot(a, b))))


def line_intersection(p: Vec, d: Vec, q: Vec, e: Vec) -> Vec:
    """Intersection of lines `p + t d` and `q + s e`; GeometryError when they are (nearly) parallel."""
    denom = cross(d, e)
    if abs(denom) <= PARALLEL_SINE * norm(d) * norm(e):
        raise GeometryError("the lines are parallel, so they have no intersection")
    t = cross(q - p, e) / denom
    return p + t * d


def distance_point_line(point: Vec, a: Vec, b: Vec) -> float:
    """Unsigned distance from `point` to the line through `a` and `b`."""
    d = unit(b - a, "line")
    return abs(cross(point - a, d))


def rotate(v: Vec, degrees: float) -> Vec:
    """`v` turned counter-clockwise (in its own components) by `degrees`."""
    r = math.radians(degrees)
    c, s = math.cos(r), math.sin(r)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@dataclass(frozen=True, slots=True)
class LegFrame:
    """The leg-local frame of measurements.md: `sup` proximal, `lat` lateral, both unit vectors.

    `to_frame` maps a physical point to `(lat, sup)` components about `origin`; because `lat` is
    chosen from anatomy (or the film's orientation), right and left limbs, AP and PA films all read
    the same in this frame.
    """

    origin: Vec
    sup: Vec
    lat: Vec

    def to_frame(self, p: Vec) -> Vec:
        d = p - self.origin
        return np.array([float(np.dot(d, self.lat)), float(np.dot(d, self.sup))])

    def direction(self, d: Vec) -> Vec:
        """A direction vector in frame components (no translation)."""
        return np.array([float(np.dot(d, self.lat)), float(np.dot(d, self.sup))])

    def from_frame(self, c: Vec) -> Vec:
        return self.origin + c[0] * self.lat + c[1] * self.sup


def leg_frame(origin: Vec, sup: Vec, lateral_hint: Vec) -> LegFrame:
    """Frame with `sup` as given and `lat` the perpendicular of `sup` on the side of `lateral_hint`."""
    sup = unit(sup, "the limb's proximal direction")
    perp = np.array([-sup[1], sup[0]])
    if float(np.dot(perp, lateral_hint)) < 0:
        perp = -perp
    return LegFrame(np.asarray(origin, dtype=float), sup, perp)


# --- circle fit -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CircleFit:
    center: tuple[float, float]
    radius: float
    rms_residual: float  # root mean square of (distance to centre - radius), same unit as the points


def fit_circle(points: Iterable[Sequence[float]], refine: bool = True) -> CircleFit:
    """Best-fit circle through three or more points.

    An algebraic (Kasa) least-squares fit gives the start; Gauss-Newton iterations on the geometric
    distances then refine it (the algebraic fit is biased toward small circles when the points cover
    only part of the contour, as they do on a femoral head). Raises GeometryError for fewer than
    three points or collinear points.
    """
    pts = np.asarray(list(points), dtype=float).reshape(-1, 2)
    if len(pts) < 3:
        raise GeometryError("a circle needs at least three points")
    mean = pts.mean(axis=0)
    centred = pts - mean
    scale = float(np.sqrt((centred**2).sum(axis=1).mean()))
    if scale < 1e-9:
        raise GeometryError("the points coincide")
    u = centred / scale  # conditioning: unit-size coordinates
    a = np.column_stack([u, np.ones(len(u))])
    b = (u**2).sum(axis=1)
    sol, _res, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    if rank < 3 or sv[-1] < 1e-9 * sv[0]:
        raise GeometryError("the points are on a straight line, so no circle fits them")
    c = sol[:2] / 2.0
    r = math.sqrt(max(sol[2] + float(c @ c), 0.0))
    if refine:
        for _ in range(50):
            diff = u - c
            dist = np.sqrt((diff**2).sum(axis=1))
            if np.any(dist < 1e-12):
                break
            resid = dist - r
            jac = np.column_stack([-diff / dist[:, None], -np.ones(len(u))])
            step, *_ = np.linalg.lstsq(jac, -resid, rcond=None)
            c = c + step[:2]
            r = r + step[2]
            if float(np.abs(step).max()) < 1e-12:
                break
    r = abs(r)
    if r > 1e6:
        raise GeometryError("the points are on a straight line, so no circle fits them")
    center = mean + c * scale
    dist = np.sqrt(((pts - center) ** 2).sum(axis=1))
    rms = float(np.sqrt(((dist - r * scale) ** 2).mean()))
    return CircleFit((float(center[0]), float(center[1])), float(r * scale), rms)
