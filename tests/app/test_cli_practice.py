"""`deformity-app score` and `agreement` end to end, in subprocesses, as a person or a script runs them.

The commands are started together (two cores) by one fixture and each test reads its own run. The
agreement PDF's pages are rendered under test-output/agreement/ for a person to look at (when
poppler's pdftoppm is installed).
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deformity_app.practice_cli import main
from measurements.case import Case, save_case
from tests.measurements.test_agreement import mixed_study, sf_study
from tests.measurements.worked_cases import NORMAL, TIBIAL_VARUS, make_case

OUT = Path(__file__).resolve().parents[2] / "test-output" / "agreement"
PDFTOPPM = shutil.which("pdftoppm")


def _case(limbs, uid="1.2.3", key=None) -> Case:
    case = make_case(limbs)
    case.image["sop_instance_uid"] = uid
    if key:
        case.extra["key"] = key
    return case


NO_QT = (
    "import sys\n"
    "import deformity_app.practice_cli, deformity_app.agreement_report, deformity_app.teaching_bank\n"
    "import deformity_app.practice_store, measurements.scoring, measurements.agreement\n"
    "print(','.join(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))\n"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("practice")
    f = {
        "key": root / "key.case.json",
        "attempt": root / "attempt.case.json",
        "other_film": root / "other.case.json",
        "broken": root / "broken.case.json",
        "mixed": mixed_study(root / "mixed"),
        "sf": sf_study(root / "sf"),
        "out": root / "out",
    }
    save_case(_case({"right": NORMAL}, key={"title": "Normal knee", "level": "basic"}), f["key"])
    save_case(_case({"right": TIBIAL_VARUS}), f["attempt"])
    save_case(_case({"right": NORMAL}, uid="9.9.9"), f["other_film"])
    f["broken"].write_text('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee')
    f["out"].mkdir()
    return f


@pytest.fixture(scope="module")
def runs(files) -> dict[str, subprocess.CompletedProcess]:
    out = files["out"]
    commands = {
        "score_text": ["score", files["attempt"], files["key"]],
        "score_json": ["score", files["attempt"], files["key"], "--json"],
        "score_other_film": ["score", files["other_film"], files["key"]],
        "agreement_all": ["agreement", files["mixed"], "--json", "--csv", out / "mixed.csv", "--pdf",
                          out / "mixed.pdf"],
        "agreement_text": ["agreement", files["sf"], "--pdf", out / "sf.pdf"],
        "agreement_missing": ["agreement", files["out"] / "nowhere"],
    }
    argvs = {name: [sys.executable, "-m", "deformity_app.practice_cli", *map(str, args)]
             for name, args in commands.items()}
    argvs["no_qt"] = [sys.executable, "-c", NO_QT]
    procs = {name: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, argv in argvs.items()}
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return results


def test_score_table(runs):
    proc = runs["score_text"]
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Key:" in out and "Normal knee (basic)" in out
    assert "Lengths in mm with the key's pixel spacing (0.15 x 0.15 mm)" in out
    assert "Right limb" in out
    mpta = next(line for line in out.splitlines() if line.strip().startswith("MPTA"))
    assert "82.0°" in mpta and "87.0°" in mpta and "-5.0°" in mpta and "±1.5°" in mpta and "FAIL" in mpta
    mldfa = next(line for line in out.splitlines() if line.strip().startswith("mLDFA"))
    assert mldfa.rstrip().endswith("pass")
    assert "MAT: FAIL" in out
    assert "Score:" in out and "%" in out


def test_score_json(runs):
    proc = runs["score_json"]
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"landmarks", "measurements", "mat", "score_pct"}
    right = data["measurements"]["right"]
    assert right["mpta_deg"]["attempt"] == pytest.approx(82.0, abs=0.01)
    assert right["mpta_deg"]["key"] == pytest.approx(87.0, abs=0.01)
    assert right["mpta_deg"]["error"] == pytest.approx(-5.0, abs=0.01) and right["mpta_deg"]["pass"] is False
    assert right["mldfa_deg"]["pass"] is True
    assert data["landmarks"]["right"]["knee_center"] == {"placed": True, "error_mm": 0.0, "tolerance_mm": 3.0,
                                                         "pass": True}
    assert data["mat"]["right"]["pass"] is False
    passed = sum(m["pass"] for m in right.values())
    assert data["score_pct"] == pytest.approx(round(100 * passed / (len(right) + 1), 1))


def test_score_refuses_another_film(runs, files):
    proc = runs["score_other_film"]
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{files['other_film']}: ") and "another film" in lines[0]


def test_agreement_outputs(runs, files):
    proc = runs["agreement_all"]
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["readers"] == ["A", "B", "C"] and data["subjects"] == 10
    assert {"file": "unassigned.case.json", "reason": "no reader"} in data["skipped"]
    mpta = data["measurements"]["mpta_deg"]
    assert mpta["n"] == 4 and set(mpta["icc"]) == {"ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)",
                                                    "ICC(C,k)"}
    assert list(mpta["bland_altman"]) == ["A|B", "A|C", "B|C"] and mpta["bland_altman"]["A|B"]["n"] == 10
    assert set(mpta["intra"]) == {"A"}
    assert data["not_measured"]["C"][0] == "film1.dcm left"

    rows = list(csv.DictReader(io.StringIO((files["out"] / "mixed.csv").read_text())))
    icc_row = next(r for r in rows if r["measurement"] == "mpta_deg" and r["statistic"] == "ICC(A,1)"
                   and r["analysis"] == "inter")
    assert float(icc_row["value"]) == pytest.approx(mpta["icc"]["ICC(A,1)"], abs=1e-4)
    assert float(icc_row["ci95_low"]) == pytest.approx(mpta["ci95"]["ICC(A,1)"][0], abs=1e-4)
    assert icc_row["readers"] == "A|B|C" and icc_row["n"] == "4"
    ba = {r["statistic"]: float(r["value"]) for r in rows
          if r["measurement"] == "mpta_deg" and r["analysis"] == "bland_altman" and r["readers"] == "A|B"}
    assert ba["bias"] == pytest.approx(mpta["bland_altman"]["A|B"]["bias"], abs=1e-3)
    assert ba["loa_high"] == pytest.approx(mpta["bland_altman"]["A|B"]["loa"][1], abs=1e-3)
    assert any(r["analysis"] == "intra" and r["readers"] == "A" for r in rows)

    from pypdf import PdfReader

    reader = PdfReader(str(files["out"] / "mixed.pdf"))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Reader agreement", "ICC(A,1)", "Bland–Altman", "MPTA", "unassigned.case.json",
                     "Intra-reader", "Mean of A and B", "bias", "+1.96 SD"):
        assert expected in text, expected
    _render_and_assert_pages(files["out"] / "mixed.pdf", "mixed")


def test_agreement_summary_of_the_published_table(runs, files):
    proc = runs["agreement_text"]
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip().startswith("ICC(")}
    expected = {"ICC(1,1)": "0.166", "ICC(A,1)": "0.290", "ICC(C,1)": "0.715", "ICC(1,k)": "0.443",
                "ICC(A,k)": "0.620", "ICC(C,k)": "0.909"}
    for form, value in expected.items():
        assert lines[form].split()[1] == value, lines[form]
    assert "95 % CI 0.02 to 0.76" in lines["ICC(A,1)"]
    _render_and_assert_pages(files["out"] / "sf.pdf", "shrout-fleiss")


def test_agreement_refuses_a_missing_folder(runs, files):
    proc = runs["agreement_missing"]
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"{files['out'] / 'nowhere'}: folder not found"


# The other refusals through the same entry point, in this process (each is one line and exit 2).
def test_refusals_in_process(files, tmp_path, capsys):
    cases = [
        (["score", str(files["broken"]), str(files["key"])], str(files["broken"]), "not valid JSON"),
        (["score", str(files["attempt"]), str(tmp_path / "none.case.json")], str(tmp_path / "none.case.json"),
         "file not found"),
        (["agreement", str(tmp_path / "blank")], str(tmp_path / "blank"), "no case files"),
        (["agreement", str(files["mixed"]), "--csv", str(tmp_path / "no" / "x.csv")], str(tmp_path / "no" / "x.csv"),
         "does not exist"),
        (["agreement", str(files["mixed"]), "--pdf", str(tmp_path / "no" / "x.pdf")], str(tmp_path / "no" / "x.pdf"),
         "does not exist"),
    ]
    (tmp_path / "blank").mkdir()
    empty = Case.from_dict({"format": "deformity-case/1", "limbs": {}})
    save_case(empty, tmp_path / "empty-key.case.json")
    cases.append((["score", str(files["attempt"]), str(tmp_path / "empty-key.case.json")],
                  str(tmp_path / "empty-key.case.json"), "no landmarks"))
    unread = tmp_path / "unread"
    unread.mkdir()
    save_case(make_case({"right": NORMAL}), unread / "x.case.json")
    cases.append((["agreement", str(unread)], str(unread), "no case file names a reader"))
    for argv, path, reason in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and reason in lines[0], (argv, captured.err)


def test_score_of_an_uncalibrated_key_says_its_tolerances_are_pixels(tmp_path, capsys):
    """practice.md gives no pixel tolerance: the choice (the mm numbers used as pixels) is printed."""
    key = make_case({"right": NORMAL}, calibrated=False)
    save_case(key, tmp_path / "key.case.json")
    attempt = key.copy()
    x, y = attempt.limbs["right"].landmarks["knee_center"]
    attempt.limbs["right"].landmarks["knee_center"] = (x + 2.5, y)  # 2.5 px: within 3 "px"
    save_case(attempt, tmp_path / "attempt.case.json")
    assert main(["score", str(tmp_path / "attempt.case.json"), str(tmp_path / "key.case.json")]) == 0
    out = capsys.readouterr().out
    assert "uncalibrated" in out and "millimetre tolerances and bands of the scoring rules are applied as pixels" in out
    knee = next(line for line in out.splitlines() if line.strip().startswith("Knee centre"))
    assert "2.5 px" in knee and "3 px" in knee and knee.rstrip().endswith("pass")
    assert main(["score", str(tmp_path / "attempt.case.json"), str(tmp_path / "key.case.json"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unit"] == "px" and data["landmarks"]["right"]["knee_center"]["error_px"] == 2.5


def test_score_of_a_two_limb_key_scores_the_limb_length_discrepancy(tmp_path, capsys):
    key = make_case({"right": NORMAL, "left": NORMAL})
    save_case(key, tmp_path / "key.case.json")
    attempt = key.copy()
    del attempt.limbs["left"]
    save_case(attempt, tmp_path / "attempt.case.json")
    assert main(["score", str(tmp_path / "attempt.case.json"), str(tmp_path / "key.case.json")]) == 0
    out = capsys.readouterr().out
    assert "Both limbs" in out
    lld = next(line for line in out.splitlines() if line.strip().startswith("LLD (right − left)"))
    assert "FAIL" in lld and "needs both limbs" in lld
    assert main(["score", str(tmp_path / "attempt.case.json"), str(tmp_path / "key.case.json"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["measurements"]["case"]["lld_mm"]["pass"] is False
    assert data["measurements"]["case"]["lld_mm"]["key"] == 0.0  # the same limb on both sides


def _render_and_assert_pages(pdf: Path, name: str) -> None:
    if PDFTOPPM is None:
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run([PDFTOPPM, "-r", "80", "-png", str(pdf), str(OUT / name)], check=True, timeout=60)
    assert list(OUT.glob(f"{name}-*.png"))


def test_practice_modules_never_import_qt(runs):
    proc = runs["no_qt"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
