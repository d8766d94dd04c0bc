"""THIRD-PARTY-NOTICES.txt: every distribution a build bundles, with its licence texts.

`build.spec` calls :func:`write_notices` with the files PyInstaller collected; each file is traced
to the installed distribution (its ``RECORD``) that owns it, and each such distribution is listed
with its version, its licence expression and the licence files of its ``.dist-info``. Files that no
distribution owns are the Python standard library and interpreter (the PSF licence is included),
the project's own files, and, on Linux, system libraries that PyInstaller copied: those are traced
to their Debian package with ``dpkg-query`` and its ``copyright`` file is included.

Run on its own, it writes the notices of what the *installed* program uses (deformity-app's
run-time requirements and theirs) without building anything:

    python packaging/third_party_notices.py [--out FILE]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib.metadata as md
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "deformity-app"
LICENSES = Path(__file__).resolve().parent / "licenses"

_LICENCE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT)", re.IGNORECASE)
# Distributions whose wheels ship no licence file, with the licence they are under and where its
# text is in this folder (PySide6 and shiboken6 wheels carry only the licence's name).
KNOWN_TEXTS = {
    "pyside6-essentials": ("LGPL-3.0-only (chosen from LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only)",
                           ["LGPL-3.0.txt"]),
    "shiboken6": ("LGPL-3.0-only (chosen from LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only)", ["LGPL-3.0.txt"]),
}
QT_NOTE = """\
PySide6 bundles the Qt 6 libraries (the `PySide6/Qt/lib` folder and the plugins in
`PySide6/Qt/plugins`), used under the GNU LGPL version 3 (text above; it refers to the GNU GPL
version 3, which is deformity-app's own LICENSE). They are separate shared libraries in this
folder: you may replace them with a compatible build of your own (same Qt minor version, built
with the same options). Qt's source code is available from https://download.qt.io/ and
https://code.qt.io/, PySide6's from https://code.qt.io/pyside/pyside-setup.git. The third-party
components inside Qt (FreeType, HarfBuzz, libpng, zlib, PCRE2, double-conversion, md4c, ...) are
listed with their licences in Qt's documentation: https://doc.qt.io/qt-6/licenses-used-in-qt.html.
"""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Owner:
    dist: md.Distribution
    files: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.dist.metadata["Name"]

    @property
    def version(self) -> str:
        return self.dist.version


def _file_index() -> dict[Path, md.Distribution]:
    index: dict[Path, md.Distribution] = {}
    for dist in md.distributions():
        for f in dist.files or ():
            try:
                index[Path(dist.locate_file(f)).resolve()] = dist
            except (OSError, ValueError):
                continue
    return index


def trace(paths: Iterable[str | os.PathLike[str]]) -> tuple[dict[str, Owner], list[Path]]:
    """Map collected files to the distributions that own them: ({normalised name: Owner}, unowned files)."""
    index = _file_index()
    owners: dict[str, Owner] = {}
    unowned: list[Path] = []
    for raw in paths:
        path = Path(raw).resolve()
        dist = index.get(path)
        if dist is None:
            unowned.append(path)
            continue
        key = _norm(dist.metadata["Name"])
        owners.setdefault(key, Owner(dist)).files.append(str(path))
    return owners, sorted(set(unowned))


def requirement_closure(root: str = PROJECT) -> dict[str, Owner]:
    """The installed distributions `root` needs at run time (its requirements, transitively, no extras)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - packaging comes with pip and PyInstaller
        Requirement = None  # type: ignore[assignment]
    found: dict[str, Owner] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        key = _norm(dist.metadata["Name"])
        if key in found:
            continue
        found[key] = Owner(dist)
        for raw in dist.requires or ():
            if Requirement is not None:
                req = Requirement(raw)
                if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                    continue
                todo.append(req.name)
            elif "extra ==" not in raw:
                todo.append(re.split(r"[ ;<>=!~\[(]", raw, maxsplit=1)[0])
    found.pop(_norm(root), None)
    return found


def licence_expression(dist: md.Distribution) -> str:
    meta = dist.metadata
    known = KNOWN_TEXTS.get(_norm(meta["Name"]))
    if known:
        return known[0]
    for key in ("License-Expression", "License"):
        value = (meta.get(key) or "").strip()
        if _LICENCE_NAME.match(value) and " " not in value:
            continue  # "License: LICENSE" (dicomweb-client) names the file, not the licence
        if value and len(value) < 200 and "\n" not in value:
            return value
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or () if c.startswith("License ::")]
    return "; ".join(classifiers) or "see the licence text below"


def licence_files(dist: md.Distribution) -> list[tuple[str, str]]:
    """(name, text) of the licence files in a distribution's metadata folder, without duplicates."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    candidates: list[tuple[str, Path]] = []
    for f in dist.files or ():
        parts = Path(str(f)).parts
        if not parts or not parts[0].endswith(".dist-info"):
            continue
        inside = Path(*parts[1:]) if len(parts) > 1 else Path()
        if (inside.parts and inside.parts[0] == "licenses") or _LICENCE_NAME.match(inside.name or ""):
            candidates.append((str(Path(*parts[1:])), Path(dist.locate_file(f))))
    known = KNOWN_TEXTS.get(_norm(dist.metadata["Name"]))
    if known:
        candidates += [(name, LICENSES / name) for name in known[1]]
    for name, path in sorted(candidates):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        digest = hashlib.sha256(text.strip().encode()).hexdigest()
        if digest in seen or not text.strip():
            continue
        seen.add(digest)
        out.append((name, text))
    return out


def home_page(dist: md.Distribution) -> str:
    meta = dist.metadata
    if meta.get("Home-page"):
        return meta["Home-page"]
    for url in meta.get_all("Project-URL") or ():
        label, _, link = url.partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "source code", "repository"):
            return link.strip()
    return ""


def _python_section() -> str:
    candidates = [Path(sys.base_prefix) / "LICENSE.txt",
                  Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "LICENSE.txt",
                  Path(sys.base_prefix) / "Lib" / "LICENSE.txt"]
    for path in candidates:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            break
    else:
        text = "(The licence file of this Python was not found; see https://docs.python.org/3/license.html.)\n"
    return (f"Python {platform.python_version()} (the interpreter and the standard library)\n"
            f"Licence: PSF-2.0 (Python Software Foundation License)\n\n{text}")


def _debian_packages(paths: list[Path]) -> tuple[dict[str, list[Path]], list[Path]]:
    if not paths or shutil.which("dpkg-query") is None:
        return {}, paths
    packages: dict[str, list[Path]] = {}
    unknown: list[Path] = []
    for path in paths:
        names = {str(path)}
        if str(path).startswith("/usr/lib/"):
            names.add(str(path).removeprefix("/usr"))  # merged /usr: dpkg may know /lib/...
        elif str(path).startswith("/lib"):
            names.add("/usr" + str(path))
        owner = None
        for name in names:
            result = subprocess.run(["dpkg-query", "-S", name], capture_output=True, text=True)
            if result.returncode == 0 and result.stdout.strip():
                owner = result.stdout.split(":", 1)[0].strip()
                break
        if owner:
            packages.setdefault(owner, []).append(path)
        else:
            unknown.append(path)
    return packages, unknown


def _rule(char: str = "=") -> str:
    return char * 78 + "\n"


def render(owners: dict[str, Owner], unowned: list[Path], *, project_version: str, target: str,
           extra_sections: Iterable[tuple[str, str]] = ()) -> str:
    """The notices text."""
    python_files = [p for p in unowned if _under(p, Path(sys.base_prefix).resolve())]
    project_files = [p for p in unowned if _under(p, ROOT)]
    other = [p for p in unowned if p not in python_files and p not in project_files]
    debian, unknown = _debian_packages(other)

    rows = sorted(owners.values(), key=lambda o: o.name.lower())
    out = [
        f"THIRD-PARTY NOTICES for deformity-app {project_version} ({target})\n",
        f"Written {_dt.date.today().isoformat()} by packaging/third_party_notices.py.\n\n",
        "deformity-app is free software under the GNU General Public License, version 3 or (at your\n"
        "option) any later version: see LICENSE beside this file. This program folder also contains\n"
        "the software listed below, each under its own licence, whose texts follow. The bundled\n"
        "JPEG decoder pylibjpeg-libjpeg is GPL-3.0; Qt and PySide6 are LGPL-3.0 and stay separate,\n"
        "replaceable shared libraries in this folder.\n\n",
        _rule(),
        "Summary\n",
        _rule(),
    ]
    width = max([len(o.name) for o in rows] + [20])
    for owner in rows:
        out.append(f"{owner.name:<{width}}  {owner.version:<14}  {licence_expression(owner.dist)}\n")
    out.append(f"{'Python':<{width}}  {platform.python_version():<14}  PSF-2.0\n")
    for title, _text in extra_sections:
        out.append(f"{title}\n")
    for package in sorted(debian):
        out.append(f"{package:<{width}}  {'(Debian)':<14}  see its copyright file below\n")
    out.append("\n")

    printed: dict[str, str] = {}  # long texts already written (the LGPL of PySide6 and shiboken6): digest -> where
    for owner in rows:
        dist = owner.dist
        out += [_rule(), f"{owner.name} {owner.version}\n", f"Licence: {licence_expression(dist)}\n"]
        if home_page(dist):
            out.append(f"Home: {home_page(dist)}\n")
        out.append(_rule())
        texts = licence_files(dist)
        if not texts:
            out.append("(This distribution ships no licence file; its licence is named above.)\n\n")
        for name, text in texts:
            digest = hashlib.sha256(text.strip().encode()).hexdigest()
            if digest in printed and len(text) > 1500:
                out.append(f"--- {name}: the same text as under {printed[digest]} above ---\n\n")
                continue
            printed.setdefault(digest, owner.name)
            out += [f"--- {name} ---\n", text.rstrip() + "\n\n"]
        if _norm(owner.name) == "pyside6-essentials":
            out += [QT_NOTE, "\n"]
    out += [_rule(), _python_section().rstrip() + "\n\n"]
    for title, text in extra_sections:
        out += [_rule(), title + "\n", _rule(), text.rstrip() + "\n\n"]
    for package, files in sorted(debian.items()):
        copyright_file = Path("/usr/share/doc") / package.split(":")[0] / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") if copyright_file.is_file() \
            else "(no copyright file found)"
        out += [_rule(), f"{package} (Debian package; system library copied by the build)\n",
                "Files: " + ", ".join(sorted(p.name for p in files)) + "\n", _rule(), text.rstrip() + "\n\n"]
    if unknown:
        out += [_rule(), "Other files copied from the build machine (no owner found)\n", _rule()]
        out += [f"{p.name}\n" for p in unknown]
    return "".join(out)


def _under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def resource_sections() -> list[tuple[str, str]]:
    """Licences of the data files in `resources/` that are not the project's own (fonts, test films)."""
    sections = []
    for title, path in (
        ("DejaVu Sans fonts (resources/fonts)", ROOT / "resources" / "fonts" / "LICENSE-DejaVu.txt"),
        ("Droid Sans Fallback font (resources/fonts)",
         ROOT / "resources" / "fonts" / "LICENSE-DroidSansFallback-Apache-2.0.txt"),
        ("pydicom test films used by the self-test (resources/selftest)",
         ROOT / "resources" / "selftest" / "LICENSE-pydicom.txt"),
    ):
        if path.is_file():
            sections.append((title, path.read_text(encoding="utf-8", errors="replace")))
    return sections


def pyinstaller_section() -> list[tuple[str, str]]:
    """The PyInstaller bootloader (the program's executable) is GPL-2.0-or-later with an exception."""
    try:
        dist = md.distribution("pyinstaller")
    except md.PackageNotFoundError:
        return []
    texts = licence_files(dist)
    body = "\n\n".join(text for _name, text in texts) or licence_expression(dist)
    return [(f"PyInstaller {dist.version} bootloader (the executable that starts the program)", body)]


def write_notices(collected: Iterable[str | os.PathLike[str]], out: Path, *, project_version: str,
                  target: str) -> Path:
    """Trace `collected` (PyInstaller's source paths) and write the notices file to `out`."""
    owners, unowned = trace(collected)
    owners.pop(_norm(PROJECT), None)
    for tool in ("pyinstaller", "pyinstaller-hooks-contrib", "altgraph"):
        owners.pop(tool, None)  # build tools: only the bootloader ends up in the program
    text = render(owners, unowned, project_version=project_version, target=target,
                  extra_sections=resource_sections() + pyinstaller_section())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("THIRD-PARTY-NOTICES.txt"))
    args = parser.parse_args(argv)
    owners = requirement_closure()
    try:
        version = md.version(PROJECT)
    except md.PackageNotFoundError:
        version = "(not installed)"
    text = render(owners, [], project_version=version, target="installed in " + sys.prefix,
                  extra_sections=resource_sections())
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(owners)} distributions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
