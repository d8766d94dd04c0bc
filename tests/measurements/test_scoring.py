"""Scoring an attempt against a key (practice.md, "Scoring an attempt"), with values worked out by hand."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from measurements.case import Case
from measurements.scoring import ScoringError, blank_attempt, default_rules, rules_from_mapping, score_attempt
from tests.measurements.worked_cases import NORMAL, TIBIAL_VARUS, make_case

# Shaft midpoints in the worked cases' leg frame (mm, origin at K): on the femur's anatomic axis
# and the tibia's, so that aMPFA, aLDFA and AMA are computable too.
SHAFTS = {
    "femoral_shaft_proximal_mid": (30.0, 300.0),
    "femoral_shaft_distal_mid": (10.0, 120.0),
    "tibial_shaft_proximal_mid": (-2.0, -100.0),
    "tibial_shaft_distal_mid": (-14.0, -280.0),
}
KEY_LIMB = {**NORMAL, **SHAFTS}
SPACING = (0.15, 0.15)
# Every measurement the normal worked case with shaft midpoints has (no neck point, so no NSA).
EXPECTED_KEYS = {"mad_mm", "mfta_deg", "hka_deg", "mlpfa_deg", "ampfa_deg", "mldfa_deg", "aldfa_deg", "ama_deg",
                 "mpta_deg", "ldta_deg", "jlca_deg", "mechanical_axis_length_mm", "femur_length_mm",
                 "tibia_length_mm", "limb_length_mm"}


def key_case(limbs=None, spacing=SPACING, calibrated=True) -> Case:
    case = make_case(limbs or {"right": KEY_LIMB}, spacing=spacing, calibrated=calibrated)
    case.image["sop_instance_uid"] = "1.2.3.4"
    case.extra["key"] = {"title": "Normal", "level": "basic"}
    return case


def moved(case: Case, side: str, name: str, dx_px: float, dy_px: float) -> Case:
    out = case.copy()
    x, y = out.limbs[side].landmarks[name]
    out.limbs[side].landmarks[name] = (x + dx_px, y + dy_px)
    return out


def test_identical_attempt_scores_100():
    key = key_case()
    result = score_attempt(key.copy(), key)
    limb = result.limbs["right"]
    assert set(limb.measurements) == EXPECTED_KEYS
    assert all(s.placed and s.error == pytest.approx(0.0, abs=1e-9) and s.passed for s in limb.landmarks.values())
    assert all(m.passed for m in limb.measurements.values())
    assert result.measurements_scored == 15 and result.mat_scored == 1
    assert result.score_pct == 100.0
    assert limb.mat.compared == ("malalignment", "femur", "tibia", "joint")


def test_landmark_error_in_mm_with_the_keys_spacing():
    key = key_case(spacing=(0.2, 0.1))  # rows 0.2 mm, columns 0.1 mm
    # 12 px across (1.2 mm) and 8 px down (1.6 mm): 2.0 mm from the key's point
    attempt = moved(key, "right", "knee_center", 12.0, 8.0)
    s = score_attempt(attempt, key).limbs["right"].landmarks["knee_center"]
    assert s.error == pytest.approx(2.0, abs=1e-9) and s.tolerance == 3.0 and s.passed
    # the same displacement on a condyle fails its 2 mm tolerance only when beyond it
    attempt = moved(key, "right", "femoral_condyle_medial", 15.0, 8.0)  # 1.5 mm, 1.6 mm: 2.19 mm
    s = score_attempt(attempt, key).limbs["right"].landmarks["femoral_condyle_medial"]
    assert s.error == pytest.approx(math.hypot(1.5, 1.6), abs=1e-9) and s.tolerance == 2.0 and not s.passed


def test_the_attempts_own_calibration_is_ignored():
    key = key_case()
    attempt = key.copy()
    attempt.pixel_spacing_mm = (0.3, 0.3)  # the fellow calibrated differently on the same film
    attempt.patient_orientation = ("R", "F")
    result = score_attempt(attempt, key)
    assert result.score_pct == 100.0
    assert result.limbs["right"].measurements["limb_length_mm"].error == pytest.approx(0.0, abs=1e-9)


def _shaft_direction_px(key: Case, bone: str) -> tuple[float, float]:
    lm = key.limbs["right"].landmarks
    (x1, y1), (x2, y2) = lm[f"{bone}_shaft_proximal_mid"], lm[f"{bone}_shaft_distal_mid"]
    length = math.hypot(x2 - x1, y2 - y1)
    return (x2 - x1) / length, (y2 - y1) / length


@pytest.mark.parametrize("bone", ["femoral", "tibial"])
def test_shaft_rule(bone):
    key = key_case()
    ux, uy = _shaft_direction_px(key, bone)
    px_per_mm = 1 / SPACING[0]
    # 40 mm along the shaft: no error
    along = moved(key, "right", f"{bone}_shaft_proximal_mid", 40 * px_per_mm * ux, 40 * px_per_mm * uy)
    s = score_attempt(along, key).limbs["right"].landmarks[f"{bone}_shaft_proximal_mid"]
    assert s.error == pytest.approx(0.0, abs=1e-6) and s.passed and s.perpendicular_only
    # 25 mm along and 2.5 mm across: 2.5 mm (pass, tolerance 3); 3.5 mm across fails
    for across, passed in ((2.5, True), (3.5, False)):
        dx = (25 * ux - across * uy) * px_per_mm
        dy = (25 * uy + across * ux) * px_per_mm
        s = score_attempt(moved(key, "right", f"{bone}_shaft_distal_mid", dx, dy), key) \
            .limbs["right"].landmarks[f"{bone}_shaft_distal_mid"]
        assert s.error == pytest.approx(across, abs=1e-6) and s.passed is passed


def test_the_shaft_rule_does_not_apply_to_other_landmarks():
    key = key_case()
    ux, uy = _shaft_direction_px(key, "femoral")
    s = score_attempt(moved(key, "right", "knee_center", 20 * ux / 0.15, 20 * uy / 0.15), key) \
        .limbs["right"].landmarks["knee_center"]
    assert s.error == pytest.approx(20.0, abs=1e-6) and not s.passed and not s.perpendicular_only


@settings(max_examples=40, deadline=None)
@given(along=st.floats(-150, 150), across=st.floats(-20, 20))
def test_shaft_rule_property(along, across):
    key = key_case()
    ux, uy = _shaft_direction_px(key, "tibial")
    dx = (along * ux - across * uy) / 0.15
    dy = (along * uy + across * ux) / 0.15
    s = score_attempt(moved(key, "right", "tibial_shaft_proximal_mid", dx, dy), key) \
        .limbs["right"].landmarks["tibial_shaft_proximal_mid"]
    assert s.error == pytest.approx(abs(across), abs=1e-6)


def test_missing_landmark_fails_and_its_measurements_fail():
    key = key_case()
    attempt = key.copy()
    del attempt.limbs["right"].landmarks["ankle_center"]
    result = score_attempt(attempt, key)
    limb = result.limbs["right"]
    s = limb.landmarks["ankle_center"]
    assert (s.placed, s.error, s.passed) == (False, None, False)
    needs_ankle = {"mad_mm", "mfta_deg", "hka_deg", "mpta_deg", "ldta_deg", "mechanical_axis_length_mm",
                   "tibia_length_mm", "limb_length_mm"}
    for key_name in needs_ankle:
        m = limb.measurements[key_name]
        assert m.attempt is None and not m.passed and "ankle_center" in m.reason, key_name
    assert all(limb.measurements[k].passed for k in EXPECTED_KEYS - needs_ankle)
    # MAT: the attempt cannot say malalignment or tibia: fails
    assert not limb.mat.passed and limb.mat.attempt["malalignment"] == "unknown"
    assert result.score_pct == pytest.approx(100 * (15 - 8) / 16)
    data = result.to_json()
    assert data["landmarks"]["right"]["ankle_center"] == {"placed": False, "error_mm": None, "tolerance_mm": 3.0,
                                                          "pass": False}
    assert data["measurements"]["right"]["mpta_deg"]["attempt"] is None


def _rotate_plateau(case: Case, side: str, degrees: float) -> Case:
    """Turn the plateau line about its midpoint: MPTA and JLCA change by `degrees` exactly."""
    out = case.copy()
    lm = out.limbs[side].landmarks
    (mx, my), (lx, ly) = lm["tibial_plateau_medial"], lm["tibial_plateau_lateral"]
    cx, cy = (mx + lx) / 2, (my + ly) / 2
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    for name in ("tibial_plateau_medial", "tibial_plateau_lateral"):
        x, y = lm[name]
        lm[name] = (cx + c * (x - cx) - s * (y - cy), cy + s * (x - cx) + c * (y - cy))
    return out


@pytest.mark.parametrize("degrees,passed", [(1.4, True), (-1.4, True), (1.6, False), (-1.6, False)])
def test_bands(degrees, passed):
    key = key_case()
    result = score_attempt(_rotate_plateau(key, "right", degrees), key)
    limb = result.limbs["right"]
    mpta, jlca = limb.measurements["mpta_deg"], limb.measurements["jlca_deg"]
    assert abs(mpta.error) == pytest.approx(1.4 if passed else 1.6, abs=1e-9)
    assert abs(jlca.error) == pytest.approx(abs(degrees), abs=1e-9)
    assert mpta.band == 1.5 and mpta.passed is passed and jlca.passed is passed
    assert mpta.expected == pytest.approx(87.0, abs=1e-3)  # the worked case
    failed = 0 if passed else 2
    assert result.score_pct == pytest.approx(100 * (16 - failed) / 16)


def test_worked_cases_tibial_varus_against_normal_key():
    """measurements.md's worked cases: MPTA 82 vs 87, mFTA +5 vs 0, MAD 17.35 vs 0, mLDFA equal."""
    key = key_case({"right": NORMAL})
    attempt = make_case({"right": TIBIAL_VARUS}, spacing=SPACING)
    result = score_attempt(attempt, key)
    limb = result.limbs["right"]
    m = limb.measurements
    assert m["mpta_deg"].error == pytest.approx(-5.0, abs=1e-3) and not m["mpta_deg"].passed
    assert m["mfta_deg"].error == pytest.approx(5.0, abs=1e-3) and not m["mfta_deg"].passed
    assert m["mad_mm"].error == pytest.approx(17.35, abs=0.01) and m["mad_mm"].band == 3.5
    assert m["mldfa_deg"].error == pytest.approx(0.0, abs=1e-9) and m["mldfa_deg"].passed
    assert m["mlpfa_deg"].passed and m["jlca_deg"].passed
    # MAT side by side: the key reads valgus (MAD 0 < 1 mm medial), the attempt varus of tibial origin
    assert limb.mat.expected["malalignment"] == "valgus" and limb.mat.attempt["malalignment"] == "varus"
    assert limb.mat.attempt["tibia"] == "varus" and limb.mat.expected["tibia"] == "normal"
    assert not limb.mat.passed
    # the ankle points moved: landmark errors are the distances between the worked cases' points
    expected = math.hypot(-51.4940 + 19.3643, -366.3992 + 369.4929)
    assert limb.landmarks["ankle_center"].error == pytest.approx(expected, abs=1e-6)
    passed = sum(x.passed for x in m.values())
    assert result.score_pct == pytest.approx(100 * passed / (len(m) + 1))


def test_uncalibrated_key_scores_in_pixels():
    key = key_case(calibrated=False)
    attempt = moved(key, "right", "femoral_condyle_lateral", 1.2, 1.6)  # 2.0 px
    result = score_attempt(attempt, key)
    assert result.unit == "px"
    s = result.limbs["right"].landmarks["femoral_condyle_lateral"]
    assert s.error == pytest.approx(2.0, abs=1e-9) and s.passed
    keys = set(result.limbs["right"].measurements)
    assert "mad_px" in keys and "mad_mm" not in keys and "limb_length_px" in keys
    data = result.to_json()
    assert data["unit"] == "px"
    assert data["landmarks"]["right"]["femoral_condyle_lateral"]["error_px"] == 2.0
    assert "error_mm" not in data["landmarks"]["right"]["femoral_condyle_lateral"]
    assert data["measurements"]["right"]["mad_px"]["band"] == 3.5


def test_both_limbs_and_an_empty_attempt_limb():
    key = key_case({"right": KEY_LIMB, "left": NORMAL})
    attempt = key.copy()
    del attempt.limbs["left"]
    result = score_attempt(attempt, key)
    left = result.limbs["left"]
    assert not any(s.placed for s in left.landmarks.values())
    assert all(not m.passed and m.reason == "the attempt has no landmarks on this limb"
               for m in left.measurements.values())
    assert not left.mat.passed
    # the key has a limb-length discrepancy (both limbs); the attempt, with one limb, cannot give it
    lld = result.case_measurements["lld_mm"]
    assert lld.attempt is None and not lld.passed and lld.reason == "needs both limbs"
    n_left = len(left.measurements)
    # 15 measurements and the MAT of the right limb pass; the left's measurements and MAT and the LLD fail
    assert result.score_pct == pytest.approx(100 * 16 / (16 + n_left + 1 + 1))


def _ankle_moved_along_the_limb(key: Case, side: str, mm: float) -> Case:
    """The ankle centre moved `mm` further from the femoral head centre along the line between them:
    that limb's length (head centre to ankle centre, no head top) grows by exactly `mm`."""
    lm = key.limbs[side].landmarks
    (hx, hy), (ax, ay) = lm["femoral_head_center"], lm["ankle_center"]
    length = math.hypot(ax - hx, ay - hy)
    px = mm / SPACING[0]
    return moved(key, side, "ankle_center", (ax - hx) / length * px, (ay - hy) / length * px)


@pytest.mark.parametrize("mm,passed", [(2.0, True), (4.0, False)])
def test_limb_length_discrepancy_is_scored_once_per_case(mm, passed):
    """practice.md scores "each measurement the key has"; measurements.md's lld_mm is one (case level),
    with the lengths' 3 mm band."""
    key = key_case({"right": KEY_LIMB, "left": NORMAL})
    attempt = _ankle_moved_along_the_limb(key, "left", mm)
    result = score_attempt(attempt, key)
    lld = result.case_measurements["lld_mm"]
    assert lld.band == 3.0
    # right minus left: the left limb is `mm` longer in the attempt, so the attempt's LLD is `mm` smaller
    assert lld.error == pytest.approx(-mm, abs=1e-6) and lld.passed is passed
    assert lld.expected == pytest.approx(math.dist(KEY_LIMB["femoral_head_center"], KEY_LIMB["ankle_center"])
                                         - math.dist(NORMAL["femoral_head_center"], NORMAL["ankle_center"]), abs=1e-6)
    per_limb = sum(len(limb.measurements) for limb in result.limbs.values())
    assert result.measurements_scored == per_limb + 1
    data = result.to_json()
    json.dumps(data, allow_nan=False)
    assert data["measurements"]["case"]["lld_mm"]["error"] == pytest.approx(-mm, abs=0.01)
    assert data["measurements"]["case"]["lld_mm"]["pass"] is passed


def test_limb_length_discrepancy_of_an_uncalibrated_key_is_in_pixels():
    key = key_case({"right": KEY_LIMB, "left": NORMAL}, calibrated=False)
    result = score_attempt(key.copy(), key)
    assert set(result.case_measurements) == {"lld_px"} and result.case_measurements["lld_px"].passed
    assert result.score_pct == 100.0


def test_a_one_limb_key_has_no_limb_length_discrepancy():
    key = key_case()
    assert score_attempt(key.copy(), key).case_measurements == {}


def test_json_shape_of_the_spec():
    key = key_case()
    data = score_attempt(moved(key, "right", "knee_center", 8.0, 0.0), key).to_json()
    json.dumps(data, allow_nan=False)
    assert set(data) >= {"landmarks", "measurements", "mat", "score_pct"}
    knee = data["landmarks"]["right"]["knee_center"]
    assert knee["placed"] is True and knee["error_mm"] == 1.2 and knee["pass"] is True
    mpta = data["measurements"]["right"]["mpta_deg"]
    assert set(mpta) >= {"attempt", "key", "error", "band", "pass"}
    assert data["mat"]["right"]["pass"] in (True, False)


def test_refusals():
    key = key_case()
    other = key.copy()
    other.image["sop_instance_uid"] = "9.9.9"
    with pytest.raises(ScoringError, match="another film") as info:
        score_attempt(other, key)
    assert info.value.about == "attempt"
    resized = key.copy()
    resized.image["rows"] = 10
    with pytest.raises(ScoringError, match="not the same film"):
        score_attempt(resized, key)
    empty = Case.from_dict({"format": "deformity-case/1", "limbs": {"right": {"landmarks": {}}}})
    with pytest.raises(ScoringError, match="no landmarks") as info:
        score_attempt(key, empty)
    assert info.value.about == "key"


def test_rules_file():
    rules = default_rules()
    assert rules.tolerance("femoral_head_center") == 3.0 and rules.tolerance("plafond_medial") == 2.0
    assert rules.band("nsa_deg") == 3.0 and rules.band("mad_px") == 3.5 and rules.band("aldfa_deg") == 2.0
    assert "Braun" in rules.sources["measurement_bands_source"]
    with pytest.raises(ScoringError):
        rules_from_mapping({"format": "deformity-scoring/1", "landmark_tolerances_mm": {"default": -1},
                            "measurement_bands": {}})


def test_limb_length_from_another_basis_says_so():
    key = key_case({"right": {**KEY_LIMB, "femoral_head_top": (22.5045, 452.4107)}})
    attempt = key.copy()
    del attempt.limbs["right"].landmarks["femoral_head_top"]
    m = score_attempt(attempt, key).limbs["right"].measurements["limb_length_mm"]
    a, h, t = NORMAL["ankle_center"], NORMAL["femoral_head_center"], (22.5045, 452.4107)
    expected = math.hypot(h[0] - a[0], h[1] - a[1]) - math.hypot(t[0] - a[0], t[1] - a[1])
    assert m.error == pytest.approx(expected, abs=1e-6) and not m.passed
    assert m.reason == "measured from the femoral head centre, the key from the head top"


def test_blank_attempt_scores_zero_and_carries_no_answers():
    key = key_case()
    key.extra["ground_truth"] = {"mpta_deg": 87.0}
    blank = blank_attempt(key)
    assert blank.extra == {} and not blank.limbs["right"].landmarks
    assert blank.image["sop_instance_uid"] == "1.2.3.4" and blank.pixel_spacing_mm == key.pixel_spacing_mm
    result = score_attempt(blank, key)
    assert result.score_pct == 0.0 and result.landmarks_passed == 0
