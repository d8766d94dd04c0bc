"""DICOM films: header, checks before decoding, first-frame decode, modality LUT, display hints.

The order of work is what keeps bad files harmless and big films cheap:

1. read the header with ``stop_before_pixels`` (no pixel bytes are read), leaving the file
   positioned on the Pixel Data element, whose tag and length are parsed here;
2. check everything that can be checked without decoding: image size against the memory limit,
   transfer syntax against the installed decoders, pixel data length against the image size
   (native), fragment structure against the file's end (compressed);
3. decode the first frame only, straight from the file: native pixels are read into one
   writeable buffer that pydicom then interprets in place (one copy of the image in memory);
   compressed frames go through pydicom's frame iterator, which also avoids a second copy;
4. apply the modality LUT in place whenever the result fits the film's integer type.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, as_pixel_options, get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
    MediaStorageDirectoryStorage,
)

from dicom_io._model import FilmMetadata, FilmSummary, Radiograph, VoiLut, WindowPreset, auto_window
from dicom_io._pixels import check_size, grey_if_identical, to_rgb8
from dicom_io._privacy import protect_pydicom_logs
from dicom_io.calibration import calibration_from_dataset
from dicom_io.errors import (
    CorruptFilmError,
    FilmError,
    FilmTooLargeError,
    InconsistentFilmError,
    NoImageError,
    TruncatedFilmError,
    UnsupportedCompressionError,
    UnsupportedFilmError,
)

__all__ = ["metadata", "open_dicom", "summarize_dicom", "voi_lut", "window_presets"]

log = logging.getLogger(__name__)
protect_pydicom_logs()

_PIXEL_TAGS = {0x7FE00010: "PixelData", 0x7FE00008: "FloatPixelData", 0x7FE00009: "DoubleFloatPixelData"}
# Explicit-VR codes whose length field is 4 bytes after 2 reserved bytes.
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED_LENGTH = 0xFFFFFFFF
_ITEM, _SEQUENCE_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_COLOR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "PALETTE COLOR")
_LOSSY_SYNTAXES = {JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless}


@dataclass(frozen=True, slots=True)
class _PixelElement:
    """Where the Pixel Data value starts in the file and how long it claims to be (bytes)."""

    keyword: str
    vr: str
    length: int
    value_offset: int


@dataclass(frozen=True, slots=True)
class _Header:
    ds: Dataset
    transfer_syntax: UID
    transfer_syntax_text: str
    file_size: int
    pixel: _PixelElement | None
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Header


def _read_header(path: Path) -> _Header:
    """Parse everything before the pixel data, then the Pixel Data element's own header."""
    notes: list[str] = []
    try:
        file_size = path.stat().st_size
        with path.open("rb") as f:
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
            transfer_syntax, text = _transfer_syntax(ds, notes)
            if transfer_syntax == DeflatedExplicitVRLittleEndian:
                # The data set is one zlib stream: file offsets mean nothing, the pixel data is
                # found by reading the whole file later (deflated films are rare and small).
                pixel = _PixelElement("PixelData", "OB", -1, -1) if "Rows" in ds else None
            else:
                pixel = _pixel_element(f, ds)
    except (InvalidDicomError, EOFError, struct.error) as exc:
        raise CorruptFilmError("This DICOM file is damaged: its header could not be read.") from exc
    if len(ds) == 0:
        raise CorruptFilmError("This DICOM file is damaged: its header could not be read.")
    return _Header(ds, transfer_syntax, text, file_size, pixel, tuple(notes))


def _transfer_syntax(ds: Dataset, notes: list[str]) -> tuple[UID, str]:
    """The transfer syntax, and its name with UID for display.

    Files without file meta information (old archives) say nothing; the encoding pydicom
    detected while reading is then the only evidence, and we say it was guessed.
    """
    meta = getattr(ds, "file_meta", None)
    stated = meta.get("TransferSyntaxUID") if meta is not None else None
    implicit, little = ds.original_encoding
    detected = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    )
    if not stated:
        notes.append("The file has no DICOM file header; its encoding was recognised from the data.")
        return detected, f"{detected.name} ({detected}), recognised from the data"
    uid = UID(str(stated).strip().rstrip("\x00"))
    if uid.is_transfer_syntax and not uid.is_compressed and uid != DeflatedExplicitVRLittleEndian:
        if (uid.is_implicit_VR, uid.is_little_endian) != (implicit, little):
            notes.append(
                f"The file header says {uid.name} but the data is {detected.name}; the data was trusted."
            )
            return detected, f"{detected.name} ({detected}), stated as {uid}"
    name = uid.name if uid.is_transfer_syntax else "unknown transfer syntax"
    return uid, f"{name} ({uid})"


def _pixel_element(f: BinaryIO, ds: Dataset) -> _PixelElement | None:
    """Parse the element header ``dcmread(stop_before_pixels=True)`` stopped in front of."""
    little = ds.original_encoding[1]
    order = "<" if little else ">"
    head = f.read(8)
    if len(head) < 8:
        return None  # the data set ended: no pixel data
    group, element = struct.unpack(order + "HH", head[:4])
    keyword = _PIXEL_TAGS.get((group << 16) | element)
    if keyword is None:
        return None
    # Decided from the bytes, not from the transfer syntax: some writers state explicit VR and
    # write implicit VR (pydicom reads such files, so must we).
    vr_bytes = head[4:6]
    if vr_bytes in _LONG_VRS and head[6:8] == b"\0\0":
        extra = f.read(4)
        if len(extra) < 4:
            raise TruncatedFilmError()
        (length,) = struct.unpack(order + "I", extra)
        vr = vr_bytes.decode("ascii")
    else:
        (length,) = struct.unpack(order + "I", head[4:8])
        vr = "OW" if ds.get("BitsAllocated", 16) != 8 else "OB"
    return _PixelElement(keyword, vr, length, f.tell())


# --------------------------------------------------------------------------------------------
# Image pixel description


@dataclass(frozen=True, slots=True)
class _Geometry:
    """Image size and sample format; ``overrides`` fills gaps of the header for pydicom."""

    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    photometric: str
    frames: int
    overrides: dict[str, Any]

    @property
    def decoded_sample_bytes(self) -> int:
        """Bytes per decoded sample (1-bit data is unpacked to one byte per pixel)."""
        return max(1, self.bits_allocated // 8)

    def stored_frame_bytes(self, native: bool) -> float:
        """Bytes one native frame occupies in the file (fractional for 1-bit frames)."""
        if self.bits_allocated == 1:
            return self.rows * self.columns * self.samples / 8
        size = self.rows * self.columns * self.samples * (self.bits_allocated // 8)
        if native and self.photometric == "YBR_FULL_422":
            size = size // 3 * 2
        return size


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _geometry(ds: Dataset, notes: list[str]) -> _Geometry:
    """Image size and sample format from the header, with harmless gaps filled and noted."""
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not columns or rows < 0 or columns < 0:
        raise InconsistentFilmError("This file has image data but no valid image size in its header.")
    overrides: dict[str, Any] = {}
    samples = _int(ds, "SamplesPerPixel")
    if samples is None:
        samples = 1
        overrides["samples_per_pixel"] = 1
        notes.append("Samples per Pixel is missing; 1 (grey) was assumed.")
    photometric = str(ds.get("PhotometricInterpretation") or "").strip().upper()
    if not photometric:
        photometric = "MONOCHROME2" if samples == 1 else "RGB"
        overrides["photometric_interpretation"] = photometric
        notes.append(f"Photometric Interpretation is missing; {photometric} was assumed.")
    bits_allocated = _int(ds, "BitsAllocated")
    if bits_allocated not in (1, 8, 16, 32):
        raise UnsupportedFilmError(
            f"This film stores {bits_allocated} bits per pixel, which this program cannot read."
            if bits_allocated
            else "This file has image data but does not say how many bits each pixel uses."
        )
    bits_stored = _int(ds, "BitsStored")
    if bits_stored is None or not 1 <= bits_stored <= bits_allocated:
        if bits_stored is not None:
            raise InconsistentFilmError(
                "The bit depth written in this file does not match the image data it contains."
            )
        bits_stored = bits_allocated
        overrides["bits_stored"] = bits_stored
        notes.append("Bits Stored is missing; all allocated bits were assumed to be used.")
    representation = _int(ds, "PixelRepresentation")
    if representation not in (0, 1):
        representation = 0
        overrides["pixel_representation"] = 0
        notes.append("Pixel Representation is missing; unsigned pixels were assumed.")
    if samples == 1 and photometric not in _MONOCHROME + ("PALETTE COLOR",):
        raise UnsupportedFilmError(f"This film's colour model ({photometric}) is not supported.")
    if samples == 3 and photometric not in _COLOR:
        raise UnsupportedFilmError(f"This film's colour model ({photometric}) is not supported.")
    if samples not in (1, 3):
        raise UnsupportedFilmError(f"This film has {samples} values per pixel, which is not supported.")
    if samples == 3 and _int(ds, "PlanarConfiguration") is None:
        overrides["planar_configuration"] = 0
    frames = _int(ds, "NumberOfFrames")
    if frames is None or frames < 1:
        if "NumberOfFrames" in ds:
            notes.append("Number of Frames is invalid; one frame was assumed.")
        frames = 1
        overrides["number_of_frames"] = 1
    return _Geometry(rows, columns, samples, bits_allocated, bits_stored, photometric, frames, overrides)


def _check_decoder(transfer_syntax: UID) -> Any:
    if not transfer_syntax.is_transfer_syntax:
        raise UnsupportedCompressionError(
            f"This film uses an encoding this program does not know (transfer syntax {transfer_syntax})."
        )
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError as exc:
        raise UnsupportedCompressionError(
            f"This film is compressed as {transfer_syntax.name}, which this program cannot decode."
        ) from exc
    if not decoder.is_available:
        raise UnsupportedCompressionError(
            f"This film is compressed as {transfer_syntax.name}, and the decoder it needs is not installed."
        )
    return decoder


def _check_native_length(pixel: _PixelElement, geometry: _Geometry, file_size: int, notes: list[str]) -> None:
    if pixel.length == _UNDEFINED_LENGTH:
        raise InconsistentFilmError(
            "This file says its image is uncompressed, but the image data is stored compressed."
        )
    expected = math.ceil(geometry.stored_frame_bytes(native=True) * geometry.frames)
    if pixel.value_offset + pixel.length > file_size:
        raise TruncatedFilmError()
    if pixel.length < expected:
        raise TruncatedFilmError(
            f"The image data in this file is shorter than its stated size "
            f"({geometry.rows} x {geometry.columns} pixels): the file is incomplete or its header is wrong."
        )
    excess = pixel.length - expected
    if excess >= max(2, geometry.stored_frame_bytes(native=True)):
        # A whole frame or more of extra data is not padding: rows, columns or the number of
        # frames are wrong, and showing the first "frame" would show garbage.
        raise InconsistentFilmError()
    if excess > 1:
        notes.append(f"The image data has {excess} bytes more than its size needs; they were ignored.")


def _check_fragments(f: BinaryIO, pixel: _PixelElement, file_size: int) -> None:
    """Walk the encapsulated items (a few per frame) to find a cut file before decoding."""
    if pixel.length != _UNDEFINED_LENGTH:
        raise InconsistentFilmError(
            "This file says its image is compressed, but the image data is not stored that way."
        )
    f.seek(pixel.value_offset)
    items = 0
    while True:
        head = f.read(8)
        if len(head) < 8:
            raise TruncatedFilmError()
        tag_group, tag_element, length = struct.unpack("<HHI", head)
        tag = (tag_group << 16) | tag_element
        if tag == _SEQUENCE_DELIMITER:
            break
        if tag != _ITEM or length == _UNDEFINED_LENGTH:
            raise CorruptFilmError()
        if f.tell() + length > file_size:
            raise TruncatedFilmError()
        f.seek(length, 1)
        items += 1
    if items < 2:  # the offset table item plus at least one fragment
        raise TruncatedFilmError("The compressed image in this file is empty.")


# --------------------------------------------------------------------------------------------
# Decode


def _decode_first_frame(path: Path, header: _Header, geometry: _Geometry, decoder: Any) -> np.ndarray:
    """First frame as pydicom returns it: shape (rows, columns[, 3]), YBR converted to RGB."""
    ds, pixel = header.ds, header.pixel
    assert pixel is not None
    options = as_pixel_options(ds, **geometry.overrides)
    try:
        if header.transfer_syntax == DeflatedExplicitVRLittleEndian:
            full = pydicom.dcmread(path, force=True)
            if "PixelData" not in full:
                raise NoImageError()
            return pydicom.pixels.pixel_array(full, index=0, **geometry.overrides)
        with path.open("rb") as f:
            if header.transfer_syntax.is_encapsulated:
                _check_fragments(f, pixel, header.file_size)
                f.seek(pixel.value_offset)
                frames = decoder.iter_array(f, **options)
                try:
                    array, _ = next(frames)
                finally:
                    frames.close()
                return array
            frame_bytes = math.ceil(geometry.stored_frame_bytes(native=True))
            # The padding byte of odd-length data belongs to the frame for 8-bit big-endian OW
            # (pydicom swaps byte pairs), so it is read when present.
            frame_bytes = min(pixel.length, frame_bytes + frame_bytes % 2)
            # One writeable buffer read straight from the file: pydicom views it without a
            # copy, so the film costs its own size in memory, not twice.
            buffer = bytearray(frame_bytes)
            f.seek(pixel.value_offset)
            if f.readinto(buffer) != frame_bytes:
                raise TruncatedFilmError()
            options.update(number_of_frames=1, pixel_keyword=pixel.keyword, pixel_vr=pixel.vr)
            array, _ = decoder.as_array(buffer, **options)
            return array
    except FilmError:
        raise
    except MemoryError as exc:
        raise FilmTooLargeError("There is not enough free memory to open this film.") from exc
    except ValueError as exc:
        # pydicom reports size mismatches as ValueError; only their wording tells them apart.
        text = str(exc)
        if "less than expected" in text or "insufficient pixel data" in text:
            raise TruncatedFilmError() from exc
        if "reshape" in text or "Unexpected number of bytes" in text:
            raise InconsistentFilmError() from exc
        raise CorruptFilmError() from exc
    except Exception as exc:  # noqa: BLE001 - every decoder failure becomes one clear sentence
        log.warning("pixel decoding failed: %s", type(exc).__name__)
        raise CorruptFilmError() from exc


def _native_byte_order(array: np.ndarray) -> np.ndarray:
    """Swap big-endian samples in place so downstream code sees native integers."""
    if array.dtype.isnative:
        return array
    if array.flags.writeable:
        array.byteswap(inplace=True)
        return array.view(array.dtype.newbyteorder("="))
    return array.astype(array.dtype.newbyteorder("="))


def _fits(dtype: np.dtype, low: int, high: int) -> bool:
    info = np.iinfo(dtype)
    return info.min <= low and high <= info.max


def _rescale(array: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Modality values ``stored * slope + intercept`` with the smallest exact dtype, in place when possible.

    Integral slope and intercept keep integers: the film's own dtype (or its signed twin of the
    same size, viewed without a copy) when every intermediate and final value fits, else int32
    (a copy). A fractional rescale gives float32.
    """
    if slope == 1 and intercept == 0:
        return array
    if not array.flags.writeable:
        array = array.copy()
    if array.dtype.kind not in "ui":
        out = array.astype(np.float32, copy=False)
        np.multiply(out, slope, out=out, casting="unsafe")
        np.add(out, intercept, out=out, casting="unsafe")
        return out
    if float(slope).is_integer() and float(intercept).is_integer():
        s, b = int(slope), int(intercept)
        low, high = int(array.min()), int(array.max())
        products = (low * s, high * s)
        need_low = min(*products, products[0] + b, products[1] + b, low, high)
        need_high = max(*products, products[0] + b, products[1] + b, low, high)
        size = array.dtype.itemsize
        candidates = [array.dtype, np.dtype(f"i{size}"), np.dtype("i2"), np.dtype("i4"), np.dtype("i8")]
        for dtype in candidates:
            if dtype.itemsize < size or not _fits(dtype, need_low, need_high):
                continue
            work = array.view(dtype) if dtype.itemsize == size else array.astype(dtype)
            # numpy scalars (not Python ints) so that a negative intercept on an unsigned film
            # is computed in a wide type, chunk by chunk, then stored: the checks above
            # guarantee the stored values fit.
            if s != 1:
                np.multiply(work, np.int64(s), out=work, casting="unsafe")
            if b != 0:
                np.add(work, np.int64(b), out=work, casting="unsafe")
            return work
    out = array.astype(np.float32)
    np.multiply(out, np.float64(slope), out=out, casting="unsafe")
    np.add(out, np.float64(intercept), out=out, casting="unsafe")
    return out


def _float_attr(ds: Dataset, keyword: str, default: float) -> float:
    try:
        value = ds.get(keyword)
        number = default if value is None or value == "" else float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


def _modality_values(array: np.ndarray, ds: Dataset, notes: list[str]) -> np.ndarray:
    """Stored values to modality values (Modality LUT Sequence, or Rescale Slope/Intercept)."""
    if ds.get("ModalityLUTSequence"):
        notes.append("The file's modality lookup table was applied.")
        return apply_modality_lut(array, ds)
    slope = _float_attr(ds, "RescaleSlope", 1.0)
    intercept = _float_attr(ds, "RescaleIntercept", 0.0)
    if slope == 0:
        notes.append("The rescale slope is zero, which is invalid; it was ignored.")
        slope = 1.0
    return _rescale(array, slope, intercept)


# --------------------------------------------------------------------------------------------
# Display hints and metadata


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return list(value)
    return [value]


def window_presets(ds: Dataset) -> tuple[tuple[WindowPreset, ...], str]:
    """The file's Window Center/Width pairs (with explanations) and its VOI LUT Function."""
    source: Any = ds
    if "WindowCenter" not in ds:
        # Enhanced (multi-frame) objects keep their window in the shared functional groups.
        try:
            source = ds.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
        except (AttributeError, IndexError, KeyError, TypeError):
            source = ds
    try:
        centers = _values(source.get("WindowCenter"))
        widths = _values(source.get("WindowWidth"))
        explanations = _values(source.get("WindowCenterWidthExplanation"))
        function = str(source.get("VOILUTFunction") or "LINEAR").strip().upper() or "LINEAR"
    except Exception:  # noqa: BLE001 - malformed presets are no presets
        return (), "LINEAR"
    presets = []
    for index, (center, width) in enumerate(zip(centers, widths)):
        try:
            c, w = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if not (math.isfinite(c) and math.isfinite(w)) or w <= 0:
            continue
        name = str(explanations[index]).strip() if index < len(explanations) else ""
        presets.append(WindowPreset(c, w, name or f"File preset {index + 1}"))
    return tuple(presets), function


def voi_lut(ds: Dataset) -> VoiLut | None:
    """The first VOI LUT Sequence item as a lookup on modality values, or None."""
    try:
        sequence = ds.get("VOILUTSequence")
        if not sequence:
            return None
        item = sequence[0]
        descriptor = [int(v) for v in item.LUTDescriptor]
        entries = descriptor[0] or 65536
        first_mapped, bits = descriptor[1], descriptor[2]
        if 10 <= bits <= 16:
            dtype = np.dtype("uint16")
        elif bits == 8:
            dtype = np.dtype("uint8")
        else:
            return None
        element = item["LUTData"]
        if element.VR == "OW":
            little = ds.original_encoding[1]
            raw = bytes(item.LUTData)
            table = np.frombuffer(raw, dtype=("<" if little else ">") + "u2", count=entries).astype(dtype)
        else:
            table = np.asarray(_values(item.LUTData)[:entries], dtype=dtype)
        table.flags.writeable = False
        explanation = str(item.get("LUTExplanation") or "").strip()
        return VoiLut(first_mapped, table, bits, explanation)
    except Exception:  # noqa: BLE001 - a broken LUT is no LUT; the window presets remain
        log.debug("VOI LUT sequence unusable")
        return None


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - undecodable text is absent text
        return ""
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip()


def metadata(ds: Dataset, transfer_syntax_text: str) -> FilmMetadata:
    """Patient, study and image description from a header; text decoded with its character set."""
    try:
        orientation = tuple(str(v).strip() for v in _values(ds.get("PatientOrientation")))
    except Exception:  # noqa: BLE001
        orientation = ()
    sop_class = _text(ds, "SOPClassUID")
    try:
        sop_class_text = UID(sop_class).name if sop_class else ""
    except Exception:  # noqa: BLE001 - an unknown class is shown as its UID
        sop_class_text = sop_class
    return FilmMetadata(
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        birth_date=_text(ds, "PatientBirthDate"),
        sex=_text(ds, "PatientSex"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        accession_number=_text(ds, "AccessionNumber"),
        institution=_text(ds, "InstitutionName"),
        laterality=_text(ds, "ImageLaterality") or _text(ds, "Laterality"),
        view_position=_text(ds, "ViewPosition"),
        patient_orientation=orientation,
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        modality=_text(ds, "Modality"),
        manufacturer=_text(ds, "Manufacturer"),
        transfer_syntax=transfer_syntax_text,
        series_description=_text(ds, "SeriesDescription"),
        body_part_examined=_text(ds, "BodyPartExamined"),
        sop_class=sop_class_text,
    )


def _header_notes(ds: Dataset, transfer_syntax: UID, frames: int) -> list[str]:
    notes = []
    if frames > 1:
        notes.append(f"This file holds {frames} frames; the first one is shown.")
    lossy = _text(ds, "LossyImageCompression") == "01" or transfer_syntax in _LOSSY_SYNTAXES
    if lossy:
        ratio = _text(ds, "LossyImageCompressionRatio")
        notes.append(
            "This image was compressed with loss of detail"
            + (f" (ratio {ratio.split(chr(92))[0]}:1)" if ratio else "")
            + "; fine edges may be slightly altered."
        )
    if _text(ds, "PresentationIntentType").upper() == "FOR PROCESSING":
        notes.append("This is a raw 'for processing' image; the scanner's display version may look better.")
    return notes


# --------------------------------------------------------------------------------------------
# Entry points


def summarize_dicom(path: Path) -> FilmSummary:
    """Header-only description of a DICOM file (no pixel data read)."""
    header = _read_header(path)
    ds = header.ds
    presets, function = window_presets(ds)
    has_pixels = header.pixel is not None and header.pixel.keyword == "PixelData" and bool(_int(ds, "Rows"))
    frames = _int(ds, "NumberOfFrames") or 1
    return FilmSummary(
        path=path,
        kind="dicom",
        file_format="DICOM",
        rows=_int(ds, "Rows") or 0,
        columns=_int(ds, "Columns") or 0,
        samples_per_pixel=_int(ds, "SamplesPerPixel") or 1,
        bits_allocated=_int(ds, "BitsAllocated") or 0,
        bits_stored=_int(ds, "BitsStored") or 0,
        photometric=_text(ds, "PhotometricInterpretation"),
        number_of_frames=max(1, frames),
        has_pixels=has_pixels,
        calibration=calibration_from_dataset(ds),
        metadata=metadata(ds, header.transfer_syntax_text),
        window_presets=presets,
        has_voi_lut=bool(ds.get("VOILUTSequence")),
        voi_function=function,
    )


def open_dicom(path: Path, max_bytes: int) -> Radiograph:
    """Decode the first frame of a DICOM film into a :class:`Radiograph` (see module doc)."""
    header = _read_header(path)
    ds, pixel = header.ds, header.pixel
    notes = list(header.notes)
    if pixel is None:
        if _text(ds, "SOPClassUID") == MediaStorageDirectoryStorage or "DirectoryRecordSequence" in ds:
            raise NoImageError(
                "This is a DICOMDIR, the index of a CD or folder of films; open the folder to choose a film."
            )
        raise NoImageError()
    if pixel.keyword != "PixelData":
        raise UnsupportedFilmError(
            "This file holds floating-point measurement data (a parametric map), not a radiograph."
        )
    geometry = _geometry(ds, notes)
    check_size(geometry.rows, geometry.columns, geometry.samples, geometry.decoded_sample_bytes, max_bytes)
    decoder = _check_decoder(header.transfer_syntax)
    if header.transfer_syntax != DeflatedExplicitVRLittleEndian and not header.transfer_syntax.is_encapsulated:
        _check_native_length(pixel, geometry, header.file_size, notes)

    array = _native_byte_order(_decode_first_frame(path, header, geometry, decoder))
    if array.shape[:2] != (geometry.rows, geometry.columns):
        raise InconsistentFilmError()

    photometric = geometry.photometric
    is_color = False
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(array, ds)
        # Some writers fill a 16-bit palette with 8-bit values; scaling those down would give
        # a black image.
        bits = 8 if rgb.dtype.itemsize > 1 and int(rgb.max()) <= 255 else rgb.dtype.itemsize * 8
        array = to_rgb8(rgb, bits)
        is_color = True
    elif array.ndim == 3:
        array = to_rgb8(array, geometry.bits_stored)
        is_color = True
    else:
        array = _modality_values(array, ds, notes)

    if is_color:
        grey = grey_if_identical(array)
        if grey is not None:
            array, is_color = grey, False
            notes.append("The colour image has identical red, green and blue; it is shown in grey.")

    invert = photometric == "MONOCHROME1"
    if photometric == "MONOCHROME2" and _text(ds, "PresentationLUTShape").upper() == "INVERSE":
        invert = True
        notes.append("The file asks for an inverted display (Presentation LUT Shape INVERSE).")

    presets, function = window_presets(ds)
    notes.extend(_header_notes(ds, header.transfer_syntax, geometry.frames))
    array.flags.writeable = False
    log.info(
        "opened DICOM film %dx%d, %s, %d frame(s)", geometry.rows, geometry.columns, header.transfer_syntax_text, geometry.frames
    )
    return Radiograph(
        path=path,
        pixels=array,
        photometric=photometric,
        bits_stored=geometry.bits_stored,
        invert_display=invert,
        is_color=is_color,
        calibration=calibration_from_dataset(ds),
        metadata=metadata(ds, header.transfer_syntax_text),
        window_presets=presets if not is_color else (),
        auto_window=auto_window(array),
        voi_lut=voi_lut(ds) if not is_color else None,
        notes=tuple(notes),
        kind="dicom",
        number_of_frames=geometry.frames,
        voi_function=function,
        file_format="DICOM",
    )
