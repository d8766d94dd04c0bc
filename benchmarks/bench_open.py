"""Opening speed and memory of a synthetic 50-megapixel 16-bit long-leg film.

Writes the film (10000 x 5000, 12 bits in 16, smooth anatomy-like gradients plus noise so that
compression is realistic) uncompressed and as JPEG 2000 lossless into a temporary folder, then
prints one line per figure, ``name: value (goal ...)``:

- ``open_<kind>_vs_pydicom``: median time of ``dicom_io.open_film`` divided by the median time of
  pydicom's bare ``dcmread(path).pixel_array``, measured in the same run, interleaved
  (goal <= 1.1);
- ``peak_memory_<kind>``: peak memory traced by ``tracemalloc`` during one ``open_film`` (numpy
  and Python buffers report to it) divided by the bytes of the decoded pixels (goal <= 2);
- ``peak_rss_j2k``: the same from the operating system's peak resident size of a fresh process,
  which also sees OpenJPEG's own buffers (informational).

No asserts: a figure, not a test. Takes about 1.5 minutes on two cores, most of it encoding and
decoding JPEG 2000 (about 10 s per decode), hence only two timing repeats for that film.

Run: ``.venv/bin/python benchmarks/bench_open.py [--repeats N] [--j2k-repeats N]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless  # noqa: E402

from dicom_io.film import open_film  # noqa: E402

ROWS, COLS = 10_000, 5_000  # 50 megapixels, a long-leg film's aspect
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def synthetic_pixels(rows: int = ROWS, cols: int = COLS, seed: int = 0) -> np.ndarray:
    """uint16 film, 12 bits used: soft tissue, two bone-like bands, noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, cols, dtype=np.float32)[None, :]
    film = 900.0 + 1400.0 * np.exp(-((x / 0.55) ** 2)) + 300.0 * y
    film = film + 1200.0 * np.exp(-(((x + 0.25) / 0.06) ** 2)) + 1100.0 * np.exp(-(((x - 0.25) / 0.06) ** 2))
    film += rng.normal(0.0, 25.0, (rows, cols)).astype(np.float32)
    return np.clip(film, 0, 4095).astype(np.uint16)


def write_film(pixels: np.ndarray, path: Path, compress: bool) -> bool:
    """Write the film; False when JPEG 2000 cannot be encoded here."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_STORAGE
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DX_STORAGE
    ds.Modality = "DX"
    ds.ImagerPixelSpacing = [0.15, 0.15]
    ds.set_pixel_data(pixels, "MONOCHROME2", 12)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if compress:
        from pydicom.pixels.encoders import JPEG2000LosslessEncoder

        if not JPEG2000LosslessEncoder.is_available:
            return False
        ds.compress(JPEG2000Lossless, pixels, encoding_plugin="pylibjpeg")
    ds.save_as(path, enforce_file_format=True)
    return True


def bare_pydicom(path: Path) -> np.ndarray:
    return pydicom.dcmread(path).pixel_array


def ours(path: Path) -> np.ndarray:
    return open_film(path).pixels


def timed(function: Callable[[Path], np.ndarray], path: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    result = function(path)
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def traced_peak(function: Callable[[Path], np.ndarray], path: Path) -> tuple[int, int]:
    """(peak traced bytes, decoded pixel bytes) of one call."""
    gc.collect()
    tracemalloc.start()
    try:
        result = function(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, result.nbytes


_FRESH_PROBE = """
import sys, tracemalloc
sys.path.insert(0, {root!r})
from dicom_io.film import open_film


def high_water_kb():
    # VmHWM: peak resident size of this process image (reset by exec, unlike ru_maxrss on Linux)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if {bare!r}:
    import pydicom
    read = lambda path: pydicom.dcmread(path).pixel_array
else:
    read = lambda path: open_film(path).pixels
before = high_water_kb()
tracemalloc.start()
pixels = read({path!r})
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print((high_water_kb() - before) * 1024, traced, pixels.nbytes)
"""


def fresh_process_peaks(path: Path, bare: bool = False) -> tuple[int, int, int] | None:
    """(resident-size growth, traced peak, pixel bytes) of one open_film (or, with ``bare``,
    pydicom's dcmread + pixel_array) in a fresh process."""
    code = _FRESH_PROBE.format(root=str(Path(__file__).resolve().parents[1]), path=str(path), bare=bare)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        return None
    grown, traced, nbytes = (int(v) for v in result.stdout.split())
    return grown, traced, nbytes


def compare(kind: str, path: Path, repeats: int, *, warm: bool) -> None:
    if warm:
        ours(path)  # imports, decoder plugins, file cache
        bare_pydicom(path)
    ours_times, bare_times = [], []
    for i in range(repeats):  # interleaved, alternating who goes first, so drifts hit both alike
        pair = [(ours, ours_times), (bare_pydicom, bare_times)]
        for function, times in pair if i % 2 == 0 else pair[::-1]:
            times.append(timed(function, path))
    mine, theirs = statistics.median(ours_times), statistics.median(bare_times)
    print(
        f"open_{kind}_vs_pydicom: {mine / theirs:.2f} (goal <= 1.1; median of {repeats}: "
        f"open_film {mine * 1e3:.0f} ms, dcmread+pixel_array {theirs * 1e3:.0f} ms)",
        flush=True,
    )


def memory_in_process(kind: str, path: Path) -> None:
    peak, nbytes = traced_peak(ours, path)
    bare_peak, _ = traced_peak(bare_pydicom, path)
    print(
        f"peak_memory_{kind}: {peak / nbytes:.2f} (goal <= 2; tracemalloc peak {peak / 1e6:.0f} MB "
        f"for {nbytes / 1e6:.0f} MB of pixels; pydicom bare {bare_peak / nbytes:.2f})",
        flush=True,
    )


def memory_in_fresh_process(kind: str, path: Path) -> None:
    peaks = fresh_process_peaks(path)
    if peaks is None:
        print(f"peak_memory_{kind}: n/a (goal <= 2; the measuring process failed)")
        return
    grown, traced, nbytes = peaks
    bare = fresh_process_peaks(path, bare=True)
    bare_text = f"; pydicom bare {bare[1] / nbytes:.2f}" if bare else ""
    bare_rss = f"; pydicom bare {bare[0] / nbytes:.2f}" if bare else ""
    print(
        f"peak_memory_{kind}: {traced / nbytes:.2f} (goal <= 2; tracemalloc peak {traced / 1e6:.0f} MB "
        f"for {nbytes / 1e6:.0f} MB of pixels, in a fresh process{bare_text})",
        flush=True,
    )
    print(
        f"peak_rss_{kind}: {grown / nbytes:.2f} (informational; peak resident size grew {grown / 1e6:.0f} MB, "
        f"which also counts OpenJPEG's internal buffers that tracemalloc cannot see{bare_rss})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats, uncompressed film")
    parser.add_argument("--j2k-repeats", type=int, default=2, help="timing repeats, JPEG 2000 film")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_open_") as folder:
        pixels = synthetic_pixels()
        native, j2k = Path(folder) / "film_native.dcm", Path(folder) / "film_j2k.dcm"
        write_film(pixels, native, compress=False)
        start = time.perf_counter()
        can_encode = write_film(pixels, j2k, compress=True)
        encode_s = time.perf_counter() - start
        del pixels

        compare("native", native, args.repeats, warm=True)
        memory_in_process("native", native)
        if not can_encode:
            print("open_j2k_vs_pydicom: n/a (goal <= 1.1; no JPEG 2000 encoder installed: pylibjpeg-openjpeg missing)")
            return
        ratio = j2k.stat().st_size / native.stat().st_size
        print(f"# JPEG 2000 lossless film: {ratio:.2f} of the uncompressed size, encoded in {encode_s:.0f} s", flush=True)
        # No warm-up: each decode takes seconds, so first-call costs are noise, and time matters.
        compare("j2k", j2k, args.j2k_repeats, warm=False)
        memory_in_fresh_process("j2k", j2k)  # one decode gives both memory figures


if __name__ == "__main__":
    main()
