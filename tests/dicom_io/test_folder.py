"""list_films: folders, DICOMDIRs and hospital CDs, from headers only."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from dicom_io_helpers import make_dataset, pydicom_file, save, smooth_image
from pydicom.encaps import encapsulate
from pydicom.fileset import FileSet
from pydicom.uid import JPEG2000Lossless

import dicom_io._dicom
from dicom_io import FilmNotFoundError, list_films
from dicom_io.folder import FilmListing, is_dicomdir


def _film(name: str, rows: int, columns: int, **attrs) -> pydicom.Dataset:
    return make_dataset(smooth_image(rows, columns), bits_stored=12, PatientName=name, **attrs)


@pytest.fixture
def clinic_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "clinic"
    (folder / "sub").mkdir(parents=True)
    save(_film("Alpha^Ann", 48, 40, StudyDate="20230405", SeriesDescription="Standing AP", ImagerPixelSpacing=[0.2, 0.1]), folder / "a.dcm")
    save(_film("Beta^Bob", 20, 30, Modality="CR", StudyDescription="Knee"), folder / "sub" / "IM0001")
    cv2.imwrite(str(folder / "scan.png"), np.zeros((12, 16), np.uint8))
    (folder / "notes.txt").write_text("not a film")
    (folder / "sub" / "IM0002").write_bytes(np.random.default_rng(0).bytes(700))
    report = make_dataset(np.zeros((2, 2), np.uint16))
    del report.PixelData
    save(report, folder / "report.dcm")
    return folder


def test_folder_lists_films_and_counts_the_rest(clinic_folder: Path) -> None:
    films = list_films(clinic_folder)
    assert isinstance(films, FilmListing) and isinstance(films, list)
    by_name = {f.path.name: f for f in films}
    assert set(by_name) == {"a.dcm", "IM0001", "scan.png"}
    assert films.skipped == 3  # notes.txt, random bytes, the report without pixels

    a = by_name["a.dcm"]
    assert (a.patient, a.date, a.description, a.modality) == ("Alpha^Ann", "20230405", "Standing AP", "DX")
    assert (a.rows, a.columns, a.size_text) == (48, 40, "48 x 40")
    assert a.calibration.pixel_spacing_mm == (0.2, 0.1)
    b = by_name["IM0001"]
    assert (b.patient, b.description, b.modality, b.rows, b.columns) == ("Beta^Bob", "Knee", "CR", 20, 30)
    png = by_name["scan.png"]
    assert (png.kind, png.rows, png.columns, png.patient) == ("image", 12, 16, "")


def test_listing_never_decodes_pixels(clinic_folder: Path, monkeypatch) -> None:
    ds = _film("Gamma^Gus", 16, 16)
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 40])  # undecodable
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    save(ds, clinic_folder / "broken.dcm")

    def refuse(*args, **kwargs):
        raise AssertionError("pixel data decoded while listing")

    monkeypatch.setattr(dicom_io._dicom, "_decode_first_frame", refuse)
    names = {f.path.name for f in list_films(clinic_folder)}
    assert "broken.dcm" in names


def test_pydicom_dicomdir() -> None:
    dicomdir = pydicom_file("DICOMDIR")
    records = pydicom.dcmread(dicomdir).DirectoryRecordSequence
    image_records = [r for r in records if r.DirectoryRecordType == "IMAGE"]
    films = list_films(dicomdir)
    assert len(films) == len(image_records) > 0
    assert films.skipped == 0
    for film in films:
        header = pydicom.dcmread(film.path, stop_before_pixels=True)
        assert (film.rows, film.columns) == (header.Rows, header.Columns)
        assert film.patient == str(header.PatientName)


def _write_cd(tmp_path: Path) -> Path:
    fileset = FileSet()
    # The attributes a DICOMDIR's patient, study, series and image records need.
    records = dict(StudyTime="101500", StudyID="1", SeriesNumber=1, InstanceNumber=1)
    fileset.add(_film("Delta^Dora", 24, 20, StudyDate="20220101", **records))
    fileset.add(_film("Epsilon^Eli", 18, 22, StudyDate="20220202", **records))
    root = tmp_path / "cd"
    fileset.write(root)
    return root


def test_dicomdir_written_by_pydicom(tmp_path: Path) -> None:
    root = _write_cd(tmp_path)
    assert is_dicomdir(root / "DICOMDIR")
    films = list_films(root / "DICOMDIR")
    assert sorted(f.patient for f in films) == ["Delta^Dora", "Epsilon^Eli"]
    assert sorted((f.rows, f.columns) for f in films) == [(18, 22), (24, 20)]

    # The same CD opened as a folder: the same films, the DICOMDIR itself skipped.
    as_folder = list_films(root)
    assert sorted(f.patient for f in as_folder) == ["Delta^Dora", "Epsilon^Eli"]
    assert as_folder.skipped == 1


def test_dicomdir_with_a_missing_file(tmp_path: Path) -> None:
    root = _write_cd(tmp_path)
    films = list_films(root / "DICOMDIR")
    films[0].path.unlink()
    again = list_films(root / "DICOMDIR")
    assert len(again) == 1 and again.skipped == 1


def test_broken_dicomdir_falls_back_to_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "disc"
    folder.mkdir()
    (folder / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01\x02" * 50)
    save(_film("Zeta^Zoe", 10, 10), folder / "IM1")
    films = list_films(folder / "DICOMDIR")
    assert [f.patient for f in films] == ["Zeta^Zoe"]


def test_single_file_and_missing_path(tmp_path: Path) -> None:
    path = save(_film("Eta^Ed", 10, 12), tmp_path / "one.dcm")
    assert [f.columns for f in list_films(path)] == [12]
    with pytest.raises(FilmNotFoundError):
        list_films(tmp_path / "nowhere")


def test_empty_folder(tmp_path: Path) -> None:
    films = list_films(tmp_path)
    assert films == [] and films.skipped == 0


def test_dicomdir_on_a_disc_with_lower_case_names(tmp_path: Path) -> None:
    root = _write_cd(tmp_path)
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.name != "DICOMDIR":
            path.rename(path.with_name(path.name.lower()))
    films = list_films(root / "DICOMDIR")
    assert sorted(f.patient for f in films) == ["Delta^Dora", "Epsilon^Eli"]
    assert films.skipped == 0
