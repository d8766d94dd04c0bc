"""The practice history: attempts kept one file each, read back, aggregated and exported."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
from pathlib import Path

import pytest

from deformity_app.practice_store import (attempts_dir, error_series, export_history_csv, load_history, mean_errors,
                                          save_attempt, score_series)
from measurements.case import Case
from measurements.scoring import score_attempt
from tests.measurements.worked_cases import NORMAL, make_case

UTC = dt.timezone.utc


def key_case(key_id="normal") -> Case:
    case = make_case({"right": NORMAL})
    case.image["sop_instance_uid"] = "1.2.3"
    case.extra["key"] = {"id": key_id, "title": key_id.capitalize()}
    return case


def nudged(case: Case, name: str, dx_mm: float) -> Case:
    out = case.copy()
    x, y = out.limbs["right"].landmarks[name]
    out.limbs["right"].landmarks[name] = (x + dx_mm / 0.15, y)
    return out


def submit(key: Case, attempt: Case, when: dt.datetime, folder: Path | None = None):
    return save_attempt(attempt, key, score_attempt(attempt, key), key_path=Path("/bank/01-normal.case.json"),
                        reader="fellow", seconds=95.0, submitted_at=when, folder=folder)


def test_default_folder_is_the_users_data_folder():
    folder = attempts_dir()
    assert folder == Path(os.environ["DEFORMITY_APP_HOME"]) / "data" / "attempts" and folder.is_dir()


def test_save_and_read_back(tmp_path):
    key = key_case()
    first = submit(key, nudged(key, "knee_center", 1.0), dt.datetime(2026, 3, 1, 9, tzinfo=UTC), tmp_path)
    second = submit(key, nudged(key, "knee_center", 4.0), dt.datetime(2026, 3, 2, 9, tzinfo=UTC), tmp_path)
    other = submit(key_case("varus"), key_case("varus"), dt.datetime(2026, 2, 1, tzinfo=UTC), tmp_path)
    files = sorted(tmp_path.glob("*.attempt.json"))
    assert len(files) == 3
    data = json.loads(first.path.read_text())
    assert data["format"] == "deformity-attempt/1" and data["key"]["id"] == "normal"
    assert data["attempt"]["format"] == "deformity-case/1" and data["score"]["score_pct"] == first.score_pct

    history = load_history(tmp_path)
    assert [r.id for r in history] == [other.id, first.id, second.id]  # oldest first
    assert [r.id for r in load_history(tmp_path, key_id="normal")] == [first.id, second.id]
    r = history[1]
    assert r.reader == "fellow" and r.seconds == 95.0 and r.key_title == "Normal"
    assert r.submitted_at == dt.datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert r.errors("landmark")["knee_center"] == [(pytest.approx(1.0), True)]
    assert history[2].errors("landmark")["knee_center"] == [(pytest.approx(4.0), False)]


def test_same_moment_never_overwrites(tmp_path):
    key = key_case()
    when = dt.datetime(2026, 3, 1, tzinfo=UTC)
    a = submit(key, key.copy(), when, tmp_path)
    b = submit(key, key.copy(), when, tmp_path)
    assert a.path != b.path and len(load_history(tmp_path)) == 2


def test_damaged_files_are_left_out(tmp_path):
    key = key_case()
    submit(key, key.copy(), dt.datetime(2026, 3, 1, tzinfo=UTC), tmp_path)
    (tmp_path / "broken.attempt.json").write_text("{")
    (tmp_path / "other.attempt.json").write_text('{"format": "something-else"}')
    assert len(load_history(tmp_path)) == 1


def test_aggregates(tmp_path):
    key = key_case()
    days = [dt.datetime(2026, 3, d, tzinfo=UTC) for d in (1, 2, 3)]
    errors_mm = [4.0, 2.0, 1.0]  # knee centre moved medially or laterally by these
    for when, err in zip(days, errors_mm):
        submit(key, nudged(key, "knee_center", err), when, tmp_path)
    history = load_history(tmp_path)

    means = mean_errors(history, "landmark")
    assert means["knee_center"].mean_abs == pytest.approx(sum(errors_mm) / 3)
    assert means["knee_center"].passed_fraction == pytest.approx(2 / 3)  # 4 mm fails the 3 mm tolerance
    assert means["ankle_center"].mean_abs == pytest.approx(0.0, abs=1e-9)
    assert list(means)[0] == "femoral_head_center"  # clinical order

    later = mean_errors(history, "landmark", since=days[1])
    assert later["knee_center"].mean_abs == pytest.approx(1.5) and later["knee_center"].n == 2

    series = error_series(history, "landmark")["knee_center"]
    assert [p.value for p in series] == pytest.approx(errors_mm)
    assert [p.when for p in series] == days

    # moving the knee centre changes the angles it makes: errors per measurement, by attempt
    mfta = error_series(history, "measurement")["mfta_deg"]
    assert len(mfta) == 3 and mfta[0].value > mfta[1].value > mfta[2].value
    assert mean_errors(history)["mfta_deg"].n == 3
    scores = score_series(history)
    assert [p.when for p in scores] == days and scores[-1].value >= scores[0].value


def test_unplaced_landmarks_count_as_failures_but_have_no_error(tmp_path):
    key = key_case()
    attempt = key.copy()
    del attempt.limbs["right"].landmarks["ankle_center"]
    submit(key, attempt, dt.datetime(2026, 3, 1, tzinfo=UTC), tmp_path)
    means = mean_errors(load_history(tmp_path), "landmark")
    assert means["ankle_center"].n == 0 and math.isnan(means["ankle_center"].mean_abs)
    assert means["ankle_center"].passed_fraction == 0.0 and means["ankle_center"].scored == 1


def test_csv_export(tmp_path):
    key = key_case()
    submit(key, nudged(key, "knee_center", 2.0), dt.datetime(2026, 3, 1, tzinfo=UTC), tmp_path)
    out = export_history_csv(load_history(tmp_path), tmp_path / "history.csv")
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    knee = next(r for r in rows if r["item"] == "landmark" and r["name"] == "knee_center")
    assert float(knee["error"]) == pytest.approx(2.0) and knee["unit"] == "mm" and knee["pass"] == "yes"
    mpta = next(r for r in rows if r["item"] == "measurement" and r["name"] == "mpta_deg")
    assert mpta["unit"] == "deg" and float(mpta["key"]) == pytest.approx(87.0, abs=0.01)
    score = next(r for r in rows if r["item"] == "score")
    assert score["attempt"] and score["key_title"] == "Normal"
    assert any(r["item"] == "mat" for r in rows)
