"""What kind of file is this, and how big is its image, read from the first bytes only.

Deciding from content rather than extension matters: files from hospital CDs have no extension
(``DICOM/IM00001``) and scanned films are sometimes misnamed. Image sizes are parsed from the
PNG, JPEG and TIFF headers so that a huge image is refused before any decoder allocates it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dicom_io.errors import FilmError, FilmNotFoundError, NotAFilmError, TruncatedFilmError

__all__ = ["ImageHeader", "image_header", "sniff"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# Explicit-VR codes, to recognise a DICOM data set written without the 128-byte preamble.
_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
}


def sniff(path: Path) -> str:
    """``"dicom"``, ``"png"``, ``"jpeg"`` or ``"tiff"`` from the file's first bytes.

    Raises
    ------
    FilmNotFoundError
        Missing, a folder, or unreadable.
    NotAFilmError
        Anything else (empty, text, random bytes, another image format).
    """
    try:
        if path.is_dir():
            raise NotAFilmError(
                "This is a folder, not a film; open one of the films it contains instead."
            )
        with path.open("rb") as f:
            head = f.read(132)
    except FilmError:
        raise
    except FileNotFoundError as exc:
        raise FilmNotFoundError("The file could not be found.") from exc
    except OSError as exc:
        raise FilmNotFoundError("The file could not be read (it may be locked or unreadable).") from exc

    if len(head) == 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in _TIFF_SIGNATURES:
        return "tiff"
    if _looks_like_bare_dicom(head):
        return "dicom"
    raise NotAFilmError()


def _looks_like_bare_dicom(head: bytes) -> bool:
    """A DICOM data set without preamble: it starts with a group 0002 or 0008 element.

    Old archives and some CD writers store files this way; accepting only the two groups a data
    set can start with keeps random files from being parsed as DICOM.
    """
    if len(head) < 8:
        return False
    for order in "<>":
        group, element = struct.unpack(order + "HH", head[:4])
        if group not in (0x0002, 0x0008) or element > 0x0100:
            continue
        if head[4:6] in _VRS:
            return True
        (length,) = struct.unpack(order + "I", head[4:8])
        if length < 0x10000:
            return True
    return False


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """Size of a PNG/JPEG/TIFF image from its header; ``pages`` > 1 for multi-page TIFF."""

    file_format: str
    rows: int
    columns: int
    channels: int
    bits: int
    pages: int = 1


def image_header(path: Path, kind: str) -> ImageHeader:
    """Parse the header of a PNG, JPEG or TIFF file (``kind`` from :func:`sniff`).

    Raises
    ------
    TruncatedFilmError
        The file ends inside its header.
    NotAFilmError
        The header is not what the signature promised.
    """
    try:
        with path.open("rb") as f:
            if kind == "png":
                return _png_header(f)
            if kind == "jpeg":
                return _jpeg_header(f)
            if kind == "tiff":
                return _tiff_header(f)
    except struct.error as exc:
        raise TruncatedFilmError(
            "This image file is incomplete: it ends inside its header."
        ) from exc
    raise NotAFilmError()


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise struct.error("end of file")
    return data


def _png_header(f: BinaryIO) -> ImageHeader:
    data = _read_exact(f, 26)
    if data[12:16] != b"IHDR":
        raise NotAFilmError("This PNG file has no image header.")
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour_type, 4)
    return ImageHeader("PNG", height, width, channels, depth)


# JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic variants).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_header(f: BinaryIO) -> ImageHeader:
    _read_exact(f, 2)  # SOI
    # One iteration per marker segment (a few dozen per file), never per pixel.
    while True:
        byte = _read_exact(f, 1)
        if byte != b"\xff":
            raise NotAFilmError("This JPEG file is damaged (no frame header).")
        marker = _read_exact(f, 1)[0]
        while marker == 0xFF:  # fill bytes
            marker = _read_exact(f, 1)[0]
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            continue
        if marker in (0xD9, 0xDA):
            raise NotAFilmError("This JPEG file is damaged (no frame header).")
        (length,) = struct.unpack(">H", _read_exact(f, 2))
        if marker in _SOF_MARKERS:
            precision, height, width, components = struct.unpack(">BHHB", _read_exact(f, 6))
            return ImageHeader("JPEG", height, width, components, precision)
        if length < 2:
            raise NotAFilmError("This JPEG file is damaged (no frame header).")
        f.seek(length - 2, 1)


_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}
_TIFF_INT_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 16: "Q", 17: "q", 18: "Q"}
_MAX_TIFF_PAGES = 10_000


def _tiff_header(f: BinaryIO) -> ImageHeader:
    head = _read_exact(f, 16)
    order = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", head[2:4])
    big = magic == 43
    if big:
        (offset,) = struct.unpack(order + "Q", head[8:16])
        count_format, entry_size, value_size, offset_format = "Q", 20, 8, "Q"
    else:
        (offset,) = struct.unpack(order + "I", head[4:8])
        count_format, entry_size, value_size, offset_format = "H", 12, 4, "I"

    first: dict[int, int] = {}
    pages = 0
    seen: set[int] = set()
    while offset and offset not in seen and pages < _MAX_TIFF_PAGES:
        seen.add(offset)
        f.seek(offset)
        (count,) = struct.unpack(order + count_format, _read_exact(f, struct.calcsize(count_format)))
        entries = _read_exact(f, count * entry_size)
        if pages == 0:
            for i in range(count):
                entry = entries[i * entry_size : (i + 1) * entry_size]
                tag, typ = struct.unpack(order + "HH", entry[:4])
                if tag not in (256, 257, 258, 277) or typ not in _TIFF_INT_FORMATS:
                    continue
                (n,) = struct.unpack(order + ("Q" if big else "I"), entry[4 : 4 + value_size])
                raw = entry[4 + value_size :]
                size = _TIFF_TYPE_SIZES[typ]
                if n * size > value_size:  # the values live elsewhere; the first one is enough
                    (where,) = struct.unpack(order + offset_format, raw)
                    position = f.tell()
                    f.seek(where)
                    raw = _read_exact(f, size)
                    f.seek(position)
                (first[tag],) = struct.unpack(order + _TIFF_INT_FORMATS[typ], raw[:size])
        pages += 1
        (offset,) = struct.unpack(order + offset_format, _read_exact(f, value_size))
    if 256 not in first or 257 not in first:
        raise NotAFilmError("This TIFF file has no image size in its header.")
    return ImageHeader("TIFF", first[257], first[256], first.get(277, 1), first.get(258, 1), max(pages, 1))
