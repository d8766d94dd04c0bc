"""The worked cases of measurements.md, by hand-checked values, in every placement of the film."""
import math

import pytest

from measurements.landmarks import Side
from measurements.measure import measure_case

from .worked_cases import NORMAL, NORMAL_EXPECTED, TIBIAL_VARUS, VARUS_EXPECTED, make_case, without

PLACEMENTS = [
    pytest.param("right", (0.15, 0.15), False, id="right"),
    pytest.param("left", (0.15, 0.15), False, id="left-mirrored"),
    pytest.param("right", (0.10, 0.15), False, id="right-anisotropic"),
    pytest.param("left", (0.15, 0.10), False, id="left-anisotropic"),
    pytest.param("right", (0.15, 0.15), True, id="right-PA-flipped"),
    pytest.param("left", (0.12, 0.2), True, id="left-PA-flipped-anisotropic"),
]


@pytest.mark.parametrize("side,spacing,flipped", PLACEMENTS)
@pytest.mark.parametrize("points,expected", [(NORMAL, NORMAL_EXPECTED), (TIBIAL_VARUS, VARUS_EXPECTED)],
                         ids=["normal", "tibial-varus"])
def test_worked_cases(side, spacing, flipped, points, expected):
    result = measure_case(make_case({side: points}, spacing=spacing, flipped=flipped))
    values = result.limbs[Side(side)].values
    for key, want in expected.items():
        assert values[key] == pytest.approx(want, abs=0.01), key
    assert values["hka_deg"] == pytest.approx(180.0 - expected["mfta_deg"], abs=0.01)
    # the lengths of the worked case, from the leg-frame coordinates by hand
    assert values["femur_length_mm"] == pytest.approx(math.hypot(22.5045, 429.4107), abs=1e-3)
    assert values["tibia_length_mm"] == pytest.approx(math.hypot(*points["ankle_center"]), abs=1e-3)


def test_anisotropic_spacing_matters():
    """Angles in pixels would be wrong: an mLDFA of 87.0 must stay 87.0 with 0.15 x 0.10 spacing."""
    case = make_case({"right": NORMAL}, spacing=(0.15, 0.10))
    assert measure_case(case).limbs[Side.RIGHT].values["mldfa_deg"] == pytest.approx(87.0, abs=1e-3)
    # ... and measuring the same pixel coordinates as if isotropic gives a different, wrong value
    case.pixel_spacing_mm = (1.0, 1.0)
    assert abs(measure_case(case).limbs[Side.RIGHT].values["mldfa_deg"] - 87.0) > 1.0


def test_varus_mat_sentence_names_the_tibia():
    result = measure_case(make_case({"right": TIBIAL_VARUS}))
    mat = result.limbs[Side.RIGHT].mat
    assert mat["malalignment"] == "varus"
    assert (mat["femur"], mat["tibia"], mat["joint"]) == ("normal", "varus", "normal")
    assert mat["summary"].startswith("Varus malalignment (MAD 17 mm medial")
    assert "of tibial origin (MPTA 82.0°)" in mat["summary"]
    assert "femur and joint within normal limits" in mat["summary"]


def test_flags_against_normals():
    limb = measure_case(make_case({"right": TIBIAL_VARUS})).limbs[Side.RIGHT]
    assert limb.flags["mpta_deg"] == "low"
    assert limb.flags["mldfa_deg"] == "normal"
    assert limb.flags["mad_mm"] == "high"
    assert limb.flags["hka_deg"] == "low"


def test_consistency_identity_holds_and_warns_on_swapped_condyles():
    limb = measure_case(make_case({"right": TIBIAL_VARUS})).limbs[Side.RIGHT]
    v = limb.values
    assert v["mfta_deg"] == pytest.approx(v["mldfa_deg"] - v["mpta_deg"] + v["jlca_deg"], abs=1e-6)
    assert not limb.warnings
    swapped = dict(TIBIAL_VARUS)
    swapped["femoral_condyle_medial"], swapped["femoral_condyle_lateral"] = (
        TIBIAL_VARUS["femoral_condyle_lateral"], TIBIAL_VARUS["femoral_condyle_medial"])
    limb = measure_case(make_case({"right": swapped})).limbs[Side.RIGHT]
    assert any("Inconsistent knee" in w for w in limb.warnings)


def test_jlca_sign_medial_convergence_positive():
    """Condylar line tilted up laterally by 3 degrees: the lateral side opens, JLCA +3."""
    pts = dict(NORMAL)
    t = math.tan(math.radians(3.0))
    pts["femoral_condyle_medial"] = (-35.0, -35.0 * t)
    pts["femoral_condyle_lateral"] = (35.0, 35.0 * t)
    for side in ("right", "left"):
        limb = measure_case(make_case({side: pts})).limbs[Side(side)]
        assert limb.values["jlca_deg"] == pytest.approx(3.0, abs=1e-6)


def test_valgus_sign():
    """Mirror the tibial-varus ankle about the mechanical axis direction: MAD and mFTA change sign."""
    pts = dict(NORMAL)
    pts["ankle_center"] = (51.494 - 2 * 19.3643 + 0.0, -366.3992)  # ankle moved lateral
    limb = measure_case(make_case({"right": pts})).limbs[Side.RIGHT]
    assert limb.values["mad_mm"] < 0
    assert limb.values["mfta_deg"] < 0
    assert limb.mat["malalignment"] == "valgus"


def test_missing_landmarks_are_named():
    case = make_case({"right": without(NORMAL, ["greater_trochanter_tip", "ankle_center"])})
    limb = measure_case(case).limbs[Side.RIGHT]
    assert "mlpfa_deg" not in limb.values
    assert limb.unavailable["mlpfa_deg"] == "needs greater_trochanter_tip"
    assert limb.unavailable["mad_mm"] == "needs ankle_center"
    assert limb.unavailable["nsa_deg"].startswith("needs femoral_neck_midpoint")
    assert limb.values["mldfa_deg"] == pytest.approx(87.0, abs=0.01)  # what can be measured still is
    assert limb.mat["malalignment"] == "unknown"
    assert limb.mat["tibia"] == "unknown"


def test_empty_limb_and_no_limbs():
    from measurements.case import Case

    case = Case.from_dict({"format": "deformity-case/1", "limbs": {"right": {"landmarks": {}}}})
    out = measure_case(case).to_json()
    assert set(out["limbs"]["right"]["unavailable"]) >= {"mad_mm", "mldfa_deg", "mpta_deg"}
    assert measure_case(Case.from_dict({"format": "deformity-case/1"})).to_json()["limbs"] == {}


def test_uncalibrated_gives_angles_and_pixels_only():
    case = make_case({"right": TIBIAL_VARUS}, calibrated=False)
    out = measure_case(case).to_json()["limbs"]["right"]
    assert out["mpta_deg"] == pytest.approx(82.0, abs=0.01)
    assert out["mfta_deg"] == pytest.approx(5.0, abs=0.01)
    assert not any(k.endswith("_mm") for k in out)
    for key in ("mad_mm", "femur_length_mm", "tibia_length_mm", "limb_length_mm", "mechanical_axis_length_mm"):
        assert "uncalibrated" in out["unavailable"][key]
    # unit spacing: pixel lengths equal the leg-frame numbers
    assert out["mad_px"] == pytest.approx(17.35, abs=0.01)
    assert out["femur_length_px"] == pytest.approx(math.hypot(22.5045, 429.4107), abs=0.01)
    assert out["mat"]["malalignment"] == "unknown"
    assert "calibration" in out["mat"]["summary"]


def test_limb_length_basis_and_lld():
    right = dict(NORMAL, femoral_head_top=(22.5045, 429.4107 + 23.0))
    left = dict(TIBIAL_VARUS, femoral_head_top=(22.5045, 429.4107 + 23.0))
    result = measure_case(make_case({"right": right, "left": left}))
    r, l = result.limbs[Side.RIGHT], result.limbs[Side.LEFT]
    assert r.limb_length_basis == l.limb_length_basis == "head_top"
    expect_r = math.dist((22.5045, 429.4107 + 23.0), NORMAL["ankle_center"])
    expect_l = math.dist((22.5045, 429.4107 + 23.0), TIBIAL_VARUS["ankle_center"])
    assert r.values["limb_length_mm"] == pytest.approx(expect_r, abs=1e-3)
    assert result.lld_mm == pytest.approx(expect_r - expect_l, abs=1e-3)
    # different bases: no LLD, and the reason says so
    result = measure_case(make_case({"right": right, "left": TIBIAL_VARUS}))
    assert result.lld_mm is None and "different" in result.unavailable["lld_mm"]


def test_anatomic_angles_on_a_constructed_femur():
    """Anatomic axis at 6 degrees to the mechanical axis: AMA 6, aLDFA = mLDFA - 6, aMPFA by construction."""
    pts = dict(NORMAL)
    h = pts["femoral_head_center"]
    mech = (h[0] / math.hypot(*h), h[1] / math.hypot(*h))  # K -> H, unit
    # rotate the mechanical direction by 6 degrees toward lateral (clockwise in lat/sup components)
    a = math.radians(6.0)
    anat = (mech[0] * math.cos(a) + mech[1] * math.sin(a), -mech[0] * math.sin(a) + mech[1] * math.cos(a))
    base = (5.0, 0.0)
    pts["femoral_shaft_distal_mid"] = (base[0] + 100 * anat[0], base[1] + 100 * anat[1])
    pts["femoral_shaft_proximal_mid"] = (base[0] + 300 * anat[0], base[1] + 300 * anat[1])
    limb = measure_case(make_case({"right": pts})).limbs[Side.RIGHT]
    assert limb.values["ama_deg"] == pytest.approx(6.0, abs=1e-6)
    # the anatomic axis is 6 degrees more lateral at its top, so the lateral angle at the knee is 6 less
    assert limb.values["aldfa_deg"] == pytest.approx(limb.values["mldfa_deg"] - 6.0, abs=1e-6)
    # aMPFA: angle between the distal anatomic ray and the ray GT -> H
    gt = pts["greater_trochanter_tip"]
    d1 = (-anat[0], -anat[1])
    d2 = (h[0] - gt[0], h[1] - gt[1])
    expect = math.degrees(math.atan2(abs(d1[0] * d2[1] - d1[1] * d2[0]), d1[0] * d2[0] + d1[1] * d2[1]))
    assert limb.values["ampfa_deg"] == pytest.approx(expect, abs=1e-6)


def test_neck_shaft_angle():
    pts = dict(NORMAL)
    pts["femoral_shaft_proximal_mid"] = (30.0, 300.0)
    pts["femoral_shaft_distal_mid"] = (30.0, 100.0)  # anatomic axis straight along sup
    h = pts["femoral_head_center"]
    # neck axis at 130 degrees to the distal anatomic ray, pointing proximal-medial toward H
    ang = math.radians(130.0)
    direction = (-math.sin(ang), -math.cos(ang))  # unit vector 130 degrees from (0, -1), medial side
    pts["femoral_neck_midpoint"] = (h[0] - 25 * direction[0], h[1] - 25 * direction[1])
    limb = measure_case(make_case({"left": pts})).limbs[Side.LEFT]
    assert limb.values["nsa_deg"] == pytest.approx(130.0, abs=1e-6)


def test_parallel_lines_make_a_measurement_unavailable():
    pts = dict(NORMAL)
    gt, h = pts["greater_trochanter_tip"], pts["femoral_head_center"]
    d = (h[0] - gt[0], h[1] - gt[1])
    pts["femoral_shaft_proximal_mid"] = (0.0, 200.0)
    pts["femoral_shaft_distal_mid"] = (d[0], 200.0 + d[1])  # anatomic axis parallel to GT-H
    limb = measure_case(make_case({"right": pts})).limbs[Side.RIGHT]
    assert "parallel" in limb.unavailable["ampfa_deg"]


def test_trochanter_disagreeing_with_orientation_warns_and_trusts_anatomy():
    case = make_case({"right": TIBIAL_VARUS})
    case.patient_orientation = ("R", "F")  # claims a flipped film, but the trochanter says otherwise
    limb = measure_case(case).limbs[Side.RIGHT]
    assert limb.values["mad_mm"] == pytest.approx(17.35, abs=0.01)
    assert any("greater trochanter" in w for w in limb.warnings)


def test_json_shape_follows_case_format():
    out = measure_case(make_case({"right": NORMAL, "left": NORMAL})).to_json()
    assert set(out) >= {"limbs", "calibration"}
    assert out["calibration"] == {"source": "PixelSpacing", "pixel_spacing_mm": [0.15, 0.15]}
    right = out["limbs"]["right"]
    for key in ("mad_mm", "mad_px", "mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg", "jlca_deg", "mfta_deg",
                "hka_deg", "mechanical_axis_length_mm", "femur_length_mm", "tibia_length_mm", "limb_length_mm",
                "limb_length_basis", "mat", "unavailable"):
        assert key in right
    assert set(right["mat"]) == {"malalignment", "femur", "tibia", "joint", "hip", "ankle", "summary"}
    assert out["lld_mm"] == 0.0
