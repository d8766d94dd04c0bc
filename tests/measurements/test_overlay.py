"""The overlay model: what the GUI and the report draw, checked against the geometry."""
import math

import numpy as np
import pytest

from measurements.landmarks import Side
from measurements.measure import measure_case
from measurements.overlay import Layer, arc_points, build_overlay

from .worked_cases import NORMAL, TIBIAL_VARUS, make_case


def test_arc_runs_from_one_ray_to_the_other_the_short_way():
    pts = arc_points((0.0, 0.0), (10.0, 0.0), (0.0, -10.0), 5.0)
    assert pts[0] == pytest.approx((5.0, 0.0))
    assert pts[-1] == pytest.approx((0.0, -5.0))
    for x, y in pts:
        assert math.hypot(x, y) == pytest.approx(5.0)
        assert x >= -1e-9 and y <= 1e-9  # stays in the quadrant between the rays


def test_overlay_labels_match_the_measurements():
    case = make_case({"right": TIBIAL_VARUS, "left": NORMAL})
    overlay = build_overlay(case)
    labels = {(lbl.side, lbl.key): lbl for lbl in overlay.labels}
    assert labels[(Side.RIGHT, "mpta_deg")].text == "MPTA 82.0°"
    assert labels[(Side.RIGHT, "mpta_deg")].abnormal
    assert not labels[(Side.RIGHT, "mldfa_deg")].abnormal
    assert labels[(Side.RIGHT, "mad_mm")].text == "MAD 17 mm medial"
    assert labels[(Side.LEFT, "mpta_deg")].text == "MPTA 87.0°"


def test_mad_segment_is_the_perpendicular_from_the_knee():
    case = make_case({"right": TIBIAL_VARUS})
    overlay = build_overlay(case)
    (mad,) = [p for p in overlay.polylines if p.role == "mad"]
    lm = case.limbs[Side.RIGHT].landmarks
    h, k, a = (np.array(lm[n]) for n in ("femoral_head_center", "knee_center", "ankle_center"))
    k_img, foot = np.array(mad.points[0]), np.array(mad.points[1])
    assert k_img == pytest.approx(k)
    u, w = foot - a, h - a
    assert abs(u[0] * w[1] - u[1] * w[0]) < 1e-6 * np.linalg.norm(w)  # on the axis
    assert abs(float((foot - k) @ (h - a))) < 1e-6  # perpendicular to it
    # its length in mm (isotropic 0.15) is the MAD
    assert np.linalg.norm(foot - k) * 0.15 == pytest.approx(
        measure_case(case).limbs[Side.RIGHT].values["mad_mm"], abs=1e-6)


def test_layers_filter():
    overlay = build_overlay(make_case({"right": NORMAL}))
    only = overlay.in_layers({Layer.JOINT_LINES})
    assert only.polylines and all(p.layer is Layer.JOINT_LINES for p in only.polylines)
    assert not only.labels
