"""The films in a folder or on a hospital CD (DICOMDIR), listed from their headers only.

No pixel data is decoded: a CD with hundreds of images lists in about a second, and the user
then picks the film to open with :func:`dicom_io.film.open_film`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pydicom
from pydicom.uid import MediaStorageDirectoryStorage

from dicom_io._model import FilmSummary
from dicom_io._sniff import sniff
from dicom_io.errors import FilmError, FilmNotFoundError
from dicom_io.film import read_header

__all__ = ["FilmListing", "is_dicomdir", "list_films"]

log = logging.getLogger(__name__)

#: Files looked at in one listing at most; a folder beyond this is not a patient's CD.
MAX_FILES = 100_000


class FilmListing(list[FilmSummary]):
    """A list of :class:`FilmSummary`, plus how many files were skipped as not films.

    ``skipped`` counts files that are not images (reports, DICOMDIR, viewer programs on a CD,
    unreadable or damaged files) and files a DICOMDIR names but the disc lacks.
    """

    __slots__ = ("skipped",)

    def __init__(self, films: Iterable[FilmSummary] = (), skipped: int = 0) -> None:
        super().__init__(films)
        self.skipped = skipped


def is_dicomdir(path: Path) -> bool:
    """True for a DICOMDIR file (by name, or by its Media Storage SOP Class)."""
    if not path.is_file():
        return False
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        if sniff(path) != "dicom":
            return False
        meta = pydicom.filereader.read_file_meta_info(path)
    except Exception:  # noqa: BLE001 - anything unreadable is not a DICOMDIR
        return False
    return meta.get("MediaStorageSOPClassUID") == MediaStorageDirectoryStorage


def _walk(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, sorted, without following links (CDs have none; loops kill)."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def _resolve(root: Path, parts: list[str]) -> Path | None:
    """``root/parts...`` on disc, forgiving the case and ``;1`` suffixes of ISO 9660 CDs."""
    current = root
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        wanted = part.upper()
        try:
            matches = [p for p in current.iterdir() if p.name.upper().split(";")[0] == wanted]
        except OSError:
            return None
        if not matches:
            return None
        current = matches[0]
    return current if current.is_file() else None


def _dicomdir_files(path: Path) -> tuple[list[Path], int]:
    """Files a DICOMDIR references, and how many of them are missing from the disc.

    The directory records are read directly rather than through pydicom's ``FileSet``, which
    drops records of missing files (we want to count them) and is strict about record
    contents that do not matter for finding files.
    """
    records = pydicom.dcmread(path, force=True).DirectoryRecordSequence
    files: list[Path] = []
    seen: set[Path] = set()
    missing = 0
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        file = _resolve(path.parent, [p.strip() for p in parts if p.strip()])
        if file is None:
            missing += 1
        elif file not in seen:
            seen.add(file)
            files.append(file)
    return files, missing


def list_films(path: str | os.PathLike[str]) -> FilmListing:
    """The films in a folder (searched recursively), in a DICOMDIR, or in one file.

    Files that are not films are skipped silently and counted in ``FilmListing.skipped``.
    A DICOMDIR that cannot be read is replaced by a search of its folder.

    Raises
    ------
    FilmNotFoundError
        ``path`` does not exist.
    """
    target = Path(path)
    if not target.exists():
        raise FilmNotFoundError("The folder or file could not be found.")
    skipped = 0
    if target.is_dir():
        candidates: Iterable[Path] = _walk(target)
    elif is_dicomdir(target):
        try:
            candidates, skipped = _dicomdir_files(target)
        except Exception as exc:  # noqa: BLE001 - a broken index: the files are still there
            log.warning("DICOMDIR unreadable (%s); searching its folder instead", type(exc).__name__)
            candidates = (p for p in _walk(target.parent) if p != target)
    else:
        candidates = [target]

    films: list[FilmSummary] = []
    for count, file in enumerate(candidates):
        if count >= MAX_FILES:
            log.warning("listing stopped after %d files", MAX_FILES)
            break
        try:
            summary = read_header(file)
        except FilmError:
            skipped += 1
            continue
        if summary.has_pixels:
            films.append(summary)
        else:
            skipped += 1
    log.info("listed %d film(s), skipped %d file(s)", len(films), skipped)
    return FilmListing(films, skipped)
