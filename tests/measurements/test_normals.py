"""Normal ranges come from the data file, and editing the file changes flags and the malalignment test."""
import json

import pytest

from measurements.landmarks import Side
from measurements.measure import ANGLE_KEYS, measure_case
from measurements.normals import NormalsError, default_normals, load_normals

from .worked_cases import TIBIAL_VARUS, make_case


def test_bundled_normals_have_sources_for_every_angle_and_mad():
    normals = default_normals()
    for key in ANGLE_KEYS + ("mad_mm",):
        rng = normals.get(key)
        assert rng is not None, key
        assert rng.low <= rng.mean <= rng.high, key
        assert rng.source and rng.evidence, key
    # the spec's numbers (measurements.md table)
    assert (normals.get("mldfa_deg").low, normals.get("mldfa_deg").high) == (85.0, 90.0)
    assert (normals.get("ldta_deg").low, normals.get("ldta_deg").high) == (86.0, 92.0)
    assert (normals.get("mad_mm").low, normals.get("mad_mm").high) == (1.0, 15.0)


def test_a_clinic_edit_changes_flags_and_mat(tmp_path):
    data = json.loads(default_normals().path.read_text())
    data["measurements"]["mpta_deg"]["low"] = 80.0
    data["mat"]["mpta_deg"]["varus_below"] = 80.0
    data["mat"]["mad_mm"]["varus_above"] = 20.0
    path = tmp_path / "normals.json"
    path.write_text(json.dumps(data))
    normals = load_normals(path)
    limb = measure_case(make_case({"right": TIBIAL_VARUS}), normals).limbs[Side.RIGHT]
    assert limb.flags["mpta_deg"] == "normal"
    assert limb.mat["tibia"] == "normal"
    assert limb.mat["malalignment"] == "none"


@pytest.mark.parametrize("content,reason", [
    ("nope", "not valid JSON"),
    ('{"format": "x"}', "deformity-normals/1"),
    ('{"format": "deformity-normals/1", "measurements": {"mpta_deg": {"mean": "a", "low": 1, "high": 2}}}',
     "must be a number"),
    ('{"format": "deformity-normals/1", "measurements": {}, "mat": {}}', "no malalignment band"),
])
def test_bad_normals_file(tmp_path, content, reason):
    path = tmp_path / "n.json"
    path.write_text(content)
    with pytest.raises(NormalsError, match=reason):
        load_normals(path)
