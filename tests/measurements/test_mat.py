"""The malalignment test's verdicts and sentences, one case per branch."""
from measurements.mat import mad_phrase, malalignment_test
from measurements.normals import default_normals

NORMAL_VALUES = {"mad_mm": 8.0, "mldfa_deg": 87.0, "mpta_deg": 87.0, "jlca_deg": 1.0, "mlpfa_deg": 90.0,
                 "ldta_deg": 89.0}


def run(**changes):
    return malalignment_test({**NORMAL_VALUES, **changes}, default_normals())


def test_normal_limb():
    mat = run(mad_mm=9.1)
    assert mat == {"malalignment": "none", "femur": "normal", "tibia": "normal", "joint": "normal",
                   "hip": "normal", "ankle": "normal", "summary": "No malalignment (MAD 9 mm medial)."}


def test_spec_sentence_for_tibial_varus():
    mat = run(mad_mm=24.0, mpta_deg=81.0)
    assert mat["summary"] == ("Varus malalignment (MAD 24 mm medial) of tibial origin (MPTA 81.0°); "
                              "femur and joint within normal limits.")


def test_valgus_of_femoral_and_joint_origin():
    mat = run(mad_mm=-12.0, mldfa_deg=82.0, jlca_deg=-3.0)
    assert (mat["malalignment"], mat["femur"], mat["joint"], mat["tibia"]) == ("valgus", "valgus", "valgus", "normal")
    assert mat["summary"].startswith("Valgus malalignment (MAD 12 mm lateral) of femoral and joint-line origin "
                                     "(mLDFA 82.0°, JLCA -3.0°)")


def test_compensated_deformities_and_malorientation():
    mat = run(mldfa_deg=92.0, mpta_deg=91.0, mlpfa_deg=97.0, ldta_deg=84.0)
    assert mat["malalignment"] == "none"
    assert "femur in varus (mLDFA 92.0°) and tibia in valgus (MPTA 91.0°) offset each other" in mat["summary"]
    assert "Hip malorientation: varus (mLPFA 97.0°)." in mat["summary"]
    assert "Ankle malorientation: valgus (LDTA 84.0°)." in mat["summary"]


def test_band_edges_follow_the_spec():
    assert run(mad_mm=15.0)["malalignment"] == "none"
    assert run(mad_mm=15.01)["malalignment"] == "varus"
    assert run(mad_mm=0.99)["malalignment"] == "valgus"
    assert run(mldfa_deg=90.0)["femur"] == "normal"
    assert run(mldfa_deg=90.1)["femur"] == "varus"
    assert run(mpta_deg=84.9)["tibia"] == "varus"
    assert run(jlca_deg=2.1)["joint"] == "varus"


def test_unmeasured_parts():
    mat = malalignment_test({"mldfa_deg": 87.0}, default_normals(), calibrated=False)
    assert mat["malalignment"] == "unknown" and mat["tibia"] == "unknown"
    assert mat["summary"].startswith("Malalignment not assessed (MAD needs calibration)")


def test_mad_phrase():
    assert mad_phrase(0.4) == "MAD 0 mm"
    assert mad_phrase(-7.6) == "MAD 8 mm lateral"
