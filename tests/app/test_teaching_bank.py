"""The teaching bank: nine generated keys whose expert measurements match their diagnoses; saving a key."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest

from deformity_app.teaching_bank import (LEVELS, MANIFEST_NAME, KeyInfo, TeachingBankError, default_bank_dir,
                                         ensure_bank, list_keys, read_key, save_as_key)
from measurements.case import Case, load_case, save_case
from measurements.measure import measure_case
from measurements.scoring import score_attempt

SPECTRUM = {"normal", "femoral_varus", "femoral_valgus", "proximal_tibial_varus", "tibial_valgus",
            "joint_line_convergence", "ankle_malorientation", "two_level", "limb_length_discrepancy"}
NORMAL_MAT = {"malalignment": "none", "femur": "normal", "tibia": "normal", "joint": "normal", "hip": "normal",
              "ankle": "normal"}


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    return ensure_bank(tmp_path_factory.mktemp("bank"), pixel_spacing_mm=0.6)


@pytest.fixture(scope="module")
def keys(bank):
    return {k.id: k for k in list_keys(bank)}


def test_nine_keys_with_their_metadata(keys):
    assert set(keys) == SPECTRUM
    for key in keys.values():
        assert key.film_exists and key.film_path.suffix == ".dcm"
        assert key.title and key.level in LEVELS and key.diagnosis
        assert len(key.teaching_points) >= 3
        assert key.info.author and "synthetic" in key.info.source
        assert key.calibrated and key.limbs == ("right", "left")
    assert [k.id for k in list_keys(keys["normal"].path.parent)][0] == "normal"  # teaching order


def _measure(key):
    case, _summary = read_key(key.path)
    return measure_case(case)


# What each diagnosis says, checked on the expert's own landmarks (right limb unless named).
def test_proximal_tibial_varus(keys):
    r = _measure(keys["proximal_tibial_varus"]).limbs["right"]
    assert r.values["mpta_deg"] < 85 and 85 <= r.values["mldfa_deg"] <= 90
    assert r.mat["malalignment"] == "varus" and r.mat["tibia"] == "varus" and r.mat["femur"] == "normal"
    assert r.values["mad_mm"] > 15
    assert "MPTA below 85" in " ".join(keys["proximal_tibial_varus"].teaching_points)


def test_tibial_valgus(keys):
    r = _measure(keys["tibial_valgus"]).limbs["right"]
    assert r.values["mpta_deg"] > 90 and r.mat["tibia"] == "valgus" and r.mat["malalignment"] == "valgus"
    assert r.values["mad_mm"] < 1


@pytest.mark.parametrize("name,sign", [("femoral_varus", 1), ("femoral_valgus", -1)])
def test_femoral_deformities(keys, name, sign):
    r = _measure(keys[name]).limbs["right"]
    word = "varus" if sign > 0 else "valgus"
    assert (r.values["mldfa_deg"] > 90) if sign > 0 else (r.values["mldfa_deg"] < 85)
    assert 85 <= r.values["mpta_deg"] <= 90
    assert r.mat["femur"] == word and r.mat["malalignment"] == word and r.mat["tibia"] == "normal"
    assert word in keys[name].diagnosis and "femoral origin" in keys[name].diagnosis


def test_joint_line_convergence(keys):
    r = _measure(keys["joint_line_convergence"]).limbs["right"]
    assert r.values["jlca_deg"] > 2 and r.mat["joint"] == "varus"
    assert r.mat["femur"] == "normal" and r.mat["tibia"] == "normal" and r.mat["malalignment"] == "varus"


def test_ankle_malorientation(keys):
    r = _measure(keys["ankle_malorientation"]).limbs["right"]
    assert r.values["ldta_deg"] < 86 and r.mat["ankle"] == "valgus" and r.mat["malalignment"] == "none"


def test_two_level(keys):
    r = _measure(keys["two_level"]).limbs["right"]
    assert r.values["mldfa_deg"] > 90 and r.values["mpta_deg"] < 85
    assert r.mat["femur"] == "varus" and r.mat["tibia"] == "varus" and r.mat["malalignment"] == "varus"


def test_limb_length_discrepancy(keys):
    result = _measure(keys["limb_length_discrepancy"])
    assert result.lld_mm == pytest.approx(20.0, abs=1.0)  # right longer by the left tibia's 20 mm
    assert result.limbs["left"].values["tibia_length_mm"] == pytest.approx(
        result.limbs["right"].values["tibia_length_mm"] - 20.0, abs=1.0)
    for side in ("right", "left"):
        assert {k: v for k, v in result.limbs[side].mat.items() if k != "summary"} == NORMAL_MAT


def test_normal(keys):
    result = _measure(keys["normal"])
    for side in ("right", "left"):
        limb = result.limbs[side]
        assert {k: v for k, v in limb.mat.items() if k != "summary"} == NORMAL_MAT
        assert 1 <= limb.values["mad_mm"] <= 15
    assert abs(result.lld_mm) < 1


def test_the_other_limb_is_normal_in_every_deformity(keys):
    for name in SPECTRUM - {"normal", "limb_length_discrepancy"}:
        left = _measure(keys[name]).limbs["left"]
        assert {k: v for k, v in left.mat.items() if k != "summary"} == NORMAL_MAT, name


def test_a_key_scores_100_against_itself(keys):
    case, _ = read_key(keys["two_level"].path)
    assert score_attempt(case.copy(), case).score_pct == 100.0


def _words_of_the_answers() -> set[str]:
    """Words of the keys' titles and diagnoses that name a deformity (checked against what a fellow sees)."""
    from deformity_app.teaching_bank import bank_entries

    words = {"varus", "valgus", "tibial", "femoral", "convergence", "malorientation", "discrepancy", "two-level"}
    for preset, info in bank_entries():
        words |= {preset, preset.replace("_", "-"), info.title.lower()}
    return words


def test_nothing_a_fellow_sees_of_a_bank_film_names_its_deformity(bank, keys):
    """The film's file name and its DICOM descriptions and comments are neutral (the key case, the
    answer, may say everything)."""
    answers = _words_of_the_answers()
    assert sorted(p.name for p in bank.glob("*.dcm")) == [f"key-{i:02d}.dcm" for i in range(1, 10)]
    for key in keys.values():
        ds = pydicom.dcmread(key.film_path, stop_before_pixels=True)
        shown = " ".join([key.film_path.name, key.path.name] + [str(ds.get(name, "")) for name in (
            "StudyDescription", "SeriesDescription", "ImageComments", "ProtocolName", "DerivationDescription",
            "PerformedProcedureStepDescription", "RequestedProcedureDescription")]).lower()
        assert not any(word in shown for word in answers), (key.id, shown)
        # the case names its film by the film's own UID, which is not the demo film's
        assert key.sop_instance_uid == str(ds.SOPInstanceUID) == str(ds.file_meta.MediaStorageSOPInstanceUID)
    from dicom_io.demo import DEFAULT_DEMO, generate_case

    demo_uid = generate_case(DEFAULT_DEMO)["image"]["sop_instance_uid"]
    assert demo_uid not in {k.sop_instance_uid for k in keys.values()}


def test_a_bank_of_the_earlier_layout_is_replaced(tmp_path):
    """A bank drawn before the films were named neutrally: its files (named after the diagnosis) go."""
    folder = tmp_path / "bank"
    folder.mkdir()
    old_stems = ["01-normal", "04-proximal-tibial-varus"]
    for stem in old_stems:
        (folder / f"{stem}.dcm").write_bytes(b"old film")
        (folder / f"{stem}.case.json").write_text("{}")
    (folder / "my-notes.txt").write_text("kept")
    (folder / MANIFEST_NAME).write_text(json.dumps({"generator_version": "1", "pixel_spacing_mm": 0.6,
                                                    "metadata": "x", "files": old_stems}))
    ensure_bank(folder, pixel_spacing_mm=0.6)
    assert not any((folder / f"{stem}{suffix}").exists() for stem in old_stems for suffix in (".dcm", ".case.json"))
    assert (folder / "my-notes.txt").exists()
    assert [k.path.name for k in list_keys(folder)] == [f"key-{i:02d}.case.json" for i in range(1, 10)]


def test_ensure_bank_is_idempotent_and_rewrites_only_metadata(bank):
    films = sorted(bank.glob("*.dcm"))
    cases = sorted(bank.glob("*.case.json"))
    assert len(films) == 9 and len(cases) == 9
    film_times = [f.stat().st_mtime_ns for f in films]
    case_times = [c.stat().st_mtime_ns for c in cases]
    assert ensure_bank(bank, pixel_spacing_mm=0.6) == bank
    assert [f.stat().st_mtime_ns for f in films] == film_times
    assert [c.stat().st_mtime_ns for c in cases] == case_times
    # the teaching points changed (a newer application): keys rewritten, films kept
    manifest = json.loads((bank / MANIFEST_NAME).read_text())
    manifest["metadata"] = "old"
    (bank / MANIFEST_NAME).write_text(json.dumps(manifest))
    first = cases[0]
    data = json.loads(first.read_text())
    data["key"]["teaching_points"] = ["stale"]
    first.write_text(json.dumps(data))
    ensure_bank(bank, pixel_spacing_mm=0.6)
    assert [f.stat().st_mtime_ns for f in films] == film_times
    assert load_case(first).extra["key"]["teaching_points"] != ["stale"]


def test_default_folder_is_in_the_user_cache():
    from dicom_io.demo import GENERATOR_VERSION

    folder = default_bank_dir()
    assert folder.name == f"teaching-bank-{GENERATOR_VERSION}"
    assert Path(os.environ["DEFORMITY_APP_HOME"]) in folder.parents  # tests redirect the user folders


def test_save_as_key_anonymises(keys, tmp_path):
    source = keys["proximal_tibial_varus"]
    case, _ = read_key(source.path)
    case.extra["reader"] = {"name": "Dr Who", "session": 2}
    case.extra["measured_at"] = "2026-01-01T10:00"
    original = pydicom.dcmread(source.film_path)
    assert str(original.PatientName) == "DEMO^SYNTHETIC"

    info = KeyInfo(title="My tibial varus", level="intermediate", diagnosis="Tibial varus",
                   teaching_points=("MPTA below 85",), author="Clinic", source="own film")
    saved = save_as_key(case, source.film_path, tmp_path / "clinic", info)
    ds = pydicom.dcmread(saved.film_path)
    for name in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber"):
        assert str(ds.get(name, "")) == "", name
    assert ds.PatientIdentityRemoved == "YES" and len(ds.DeidentificationMethod) <= 64
    assert ds.SOPInstanceUID != original.SOPInstanceUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.StudyInstanceUID != original.StudyInstanceUID
    assert np.array_equal(ds.pixel_array, original.pixel_array)
    assert "ImageComments" not in ds
    # descriptions may name the diagnosis (a key's film is measured blind): removed, as DICOM's basic
    # confidentiality profile removes them
    assert original.StudyDescription and "StudyDescription" not in ds and "SeriesDescription" not in ds

    key_case = load_case(saved.case_path)
    assert set(key_case.extra) == {"key"}  # no reader, patient, measured_at or ground truth
    assert key_case.extra["key"]["title"] == "My tibial varus"
    assert key_case.image == {"path": saved.film_path.name, "sop_instance_uid": str(ds.SOPInstanceUID),
                              "rows": case.image["rows"], "columns": case.image["columns"]}
    assert key_case.limbs["right"].landmarks == case.limbs["right"].landmarks
    listed = list_keys(tmp_path / "clinic")
    assert [k.title for k in listed] == ["My tibial varus"] and listed[0].film_exists
    # saving again never overwrites
    again = save_as_key(case, source.film_path, tmp_path / "clinic", info)
    assert again.case_path != saved.case_path and again.case_path.name == "my-tibial-varus-2.case.json"


def test_save_as_key_without_anonymising_keeps_everything(keys, tmp_path):
    source = keys["normal"]
    case, _ = read_key(source.path)
    case.extra["reader"] = "Dr A"
    saved = save_as_key(case, source.film_path, tmp_path, {"title": "Teaching normal"}, anonymise=False)
    assert str(pydicom.dcmread(saved.film_path).PatientName) == "DEMO^SYNTHETIC"
    kept = load_case(saved.case_path)
    assert kept.extra["reader"] == "Dr A" and kept.extra["key"]["title"] == "Teaching normal"
    assert kept.image["sop_instance_uid"] == case.image["sop_instance_uid"]


def test_save_as_key_of_a_scanned_film_warns(tmp_path):
    film = tmp_path / "scan.png"
    film.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    case = Case.from_dict({"format": "deformity-case/1", "image": {"path": "scan.png"},
                           "limbs": {"right": {"landmarks": {"knee_center": [1.0, 2.0]}}}, "patient": {"sex": "F"}})
    saved = save_as_key(case, film, tmp_path / "keys", {"title": "Scan"})
    assert saved.film_path.suffix == ".png" and saved.film_path.read_bytes() == film.read_bytes()
    assert any("not a DICOM file" in w for w in saved.warnings)
    assert "patient" not in load_case(saved.case_path).extra


def test_save_as_key_refusals(tmp_path):
    case = Case.from_dict({"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [1, 2]}}}})
    film = tmp_path / "f.dcm"
    film.write_bytes(b"x")
    with pytest.raises(TeachingBankError, match="title"):
        save_as_key(case, film, tmp_path / "k", {"title": " "})
    with pytest.raises(TeachingBankError, match="film"):
        save_as_key(case, tmp_path / "missing.dcm", tmp_path / "k", {"title": "T"})
    with pytest.raises(TeachingBankError, match="no landmarks"):
        save_as_key(Case(), film, tmp_path / "k", {"title": "T"})


def test_list_keys_reads_only_keys(tmp_path):
    plain = Case.from_dict({"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [1, 2]}}}})
    save_case(plain, tmp_path / "plain.case.json")
    keyed = plain.copy()
    keyed.extra["key"] = {"title": "A key", "teaching_points": "one point"}
    (tmp_path / "sub").mkdir()
    save_case(keyed, tmp_path / "sub" / "keyed.case.json")
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    (tmp_path / "broken.case.json").write_text("{")
    listed = list_keys(tmp_path)
    assert [k.title for k in listed] == ["A key"]
    assert listed[0].teaching_points == ("one point",) and listed[0].film_path is None and not listed[0].film_exists
    assert list_keys(tmp_path / "missing") == []
