"""The analysis as DICOM (deformity_app.dicom_export): SR, GSPS, secondary capture, Encapsulated PDF.

Each object is checked by what a PACS viewer or a reader program sees: the film's study and
patient, the film referenced, dciodvfy's verdict, the SR's values read back with highdicom and
compared with `measure`, the landmarks as SCOORDs, the overlay in the presentation state; and the
objects are accepted by a real PACS (Orthanc).
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from deformity_app import __version__
from deformity_app.dicom_export import (
    CODING_SCHEME,
    LANDMARK_CODES,
    MEASUREMENT_CODES,
    ExportError,
    ExportOptions,
    build_objects,
    export_case,
    landmarks_from_sr,
    write_objects,
)
from measurements.case import load_case, save_case
from measurements.landmarks import Side
from measurements.measure import measure_case
from measurements.overlay import build_overlay
from tests.pacs_fixtures import RADIOGRAPHS, dimse_node, films, orthanc, web_node  # noqa: F401

KINDS = ("sr", "gsps", "sc", "pdf")

# dciodvfy warnings that are expected, and why:
# - the SR's concepts use the project's private coding scheme 99DEFAPP (declared in the Coding
#   Scheme Identification Sequence), which dciodvfy does not know;
# - General Series Laterality is left empty for a film of both legs: the attribute is type 2C for
#   a paired body part (LEG) and has no value for "both" (R or L only).
EXPECTED_WARNINGS = (
    re.compile(r"Unrecognized defined term = <99DEFAPP>"),
    re.compile(r"Laterality\(0020,0060\)> - is only permitted to be empty when actually unknown"),
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The small demo film and case, exported once: (film, case path, {kind: path})."""
    from dicom_io.demo import DEFAULT_DEMO, write_demo

    folder = tmp_path_factory.mktemp("export")
    film, case_path = write_demo(folder, dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6), name="small")
    written, warnings = export_case(load_case(case_path), case_path, folder / "out")
    assert warnings == []
    return film, case_path, {obj.kind: path for obj, path in written}


def test_four_objects_named_and_nothing_else(exported):
    _film, _case, paths = exported
    assert sorted(paths) == sorted(KINDS)
    folder = paths["sr"].parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"small.{k}.dcm" for k in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_object_joins_the_film_study_in_a_new_series(exported, kind):
    film_path, _case, paths = exported
    film = pydicom.dcmread(film_path, stop_before_pixels=True)
    ds = pydicom.dcmread(paths[kind])
    assert ds.StudyInstanceUID == film.StudyInstanceUID
    assert ds.SeriesInstanceUID != film.SeriesInstanceUID and ds.SOPInstanceUID != film.SOPInstanceUID
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "AccessionNumber", "StudyID", "StudyDescription"):
        assert ds.get(keyword) == film.get(keyword), keyword
    assert ds.SoftwareVersions == __version__ and ds.Manufacturer == "deformity-app"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert film.SOPInstanceUID in _referenced_uids(ds)


def test_series_are_distinct(exported):
    _film, _case, paths = exported
    series = {pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID for p in paths.values()}
    assert len(series) == 4


def _referenced_uids(ds) -> set[str]:
    found: set[str] = set()

    def walk(d) -> None:
        for elem in d:
            if elem.keyword == "ReferencedSOPInstanceUID":
                found.add(str(elem.value))
            elif elem.VR == "SQ":
                for item in elem.value:
                    walk(item)

    walk(ds)
    return found


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) is not installed")
@pytest.mark.parametrize("kind", KINDS)
def test_dciodvfy_finds_no_error(exported, kind):
    _film, _case, paths = exported
    assert_dciodvfy_clean(paths[kind])


def assert_dciodvfy_clean(path: Path) -> None:
    proc = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True, timeout=120)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    assert errors == [], "\n".join(errors)
    unexplained = [line for line in lines if line.startswith("Warning")
                   and not any(p.search(line) for p in EXPECTED_WARNINGS)]
    assert unexplained == [], "\n".join(unexplained)


def test_sr_values_units_and_landmarks_match_measure(exported):
    _film, case_path, paths = exported
    case = load_case(case_path)
    expected = measure_case(case).to_json()
    sr = hd.sr.srread(paths["sr"])
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == CODING_SCHEME
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    assert set(groups) == {"Right lower limb", "Left lower limb", "Both lower limbs"}
    for side in (Side.RIGHT, Side.LEFT):
        limb_json = expected["limbs"][str(side)]
        group = groups[f"{side.label} lower limb"]
        assert group.finding_sites[0].laterality.value == ("24028007" if side is Side.RIGHT else "7771000")
        got = {m.name.value: m for m in group.get_measurements()}
        wanted = [k for k in MEASUREMENT_CODES if k in limb_json and not k.endswith("_px") and k != "lld_mm"]
        assert len(got) == len(wanted) == 16
        landmarks = case.limbs[side].landmarks
        for key in wanted:
            m = got[MEASUREMENT_CODES[key].value]
            assert m.value == pytest.approx(limb_json[key], abs=1e-9), key
            assert m.unit.value == ("deg" if key.endswith("_deg") else "mm") and m.unit.scheme_designator == "UCUM"
            points = [tuple(c.value[0]) for c in m.referenced_coordinates]
            assert points, key
            for x, y in points:  # each is a landmark of the limb, shifted to DICOM's pixel corner origin
                assert min(np.hypot(x - 0.5 - lx, y - 0.5 - ly) for lx, ly in landmarks.values()) < 1e-3
        text = [item for item in group[0].ContentSequence
                if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == "121071"]  # Finding
        assert text[0].TextValue == limb_json["mat"]["summary"]
    lld = groups["Both lower limbs"].get_measurements()[0]
    assert lld.value == pytest.approx(expected["lld_mm"]) and lld.unit.value == "mm"
    # the landmarks, by name, read back
    back = landmarks_from_sr(sr)
    for side in ("right", "left"):
        original = case.limbs[Side(side)].landmarks
        assert set(back[side]) == set(original)
        for name, (x, y) in original.items():
            assert back[side][name] == pytest.approx((x, y), abs=1e-3)
    rois = sr.content.get_planar_roi_measurement_groups()
    assert len(rois) == 32
    assert {r.finding_type.value for r in rois} == {c.value for c in LANDMARK_CODES.values()}


def test_gsps_draws_the_overlay_with_the_film_window(exported):
    film_path, case_path, paths = exported
    case = load_case(case_path)
    overlay = build_overlay(case, measure_case(case))
    film = pydicom.dcmread(film_path, stop_before_pixels=True)
    ps = pydicom.dcmread(paths["gsps"])
    assert ps.Modality == "PR" and ps.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"
    voi = ps.SoftcopyVOILUTSequence[0]
    assert float(voi.WindowCenter) == float(film.WindowCenter[0]) and float(voi.WindowWidth) == float(film.WindowWidth[0])
    texts = sorted(t.UnformattedTextValue for a in ps.GraphicAnnotationSequence for t in a.get("TextObjectSequence", []))
    assert texts == sorted(label.text for label in overlay.labels)
    assert any("°" in t for t in texts)
    graphics = [g for a in ps.GraphicAnnotationSequence for g in a.get("GraphicObjectSequence", [])]
    assert len(graphics) >= len(overlay.polylines) - 2  # a line wholly outside the film is dropped
    for g in graphics:
        data = np.asarray(g.GraphicData).reshape(-1, 2)
        assert (data >= 0).all() and (data[:, 0] <= film.Columns).all() and (data[:, 1] <= film.Rows).all()
    layers = {layer.GraphicLayer for layer in ps.GraphicLayerSequence}
    assert {"AXES", "JOINT_LINES", "ANGLES", "MAD"} <= layers
    assert "OUT_OF_RANGE" in layers  # the demo's right tibial varus
    assert ps.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == film.SOPInstanceUID


def test_secondary_capture_is_the_annotated_film(exported):
    film_path, case_path, paths = exported
    sc = pydicom.dcmread(paths["sc"])
    film = pydicom.dcmread(film_path)
    pixels = sc.pixel_array
    assert pixels.shape == (film.Rows, film.Columns, 3) and pixels.dtype == np.uint8
    assert sc.PhotometricInterpretation == "RGB" and sc.BurnedInAnnotation == "YES"
    assert [float(v) for v in sc.PixelSpacing] == [float(v) for v in film.PixelSpacing]
    case = load_case(case_path)
    # The mechanical axis of the right limb is drawn in colour at its midpoint; the film is grey.
    h = np.array(case.limbs[Side.RIGHT].landmarks["femoral_head_center"])
    a = np.array(case.limbs[Side.RIGHT].landmarks["ankle_center"])
    x, y = np.round((h + a) / 2).astype(int)
    patch = pixels[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).astype(int)
    assert (patch.max(axis=1) - patch.min(axis=1)).max() > 80
    corner = pixels[:20, :20].reshape(-1, 3)
    assert (corner[:, 0] == corner[:, 1]).all() and (corner[:, 1] == corner[:, 2]).all()


def test_encapsulated_pdf_holds_the_report(exported):
    _film, _case, paths = exported
    ds = pydicom.dcmread(paths["pdf"])
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1" and ds.Modality == "DOC"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    document = bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)]
    assert document.startswith(b"%PDF") and document.rstrip().endswith(b"%%EOF")


def test_only_the_kinds_asked_for(exported, tmp_path):
    film, case_path, _paths = exported
    written, _ = export_case(load_case(case_path), case_path, tmp_path, ExportOptions(kinds=("sr", "gsps")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.gsps.dcm", "small.sr.dcm"]


def test_uncalibrated_monochrome1_compressed_film(tmp_path):
    """A real CR (JPEG 2000, MONOCHROME1, no pixel spacing): lengths in pixels, an inverse presentation."""
    film = RADIOGRAPHS / "RG3_J2KR.dcm"
    if not film.exists():  # the same file ships in pydicom-data, a test dependency
        from pydicom.data import get_testdata_file

        film = Path(get_testdata_file("RG3_J2KR.dcm"))
    header = pydicom.dcmread(film, stop_before_pixels=True)
    case = load_case_from({"format": "deformity-case/1",
                           "image": {"path": str(film), "sop_instance_uid": str(header.SOPInstanceUID),
                                     "rows": 1760, "columns": 1760},
                           "pixel_spacing_mm": None, "calibration": {"source": "none"},
                           "limbs": {"right": {"landmarks": {"knee_center": [900.0, 300.0],
                                                             "ankle_center": [880.0, 1500.0],
                                                             "plafond_medial": [820.0, 1520.0],
                                                             "plafond_lateral": [950.0, 1515.0]}}}}, tmp_path)
    written, _ = export_case(case, tmp_path / "rg3.case.json", tmp_path / "out")
    paths = {o.kind: p for o, p in written}
    sr = hd.sr.srread(paths["sr"])
    measurements = {m.name.value: m for g in sr.content.get_image_measurement_groups()
                    for m in g.get_measurements()}
    expected = measure_case(case).to_json()["limbs"]["right"]
    assert measurements["TIBIA_LEN"].unit.value == "{pixels}"
    assert measurements["TIBIA_LEN"].value == pytest.approx(expected["tibia_length_px"])
    assert measurements["LDTA"].value == pytest.approx(expected["ldta_deg"])
    ps = pydicom.dcmread(paths["gsps"])
    assert ps.PresentationLUTShape == "INVERSE"
    if shutil.which("dciodvfy"):
        for path in paths.values():
            assert_dciodvfy_clean(path)


def load_case_from(data: dict, folder: Path):
    path = folder / "rg3.case.json"
    path.write_text(json.dumps(data))
    return load_case(path)


# --- refusals: nothing half-written -------------------------------------------------------------------------


def test_a_film_that_is_not_the_case_image_is_refused(exported, tmp_path):
    _film, case_path, _paths = exported
    case = load_case(case_path)
    case.image["sop_instance_uid"] = generate_uid()
    with pytest.raises(ExportError) as info:
        export_case(case, case_path, tmp_path / "out")
    assert "not the image the case names" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_scan_that_is_not_dicom_is_refused(tmp_path):
    import cv2

    png = tmp_path / "scan.png"
    cv2.imwrite(str(png), np.zeros((40, 30), np.uint8))
    case = load_case_from({"format": "deformity-case/1", "image": {"path": str(png)},
                           "limbs": {"right": {"landmarks": {"knee_center": [10.0, 10.0]}}}}, tmp_path)
    with pytest.raises(ExportError) as info:
        export_case(case, tmp_path / "rg3.case.json", tmp_path / "out")
    assert "not a DICOM file" in str(info.value)


def test_a_failed_write_leaves_nothing(exported, tmp_path, monkeypatch):
    film, case_path, _paths = exported
    objects, _ = build_objects(load_case(case_path), film, case_path=case_path,
                               options=ExportOptions(kinds=("sr", "gsps", "pdf")))
    original = pydicom.Dataset.save_as
    calls = []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pydicom.Dataset, "save_as", failing)
    with pytest.raises(ExportError) as info:
        write_objects(objects, tmp_path, "small")
    assert "No space left on device" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_limb_without_landmarks_is_left_out_of_the_sr(exported, tmp_path):
    film, case_path, _paths = exported
    case = load_case(case_path)
    case.limbs[Side.LEFT].landmarks.clear()  # the left limb is there, empty (as the GUI leaves it)
    one_limb = tmp_path / "right-only.case.json"
    case.image["path"] = str(film)
    save_case(case, one_limb)
    written, _warnings = export_case(load_case(one_limb), one_limb, tmp_path / "out", ExportOptions(kinds=("sr",)))
    sr = hd.sr.srread(written[0][1])
    groups = {g.tracking_identifier for g in sr.content.get_image_measurement_groups()}
    assert groups == {"Right lower limb"}  # no "Left lower limb" group, no LLD without a left limb


def test_a_case_without_landmarks_is_refused(exported, tmp_path):
    _film, case_path, _paths = exported
    case = load_case(case_path)
    for limb in case.limbs.values():
        limb.landmarks.clear()
    copy = tmp_path / "empty.case.json"
    case.image["path"] = str(load_case(case_path).image["path"])
    save_case(case, copy)
    with pytest.raises(ExportError):
        export_case(load_case(copy), case_path, tmp_path / "out")


# --- the PACS accepts them -----------------------------------------------------------------------------------


def test_orthanc_accepts_every_object_in_the_film_study(orthanc, films, tmp_path):
    from dicom_io.pacs import DimseClient, WebClient

    # A study of its own (the session's demo study stays as other tests expect it).
    ds = pydicom.dcmread(films.demo)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID, ds.PatientName = "EXPORT-1", "Export^Test"
    film = tmp_path / "film.dcm"
    ds.save_as(film, enforce_file_format=True)
    orthanc.upload(film)
    case = json.loads(films.demo_case.read_text())
    case["image"].update(path=str(film), sop_instance_uid=str(ds.SOPInstanceUID))
    case_path = tmp_path / "film.case.json"
    case_path.write_text(json.dumps(case))

    written, _ = export_case(load_case(case_path), case_path, tmp_path / "out")
    datasets = {o.kind: o.dataset for o, _p in written}
    dimse = DimseClient(dimse_node(orthanc)).store([p for o, p in written if o.kind != "sr"])
    web = WebClient(web_node(orthanc)).store([datasets["sr"]])  # STOW-RS, straight from memory
    assert dimse.failed == 0 and web.failed == 0
    study = orthanc.find("Study", {"StudyInstanceUID": str(ds.StudyInstanceUID)})
    assert len(study) == 1
    modalities = sorted(orthanc.get(f"/series/{s}")["MainDicomTags"]["Modality"]
                        for s in orthanc.get(f"/studies/{study[0]}")["Series"])
    assert modalities == ["DOC", "DX", "OT", "PR", "SR"]
    assert orthanc.get(f"/studies/{study[0]}")["PatientMainDicomTags"]["PatientID"] == "EXPORT-1"
    for obj in datasets.values():
        assert orthanc.instance_tags(str(obj.SOPInstanceUID))["SOPInstanceUID"] == str(obj.SOPInstanceUID)
