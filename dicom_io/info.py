"""What ``deformity-app info FILE_OR_FOLDER [--json]`` prints: a film's header, plainly.

:func:`describe` gives a JSON-ready dict; :func:`format_description` turns it into lines a person
reads. One file gives at least ``rows``, ``columns``, ``pixel_spacing_mm`` ([row, column] mm or
null) and ``calibration`` ({"source", "caveat"}); a folder or DICOMDIR gives
``{"path", "films": [...], "skipped"}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dicom_io._model import FilmSummary
from dicom_io.film import open_film, read_header
from dicom_io.folder import is_dicomdir, list_films

__all__ = ["describe", "format_description", "summary_dict"]


def summary_dict(summary: FilmSummary) -> dict[str, Any]:
    """One film's header as plain JSON-ready values."""
    m = summary.metadata
    return {
        "path": str(summary.path),
        "kind": summary.kind,
        "format": summary.file_format,
        "has_image": summary.has_pixels,
        "rows": summary.rows,
        "columns": summary.columns,
        "frames": summary.number_of_frames,
        "samples_per_pixel": summary.samples_per_pixel,
        "bits_allocated": summary.bits_allocated,
        "bits_stored": summary.bits_stored,
        "photometric": summary.photometric,
        "invert_display": summary.photometric == "MONOCHROME1",
        "transfer_syntax": m.transfer_syntax,
        "pixel_spacing_mm": list(summary.calibration.pixel_spacing_mm)
        if summary.calibration.calibrated
        else None,
        "calibration": {"source": summary.calibration.source.value, "caveat": summary.calibration.caveat},
        "window_presets": [
            {"name": p.name, "center": p.center, "width": p.width} for p in summary.window_presets
        ],
        "voi_lut": summary.has_voi_lut,
        "voi_function": summary.voi_function,
        "patient_orientation": list(m.patient_orientation),
        "laterality": m.laterality,
        "view_position": m.view_position,
        "metadata": m.to_dict(),
    }


def describe(path: str | os.PathLike[str], *, decode: bool = False) -> dict[str, Any]:
    """Header description of a film, or of every film in a folder or DICOMDIR.

    Parameters
    ----------
    path : a film, a folder, or a DICOMDIR.
    decode : also decode the film (single files only) to report the automatic window, the
        pixel type and the notes made while opening; slower on big compressed films.

    Raises
    ------
    dicom_io.errors.FilmError
        The file is not a film or cannot be read.
    """
    target = Path(path)
    if target.is_dir() or is_dicomdir(target):
        listing = list_films(target)
        return {"path": str(target), "films": [summary_dict(s) for s in listing], "skipped": listing.skipped}
    result = summary_dict(read_header(target))
    if decode and result["has_image"]:
        film = open_film(target)
        result["pixel_type"] = str(film.pixels.dtype)
        result["auto_window"] = {"center": film.auto_window.center, "width": film.auto_window.width}
        result["notes"] = list(film.notes)
    return result


def _spacing_text(d: dict[str, Any]) -> str:
    spacing = d.get("pixel_spacing_mm")
    calibration = d.get("calibration", {})
    if spacing is None:
        return f"none ({calibration.get('caveat', '')})"
    return (
        f"{spacing[0]:.4g} mm (rows) x {spacing[1]:.4g} mm (columns), from {calibration.get('source')}: "
        f"{calibration.get('caveat', '')}"
    )


def _film_lines(d: dict[str, Any]) -> list[str]:
    meta = d.get("metadata", {})
    lines = [f"File:          {d['path']}"]
    if not d.get("has_image", True):
        lines.append("Image:         none (this file holds no image)")
    else:
        frames = f", {d['frames']} frames" if d.get("frames", 1) > 1 else ""
        lines.append(f"Size:          {d['rows']} x {d['columns']} pixels (rows x columns){frames}")
        lines.append(
            f"Pixels:        {d['bits_stored']} of {d['bits_allocated']} bits, {d['photometric']}"
            + (" (shown inverted)" if d.get("invert_display") else "")
        )
    lines.append(f"Format:        {d['format']}" + (f", {d['transfer_syntax']}" if d.get("transfer_syntax") else ""))
    lines.append(f"Spacing:       {_spacing_text(d)}")
    presets = d.get("window_presets") or []
    if presets:
        text = "; ".join(f"{p['name']} {p['center']:g}/{p['width']:g}" for p in presets)
        lines.append(f"Windows:       {text} (centre/width)")
    if d.get("voi_lut"):
        lines.append("VOI LUT:       present in the file")
    if "auto_window" in d:
        w = d["auto_window"]
        lines.append(f"Auto window:   {w['center']:g}/{w['width']:g} (centre/width)")
    orientation = "\\".join(d.get("patient_orientation") or []) or "not stated"
    lines.append(
        f"Orientation:   {orientation}; laterality {d.get('laterality') or 'not stated'}; "
        f"view {d.get('view_position') or 'not stated'}"
    )
    if meta.get("patient_name") or meta.get("patient_id"):
        lines.append(
            f"Patient:       {meta.get('patient_name', '')} (ID {meta.get('patient_id') or '-'}, "
            f"born {meta.get('birth_date') or '-'}, sex {meta.get('sex') or '-'})"
        )
    study = " ".join(x for x in (meta.get("study_date"), meta.get("study_description")) if x)
    if study:
        lines.append(f"Study:         {study}" + (f", accession {meta['accession_number']}" if meta.get("accession_number") else ""))
    device = ", ".join(x for x in (meta.get("modality"), meta.get("manufacturer"), meta.get("institution")) if x)
    if device:
        lines.append(f"Acquired:      {device}")
    for note in d.get("notes", []):
        lines.append(f"Note:          {note}")
    return lines


def format_description(d: dict[str, Any]) -> str:
    """Readable multi-line text of a :func:`describe` result (one film or a folder)."""
    if "films" in d:
        blocks = [f"{len(d['films'])} film(s) in {d['path']}" + (f", {d['skipped']} other file(s) skipped" if d.get("skipped") else "")]
        for film in d["films"]:
            blocks.append("\n".join(_film_lines(film)))
        return "\n\n".join(blocks)
    return "\n".join(_film_lines(d))
