"""`deformity-app --self-test`: does this installation work? One line per check, exit 0 only when all pass.

A clinic's IT runs it after installing, on the built program or on a source checkout. A frozen
build misses what is loaded lazily (pydicom's pixel decoders, pylibjpeg's plugins found through
entry points, Qt's platform plugins, data files), and such a miss shows only when a user opens a
film of that kind; the self-test makes it show at once:

- the version comes from the package metadata (a build without it says 0.0.0+unknown);
- pylibjpeg finds its decoder plugins;
- one small film per supported transfer syntax decodes through :func:`dicom_io.film.open_film`, to
  the pixels it was made from: written at run time, in a temporary folder, where a bundled encoder
  exists; else one of the fixtures in ``resources/selftest``;
- the normal values, the multiplier table, the report fonts, the example case and the icons are
  found and valid;
- the demo generator draws a film whose measurements match its ground truth, and the report of it
  renders to a PDF;
- Qt starts (offscreen) and its platform plugins are there.

    $ deformity-app --self-test
    ok   version (0.1.0)
    ok   pylibjpeg decoder plugins (libjpeg 2.5.0, openjpeg 2.6.0, rle 2.2.0)
    ok   decode Explicit VR Little Endian (64 x 48, generated)
    ...
    FAIL font DejaVuSans.ttf: .../resources/fonts/DejaVuSans.ttf is missing (the report would fall back ...)
    ...
    1 of 23 checks FAILED

Nothing is written outside a temporary folder, except that reading the report settings creates the
user's settings folder when missing. No patient field is ever printed.
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import numpy as np

__all__ = ["Check", "CheckResult", "checks", "run_checks", "run_self_test", "transfer_syntax_checks"]

EXIT_OK = 0
EXIT_FAILED = 1

# The generated test film: 64 x 48 (JPEG 2000 needs sides of at least 32 pixels for its default
# 6 resolution levels), 12 bits stored, a ramp with a bright disc.
ROWS, COLUMNS, BITS_STORED = 64, 48, 12
#: Largest mean absolute error, in stored values, accepted from a lossy codec: 1 % of the range.
LOSSY_MEAN_ERROR = 0.01 * (2**BITS_STORED - 1)

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DroidSansFallback.ttf")


class CheckFailed(Exception):
    """A check's reason for failing, written for the person running the self-test."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    run: Callable[[Path], str]  # gets a private temporary folder; returns a short detail, raises on failure


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        if self.ok:
            return f"ok   {self.name}" + (f" ({self.detail})" if self.detail else "")
        return f"FAIL {self.name}: {self.detail}"


def _one_line(text: str, limit: int = 400) -> str:
    text = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(exc: BaseException) -> str:
    """The exception's sentence, followed by its causes (a FilmError's cause names the decoder's error)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 3:
        seen.add(id(current))
        text = str(current)
        parts.append(text if isinstance(current, CheckFailed) or (parts and not text)
                     else f"{type(current).__name__}: {text}" if text else type(current).__name__)
        current = current.__cause__ or current.__context__
    return _one_line(" <- ".join(parts))


# --- the test film in every transfer syntax ---------------------------------------------------------


def test_pixels() -> np.ndarray:
    """The generated film's pixels: uint16, ROWS x COLUMNS, 12 bits stored."""
    yy, xx = np.mgrid[0:ROWS, 0:COLUMNS].astype(np.float64)
    ramp = 150.0 + 38.0 * yy + 21.0 * xx
    disc = ((yy - 30.0) ** 2 + (xx - 22.0) ** 2) < 12.0**2
    return np.clip(ramp + 700.0 * disc, 0, 2**BITS_STORED - 1).astype(np.uint16)


def _dataset(pixels: np.ndarray, transfer_syntax: str):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import DigitalXRayImageStorageForPresentation, PYDICOM_IMPLEMENTATION_UID, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "SELFTEST^NOT A PATIENT"
    ds.PatientID = "SELFTEST"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    eight = pixels.dtype == np.uint8
    ds.BitsAllocated = 8 if eight else 16
    ds.BitsStored = 8 if eight else BITS_STORED
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.5, 0.5]
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    return ds


def _write(ds, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _make_native(transfer_syntax: str) -> Callable[[Path], tuple[Path, np.ndarray, bool]]:
    def make(folder: Path) -> tuple[Path, np.ndarray, bool]:
        from pydicom.uid import ExplicitVRBigEndian

        pixels = test_pixels()
        ds = _dataset(pixels, transfer_syntax)
        if transfer_syntax == ExplicitVRBigEndian:
            ds.PixelData = pixels.astype(">u2").tobytes()  # pydicom writes OW bytes as they are
        return _write(ds, folder / "film.dcm"), pixels, True
    return make


def _make_compressed(transfer_syntax: str, lossless: bool, **encoding: Any) -> Callable[[Path], tuple[Path, np.ndarray, bool]]:
    def make(folder: Path) -> tuple[Path, np.ndarray, bool]:
        from pydicom.uid import ExplicitVRLittleEndian

        pixels = test_pixels()
        ds = _dataset(pixels, ExplicitVRLittleEndian)
        ds.compress(transfer_syntax, **encoding)
        return _write(ds, folder / "film.dcm"), pixels, lossless
    return make


def _make_jpeg_baseline(folder: Path) -> tuple[Path, np.ndarray, bool]:
    """8-bit JPEG baseline made with OpenCV (pydicom has no JPEG encoder) and encapsulated."""
    import cv2
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    pixels = (test_pixels() >> (BITS_STORED - 8)).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise CheckFailed("OpenCV could not encode a JPEG")
    ds = _dataset(pixels, JPEGBaseline8Bit)
    ds.PixelData = encapsulate([encoded.tobytes()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    return _write(ds, folder / "film.dcm"), pixels, False


def _decoders(transfer_syntax: str) -> str:
    try:
        from pydicom.pixels import get_decoder

        plugins = get_decoder(transfer_syntax).available_plugins
    except Exception:  # noqa: BLE001 - native syntaxes have no decoder object
        return ""
    return ", ".join(plugins)


def _decode_generated(label: str, transfer_syntax: str,
                      make: Callable[[Path], tuple[Path, np.ndarray, bool]], compressed: bool) -> Check:
    def run(folder: Path) -> str:
        from dicom_io.film import open_film

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                path, expected, lossless = make(folder)
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(f"the test film could not be written: {_reason(exc)}") from None
        film = open_film(path)
        _check_syntax(film, transfer_syntax)
        got = np.asarray(film.pixels)
        if got.shape != expected.shape:
            raise CheckFailed(f"decoded {got.shape}, expected {expected.shape}")
        diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
        if lossless and diff.max() != 0:
            raise CheckFailed(f"lossless decode differs from the original by up to {int(diff.max())}")
        limit = LOSSY_MEAN_ERROR / (2 ** (BITS_STORED - 8) if expected.dtype == np.uint8 else 1)
        if not lossless and diff.mean() > limit:
            raise CheckFailed(f"mean error {diff.mean():.1f} is above {limit:.1f}")
        detail = f"{got.shape[0]} x {got.shape[1]}, generated"
        if compressed:
            detail += f", decoders: {_decoders(transfer_syntax) or 'none'}"
        return detail
    return Check(f"decode {label}", run)


def _check_syntax(film: Any, transfer_syntax: str) -> None:
    written = str(getattr(film.metadata, "transfer_syntax", ""))
    if transfer_syntax not in written:
        raise CheckFailed(f"the film was read as {written or 'an unknown transfer syntax'}, not {transfer_syntax}")


def _decode_fixture(entry: dict[str, Any]) -> Check:
    def run(_folder: Path) -> str:
        from dicom_io.film import open_film
        from resources import resource_path

        path = resource_path("selftest", entry["file"])
        if not path.is_file():
            raise CheckFailed(f"the test film {path} is missing")
        film = open_film(path)
        _check_syntax(film, entry["transfer_syntax"])
        got = np.ascontiguousarray(film.pixels)
        if list(got.shape) != list(entry["shape"]) or str(got.dtype) != entry["dtype"]:
            raise CheckFailed(f"decoded {got.shape} {got.dtype}, expected {tuple(entry['shape'])} {entry['dtype']}")
        if entry.get("lossless"):
            if hashlib.sha256(got.tobytes()).hexdigest() != entry["sha256"]:
                raise CheckFailed("the decoded pixels differ from the expected ones")
        elif abs(float(got.mean()) - float(entry["mean"])) > float(entry["mean_tolerance"]):
            raise CheckFailed(f"mean {got.mean():.2f}, expected {entry['mean']:.2f}")
        return f"{got.shape[0]} x {got.shape[1]}, {entry['file']}, decoders: {_decoders(entry['transfer_syntax']) or 'none'}"
    return Check(f"decode {entry['label']}", run)


def _fixture_entries() -> list[dict[str, Any]]:
    from resources import resource_path

    path = resource_path("selftest", "fixtures.json")
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["fixtures"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def transfer_syntax_checks() -> list[Check]:
    """One decoding check per supported transfer syntax, in the order they are printed."""
    from pydicom import uid

    generated = [
        ("Explicit VR Little Endian", uid.ExplicitVRLittleEndian, _make_native(uid.ExplicitVRLittleEndian), False),
        ("Implicit VR Little Endian", uid.ImplicitVRLittleEndian, _make_native(uid.ImplicitVRLittleEndian), False),
        ("Explicit VR Big Endian", uid.ExplicitVRBigEndian, _make_native(uid.ExplicitVRBigEndian), False),
        ("Deflated Explicit VR Little Endian", uid.DeflatedExplicitVRLittleEndian,
         _make_native(uid.DeflatedExplicitVRLittleEndian), False),
        ("RLE Lossless", uid.RLELossless, _make_compressed(uid.RLELossless, True), True),
        ("JPEG Baseline (8-bit)", uid.JPEGBaseline8Bit, _make_jpeg_baseline, True),
        ("JPEG 2000 Lossless", uid.JPEG2000Lossless, _make_compressed(uid.JPEG2000Lossless, True), True),
        ("JPEG 2000 (lossy)", uid.JPEG2000, _make_compressed(uid.JPEG2000, False, j2k_cr=[10]), True),
    ]
    out = [_decode_generated(label, str(ts), make, compressed) for label, ts, make, compressed in generated]
    entries = _fixture_entries()
    if not entries:
        def missing(_folder: Path) -> str:
            raise CheckFailed("resources/selftest/fixtures.json is missing or damaged")
        return out + [Check("decode JPEG Extended, JPEG Lossless and JPEG-LS (fixtures)", missing)]
    return out + [_decode_fixture(e) for e in entries]


# --- resources, the demo, the report, Qt --------------------------------------------------------------


def _check_version(_folder: Path) -> str:
    from . import __version__

    if __version__.startswith("0.0.0"):
        raise CheckFailed(f"the version is {__version__}: the package metadata of deformity-app is missing")
    return __version__


def _check_pylibjpeg(_folder: Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from pydicom import uid
    from pylibjpeg.utils import get_pixel_data_decoders

    found = get_pixel_data_decoders()
    needed = {"JPEG Lossless (libjpeg)": uid.JPEGLosslessSV1, "JPEG-LS (libjpeg)": uid.JPEGLSLossless,
              "JPEG 2000 (openjpeg)": uid.JPEG2000Lossless, "RLE (rle)": uid.RLELossless}
    missing = [name for name, ts in needed.items() if str(ts) not in found]
    if missing:
        raise CheckFailed(f"pylibjpeg finds no decoder for {', '.join(missing)} "
                          "(its plugins are registered by entry points: is their package metadata bundled?)")
    versions = []
    for dist in ("pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle"):
        try:
            versions.append(f"{dist.removeprefix('pylibjpeg-')} {version(dist)}")
        except PackageNotFoundError:
            versions.append(f"{dist.removeprefix('pylibjpeg-')} (no metadata)")
    return ", ".join(versions)


def _check_normals(_folder: Path) -> str:
    from measurements import normals

    loaded = normals.load_normals()
    if len(loaded.ranges) < 5:
        raise CheckFailed(f"{loaded.path} holds only {len(loaded.ranges)} normal ranges")
    return f"{loaded.path.name}: {len(loaded.ranges)} ranges, {len(loaded.mat_bands)} malalignment bands"


def _check_multiplier(_folder: Path) -> str:
    from measurements import growth

    table = growth.load_multiplier_table()
    return f"{table.path.name}: {len(table.ages_years)} ages, {', '.join(sorted(table.values))}"


def _check_font(file: str) -> Check:
    def run(_folder: Path) -> str:
        from reportlab.pdfbase.ttfonts import TTFont

        from resources import resource_path

        path = resource_path("fonts", file)
        if not path.is_file():
            raise CheckFailed(f"{path} is missing (the report would fall back to other fonts)")
        try:
            font = TTFont(f"selftest-{path.stem}", str(path))
        except Exception as exc:
            raise CheckFailed(f"{path} cannot be read as a TrueType font: {_reason(exc)}") from None
        return f"{len(font.face.charToGlyph)} characters"
    return Check(f"font {file}", run)


def _check_example(_folder: Path) -> str:
    from measurements.case import load_case
    from measurements.measure import measure_case
    from resources import resource_path

    path = resource_path("examples", "worked_cases.case.json")
    result = measure_case(load_case(path))
    if not result.limbs:
        raise CheckFailed(f"{path} measured no limb")
    return f"{path.name}: {len(result.limbs)} limbs measured"


def _check_icons(_folder: Path) -> str:
    from resources import resource_path

    missing = [s for s in ICON_SIZES if not resource_path("icons", f"deformity-app-{s}.png").is_file()]
    if missing or not resource_path("icons", "deformity-app.svg").is_file():
        raise CheckFailed("missing: " + ", ".join([f"{s} px" for s in missing] or ["the SVG"]))
    return f"{len(ICON_SIZES)} sizes"


# The demo is drawn at 1.2 mm per pixel (875 x 312 pixels): seconds at the default 0.15 mm.
DEMO_SPACING_MM = 1.2
# Angles must come back within this of the generator's truth (landmarks are rounded to 0.001 px).
DEMO_ANGLE_TOLERANCE_DEG = 0.2


def _check_demo(folder: Path) -> str:
    import dataclasses

    from dicom_io.demo import DEFAULT_DEMO, write_demo
    from dicom_io.film import open_film
    from measurements.case import load_case
    from measurements.measure import measure_case

    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=DEMO_SPACING_MM)
    film_path, case_path = write_demo(folder / "demo", spec, name="demo")
    film = open_film(film_path)
    case = load_case(case_path)
    result = measure_case(case)
    truth = json.loads(case_path.read_text(encoding="utf-8"))["ground_truth"]["limbs"]
    worst = 0.0
    for side, limb in result.limbs.items():
        for key in ("mldfa_deg", "mpta_deg", "ldta_deg"):
            expected = truth[str(side)][key]
            got = limb.values.get(key)
            if got is None:
                raise CheckFailed(f"{side} {key} was not measured")
            worst = max(worst, abs(got - expected))
    if worst > DEMO_ANGLE_TOLERANCE_DEG:
        raise CheckFailed(f"the measured angles differ from the generator's by up to {worst:.2f}°")
    return f"generated, opened, measured: {film.rows} x {film.columns}, angles within {worst:.2f}° of the truth"


def _check_report(folder: Path) -> str:
    import dataclasses

    from dicom_io.demo import DEFAULT_DEMO, write_demo
    from dicom_io.film import open_film
    from measurements.case import load_case

    from .report import ReportOptions, build_report

    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=DEMO_SPACING_MM)
    film_path, case_path = write_demo(folder / "demo", spec, name="demo")
    out = folder / "self-test-report.pdf"
    options = ReportOptions(joint_panels=False, clinic_name="deformity-app self-test", reader="self-test",
                            dpi=100)
    info = build_report(load_case(case_path), case_path, open_film(film_path), out, options, film_path=film_path)
    head = out.read_bytes()[:5]
    if head != b"%PDF-":
        raise CheckFailed("the report file is not a PDF")
    font_warnings = [w for w in info.warnings if "font" in w.lower()]
    if font_warnings:
        raise CheckFailed(font_warnings[0])
    return f"PDF of the demo, {info.page_count} pages, {info.size_bytes // 1024} KB"


def _native_platform() -> str:
    return {"win32": "windows", "darwin": "cocoa"}.get(sys.platform, "xcb")


def _check_qt(_folder: Path) -> str:
    import PySide6
    from PySide6.QtCore import QCoreApplication, QLibraryInfo
    from PySide6.QtGui import QGuiApplication, QImageReader

    folders = [Path(p) for p in QCoreApplication.libraryPaths()]
    folders.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)))
    found = sorted({p.name for d in folders if (d / "platforms").is_dir() for p in (d / "platforms").iterdir()})
    names = {n.removeprefix("lib").removeprefix("q").split(".")[0] for n in found}
    wanted = [_native_platform(), "offscreen"]
    missing = [w for w in wanted if w not in names]
    if missing:
        raise CheckFailed(f"Qt platform plugin(s) {', '.join(missing)} not found in "
                          f"{', '.join(str(d) for d in folders) or 'any plugin folder'}")
    app = QCoreApplication.instance()
    if app is None:
        # offscreen: the check must work without a display (over SSH, in a service account)
        app = QGuiApplication(["deformity-app", "-platform", "offscreen"])
    formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
    if not {"png", "jpg"} <= formats:
        raise CheckFailed(f"Qt reads only {', '.join(sorted(formats))} images")
    extra = [n for n in ("wayland",) if n in names]
    return f"PySide6 {PySide6.__version__}, platforms {', '.join(wanted + extra)}"


def checks(*, qt: bool = True) -> list[Check]:
    """Every check in the order printed; `qt` False leaves out the Qt check (it creates a
    QGuiApplication, which an in-process caller may not want)."""
    out = [Check("version", _check_version), Check("pylibjpeg decoder plugins", _check_pylibjpeg)]
    try:
        out += transfer_syntax_checks()
    except Exception as exc:  # noqa: BLE001 - pydicom itself missing: still run the rest
        reason = _reason(exc)

        def broken(_folder: Path) -> str:
            raise CheckFailed(reason)
        out.append(Check("decode DICOM films", broken))
    out += [
        Check("normal values", _check_normals),
        Check("multiplier table", _check_multiplier),
        *[_check_font(f) for f in FONT_FILES],
        Check("example case", _check_example),
        Check("application icons", _check_icons),
        Check("demo film", _check_demo),
        Check("report", _check_report),
    ]
    if qt:
        out.append(Check("Qt", _check_qt))
    return out


def run_checks(selected: Iterable[Check], out: TextIO | None = None) -> list[CheckResult]:
    """Run `selected` in order, each in a fresh temporary folder, printing one line as each ends."""
    results = []
    with tempfile.TemporaryDirectory(prefix="deformity-selftest-") as tmp:
        for index, check in enumerate(selected):
            folder = Path(tmp) / f"{index:02d}"
            folder.mkdir()
            started = time.perf_counter()
            try:
                detail, ok = check.run(folder), True
            except Exception as exc:  # noqa: BLE001 - every failure becomes its line
                detail, ok = _reason(exc), False
            result = CheckResult(check.name, ok, _one_line(detail), time.perf_counter() - started)
            results.append(result)
            if out is not None:
                print(result.line(), file=out, flush=True)
    return results


def run_self_test(out: TextIO | None = None, *, qt: bool = True) -> int:
    """Run every check, print one line each and a summary; 0 when all passed, else 1."""
    out = out if out is not None else sys.stdout
    results = run_checks(checks(qt=qt), out)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} checks FAILED", file=out, flush=True)
        return EXIT_FAILED
    print(f"all {len(results)} checks passed", file=out, flush=True)
    return EXIT_OK
