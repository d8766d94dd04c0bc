"""Resolution pyramid and display windowing for large radiographs (numpy + OpenCV, no Qt).

The display path follows pyqtgraph's: pick the pyramid level that matches the zoom, cut the
visible region from it, map modality values to display grey with a lookup table applied to that
region only, and hand the result to the GUI as 8-bit grey or directly as 32-bit RGB32 pixels
(:meth:`Windowing.apply_rgb32`). The film keeps its full depth (8 to 32-bit integers or floats);
the window is applied only to what is shown.

Level 0 is the film array itself. Level ``k`` is the previous level halved with
``cv2.INTER_AREA`` (rounding odd sizes up, as ``cv2.pyrDown`` does) until the long side is at most
``min_side`` pixels. Level-``k`` pixel ``(a, b)`` covers the level-0 rectangle
``[b*sx - 0.5, (b+1)*sx - 0.5] x [a*sy - 0.5, (a+1)*sy - 0.5]`` in the project's image
coordinates (``x`` = column, ``y`` = row, origin at the centre of the top-left pixel), where
``sy, sx = factors(k)`` are the level-0 pixels per level-``k`` pixel along rows and columns.

Building the pyramid of a 50-megapixel film takes some tens of milliseconds, so ``ImagePyramid``
prepares a cheap nearest-neighbour preview of one coarse level at construction and leaves the
proper levels to :meth:`ImagePyramid.build`, which a caller runs in a worker thread (OpenCV and
numpy release the GIL while they work).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "ImagePyramid",
    "Windowing",
    "window_lut",
    "window_linear_exact",
    "apply_clahe",
    "auto_window",
    "GREY_TO_RGB32",
]

#: dtypes ``cv2.resize(..., INTER_AREA)`` handles directly.
_CV_AREA_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
#: dtypes a film may have (plus HxWx3 uint8 colour).
_SUPPORTED_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.float32, np.float64)
#: Display grey -> opaque 32-bit pixel 0xFFgggggg (QImage.Format_RGB32).
GREY_TO_RGB32 = (np.arange(256, dtype=np.uint32) * np.uint32(0x010101)) | np.uint32(0xFF000000)
#: Widest value range (max - min + 1) of a 32-bit integer film still windowed through a LUT.
_MAX_LUT_ENTRIES = 1 << 20

# --------------------------------------------------------------------------------------------
# Windowing
# --------------------------------------------------------------------------------------------

def window_lut(center: float, width: float, invert: bool = False,
               dtype_range: tuple[int, int] = (0, 65535)) -> np.ndarray:
    """Lookup table from integer modality values to display grey, DICOM linear VOI function.

    Implements PS3.3 C.11.2.1.2 (``LINEAR``) with an output range of 0..255::

        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255,   clipped to [0, 255], rounded half to even

    For ``w <= 1`` the function is a threshold: 0 where ``x <= c - 0.5``, else 255. Inversion
    (MONOCHROME1 display, or the user's invert) is applied after windowing: ``255 - y``.

    Parameters
    ----------
    center, width
        Window centre and width in modality units (after rescale slope/intercept).
    invert
        Map bright to dark after windowing.
    dtype_range
        Inclusive ``(lo, hi)`` range of modality values covered; at most 2**20 entries.

    Returns
    -------
    numpy.ndarray
        uint8 array of length ``hi - lo + 1``; entry ``i`` is the grey of modality value ``lo + i``.

    Examples
    --------
    >>> lut = window_lut(center=2048, width=4096, dtype_range=(0, 4095))
    >>> int(lut[0]), int(lut[2048]), int(lut[4095])
    (0, 128, 255)
    """
    lo, hi = int(dtype_range[0]), int(dtype_range[1])
    if hi < lo:
        raise ValueError(f"dtype_range {dtype_range} is empty")
    if hi - lo + 1 > _MAX_LUT_ENTRIES:
        raise ValueError(f"dtype_range {dtype_range} needs more than {_MAX_LUT_ENTRIES} LUT entries")
    x = np.arange(lo, hi + 1, dtype=np.float64)
    c, w = float(center), float(width)
    if w <= 1.0:
        grey = np.where(x <= c - 0.5, 0.0, 255.0)
    else:
        grey = ((x - (c - 0.5)) / (w - 1.0) + 0.5) * 255.0
        np.clip(grey, 0.0, 255.0, out=grey)
        np.rint(grey, out=grey)
    lut = grey.astype(np.uint8)
    if invert:
        np.subtract(255, lut, out=lut)
    return lut


def window_linear_exact(region: np.ndarray, center: float, width: float, invert: bool = False) -> np.ndarray:
    """Window a floating-point region to display grey, DICOM ``LINEAR_EXACT`` function.

    ``y = ((x - c) / w + 0.5) * 255`` clipped to [0, 255] and rounded (PS3.3 C.11.2.1.3.2). The
    ``LINEAR`` variant's ``- 0.5`` and ``w - 1`` exist for integer values and break down for float
    films whose whole range may be narrower than 1, so float films use this one. NaN maps to 0.

    Parameters
    ----------
    region
        Float array (any shape); it is not modified.
    center, width
        Window centre and width in modality units; ``width`` must be > 0.

    Returns
    -------
    numpy.ndarray
        C-contiguous uint8 array of the same shape.
    """
    w = float(width)
    if not w > 0.0:
        raise ValueError(f"window width must be > 0, got {width}")
    gain = 255.0 / w
    offset = (0.5 - float(center) / w) * 255.0
    src = np.ascontiguousarray(region)
    if src.dtype not in (np.float32, np.float64):
        src = src.astype(np.float64)
    # cv2.addWeighted with dtype=CV_8U does scale, offset, round-half-even and clip in one pass.
    out = cv2.addWeighted(src, gain, src, 0.0, offset, dtype=cv2.CV_8U)
    if invert:
        cv2.bitwise_not(out, dst=out)
    return out


def apply_clahe(grey: np.ndarray, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of an 8-bit region, for viewing only.

    Parameters
    ----------
    grey
        uint8 HxW grey or HxWx3 RGB region (already windowed). Colour is equalised on the
        lightness channel of CIELAB so hues do not shift.
    clip_limit
        OpenCV's clip limit (contrast amplification cap, relative to a flat histogram).
    tiles
        Tiles along the longer side; the shorter side gets proportionally fewer (at least 1).

    Returns
    -------
    numpy.ndarray
        New uint8 array of the same shape.
    """
    h, w = grey.shape[:2]
    long_side = max(h, w, 1)
    grid = (max(1, round(tiles * w / long_side)), max(1, round(tiles * h / long_side)))
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=grid)
    src = np.ascontiguousarray(grey)
    if src.ndim == 2:
        return clahe.apply(src)
    lab = cv2.cvtColor(src, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def auto_window(sample: np.ndarray, low_percent: float = 0.5, high_percent: float = 99.5) -> tuple[float, float]:
    """A window (centre, width) spanning the ``low``..``high`` percentiles of ``sample``.

    Meant for a coarse pyramid level (a few hundred thousand pixels). For integer data the window
    maps the low percentile to grey 0 and the high one to 255 under the DICOM ``LINEAR`` function
    (``w = hi - lo + 1``, ``c = (lo + hi) / 2 + 0.5``); for floats under ``LINEAR_EXACT``
    (``w = hi - lo``, ``c = (lo + hi) / 2``). Colour samples use all channels.

    Returns
    -------
    tuple of float
        ``(center, width)`` in modality units; width >= 1 for integers and > 0 for floats.
    """
    flat = np.asarray(sample).reshape(-1)
    if flat.size == 0:
        return (0.5, 1.0)
    step = max(1, flat.size // 262_144)  # percentiles of a quarter-million values are plenty
    flat = flat[::step]
    if np.issubdtype(flat.dtype, np.floating):
        flat = flat[np.isfinite(flat)]
        if flat.size == 0:
            return (0.0, 1.0)
        lo, hi = (float(v) for v in np.percentile(flat, [low_percent, high_percent]))
        if not hi > lo:
            span = max(abs(lo) * 1e-6, 1e-12)
            lo, hi = lo - span, hi + span
        return ((lo + hi) / 2.0, hi - lo)
    lo, hi = (float(v) for v in np.percentile(flat, [low_percent, high_percent], method="nearest"))
    return ((lo + hi) / 2.0 + 0.5, hi - lo + 1.0)


class Windowing:
    """Display mapping of one film for one window setting: modality region -> uint8 grey.

    Built once per window change (for 16-bit films a 65536-entry LUT, about a third of a
    millisecond) and then applied to each visible region.

    * uint8 / uint16 (and colour): LUT over the whole dtype range, indexed by the values directly.
    * int8 / int16: LUT over the dtype range, rotated so the unsigned view of the values indexes
      it without a copy.
    * 32-bit integers: LUT over the film's ``[min, max]`` (``value_range``) if that spans at most
      2**20 values, else the float path.
    * floats: :func:`window_linear_exact`.
    """

    def __init__(self, dtype: np.dtype, center: float, width: float, invert: bool = False,
                 value_range: tuple[int, int] | None = None) -> None:
        """
        Parameters
        ----------
        dtype
            dtype of the film.
        center, width
            Window in modality units.
        invert
            Bright-to-dark after windowing.
        value_range
            Inclusive ``(min, max)`` of the film; required for 32-bit integer films.
        """
        self.dtype = np.dtype(dtype)
        self.center = float(center)
        self.width = float(width)
        self.invert = bool(invert)
        self._lut: np.ndarray | None = None
        self._lut32: np.ndarray | None = None
        self._offset = 0       # value of LUT entry 0 for the offset-indexed (32-bit) path
        self._mode = "float"
        kind = self.dtype.kind
        if kind == "u" and self.dtype.itemsize <= 2:
            self._lut = window_lut(center, width, invert, (0, int(np.iinfo(self.dtype).max)))
            self._mode = "direct"
        elif kind == "i" and self.dtype.itemsize <= 2:
            info = np.iinfo(self.dtype)
            lut = window_lut(center, width, invert, (int(info.min), int(info.max)))
            # entry u of the rotated table is the grey of the signed value whose bits are u
            self._lut = np.roll(lut, int(info.min))
            self._unsigned = np.dtype(f"u{self.dtype.itemsize}")
            self._mode = "signed"
        elif kind in "iu":
            if value_range is None:
                raise ValueError("value_range is required to window 32-bit integer films")
            lo, hi = int(value_range[0]), int(value_range[1])
            if hi - lo + 1 <= _MAX_LUT_ENTRIES:
                self._lut = window_lut(center, width, invert, (lo, hi))
                self._offset = lo
                self._mode = "offset"
            else:
                self._mode = "float_from_int"
        elif kind == "f":
            if not self.width > 0:
                raise ValueError(f"window width must be > 0, got {width}")
        else:
            raise TypeError(f"cannot window dtype {self.dtype}")

    def apply(self, region: np.ndarray) -> np.ndarray:
        """Map a region (HxW or HxWx3, any strides) of the film to a new C-contiguous uint8 array."""
        if self._mode == "float":
            return window_linear_exact(region, self.center, self.width, self.invert)
        if self._mode == "float_from_int":
            return self._apply_wide_int(region)
        assert self._lut is not None
        return self._take(self._lut, region)

    def apply_rgb32(self, region: np.ndarray) -> np.ndarray:
        """Map an HxW grey region straight to opaque 32-bit pixels ``0xFFgggggg`` (uint32).

        The layout of ``QImage.Format_RGB32``: Qt draws it, scaled or not, without converting,
        whereas an 8-bit grey image is converted on every draw. Same grey as :meth:`apply`.
        """
        if self._lut is None:
            return np.take(GREY_TO_RGB32, self.apply(region))
        if self._lut32 is None:
            self._lut32 = np.take(GREY_TO_RGB32, self._lut)
        return self._take(self._lut32, region)

    def _take(self, lut: np.ndarray, region: np.ndarray) -> np.ndarray:
        # mode="wrap": every index is in range by construction, and wrap skips numpy's bounds
        # handling (about 20 % faster than "clip" for 16-bit regions).
        if self._mode == "direct":
            return np.take(lut, region, mode="wrap")
        if self._mode == "signed":
            return np.take(lut, region.view(self._unsigned), mode="wrap")
        return np.take(lut, region.astype(np.int64) - self._offset, mode="wrap")

    def _apply_wide_int(self, region: np.ndarray) -> np.ndarray:
        # Integer values spanning more than 2**20: the LINEAR formula evaluated per pixel.
        x = region.astype(np.float64)
        if self.width <= 1.0:
            low, high = (255, 0) if self.invert else (0, 255)
            return np.where(x <= self.center - 0.5, low, high).astype(np.uint8)
        gain = 255.0 / (self.width - 1.0)
        offset = (0.5 - (self.center - 0.5) / (self.width - 1.0)) * 255.0
        out = cv2.addWeighted(x, gain, x, 0.0, offset, dtype=cv2.CV_8U)
        if self.invert:
            cv2.bitwise_not(out, dst=out)
        return out


# --------------------------------------------------------------------------------------------
# Pyramid
# --------------------------------------------------------------------------------------------

class ImagePyramid:
    """Resolution pyramid of a film; level 0 is the film array itself (no copy).

    Thread use: one thread (a worker) may run :meth:`build` while the GUI thread calls any other
    method; each level is published as a finished array, so readers see either the preview of a
    level or its final version, never a half-written one.
    """

    def __init__(self, pixels: np.ndarray, min_side: int = 512, preview_side: int = 2048) -> None:
        """
        Parameters
        ----------
        pixels
            HxW film (uint8, int8, uint16, int16, uint32, int32, float32, float64) or HxWx3 uint8
            RGB. Kept by reference; the caller must not modify it while the pyramid lives.
        min_side
            Halving stops once the long side is at most this many pixels.
        preview_side
            The preview (computed now, by nearest-neighbour sampling) is the finest level whose
            long side is at most this many pixels: about one screen, so the first frame at fit
            zoom looks right.
        """
        a = np.asarray(pixels)
        if a.ndim == 3:
            if a.shape[2] != 3 or a.dtype != np.uint8:
                raise ValueError(f"colour films must be HxWx3 uint8, got shape {a.shape} dtype {a.dtype}")
        elif a.ndim != 2:
            raise ValueError(f"a film must be a 2-D array or HxWx3 colour, got shape {a.shape}")
        if a.dtype.type not in _SUPPORTED_DTYPES:
            raise TypeError(f"unsupported film dtype {a.dtype}")
        if a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"empty film, shape {a.shape}")
        self.pixels = a
        self.min_side = int(min_side)

        shapes = [(a.shape[0], a.shape[1])]
        while max(shapes[-1]) > self.min_side:
            h, w = shapes[-1]
            shapes.append(((h + 1) // 2, (w + 1) // 2))
        self.shapes: tuple[tuple[int, int], ...] = tuple(shapes)
        rows, cols = shapes[0]
        self._factors = tuple((rows / h, cols / w) for h, w in shapes)

        # Exact value range of wide integer films: their LUT and safe downsampling need it.
        self.value_range: tuple[int, int] | None = None
        if a.dtype.kind in "iu" and a.dtype.itemsize >= 4:
            self.value_range = (int(a.min()), int(a.max()))

        self._levels: list[np.ndarray | None] = [a] + [None] * (len(shapes) - 1)
        self._built: list[bool] = [True] + [False] * (len(shapes) - 1)
        self._cancel = threading.Event()
        self._build_lock = threading.Lock()

        self.preview_level = 0
        if len(shapes) > 1:
            fitting = [k for k in range(1, len(shapes)) if max(shapes[k]) <= preview_side]
            self.preview_level = fitting[0] if fitting else len(shapes) - 1
            h, w = shapes[self.preview_level]
            # INTER_NEAREST_EXACT samples pixel centres (plain INTER_NEAREST is off by half a
            # pixel) and reads only the sampled pixels: about a millisecond for 50 megapixels.
            self._levels[self.preview_level] = cv2.resize(
                _cv_compatible(a), (w, h), interpolation=cv2.INTER_NEAREST_EXACT)

    # -- queries ---------------------------------------------------------------------------

    @property
    def n_levels(self) -> int:
        """Number of levels, including level 0."""
        return len(self.shapes)

    @property
    def dtype(self) -> np.dtype:
        """dtype of the film."""
        return self.pixels.dtype

    @property
    def is_colour(self) -> bool:
        """True for an HxWx3 RGB film."""
        return self.pixels.ndim == 3

    @property
    def complete(self) -> bool:
        """True when every level has been built (not just previewed)."""
        return all(self._built)

    def factors(self, k: int) -> tuple[float, float]:
        """Level-0 pixels per level-``k`` pixel, ``(along rows, along columns)``."""
        return self._factors[k]

    def is_built(self, k: int) -> bool:
        """True when level ``k`` holds its final INTER_AREA version."""
        return self._built[k]

    def level(self, k: int) -> np.ndarray | None:
        """Level ``k`` (final or preview), or None when neither exists yet."""
        return self._levels[k]

    def level_for_scale(self, scale: float) -> int:
        """The coarsest level whose resolution is still at least the screen's at this zoom.

        Parameters
        ----------
        scale
            Screen (device) pixels per level-0 pixel.

        Returns
        -------
        int
            The largest ``k`` with ``max(factors(k)) * scale <= 1`` (0 when zoomed in).
        """
        if not scale > 0:
            return self.n_levels - 1
        best = 0
        for k in range(1, self.n_levels):
            if max(self._factors[k]) * scale <= 1.0 + 1e-9:
                best = k
            else:
                break
        return best

    def available_level(self, k: int) -> tuple[int, np.ndarray]:
        """Level ``k`` if it exists, else the finest existing coarser level, else the nearest finer.

        Level 0 always exists, so this always returns an array.
        """
        k = max(0, min(int(k), self.n_levels - 1))
        levels = self._levels
        for j in range(k, self.n_levels):
            arr = levels[j]
            if arr is not None:
                return j, arr
        for j in range(k - 1, -1, -1):
            arr = levels[j]
            if arr is not None:
                return j, arr
        raise AssertionError("level 0 always exists")  # pragma: no cover

    # -- building --------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask a running :meth:`build` to stop after the level it is computing."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    def build(self, on_level: Callable[[int], None] | None = None) -> bool:
        """Compute every missing level with ``cv2.INTER_AREA``, fine to coarse.

        Safe to call from a worker thread; a second concurrent call waits and then finds nothing
        to do. ``on_level(k)`` is called (in the building thread) after each level is published.

        Returns
        -------
        bool
            True when the pyramid is complete, False when cancelled.
        """
        with self._build_lock:
            for k in range(1, self.n_levels):
                if self._built[k]:
                    continue
                if self._cancel.is_set():
                    log.debug("pyramid build cancelled before level %d", k)
                    return False
                src = self._levels[k - 1]
                assert src is not None and self._built[k - 1]
                h, w = self.shapes[k]
                level = self._downsample(src, (h, w))
                self._levels[k] = level   # publish the array before the flag (see class doc)
                self._built[k] = True
                if on_level is not None:
                    on_level(k)
            return True

    def _downsample(self, src: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """``src`` resized to ``shape`` (rows, cols) with INTER_AREA, keeping the dtype."""
        h, w = shape
        dt = src.dtype
        if dt.type in _CV_AREA_DTYPES:
            return cv2.resize(np.ascontiguousarray(src), (w, h), interpolation=cv2.INTER_AREA)
        if dt == np.int8:
            # int16 holds every int8 average exactly
            return cv2.resize(np.ascontiguousarray(src, dtype=np.int16), (w, h),
                              interpolation=cv2.INTER_AREA).astype(np.int8)
        # 32-bit integers: OpenCV's INTER_AREA has no 32-bit integer kernel.
        assert self.value_range is not None
        lo, hi = self.value_range
        if hi - lo <= 0xFFFF:
            # Shifted into uint16 the values are exact, and so is cv2's rounding.
            shifted = (src.astype(np.int64) - lo).astype(np.uint16)
            small = cv2.resize(shifted, (w, h), interpolation=cv2.INTER_AREA)
            return (small.astype(np.int64) + lo).astype(dt)
        small = cv2.resize(src.astype(np.float64), (w, h), interpolation=cv2.INTER_AREA)
        return np.clip(np.rint(small), lo, hi).astype(dt)


def _cv_compatible(a: np.ndarray) -> np.ndarray:
    """A view (or copy if unavoidable) OpenCV accepts: contiguous inner axis."""
    if a.strides[-1] != a.itemsize or (a.ndim == 3 and a.strides[1] != 3 * a.itemsize):
        return np.ascontiguousarray(a)
    return a
