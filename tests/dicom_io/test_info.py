"""describe / format_description: what ``deformity-app info`` prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from dicom_io_helpers import DATA, make_dataset, pydicom_file, save, smooth_image

from dicom_io.info import describe, format_description


def test_single_film_json(tmp_path: Path) -> None:
    ds = make_dataset(
        smooth_image(48, 40),
        bits_stored=12,
        ImagerPixelSpacing=[0.2, 0.1],
        WindowCenter=[1000, 2000],
        WindowWidth=[500, 4000],
        WindowCenterWidthExplanation=["NARROW", "WIDE"],
        PatientOrientation=["L", "F"],
        ImageLaterality="L",
        ViewPosition="AP",
    )
    path = save(ds, tmp_path / "leg.dcm")
    d = describe(path)
    round_trip = json.loads(json.dumps(d))
    assert round_trip == d
    assert (d["rows"], d["columns"]) == (48, 40)
    assert d["pixel_spacing_mm"] == [0.2, 0.1]
    assert d["calibration"] == {
        "source": "ImagerPixelSpacing",
        "caveat": "detector plane: anatomy appears about 10-20% larger than life",
    }
    assert (d["bits_stored"], d["bits_allocated"], d["photometric"]) == (12, 16, "MONOCHROME2")
    assert d["transfer_syntax"] == "Explicit VR Little Endian (1.2.840.10008.1.2.1)"
    assert d["window_presets"] == [
        {"name": "NARROW", "center": 1000.0, "width": 500.0},
        {"name": "WIDE", "center": 2000.0, "width": 4000.0},
    ]
    assert (d["patient_orientation"], d["laterality"], d["view_position"]) == (["L", "F"], "L", "AP")
    assert d["metadata"]["patient_name"] == str(ds.PatientName)
    assert "auto_window" not in d  # header only unless asked


def test_cr_film_with_detector_spacing() -> None:
    d = describe(DATA / "pcir_CR1_6154.dcm")
    assert d["pixel_spacing_mm"] == [0.1, 0.1]
    assert d["calibration"]["source"] == "ImagerPixelSpacing"
    assert d["invert_display"] is True


def test_uncalibrated_dicom_has_null_spacing() -> None:
    d = describe(pydicom_file("RG3_J2KR.dcm"))
    assert d["pixel_spacing_mm"] is None
    assert d["calibration"]["source"] == "none"
    assert (d["rows"], d["columns"], d["laterality"]) == (1760, 1760, "R")


def test_image_file_is_uncalibrated(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), np.zeros((30, 20), np.uint16))
    d = describe(path)
    assert d["pixel_spacing_mm"] is None
    assert d["calibration"] == {"source": "none", "caveat": "uncalibrated: angles only, lengths in pixels"}
    assert (d["rows"], d["columns"], d["bits_stored"], d["format"]) == (30, 20, 16, "PNG")


def test_decode_adds_window_and_notes(tmp_path: Path) -> None:
    frames = np.stack([smooth_image(20, 10), smooth_image(20, 10, seed=1)])
    path = save(make_dataset(frames, bits_stored=12), tmp_path / "two.dcm")
    d = describe(path, decode=True)
    assert d["frames"] == 2
    assert d["pixel_type"] == "uint16"
    assert d["auto_window"]["width"] > 0
    assert any("2 frames" in note for note in d["notes"])


def test_file_without_image() -> None:
    d = describe(DATA / "chrJapMulti.dcm", decode=True)
    assert d["has_image"] is False
    assert d["metadata"]["patient_name"] == "やまだ^たろう"
    assert "none (this file holds no image)" in format_description(d)


def test_folder(tmp_path: Path) -> None:
    save(make_dataset(smooth_image(10, 12)), tmp_path / "a.dcm")
    save(make_dataset(smooth_image(14, 16), PixelSpacing=[0.3, 0.3]), tmp_path / "b.dcm")
    (tmp_path / "readme.txt").write_text("hello")
    d = describe(tmp_path)
    assert sorted((f["rows"], f["columns"]) for f in d["films"]) == [(10, 12), (14, 16)]
    assert d["skipped"] == 1
    assert json.loads(json.dumps(d)) == d
    text = format_description(d)
    assert text.startswith("2 film(s) in")
    assert "1 other file(s) skipped" in text


def test_text_is_readable(tmp_path: Path) -> None:
    ds = make_dataset(smooth_image(48, 40), bits_stored=12, ImagerPixelSpacing=[0.2, 0.1], WindowCenter=100, WindowWidth=50)
    text = format_description(describe(save(ds, tmp_path / "x.dcm")))
    lines = text.splitlines()
    assert "Size:          48 x 40 pixels (rows x columns)" in lines
    assert any(line.startswith("Spacing:") and "0.2 mm (rows) x 0.1 mm (columns)" in line and "10-20% larger" in line for line in lines)
    assert any(line.startswith("Windows:") and "100/50" in line for line in lines)
    assert any(line.startswith("Patient:") for line in lines)
