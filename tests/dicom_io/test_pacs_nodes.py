"""PACS node settings and the value types of dicom_io.pacs (no network)."""
from __future__ import annotations

import json

import pytest

from dicom_io.pacs import (
    DimseNode,
    NodeSettingsError,
    Progress,
    RetrieveResult,
    Study,
    WebNode,
    check_date_range,
    check_uid,
    load_nodes,
    node_from_dict,
    node_to_dict,
    save_nodes,
)
from dicom_io.pacs.dimse import MAX_CONTEXTS, retrieve_contexts

SPEC_EXAMPLE = {"nodes": {
    "radiology": {"kind": "dimse", "host": "10.1.2.3", "port": 104, "called_aet": "PACS",
                  "calling_aet": "DEFORMITY", "retrieve": "C-GET"},
    "web": {"kind": "dicomweb", "url": "https://pacs.example/dicom-web"}}}


def test_the_spec_example_loads(tmp_path):
    path = tmp_path / "pacs.json"
    path.write_text(json.dumps(SPEC_EXAMPLE))
    nodes = load_nodes(path)
    assert nodes["radiology"] == DimseNode("10.1.2.3", 104, "PACS", "DEFORMITY", "C-GET", name="radiology")
    assert nodes["web"] == WebNode("https://pacs.example/dicom-web", name="web")
    assert nodes["radiology"].kind == "dimse" and nodes["web"].kind == "dicomweb"


def test_round_trip_keeps_unknown_keys(tmp_path):
    data = json.loads(json.dumps(SPEC_EXAMPLE))
    data["nodes"]["radiology"]["comment"] = "level 2"
    data["nodes"]["radiology"]["retrieve"] = "C-MOVE"
    data["nodes"]["radiology"]["store_port"] = 11112
    path = tmp_path / "pacs.json"
    path.write_text(json.dumps(data))
    nodes = load_nodes(path)
    save_nodes(path, nodes)
    again = json.loads(path.read_text())
    assert again == data
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_missing_or_empty_file_has_no_nodes(tmp_path):
    assert load_nodes(tmp_path / "absent.json") == {}
    (tmp_path / "empty.json").write_text("")
    assert load_nodes(tmp_path / "empty.json") == {}


@pytest.mark.parametrize("data, words", [
    ({"host": "h", "port": 104}, "needs called_aet"),
    ({"host": "h", "port": 0, "called_aet": "A"}, "1 to 65535"),
    ({"host": "h", "port": 104, "called_aet": "A" * 17}, "longer than 16"),
    ({"host": "h", "port": 104, "called_aet": "PA\\CS"}, "backslash"),
    ({"host": "h", "port": 104, "called_aet": "PACS", "retrieve": "C-FETCH"}, "C-GET or C-MOVE"),
    ({"kind": "dicomweb", "url": "ftp://x"}, "not an http"),
    ({"kind": "hl7"}, "unknown kind"),
    ({"host": "h", "port": 104, "called_aet": "A", "timeout": -1}, "timeout"),
])
def test_bad_nodes_are_named_in_the_error(data, words):
    with pytest.raises(NodeSettingsError) as info:
        node_from_dict("main", data)
    assert "'main'" in str(info.value) and words in str(info.value)


def test_bad_json_is_one_sentence(tmp_path):
    path = tmp_path / "pacs.json"
    path.write_text("{nodes: ")
    with pytest.raises(NodeSettingsError) as info:
        load_nodes(path)
    assert "not valid JSON" in str(info.value) and "line 1" in str(info.value)


def test_node_to_dict_writes_the_spec_shape():
    assert node_to_dict(DimseNode("h", 104, "PACS")) == {"kind": "dimse", "host": "h", "port": 104, "called_aet": "PACS",
                                                         "calling_aet": "DEFORMITY", "retrieve": "C-GET"}
    assert node_to_dict(WebNode("http://x/dicom-web", timeout_s=5)) == {"kind": "dicomweb", "url": "http://x/dicom-web",
                                                                        "timeout": 5.0}


def test_study_json_has_every_key_with_null_for_absent():
    assert Study("1.2.3").to_json() == {
        "study_uid": "1.2.3", "patient_name": None, "patient_id": None, "birth_date": None, "sex": None,
        "study_date": None, "description": None, "accession": None, "modalities": [], "series": None,
        "instances": None}


def test_retrieve_result_json():
    assert RetrieveResult(received=2, failed=1).to_json() == {"received": 2, "failed": 1, "files": []}


def test_progress_fraction():
    assert Progress(2, 4, 1).fraction == 0.75
    assert Progress(3, None).fraction is None


@pytest.mark.parametrize("good", ["20250101", "20250101-20250131", "20250101-", "-20250131"])
def test_date_ranges(good):
    assert check_date_range(good) == good


@pytest.mark.parametrize("bad", ["2025-01-01", "", "-", "202501", "20250101-2025"])
def test_bad_dates(bad):
    with pytest.raises(ValueError):
        check_date_range(bad)


@pytest.mark.parametrize("bad", ["", "1.2.a", "../../etc", "1." * 40])
def test_uids_are_checked_before_naming_files(bad):
    with pytest.raises(ValueError):
        check_uid(bad)


def test_c_get_proposes_one_context_per_compressed_syntax_within_the_limit():
    contexts, roles = retrieve_contexts()
    assert len(contexts) <= MAX_CONTEXTS
    from pydicom.uid import (
        ComputedRadiographyImageStorage,
        JPEG2000Lossless,
        JPEGLSLossless,
    )

    cr = [syntaxes for cls, syntaxes in contexts if cls == ComputedRadiographyImageStorage]
    assert [JPEG2000Lossless] in cr and [JPEGLSLossless] in cr  # one context each, as stored
    assert any(len(s) > 1 for s in cr)  # and one for the uncompressed syntaxes
    assert len(roles) == len({cls for cls, _ in contexts}) - 1  # SCP role for every storage class
