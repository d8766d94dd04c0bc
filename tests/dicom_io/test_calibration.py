"""Calibration: the header priority chain, the circle fit, and user calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from scipy.optimize import least_squares

from dicom_io.calibration import (
    Calibration,
    CalibrationSource,
    calibration_from_dataset,
    calibration_from_line,
    calibration_from_marker,
    fit_circle,
)
from dicom_io.errors import CalibrationError

IMAGER_CAVEAT = "detector plane: anatomy appears about 10-20% larger than life"
UNKNOWN_CAVEAT = "whether the scanner calibrated this spacing is unknown"
NONE_CAVEAT = "uncalibrated: angles only, lengths in pixels"


def header(**attrs) -> Dataset:
    ds = Dataset()
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


# --------------------------------------------------------------------------------------------
# The value type


def test_source_labels_are_the_case_file_labels() -> None:
    assert [s.value for s in CalibrationSource] == [
        "PixelSpacing",
        "ImagerPixelSpacing",
        "ImagerPixelSpacing+ERMF",
        "marker",
        "manual",
        "none",
    ]


def test_uncalibrated() -> None:
    c = Calibration.uncalibrated()
    assert not c.calibrated
    assert c.pixel_spacing_mm is None
    assert c.source == CalibrationSource.NONE and c.caveat == NONE_CAVEAT
    assert c.to_dict() == {"pixel_spacing_mm": None, "source": "none", "caveat": NONE_CAVEAT}


def test_spacing_is_row_then_column() -> None:
    c = Calibration(0.2, 0.1, CalibrationSource.MANUAL)
    assert c.calibrated and c.pixel_spacing_mm == (0.2, 0.1)
    assert c.to_dict()["pixel_spacing_mm"] == [0.2, 0.1]


@pytest.mark.parametrize("row, column", [(0.0, 0.1), (-0.1, 0.1), (math.nan, 0.1), (math.inf, 0.1), (None, 0.1)])
def test_calibrated_needs_two_positive_spacings(row, column) -> None:
    with pytest.raises(ValueError):
        Calibration(row, column, CalibrationSource.PIXEL_SPACING)
    with pytest.raises(ValueError):
        Calibration(0.1, 0.1, CalibrationSource.NONE)


def test_calibration_is_frozen() -> None:
    c = Calibration.uncalibrated()
    with pytest.raises(AttributeError):
        c.row_mm = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Priority chain from the header


def test_fiducial_pixel_spacing_wins() -> None:
    c = calibration_from_dataset(
        header(
            PixelSpacing=[0.14, 0.13],
            ImagerPixelSpacing=[0.14, 0.13],
            EstimatedRadiographicMagnificationFactor=1.1,
            PixelSpacingCalibrationType="FIDUCIAL",
        )
    )
    assert (c.source, c.pixel_spacing_mm) == (CalibrationSource.PIXEL_SPACING, (0.14, 0.13))
    assert "reference object" in c.caveat


def test_geometry_calibration_type() -> None:
    c = calibration_from_dataset(header(PixelSpacing=[0.12, 0.12], PixelSpacingCalibrationType="GEOMETRY"))
    assert c.source == CalibrationSource.PIXEL_SPACING and "geometry" in c.caveat


def test_pixel_spacing_different_from_imager_is_calibrated() -> None:
    c = calibration_from_dataset(header(PixelSpacing=[0.125, 0.11], ImagerPixelSpacing=[0.15, 0.15]))
    assert (c.source, c.pixel_spacing_mm) == (CalibrationSource.PIXEL_SPACING, (0.125, 0.11))
    assert c.caveat != UNKNOWN_CAVEAT


def test_pixel_spacing_equal_to_imager_divided_by_ermf_says_so() -> None:
    c = calibration_from_dataset(
        header(PixelSpacing=[0.125, 0.125], ImagerPixelSpacing=[0.15, 0.15], EstimatedRadiographicMagnificationFactor=1.2)
    )
    assert c.source == CalibrationSource.PIXEL_SPACING
    assert "estimated magnification" in c.caveat and "1.200" in c.caveat


def test_imager_with_ermf() -> None:
    c = calibration_from_dataset(header(ImagerPixelSpacing=[0.15, 0.12], EstimatedRadiographicMagnificationFactor=1.25))
    assert c.source == CalibrationSource.IMAGER_ERMF
    assert c.row_mm == pytest.approx(0.12) and c.column_mm == pytest.approx(0.096)


def test_imager_with_ermf_beats_an_identical_pixel_spacing() -> None:
    c = calibration_from_dataset(
        header(PixelSpacing=[0.15, 0.15], ImagerPixelSpacing=[0.15, 0.15], EstimatedRadiographicMagnificationFactor=1.5)
    )
    assert c.source == CalibrationSource.IMAGER_ERMF
    assert c.pixel_spacing_mm == pytest.approx((0.1, 0.1))


def test_imager_alone() -> None:
    c = calibration_from_dataset(header(ImagerPixelSpacing=[0.1, 0.2]))
    assert (c.source, c.pixel_spacing_mm, c.caveat) == (CalibrationSource.IMAGER, (0.1, 0.2), IMAGER_CAVEAT)


def test_imager_with_identical_pixel_spacing_is_still_detector_plane() -> None:
    c = calibration_from_dataset(header(PixelSpacing=[0.1, 0.1], ImagerPixelSpacing=[0.1, 0.1]))
    assert (c.source, c.caveat) == (CalibrationSource.IMAGER, IMAGER_CAVEAT)


def test_pixel_spacing_alone() -> None:
    c = calibration_from_dataset(header(PixelSpacing=[0.3, 0.25]))
    assert (c.source, c.pixel_spacing_mm, c.caveat) == (CalibrationSource.PIXEL_SPACING, (0.3, 0.25), UNKNOWN_CAVEAT)


def test_nothing() -> None:
    c = calibration_from_dataset(header(Modality="CR"))
    assert (c.source, c.pixel_spacing_mm, c.caveat) == (CalibrationSource.NONE, None, NONE_CAVEAT)


@pytest.mark.parametrize(
    "value",
    [[0, 0], [0.0, 0.1], [-0.1, 0.1], ["nan", "0.1"], ["inf", "0.1"], [0.1], "abc"],
    ids=["zero", "one-zero", "negative", "nan", "inf", "single", "text"],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_unusable_spacing_counts_as_absent(value) -> None:
    ds = Dataset()
    ds.add_new("PixelSpacing", "DS", value) if not isinstance(value, str) else ds.add_new("PixelSpacing", "LO", value)
    assert calibration_from_dataset(ds).source == CalibrationSource.NONE
    ds.add_new("ImagerPixelSpacing", "DS", [0.2, 0.2])
    assert calibration_from_dataset(ds).source == CalibrationSource.IMAGER


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("ermf", [0, -1.1, "nan"])
def test_unusable_ermf_is_ignored(ermf) -> None:
    ds = Dataset()
    ds.ImagerPixelSpacing = [0.2, 0.2]
    ds.add_new("EstimatedRadiographicMagnificationFactor", "DS", ermf)
    assert calibration_from_dataset(ds).source == CalibrationSource.IMAGER


def test_enhanced_object_pixel_measures() -> None:
    measures = Dataset()
    measures.PixelSpacing = [0.18, 0.17]
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    ds = Dataset()
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    c = calibration_from_dataset(ds)
    assert (c.source, c.pixel_spacing_mm) == (CalibrationSource.PIXEL_SPACING, (0.18, 0.17))


# --------------------------------------------------------------------------------------------
# Circle fit


def circle_points(cx: float, cy: float, r: float, angles) -> np.ndarray:
    angles = np.asarray(angles, dtype=float)
    return np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)])


def test_fit_exact_circle() -> None:
    fit = fit_circle(circle_points(3.0, -2.0, 5.0, np.linspace(0, 2 * np.pi, 7, endpoint=False)))
    assert fit.center == pytest.approx((3.0, -2.0), abs=1e-9)
    assert fit.radius == pytest.approx(5.0, abs=1e-9)
    assert fit.rms_residual < 1e-9


def test_fit_three_points_on_a_short_arc() -> None:
    fit = fit_circle(circle_points(1000.0, 500.0, 12.5, [0.1, 0.3, 0.5]))
    assert fit.center == pytest.approx((1000.0, 500.0), abs=1e-6)
    assert fit.radius == pytest.approx(12.5, abs=1e-6)


def test_noisy_fit_is_the_geometric_least_squares_optimum() -> None:
    """Reference: scipy's least squares on the same geometric residuals."""
    rng = np.random.default_rng(11)
    points = circle_points(40.0, 60.0, 12.5, rng.uniform(0.2, 2.2, 12)) + rng.normal(0, 0.4, (12, 2))

    def residuals(q):
        return np.hypot(points[:, 0] - q[0], points[:, 1] - q[1]) - q[2]

    reference = least_squares(residuals, x0=[points[:, 0].mean(), points[:, 1].mean(), 10.0], xtol=1e-14, ftol=1e-14).x
    fit = fit_circle(points)
    assert fit.center == pytest.approx(tuple(reference[:2]), abs=1e-6)
    assert fit.radius == pytest.approx(reference[2], abs=1e-6)
    assert fit.rms_residual == pytest.approx(float(np.sqrt(np.mean(residuals(reference) ** 2))), rel=1e-6)


def test_fit_differs_from_the_algebraic_estimate_on_a_noisy_arc() -> None:
    """The geometric refinement must actually run: on a short noisy arc Kasa underestimates."""
    rng = np.random.default_rng(5)
    points = circle_points(0.0, 0.0, 100.0, np.linspace(0, 0.8, 15)) + rng.normal(0, 1.5, (15, 2))
    x, y = points.T
    d, e, f = np.linalg.lstsq(np.column_stack([x, y, np.ones_like(x)]), -(x**2 + y**2), rcond=None)[0]
    kasa_radius = math.sqrt(d * d / 4 + e * e / 4 - f)
    fit = fit_circle(points)
    kasa_rms = np.sqrt(np.mean((np.hypot(x + d / 2, y + e / 2) - kasa_radius) ** 2))
    assert fit.rms_residual < kasa_rms
    assert abs(fit.radius - kasa_radius) > 1e-3


@pytest.mark.parametrize(
    "points",
    [[[0, 0], [1, 1]], [[0, 0], [1, 1], [2, 2], [3, 3]], [[1, 1], [1, 1], [1, 1]], [[0, 0], [1, np.nan], [2, 0]], [1, 2, 3]],
    ids=["two", "collinear", "same", "nan", "flat"],
)
def test_fit_refuses_degenerate_points(points) -> None:
    with pytest.raises(CalibrationError) as info:
        fit_circle(points)
    assert str(info.value).endswith(".")


@settings(max_examples=150, deadline=None)
@given(
    cx=st.floats(-5000, 5000),
    cy=st.floats(-5000, 5000),
    r=st.floats(0.5, 2000),
    start=st.floats(0, 2 * math.pi),
    span=st.floats(0.6, 2 * math.pi),
    n=st.integers(3, 30),
)
def test_noise_free_points_give_the_circle_back(cx, cy, r, start, span, n) -> None:
    angles = start + np.linspace(0, span, n, endpoint=span < 2 * math.pi - 1e-6)
    points = circle_points(cx, cy, r, angles)
    assume(len(np.unique(np.round(points, 9), axis=0)) >= 3)
    fit = fit_circle(points)
    scale = max(r, abs(cx), abs(cy), 1.0)
    assert fit.radius == pytest.approx(r, rel=1e-6, abs=1e-9 * scale)
    assert fit.center[0] == pytest.approx(cx, abs=1e-6 * scale)
    assert fit.center[1] == pytest.approx(cy, abs=1e-6 * scale)
    assert fit.rms_residual <= 1e-6 * scale


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    theta=st.floats(0, 2 * math.pi),
    tx=st.floats(-3000, 3000),
    ty=st.floats(-3000, 3000),
)
def test_fit_is_invariant_under_rigid_motion(seed, theta, tx, ty) -> None:
    rng = np.random.default_rng(seed)
    points = circle_points(50.0, 80.0, 20.0, rng.uniform(0, 2 * np.pi, 9)) + rng.normal(0, 0.8, (9, 2))
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    moved = points @ rotation.T + (tx, ty)
    before, after = fit_circle(points), fit_circle(moved)
    expected_center = rotation @ np.array(before.center) + (tx, ty)
    assert after.radius == pytest.approx(before.radius, rel=1e-7)
    assert after.rms_residual == pytest.approx(before.rms_residual, rel=1e-5, abs=1e-9)
    assert after.center == pytest.approx(tuple(expected_center), abs=1e-6)


# --------------------------------------------------------------------------------------------
# User calibration


def test_marker_on_anisotropic_film_recovers_true_spacing() -> None:
    # True spacing at the marker's depth: 0.10 mm per row, 0.15 mm per column. The header
    # reports the detector spacing, 15% larger, with the same ratio.
    true_row, true_column = 0.10, 0.15
    angles = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    points_px = np.column_stack(
        [800 + 12.5 / true_column * np.cos(angles), 3000 + 12.5 / true_row * np.sin(angles)]
    )  # an ellipse in pixels, a 25 mm circle in millimetres
    detector = Calibration(true_row * 1.15, true_column * 1.15, CalibrationSource.IMAGER, IMAGER_CAVEAT)
    c = calibration_from_marker(points_px, 25.0, detector)
    assert c.source == CalibrationSource.MARKER
    assert c.row_mm == pytest.approx(true_row, rel=1e-9)
    assert c.column_mm == pytest.approx(true_column, rel=1e-9)
    assert "25 mm" in c.caveat


def test_marker_on_uncalibrated_film_assumes_square_pixels() -> None:
    points_px = circle_points(200, 300, 50, np.linspace(0, 2 * np.pi, 8, endpoint=False))
    c = calibration_from_marker(points_px, 30.0, Calibration.uncalibrated())
    assert c.pixel_spacing_mm == pytest.approx((0.3, 0.3))
    assert calibration_from_marker(points_px).pixel_spacing_mm == pytest.approx((0.25, 0.25))


def test_marker_with_clicks_off_the_circle_says_so() -> None:
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    radii = np.where(np.arange(12) % 2 == 0, 45.0, 55.0)  # 10% of the radius off, alternately
    points = np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    assert "do not lie well on a circle" in calibration_from_marker(points).caveat
    assert "do not lie well" not in calibration_from_marker(circle_points(0, 0, 50, angles)).caveat


def test_line_calibration_keeps_anisotropy() -> None:
    current = Calibration(0.1, 0.2, CalibrationSource.PIXEL_SPACING)
    # 30 columns and 40 rows: (30*0.2, 40*0.1) = (6, 4) mm in current space, 7.2111 mm long
    c = calibration_from_line([10, 10], [40, 50], 14.422205101855956, current)
    assert c.source == CalibrationSource.MANUAL
    assert c.row_mm == pytest.approx(0.2) and c.column_mm == pytest.approx(0.4)


def test_line_calibration_uncalibrated() -> None:
    c = calibration_from_line((0, 0), (100, 0), 25.0)
    assert c.pixel_spacing_mm == pytest.approx((0.25, 0.25))
    assert "25 mm" in c.caveat


@pytest.mark.parametrize("length", [0, -5, math.nan, math.inf])
def test_line_calibration_needs_a_positive_length(length) -> None:
    with pytest.raises(CalibrationError):
        calibration_from_line((0, 0), (10, 0), length)


def test_line_calibration_needs_two_points() -> None:
    with pytest.raises(CalibrationError):
        calibration_from_line((5, 5), (5, 5), 10.0)
    with pytest.raises(CalibrationError):
        calibration_from_marker([[0, 0], [1, 0], [2, 0]], 25.0)
    with pytest.raises(CalibrationError):
        calibration_from_marker(circle_points(0, 0, 5, [0, 1, 2]), 0.0)
