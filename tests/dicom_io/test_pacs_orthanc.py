"""dicom_io.pacs against a real PACS: Orthanc on loopback (tests/pacs_fixtures.py).

C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE, QIDO-RS, WADO-RS and STOW-RS through our code, checked
against what Orthanc holds (its REST API); and the failures a hospital network produces: a closed
port, a rejected association, an unknown study, a refused object.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from dicom_io.pacs import (
    AssociationRejectedError,
    DimseClient,
    NodeUnreachableError,
    PacsError,
    Progress,
    StudyNotFoundError,
    StudyQuery,
    WebClient,
    open_client,
)
from tests.pacs_fixtures import dimse_node, films, free_port, orthanc, web_node  # noqa: F401


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- C-ECHO / QIDO ping -----------------------------------------------------------------------------------


def test_echo_dimse_and_dicomweb(orthanc):
    assert open_client(dimse_node(orthanc)).echo() < 5
    assert open_client(web_node(orthanc)).echo() < 5


# --- C-FIND / QIDO-RS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_find_studies_by_modality_and_patient(orthanc, films, kind):
    client = open_client(dimse_node(orthanc) if kind == "dimse" else web_node(orthanc))
    assert all("DX" in s.modalities for s in client.find_studies(StudyQuery(modalities=("DX",))))
    dx = client.find_studies(StudyQuery(modalities=("DX",), patient_id="DEMO-0001"))
    assert [s.study_uid for s in dx] == [films.demo_study]
    study = dx[0]
    assert study.patient_id == "DEMO-0001"
    assert study.patient_name == "DEMO^SYNTHETIC"
    assert study.study_date == "20250101"
    assert study.modalities == ("DX",)
    assert study.series == 1 and study.instances == 1
    assert study.accession is None  # absent values are None (null in JSON)
    both = {s.study_uid for s in client.find_studies(StudyQuery(modalities=("CR", "DX")))}
    assert {films.demo_study, films.j2k_study, films.tiny_study} <= both
    by_name = client.find_studies(StudyQuery(patient_name="DEMO*"))
    assert [s.study_uid for s in by_name] == [films.demo_study]
    by_date = client.find_studies(StudyQuery(date="20241201-20250131"))
    assert films.demo_study in {s.study_uid for s in by_date}
    assert films.j2k_study not in {s.study_uid for s in by_date}
    assert client.find_studies(StudyQuery(patient_id="NOBODY")) == []


@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_find_series_and_unknown_study(orthanc, films, kind):
    client = open_client(dimse_node(orthanc) if kind == "dimse" else web_node(orthanc))
    series = client.find_series(films.demo_study)
    assert [s.series_uid for s in series] == [films.demo_series]
    assert series[0].modality == "DX" and series[0].instances == 1 and series[0].number == 1
    with pytest.raises(StudyNotFoundError) as info:
        client.find_series("1.2.3.4.5.6.7")
    assert "holds no study" in str(info.value) and "1.2.3.4.5.6.7" in str(info.value)


# --- retrieve -----------------------------------------------------------------------------------------------


def test_c_get_keeps_the_stored_transfer_syntax(orthanc, films, tmp_path):
    assert orthanc.instance_transfer_syntax(films.j2k_sop) == JPEG2000Lossless
    seen: list[Progress] = []
    result = DimseClient(dimse_node(orthanc)).retrieve(films.j2k_study, tmp_path, progress=seen.append)
    assert result.complete and result.received == 1 and result.method == "C-GET"
    assert _files(tmp_path) == [f"{films.j2k_sop}.dcm"]  # nothing else: no temporary file left
    got = pydicom.dcmread(result.files[0])
    original = pydicom.dcmread(films.j2k)
    assert got.file_meta.TransferSyntaxUID == JPEG2000Lossless  # arrived as stored, not converted
    assert got.PixelData == original.PixelData  # the same compressed bytes
    assert seen and seen[-1].done == 1


def test_c_move_to_our_storage_scp(orthanc, films, tmp_path):
    result = DimseClient(dimse_node(orthanc, retrieve="C-MOVE")).retrieve(films.demo_study, tmp_path)
    assert result.complete and result.received == 1 and result.method == "C-MOVE"
    got = pydicom.dcmread(result.files[0])
    assert got.SOPInstanceUID == films.demo_sop
    np.testing.assert_array_equal(got.pixel_array, pydicom.dcmread(films.demo).pixel_array)


def test_wado_rs_keeps_the_stored_transfer_syntax(orthanc, films, tmp_path):
    result = WebClient(web_node(orthanc)).retrieve(films.j2k_study, tmp_path)
    assert result.complete and result.received == 1 and result.method == "WADO-RS"
    got = pydicom.dcmread(result.files[0])
    assert got.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert got.PixelData == pydicom.dcmread(films.j2k).PixelData


@pytest.mark.parametrize("method", ["C-GET", "C-MOVE", "WADO-RS"])
def test_retrieve_one_series_with_progress(orthanc, films, tmp_path, method):
    node = web_node(orthanc) if method == "WADO-RS" else dimse_node(orthanc, retrieve=method)
    seen: list[Progress] = []
    series = open_client(node).find_series(films.multi_study)
    result = open_client(node).retrieve(films.multi_study, tmp_path, series_uid=series[0].series_uid,
                                        progress=seen.append)
    assert result.complete and result.received == films.multi_count
    assert len(_files(tmp_path)) == films.multi_count
    assert seen[-1].done == films.multi_count and seen[-1].total == films.multi_count
    assert all(not name.startswith(".") for name in _files(tmp_path))


@pytest.mark.parametrize("method", ["C-GET", "WADO-RS"])
def test_cancel_keeps_what_arrived(orthanc, films, tmp_path, method):
    node = web_node(orthanc) if method == "WADO-RS" else dimse_node(orthanc, retrieve=method)
    stop = threading.Event()

    def progress(p: Progress) -> None:
        if p.done >= 1:
            stop.set()

    result = open_client(node).retrieve(films.multi_study, tmp_path, progress=progress, cancel=stop.is_set)
    assert result.cancelled
    assert 1 <= result.received < films.multi_count
    names = _files(tmp_path)
    assert len(names) == result.received and all(n.endswith(".dcm") and not n.startswith(".") for n in names)
    for path in result.files:
        pydicom.dcmread(path)  # every kept file is whole


def test_partial_c_get_keeps_what_arrived_and_says_what_did_not(orthanc, films, tmp_path):
    # A folder in the way of one instance's file: that one cannot be written, the others arrive.
    blocked = orthanc.find("Instance", {"PatientID": "MULTI-1"})[2]
    uid = orthanc.get(f"/instances/{blocked}/simplified-tags")["SOPInstanceUID"]
    (tmp_path / f"{uid}.dcm").mkdir()
    result = DimseClient(dimse_node(orthanc)).retrieve(films.multi_study, tmp_path)
    assert result.received == films.multi_count - 1 and result.failed == 1 and not result.complete
    assert any("could not be written" in p for p in result.problems)
    assert uid not in {p.stem for p in result.files}


def test_c_get_of_a_class_not_proposed_fails_clearly(orthanc, films, tmp_path):
    # The mixed study holds a CT image, a class C-GET does not propose; Orthanc then stops the C-GET.
    with pytest.raises(PacsError) as info:
        DimseClient(dimse_node(orthanc)).retrieve(films.mixed_study, tmp_path)
    assert "did not arrive" in str(info.value)
    # C-MOVE accepts every storage class: the same study arrives whole.
    result = DimseClient(dimse_node(orthanc, retrieve="C-MOVE")).retrieve(films.mixed_study, tmp_path / "moved")
    assert result.complete and result.received == 2


@pytest.mark.parametrize("method", ["C-GET", "C-MOVE", "WADO-RS"])
def test_unknown_study_is_a_clear_error(orthanc, films, tmp_path, method):
    node = web_node(orthanc) if method == "WADO-RS" else dimse_node(orthanc, retrieve=method)
    with pytest.raises(StudyNotFoundError) as info:
        open_client(node).retrieve("1.2.3.999", tmp_path / "out")
    assert "holds no study" in str(info.value)
    assert not (tmp_path / "out").exists() or _files(tmp_path / "out") == []


# --- failures of the connection -----------------------------------------------------------------------------


def test_closed_port(orthanc):
    with pytest.raises(NodeUnreachableError) as info:
        DimseClient(dimse_node(orthanc, port=free_port())).echo()
    assert "connection refused" in str(info.value)
    with pytest.raises(NodeUnreachableError):
        WebClient(web_node(orthanc, url=f"http://127.0.0.1:{free_port()}/dicom-web")).echo()


def test_wrong_called_aet_is_rejected(orthanc):
    with pytest.raises(AssociationRejectedError) as info:
        DimseClient(dimse_node(orthanc, called_aet="NOT-ORTHANC")).echo()
    text = str(info.value)
    assert "refused the association" in text and "called AE title" in text


def test_move_destination_unknown_to_the_pacs(orthanc, films, tmp_path):
    with pytest.raises(PacsError) as info:
        DimseClient(dimse_node(orthanc, retrieve="C-MOVE", calling_aet="STRANGER")).retrieve(films.tiny_study, tmp_path)
    assert "move destination" in str(info.value) and "STRANGER" in str(info.value)


def test_timeout_when_the_peer_never_answers():
    import socket
    import time

    from dicom_io.pacs import DimseNode, PacsTimeoutError

    with socket.socket() as silent:  # accepts the connection, never speaks DICOM
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        node = DimseNode("127.0.0.1", silent.getsockname()[1], "SILENT", timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(PacsTimeoutError) as info:
            DimseClient(node).echo()
    assert time.monotonic() - started < 10
    assert "did not complete the DICOM association" in str(info.value)


# --- store --------------------------------------------------------------------------------------------------


def _copy_with_new_uids(path: Path, folder: Path, **changes) -> Path:
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for k, v in changes.items():
        setattr(ds, k, v)
    out = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(out, enforce_file_format=True)
    return out


@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_store_keeps_compression_and_orthanc_holds_it(orthanc, films, tmp_path, kind):
    path = _copy_with_new_uids(films.j2k, tmp_path)
    uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
    result = open_client(dimse_node(orthanc) if kind == "dimse" else web_node(orthanc)).store([path])
    assert result.stored == 1 and result.failed == 0
    assert result.outcomes[0].status == "stored" and not result.outcomes[0].converted
    tags = orthanc.instance_tags(uid)
    assert tags["SOPInstanceUID"] == uid
    assert orthanc.instance_transfer_syntax(uid) == JPEG2000Lossless


def test_store_refused_by_the_pacs(orthanc, films, tmp_path):
    """Orthanc refuses classes it does not know (UnknownSopClassAccepted false): a private class."""
    good = _copy_with_new_uids(films.tiny, tmp_path)
    private = "1.2.826.0.1.3680043.8.498.999.1"
    bad = _copy_with_new_uids(films.tiny, tmp_path)
    ds = pydicom.dcmread(bad)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = private
    ds.save_as(bad, enforce_file_format=True)
    result = DimseClient(dimse_node(orthanc)).store([bad, good])
    by_path = {o.path: o for o in result.outcomes}
    assert by_path[str(good)].status == "stored"
    refused = by_path[str(bad)]
    assert refused.status == "refused" and "does not accept this kind of object" in refused.message
    assert orthanc.instance_tags(refused.sop_instance_uid) == {}
    assert orthanc.instance_tags(by_path[str(good)].sop_instance_uid) != {}


def _scp(status: int, received: list, syntaxes=None):
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import ComputedRadiographyImageStorage

    def handle(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(ds)
        return status

    scp = AE(ae_title="TESTSCP")
    scp.add_supported_context(ComputedRadiographyImageStorage,
                              syntaxes or [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    port = free_port()
    return scp.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, handle)]), port


def test_store_refused_with_a_failure_status(films):
    from dicom_io.pacs import DimseNode

    received: list = []
    server, port = _scp(0xA700, received)
    try:
        result = DimseClient(DimseNode("127.0.0.1", port, "TESTSCP", timeout_s=10)).store([films.tiny])
    finally:
        server.shutdown()
    outcome = result.outcomes[0]
    assert outcome.status == "refused" and "out of resources" in outcome.message and "0xA700" in outcome.message


def test_store_unreadable_file_is_reported_not_sent(orthanc, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not DICOM")
    result = DimseClient(dimse_node(orthanc)).store([junk])
    assert result.outcomes[0].status == "failed" and "not a DICOM file" in result.outcomes[0].message


def test_store_converts_when_the_node_refuses_the_compression(films):
    """A node that accepts CR only uncompressed: the JPEG 2000 film is sent as explicit VR little endian."""
    from dicom_io.pacs import DimseNode

    received: list = []
    server, port = _scp(0x0000, received)
    try:
        result = DimseClient(DimseNode("127.0.0.1", port, "TESTSCP", timeout_s=10)).store([films.j2k])
    finally:
        server.shutdown()
    assert result.outcomes[0].status == "stored" and result.outcomes[0].converted
    assert received[0].file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    np.testing.assert_array_equal(received[0].pixel_array, pydicom.dcmread(films.j2k).pixel_array)


def test_converting_a_dataset_for_the_node_leaves_the_callers_dataset_alone(films):
    """An object built in memory and sent uncompressed to a node that refuses its compression: the
    caller's dataset keeps its transfer syntax and its compressed pixel data (it may be sent again,
    or written to a folder, afterwards)."""
    from dicom_io.pacs import DimseNode

    ds = pydicom.dcmread(films.j2k)
    encoded = ds.PixelData
    received: list = []
    server, port = _scp(0x0000, received)
    try:
        result = DimseClient(DimseNode("127.0.0.1", port, "TESTSCP", timeout_s=10)).store([ds])
    finally:
        server.shutdown()
    assert result.outcomes[0].status == "stored" and result.outcomes[0].converted
    assert received[0].file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    assert ds.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert ds.PixelData == encoded


def test_store_cancel_stops_between_instances(orthanc, films, tmp_path):
    paths = [_copy_with_new_uids(films.tiny, tmp_path) for _ in range(3)]
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 1  # let the first instance through

    result = DimseClient(dimse_node(orthanc)).store(paths, cancel=cancel)
    assert result.cancelled and result.stored == 1
    assert [o.status for o in result.outcomes] == ["stored", "failed", "failed"]
    assert "cancelled" in result.outcomes[1].message


def test_stow_refusal_is_reported(tmp_path, films):
    """Orthanc's DICOMweb plugin (1.7) answers 200 for an instance its filter drops, so the refusal
    path is checked against a minimal STOW-RS server answering 409 with a Failed SOP Sequence."""
    import http.server
    import json

    from dicom_io.pacs import WebNode

    sop = str(pydicom.dcmread(films.tiny, stop_before_pixels=True).SOPInstanceUID)
    body = json.dumps({"00081198": {"vr": "SQ", "Value": [{
        "00081155": {"vr": "UI", "Value": [sop]}, "00081197": {"vr": "US", "Value": [0xA700]}}]}}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(409)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        node = WebNode(url=f"http://127.0.0.1:{server.server_address[1]}/dicom-web", timeout_s=5)
        result = WebClient(node).store([films.tiny])
    finally:
        server.shutdown()
        server.server_close()
    outcome = result.outcomes[0]
    assert outcome.status == "refused" and "409" in outcome.message and "0xA700" in outcome.message


def test_store_a_compressed_dataset_built_in_memory(orthanc, films):
    """A dataset compressed in memory (as `export` builds the RLE secondary capture) has not yet been
    told its encapsulated pixel data has an undefined length; sent as it is, the PACS would get a
    broken message and drop the association. It is stored, and its pixels come back intact."""
    from pydicom.uid import RLELossless

    ds = pydicom.dcmread(films.tiny)
    original = ds.pixel_array.copy()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.compress(RLELossless)
    ds["PixelData"].is_undefined_length = False  # the state highdicom's secondary capture comes in
    result = DimseClient(dimse_node(orthanc)).store([ds])
    assert result.stored == 1, result.outcomes[0].message
    assert orthanc.instance_transfer_syntax(ds.SOPInstanceUID) == RLELossless
    back = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc.instance_file(ds.SOPInstanceUID)))
    assert np.array_equal(back.pixel_array, original)
