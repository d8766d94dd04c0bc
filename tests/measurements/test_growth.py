"""The multiplier method (planning.md, 'Growth: the multiplier')."""
from __future__ import annotations

import json

import pytest

from measurements.growth import (
    ASSUMPTION, GrowthError, default_multiplier_table, load_multiplier_table, multiplier, parse_patient,
    patient_from_dicom, predict_growth,
)
from measurements.measure import measure_case
from measurements.planning import plan_case
from resources import resource_path

from .worked_cases import NORMAL, TIBIAL_VARUS, make_case

# The spec's table, typed again here (not read from the resource) so that a wrong file fails.
SPEC_BOYS = {0: 5.080, 0.25: 4.550, 0.5: 4.050, 0.75: 3.600, 1: 3.240, 1.25: 2.975, 1.5: 2.825, 1.75: 2.700,
             2: 2.590, 2.25: 2.480, 2.5: 2.385, 2.75: 2.300, 3: 2.230, 3.5: 2.110, 4: 2.000, 4.5: 1.890,
             5: 1.820, 5.5: 1.740, 6: 1.670, 6.5: 1.620, 7: 1.570, 7.5: 1.520, 8: 1.470, 8.5: 1.420, 9: 1.380,
             9.5: 1.340, 10: 1.310, 10.5: 1.280, 11: 1.240, 11.5: 1.220, 12: 1.180, 12.5: 1.160, 13: 1.130,
             13.5: 1.100, 14: 1.080, 14.5: 1.060, 15: 1.040, 15.5: 1.020, 16: 1.010, 16.5: 1.010, 17: 1.000}
SPEC_GIRLS = {0: 4.630, 0.25: 4.355, 0.5: 3.725, 0.75: 3.300, 1: 2.970, 1.25: 2.750, 1.5: 2.600, 1.75: 2.490,
              2: 2.390, 2.25: 2.295, 2.5: 2.200, 2.75: 2.125, 3: 2.050, 3.5: 1.925, 4: 1.830, 4.5: 1.740,
              5: 1.660, 5.5: 1.580, 6: 1.510, 6.5: 1.460, 7: 1.430, 7.5: 1.370, 8: 1.330, 8.5: 1.290, 9: 1.260,
              9.5: 1.220, 10: 1.190, 10.5: 1.160, 11: 1.130, 11.5: 1.100, 12: 1.070, 12.5: 1.050, 13: 1.030,
              13.5: 1.010, 14: 1.000, 14.5: 1.000, 15: 1.000, 15.5: 1.000, 16: 1.000, 16.5: 1.000, 17: 1.000}


@pytest.mark.parametrize("sex,table", [("male", SPEC_BOYS), ("female", SPEC_GIRLS)])
def test_tabulated_ages_give_the_table(sex, table):
    for age, value in table.items():
        assert multiplier(age, sex) == pytest.approx(value, abs=1e-12), (sex, age)


def test_linear_interpolation_between_ages():
    assert multiplier(8.25, "male") == pytest.approx(1.445)  # the spec's example
    assert multiplier(0.125, "female") == pytest.approx((4.630 + 4.355) / 2)
    assert multiplier(3.25, "male") == pytest.approx((2.230 + 2.110) / 2)  # a half-year step
    assert multiplier(10.4, "female") == pytest.approx(1.19 + 0.8 * (1.16 - 1.19))


def test_maturity_and_beyond():
    assert multiplier(14, "female") == 1.0 and multiplier(13.9, "female") > 1.0
    assert multiplier(17, "male") == 1.0 and multiplier(16.9, "male") > 1.0
    assert multiplier(16.5, "female") == 1.0 and multiplier(45, "male") == 1.0


@pytest.mark.parametrize("age,sex,message", [
    (-0.1, "male", "cannot be negative"),
    (float("nan"), "female", "must be a number"),
    ("8", "male", "must be a number"),
    (8, "M", "'male' or 'female'"),
])
def test_refusals(age, sex, message):
    with pytest.raises(GrowthError, match=message):
        multiplier(age, sex)


def test_table_file_names_its_source():
    data = json.loads(resource_path("multiplier.json").read_text())
    assert "Paley D, Bhave A, Herzenberg JE, Bowen JR" in data["source"]
    assert "J Bone Joint Surg Am 2000;82(10):1432-1446" in data["source"]
    assert default_multiplier_table().source == data["source"]


def test_a_broken_table_is_refused(tmp_path):
    data = json.loads(resource_path("multiplier.json").read_text())
    data["male"] = data["male"][:-1]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GrowthError, match="one value per age"):
        load_multiplier_table(path)


def test_predict_growth_spec_example():
    g = predict_growth(800.0, 821.0, 8.25, "male")
    assert g.multiplier == pytest.approx(1.445)
    assert g.lld_mm == pytest.approx(-21.0)
    assert g.lld_at_maturity_mm == pytest.approx(-30.345)
    assert g.growth_remaining_mm == pytest.approx({"right": 356.0, "left": 365.345})
    assert g.to_json()["assumption"] == ASSUMPTION


def test_growth_in_the_plan_output():
    case = make_case({"right": TIBIAL_VARUS, "left": NORMAL})
    case.extra["patient"] = {"sex": "female", "age_years": 6.5}
    lengths = measure_case(case)
    right = lengths.limbs["right"].values["limb_length_mm"]
    left = lengths.limbs["left"].values["limb_length_mm"]
    growth = plan_case(case)["growth"]
    assert growth["multiplier"] == 1.46
    assert growth["lld_mm"] == pytest.approx(right - left, abs=0.001)
    assert growth["lld_at_maturity_mm"] == pytest.approx((right - left) * 1.46, abs=0.001)
    assert growth["growth_remaining_mm"]["right"] == pytest.approx(right * 0.46, abs=0.001)
    assert growth["growth_remaining_mm"]["left"] == pytest.approx(left * 0.46, abs=0.001)
    assert growth["assumption"] == "congenital (proportional) discrepancy"
    assert "two films" in growth["note"]


def test_growth_unavailable_reasons():
    case = make_case({"right": NORMAL, "left": NORMAL})
    assert plan_case(case)["unavailable"]["growth"] == "needs the patient's sex and age (case key 'patient')"
    case.extra["patient"] = {"sex": "male"}
    assert plan_case(case)["unavailable"]["growth"] == "needs the patient's age (case key 'patient')"
    one = make_case({"right": NORMAL})
    one.extra["patient"] = {"sex": "male", "age_years": 9}
    assert plan_case(one)["unavailable"]["growth"] == "needs both limbs"


def test_parse_patient():
    assert parse_patient(None).sex is None
    assert parse_patient({"sex": "female", "age_years": 3}).age_years == 3.0
    for bad in ({"sex": "F"}, {"age_years": -2}, {"age_years": True}, [1]):
        with pytest.raises(GrowthError):
            parse_patient(bad)


@pytest.mark.parametrize("sex,birth,study,expected", [
    ("M", "20100615", "20180615", {"sex": "male", "age_years": 8.0}),
    ("F", "20100615", "20181215", {"sex": "female", "age_years": round(8 + 183 / 365, 4)}),
    ("F", "20120101", "20120101", {"sex": "female", "age_years": 0.0}),
    ("f ", "2010.06.15", "2018.06.15", {"sex": "female", "age_years": 8.0}),  # ACR-NEMA date form, padded sex
    ("O", "20100615", "20180615", {"age_years": 8.0}),
    ("M", "", "20180615", {"sex": "male"}),
    ("M", "20180615", "20100615", {"sex": "male"}),  # a study before birth: no age
    ("M", "20100231", "20180615", {"sex": "male"}),  # an impossible date
    ("", None, None, None),
])
def test_patient_from_dicom(sex, birth, study, expected):
    assert patient_from_dicom(sex, birth, study) == expected


def test_leap_day_birthday():
    # born 29 February: one year old on 28 February of the next (common) year
    assert patient_from_dicom("F", "20120229", "20130228")["age_years"] == 1.0
    assert patient_from_dicom("F", "20120229", "20160229")["age_years"] == 4.0
