"""The synthetic film generator: exact ground truth, a film that agrees with it, DICOM, cache, CLI.

Measurements here are computed independently of `measurements/`, straight from
shared/spec/measurements.md and planning.md, so that the generator and the measuring code check
each other. Most films are drawn at 0.6 mm spacing (625 x 1750 px) to keep the suite fast.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.ndimage import map_coordinates

from dicom_io import demo
from dicom_io._phantom import build_limb
from dicom_io.demo import (
    BALL_DIAMETER_MM,
    DEFAULT_DEMO,
    LANDMARK_NAMES,
    NORMAL_LIMB,
    FilmSpec,
    LimbSpec,
    bank_specs,
    bent_femur,
    bent_tibia,
    ensure_demo,
    generate_case,
    generate_film,
    write_demo,
)

SMALL = 0.6  # mm per pixel for fast films
ANGLES = ("mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg", "jlca_deg")


# ---------------------------------------------------------------------------------------------
# Independent measurement, after measurements.md
# ---------------------------------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.hypot(*v)


def _ang(a: np.ndarray, b: np.ndarray) -> float:
    """Unsigned angle between rays, degrees (atan2 of cross and dot, as the spec asks)."""
    return math.degrees(math.atan2(abs(a[0] * b[1] - a[1] * b[0]), float(a @ b)))


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _points_mm(case: dict, side: str) -> dict[str, np.ndarray]:
    row, col = case["pixel_spacing_mm"]
    return {n: np.array([p[0] * col, p[1] * row]) for n, p in case["limbs"][side]["landmarks"].items()}


def _frame(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(lat, sup) unit vectors in film mm: sup from ankle to hip, lat toward the trochanter."""
    sup = _unit(p["femoral_head_center"] - p["ankle_center"])
    lat = np.array([sup[1], -sup[0]])
    if (p["greater_trochanter_tip"] - p["femoral_head_center"]) @ lat < 0:
        lat = -lat
    return lat, sup


def measure(p: dict[str, np.ndarray]) -> dict[str, float]:
    h, gt, k, a = (p[n] for n in ("femoral_head_center", "greater_trochanter_tip", "knee_center", "ankle_center"))
    cm, cl = p["femoral_condyle_medial"], p["femoral_condyle_lateral"]
    pm, pl = p["tibial_plateau_medial"], p["tibial_plateau_lateral"]
    dm, dl = p["plafond_medial"], p["plafond_lateral"]
    lat, sup = _frame(p)

    def f(v: np.ndarray) -> np.ndarray:
        return np.array([v @ lat, v @ sup])

    def orient(v: np.ndarray) -> float:
        return math.degrees(math.atan2(v @ sup, v @ lat))

    jlca = (orient(cl - cm) - orient(pl - pm) + 180.0) % 360.0 - 180.0
    d = _unit(a - h)
    off = (k - h) - ((k - h) @ d) * d  # from the line H-A to K
    mad = float(np.hypot(*off)) * (1.0 if off @ lat > 0 else -1.0)  # K lateral of the line: varus
    pdir, edir = f(_unit(k - h)), f(_unit(a - k))
    mfta = math.degrees(math.atan2(_cross(edir, pdir), float(pdir @ edir)))
    return {
        "mlpfa_deg": _ang(k - h, gt - h),
        "mldfa_deg": _ang(h - k, cl - cm),
        "mpta_deg": _ang(a - k, pm - pl),
        "ldta_deg": _ang(k - a, dl - dm),
        "jlca_deg": jlca,
        "mfta_deg": mfta,
        "mad_mm": mad,
        "nsa_deg": _ang(h - p["femoral_neck_midpoint"], p["femoral_shaft_distal_mid"] - p["femoral_shaft_proximal_mid"]),
        "limb_length_mm": float(np.hypot(*(a - p["femoral_head_top"]))),
    }


def planning_cora(p: dict[str, np.ndarray], bone: str, ref: dict[str, float]) -> dict[str, float]:
    """planning.md's CORA of one bone from reference angles: signed angle and level from the knee."""
    lat, sup = _frame(p)

    def f(v: np.ndarray) -> np.ndarray:
        return np.array([v @ lat, v @ sup])

    def ray(u: np.ndarray, deg: float, want_sup_sign: float) -> np.ndarray:
        for sgn in (1.0, -1.0):
            c, s = math.cos(math.radians(sgn * deg)), math.sin(math.radians(sgn * deg))
            r = np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])
            if r[1] * want_sup_sign > 0:
                return r
        raise AssertionError("no ray")

    h, k, a = f(p["femoral_head_center"]), f(p["knee_center"]), f(p["ankle_center"])
    if bone == "tibia":
        p0, p1 = k, a
        pr = ray(_unit(f(p["tibial_plateau_medial"] - p["tibial_plateau_lateral"])), ref["mpta_deg"], -1.0)
        q = ray(_unit(f(p["plafond_lateral"] - p["plafond_medial"])), ref["ldta_deg"], 1.0)
    else:
        p0, p1 = h, k
        pr = ray(_unit(f(p["greater_trochanter_tip"] - p["femoral_head_center"])), ref["mlpfa_deg"], -1.0)
        q = ray(_unit(f(p["femoral_condyle_lateral"] - p["femoral_condyle_medial"])), ref["mldfa_deg"], 1.0)
    e = -q
    angle = math.degrees(math.atan2(_cross(e, pr), float(pr @ e)))
    t = _cross(p1 - p0, q) / _cross(pr, q)
    cora = p0 + t * pr
    from_knee = float((cora - k) @ pr) if bone == "tibia" else float((cora - k) @ q)
    return {"angle_deg": angle, "from_knee_mm": from_knee}


def _sample(img: np.ndarray, xy: np.ndarray) -> float:
    return float(map_coordinates(img.astype(np.float32), [[xy[1]], [xy[0]]], order=1)[0])


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_demo() -> tuple[np.ndarray, dict]:
    return generate_film(dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=SMALL), seed=0)


# ---------------------------------------------------------------------------------------------
# Geometry: exact ground truth
# ---------------------------------------------------------------------------------------------


def test_worked_case_of_measurements_md_is_reproduced():
    g = build_limb(LimbSpec(condyle_span_mm=70.0, plateau_width_mm=70.0))
    expected = {
        "femoral_head_center": (22.5045, 429.4107),
        "greater_trochanter_tip": (82.4222, 426.2705),
        "femoral_condyle_medial": (-35.0, 0.0),
        "femoral_condyle_lateral": (35.0, 0.0),
        "ankle_center": (-19.3643, -369.4929),
        "plafond_lateral": (-4.3734, -370.0164),
        "plafond_medial": (-34.3552, -368.9694),
    }
    for name, xy in expected.items():
        assert g.landmarks[name] == pytest.approx(xy, abs=1e-4), name


def test_bent_tibia_matches_planning_worked_case():
    # planning.md: the normal leg with the tibia bent 8 degrees varus 60 mm down its axis measures
    # MPTA 80.295, LDTA 90.297 (from landmarks rounded to 0.1 px; exact values differ by < 0.01).
    spec = bent_tibia(8.0, 60.0)
    assert spec.mpta_deg == pytest.approx(80.295, abs=0.01)
    assert spec.ldta_deg == pytest.approx(90.297, abs=0.01)


@pytest.mark.parametrize("name", sorted(bank_specs()))
def test_bank_presets_measure_exactly_as_requested(name):
    spec = bank_specs(SMALL)[name]
    case = generate_case(spec)
    for side, limb in (("right", spec.right), ("left", spec.left)):
        m = measure(_points_mm(case, side))
        for key in ANGLES:
            assert m[key] == pytest.approx(getattr(limb, key), abs=0.05), (side, key)
        # measurements.md's consistency rule is exact with one knee centre.
        assert m["mfta_deg"] == pytest.approx(m["mldfa_deg"] - m["mpta_deg"] + m["jlca_deg"], abs=0.01)
        if limb.femoral_cora_from_knee_mm is None:  # F1 and F2 on one straight anatomic axis
            assert m["nsa_deg"] == pytest.approx(limb.neck_shaft_deg, abs=0.05)


@pytest.mark.parametrize("name", sorted(bank_specs()))
def test_planning_finds_the_drawn_cora(name):
    """With the other (normal) limb's angles as references, planning's CORA is the drawn bend."""
    spec = bank_specs(SMALL)[name]
    case = generate_case(spec)
    ref = measure(_points_mm(case, "left"))
    p = _points_mm(case, "right")
    truth = case["ground_truth"]["limbs"]["right"]["cora"]
    for bone in ("femur", "tibia"):
        got = planning_cora(p, bone, ref)
        if truth[bone] is None:
            continue
        assert got["angle_deg"] == pytest.approx(truth[bone]["angle_deg"], abs=0.05), bone
        assert got["from_knee_mm"] == pytest.approx(truth[bone]["from_knee_mm"], abs=0.5), bone


def test_bank_diagnoses():
    cases = {n: generate_case(s) for n, s in bank_specs(SMALL).items()}
    right = {n: measure(_points_mm(c, "right")) for n, c in cases.items()}
    left = {n: measure(_points_mm(c, "left")) for n, c in cases.items()}
    # The normal limb is normal by every rule of the malalignment test (MAD 1 to 15 mm medial).
    assert 1.0 < left["normal"]["mad_mm"] < 15.0
    assert right["femoral_varus"]["mldfa_deg"] > 90 and right["femoral_varus"]["mad_mm"] > 15
    assert right["femoral_valgus"]["mldfa_deg"] < 85 and right["femoral_valgus"]["mad_mm"] < 1
    assert right["proximal_tibial_varus"]["mpta_deg"] < 85 and right["proximal_tibial_varus"]["mad_mm"] > 15
    assert right["tibial_valgus"]["mpta_deg"] > 90 and right["tibial_valgus"]["mad_mm"] < 1
    assert right["joint_line_convergence"]["jlca_deg"] > 2 and right["joint_line_convergence"]["mad_mm"] > 15
    assert right["ankle_malorientation"]["ldta_deg"] < 86
    assert 1.0 < right["ankle_malorientation"]["mad_mm"] < 15.0
    two = right["two_level"]
    assert two["mldfa_deg"] > 90 and two["mpta_deg"] < 85
    lld = right["limb_length_discrepancy"]["limb_length_mm"] - left["limb_length_discrepancy"]["limb_length_mm"]
    assert lld == pytest.approx(20.0, abs=0.5)


limb_specs = st.builds(
    LimbSpec,
    mlpfa_deg=st.floats(82, 100),
    mldfa_deg=st.floats(80, 96),
    mpta_deg=st.floats(80, 95),
    ldta_deg=st.floats(80, 98),
    jlca_deg=st.floats(-6, 6),
    femur_length_mm=st.floats(360, 470),
    tibia_length_mm=st.floats(300, 400),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(right=limb_specs, left=limb_specs, spacing=st.sampled_from([0.1, 0.15, 0.6]))
def test_any_limb_measures_exactly(right, left, spacing):
    case = generate_case(FilmSpec(right=right, left=left, pixel_spacing_mm=spacing))
    for side, limb in (("right", right), ("left", left)):
        m = measure(_points_mm(case, side))
        for key in ANGLES:
            assert m[key] == pytest.approx(getattr(limb, key), abs=0.05), (side, key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tib=st.tuples(st.floats(2.5, 12) | st.floats(-12, -2.5), st.floats(40, 250)),
    fem=st.tuples(st.floats(2.5, 10) | st.floats(-10, -2.5), st.floats(40, 250)),
)
def test_any_bend_is_found_by_planning(tib, fem):
    right = bent_tibia(tib[0], tib[1], bent_femur(fem[0], fem[1], NORMAL_LIMB))
    case = generate_case(FilmSpec(right=right, left=NORMAL_LIMB))
    ref = measure(_points_mm(case, "left"))
    p = _points_mm(case, "right")
    for key in ANGLES:
        assert measure(p)[key] == pytest.approx(getattr(right, key), abs=0.05)
    for bone, (angle, level) in (("tibia", tib), ("femur", fem)):
        got = planning_cora(p, bone, ref)
        assert got["angle_deg"] == pytest.approx(angle, abs=0.05)
        assert got["from_knee_mm"] == pytest.approx(level, abs=0.5)


def test_standard_ap_layout():
    case = generate_case(DEFAULT_DEMO)
    r, l = case["limbs"]["right"]["landmarks"], case["limbs"]["left"]["landmarks"]
    assert r["femoral_head_center"][0] < l["femoral_head_center"][0]  # patient's right on the viewer's left
    assert r["greater_trochanter_tip"][0] < r["femoral_head_center"][0]  # lateral is outward
    assert l["greater_trochanter_tip"][0] > l["femoral_head_center"][0]
    assert r["femoral_head_center"][1] < r["knee_center"][1] < r["ankle_center"][1]  # head at the top
    assert r["femoral_head_top"][1] == pytest.approx(
        r["femoral_head_center"][1] - DEFAULT_DEMO.right.head_radius_mm / DEFAULT_DEMO.pixel_spacing_mm, abs=0.01)


def test_impossible_specs_are_refused():
    with pytest.raises(ValueError, match="mpta_deg"):
        generate_case(FilmSpec(right=LimbSpec(mpta_deg=40.0)))
    with pytest.raises(ValueError, match="does not fit"):
        generate_case(FilmSpec(right=LimbSpec(femur_length_mm=600.0, tibia_length_mm=520.0)))
    with pytest.raises(ValueError, match="tibial_cora_from_knee_mm"):
        generate_case(FilmSpec(right=bent_tibia(8.0, 400.0)))


# ---------------------------------------------------------------------------------------------
# The case file
# ---------------------------------------------------------------------------------------------


def test_case_dict_follows_case_format(small_demo):
    pixels, case = small_demo
    assert case["format"] == "deformity-case/1"
    assert case["pixel_spacing_mm"] == [SMALL, SMALL]
    assert case["calibration"] == {"source": "PixelSpacing"}
    assert case["patient_orientation"] == ["L", "F"]
    assert (case["image"]["rows"], case["image"]["columns"]) == pixels.shape == (1750, 625)
    assert case["image"]["sop_instance_uid"]
    for side in ("right", "left"):
        lm = case["limbs"][side]["landmarks"]
        assert tuple(lm) == LANDMARK_NAMES
        for x, y in lm.values():
            assert isinstance(x, float) and isinstance(y, float)
            assert 0 <= x < pixels.shape[1] and 0 <= y < pixels.shape[0]
    json.dumps(case)  # serialisable as it is


def test_case_is_accepted_and_measured_by_the_measurements_package(small_demo):
    case_mod = pytest.importorskip("measurements.case")
    measure_mod = pytest.importorskip("measurements.measure")
    _, case = small_demo
    result = measure_mod.measure_case(case_mod.Case.from_dict(case))
    for side, limb in (("right", DEFAULT_DEMO.right), ("left", DEFAULT_DEMO.left)):
        values = result.limbs[side].values if hasattr(result, "limbs") else result["limbs"][side]
        for key in ANGLES:
            assert values[key] == pytest.approx(getattr(limb, key), abs=0.05), (side, key)


# ---------------------------------------------------------------------------------------------
# The film agrees with the landmarks
# ---------------------------------------------------------------------------------------------


def test_bones_are_bright_where_the_landmarks_say(small_demo):
    img, case = small_demo
    for side, medial in (("right", 1.0), ("left", -1.0)):
        lm = {n: np.array(v) for n, v in case["limbs"][side]["landmarks"].items()}
        mm = 1.0 / SMALL
        thigh = _sample(img, lm["femoral_shaft_proximal_mid"] + [medial * -40 * mm, 0])  # lateral soft tissue
        leg = _sample(img, lm["tibial_shaft_proximal_mid"] + [medial * 28 * mm, 0])  # medial: fibula is lateral
        for name, soft in (("femoral_head_center", thigh), ("femoral_shaft_proximal_mid", thigh),
                           ("femoral_shaft_distal_mid", thigh), ("tibial_shaft_proximal_mid", leg),
                           ("tibial_shaft_distal_mid", leg)):
            assert _sample(img, lm[name]) > soft + 600, (side, name)
        # A shaft: bright cortices either side of a darker medullary canal.
        f1 = lm["femoral_shaft_distal_mid"]
        centre = _sample(img, f1)
        cortex = max(_sample(img, f1 + [d * 11.5 * mm, 0]) for d in (-1, 1))
        assert cortex > centre + 50, side


def test_joint_lines_sit_on_edges(small_demo):
    img, case = small_demo
    mm = 1.0 / SMALL
    up = np.array([0.0, -1.0])
    for side in ("right", "left"):
        lm = {n: np.array(v) for n, v in case["limbs"][side]["landmarks"].items()}
        pm, pl = lm["tibial_plateau_medial"], lm["tibial_plateau_lateral"]
        for near, far in ((pm, pl), (pl, pm)):
            p = near + 0.2 * (far - near)  # on the subchondral line, away from the corner
            # Tibia below, joint space above.
            assert _sample(img, p - 3 * mm * up) > _sample(img, p + 2.5 * mm * up) + 150, side
        for name in ("femoral_condyle_medial", "femoral_condyle_lateral"):
            c = lm[name]  # condyle above, joint space below
            assert _sample(img, c + 3 * mm * up) > _sample(img, c - 2.5 * mm * up) + 150, (side, name)
        dm, dl = lm["plafond_medial"], lm["plafond_lateral"]
        for p in (lm["ankle_center"], dm + 0.25 * (dl - dm), dl + 0.25 * (dm - dl)):
            # Tibia above, the 3 mm ankle joint space below.
            assert _sample(img, p + 3 * mm * up) > _sample(img, p - 1.5 * mm * up) + 150, side
        gt = lm["greater_trochanter_tip"]
        assert _sample(img, gt + 3 * mm * np.array([0.0, 1.0])) > _sample(img, gt + 3 * mm * up) + 150, side


def test_calibration_ball_is_where_and_as_large_as_stated():
    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.3)
    img, case = generate_film(spec)
    ball = case["ground_truth"]["calibration_ball_px"]
    assert ball["diameter_mm"] == BALL_DIAMETER_MM
    cx, cy = ball["center"]
    r = BALL_DIAMETER_MM / 2 / 0.3
    x0, y0 = int(cx - r - 15), int(cy - r - 15)
    roi = img[y0:int(cy + r + 16), x0:int(cx + r + 16)].astype(np.float32)
    inside = float(np.median(img[int(cy) - 5:int(cy) + 5, int(cx) - 5:int(cx) + 5]))
    yy, xx = np.mgrid[0:roi.shape[0], 0:roi.shape[1]]
    ring = roi[np.hypot(xx + x0 - cx, yy + y0 - cy) > r + 8]
    level = 0.5 * (inside + float(np.median(ring)))
    _, binary = cv2.threshold(roi, level, 1, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    blob = max(contours, key=cv2.contourArea)
    m = cv2.moments(blob, binaryImage=False)
    fit_x, fit_y = m["m10"] / m["m00"] + x0, m["m01"] / m["m00"] + y0
    area_px = float(np.count_nonzero(binary))
    diameter_mm = 2.0 * math.sqrt(area_px / math.pi) * 0.3
    assert diameter_mm == pytest.approx(25.0, abs=0.3)
    assert (fit_x, fit_y) == pytest.approx((cx, cy), abs=0.5)
    (ex, ey), (w, h), _ = cv2.fitEllipse(blob)
    assert max(w, h) / min(w, h) < 1.03  # round


def test_film_windows_like_a_radiograph(small_demo):
    img, case = small_demo
    assert img.dtype == np.uint16 and img.max() <= 4095
    lm = case["limbs"]["right"]["landmarks"]
    ax, ay = lm["ankle_center"]
    air = float(np.median(img[int(ay) - 10:int(ay) + 10, 5:20]))  # lateral to the right ankle
    soft = _sample(img, np.array(lm["femoral_shaft_proximal_mid"]) + [-45 / SMALL, 0])
    bone = _sample(img, np.array(lm["femoral_head_center"]))
    assert air < 300 < soft < 2300 < bone


# ---------------------------------------------------------------------------------------------
# Determinism, DICOM, cache, command line
# ---------------------------------------------------------------------------------------------


def test_same_seed_same_film_other_seed_other_noise():
    spec = dataclasses.replace(bank_specs()["normal"], pixel_spacing_mm=1.0)
    a, case_a = generate_film(spec, seed=3)
    b, case_b = generate_film(spec, seed=3)
    c, case_c = generate_film(spec, seed=4)
    assert hashlib.sha256(a.tobytes()).hexdigest() == hashlib.sha256(b.tobytes()).hexdigest()
    assert case_a == case_b
    assert not np.array_equal(a, c)
    assert case_a["limbs"] == case_c["limbs"]  # noise only
    assert case_a["image"]["sop_instance_uid"] != case_c["image"]["sop_instance_uid"]


def test_written_files_are_identical_byte_for_byte(tmp_path):
    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=1.0)
    f1, c1 = write_demo(tmp_path / "a", spec)
    f2, c2 = write_demo(tmp_path / "b", spec)
    assert f1.read_bytes() == f2.read_bytes()
    assert c1.read_bytes() == c2.read_bytes()


def test_dicom_reads_back(tmp_path):
    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=SMALL)
    film, case_path = write_demo(tmp_path, spec, name="knee_case")
    assert (film.name, case_path.name) == ("knee_case.dcm", "knee_case.case.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["knee_case.case.json", "knee_case.dcm"]  # no temp files
    case = json.loads(case_path.read_text())
    pixels, expected_case = generate_film(spec)
    assert case["image"]["path"] == "knee_case.dcm"
    assert case["limbs"] == expected_case["limbs"]

    ds = pydicom.dcmread(film)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == pydicom.uid.DigitalXRayImageStorageForPresentation
    assert ds.Modality == "DX"
    assert ds.SOPInstanceUID == case["image"]["sop_instance_uid"] == ds.file_meta.MediaStorageSOPInstanceUID
    assert (ds.Rows, ds.Columns) == (case["image"]["rows"], case["image"]["columns"]) == pixels.shape
    assert [float(v) for v in ds.PixelSpacing] == [SMALL, SMALL]
    assert ds.PixelSpacingCalibrationType == "GEOMETRY"
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx([SMALL * 1.1] * 2)
    assert "EstimatedRadiographicMagnificationFactor" not in ds
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert list(ds.WindowCenterWidthExplanation) == ["BONE", "SOFT"]
    assert len(ds.WindowCenter) == len(ds.WindowWidth) == 2
    assert str(ds.PatientName) == "DEMO^SYNTHETIC" and ds.PatientID == "DEMO-0001"
    assert ds.PatientSex in ("M", "F", "O") and len(ds.PatientBirthDate) == 8 and len(ds.StudyDate) == 8
    assert ds.StudyDescription == "Standing long-leg AP (synthetic)"
    assert list(ds.PatientOrientation) == ["L", "F"] and ds.ViewPosition == "AP"
    for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
        assert uid.is_valid
    assert np.array_equal(ds.pixel_array, pixels)


def test_ensure_demo_writes_once_into_the_cache(monkeypatch, tmp_path):
    """The one full-size film of the suite (about 2 s to draw, 35 MB)."""
    monkeypatch.setenv("DEFORMITY_APP_HOME", str(tmp_path))
    film, case = ensure_demo()
    assert film.parent == tmp_path / f"demo-{demo.GENERATOR_VERSION}" == demo.demo_cache_dir()
    ds = pydicom.dcmread(film, stop_before_pixels=True)
    assert (ds.Rows, ds.Columns) == (7000, 2500)
    assert json.loads(case.read_text())["ground_truth"]["preset"] == DEFAULT_DEMO.name

    def fail(*args, **kwargs):
        raise AssertionError("regenerated although present")

    monkeypatch.setattr(demo, "write_demo", fail)
    assert ensure_demo() == (film, case)


def test_ensure_demo_regenerates_a_missing_file(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "DEFAULT_DEMO", dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=1.0))
    film, case = ensure_demo(tmp_path)
    case.unlink()
    film2, case2 = ensure_demo(tmp_path)
    assert (film2, case2) == (film, case) and case.is_file()


def test_command_line(tmp_path, capsys):
    assert demo.main([str(tmp_path), "--preset", "normal", "--spacing", "1.0"]) == 0
    assert (tmp_path / "demo.dcm").is_file() and (tmp_path / "demo.case.json").is_file()
    assert demo.main([str(tmp_path / "bad"), "--spacing", "7"]) == 2
    assert "error" in capsys.readouterr().err


def test_module_entry_point(tmp_path, python_exe):
    out = subprocess.run([python_exe, "-m", "dicom_io.demo", str(tmp_path), "--all", "--spacing", "1.5"],
                         capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert len(list(tmp_path.glob("*.dcm"))) == len(bank_specs())


def test_ensure_demo_opens_the_demo_a_build_drew(tmp_path, monkeypatch):
    """A clinic build ships the demo drawn (resources/demo/demo-<version>): the first start opens it
    and draws nothing into the user's folder."""
    import dicom_io.demo as demo

    shipped = tmp_path / "shipped"
    film, case = demo.write_demo(shipped, demo.DEFAULT_DEMO, "demo")
    monkeypatch.setattr(demo, "predrawn_demo_dir", lambda: shipped)
    monkeypatch.setenv("DEFORMITY_APP_HOME", str(tmp_path / "home"))
    assert demo.ensure_demo() == (film, case)
    assert not (tmp_path / "home").exists()
    # without it (the source tree), the demo is drawn into the user's cache folder
    monkeypatch.setattr(demo, "predrawn_demo_dir", lambda: tmp_path / "nothing")
    drawn, _ = demo.ensure_demo()
    assert drawn.parent == tmp_path / "home" / f"demo-{demo.GENERATOR_VERSION}" and drawn.is_file()
