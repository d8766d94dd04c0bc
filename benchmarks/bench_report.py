"""How long the PDF report takes and how large it is: the demo film and a 50-megapixel 16-bit film.

Prints `name: value (goal ...)` lines and the ratio to the goal (below 1 is within it). No asserts.
Goals: a report in at most 1.5 s, a file of at most 5 MB (issue: "Clinics print the analysis").
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

GOAL_SECONDS = 1.5
GOAL_MB = 5.0


def _report(name: str, case, case_path, film, out: Path, repeats: int = 3) -> None:
    from deformity_app.report import ReportOptions, build_report

    times = []
    info = None
    for _ in range(repeats):
        start = time.perf_counter()
        info = build_report(case, case_path, film, out, ReportOptions())
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    size_mb = info.size_bytes / 1e6
    print(f"{name} report time: {seconds:.2f} s (goal {GOAL_SECONDS} s; ratio {seconds / GOAL_SECONDS:.2f}; "
          f"min {min(times):.2f} s of {repeats})")
    print(f"{name} report size: {size_mb:.2f} MB (goal {GOAL_MB} MB; ratio {size_mb / GOAL_MB:.2f}; "
          f"{info.page_count} pages)")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["DEFORMITY_APP_HOME"] = str(tmp_path / "home")  # no user settings (clinic logo...)
        from dicom_io.demo import ensure_demo
        from dicom_io.film import Radiograph, open_film
        from measurements.case import case_from_mapping, load_case

        film_path, case_path = ensure_demo(tmp_path / "demo")
        start = time.perf_counter()
        film = open_film(film_path)
        print(f"demo film open: {time.perf_counter() - start:.2f} s ({film.columns} x {film.rows}, "
              f"{film.pixels.dtype}; not counted in the report time)")
        case = load_case(case_path)
        _report("demo (2500 x 7000)", case, case_path, film, tmp_path / "demo.pdf")

        # 50 megapixels: the demo film enlarged 1.41 times, with detector-like noise
        scale = (50e6 / (film.rows * film.columns)) ** 0.5
        big = cv2.resize(np.asarray(film.pixels), None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        rng = np.random.default_rng(0)
        noise = rng.normal(0.0, 12.0, size=big.shape).astype(np.float32)
        big = np.clip(big.astype(np.float32) + noise, 0, 65535).astype(np.uint16)
        data = case.to_dict()
        data["image"] = {"rows": big.shape[0], "columns": big.shape[1]}
        data["pixel_spacing_mm"] = [s / scale for s in case.pixel_spacing_mm]
        for limb in data["limbs"].values():
            limb["landmarks"] = {k: [v[0] * scale, v[1] * scale] for k, v in limb["landmarks"].items()}
        big_case = case_from_mapping(data)
        big_film = Radiograph.from_array(big)
        big_film.window_presets = film.window_presets
        print(f"50-MP film: {big.shape[1]} x {big.shape[0]} = {big.size / 1e6:.1f} megapixels, {big.dtype}")
        _report("50-MP film", big_case, None, big_film, tmp_path / "big.pdf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
