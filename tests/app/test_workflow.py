"""The guided workflow's order, advancing, skipping and what is still missing."""
from measurements.case import Case
from measurements.landmarks import LANDMARK_NAMES, Side
from deformity_app.gui.workflow import Step, Workflow, missing_for_measurements


def test_clinical_order_limb_by_limb():
    wf = Workflow((Side.RIGHT, Side.LEFT))
    assert len(wf.steps) == 32
    assert wf.steps[0] == Step(Side.RIGHT, "femoral_head_center")
    assert wf.steps[15] == Step(Side.RIGHT, "ankle_center")
    assert wf.steps[16] == Step(Side.LEFT, "femoral_head_center")
    assert wf.current.prompt == "Click the centre of the right femoral head (or three or more points on its contour)"


def test_advance_skips_placed_landmarks_and_wraps():
    case = Case()
    wf = Workflow((Side.LEFT,))
    case.limb(Side.LEFT).landmarks["femoral_head_top"] = (1.0, 2.0)
    assert wf.advance(case) == Step(Side.LEFT, "greater_trochanter_tip")  # head top already placed
    for name in LANDMARK_NAMES:
        case.limb(Side.LEFT).landmarks[name] = (1.0, 2.0)
    assert wf.advance(case) is None
    del case.limb(Side.LEFT).landmarks["femoral_head_center"]
    assert wf.advance(case) == Step(Side.LEFT, "femoral_head_center")  # wraps to the start


def test_skip_back_and_sides():
    wf = Workflow((Side.RIGHT,))
    wf.skip()
    assert wf.current.name == LANDMARK_NAMES[1]
    wf.back()
    wf.back()
    assert wf.current.name == LANDMARK_NAMES[-1]
    wf.set_sides((Side.RIGHT, Side.LEFT))
    assert wf.current == Step(Side.RIGHT, LANDMARK_NAMES[-1])  # the current step survives


def test_missing_for_measurements():
    case = Case()
    case.limb(Side.RIGHT).landmarks.update({"femoral_head_center": (0, 0), "knee_center": (0, 10)})
    missing = missing_for_measurements(case, Side.RIGHT)
    assert missing["MAD"] == ["Ankle centre"]
    assert "Femur length" not in missing
    assert missing["mLDFA"] == ["Medial femoral condyle", "Lateral femoral condyle"]
