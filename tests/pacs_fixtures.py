"""A real PACS for the tests: Orthanc on loopback, with a temporary configuration and storage.

One Orthanc per test session, shared by every test module that uses the ``orthanc`` fixture
(started on first use, stopped at exit). Tests skip with a clear message when the ``Orthanc``
binary (Debian's ``orthanc``) or its DICOMweb plugin (``orthanc-dicomweb``) is missing.

What the configuration sets up:
- DICOM on a free port, AE title ``ORTHANCTEST``, called AE title checked (a wrong one is rejected);
- C-FIND, C-GET and C-MOVE allowed; our AE ``DEFORMITY`` registered as a modality at
  127.0.0.1:``move_port`` (the C-MOVE destination);
- the DICOMweb plugin at ``/dicom-web/``;
- unknown SOP classes refused (``UnknownSopClassAccepted`` false): an object of a private class is
  a PACS refusing an object.
"""
from __future__ import annotations

import atexit
import dataclasses
import glob
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AET = "ORTHANCTEST"
OUR_AET = "DEFORMITY"
RADIOGRAPHS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pydicom-radiographs"


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or next((p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if Path(p).exists()),
                                           None)


def dicomweb_plugin() -> str | None:
    """The DICOMweb plugin's shared library (as `dpkg -L orthanc-dicomweb` lists it)."""
    try:
        listed = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, timeout=10).stdout
        for line in listed.splitlines():
            if "libOrthancDicomWeb.so" in line and Path(line).is_file():
                return line.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    found = sorted(glob.glob("/usr/share/orthanc/plugins/libOrthancDicomWeb.so*") +
                   glob.glob("/usr/lib/orthanc/libOrthancDicomWeb.so*"))
    return found[0] if found else None


@dataclass
class Orthanc:
    """A running Orthanc: where it listens, and a small REST client to check what it holds."""

    process: subprocess.Popen
    folder: Path
    dicom_port: int
    http_port: int
    move_port: int
    aet: str = AET

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.rest}/dicom-web"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.rest + path, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, data: bytes, content_type: str = "application/dicom") -> Any:
        request = urllib.request.Request(self.rest + path, data=data, headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def upload(self, path: Path) -> dict:
        return self.post("/instances", Path(path).read_bytes())

    def upload_dataset(self, ds) -> dict:
        import io

        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return self.post("/instances", buffer.getvalue())

    def find(self, level: str, query: dict[str, str]) -> list[str]:
        body = json.dumps({"Level": level, "Query": query}).encode()
        return self.post("/tools/find", body, "application/json")

    def instance_tags(self, sop_instance_uid: str) -> dict:
        ids = self.find("Instance", {"SOPInstanceUID": sop_instance_uid})
        if not ids:
            return {}
        return self.get(f"/instances/{ids[0]}/simplified-tags")

    def instance_transfer_syntax(self, sop_instance_uid: str) -> str | None:
        ids = self.find("Instance", {"SOPInstanceUID": sop_instance_uid})
        if not ids:
            return None
        return _text(self.rest + f"/instances/{ids[0]}/metadata/TransferSyntax")

    def instance_file(self, sop_instance_uid: str) -> bytes:
        """The DICOM file Orthanc holds for the instance."""
        import urllib.request

        ids = self.find("Instance", {"SOPInstanceUID": sop_instance_uid})
        assert ids, f"Orthanc holds no instance {sop_instance_uid}"
        with urllib.request.urlopen(self.rest + f"/instances/{ids[0]}/file", timeout=30) as response:
            return response.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode().strip()


def start_orthanc() -> Orthanc:
    binary, plugin = orthanc_binary(), dicomweb_plugin()
    if binary is None:
        pytest.skip("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb): PACS tests skipped")
    if plugin is None:
        pytest.skip("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb): PACS tests skipped")
    folder = Path(tempfile.mkdtemp(prefix="orthanc-test-"))
    dicom_port, http_port, move_port = free_port(), free_port(), free_port()
    modality = {"AET": OUR_AET, "Host": "127.0.0.1", "Port": move_port, "AllowEcho": True, "AllowFind": True,
                "AllowGet": True, "AllowMove": True, "AllowStore": True}
    config = {
        "Name": "deformity-app tests",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "Plugins": [plugin],
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "OrthancExplorerEnabled": False,
        "WebDavEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": AET,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "DicomModalities": {"deformity": modality},
        "DicomScpTimeout": 30,
        "UnknownSopClassAccepted": False,
        "SaveJobs": False,
        "StableAge": 1,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "Ssl": False},
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = open(folder / "orthanc.log", "wb")
    process = subprocess.Popen([binary, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT,
                               cwd=folder)
    server = Orthanc(process, folder, dicom_port, http_port, move_port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (folder / "orthanc.log").read_text(errors="replace")[-2000:]
            shutil.rmtree(folder, ignore_errors=True)
            pytest.fail(f"Orthanc exited at start (status {process.returncode}):\n{text}")
        try:
            plugins = server.get("/plugins")
            if "dicom-web" in plugins:
                return server
            server.stop()
            pytest.fail("Orthanc started without its DICOMweb plugin")
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    server.stop()
    pytest.fail("Orthanc did not answer within 30 s")


_SERVER: Orthanc | None = None


def get_orthanc() -> Orthanc:
    """The session's Orthanc, started on first use and stopped when the interpreter exits."""
    global _SERVER
    if _SERVER is None or _SERVER.process.poll() is not None:
        _SERVER = start_orthanc()
        atexit.register(_SERVER.stop)
    return _SERVER


@dataclass(frozen=True)
class Films:
    """What the session uploaded to Orthanc (UIDs to retrieve, and the local originals)."""

    demo: Path
    demo_case: Path
    demo_study: str
    demo_series: str
    demo_sop: str
    j2k: Path  # JPEG 2000 lossless CR (stored compressed)
    j2k_study: str
    j2k_sop: str
    tiny: Path  # 16 x 16 CR, explicit VR little endian
    tiny_study: str
    multi_study: str  # 5 small CR instances in one series (progress, cancel)
    multi_count: int
    mixed_study: str  # a CR and a CT: C-GET does not propose CT, so the CT fails (a partial retrieve)


_FILMS: Films | None = None


def upload_films(server: Orthanc, folder: Path) -> Films:
    """Upload the small demo film (0.6 mm: 625 x 1750, DX, with its ground-truth case), a JPEG 2000
    lossless CR (pydicom-data RG3_J2KR) and a 16 x 16 CR, once per session."""
    global _FILMS
    if _FILMS is not None:
        return _FILMS
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    from dicom_io.demo import DEFAULT_DEMO, write_demo

    film, case = write_demo(folder, dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6), name="small")
    j2k = RADIOGRAPHS / "RG3_J2KR.dcm"
    if not j2k.exists():
        found = get_testdata_file("RG3_J2KR.dcm")
        if found is None:
            pytest.skip("RG3_J2KR.dcm is neither in shared/data nor in pydicom-data")
        j2k = Path(found)
    tiny = Path(__file__).resolve().parent / "data" / "pcir_CR1_6154.dcm"  # copied here with its licence
    for path in (film, j2k, tiny):
        server.upload(path)
    demo = pydicom.dcmread(film, stop_before_pixels=True)
    j2k_ds = pydicom.dcmread(j2k, stop_before_pixels=True)
    tiny_ds = pydicom.dcmread(tiny, stop_before_pixels=True)

    multi_study, multi_series, multi_count = generate_uid(), generate_uid(), 5
    for n in range(multi_count):
        ds = pydicom.dcmread(tiny)
        ds.PatientID, ds.PatientName = "MULTI-1", "Multi^Instance"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = multi_study, multi_series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = n + 1
        server.upload_dataset(ds)
    mixed_study = generate_uid()
    for source, modality in ((tiny, "CR"), (get_testdata_file("CT_small.dcm"), "CT")):
        ds = pydicom.dcmread(source)
        ds.PatientID, ds.PatientName = "MIXED-1", "Mixed^Study"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = mixed_study, generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        server.upload_dataset(ds)
    _FILMS = Films(film, case, str(demo.StudyInstanceUID), str(demo.SeriesInstanceUID), str(demo.SOPInstanceUID),
                   j2k, str(j2k_ds.StudyInstanceUID), str(j2k_ds.SOPInstanceUID), tiny, str(tiny_ds.StudyInstanceUID),
                   multi_study, multi_count, mixed_study)
    return _FILMS


@pytest.fixture(scope="session")
def orthanc() -> Orthanc:
    return get_orthanc()


@pytest.fixture(scope="session")
def films(orthanc, tmp_path_factory) -> Films:
    return upload_films(orthanc, tmp_path_factory.mktemp("films"))


def dimse_node(server: Orthanc, **changes: Any):
    from dicom_io.pacs import DimseNode

    base = dict(host="127.0.0.1", port=server.dicom_port, called_aet=server.aet, calling_aet=OUR_AET,
                retrieve="C-GET", store_port=server.move_port, timeout_s=10.0, name="test-orthanc")
    base.update(changes)
    return DimseNode(**base)


def web_node(server: Orthanc, **changes: Any):
    from dicom_io.pacs import WebNode

    base = dict(url=server.dicomweb_url, timeout_s=10.0, name="test-orthanc-web")
    base.update(changes)
    return WebNode(**base)
