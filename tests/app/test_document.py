"""CaseDocument: the measurements are recomputed when what they depend on changes, and only then."""
from __future__ import annotations

import pytest

from deformity_app.gui.document import CalibrationState, CaseDocument
from measurements.case import load_case
from measurements.landmarks import Side
from measurements.measure import measure_case


@pytest.fixture
def doc(qtbot, small_demo):
    _film, case_path = small_demo
    d = CaseDocument()
    d.reset(load_case(case_path))
    return d


def test_a_plan_or_patient_edit_keeps_the_measurements(doc):
    before = doc.result
    doc.set_limb_extra(Side.RIGHT, "reference_deg", {"mpta_deg": 88.0}, "Set reference")
    doc.set_case_extra("patient", {"sex": "female", "age_years": 10.0}, "Set patient")
    assert doc.result is before


def test_a_landmark_or_calibration_edit_re_measures(doc):
    before = doc.result
    x, y = doc.landmark(Side.RIGHT, "knee_center")
    doc.place_landmark(Side.RIGHT, "knee_center", (x + 20.0, y))
    moved = doc.result
    assert moved is not before
    fresh = measure_case(doc.case)
    assert moved.limbs[Side.RIGHT].values == pytest.approx(fresh.limbs[Side.RIGHT].values)
    assert moved.limbs[Side.RIGHT].values["mldfa_deg"] != pytest.approx(before.limbs[Side.RIGHT].values["mldfa_deg"])
    doc.undo_stack.undo()  # back to the same inputs: equal values again
    assert doc.result.limbs[Side.RIGHT].values == pytest.approx(before.limbs[Side.RIGHT].values)
    doc.set_calibration(CalibrationState((0.3, 0.3), "marker"), "Calibrate")  # an input too
    assert doc.result.limbs[Side.RIGHT].values["mad_mm"] == pytest.approx(
        before.limbs[Side.RIGHT].values["mad_mm"] / 2.0, rel=1e-6)
