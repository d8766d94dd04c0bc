"""Planning (shared/spec/planning.md): the worked case, CORA identities, Paley's rules, invariances."""
from __future__ import annotations

import math
import timeit

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from measurements.case import Case, CaseError
from measurements.measure import measure_limb, physical_points
from measurements.planning import (
    Bone, PlanInputError, PlanUnavailable, find_cora, fragment_transform, moved_case, parse_plan, plan_case,
    reference_angles, simulate, wbl_pct,
)

from .worked_cases import NORMAL, to_image

# --- the worked case of planning.md ------------------------------------------------------------------

WORKED_PX = {
    "knee_center": (3000, 5000), "femoral_head_center": (2775.0, 705.9), "greater_trochanter_tip": (2175.8, 737.3),
    "femoral_condyle_medial": (3350, 5000), "femoral_condyle_lateral": (2650, 5000),
    "tibial_plateau_medial": (3350, 5010), "tibial_plateau_lateral": (2650, 5010),
    "ankle_center": (3622.9, 8642.2), "plafond_lateral": (3475.2, 8668.3), "plafond_medial": (3770.6, 8616.2),
}
CUT = [[3331.4, 5599.2], [2731.4, 5599.2]]
PLAN_A = {"name": "HTO opening wedge", "bone": "tibia", "osteotomy_px": CUT, "hinge_px": [3031.4, 5599.2],
          "angle_deg": 8.0, "translation_mm": 0.0}
PLAN_B = {"name": "Fujisawa", "bone": "tibia", "osteotomy_px": CUT, "hinge_px": [2731.4, 5599.2],
          "target": {"wbl_pct": 62.5}}


def worked_case(plans=(PLAN_A, PLAN_B), spacing=(0.1, 0.1), **limb_extra) -> Case:
    return Case.from_dict({
        "format": "deformity-case/1",
        "pixel_spacing_mm": list(spacing) if spacing else None,
        "calibration": {"source": "PixelSpacing" if spacing else "none"},
        "limbs": {"right": {"landmarks": {k: list(v) for k, v in WORKED_PX.items()}, "plans": list(plans),
                            **limb_extra}},
    })


TOL = 0.002  # planning.md: figures to +-0.002


def test_worked_case_measurements_and_wbl():
    case = worked_case()
    values = measure_limb(case, "right").values
    assert values["mpta_deg"] == pytest.approx(80.295, abs=TOL)
    assert values["ldta_deg"] == pytest.approx(90.297, abs=TOL)
    assert values["mad_mm"] == pytest.approx(23.245, abs=TOL)
    assert values["mfta_deg"] == pytest.approx(6.706, abs=TOL)
    assert wbl_pct(case, "right") == pytest.approx(16.451, abs=TOL)


def test_worked_case_cora():
    case = worked_case()
    tibia = find_cora(case, "right", "tibia")
    assert tibia.direction == "varus" and tibia.unit == "mm"
    assert tibia.angle_deg == pytest.approx(8.002, abs=TOL)
    assert tibia.from_proximal == pytest.approx(60.099, abs=TOL)
    assert tibia.from_distal == pytest.approx(309.900, abs=TOL)
    assert tibia.offset == pytest.approx(7.017, abs=TOL)
    assert tibia.cora_px == pytest.approx((3031.453, 5600.164), abs=TOL)
    assert tibia.notes == ()
    femur = find_cora(case, "right", "femur")
    assert femur.direction == "none" and femur.cora_px is None and femur.bisector_px is None
    assert abs(femur.translation) < 0.05


def test_worked_case_plan_a():
    sim = simulate(worked_case(), "right", PLAN_A)
    assert sim.angle_deg == 8.0 and not sim.solved
    assert sim.rule == 1
    assert sim.wedge == "neutral"
    assert sim.opening["medial"] == pytest.approx(4.175, abs=TOL)
    assert sim.opening["lateral"] == pytest.approx(-4.175, abs=TOL)
    assert sim.predicted["mpta_deg"] == pytest.approx(87.000, abs=TOL)
    assert sim.predicted["ldta_deg"] == pytest.approx(89.002, abs=TOL)
    assert sim.predicted["mad_mm"] == pytest.approx(0.002, abs=TOL)
    assert sim.predicted["wbl_pct"] == pytest.approx(49.922, abs=TOL)
    assert sim.length_change == pytest.approx(1.850, abs=TOL)
    assert sim.axis_translation == pytest.approx(-0.013, abs=TOL)
    assert sim.fragment == ("ankle_center", "plafond_medial", "plafond_lateral")


def test_worked_case_plan_b_solves_the_fujisawa_point():
    sim = simulate(worked_case(), "right", PLAN_B)
    assert sim.solved and sim.angle_deg == pytest.approx(10.886, abs=TOL)
    assert sim.predicted["wbl_pct"] == pytest.approx(62.5, abs=0.01)
    assert sim.rule == 1
    assert 2.0 < sim.hinge_to_bisector < 5.0  # the spec says "about 2 mm"; it is 3.75 mm, still within 5
    assert sim.wedge == "opening"
    assert sim.opening["medial"] == pytest.approx(11.331, abs=TOL)
    assert sim.opening["lateral"] == pytest.approx(0.0, abs=TOL)
    assert sim.predicted["mad_mm"] == pytest.approx(-8.777, abs=TOL)
    assert sim.predicted["mpta_deg"] == pytest.approx(89.509, abs=TOL)
    assert sim.predicted["ldta_deg"] == pytest.approx(88.626, abs=TOL)
    assert sim.length_change == pytest.approx(7.255, abs=TOL)
    assert sim.axis_translation == pytest.approx(-0.854, abs=TOL)


def test_worked_case_json_is_the_spec_object():
    out = plan_case(worked_case())
    right = out["limbs"]["right"]
    assert set(right) >= {"reference_deg", "reference_source", "wbl_pct", "cora", "plans", "unavailable"}
    assert right["reference_deg"] == {"mlpfa_deg": 90.0, "mldfa_deg": 87.0, "mpta_deg": 87.0, "ldta_deg": 89.0}
    assert set(right["reference_source"].values()) == {"normal"}
    assert right["wbl_pct"] == pytest.approx(16.451, abs=TOL)
    assert right["cora"]["femur"]["direction"] == "none" and "translation_mm" in right["cora"]["femur"]
    tibia = right["cora"]["tibia"]
    assert set(tibia) == {"angle_deg", "direction", "cora_px", "from_proximal_mm", "from_distal_mm", "offset_mm"}
    assert tibia["cora_px"] == pytest.approx([3031.453, 5600.164], abs=TOL)
    a, b = right["plans"]
    assert a["name"] == "HTO opening wedge" and a["rule"] == 1 and a["wedge"] == "neutral"
    assert a["opening_mm"] == pytest.approx({"medial": 4.175, "lateral": -4.175}, abs=TOL)
    assert a["predicted"]["mpta_deg"] == pytest.approx(87.0, abs=TOL)
    assert a["length_change_mm"] == pytest.approx(1.85, abs=TOL)
    assert b["angle_deg"] == pytest.approx(10.886, abs=TOL) and b["angle_source"] == "solved"
    assert b["axis_translation_mm"] == pytest.approx(-0.854, abs=TOL)
    assert out["unavailable"]["growth"].startswith("needs the patient's sex and age")
    assert out["calibration"] == {"source": "PixelSpacing", "pixel_spacing_mm": [0.1, 0.1]}


def test_mad_target_and_unreachable_target():
    case = worked_case()
    sim = simulate(case, "right", {**PLAN_B, "target": {"mad_mm": 0}})
    assert sim.predicted["mad_mm"] == pytest.approx(0.0, abs=0.01)
    assert -45 <= sim.angle_deg <= 45
    with pytest.raises(PlanUnavailable, match="no angle between -45° and 45° reaches a WBL of 400"):
        simulate(case, "right", {**PLAN_B, "target": {"wbl_pct": 400}})
    out = plan_case(worked_case(plans=[{**PLAN_B, "target": {"wbl_pct": 400}}, PLAN_A]))
    first, second = out["limbs"]["right"]["plans"]
    assert first == {"name": "Fujisawa", "bone": "tibia", "unavailable": first["unavailable"]}
    assert "rule" in second  # the next plan is still computed, in the case's order


def test_solving_while_dragging_is_fast():
    case = worked_case()
    cora = find_cora(case, "right", "tibia")
    best = min(timeit.repeat(lambda: simulate(case, "right", PLAN_B, cora=cora), number=5, repeat=5)) / 5
    assert best < 0.016, f"a plan solve takes {best * 1e3:.1f} ms"


# --- plans that cannot be computed -------------------------------------------------------------------


@pytest.mark.parametrize("change,reason", [
    ({"hinge_px": None}, "needs the hinge"),
    ({"osteotomy_px": [[1, 2]]}, "osteotomy line"),
    ({"osteotomy_px": [[3331.4, 9000], [2731.4, 9000]]}, "does not cross the tibia"),
    ({"osteotomy_px": [[3000, 5599.2], [3000, 5599.2]]}, "coincide"),
    ({"bone": "fibula"}, "unknown bone"),
    ({"target": {"wbl_pct": 62.5}}, "both an angle and a target"),
    ({"angle_deg": None}, "needs an angle"),
    ({"angle_deg": 60}, "outside -45° to 45°"),
    ({"angle_deg": None, "target": {"hka_deg": 180}}, "the target must be one of"),
])
def test_unavailable_plans_name_the_reason(change, reason):
    plan = {k: v for k, v in {**PLAN_A, **change}.items() if v is not None}
    with pytest.raises(PlanUnavailable, match=reason):
        simulate(worked_case(), "right", plan)
    out = plan_case(worked_case(plans=[plan]))
    assert reason in out["limbs"]["right"]["plans"][0]["unavailable"]


def test_missing_landmarks():
    px = dict(WORKED_PX)
    del px["plafond_medial"], px["plafond_lateral"]
    case = Case.from_dict({"format": "deformity-case/1", "pixel_spacing_mm": [0.1, 0.1],
                           "limbs": {"right": {"landmarks": px, "plans": [PLAN_A]}}})
    out = plan_case(case)["limbs"]["right"]
    assert out["cora"]["tibia"] == {"unavailable": "needs plafond_lateral, plafond_medial"}
    plan = out["plans"][0]
    assert plan["rule"] is None and plan["axis_translation_mm"] is None  # no CORA: no rule
    assert plan["predicted"]["mpta_deg"] == pytest.approx(87.0, abs=TOL)
    del px["femoral_head_center"]
    out = plan_case(Case.from_dict({"format": "deformity-case/1", "pixel_spacing_mm": [0.1, 0.1],
                                    "limbs": {"right": {"landmarks": px, "plans": [PLAN_A]}}}))["limbs"]["right"]
    assert out["unavailable"]["wbl_pct"] == "needs femoral_head_center"
    assert out["plans"][0]["unavailable"] == "needs femoral_head_center"


@pytest.mark.parametrize("extra,message", [
    ({"reference_deg": {"mpta": 88}}, "unknown reference angle"),
    ({"reference_deg": {"mpta_deg": 200}}, "between 0 and 180"),
    ({"reference_deg": [88]}, "must be an object"),
    ({"plans": {"name": "x"}}, "must be a list"),
    ({"plans": ["x"]}, "must be an object"),
])
def test_malformed_planning_keys_are_refused(extra, message):
    case = worked_case(plans=())
    case.limbs["right"].extra.update(extra)
    with pytest.raises(PlanInputError, match=message):
        plan_case(case)
    assert issubclass(PlanInputError, CaseError)


def test_negative_age_is_refused():
    case = worked_case()
    case.extra["patient"] = {"sex": "male", "age_years": -1}
    with pytest.raises(PlanInputError, match="cannot be negative"):
        plan_case(case)


# --- reference angles ----------------------------------------------------------------------------------


def test_reference_sources_user_contralateral_normal():
    left = _deformed("tibia", 4.0, 1.0, 1.0)  # the left tibia bent 4 degrees at the knee: MPTA 83 (abnormal)
    data = {
        "format": "deformity-case/1", "pixel_spacing_mm": [0.15, 0.15],
        "limbs": {"right": {"landmarks": to_image(NORMAL, "right", origin_mm=(120.0, 500.0)),
                            "reference_deg": {"mldfa_deg": 88.5}},
                  "left": {"landmarks": to_image(left, "left", origin_mm=(260.0, 500.0))}},
    }
    case = Case.from_dict(data)
    ref = reference_angles(case, "right")
    left_values = measure_limb(case, "left").values
    assert ref.sources == {"mlpfa_deg": "contralateral", "mldfa_deg": "user", "mpta_deg": "normal",
                           "ldta_deg": "contralateral"}
    assert ref.values["mldfa_deg"] == 88.5
    assert ref.values["mlpfa_deg"] == pytest.approx(left_values["mlpfa_deg"])
    assert left_values["mpta_deg"] < 85 and ref.values["mpta_deg"] == 87.0
    assert ref.values["ldta_deg"] == pytest.approx(left_values["ldta_deg"])
    json_ref = plan_case(case)["limbs"]["right"]["reference_source"]
    assert json_ref["mldfa_deg"] == "user" and json_ref["mpta_deg"] == "normal"


# --- identities and Paley's rules over random limbs ---------------------------------------------------

jitter = st.floats(min_value=-12.0, max_value=12.0, allow_nan=False)
limb_points = st.fixed_dictionaries({name: st.tuples(jitter, jitter) for name in NORMAL}).map(
    lambda d: {n: (NORMAL[n][0] + d[n][0], NORMAL[n][1] + d[n][1]) for n in NORMAL})


def _case_from_frame(points: dict, side: str = "right", spacing=(0.15, 0.15), plans=(), rotate_deg: float = 0.0,
                     calibrated: bool = True) -> Case:
    px = to_image(points, side, spacing if calibrated else (1.0, 1.0), origin_mm=(190.0, 500.0))
    if rotate_deg:
        row, col = spacing if calibrated else (1.0, 1.0)
        c, s = math.cos(math.radians(rotate_deg)), math.sin(math.radians(rotate_deg))
        cx, cy = 200.0, 400.0  # mm

        def turn(p):
            x, y = p[0] * col - cx, p[1] * row - cy
            return [(cx + c * x - s * y) / col, (cy + s * x + c * y) / row]

        px = {n: turn(p) for n, p in px.items()}
    return Case.from_dict({
        "format": "deformity-case/1",
        "pixel_spacing_mm": list(spacing) if calibrated else None,
        "calibration": {"source": "PixelSpacing" if calibrated else "none"},
        "limbs": {side: {"landmarks": px, "plans": list(plans)}},
    })


@settings(max_examples=60, deadline=None)
@given(limb_points)
def test_cora_angle_equals_the_joint_angle_deviations(points):
    case = _case_from_frame(points)
    v = measure_limb(case, "right").values
    ref = reference_angles(case, "right").values
    tibia = find_cora(case, "right", "tibia").angle_deg
    femur = find_cora(case, "right", "femur").angle_deg
    assert tibia == pytest.approx((ref["mpta_deg"] - v["mpta_deg"]) + (v["ldta_deg"] - ref["ldta_deg"]), abs=1e-6)
    assert femur == pytest.approx((v["mlpfa_deg"] - ref["mlpfa_deg"]) + (v["mldfa_deg"] - ref["mldfa_deg"]), abs=1e-6)


def _rotate_about(p, centre, degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    x, y = p[0] - centre[0], p[1] - centre[1]
    return (centre[0] + c * x - s * y, centre[1] + s * x + c * y)


def _deformed(bone: str, angle: float, level: float, shift: float) -> dict:
    """The normal leg bent by `angle` degrees of varus (+) about a point `level` mm down the bone."""
    pts = dict(NORMAL)
    if bone == "tibia":
        centre, moving = (-1.0 + shift, -level), ("ankle_center", "plafond_lateral", "plafond_medial")
    else:
        centre = (22.5045 * (1 - level / 429.4) + shift, 429.4107 - level)
        moving = tuple(n for n in NORMAL if n not in ("femoral_head_center", "greater_trochanter_tip"))
    for name in moving:  # varus: the distal segment turns toward medial, clockwise in (lat, sup)
        pts[name] = _rotate_about(pts[name], centre, -angle)
    return pts


deformities = st.tuples(
    st.sampled_from(["tibia", "femur"]),
    st.floats(3.0, 20.0).flatmap(lambda a: st.sampled_from([a, -a])),
    st.floats(80.0, 300.0),
    st.floats(-10.0, 10.0),
)


def _plan_on_bisector(case: Case, bone: str, along: float, off: float, cut_shift: float = 0.0):
    cora = find_cora(case, "right", bone)
    assume(cora.direction != "none")
    row, col = case.pixel_spacing_mm
    c = np.array(cora.cora_px) * [col, row]
    d = np.array(cora.bisector_px.direction_px) * [col, row]
    d = d / np.linalg.norm(d)
    b = np.array(cora.bisector_normal_phys)
    hinge = c + along * d + off * b
    cut_c = c + cut_shift * b
    cut = [list((cut_c - 40 * d) / [col, row]), list((cut_c + 40 * d) / [col, row])]
    plan = {"bone": bone, "osteotomy_px": cut, "hinge_px": list(hinge / [col, row]), "angle_deg": cora.angle_deg}
    return cora, plan


@settings(max_examples=40, deadline=None)
@given(deformities, st.floats(-35.0, 35.0), st.sampled_from([0.0, 25.0, -25.0]))
def test_hinge_on_the_bisector_restores_the_reference_angles_without_translation(deformity, along, cut_shift):
    bone, angle, level, shift = deformity
    case = _case_from_frame(_deformed(bone, angle, level, shift))
    cora, plan = _plan_on_bisector(case, bone, along, 0.0, cut_shift)
    assert cora.angle_deg == pytest.approx(angle, abs=1e-3)  # the normal leg is given to 0.1 micrometre
    sim = simulate(case, "right", plan)
    keys = ("mpta_deg", "ldta_deg") if bone == "tibia" else ("mlpfa_deg", "mldfa_deg")
    for key in keys:
        assert sim.predicted[key] == pytest.approx(cora.reference.values[key], abs=1e-6), key
    assert sim.axis_translation == pytest.approx(0.0, abs=1e-6)
    assert sim.rule == (1 if cut_shift == 0.0 else 2)
    assert sim.predicted["mfta_deg"] == pytest.approx(0.0, abs=1e-4)  # the normal leg (to 4 decimals) is straight again


@settings(max_examples=40, deadline=None)
@given(deformities, st.floats(-25.0, 25.0), st.floats(8.0, 40.0).flatmap(lambda d: st.sampled_from([d, -d])))
def test_hinge_off_the_bisector_leaves_a_translation(deformity, along, off):
    bone, angle, level, shift = deformity
    case = _case_from_frame(_deformed(bone, angle, level, shift))
    cora, plan = _plan_on_bisector(case, bone, along, off)
    sim = simulate(case, "right", plan)
    assert sim.rule == 3
    assert sim.hinge_to_bisector == pytest.approx(abs(off), abs=1e-6)
    # rotating by a about a point d off the bisector shifts the realigned axis by 2 d sin(a / 2)
    expected = 2 * abs(off) * math.sin(math.radians(abs(sim.angle_deg)) / 2)
    assert abs(sim.axis_translation) == pytest.approx(expected, abs=1e-6)


def _comparable(case: Case, side: str, plan: dict) -> dict:
    cora = find_cora(case, side, plan["bone"])
    sim = simulate(case, side, plan)
    out = {"cora_angle": cora.angle_deg, "from_proximal": cora.from_proximal, "from_distal": cora.from_distal,
           "offset": cora.offset, "translation": cora.translation, "angle": sim.angle_deg, "rule": sim.rule,
           "wedge": sim.wedge, "axis_translation": sim.axis_translation, "length_change": sim.length_change,
           "hinge_to_bisector": sim.hinge_to_bisector, "cut_to_cora": sim.cut_to_cora, **sim.opening,
           "wbl": wbl_pct(case, side)}
    out.update({k: v for k, v in sim.predicted.items() if not k.endswith("_px")})
    return out


def _assert_same(a: dict, b: dict, scale: float = 1.0):
    assert set(a) == set(b)
    for key in a:
        if isinstance(a[key], str) or a[key] is None or isinstance(a[key], int):
            assert a[key] == b[key], key
        elif key.endswith("_mm") or key in ("from_proximal", "from_distal", "offset", "translation", "medial",
                                            "lateral", "axis_translation", "length_change", "hinge_to_bisector",
                                            "cut_to_cora"):
            assert a[key] == pytest.approx(b[key] * scale, abs=1e-6), key
        else:
            assert a[key] == pytest.approx(b[key], abs=1e-6), key


def _frame_plan(points: dict, side: str, spacing, plan_frame: dict, calibrated: bool = True) -> dict:
    """A plan given in leg-frame mm (hinge, cut ends), placed on the film as the landmarks are."""
    px = to_image({"hinge": plan_frame["hinge"], "c0": plan_frame["cut"][0], "c1": plan_frame["cut"][1]}, side,
                  spacing if calibrated else (1.0, 1.0), origin_mm=(190.0, 500.0))
    out = {k: v for k, v in plan_frame.items() if k not in ("hinge", "cut")}
    return {**out, "hinge_px": px["hinge"], "osteotomy_px": [px["c0"], px["c1"]]}


TIBIAL_PLAN = {"bone": "tibia", "hinge": (25.0, -62.0), "cut": [(-30.0, -60.0), (30.0, -60.0)],
               "target": {"wbl_pct": 62.5}}
FEMORAL_PLAN = {"bone": "femur", "hinge": (-20.0, 60.0), "cut": [(-30.0, 60.0), (30.0, 60.0)], "angle_deg": -4.0,
                "translation_mm": 3.0}


@settings(max_examples=30, deadline=None)
@given(st.tuples(st.sampled_from(["tibia", "femur"]), st.floats(4.0, 15.0), st.floats(60.0, 120.0),
                 st.floats(-5.0, 5.0)),
       st.floats(-60.0, 60.0), st.sampled_from([TIBIAL_PLAN, FEMORAL_PLAN]))
def test_rotating_the_film_and_mirroring_to_the_left_change_nothing(deformity, degrees, plan_frame):
    points = _deformed(*deformity)
    spacing = (0.15, 0.15)
    base = _case_from_frame(points, "right", spacing)
    plan = _frame_plan(points, "right", spacing, plan_frame)
    try:
        reference = _comparable(base, "right", plan)
    except PlanUnavailable:
        assume(False)
    turned = _case_from_frame(points, "right", spacing, rotate_deg=degrees)
    px = to_image({"h": plan_frame["hinge"], "a": plan_frame["cut"][0], "b": plan_frame["cut"][1]}, "right", spacing,
                  origin_mm=(190.0, 500.0))
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))

    def turn(p):
        x, y = p[0] * 0.15 - 200.0, p[1] * 0.15 - 400.0
        return [(200.0 + c * x - s * y) / 0.15, (400.0 + s * x + c * y) / 0.15]

    turned_plan = {**plan, "hinge_px": turn(px["h"]), "osteotomy_px": [turn(px["a"]), turn(px["b"])]}
    _assert_same(_comparable(turned, "right", turned_plan), reference)
    left = _case_from_frame(points, "left", spacing)
    _assert_same(_comparable(left, "left", _frame_plan(points, "left", spacing, plan_frame)), reference)


def test_anisotropic_spacing_works_in_physical_space():
    points = _deformed("tibia", 8.0, 90.0, 0.0)
    plan_frame = {**TIBIAL_PLAN}
    iso = _case_from_frame(points, "right", (0.1, 0.1))
    aniso = _case_from_frame(points, "right", (0.15, 0.1))
    _assert_same(_comparable(aniso, "right", _frame_plan(points, "right", (0.15, 0.1), plan_frame)),
                 _comparable(iso, "right", _frame_plan(points, "right", (0.1, 0.1), plan_frame)))


def test_uncalibrated_film_gives_pixel_twins_and_refuses_mm():
    calibrated = plan_case(worked_case())["limbs"]["right"]
    case = worked_case(spacing=None, plans=[PLAN_A, PLAN_B, {**PLAN_B, "target": {"mad_mm": 0}},
                                            {**PLAN_A, "translation_mm": 2.0}])
    case.extra["patient"] = {"sex": "female", "age_years": 10}
    out = plan_case(case)
    right = out["limbs"]["right"]

    def keys(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield k
                yield from keys(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from keys(v)

    assert not [k for k in keys(right) if k.endswith("_mm")]
    assert right["wbl_pct"] == calibrated["wbl_pct"]
    tibia, mm = right["cora"]["tibia"], calibrated["cora"]["tibia"]
    assert tibia["angle_deg"] == mm["angle_deg"] and tibia["cora_px"] == mm["cora_px"]
    assert tibia["from_proximal_px"] == pytest.approx(mm["from_proximal_mm"] / 0.1, abs=0.01)
    assert tibia["offset_px"] == pytest.approx(mm["offset_mm"] / 0.1, abs=0.01)
    a, b, mad, shift = right["plans"]
    assert a["rule"] == 1 and a["wedge"] == "neutral"  # the 5 mm tolerances scale with the bone in pixels
    assert a["opening_px"]["medial"] == pytest.approx(41.75, abs=0.02)
    assert a["length_change_px"] == pytest.approx(18.50, abs=0.02)
    assert a["predicted"]["mpta_deg"] == pytest.approx(87.0, abs=TOL)
    assert b["angle_deg"] == pytest.approx(10.886, abs=TOL) and b["rule"] == 1
    assert "uncalibrated" in mad["unavailable"] and "MAD target" in mad["unavailable"]
    assert "uncalibrated" in shift["unavailable"] and "translation" in shift["unavailable"]
    assert out["unavailable"]["growth"].startswith("the film is uncalibrated")


def test_moved_case_and_fragment_transform_agree_with_the_simulation():
    points = _deformed("femur", 7.0, 150.0, 0.0)
    spacing = (0.15, 0.1)  # anisotropic: the transform is an affine in pixels, a rotation in mm
    case = _case_from_frame(points, "right", spacing)
    plan = _frame_plan(points, "right", spacing, FEMORAL_PLAN)
    sim = simulate(case, "right", plan)
    moved = moved_case(case, "right", "femur", plan["hinge_px"], sim.angle_deg, 3.0, plan["osteotomy_px"])
    transform = fragment_transform(case, "right", "femur", plan["hinge_px"], sim.angle_deg, 3.0,
                                   plan["osteotomy_px"])
    assert transform == sim.transform
    original = case.limbs["right"].landmarks
    for name, point in moved.limbs["right"].landmarks.items():
        assert point == pytest.approx(sim.moved_px[name], abs=1e-9)
        if name in sim.fragment:
            assert transform.apply(original[name]) == pytest.approx(point, abs=1e-9)
        else:
            assert point == original[name]
    assert set(sim.fragment) >= {"knee_center", "ankle_center", "tibial_plateau_medial"}
    assert "femoral_head_center" not in sim.fragment
    # a rigid motion in mm: distances inside the fragment are kept
    before, after = physical_points(case, "right"), physical_points(moved, "right")
    for a_, b_ in (("knee_center", "ankle_center"), ("femoral_condyle_medial", "plafond_lateral")):
        assert np.linalg.norm(after[a_] - after[b_]) == pytest.approx(np.linalg.norm(before[a_] - before[b_]))
    hinge_mm = np.array(plan["hinge_px"]) * [spacing[1], spacing[0]]
    assert np.linalg.norm(after["knee_center"] - hinge_mm) != pytest.approx(
        np.linalg.norm(before["knee_center"] - hinge_mm))  # the 3 mm shift along the cut moved it off the circle
    assert moved.limbs["right"].extra == case.limbs["right"].extra


def test_shaft_points_follow_the_fragment_only_below_the_cut():
    px = dict(WORKED_PX, tibial_shaft_proximal_mid=(3010.0, 5400.0), tibial_shaft_distal_mid=(3300.0, 7500.0))
    case = Case.from_dict({"format": "deformity-case/1", "pixel_spacing_mm": [0.1, 0.1],
                           "limbs": {"right": {"landmarks": px}}})
    sim = simulate(case, "right", PLAN_A)
    assert "tibial_shaft_distal_mid" in sim.fragment and "tibial_shaft_proximal_mid" not in sim.fragment


def test_parse_plan_defaults():
    spec = parse_plan({"bone": "tibia", "osteotomy_px": CUT, "hinge_px": [1, 2], "angle_deg": 5}, index=2)
    assert spec.name == "Plan 3" and spec.bone is Bone.TIBIA and spec.translation_mm == 0.0 and spec.target is None


def test_translation_moves_the_fragment_toward_the_lateral_end_of_the_cut():
    sim = simulate(worked_case(), "right", {**PLAN_A, "angle_deg": 0.0, "translation_mm": 5.0})
    ankle_before, ankle_after = WORKED_PX["ankle_center"], sim.moved_px["ankle_center"]
    # right limb on a standard AP film: lateral is toward smaller x; the cut is horizontal; 0.1 mm pixels
    assert ankle_after == pytest.approx((ankle_before[0] - 50.0, ankle_before[1]), abs=1e-9)
    # the CORA (on the proximal axis) moved 5 mm lateral, across an axis 3 degrees off vertical (MPTA_ref 87)
    assert sim.axis_translation == pytest.approx(-5.0 * math.cos(math.radians(3.0)), abs=0.002)
    assert sim.opening == pytest.approx({"medial": 0.0, "lateral": 0.0}, abs=1e-9) and sim.wedge == "none"
