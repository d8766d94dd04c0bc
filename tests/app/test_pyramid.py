"""Pyramid levels, level choice and windowing, against OpenCV and the DICOM formulas directly."""
import threading

import cv2
import numpy as np
import pytest

from deformity_app.gui.pyramid import (GREY_TO_RGB32, ImagePyramid, Windowing, apply_clahe, auto_window,
                                       window_linear_exact, window_lut)


def dicom_linear(x: float, c: float, w: float) -> int:
    """PS3.3 C.11.2.1.2 LINEAR window to 0..255, written out independently of the module."""
    if w <= 1:
        return 0 if x <= c - 0.5 else 255
    if x <= c - 0.5 - (w - 1) / 2:
        return 0
    if x > c - 0.5 + (w - 1) / 2:
        return 255
    return round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255)   # Python rounds half to even


def dicom_linear_exact(x: float, c: float, w: float) -> int:
    """PS3.3 C.11.2.1.3.2 LINEAR_EXACT window to 0..255."""
    y = ((x - c) / w + 0.5) * 255
    return round(min(255.0, max(0.0, y)))


# ------------------------------------------------------------------------------------------------
# window_lut
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("center, width", [(2048, 4096), (1000.5, 301), (40, 80), (100, 1), (100, 2),
                                           (-200, 700), (3000.25, 17.5)])
@pytest.mark.parametrize("invert", [False, True])
def test_window_lut_matches_dicom_linear(center, width, invert):
    lo, hi = -1024, 4095
    lut = window_lut(center, width, invert, (lo, hi))
    assert lut.dtype == np.uint8 and lut.shape == (hi - lo + 1,)
    expected = [dicom_linear(x, center, width) for x in range(lo, hi + 1)]
    if invert:
        expected = [255 - e for e in expected]
    assert lut.tolist() == expected


def test_window_lut_endpoints_and_monotonic():
    lut = window_lut(2048, 4096, dtype_range=(0, 4095))
    assert (lut[0], lut[4095]) == (0, 255)
    assert np.all(np.diff(lut.astype(int)) >= 0)
    assert np.all(np.diff(window_lut(2048, 4096, True, (0, 4095)).astype(int)) <= 0)


def test_window_lut_rejects_empty_range():
    with pytest.raises(ValueError):
        window_lut(0, 10, dtype_range=(5, 4))


def test_window_linear_exact_matches_formula():
    rng = np.random.default_rng(1)
    region = rng.uniform(-2.0, 3.0, (37, 53)).astype(np.float32)
    for c, w, inv in [(0.5, 1.0, False), (0.0, 0.25, True), (1.2, 4.0, False)]:
        got = window_linear_exact(region, c, w, inv)
        assert got.dtype == np.uint8 and got.shape == region.shape
        expected = np.array([[dicom_linear_exact(float(v), c, w) for v in row] for row in region])
        if inv:
            expected = 255 - expected
        # float32 evaluation inside OpenCV may round a value sitting on .5 the other way
        assert np.abs(got.astype(int) - expected).max() <= 1
        assert np.mean(got == expected) > 0.99


# ------------------------------------------------------------------------------------------------
# Windowing per dtype
# ------------------------------------------------------------------------------------------------

def _expected(region, c, w, invert=False):
    e = np.vectorize(lambda v: dicom_linear(float(v), c, w))(region).astype(np.uint8)
    return 255 - e if invert else e


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8, np.int16])
def test_windowing_small_integer_dtypes(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(2)
    film = rng.integers(info.min, int(info.max) + 1, (40, 30)).astype(dtype)
    c, w = (float(info.min) + float(info.max)) / 2 + 7, (float(info.max) - float(info.min)) / 3
    region = film[5:25, 3:29]               # a strided view, as the display cuts it
    for invert in (False, True):
        got = Windowing(film.dtype, c, w, invert).apply(region)
        assert got.flags.c_contiguous and got.dtype == np.uint8
        np.testing.assert_array_equal(got, _expected(region, c, w, invert))


def test_windowing_int16_negative_values():
    film = np.array([[-32768, -1000, -1, 0, 1, 1000, 32767]], np.int16)
    got = Windowing(film.dtype, 0.5, 2001).apply(film)
    np.testing.assert_array_equal(got, _expected(film, 0.5, 2001))
    assert got[0, 1] == 0 and got[0, 5] == 255 and 120 < got[0, 3] < 135


@pytest.mark.parametrize("lo, hi", [(-70000, -70000 + 5000), (0, 3_000_000)])
def test_windowing_int32_narrow_and_wide_range(lo, hi):
    rng = np.random.default_rng(3)
    film = rng.integers(lo, hi + 1, (20, 25)).astype(np.int32)
    vr = (int(film.min()), int(film.max()))
    c, w = (lo + hi) / 2, (hi - lo) / 2
    got = Windowing(film.dtype, c, w, False, vr).apply(film)
    np.testing.assert_array_equal(got, _expected(film, c, w))


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32, np.float32])
def test_apply_rgb32_is_the_same_grey_as_32_bit_pixels(dtype):
    film = np.random.default_rng(12).integers(-3000, 3000, (30, 40)).astype(dtype)
    vr = (int(film.min()), int(film.max())) if dtype == np.int32 else None
    w = Windowing(film.dtype, 100.5, 2000, True, vr)
    grey = w.apply(film).astype(np.uint32)
    np.testing.assert_array_equal(w.apply_rgb32(film), 0xFF000000 | (grey << 16) | (grey << 8) | grey)
    assert GREY_TO_RGB32[0] == 0xFF000000 and GREY_TO_RGB32[255] == 0xFFFFFFFF


def test_windowing_int32_needs_value_range():
    with pytest.raises(ValueError):
        Windowing(np.dtype(np.int32), 0, 10)


def test_windowing_colour_applies_lut_per_channel():
    rng = np.random.default_rng(4)
    film = rng.integers(0, 256, (10, 12, 3)).astype(np.uint8)
    got = Windowing(film.dtype, 100, 101).apply(film)
    assert got.shape == film.shape
    np.testing.assert_array_equal(got, _expected(film, 100, 101))


# ------------------------------------------------------------------------------------------------
# Pyramid levels
# ------------------------------------------------------------------------------------------------

def _reference_levels(a, min_side=512, work_dtype=None):
    levels = [a]
    while max(levels[-1].shape[:2]) > min_side:
        h, w = levels[-1].shape[:2]
        src = levels[-1] if work_dtype is None else levels[-1].astype(work_dtype)
        small = cv2.resize(src, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
        levels.append(small if work_dtype is None else np.rint(small).astype(a.dtype))
    return levels


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_levels_match_cv2_resize(dtype):
    rng = np.random.default_rng(5)
    film = (rng.normal(0, 1, (1201, 2050)) * 300 + (200 if dtype != np.uint8 else 0)).clip(
        -30000, 30000).astype(dtype)
    pyr = ImagePyramid(film)
    assert pyr.level(0) is film                      # level 0 is the array itself
    assert pyr.shapes == ((1201, 2050), (601, 1025), (301, 513), (151, 257))
    pyr.build()
    assert pyr.complete
    for k, ref in enumerate(_reference_levels(film)):
        assert pyr.level(k).dtype == film.dtype
        np.testing.assert_array_equal(pyr.level(k), ref)
        sy, sx = pyr.factors(k)
        assert (sy, sx) == (1201 / ref.shape[0], 2050 / ref.shape[1])


def test_levels_colour():
    rng = np.random.default_rng(6)
    film = rng.integers(0, 256, (900, 700, 3)).astype(np.uint8)
    pyr = ImagePyramid(film)
    pyr.build()
    refs = _reference_levels(film)
    assert pyr.n_levels == len(refs) == 2 and pyr.is_colour
    for k, ref in enumerate(refs):
        np.testing.assert_array_equal(pyr.level(k), ref)


def test_levels_int32_narrow_range_exact():
    rng = np.random.default_rng(7)
    film = rng.integers(100_000, 100_000 + 60_000, (1100, 600)).astype(np.int32)
    pyr = ImagePyramid(film)
    pyr.build()
    shifted = (film - 100_000).astype(np.uint16)     # the same data where cv2 can resize it
    for k, ref in enumerate(_reference_levels(shifted)):
        np.testing.assert_array_equal(pyr.level(k), ref.astype(np.int32) + 100_000)


def test_levels_int32_wide_range_via_float64():
    rng = np.random.default_rng(8)
    film = rng.integers(-2_000_000, 2_000_000, (1100, 600)).astype(np.int32)
    pyr = ImagePyramid(film)
    pyr.build()
    for k, ref in enumerate(_reference_levels(film, work_dtype=np.float64)):
        np.testing.assert_array_equal(pyr.level(k), ref)
    assert pyr.value_range == (int(film.min()), int(film.max()))


def test_levels_int8_via_int16():
    rng = np.random.default_rng(9)
    film = rng.integers(-128, 128, (1030, 40)).astype(np.int8)
    pyr = ImagePyramid(film)
    pyr.build()
    ref = cv2.resize(film.astype(np.int16), (20, 515), interpolation=cv2.INTER_AREA).astype(np.int8)
    np.testing.assert_array_equal(pyr.level(1), ref)


def test_non_contiguous_film_is_not_copied():
    base = np.random.default_rng(10).integers(0, 4096, (2000, 1400)).astype(np.uint16)
    film = base[::2, 1::2]
    pyr = ImagePyramid(film)
    assert pyr.level(0) is film
    pyr.build()
    for k, ref in enumerate(_reference_levels(np.ascontiguousarray(film))):
        np.testing.assert_array_equal(pyr.level(k), ref)


def test_small_film_has_one_level_and_is_complete():
    pyr = ImagePyramid(np.zeros((300, 512), np.uint16))
    assert pyr.n_levels == 1 and pyr.complete and pyr.preview_level == 0


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.uint16),
                                 np.zeros((2, 3, 4, 5), np.uint8), np.zeros(7, np.uint8),
                                 np.zeros((0, 5), np.uint8)])
def test_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        ImagePyramid(bad)


@pytest.mark.parametrize("dtype", [bool, np.complex64, np.float16])
def test_rejects_bad_dtypes(dtype):
    with pytest.raises(TypeError):
        ImagePyramid(np.zeros((4, 4), dtype))


# ------------------------------------------------------------------------------------------------
# Preview, level choice, background build
# ------------------------------------------------------------------------------------------------

def test_preview_is_nearest_sample_of_the_right_shape():
    rows, cols = 5000, 2600
    film = (np.arange(rows)[:, None] * 3 + np.arange(cols)[None, :]).astype(np.int32).astype(np.uint16)
    pyr = ImagePyramid(film)
    p = pyr.preview_level
    assert p == 2 and not pyr.is_built(p)            # 1250 x 650: the finest level <= 2048 px
    preview = pyr.level(p)
    assert preview.shape == pyr.shapes[p]
    sy, sx = pyr.factors(p)
    # sample (a, b) is the film pixel nearest the centre of the level pixel
    for a, b in [(0, 0), (10, 17), (1249, 649), (600, 321)]:
        i, j = int((a + 0.5) * sy), int((b + 0.5) * sx)
        assert abs(int(preview[a, b]) - int(film[i, j])) <= 4   # within one pixel either way
    pyr.build()
    assert pyr.is_built(p) and pyr.level(p) is not preview


def test_level_for_scale_picks_coarsest_level_at_least_screen_resolution():
    pyr = ImagePyramid(np.zeros((8192, 2048), np.uint16))    # factors exactly 1, 2, 4, 8, 16
    assert pyr.n_levels == 5 and pyr.shapes[-1] == (512, 128)
    assert pyr.level_for_scale(32.0) == 0
    assert pyr.level_for_scale(1.0) == 0
    assert pyr.level_for_scale(0.51) == 0
    assert pyr.level_for_scale(0.5) == 1
    assert pyr.level_for_scale(0.3) == 1
    assert pyr.level_for_scale(0.25) == 2
    assert pyr.level_for_scale(0.1) == 3
    assert pyr.level_for_scale(0.01) == 4
    assert pyr.level_for_scale(0.0) == 4


def test_available_level_falls_back_to_finest_coarser_then_finer():
    pyr = ImagePyramid(np.zeros((8192, 4096), np.uint16), preview_side=1024)
    p = pyr.preview_level
    assert p == 3
    assert pyr.available_level(1)[0] == p      # not built yet: the coarser preview
    assert pyr.available_level(3)[0] == p
    assert pyr.available_level(4)[0] == p      # nothing coarser yet: nearest finer
    assert pyr.available_level(0)[0] == 0
    pyr.build()
    assert [pyr.available_level(k)[0] for k in range(pyr.n_levels)] == list(range(pyr.n_levels))


def test_build_in_worker_thread_reports_levels_and_cancel_stops():
    film = np.random.default_rng(11).integers(0, 4096, (3000, 1000)).astype(np.uint16)
    pyr = ImagePyramid(film)
    seen: list[int] = []
    t = threading.Thread(target=pyr.build, kwargs={"on_level": seen.append})
    t.start()
    t.join(30)
    assert pyr.complete and seen == list(range(1, pyr.n_levels))
    assert pyr.build() is True                   # nothing left to do

    other = ImagePyramid(film)
    other.cancel()
    assert other.build() is False and not other.complete


# ------------------------------------------------------------------------------------------------
# auto window, CLAHE
# ------------------------------------------------------------------------------------------------

def test_auto_window_maps_percentiles_to_black_and_white():
    sample = np.arange(0, 4000, dtype=np.uint16)
    c, w = auto_window(sample, 0.0, 100.0)
    assert (c, w) == (2000.0, 4000.0)
    lut = window_lut(c, w, dtype_range=(0, 3999))
    assert lut[0] == 0 and lut[3999] == 255
    cf, wf = auto_window(np.linspace(-1.0, 1.0, 1001, dtype=np.float32), 0.0, 100.0)
    assert cf == pytest.approx(0.0, abs=1e-6) and wf == pytest.approx(2.0)
    assert auto_window(np.full(10, 7.0))[1] > 0


def test_clahe_keeps_shape_and_raises_local_contrast():
    y, x = np.mgrid[0:256, 0:256]
    grey = (100 + 10 * np.sin(x / 6.0) + (y > 128) * 40).astype(np.uint8)
    out = apply_clahe(grey)
    assert out.shape == grey.shape and out.dtype == np.uint8
    assert out[:, :100].std() > grey[:, :100].std()
    colour = np.dstack([grey, grey, grey])
    out3 = apply_clahe(colour)
    assert out3.shape == colour.shape and out3.dtype == np.uint8


def test_pyramid_module_stays_qt_free(python_exe):
    import subprocess
    code = "import sys, deformity_app.gui.pyramid; print('PySide6' in sys.modules)"
    out = subprocess.run([python_exe, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
