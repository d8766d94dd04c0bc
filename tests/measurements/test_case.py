"""The case file: reading, validating, writing back, atomically."""
import json
import os

import pytest

from measurements.case import Case, CaseError, load_case, parse_case, save_case
from measurements.landmarks import LANDMARK_NAMES, Side, landmark_prompt

EXAMPLE = {
    "format": "deformity-case/1",
    "image": {"path": "films/smith.dcm", "sop_instance_uid": "1.2.3", "rows": 7000, "columns": 2400},
    "pixel_spacing_mm": [0.15, 0.12],
    "calibration": {"source": "PixelSpacing"},
    "patient_orientation": ["L", "F"],
    "limbs": {
        "right": {"landmarks": {"femoral_head_center": [812.4, 1020.0], "knee_center": [901.0, 3890.5]}},
        "left": {"landmarks": {}},
    },
}


def test_reads_the_spec_example():
    case = Case.from_dict(EXAMPLE)
    assert case.pixel_spacing_mm == (0.15, 0.12)
    assert case.calibration_source == "PixelSpacing"
    assert case.limbs[Side.RIGHT].landmarks["knee_center"] == (901.0, 3890.5)
    assert case.limbs[Side.LEFT].landmarks == {}
    assert case.image["rows"] == 7000


def test_round_trip_keeps_unknown_keys(tmp_path):
    data = json.loads(json.dumps(EXAMPLE))
    data["reader"] = "dr-a"
    data["calibration"]["caveat"] = "marker at bone level"
    data["limbs"]["right"]["reference_deg"] = {"mpta_deg": 88}
    path = tmp_path / "a.case.json"
    save_case(Case.from_dict(data), path)
    back = json.loads(path.read_text())
    assert back == {**data}
    assert load_case(path).to_dict() == back


def test_defaults_and_uncalibrated():
    case = Case.from_dict({"format": "deformity-case/1"})
    assert case.pixel_spacing_mm is None and case.calibration_source == "none"
    assert case.patient_orientation == ("L", "F")
    assert case.limbs == {}


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_cen', "truncated"),
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "deformity-case/2"}', "unsupported case format"),
        ('{"limbs": {}}', "unsupported case format"),
        ('{"format": "deformity-case/1", "limbs": {"middle": {}}}', "unknown limb 'middle'"),
        ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [1]}}}}',
         "not a pair of finite numbers"),
        ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [1, "2"]}}}}',
         "not a pair of finite numbers"),
        ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [1, NaN]}}}}',
         "not a pair of finite numbers"),
        ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [1, Infinity]}}}}',
         "not a pair of finite numbers"),
        ('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee_center": [true, 2]}}}}',
         "not a pair of finite numbers"),
        ('{"format": "deformity-case/1", "pixel_spacing_mm": [0, 0.1], "calibration": {"source": "PixelSpacing"}}',
         "must be positive"),
        ('{"format": "deformity-case/1", "pixel_spacing_mm": [-0.1, 0.1], "calibration": {"source": "PixelSpacing"}}',
         "must be positive"),
        ('{"format": "deformity-case/1", "pixel_spacing_mm": [0.1], "calibration": {"source": "PixelSpacing"}}',
         "row_spacing, column_spacing"),
        ('{"format": "deformity-case/1", "pixel_spacing_mm": [0.1, 0.1], "calibration": {"source": "ruler"}}',
         "unknown calibration source"),
        ('{"format": "deformity-case/1", "patient_orientation": ["X", "F"]}', "letters other than"),
    ],
)
def test_refusals(text, reason):
    with pytest.raises(CaseError, match=reason):
        parse_case(text)


def test_load_errors_are_case_errors(tmp_path):
    with pytest.raises(CaseError, match="not found"):
        load_case(tmp_path / "missing.case.json")
    with pytest.raises(CaseError, match="folder"):
        load_case(tmp_path)
    (tmp_path / "bin.case.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CaseError):
        load_case(tmp_path / "bin.case.json")


def test_unknown_landmark_is_kept_with_a_warning():
    data = json.loads(json.dumps(EXAMPLE))
    data["limbs"]["right"]["landmarks"]["knee_centre"] = [1.0, 2.0]
    case = Case.from_dict(data)
    assert any("knee_centre" in w for w in case.warnings)
    assert case.to_dict()["limbs"]["right"]["landmarks"]["knee_centre"] == [1.0, 2.0]


def test_atomic_save_never_leaves_a_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "work.case.json"
    case = Case.from_dict(EXAMPLE)
    save_case(case, path)
    original = path.read_text()

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    case.limb(Side.RIGHT).landmarks["ankle_center"] = (1.0, 2.0)
    with pytest.raises(OSError):
        save_case(case, path)
    assert path.read_text() == original  # the old content is intact
    assert [p.name for p in tmp_path.iterdir()] == ["work.case.json"]  # no temporary file left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_saved_case_has_the_permissions_a_plain_file_gets(tmp_path):
    """Atomic saves go through mkstemp (0600): the case must still be readable by whoever may read
    the user's other files (a shared clinic folder), as a file written with open() would be."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = tmp_path / "work.case.json"
    save_case(Case.from_dict(EXAMPLE), path)
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_landmarks_order_and_prompts():
    assert LANDMARK_NAMES[0] == "femoral_head_center" and LANDMARK_NAMES[-1] == "ankle_center"
    assert len(LANDMARK_NAMES) == 16
    assert landmark_prompt("right", "greater_trochanter_tip") == "Click the tip of the right greater trochanter"
