"""`deformity-app pacs ...` and `deformity-app export` (dicom-exchange.md) against Orthanc.

Most runs call `pacs_cli.main(argv)` in the test process (fast); a few run it in a subprocess to
check what a user sees: exit status, one line on standard error, no traceback.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from deformity_app import pacs_cli
from tests.pacs_fixtures import OUR_AET, films, free_port, orthanc  # noqa: F401


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = pacs_cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deformity_app.pacs_cli", *argv], capture_output=True, text=True,
                          timeout=120)


def dimse_args(server, *extra: str) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(server.dicom_port), "--called-aet", server.aet,
            "--calling-aet", OUR_AET, "--timeout", "10", *extra]


@pytest.fixture
def nodes_file(orthanc):
    """The user's settings with the test Orthanc as a DIMSE node and as a DICOMweb node."""
    path = pacs_cli.nodes_path()
    path.write_text(json.dumps({"nodes": {
        "orthanc": {"kind": "dimse", "host": "127.0.0.1", "port": orthanc.dicom_port, "called_aet": orthanc.aet,
                    "calling_aet": OUR_AET, "retrieve": "C-GET", "store_port": orthanc.move_port, "timeout": 10},
        "web": {"kind": "dicomweb", "url": orthanc.dicomweb_url, "timeout": 10}}}))
    return path


def assert_one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- echo / find / series -------------------------------------------------------------------------------------


def test_echo_direct_and_by_node(capsys, orthanc, nodes_file):
    code, out, _ = run(capsys, "pacs", "echo", *dimse_args(orthanc))
    assert code == 0 and "answered (C-ECHO)" in out
    code, out, _ = run(capsys, "pacs", "echo", "--node", "web")
    assert code == 0 and "DICOMweb" in out


def test_find_json_has_the_spec_keys(capsys, orthanc, films, nodes_file):
    for node in ("orthanc", "web"):
        code, out, err = run(capsys, "pacs", "find", "--node", node, "--modality", "CR,DX", "--json")
        assert code == 0, err
        studies = {s["study_uid"]: s for s in json.loads(out)}
        demo = studies[films.demo_study]
        assert list(demo) == ["study_uid", "patient_name", "patient_id", "birth_date", "sex", "study_date",
                              "description", "accession", "modalities", "series", "instances"]
        assert demo["patient_id"] == "DEMO-0001" and demo["accession"] is None and demo["modalities"] == ["DX"]
        assert "DEMO^SYNTHETIC" not in err  # never a patient name in a log


def test_find_table_and_filters(capsys, orthanc, films, nodes_file):
    code, out, _ = run(capsys, "pacs", "find", "--node", "orthanc", "--patient-id", "DEMO-0001", "--date",
                       "20250101")
    assert code == 0 and films.demo_study in out and "2025-01-01" in out
    code, out, _ = run(capsys, "pacs", "find", "--node", "orthanc", "--patient-id", "NOBODY")
    assert code == 0 and "No study matches" in out


def test_series_json(capsys, orthanc, films, nodes_file):
    code, out, _ = run(capsys, "pacs", "series", films.demo_study, "--node", "web", "--json")
    assert code == 0
    assert json.loads(out) == [{"series_uid": films.demo_series, "modality": "DX", "description": "Proximal tibial varus",
                                "number": 1, "instances": 1}]


# --- get --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [["--node", "orthanc"], ["--node", "orthanc", "--retrieve", "C-MOVE"],
                                 ["--node", "web"]])
def test_get_writes_one_file_per_instance(capsys, orthanc, films, nodes_file, tmp_path, how):
    out_dir = tmp_path / "films"
    code, out, err = run(capsys, "pacs", "get", films.j2k_study, "--out", str(out_dir), "--json", *how)
    assert code == 0, err
    result = json.loads(out)
    assert result["received"] == 1 and result["failed"] == 0
    assert result["files"] == [str(out_dir / f"{films.j2k_sop}.dcm")]
    assert sorted(p.name for p in out_dir.iterdir()) == [f"{films.j2k_sop}.dcm"]


def test_get_one_series(capsys, orthanc, films, nodes_file, tmp_path):
    code, out, _ = run(capsys, "pacs", "get", films.demo_study, "--series", films.demo_series, "--out", str(tmp_path),
                       "--node", "orthanc")
    assert code == 0 and "Received 1 instance(s)" in out


def test_partial_get_keeps_files_says_what_failed_and_exits_2(capsys, orthanc, films, nodes_file, tmp_path):
    blocked = orthanc.find("Instance", {"PatientID": "MULTI-1"})[0]
    uid = orthanc.get(f"/instances/{blocked}/simplified-tags")["SOPInstanceUID"]
    (tmp_path / f"{uid}.dcm").mkdir()
    code, out, err = run(capsys, "pacs", "get", films.multi_study, "--out", str(tmp_path), "--node", "orthanc",
                         "--json")
    assert code == 2
    result = json.loads(out)
    assert result["received"] == films.multi_count - 1 and result["failed"] == 1
    line = assert_one_line(err)
    assert "partial retrieve" in line and "could not be written" in line


# --- store ------------------------------------------------------------------------------------------------------


def test_store_folder_json_per_file(capsys, orthanc, films, nodes_file, tmp_path):
    ds = pydicom.dcmread(films.tiny)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    (tmp_path / "readme.txt").write_text("not a film")
    code, out, err = run(capsys, "pacs", "store", str(tmp_path), "--node", "orthanc", "--json")
    assert code == 2  # one file was not DICOM
    result = json.loads(out)
    statuses = {Path(i["file"]).name: i["status"] for i in result["instances"]}
    assert statuses == {"a.dcm": "stored", "readme.txt": "failed"}
    assert "readme.txt: failed: not a DICOM file" in assert_one_line(err)
    assert orthanc.instance_tags(str(ds.SOPInstanceUID))["SOPInstanceUID"] == ds.SOPInstanceUID


def test_store_refused_object(capsys, orthanc, films, nodes_file, tmp_path):
    ds = pydicom.dcmread(films.tiny)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.826.0.1.3680043.8.498.999.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "private.dcm", enforce_file_format=True)
    code, _out, err = run(capsys, "pacs", "store", str(tmp_path / "private.dcm"), "--node", "orthanc")
    assert code == 2
    assert "refused: the PACS does not accept this kind of object" in assert_one_line(err)


# --- refusals, as a user sees them (subprocess) ------------------------------------------------------------------


def test_closed_port_is_one_line_exit_2(orthanc):
    proc = run_subprocess("pacs", "echo", "--host", "127.0.0.1", "--port", str(free_port()), "--called-aet", "X")
    assert proc.returncode == 2
    assert "connection refused" in assert_one_line(proc.stderr)


def test_wrong_called_aet_is_one_line_exit_2(orthanc):
    proc = run_subprocess("pacs", "find", "--host", "127.0.0.1", "--port", str(orthanc.dicom_port),
                          "--called-aet", "WRONG", "--timeout", "10", "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "refused the association" in assert_one_line(proc.stderr)


def test_unknown_study_is_one_line_exit_2_and_nothing_written(orthanc, tmp_path):
    out_dir = tmp_path / "films"
    proc = run_subprocess("pacs", "get", "1.2.3.4.5.999", "--out", str(out_dir), *dimse_args(orthanc))
    assert proc.returncode == 2
    assert "holds no study with UID 1.2.3.4.5.999" in assert_one_line(proc.stderr)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_refusals_without_network(capsys, nodes_file):
    for argv, words in [
        (["pacs", "echo", "--node", "nope"], "no PACS node named 'nope'"),
        (["pacs", "get", "not-a-uid", "--out", "x", "--node", "orthanc"], "not a DICOM Study Instance UID"),
        (["pacs", "find", "--node", "orthanc", "--date", "2025-01-01"], "--date"),
        (["pacs", "echo", "--host", "h"], "--called-aet"),
        (["pacs", "echo", "--url", "http://x", "--host", "h"], "not both"),
    ]:
        code, _out, err = run(capsys, *argv)
        assert code == 2 and words in assert_one_line(err), (argv, err)


def test_without_a_node_the_only_one_is_used_or_the_user_is_asked(capsys, tmp_path, orthanc):
    code, _out, err = run(capsys, "pacs", "echo")
    assert code == 2 and "--node" in assert_one_line(err)
    pacs_cli.nodes_path().write_text(json.dumps({"nodes": {"only": {
        "kind": "dimse", "host": "127.0.0.1", "port": orthanc.dicom_port, "called_aet": orthanc.aet}}}))
    code, out, _ = run(capsys, "pacs", "echo")
    assert code == 0 and "only answered" in out


# --- export -------------------------------------------------------------------------------------------------------


def test_export_writes_the_four_objects(capsys, films, tmp_path):
    code, out, err = run(capsys, "export", str(films.demo_case), "--out", str(tmp_path), "--json")
    assert code == 0, err
    objects = json.loads(out)
    assert [o["kind"] for o in objects] == ["sr", "gsps", "sc", "pdf"]
    assert {o["study_instance_uid"] for o in objects} == {films.demo_study}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(o["file"]).name for o in objects)


def test_export_refusal_is_one_line_and_writes_nothing(films, tmp_path):
    case = json.loads(films.demo_case.read_text())
    case["image"]["path"] = str(films.demo)
    case["image"]["sop_instance_uid"] = "1.2.3.4"
    bad = tmp_path / "other.case.json"
    bad.write_text(json.dumps(case))
    proc = run_subprocess("export", str(bad), "--out", str(tmp_path / "out"), "--sr")
    assert proc.returncode == 2
    assert "not the image the case names" in assert_one_line(proc.stderr)
    assert not (tmp_path / "out").exists()


# --- the progress bar ------------------------------------------------------------------------------------------


def test_progress_bar_only_on_a_terminal():
    from dicom_io.pacs import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = pacs_cli._Bar(stream, "Retrieving")
        bar(Progress(1, 4))
        bar(Progress(4, 4))
        bar.close()
    assert pipe.getvalue() == ""
    assert "[" in tty.getvalue() and "4/4" in tty.getvalue() and tty.getvalue().endswith("\n")


def test_add_pacs_parsers_registers_both_commands():
    import argparse

    parser = argparse.ArgumentParser(prog="deformity-app")
    pacs_cli.add_pacs_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pacs", "get", "1.2.3", "--out", "d", "--node", "n", "--retrieve", "c-move"])
    assert args.func is pacs_cli.cmd_pacs_get and args.retrieve == "C-MOVE"
    args = parser.parse_args(["export", "c.case.json", "--out", "d", "--sr", "--window", "2450,2500"])
    assert args.func is pacs_cli.cmd_export and args.sr and not args.pdf
