"""Agreement statistics (practice.md): against Shrout & Fleiss's published table, pingouin, and by hand."""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from measurements.agreement import (HEADLINE, ICC_FORMS, AgreementError, agreement, bland_altman, icc, icc_notes,
                                    parse_reader, read_study)
from measurements.case import Case, save_case

# pingouin 0.7 calls a pandas keyword that pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning",
                                        "ignore:The inplace keyword:FutureWarning")

# Shrout & Fleiss (1979), table 2: six targets (rows), four judges (columns).
SF_TABLE = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
# The values practice.md quotes for that table.
SF_ICC = {"ICC(1,1)": 0.166, "ICC(A,1)": 0.290, "ICC(C,1)": 0.715, "ICC(1,k)": 0.443, "ICC(A,k)": 0.620,
          "ICC(C,k)": 0.909}
SPACING = 0.5


def mpta_landmarks(mpta_deg: float, knee=(300.0, 400.0)) -> dict[str, list[float]]:
    """Knee, ankle and plateau placed so that MPTA = `mpta_deg` exactly.

    The distal mechanical ray K -> A points straight down the film; the plateau's medial ray
    (Pl -> Pm) is turned `mpta_deg` from it, so the angle between the two rays is the value.
    """
    kx, ky = knee
    u = (math.sin(math.radians(mpta_deg)), math.cos(math.radians(mpta_deg)))
    half = 40.0 / SPACING
    return {
        "knee_center": [kx, ky],
        "ankle_center": [kx, ky + 700.0],
        "tibial_plateau_medial": [kx + half * u[0], ky + half * u[1]],
        "tibial_plateau_lateral": [kx - half * u[0], ky - half * u[1]],
    }


def write_case(path: Path, limbs: dict[str, dict], reader=None, film="film1", uid=None, **extra) -> Path:
    data = {
        "format": "deformity-case/1",
        "image": {"path": f"films/{film}.dcm", **({"sop_instance_uid": uid} if uid else {})},
        "pixel_spacing_mm": [SPACING, SPACING],
        "calibration": {"source": "PixelSpacing"},
        "limbs": {side: {"landmarks": pts} for side, pts in limbs.items()},
        **extra,
    }
    if reader is not None:
        data["reader"] = reader
    path.parent.mkdir(parents=True, exist_ok=True)
    save_case(Case.from_dict(data), path)
    return path


def sf_study(folder: Path) -> Path:
    """The Shrout & Fleiss table as 24 case files in one folder per reader: each value is an MPTA."""
    for i, row in enumerate(SF_TABLE):
        for j, value in enumerate(row):
            reader = "ABCD"[j]
            write_case(folder / reader / f"target{i + 1}.case.json", {"right": mpta_landmarks(value)},
                       reader={"name": reader, "session": 1}, film=f"target{i + 1}")
    return folder


def test_the_landmark_builder_gives_the_value():
    from measurements.measure import measure_case

    case = Case.from_dict({"format": "deformity-case/1", "pixel_spacing_mm": [SPACING, SPACING],
                           "limbs": {"right": {"landmarks": mpta_landmarks(7.0)}}})
    assert measure_case(case).limbs["right"].values["mpta_deg"] == pytest.approx(7.0, abs=1e-9)


def test_shrout_fleiss_table_from_case_files(tmp_path):
    result = agreement(sf_study(tmp_path / "study"))
    assert result.readers == ("A", "B", "C", "D")
    assert len(result.subjects) == 6
    m = result.measurements["mpta_deg"]
    assert m.n == 6
    assert m.matrix == pytest.approx(np.array(SF_TABLE, dtype=float), abs=1e-9)
    for form, expected in SF_ICC.items():
        assert round(m.icc.icc[form], 3) == pytest.approx(expected, abs=1e-9), form
    lo, hi = m.icc.ci95["ICC(A,1)"]
    assert (round(lo, 2), round(hi, 2)) == (0.02, 0.76)

    values = [v for row in SF_TABLE for v in row]
    expected_sem = statistics.stdev(values) * math.sqrt(1 - m.icc.icc["ICC(A,1)"])
    assert m.sem == pytest.approx(expected_sem, rel=1e-12)
    assert m.mdc95 == pytest.approx(1.96 * math.sqrt(2) * expected_sem, rel=1e-12)

    diffs = [row[0] - row[1] for row in SF_TABLE]  # A - B
    ba = m.bland_altman["A|B"]
    assert ba.n == 6
    assert ba.bias == pytest.approx(statistics.mean(diffs), abs=1e-9)
    assert ba.sd == pytest.approx(statistics.stdev(diffs), abs=1e-9)
    assert ba.loa == pytest.approx((statistics.mean(diffs) - 1.96 * statistics.stdev(diffs),
                                    statistics.mean(diffs) + 1.96 * statistics.stdev(diffs)), abs=1e-9)
    assert list(m.bland_altman) == ["A|B", "A|C", "A|D", "B|C", "B|D", "C|D"]
    assert m.intra == {}

    data = result.to_json()
    json.dumps(data, allow_nan=False)  # valid JSON: no NaN anywhere
    assert data["measurements"]["mpta_deg"]["icc"]["ICC(A,1)"] == pytest.approx(0.290, abs=5e-4)
    assert data["measurements"]["mpta_deg"]["ci95"]["ICC(A,1)"] == pytest.approx([0.02, 0.76], abs=5e-3)
    # tibia length is the same for everyone: the ICC is undefined, not a crash or a NaN in the JSON
    assert data["measurements"]["tibia_length_mm"]["icc"] is None
    assert "do not vary" in data["measurements"]["tibia_length_mm"]["unavailable"]


def _pingouin_table(pg, matrix: np.ndarray):
    import pandas as pd

    n, k = matrix.shape
    df = pd.DataFrame([(i, j, matrix[i, j]) for i in range(n) for j in range(k)], columns=["s", "r", "v"])
    return pg.intraclass_corr(df, targets="s", raters="r", ratings="v").set_index("Type")


@pytest.mark.parametrize("seed", range(6))
def test_random_studies_match_pingouin(seed):
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(4, 30)), int(rng.integers(2, 6))
    # subjects differ, readers have a systematic offset, and noise
    matrix = rng.normal(87, 3, (n, 1)) + rng.normal(0, 1.0, (1, k)) + rng.normal(0, 1.2, (n, k))
    ours = icc(matrix)
    theirs = _pingouin_table(pg, matrix)
    for form in ICC_FORMS:
        assert ours.icc[form] == pytest.approx(theirs.loc[form, "ICC"], abs=1e-12), form
        lo, hi = theirs.loc[form, "CI95"]  # pingouin rounds its intervals to 2 decimals
        assert ours.ci95[form][0] == pytest.approx(lo, abs=0.005 + 1e-9), form
        assert ours.ci95[form][1] == pytest.approx(hi, abs=0.005 + 1e-9), form


# Low agreement (six subjects, three readers, values like noise): pingouin's ICC(A,k) interval comes out
# as 20.12 to 0.56, its lower limit above its upper, because ICC(A,1)'s lower limit (-0.54) is below
# -1/(k-1) = -0.5, where the Spearman–Brown step-up to k readers leaves its range.
LOW_AGREEMENT = [[-0.4, -1.1, 0.7], [-1.1, 2.0, 0.9], [-0.4, 0.6, 1.6], [2.8, -0.9, 1.1], [0.5, -0.3, 1.1],
                 [0.5, 1.1, -0.5]]


def test_negative_limits_are_kept_as_pingouin_computes_them():
    """Low agreement gives negative ICCs and negative lower limits: correct, and the same as pingouin's."""
    pg = pytest.importorskip("pingouin")
    ours = icc(LOW_AGREEMENT)
    theirs = _pingouin_table(pg, np.array(LOW_AGREEMENT))
    assert ours.icc["ICC(A,1)"] < 0 and ours.ci95["ICC(A,1)"][0] < -0.5
    for form in ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(C,k)"):
        lo, hi = theirs.loc[form, "CI95"]
        assert ours.ci95[form] == pytest.approx((lo, hi), abs=0.005 + 1e-9), form
        assert ours.ci95[form][0] <= ours.ci95[form][1], form
    assert ours.icc["ICC(A,k)"] == pytest.approx(theirs.loc["ICC(A,k)", "ICC"], abs=1e-9)


def test_an_interval_whose_lower_limit_is_beyond_the_step_up_is_unbounded_not_inverted():
    pg = pytest.importorskip("pingouin")
    x = np.array(LOW_AGREEMENT)
    k = x.shape[1]
    theirs_lo, theirs_hi = _pingouin_table(pg, x).loc["ICC(A,k)", "CI95"]
    assert theirs_lo > theirs_hi  # what the packages print
    ours = icc(x)
    lo1, hi1 = ours.ci95["ICC(A,1)"]
    assert lo1 < -1 / (k - 1) < hi1
    lo, hi = ours.ci95["ICC(A,k)"]
    assert lo == -math.inf  # every ICC(A,k) below the step-up of the upper limit is allowed
    assert hi == pytest.approx(k * hi1 / (1 + (k - 1) * hi1), abs=1e-12)
    assert hi == pytest.approx(theirs_hi, abs=0.005 + 1e-9)
    assert any("ICC(A,k): the lower 95 % limit is unbounded" in note for note in icc_notes(ours))


def test_icc_a_k_is_undefined_when_icc_a_1_is_below_the_step_up_range():
    """Row means all equal (MSR 0) and readers closer than the residual: ICC(A,1) below -1/(k-1)."""
    x = [[0.0, 1.0, 2.0], [1.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 2.0]]
    n, k = 4, 3
    # by hand: MSR 0; column means 0.75, 1, 1.25 give MSC = 4 * 0.125 / 2 = 0.25; SST 8 = SSC 0.5 + SSE 7.5
    msr, msc, mse = 0.0, 0.25, 7.5 / ((n - 1) * (k - 1))
    a1 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    assert a1 == pytest.approx(-0.714285714, abs=1e-6) and a1 < -1 / (k - 1)
    stepped_up = (msr - mse) / (msr + (msc - mse) / n)
    assert stepped_up > 1  # what the formula (and pingouin) would report: not a correlation
    result = icc(x)
    assert result.icc["ICC(A,1)"] == pytest.approx(a1, abs=1e-12)
    assert math.isnan(result.icc["ICC(A,k)"])
    assert any(note.startswith("ICC(A,k) is undefined") for note in icc_notes(result))


def test_unbounded_limits_in_json_and_csv(tmp_path):
    """An unbounded limit is null in the JSON, with a note saying why, and -Inf in the CSV."""
    for i, row in enumerate(LOW_AGREEMENT):
        for j, value in enumerate(row):
            write_case(tmp_path / "ABC"[j] / f"t{i}.case.json", {"right": mpta_landmarks(86.0 + value)},
                       reader={"name": "ABC"[j]}, film=f"t{i}")
    result = agreement(tmp_path)
    data = result.to_json()
    json.dumps(data, allow_nan=False)
    mpta = data["measurements"]["mpta_deg"]
    assert mpta["ci95"]["ICC(A,k)"][0] is None and mpta["ci95"]["ICC(A,k)"][1] is not None
    assert any("unbounded" in note for note in mpta["notes"])
    rows = [r for r in result.csv_rows() if r["measurement"] == "mpta_deg" and r["statistic"] == "ICC(A,k)"]
    assert rows[0]["ci95_low"] == "-Inf"


def test_mean_squares_by_hand():
    """An ANOVA written out as sums of squares (no numpy) gives the same ICC(A,1) as the module."""
    x = SF_TABLE
    n, k = len(x), len(x[0])
    grand = sum(map(sum, x)) / (n * k)
    row_means = [sum(r) / k for r in x]
    col_means = [sum(x[i][j] for i in range(n)) / n for j in range(k)]
    ssr = k * sum((m - grand) ** 2 for m in row_means)
    ssc = n * sum((m - grand) ** 2 for m in col_means)
    sse = sum((x[i][j] - row_means[i] - col_means[j] + grand) ** 2 for i in range(n) for j in range(k))
    msr, msc, mse = ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1))
    expected = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    result = icc(x)
    assert result.mean_squares.msr == pytest.approx(msr) and result.mean_squares.mse == pytest.approx(mse)
    assert result.icc["ICC(A,1)"] == pytest.approx(expected, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(offset=st.floats(-20, 20), scale=st.floats(0.1, 10), bias=st.floats(1, 5))
def test_consistency_ignores_a_reader_offset_absolute_agreement_does_not(offset, scale, bias):
    x = np.array(SF_TABLE, dtype=float) * scale + offset
    base = icc(x)
    assert base.icc["ICC(A,1)"] == pytest.approx(SF_ICC["ICC(A,1)"], abs=5e-4)  # shift and scale invariant
    shifted = x.copy()
    shifted[:, 0] += bias * scale  # reader A reads systematically higher
    after = icc(shifted)
    assert after.icc["ICC(C,1)"] == pytest.approx(base.icc["ICC(C,1)"], abs=1e-9)
    assert after.icc["ICC(A,1)"] != pytest.approx(base.icc["ICC(A,1)"], abs=1e-6)


def test_identical_readers_give_one():
    x = [[80.0, 80.0], [85.0, 85.0], [90.0, 90.0]]
    r = icc(x)
    for form in ICC_FORMS:
        assert r.icc[form] == pytest.approx(1.0)
    assert r.ci95["ICC(A,1)"] == (1.0, 1.0)


def test_bland_altman_of_one_pair():
    ba = bland_altman([1.0], [3.0])
    assert ba.n == 1 and ba.bias == -2.0 and math.isnan(ba.sd)
    with pytest.raises(ValueError):
        icc([[1.0, 2.0]])  # one subject


def mixed_study(folder: Path) -> Path:
    """Three readers; A read twice; C skipped film 3; one case without a reader; one broken file;
    one case naming no film; a second copy of one of B's cases."""
    a1 = [84.0, 88.0, 90.0, 81.0, 86.0]
    a2 = [85.0, 87.5, 91.0, 80.0, 86.5]
    b = [83.0, 88.5, 89.0, 82.0, 87.0]
    c = [84.5, 87.0, None, 81.5, 85.0]
    left = [87.0, 86.0, 88.0, 85.0, 89.0]
    for i in range(5):
        film = f"film{i + 1}"
        uid = f"1.2.3.{i + 1}"
        write_case(folder / "A" / "s1" / f"{film}.case.json",
                   {"right": mpta_landmarks(a1[i]), "left": mpta_landmarks(left[i], knee=(900.0, 400.0))},
                   reader={"name": "A", "session": 1}, film=film, uid=uid)
        write_case(folder / "A" / "s2" / f"{film}.case.json", {"right": mpta_landmarks(a2[i])},
                   reader={"name": "A", "session": 2}, film=film, uid=uid)
        # B names the film by its file name only: joined to the UID through A's cases
        write_case(folder / "B" / f"{film}.case.json",
                   {"right": mpta_landmarks(b[i]), "left": mpta_landmarks(left[i] + 0.5, knee=(900.0, 400.0))},
                   reader="B", film=film)
        if c[i] is not None:
            write_case(folder / "C" / f"{film}.case.json", {"right": mpta_landmarks(c[i])},
                       reader={"name": "C"}, film=film, uid=uid)
    write_case(folder / "unassigned.case.json", {"right": mpta_landmarks(86.0)}, film="film1")
    write_case(folder / "B" / "zz-again-film1.case.json", {"right": mpta_landmarks(70.0)}, reader="B", film="film1")
    nameless = Case.from_dict({"format": "deformity-case/1", "limbs": {"right": {"landmarks": mpta_landmarks(86.0)}},
                               "reader": {"name": "C"}})
    save_case(nameless, folder / "C" / "nameless.case.json")
    (folder / "broken.case.json").write_text('{"format": "deformity-case/1", "limbs": {"right": ')
    return folder


def test_mixed_study(tmp_path):
    pg = pytest.importorskip("pingouin")
    result = agreement(mixed_study(tmp_path / "study"))
    assert result.readers == ("A", "B", "C")
    assert result.sessions == {"A": (1, 2), "B": (1,), "C": (1,)}
    assert len(result.subjects) == 10  # five films, two limbs
    skipped = {s.file: s.reason for s in result.skipped}
    assert skipped["unassigned.case.json"] == "no reader"
    assert "not valid JSON" in skipped["broken.case.json"]
    assert "does not name its film" in skipped["C/nameless.case.json"]
    assert skipped["B/zz-again-film1.case.json"] == \
        "a second case of reader B, session 1 for this film (the first, B/film1.case.json, is used)"
    assert result.not_measured["C"] == ("film1.dcm left", "film2.dcm left", "film3.dcm right", "film3.dcm left",
                                        "film4.dcm left", "film5.dcm left")
    assert result.not_measured["A"] == () and result.not_measured["B"] == ()

    m = result.measurements["mpta_deg"]
    # the right limbs of films 1, 2, 4, 5 (C skipped film 3; only A and B measured left limbs)
    assert m.subjects == ("film1.dcm right", "film2.dcm right", "film4.dcm right", "film5.dcm right")
    assert m.n == 4 and m.subjects_present == 10
    expected = np.array([[84.0, 83.0, 84.5], [88.0, 88.5, 87.0], [81.0, 82.0, 81.5], [86.0, 87.0, 85.0]])
    assert m.matrix == pytest.approx(expected, abs=1e-9)
    theirs = _pingouin_table(pg, expected)
    for form in ICC_FORMS:
        assert m.icc.icc[form] == pytest.approx(theirs.loc[form, "ICC"], abs=1e-12)
    # Bland–Altman A|B uses every subject both measured (film 3 right and the five left limbs too)
    assert m.bland_altman["A|B"].n == 10
    assert m.bland_altman["A|C"].n == 4 and m.bland_altman["B|C"].n == 4
    # intra-reader: A only (B and C have one session), over the right limbs (A's session 2 has no left)
    assert set(m.intra) == {"A"}
    intra = m.intra["A"]
    assert intra.n == 5
    sessions = np.array([[84.0, 85.0], [88.0, 87.5], [90.0, 91.0], [81.0, 80.0], [86.0, 86.5]])
    theirs = _pingouin_table(pg, sessions)
    assert intra.icc_a1 == pytest.approx(theirs.loc["ICC(A,1)", "ICC"], abs=1e-12)
    assert intra.sem == pytest.approx(statistics.stdev(sessions.ravel().tolist())
                                      * math.sqrt(1 - theirs.loc["ICC(A,1)", "ICC"]), rel=1e-9)
    data = result.to_json()
    json.dumps(data, allow_nan=False)
    assert data["measurements"]["mpta_deg"]["intra"]["A"]["n"] == 5
    assert {"file": "unassigned.case.json", "reason": "no reader"} in data["skipped"]


def test_a_measurement_in_fewer_than_three_subjects_is_left_out(tmp_path):
    for reader in "AB":
        for i, value in enumerate([85.0, 87.0]):
            write_case(tmp_path / f"{reader}{i}.case.json", {"right": mpta_landmarks(value)},
                       reader={"name": reader}, film=f"f{i}")
    result = agreement(tmp_path)
    assert result.measurements == {}


def test_one_reader_gives_intra_but_no_inter(tmp_path):
    for session, values in ((1, [85.0, 87.0, 90.0]), (2, [85.5, 86.0, 90.5])):
        for i, value in enumerate(values):
            write_case(tmp_path / f"s{session}" / f"{i}.case.json", {"right": mpta_landmarks(value)},
                       reader={"name": "Solo", "session": session}, film=f"f{i}")
    m = agreement(tmp_path).measurements["mpta_deg"]
    assert m.icc is None and "one reader" in m.unavailable
    assert m.bland_altman == {}
    assert m.intra["Solo"].n == 3 and math.isfinite(m.intra["Solo"].icc_a1)


@pytest.mark.parametrize("extra,expected", [
    ({"reader": {"name": "A", "session": 2}}, ("A", 2)),
    ({"reader": {"name": " B "}}, ("B", 1)),
    ({"reader": "C", "session": 3}, ("C", 3)),
])
def test_reader_forms(extra, expected):
    case = Case.from_dict({"format": "deformity-case/1", **extra})
    assert parse_reader(case) == expected


@pytest.mark.parametrize("extra,reason", [
    ({}, "no reader"),
    ({"reader": {"session": 1}}, "no reader"),
    ({"reader": {"name": "A", "session": 0}}, "session"),
    ({"reader": {"name": "A", "session": "one"}}, "session"),
])
def test_reader_refusals(extra, reason):
    case = Case.from_dict({"format": "deformity-case/1", **extra})
    with pytest.raises(ValueError, match=reason):
        parse_reader(case)


def test_folder_refusals(tmp_path):
    with pytest.raises(AgreementError, match="not found"):
        read_study(tmp_path / "missing")
    with pytest.raises(AgreementError, match="no case files"):
        read_study(tmp_path)
    write_case(tmp_path / "x.case.json", {"right": mpta_landmarks(86.0)})
    with pytest.raises(AgreementError, match="no case file names a reader"):
        agreement(tmp_path)


def test_headline_is_absolute_agreement():
    assert HEADLINE == "ICC(A,1)"
