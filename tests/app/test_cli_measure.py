"""`deformity-app measure` end to end, in a subprocess, as a script or a person would run it."""
import csv
import io
import json
import subprocess
import sys

import pytest

from measurements.case import save_case
from tests.measurements.worked_cases import NORMAL, TIBIAL_VARUS, make_case


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "deformity_app.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture
def cases(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    save_case(make_case({"right": TIBIAL_VARUS, "left": NORMAL}), folder / "a.case.json")
    save_case(make_case({"right": NORMAL}, calibrated=False), folder / "b.case.json")
    return folder


def test_table(cases):
    proc = run("measure", str(cases / "a.case.json"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Right limb" in out and "Left limb" in out
    assert "82.0°" in out and "87 (85 to 90)" in out  # MPTA value and its normal range
    assert "17 mm medial" in out
    assert "MAT: Varus malalignment (MAD 17 mm medial" in out and "of tibial origin (MPTA 82.0°)" in out
    assert "Calibration: PixelSpacing" in out
    assert "LLD:" in out


def test_json_matches_the_spec_keys(cases):
    proc = run("measure", str(cases / "a.case.json"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    right = data["limbs"]["right"]
    assert right["mpta_deg"] == pytest.approx(82.0, abs=0.01)
    assert right["mad_mm"] == pytest.approx(17.35, abs=0.01)
    assert right["mat"]["tibia"] == "varus"
    assert data["calibration"]["source"] == "PixelSpacing"
    assert "lld_mm" in data


def test_uncalibrated_json_has_no_mm(cases):
    data = json.loads(run("measure", str(cases / "b.case.json"), "--json").stdout)
    right = data["limbs"]["right"]
    assert not [k for k in right if k.endswith("_mm")]
    assert right["mad_px"] == pytest.approx(0.0, abs=0.01)
    assert data["calibration"] == {"source": "none", "pixel_spacing_mm": None}


def test_csv_over_a_folder(cases):
    proc = run("measure", str(cases), "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["case_file"].rsplit("/", 1)[-1], r["limb"]) for r in rows] == [
        ("a.case.json", "right"), ("a.case.json", "left"), ("b.case.json", "right")]
    assert float(rows[0]["mpta_deg"]) == pytest.approx(82.0, abs=0.01)
    assert rows[0]["mat_malalignment"] == "varus"
    assert rows[2]["mad_mm"] == "" and rows[2]["calibration_source"] == "none"


@pytest.mark.parametrize("content,reason", [
    ('{"format": "deformity-case/1", "limbs": {"middle": {}}}', "unknown limb"),
    ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee', "truncated"),
    ("not json at all", "not valid JSON"),
    ('{"format": "other/9"}', "unsupported case format"),
])
def test_refused_file_exits_2_with_one_line(tmp_path, content, reason):
    path = tmp_path / "bad.case.json"
    path.write_text(content)
    proc = run("measure", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(path)) and reason in lines[0]
    assert "Traceback" not in proc.stderr


def test_one_refused_among_good_ones_still_measures_the_rest(cases, tmp_path):
    bad = tmp_path / "bad.case.json"
    bad.write_text("{")
    proc = run("measure", str(cases / "a.case.json"), str(bad), "--csv")
    assert proc.returncode == 2
    assert len(list(csv.DictReader(io.StringIO(proc.stdout)))) == 2
    assert str(bad) in proc.stderr


def test_missing_file_and_empty_folder(tmp_path):
    proc = run("measure", str(tmp_path / "nope.case.json"))
    assert proc.returncode == 2 and "file not found" in proc.stderr
    proc = run("measure", str(tmp_path))
    assert proc.returncode == 2 and "no case files" in proc.stderr


def test_bundled_example_case():
    from resources import resource_path

    proc = run("measure", str(resource_path("examples", "worked_cases.case.json")), "--json")
    data = json.loads(proc.stdout)
    assert data["limbs"]["right"]["mpta_deg"] == pytest.approx(82.0, abs=0.01)
    assert data["limbs"]["left"]["mpta_deg"] == pytest.approx(87.0, abs=0.01)


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("deformity-app ")
