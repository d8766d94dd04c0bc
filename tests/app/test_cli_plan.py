"""`deformity-app plan` end to end, in a subprocess (deformity_app.plan_cli.main until cli.py wires it)."""
import csv
import io
import json
import subprocess
import sys

import pytest

from measurements.case import Case, save_case
from tests.measurements.test_planning import PLAN_A, PLAN_B, WORKED_PX
from tests.measurements.worked_cases import NORMAL, TIBIAL_VARUS, make_case


def run(*args):
    return subprocess.run([sys.executable, "-m", "deformity_app.plan_cli", "plan", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plans")
    worked = Case.from_dict({
        "format": "deformity-case/1", "pixel_spacing_mm": [0.1, 0.1], "calibration": {"source": "PixelSpacing"},
        "limbs": {"right": {"landmarks": {k: list(v) for k, v in WORKED_PX.items()},
                            "plans": [PLAN_A, PLAN_B, {**PLAN_B, "name": "Too far", "target": {"wbl_pct": 400}}]}},
        "patient": {"sex": "male", "age_years": 8.25},
    })
    save_case(worked, folder / "worked.case.json")
    both = make_case({"right": TIBIAL_VARUS, "left": NORMAL})
    both.extra["patient"] = {"sex": "female", "age_years": 10}
    save_case(both, folder / "both.case.json")
    return folder


def test_summary(files):
    proc = run(str(files / "worked.case.json"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Right limb" in out
    assert "MPTA 87.0° (normal mean)" in out
    assert "WBL: 16.5 %" in out
    assert "Tibia CORA: 8.0° varus, 60.1 mm below the knee centre, 309.9 mm above the ankle centre" in out
    assert "Femur CORA: none" in out
    assert "Plan 1: 'HTO opening wedge' (tibia)" in out and "Correction: 8.0° toward valgus" in out
    assert "Paley rule 1" in out
    assert "Wedge: neutral (medial end +4.2 mm, lateral end -4.2 mm" in out
    assert "Correction: 10.9° toward valgus, solved for WBL 62.5 %" in out
    assert "Wedge: opening (medial end +11.3 mm" in out
    assert "Length change: +7.3 mm" in out
    assert "MPTA" in out and "80.3° (LOW)" in out and "87 (85 to 90)" in out  # current, normal range
    assert "Plan 3: 'Too far' (tibia): unavailable (no angle between" in out
    assert "Growth: — (needs both limbs)" in out


def test_json_has_the_spec_keys(files):
    proc = run(str(files / "worked.case.json"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    right = data["limbs"]["right"]
    assert set(right) >= {"reference_deg", "reference_source", "wbl_pct", "cora", "plans", "unavailable"}
    assert set(right["cora"]) == {"femur", "tibia"}
    assert right["cora"]["tibia"]["from_proximal_mm"] == pytest.approx(60.099, abs=0.002)
    a, b, far = right["plans"]
    for key in ("name", "bone", "angle_deg", "rule", "wedge", "opening_mm", "axis_translation_mm",
                "length_change_mm", "predicted"):
        assert key in a, key
    assert a["opening_mm"] == {"medial": pytest.approx(4.175, abs=0.002), "lateral": pytest.approx(-4.175, abs=0.002)}
    assert b["angle_deg"] == pytest.approx(10.886, abs=0.002)
    assert set(far) == {"name", "bone", "unavailable"}
    assert data["unavailable"] == {"growth": "needs both limbs"}

    both = json.loads(run(str(files / "both.case.json"), "--json").stdout)
    growth = both["growth"]
    assert set(growth) >= {"multiplier", "lld_mm", "lld_at_maturity_mm", "growth_remaining_mm"}
    assert growth["multiplier"] == 1.19
    assert set(growth["growth_remaining_mm"]) == {"right", "left"}


def test_csv_one_row_per_plan(files):
    proc = run(str(files), "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["case_file"].rsplit("/", 1)[-1], r["plan"]) for r in rows] == [
        ("worked.case.json", "HTO opening wedge"), ("worked.case.json", "Fujisawa"), ("worked.case.json", "Too far")]
    a, b, far = rows
    assert float(a["opening_medial_mm"]) == pytest.approx(4.175, abs=0.002) and a["rule"] == "1"
    assert float(a["current_mpta_deg"]) == pytest.approx(80.295, abs=0.002)
    assert float(a["predicted_mpta_deg"]) == pytest.approx(87.0, abs=0.002)
    assert float(b["angle_deg"]) == pytest.approx(10.886, abs=0.002) and b["target"] == "wbl_pct"
    assert far["unavailable"].startswith("no angle") and far["angle_deg"] == ""


def test_refusals_exit_2_with_one_line_each(tmp_path):
    cases = {
        "notjson.case.json": ("{", "not valid JSON"),
        "plans.case.json": ('{"format": "deformity-case/1", "limbs": {"right": {"plans": {"a": 1}}}}',
                            "'plans' of the right limb must be a list"),
        "age.case.json": ('{"format": "deformity-case/1", "patient": {"sex": "male", "age_years": -3}}',
                          "age cannot be negative"),
        "ref.case.json": ('{"format": "deformity-case/1", "limbs": {"left": {"reference_deg": {"mpta_deg": "x"}}}}',
                          "reference angle 'mpta_deg' of the left limb"),
    }
    for name, (text, _reason) in cases.items():
        (tmp_path / name).write_text(text)
    proc = run(*(str(tmp_path / name) for name in cases), str(tmp_path / "missing.case.json"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(cases) + 1
    for line, (name, (_text, reason)) in zip(lines, cases.items()):
        assert line.startswith(str(tmp_path / name) + ": ") and reason in line
    assert lines[-1] == f"{tmp_path / 'missing.case.json'}: file not found"


def test_one_refused_file_alone(tmp_path):
    path = tmp_path / "bad.case.json"
    path.write_text('{"format": "other/9"}')
    proc = run(str(path), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    expected = f"{path}: unsupported case format 'other/9' (expected 'deformity-case/1')"
    assert proc.stderr.strip().splitlines() == [expected]
