"""Invariances the measurements must have, over many random limbs (hypothesis)."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from measurements.case import Case
from measurements.landmarks import LANDMARK_NAMES, Side
from measurements.measure import ANGLE_KEYS, measure_case

from .worked_cases import NORMAL

FULL = dict(NORMAL)
FULL.update({
    "femoral_head_top": (22.5, 452.0),
    "femoral_neck_midpoint": (45.0, 400.0),
    "femoral_shaft_proximal_mid": (40.0, 300.0),
    "femoral_shaft_distal_mid": (15.0, 100.0),
    "tibial_shaft_proximal_mid": (-5.0, -100.0),
    "tibial_shaft_distal_mid": (-15.0, -300.0),
})
assert set(FULL) == set(LANDMARK_NAMES)

jitter = st.floats(min_value=-15.0, max_value=15.0, allow_nan=False)
limb_points = st.fixed_dictionaries({name: st.tuples(jitter, jitter) for name in LANDMARK_NAMES}).map(
    lambda d: {n: (FULL[n][0] + d[n][0], FULL[n][1] + d[n][1]) for n in LANDMARK_NAMES}
)


def _case(landmarks_px: dict, spacing=(0.15, 0.15), orientation=("L", "F"), side="right") -> Case:
    return Case.from_dict({
        "format": "deformity-case/1",
        "pixel_spacing_mm": list(spacing),
        "calibration": {"source": "PixelSpacing"},
        "patient_orientation": list(orientation),
        "limbs": {side: {"landmarks": {n: list(p) for n, p in landmarks_px.items()}}},
    })


def _to_px(points_mm: dict, side: str, spacing=(0.15, 0.15)) -> dict:
    sign = -1.0 if side == "right" else 1.0
    return {n: ((200.0 + sign * lat) / spacing[1], (600.0 - sup) / spacing[0]) for n, (lat, sup) in points_mm.items()}


def _values(case: Case, side="right") -> dict:
    return measure_case(case).limbs[Side(side)].values


SIGNED_AND_ANGLES = ANGLE_KEYS + ("mad_mm",)


@settings(max_examples=60, deadline=None)
@given(limb_points, st.floats(-40, 40), st.floats(-300, 300), st.floats(-300, 300))
def test_rigid_motion_changes_no_angle_and_no_mad(points, degrees, dx, dy):
    px = _to_px(points, "right")
    before = _values(_case(px))
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    cx, cy = 1300.0, 3500.0
    moved = {n: (cx + c * (x - cx) - s * (y - cy) + dx, cy + s * (x - cx) + c * (y - cy) + dy) for n, (x, y) in px.items()}
    after = _values(_case(moved))
    for key in SIGNED_AND_ANGLES + ("femur_length_mm", "tibia_length_mm", "limb_length_mm"):
        assert after[key] == pytest.approx(before[key], abs=1e-6), key


@settings(max_examples=60, deadline=None)
@given(limb_points, st.sampled_from(["right", "left"]))
def test_mirroring_the_film_and_flipping_orientation_changes_nothing(points, side):
    px = _to_px(points, side)
    before = _values(_case(px, side=side), side)
    width = 2500
    mirrored = {n: (width - 1 - x, y) for n, (x, y) in px.items()}
    after = _values(_case(mirrored, orientation=("R", "F"), side=side), side)
    assert set(after) == set(before)
    for key in before:
        assert after[key] == pytest.approx(before[key], abs=1e-6), key


@settings(max_examples=40, deadline=None)
@given(limb_points, st.sampled_from(["right", "left"]))
def test_mirrored_without_trochanter_relies_on_orientation(points, side):
    """Without the greater trochanter, lateral comes from patient_orientation: mirroring with the
    orientation flipped still changes nothing."""
    px = _to_px(points, side)
    px.pop("greater_trochanter_tip")
    before = _values(_case(px, side=side), side)
    mirrored = {n: (2499 - x, y) for n, (x, y) in px.items()}
    after = _values(_case(mirrored, orientation=("R", "F"), side=side), side)
    for key in ("mad_mm", "mfta_deg", "jlca_deg", "mldfa_deg", "mpta_deg"):
        assert after[key] == pytest.approx(before[key], abs=1e-6), key


@settings(max_examples=60, deadline=None)
@given(limb_points, st.floats(0.05, 1.0))
def test_uniform_spacing_change_scales_lengths_only(points, factor):
    px = _to_px(points, "right")
    before = _values(_case(px, spacing=(0.15, 0.15)))
    after = _values(_case(px, spacing=(0.15 * factor, 0.15 * factor)))
    for key in ANGLE_KEYS:
        assert after[key] == pytest.approx(before[key], abs=1e-6), key
    for key in ("mad_mm", "femur_length_mm", "tibia_length_mm", "limb_length_mm", "mechanical_axis_length_mm"):
        assert after[key] == pytest.approx(before[key] * factor, rel=1e-9, abs=1e-9), key
    for key in ("mad_px", "femur_length_px"):
        assert after[key] == pytest.approx(before[key], abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(limb_points, st.permutations(LANDMARK_NAMES))
def test_placement_order_changes_nothing(points, order):
    """The order in which points were placed (the order of keys in the file) does not matter."""
    px = _to_px(points, "left")
    before = _values(_case(px, side="left"), "left")
    reordered = {n: px[n] for n in order}
    after = _values(_case(reordered, side="left"), "left")
    assert after == before


@settings(max_examples=40, deadline=None)
@given(limb_points)
def test_consistency_identity(points):
    """mFTA = mLDFA - MPTA + JLCA exactly when one knee centre is used (measurements.md)."""
    v = _values(_case(_to_px(points, "right")))
    assert v["mfta_deg"] == pytest.approx(v["mldfa_deg"] - v["mpta_deg"] + v["jlca_deg"], abs=1e-6)
