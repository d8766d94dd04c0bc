"""Pixel spacing of a film: where it comes from, how far to trust it, and how the user corrects it.

The priority chain is the one of ``measurements.md`` ("Calibration priority"):

1. a calibration object the user measured on the film (:func:`calibration_from_marker`), or a
   known length the user drew (:func:`calibration_from_line`);
2. ``PixelSpacing`` with ``PixelSpacingCalibrationType`` FIDUCIAL or GEOMETRY, or different from
   ``ImagerPixelSpacing`` (the scanner calibrated it);
3. ``ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor``;
4. ``ImagerPixelSpacing`` alone (detector plane: anatomy magnified);
5. ``PixelSpacing`` alone (calibration unknown);
6. nothing usable (absent, zero, negative, not a number): uncalibrated, angles only.

Row and column spacing stay separate everywhere. DICOM spacing attributes are
``[row spacing, column spacing]`` in millimetres, where the row spacing is the vertical distance
between the centres of adjacent rows. Pixel points are ``[x, y]`` = ``[column, row]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from dicom_io.errors import CalibrationError

__all__ = [
    "CAVEAT_IMAGER",
    "CAVEAT_NONE",
    "CAVEAT_PIXEL_SPACING_UNKNOWN",
    "Calibration",
    "CalibrationSource",
    "CircleFit",
    "calibration_from_dataset",
    "calibration_from_line",
    "calibration_from_marker",
    "fit_circle",
]

log = logging.getLogger(__name__)

CAVEAT_IMAGER = "detector plane: anatomy appears about 10-20% larger than life"
CAVEAT_PIXEL_SPACING_UNKNOWN = "whether the scanner calibrated this spacing is unknown"
CAVEAT_NONE = "uncalibrated: angles only, lengths in pixels"

# A spacing that matches another within this relative difference is "the same number written
# twice" (DS strings are rounded differently by different writers).
_SAME_SPACING_RTOL = 1e-4


class CalibrationSource(StrEnum):
    """Where a film's pixel spacing comes from; the values are the case-file labels."""

    PIXEL_SPACING = "PixelSpacing"
    IMAGER = "ImagerPixelSpacing"
    IMAGER_ERMF = "ImagerPixelSpacing+ERMF"
    MARKER = "marker"
    MANUAL = "manual"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Calibration:
    """Physical size of one pixel, its source, and what the user should know about it.

    Attributes
    ----------
    row_mm, column_mm:
        Distance in millimetres between the centres of adjacent rows (vertical) and adjacent
        columns (horizontal); both ``None`` when uncalibrated.
    source:
        Where the spacing comes from.
    caveat:
        One plain-language phrase to show next to every length measured with this calibration.
    """

    row_mm: float | None
    column_mm: float | None
    source: CalibrationSource
    caveat: str = ""

    def __post_init__(self) -> None:
        # A Calibration that says "calibrated" must carry two usable numbers, and vice versa:
        # every length downstream relies on it.
        if self.source == CalibrationSource.NONE:
            if self.row_mm is not None or self.column_mm is not None:
                raise ValueError("an uncalibrated Calibration has no spacing")
            return
        for value in (self.row_mm, self.column_mm):
            if value is None or not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"calibration source {self.source.value!r} needs two positive finite "
                    f"spacings, got {self.row_mm!r} x {self.column_mm!r}"
                )

    @property
    def calibrated(self) -> bool:
        """True when lengths can be given in millimetres."""
        return self.source != CalibrationSource.NONE

    @property
    def pixel_spacing_mm(self) -> tuple[float, float] | None:
        """``(row_mm, column_mm)``, or ``None`` when uncalibrated."""
        if not self.calibrated:
            return None
        assert self.row_mm is not None and self.column_mm is not None
        return (self.row_mm, self.column_mm)

    @property
    def unit_spacing(self) -> tuple[float, float]:
        """``(row, column)`` spacing to compute with: millimetres, or ``(1, 1)`` pixel units."""
        return self.pixel_spacing_mm or (1.0, 1.0)

    @classmethod
    def uncalibrated(cls) -> Calibration:
        """A film without usable spacing: angles only, lengths in pixels."""
        return cls(None, None, CalibrationSource.NONE, CAVEAT_NONE)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: ``pixel_spacing_mm`` ([row, column] or None), source, caveat."""
        spacing = self.pixel_spacing_mm
        return {
            "pixel_spacing_mm": list(spacing) if spacing else None,
            "source": self.source.value,
            "caveat": self.caveat,
        }


# --------------------------------------------------------------------------------------------
# From the DICOM header


def _positive_float(value: Any) -> float | None:
    """A finite, strictly positive float from a DICOM DS/IS/float value, else ``None``."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _spacing_pair(value: Any) -> tuple[float, float] | None:
    """``(row, column)`` mm from a two-valued DICOM spacing, or ``None`` if absent or unusable.

    ``0\\0``, negative, non-numeric, NaN and infinite values count as absent, and so does a
    single value: DICOM requires two and guessing that the pixels are square is not ours to do.
    """
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        items = list(value)
    except TypeError:
        return None
    if len(items) != 2:
        return None
    row, column = (_positive_float(v) for v in items)
    if row is None or column is None:
        return None
    return (row, column)


def _get(ds: Any, keyword: str) -> Any:
    """``ds.<keyword>`` or ``None``, tolerating values pydicom cannot convert."""
    try:
        return ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed value is an absent value here
        return None


def _functional_group_spacing(ds: Any) -> Any:
    """PixelSpacing of an enhanced (multi-frame) object, from its shared functional groups."""
    try:
        shared = ds.get("SharedFunctionalGroupsSequence")
        if shared:
            measures = shared[0].get("PixelMeasuresSequence")
            if measures:
                return measures[0].get("PixelSpacing")
    except Exception:  # noqa: BLE001
        return None
    return None


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return all(math.isclose(x, y, rel_tol=_SAME_SPACING_RTOL) for x, y in zip(a, b))


def calibration_from_dataset(ds: Any) -> Calibration:
    """The best spacing a DICOM header offers, following the priority chain of the module doc.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The header (pixel data not needed).

    Returns
    -------
    Calibration
        Source ``PixelSpacing``, ``ImagerPixelSpacing+ERMF``, ``ImagerPixelSpacing`` or ``none``,
        with a caveat for the user.
    """
    pixel = _spacing_pair(_get(ds, "PixelSpacing"))
    if pixel is None:
        pixel = _spacing_pair(_functional_group_spacing(ds))
    imager = _spacing_pair(_get(ds, "ImagerPixelSpacing"))
    ermf = _positive_float(_get(ds, "EstimatedRadiographicMagnificationFactor"))
    calibration_type = str(_get(ds, "PixelSpacingCalibrationType") or "").strip().upper()

    if pixel is not None and (
        calibration_type in ("FIDUCIAL", "GEOMETRY") or (imager is not None and not _same(pixel, imager))
    ):
        if calibration_type == "FIDUCIAL":
            caveat = "calibrated by the scanner against a reference object of known size; true at that object's depth"
        elif calibration_type == "GEOMETRY":
            caveat = "calibrated by the scanner from the imaging geometry; true at the assumed depth of the anatomy"
        elif imager is not None and ermf is not None and _same(pixel, (imager[0] / ermf, imager[1] / ermf)):
            caveat = (
                f"the scanner divided the detector spacing by its estimated magnification ({ermf:.3f}); "
                "an estimate, true at the assumed depth of the anatomy"
            )
        else:
            caveat = "calibrated by the scanner (it differs from the detector spacing); the method is not stated"
        return Calibration(pixel[0], pixel[1], CalibrationSource.PIXEL_SPACING, caveat)

    if imager is not None and ermf is not None:
        return Calibration(
            imager[0] / ermf,
            imager[1] / ermf,
            CalibrationSource.IMAGER_ERMF,
            f"detector spacing divided by the scanner's estimated magnification ({ermf:.3f}); "
            "an estimate, true at the assumed depth of the anatomy",
        )
    if imager is not None:
        return Calibration(imager[0], imager[1], CalibrationSource.IMAGER, CAVEAT_IMAGER)
    if pixel is not None:
        return Calibration(pixel[0], pixel[1], CalibrationSource.PIXEL_SPACING, CAVEAT_PIXEL_SPACING_UNKNOWN)
    return Calibration.uncalibrated()


# --------------------------------------------------------------------------------------------
# Circle fit (calibration ball)


@dataclass(frozen=True, slots=True)
class CircleFit:
    """A fitted circle, in the units of the points it was fitted to.

    Attributes
    ----------
    center: ``(x, y)``.
    radius: radius.
    rms_residual: root mean square of the points' distances to the circle.
    """

    center: tuple[float, float]
    radius: float
    rms_residual: float


def _as_points(points: Any, minimum: int) -> np.ndarray:
    """``points`` as an (N, 2) float64 array of finite values, N >= ``minimum``."""
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationError("The calibration points must be pairs of numbers.") from exc
    if array.ndim != 2 or array.shape[1] != 2:
        raise CalibrationError("The calibration points must be pairs of numbers.")
    if not np.all(np.isfinite(array)):
        raise CalibrationError("A calibration point lies outside the image.")
    if len(np.unique(array, axis=0)) < minimum:
        raise CalibrationError(
            f"At least {minimum} different points are needed for this calibration."
        )
    return array


def fit_circle(points: Any, *, max_iterations: int = 100) -> CircleFit:
    """Least-squares circle through points on its edge.

    An algebraic fit (Kasa: least squares on ``x² + y² + D x + E y + F = 0``) gives the start, and
    Levenberg-Marquardt iterations then minimise the geometric error (the sum of squared
    distances of the points to the circle), which the algebraic fit only approximates: it is
    biased towards small circles when the points cover a short arc.

    Parameters
    ----------
    points : array-like, shape (N, 2), N >= 3
        ``[x, y]`` points, in any consistent unit (millimetres or pixels).

    Returns
    -------
    CircleFit
        Centre, radius and RMS residual in the unit of the points.

    Raises
    ------
    CalibrationError
        Fewer than three distinct points, or points on a straight line.

    Examples
    --------
    >>> fit = fit_circle([[1, 0], [0, 1], [-1, 0], [0, -1]])
    >>> round(fit.radius, 6), tuple(round(c, 6) + 0.0 for c in fit.center)
    (1.0, (0.0, 0.0))
    """
    xy = _as_points(points, 3)
    # Centring and scaling keeps the normal equations well conditioned for films of 10000
    # pixels with a 100-pixel marker: otherwise x² ~ 1e8 swamps the linear terms.
    origin = xy.mean(axis=0)
    scale = float(np.sqrt(((xy - origin) ** 2).sum(axis=1).mean()))
    if scale == 0.0:
        raise CalibrationError("At least 3 different points are needed for this calibration.")
    p = (xy - origin) / scale
    singular = np.linalg.svd(p, compute_uv=False)
    if singular[-1] <= 1e-9 * singular[0]:
        raise CalibrationError("The calibration points lie on a straight line, not on a circle.")

    design = np.column_stack([p, np.ones(len(p))])
    rhs = -(p**2).sum(axis=1)
    (d, e, f), *_ = np.linalg.lstsq(design, rhs, rcond=None)
    a, b = -d / 2.0, -e / 2.0
    r2 = a * a + b * b - f
    r = math.sqrt(r2) if r2 > 0 else float(np.sqrt(((p - (a, b)) ** 2).sum(axis=1)).mean())

    params = np.array([a, b, r])

    def residuals(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta = p - q[:2]
        dist = np.sqrt((delta**2).sum(axis=1))
        return dist - q[2], dist

    res, dist = residuals(params)
    cost = float(res @ res)
    damping = 1e-3
    for _ in range(max_iterations):
        safe = np.where(dist > 0, dist, 1.0)
        jac = np.column_stack([-(p[:, 0] - params[0]) / safe, -(p[:, 1] - params[1]) / safe, -np.ones(len(p))])
        jtj = jac.T @ jac
        grad = jac.T @ res
        improved = False
        for _ in range(30):
            try:
                step = np.linalg.solve(jtj + damping * np.diag(np.diag(jtj) + 1e-12), -grad)
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            trial = params + step
            trial_res, trial_dist = residuals(trial)
            trial_cost = float(trial_res @ trial_res)
            if trial_cost <= cost:
                params, res, dist = trial, trial_res, trial_dist
                converged = cost - trial_cost <= 1e-15 * max(cost, 1e-30) or float(np.abs(step).max()) < 1e-13
                cost = trial_cost
                damping = max(damping / 10.0, 1e-12)
                improved = True
                break
            damping *= 10.0
        if not improved or converged:
            break

    center = params[:2] * scale + origin
    radius = abs(float(params[2])) * scale
    if not (math.isfinite(radius) and radius > 0):
        raise CalibrationError("The calibration points lie on a straight line, not on a circle.")
    distances = np.sqrt(((xy - center) ** 2).sum(axis=1))
    rms = float(np.sqrt(np.mean((distances - radius) ** 2)))
    return CircleFit((float(center[0]), float(center[1])), radius, rms)


# --------------------------------------------------------------------------------------------
# User calibration


def _positive_length(value: float, what: str) -> float:
    number = _positive_float(value)
    if number is None:
        raise CalibrationError(f"The {what} must be a positive number of millimetres.")
    return number


def calibration_from_marker(
    points_px: Sequence[Sequence[float]] | np.ndarray,
    diameter_mm: float = 25.0,
    current: Calibration | None = None,
) -> Calibration:
    """Calibration from points clicked on the edge of a calibration ball or disc of known size.

    The circle is fitted in the current physical space (``X = x * column_mm``,
    ``Y = y * row_mm``), or in pixels when the film is uncalibrated, so that a marker that looks
    elliptical because the pixels are not square is still fitted as the circle it is. The new
    spacing keeps the ratio of the current row and column spacings and only changes the scale.

    Parameters
    ----------
    points_px : array-like, shape (N, 2), N >= 3
        ``[x, y]`` = ``[column, row]`` pixel positions on the marker's edge.
    diameter_mm : float
        True diameter of the marker, millimetres.
    current : Calibration, optional
        The film's calibration before this one (uncalibrated when omitted).

    Returns
    -------
    Calibration
        Source ``marker``.
    """
    diameter = _positive_length(diameter_mm, "marker diameter")
    current = current or Calibration.uncalibrated()
    row_unit, column_unit = current.unit_spacing
    xy = _as_points(points_px, 3)
    fit = fit_circle(xy * (column_unit, row_unit))
    factor = diameter / (2.0 * fit.radius)
    caveat = (
        f"from a {diameter:g} mm calibration marker: true at the marker's depth, "
        "so it should lie at the level of the bone"
    )
    # Clicks spread more than 5% of the radius off the circle mean the outline was not followed.
    if fit.rms_residual > 0.05 * fit.radius:
        caveat += "; the points clicked do not lie well on a circle"
    log.info("marker calibration: fit residual %.3f of radius", fit.rms_residual / fit.radius)
    return Calibration(row_unit * factor, column_unit * factor, CalibrationSource.MARKER, caveat)


def calibration_from_line(
    p0_px: Sequence[float],
    p1_px: Sequence[float],
    length_mm: float,
    current: Calibration | None = None,
) -> Calibration:
    """Calibration from a line drawn over an object of known length (a ruler, an implant).

    The drawn length is measured in the current physical space (or pixels when uncalibrated);
    the new spacing keeps the ratio of the current row and column spacings.

    Parameters
    ----------
    p0_px, p1_px : ``[x, y]`` = ``[column, row]`` pixel positions of the two ends.
    length_mm : float
        True length of the object, millimetres.
    current : Calibration, optional
        The film's calibration before this one (uncalibrated when omitted).

    Returns
    -------
    Calibration
        Source ``manual``.
    """
    length = _positive_length(length_mm, "known length")
    current = current or Calibration.uncalibrated()
    row_unit, column_unit = current.unit_spacing
    ends = _as_points([p0_px, p1_px], 2)
    dx = (ends[1, 0] - ends[0, 0]) * column_unit
    dy = (ends[1, 1] - ends[0, 1]) * row_unit
    drawn = math.hypot(dx, dy)
    factor = length / drawn
    return Calibration(
        row_unit * factor,
        column_unit * factor,
        CalibrationSource.MANUAL,
        f"from a known length of {length:g} mm drawn by the user: true at the depth of that object",
    )
