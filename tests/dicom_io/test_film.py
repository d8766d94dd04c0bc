"""open_film / read_header: real files of every encoding, films written here, and bad input."""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from dicom_io_helpers import DATA, PATIENT_ID, PATIENT_NAME, make_dataset, save, smooth_image, pydicom_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.data import get_charset_files
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless, RLELossless

from dicom_io import (
    CalibrationSource,
    CorruptFilmError,
    FilmError,
    FilmNotFoundError,
    FilmTooLargeError,
    InconsistentFilmError,
    NoImageError,
    NotAFilmError,
    NotDicomError,
    Radiograph,
    TruncatedFilmError,
    UnsupportedCompressionError,
    UnsupportedFilmError,
    open_film,
    read_header,
)
from dicom_io.film import auto_window

# --------------------------------------------------------------------------------------------
# Real files: every transfer syntax against pydicom's own decode


def _reference(path: Path) -> np.ndarray:
    """What the film should contain, computed with pydicom only: first frame, modality values,
    colour as RGB uint8 keeping the most significant bits."""
    ds = pydicom.dcmread(path, force=True)
    frame = pydicom.pixels.pixel_array(ds, index=0)
    photometric = ds.PhotometricInterpretation
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, ds)
        return (rgb // 256).astype(np.uint8) if rgb.max() > 255 else rgb.astype(np.uint8)
    if frame.ndim == 3:
        if frame.dtype == np.uint8:
            return frame
        return (frame // 2 ** (int(ds.BitsStored) - 8)).astype(np.uint8)
    return apply_modality_lut(frame, ds)


TRANSFER_SYNTAX_FILES = [
    "CT_small.dcm",  # Explicit VR Little Endian, signed, rescale
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian
    "image_dfl.dcm",  # Deflated Explicit VR Little Endian
    "JPEG-LL.dcm",  # JPEG Lossless SV1 (1.2.840.10008.1.2.4.70)
    "JPGLosslessP14SV1_1s_1f_8b.dcm",  # JPEG Lossless, 8 bit
    "JPGExtended.dcm",  # JPEG Extended 12 bit (4.51)
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG Baseline, colour (4.50)
    "color3d_jpeg_baseline.dcm",  # JPEG Baseline YBR_FULL_422, 120 frames
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS Lossless (4.80)
    "JPEGLSNearLossless_16.dcm",  # JPEG-LS Near-Lossless (4.81)
    "MR_small_jp2klossless.dcm",  # JPEG 2000 Lossless (4.90)
    "JPEG2000.dcm",  # JPEG 2000 (4.91)
    "J2K_pixelrep_mismatch.dcm",  # JPEG 2000 signedness differs from the header
    "US1_J2KR.dcm",  # JPEG 2000 colour (YBR_RCT)
    "MR_small_RLE.dcm",  # RLE Lossless
    "emri_small_RLE.dcm",  # RLE, 10 frames
    "emri_small.dcm",  # native, 10 frames
    "SC_rgb.dcm",
    "SC_rgb_16bit.dcm",
    "SC_rgb_expb.dcm",
    "SC_rgb_small_odd_big_endian.dcm",  # 8-bit OW big endian, odd length
    "SC_rgb_jpeg.dcm",  # says explicit VR, written implicit
    "SC_ybr_full_uncompressed.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "SC_rgb_rle.dcm",
    "OBXXXX1A.dcm",  # palette colour
    "OBXXXX1A_expb.dcm",  # palette colour, 16-bit palette holding 8-bit values
    "mlut_18.dcm",  # Modality LUT Sequence
    "MR2_UNCR.dcm",  # fractional rescale slope
]


def _radiograph_files() -> list[str]:
    """Every RG1_*/RG3_* film pydicom-data ships, listed from its folder (offline)."""
    try:
        from pydicom.data.data_manager import external_data_sources

        folder = Path(external_data_sources()["pydicom-data"].data_path)
    except (KeyError, AttributeError, ImportError):
        return []
    return sorted(p.name for p in folder.glob("RG[13]_*.dcm"))


RADIOGRAPH_FILES = _radiograph_files()


def test_pydicom_data_ships_the_expected_radiographs() -> None:
    expected = {f"RG{n}_{enc}.dcm" for n in (1, 3) for enc in ("J2KI", "J2KR", "UNCI", "UNCR")}
    if not RADIOGRAPH_FILES:
        pytest.skip("pydicom-data not installed")
    assert expected <= set(RADIOGRAPH_FILES)


@pytest.mark.parametrize("name", TRANSFER_SYNTAX_FILES + RADIOGRAPH_FILES)
def test_real_file_matches_pydicom_decode(name: str) -> None:
    path = pydicom_file(name)
    film = open_film(path)
    expected = _reference(path)
    ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)

    assert film.kind == "dicom"
    assert film.pixels.shape[:2] == (ds.Rows, ds.Columns)
    if film.pixels.dtype.kind == "f":
        np.testing.assert_allclose(film.pixels, expected, rtol=1e-6, atol=1e-4)
    else:
        np.testing.assert_array_equal(film.pixels, expected)
    assert film.number_of_frames == int(ds.get("NumberOfFrames") or 1)
    if film.number_of_frames > 1:
        assert any(f"{film.number_of_frames} frames" in note for note in film.notes)
    assert film.invert_display == (ds.PhotometricInterpretation == "MONOCHROME1")
    assert film.is_color == (film.pixels.ndim == 3)
    if film.is_color:
        assert film.pixels.dtype == np.uint8 and film.pixels.shape[2] == 3
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    if not film.is_color and slope.is_integer() and intercept.is_integer():
        assert film.pixels.dtype.kind in "ui", "integral rescale must keep integer pixels"


@pytest.mark.parametrize("name", ["RG3_J2KR.dcm", "RG3_UNCR.dcm"])
def test_rg3_film_header(name: str) -> None:
    path = pydicom_file(name)
    film = open_film(path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert film.photometric == "MONOCHROME1" and film.invert_display
    assert film.bits_stored == 10
    assert film.pixels.dtype == np.uint16
    assert film.calibration.source == CalibrationSource.NONE
    assert film.calibration.pixel_spacing_mm is None
    assert film.metadata.laterality == "R"
    assert film.metadata.patient_name == str(ds.PatientName)
    assert film.metadata.patient_id == str(ds.PatientID)
    assert film.metadata.birth_date == str(ds.PatientBirthDate)
    assert film.metadata.study_description == str(ds.StudyDescription)
    assert film.metadata.modality == "CR"
    assert film.metadata.sop_instance_uid == str(ds.SOPInstanceUID)
    assert str(ds.file_meta.TransferSyntaxUID) in film.metadata.transfer_syntax
    assert [(p.center, p.width) for p in film.window_presets] == [(550.0, 1024.0)]


def test_rg1_zero_pixel_spacing_is_uncalibrated() -> None:
    path = pydicom_file("RG1_J2KI.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert [float(v) for v in ds.PixelSpacing] == [0.0, 0.0]  # the quirk under test
    film = open_film(path)
    assert film.calibration.source == CalibrationSource.NONE
    assert not film.calibration.calibrated
    assert read_header(path).calibration.source == CalibrationSource.NONE
    assert any("loss" in note for note in film.notes)  # lossy JPEG 2000


def test_pcir_cr_uses_imager_pixel_spacing() -> None:
    film = open_film(DATA / "pcir_CR1_6154.dcm")
    assert film.calibration.source == CalibrationSource.IMAGER
    assert film.calibration.pixel_spacing_mm == (0.1, 0.1)
    assert film.calibration.caveat == "detector plane: anatomy appears about 10-20% larger than life"
    assert film.invert_display
    ds = pydicom.dcmread(DATA / "pcir_CR1_6154.dcm")
    assert float(ds.RescaleSlope) != 1  # this film has a fractional rescale: float32 pixels
    reference = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert film.pixels.dtype == np.float32
    np.testing.assert_allclose(film.pixels, reference, rtol=1e-6)


def test_japanese_header_without_image() -> None:
    path = DATA / "chrJapMulti.dcm"
    with pytest.raises(NoImageError):
        open_film(path)
    summary = read_header(path)
    assert not summary.has_pixels
    assert summary.metadata.patient_name == "やまだ^たろう"
    assert summary.metadata.study_description == "Chest"
    assert summary.calibration.source == CalibrationSource.IMAGER


def test_dicomdir_is_not_a_film_but_says_what_it_is() -> None:
    with pytest.raises(NoImageError) as info:
        open_film(pydicom_file("DICOMDIR"))
    assert "DICOMDIR" in str(info.value)


def test_korean_patient_name() -> None:
    path = Path(get_charset_files("chrKoreanMulti.dcm")[0])
    assert read_header(path).metadata.patient_name == "김희중"


def test_metadata_fields_from_header(write_film, image16) -> None:
    path = write_film(
        image16,
        PatientBirthDate="19700203",
        PatientSex="F",
        AccessionNumber="ACC12",
        InstitutionName="Clinic",
        Laterality="L",
        ViewPosition="AP",
        PatientOrientation=["L", "F"],
        Manufacturer="Acme",
        SeriesDescription="Both legs",
    )
    m = open_film(path).metadata
    assert (m.patient_name, m.patient_id, m.birth_date, m.sex) == (PATIENT_NAME, PATIENT_ID, "19700203", "F")
    assert (m.accession_number, m.institution, m.laterality, m.view_position) == ("ACC12", "Clinic", "L", "AP")
    assert m.patient_orientation == ("L", "F")
    assert (m.modality, m.manufacturer, m.series_description) == ("DX", "Acme", "Both legs")
    assert m.transfer_syntax == "Explicit VR Little Endian (1.2.840.10008.1.2.1)"
    ds = pydicom.dcmread(path)
    assert (m.study_instance_uid, m.series_instance_uid) == (ds.StudyInstanceUID, ds.SeriesInstanceUID)


def test_image_laterality_wins_over_series_laterality(write_film, image16) -> None:
    path = write_film(image16, ImageLaterality="R", Laterality="L")
    assert open_film(path).metadata.laterality == "R"


# --------------------------------------------------------------------------------------------
# Films written here


def test_dx_imager_spacing_with_ermf(write_film, image16) -> None:
    path = write_film(image16, ImagerPixelSpacing=[0.15, 0.1], EstimatedRadiographicMagnificationFactor=1.2)
    calibration = open_film(path).calibration
    assert calibration.source == CalibrationSource.IMAGER_ERMF
    assert calibration.row_mm == pytest.approx(0.125)
    assert calibration.column_mm == pytest.approx(0.1 / 1.2)


def test_fiducial_pixel_spacing_keeps_rows_and_columns(write_film, image16) -> None:
    path = write_film(
        image16,
        PixelSpacing=[0.2, 0.1],
        ImagerPixelSpacing=[0.2, 0.1],
        PixelSpacingCalibrationType="FIDUCIAL",
    )
    calibration = open_film(path).calibration
    assert calibration.source == CalibrationSource.PIXEL_SPACING
    assert calibration.pixel_spacing_mm == (0.2, 0.1)
    assert "reference object" in calibration.caveat


@pytest.mark.parametrize("photometric, inverted", [("MONOCHROME1", True), ("MONOCHROME2", False)])
def test_monochrome_display_polarity(write_film, image16, photometric: str, inverted: bool) -> None:
    film = open_film(write_film(image16, photometric=photometric, bits_stored=12))
    assert film.invert_display is inverted
    assert film.photometric == photometric
    np.testing.assert_array_equal(film.pixels, image16)
    assert film.pixels.dtype == np.uint16


def test_inverse_presentation_shape_on_monochrome2(write_film, image16) -> None:
    film = open_film(write_film(image16, PresentationLUTShape="INVERSE"))
    assert film.invert_display


def test_signed_pixels_with_integral_rescale_stay_int16(write_film) -> None:
    rng = np.random.default_rng(1)
    stored = rng.integers(-2000, 2000, size=(30, 20), dtype=np.int16)
    film = open_film(write_film(stored, RescaleSlope=2, RescaleIntercept=-1000))
    expected = stored.astype(np.int64) * 2 - 1000
    assert film.pixels.dtype == np.int16
    np.testing.assert_array_equal(film.pixels, expected)


def test_ct_like_intercept_on_unsigned_gives_int16(write_film) -> None:
    stored = smooth_image(32, 32, bits=12)
    film = open_film(write_film(stored, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024))
    assert film.pixels.dtype == np.int16
    np.testing.assert_array_equal(film.pixels, stored.astype(np.int64) - 1024)


def test_negative_intercept_that_stays_positive_keeps_uint16(write_film) -> None:
    stored = np.full((8, 8), 3000, dtype=np.uint16)
    stored[0, 0] = 1000
    film = open_film(write_film(stored, RescaleSlope=1, RescaleIntercept=-500))
    assert film.pixels.dtype == np.uint16
    np.testing.assert_array_equal(film.pixels, stored.astype(np.int64) - 500)


def test_rescale_beyond_16_bits_gives_int32(write_film) -> None:
    stored = np.array([[0, 1000], [50000, 65535]], dtype=np.uint16)
    film = open_film(write_film(stored, RescaleSlope=1, RescaleIntercept=10000))
    assert film.pixels.dtype == np.int32
    np.testing.assert_array_equal(film.pixels, stored.astype(np.int64) + 10000)


def test_fractional_rescale_gives_float32(write_film, image16) -> None:
    film = open_film(write_film(image16, RescaleSlope=0.5, RescaleIntercept=0.25))
    assert film.pixels.dtype == np.float32
    np.testing.assert_allclose(film.pixels, image16 * 0.5 + 0.25, rtol=1e-7)


def test_identity_rescale_leaves_pixels_untouched(write_film, image16) -> None:
    film = open_film(write_film(image16, RescaleSlope=1, RescaleIntercept=0))
    assert film.pixels.dtype == np.uint16
    np.testing.assert_array_equal(film.pixels, image16)


def test_pixels_are_read_only(write_film, image16) -> None:
    film = open_film(write_film(image16))
    with pytest.raises(ValueError):
        film.pixels[0, 0] = 1


def test_window_presets_with_explanations_and_function(write_film, image16) -> None:
    film = open_film(
        write_film(
            image16,
            WindowCenter=[40, 300, 1500, 7],
            WindowWidth=[400, 1500, 3000, 0],
            WindowCenterWidthExplanation=["SOFT", "BONE", "WIDE", "BROKEN"],
            VOILUTFunction="SIGMOID",
        )
    )
    assert [(p.name, p.center, p.width) for p in film.window_presets] == [
        ("SOFT", 40.0, 400.0),
        ("BONE", 300.0, 1500.0),
        ("WIDE", 1500.0, 3000.0),
    ]  # a zero width is not a window
    assert film.voi_function == "SIGMOID"


def test_window_preset_without_explanation_gets_a_name(write_film, image16) -> None:
    film = open_film(write_film(image16, WindowCenter=2000, WindowWidth=4000))
    assert [(p.center, p.width) for p in film.window_presets] == [(2000.0, 4000.0)]
    assert film.window_presets[0].name


def test_voi_lut_sequence_matches_pydicom(tmp_path, image16) -> None:
    ds = make_dataset(image16, bits_stored=12, RescaleSlope=1, RescaleIntercept=-100)
    item = Dataset()
    item.LUTDescriptor = [2048, 200, 12]
    item.LUTData = np.linspace(0, 4095, 2048).astype("<u2").tobytes()
    item.LUTExplanation = "S-curve"
    ds.VOILUTSequence = Sequence([item])
    path = save(ds, tmp_path / "voi.dcm")
    film = open_film(path)
    assert film.voi_lut is not None
    assert film.voi_lut.first_mapped == 200 and film.voi_lut.bits == 12
    assert film.voi_lut.explanation == "S-curve"
    reference_ds = pydicom.dcmread(path)
    modality = apply_modality_lut(reference_ds.pixel_array, reference_ds)
    expected = apply_voi_lut(modality.astype(np.int64), reference_ds)
    np.testing.assert_array_equal(film.voi_lut.apply(film.pixels), expected)


def test_multi_frame_opens_first_frame(write_film) -> None:
    frames = np.stack([np.full((16, 12), 100 * (i + 1), dtype=np.uint16) for i in range(3)])
    frames[0, 3, 4] = 7
    film = open_film(write_film(frames))
    np.testing.assert_array_equal(film.pixels, frames[0])
    assert film.number_of_frames == 3
    assert any("3 frames" in note for note in film.notes)


def test_multi_frame_rle_opens_first_frame(tmp_path) -> None:
    frames = np.stack([smooth_image(16, 12, seed=i) for i in range(4)])
    ds = make_dataset(frames, bits_stored=12)
    ds.compress(RLELossless, frames)
    film = open_film(save(ds, tmp_path / "rle.dcm"))
    np.testing.assert_array_equal(film.pixels, frames[0])
    assert film.number_of_frames == 4


def test_jpeg2000_lossless_film_round_trip(tmp_path, image16) -> None:
    ds = make_dataset(image16, bits_stored=12)
    ds.compress(JPEG2000Lossless, image16, encoding_plugin="pylibjpeg")
    film = open_film(save(ds, tmp_path / "j2k.dcm"))
    np.testing.assert_array_equal(film.pixels, image16)
    assert film.pixels.dtype == np.uint16


def test_colour_secondary_capture(write_film) -> None:
    rgb = np.zeros((10, 12, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    rgb[5:, :, 2] = 90
    film = open_film(write_film(rgb, photometric="RGB", bits_stored=8))
    assert film.is_color and film.pixels.shape == (10, 12, 3)
    np.testing.assert_array_equal(film.pixels, rgb)
    assert film.window_presets == ()


def test_grey_saved_as_rgb_becomes_grey(write_film) -> None:
    grey = np.arange(120, dtype=np.uint8).reshape(10, 12)
    film = open_film(write_film(np.repeat(grey[..., None], 3, axis=2), photometric="RGB", bits_stored=8))
    assert not film.is_color
    np.testing.assert_array_equal(film.pixels, grey)


def test_auto_window_is_the_robust_percentile_range(write_film) -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 1000, size=(600, 500), dtype=np.uint16)
    image[:2] = 4095  # a burnt-in label (0.3% of the film) must not stretch the window
    film = open_film(write_film(image, bits_stored=12))
    low, high = np.percentile(image, [0.5, 99.5])
    assert film.auto_window.center == pytest.approx((low + high) / 2, abs=15)
    assert film.auto_window.width == pytest.approx(high - low, abs=30)
    assert film.auto_window.high < 1100


def test_auto_window_of_flat_image_has_positive_width() -> None:
    window = auto_window(np.full((20, 20), 7, dtype=np.uint16))
    assert window.center == 7 and window.width > 0


def test_radiograph_from_array() -> None:
    film = Radiograph.from_array(np.zeros((5, 4), dtype=np.uint16))
    assert (film.rows, film.columns) == (5, 4)
    assert not film.calibration.calibrated and not film.pixels.flags.writeable


# --------------------------------------------------------------------------------------------
# PNG, JPEG and TIFF


@pytest.mark.parametrize("extension", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_images_keep_their_depth(tmp_path, extension: str, dtype) -> None:
    top = np.iinfo(dtype).max
    image = (np.linspace(0, top, 30 * 20).reshape(30, 20)).astype(dtype)
    path = tmp_path / f"film{extension}"
    assert cv2.imwrite(str(path), image)
    film = open_film(path)
    assert film.kind == "image" and film.file_format in ("PNG", "TIFF")
    assert film.pixels.dtype == dtype
    np.testing.assert_array_equal(film.pixels, image)
    assert film.calibration.source == CalibrationSource.NONE
    assert film.photometric == "MONOCHROME2" and not film.invert_display
    summary = read_header(path)
    assert (summary.rows, summary.columns, summary.bits_stored) == (30, 20, np.dtype(dtype).itemsize * 8)


def test_jpeg_image(tmp_path) -> None:
    image = smooth_image(40, 30, bits=8).astype(np.uint8)
    path = tmp_path / "scan.jpg"
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    film = open_film(path)
    assert film.file_format == "JPEG" and film.pixels.shape == (40, 30)
    assert np.abs(film.pixels.astype(int) - image).mean() < 3


def test_colour_png_is_rgb(tmp_path) -> None:
    bgr = np.zeros((8, 9, 3), dtype=np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    bgr[4:, :, 1] = 80
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), bgr)
    film = open_film(path)
    assert film.is_color and film.photometric == "RGB"
    np.testing.assert_array_equal(film.pixels, bgr[..., ::-1])


def test_png_with_alpha_drops_transparency(tmp_path) -> None:
    bgra = np.zeros((6, 6, 4), dtype=np.uint8)
    bgra[..., 0] = 255  # blue
    bgra[..., 3] = 128
    path = tmp_path / "alpha.png"
    cv2.imwrite(str(path), bgra)
    film = open_film(path)
    assert film.pixels.shape == (6, 6, 3)
    assert film.pixels[0, 0].tolist() == [0, 0, 255]
    assert any("transparency" in note for note in film.notes)


def test_multi_page_tiff_opens_first_page(tmp_path) -> None:
    pages = [np.full((10, 10), 10, np.uint16), np.full((10, 10), 20, np.uint16)]
    path = tmp_path / "pages.tif"
    assert cv2.imwritemulti(str(path), pages)
    film = open_film(path)
    assert film.number_of_frames == 2
    np.testing.assert_array_equal(film.pixels, pages[0])


@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_cut_image_file_is_truncated(tmp_path, extension: str) -> None:
    path = tmp_path / f"cut{extension}"
    cv2.imwrite(str(path), smooth_image(64, 64, bits=8).astype(np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedFilmError):
        open_film(path)


def test_png_claiming_huge_size_is_refused_before_decoding(tmp_path) -> None:
    path = tmp_path / "huge.png"
    cv2.imwrite(str(path), np.zeros((4, 4), np.uint8))
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 60000, 60000)
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(FilmTooLargeError):
            open_film(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is a text file\n" * 20, np.random.default_rng(7).bytes(4096), b"\x00" * 200],
    ids=["empty", "text", "random", "zeros"],
)
def test_not_a_film(tmp_path, content: bytes) -> None:
    path = tmp_path / "thing.dcm"
    path.write_bytes(content)
    with pytest.raises(NotAFilmError) as info:
        open_film(path)
    assert isinstance(info.value, NotDicomError)
    with pytest.raises(NotAFilmError):
        read_header(path)


def test_missing_file_and_folder(tmp_path) -> None:
    with pytest.raises(FilmNotFoundError):
        open_film(tmp_path / "absent.dcm")
    with pytest.raises(NotAFilmError):
        open_film(tmp_path)


def test_dicm_preamble_then_garbage_is_a_film_error(tmp_path) -> None:
    path = tmp_path / "garbage.dcm"
    path.write_bytes(b"\x00" * 128 + b"DICM" + np.random.default_rng(1).bytes(3000))
    with pytest.raises(FilmError):
        open_film(path)


def test_file_cut_inside_native_pixel_data(write_film, image16) -> None:
    path = write_film(image16)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - image16.nbytes // 2])
    with pytest.raises(TruncatedFilmError):
        open_film(path)


def test_pixel_data_shorter_than_the_stated_size(tmp_path, image16) -> None:
    ds = make_dataset(image16)
    ds.Rows = 96  # twice the rows the data holds
    path = save(ds, tmp_path / "short.dcm")
    with pytest.raises(TruncatedFilmError):
        open_film(path)


def test_dimensions_contradicting_pixel_data(tmp_path, image16) -> None:
    ds = make_dataset(image16)
    ds.Rows = 24  # the data holds twice as many pixels
    path = save(ds, tmp_path / "long.dcm")
    with pytest.raises(InconsistentFilmError):
        open_film(path)


def test_compressed_frame_of_another_size(tmp_path, image16) -> None:
    ds = make_dataset(image16, bits_stored=12)
    ds.compress(JPEG2000Lossless, image16, encoding_plugin="pylibjpeg")
    ds.Rows = 24
    with pytest.raises(InconsistentFilmError):
        open_film(save(ds, tmp_path / "j2k_wrong_size.dcm"))


def test_compressed_file_cut_short(tmp_path, image16) -> None:
    ds = make_dataset(image16, bits_stored=12)
    ds.compress(JPEG2000Lossless, image16, encoding_plugin="pylibjpeg")
    path = save(ds, tmp_path / "j2k_cut.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 300])
    with pytest.raises(TruncatedFilmError):
        open_film(path)


def test_pydicom_truncated_test_files() -> None:
    with pytest.raises(TruncatedFilmError):
        open_film(pydicom_file("MR_truncated.dcm"))
    with pytest.raises(TruncatedFilmError):
        open_film(pydicom_file("emri_small_jpeg_2k_lossless_too_short.dcm"))


def test_corrupt_compressed_data(tmp_path, image16) -> None:
    ds = make_dataset(image16, bits_stored=12)
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + np.random.default_rng(2).bytes(500)])
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    with pytest.raises(CorruptFilmError):
        open_film(save(ds, tmp_path / "corrupt.dcm"))


@pytest.mark.parametrize(
    "uid, named",
    [("1.2.840.10008.1.2.4.100", "MPEG2"), ("1.2.826.0.1.3680043.99.77.1", "1.2.826.0.1.3680043.99.77.1")],
)
def test_unsupported_transfer_syntax(tmp_path, image16, uid: str, named: str) -> None:
    ds = make_dataset(image16)
    ds.PixelData = encapsulate([image16.tobytes()])
    ds.file_meta.TransferSyntaxUID = uid
    path = tmp_path / "video.dcm"
    ds.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=True)
    with pytest.raises(UnsupportedCompressionError) as info:
        open_film(path)
    assert named in str(info.value)


def test_header_claiming_60000_square_is_refused_before_allocating(tmp_path) -> None:
    ds = make_dataset(np.zeros((4, 4), np.uint16))
    ds.Rows = ds.Columns = 60000
    path = save(ds, tmp_path / "huge.dcm")
    tracemalloc.start()
    try:
        with pytest.raises(FilmTooLargeError):
            open_film(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # 60000 x 60000 x 2 bytes would be 7.2 GB


def test_memory_limit(tmp_path) -> None:
    ds = make_dataset(np.zeros((4, 4), np.uint16))
    ds.Rows = ds.Columns = 30000  # 1.8 GB of 16-bit pixels: under 40000 a side, over 1.5 GB
    with pytest.raises(FilmTooLargeError):
        open_film(save(ds, tmp_path / "big.dcm"))
    small = save(make_dataset(np.zeros((100, 100), np.uint16)), tmp_path / "small.dcm")
    with pytest.raises(FilmTooLargeError):
        open_film(small, max_bytes=10_000)
    assert open_film(small, max_bytes=20_000).rows == 100


def test_float_pixel_data_is_unsupported(tmp_path, image16) -> None:
    ds = make_dataset(image16)
    del ds.PixelData
    ds.FloatPixelData = np.zeros(image16.size, np.float32).tobytes()
    ds.BitsAllocated = 32
    with pytest.raises(UnsupportedFilmError):
        open_film(save(ds, tmp_path / "float.dcm"))


def test_header_only_read_does_not_decode(tmp_path, image16) -> None:
    ds = make_dataset(image16, bits_stored=12, ImagerPixelSpacing=[0.2, 0.1])
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 100])
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    path = save(ds, tmp_path / "broken_pixels.dcm")
    summary = read_header(path)
    assert (summary.rows, summary.columns, summary.has_pixels) == (48, 40, True)
    assert summary.calibration.pixel_spacing_mm == (0.2, 0.1)
    with pytest.raises(CorruptFilmError):
        open_film(path)


def _bad_files(tmp_path: Path, image16: np.ndarray) -> list[Path]:
    paths = []
    for name, content in [("random.dcm", np.random.default_rng(5).bytes(999)), ("text.txt", b"not a film")]:
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)
    ds = make_dataset(image16)
    ds.Rows = 96
    paths.append(save(ds, tmp_path / "short.dcm"))
    ds = make_dataset(image16)
    ds.Rows = ds.Columns = 60000
    paths.append(save(ds, tmp_path / "huge.dcm"))
    paths.append(DATA / "chrJapMulti.dcm")
    return paths


def test_error_messages_are_sentences_without_patient_data(tmp_path, image16) -> None:
    for path in _bad_files(tmp_path, image16):
        with pytest.raises(FilmError) as info:
            open_film(path)
        message = str(info.value)
        assert message[0].isupper() and message.endswith("."), message
        assert "Traceback" not in message and "Secretname" not in message and PATIENT_ID not in message
        assert "やまだ" not in message


def test_logs_never_contain_patient_name_or_id(tmp_path, image16, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    good = save(make_dataset(image16), tmp_path / "good.dcm")
    open_film(good)
    read_header(good)
    for path in _bad_files(tmp_path, image16):
        with pytest.raises(FilmError):
            open_film(path)
    ours = [r for r in caplog.records if r.name.startswith("dicom_io")]
    assert ours, "opening films should leave some (anonymous) log records"
    for record in ours:
        text = record.getMessage()
        assert "Secretname" not in text and PATIENT_ID not in text and "やまだ" not in text
        assert str(tmp_path) not in text  # paths can carry patient names too


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pydicom_log_records_withhold_malformed_values(tmp_path, image16, caplog) -> None:
    # A damaged UID running into the patient's name, as a cut or overwritten header does:
    # pydicom's warning quotes the whole value.
    ds = make_dataset(image16)
    with pydicom.config.disable_value_validation():
        ds.SeriesInstanceUID = "1.2.3^Secretname"
        path = save(ds, tmp_path / "bad_uid.dcm")
    caplog.set_level(logging.DEBUG)
    film = open_film(path)
    assert film.metadata.series_instance_uid == "1.2.3^Secretname"
    pydicom_records = [r for r in caplog.records if r.name.startswith("pydicom")]
    assert any("VR UI" in r.getMessage() for r in pydicom_records)  # the warning itself survives
    assert not any("Secretname" in r.getMessage() for r in caplog.records)


_SEED_FILES = [DATA / "pcir_CR1_6154.dcm"]


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_only_film_errors(tmp_path_factory, data) -> None:
    original = _SEED_FILES[0].read_bytes()
    content = bytearray(original)
    action = data.draw(st.sampled_from(["cut", "flip", "both"]))
    if action in ("flip", "both"):
        for _ in range(data.draw(st.integers(1, 8))):
            index = data.draw(st.integers(0, len(content) - 1))
            content[index] = data.draw(st.integers(0, 255))
    if action in ("cut", "both"):
        content = content[: data.draw(st.integers(0, len(content)))]
    path = tmp_path_factory.mktemp("fuzz") / "film.dcm"
    path.write_bytes(bytes(content))
    try:
        film = open_film(path)
    except FilmError as exc:
        assert str(exc)
    else:
        assert film.pixels.ndim in (2, 3)


def test_native_film_costs_one_copy_of_its_pixels(tmp_path) -> None:
    pixels = smooth_image(1500, 1000, bits=12)
    path = save(make_dataset(pixels, bits_stored=12), tmp_path / "big.dcm")
    open_film(path)  # warm imports and caches
    tracemalloc.start()
    try:
        film = open_film(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert film.pixels.nbytes == pixels.nbytes
    assert peak < 1.3 * pixels.nbytes


def test_dicom_io_never_imports_qt_or_the_app() -> None:
    code = (
        "import sys, dicom_io, dicom_io.film, dicom_io.folder, dicom_io.info, dicom_io.calibration\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'deformity_app', 'measurements')]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
