"""The application icon in every form a system asks for, from `resources/icons/deformity-app.svg`.

    python packaging/make_icons.py png            # re-render resources/icons/deformity-app-<N>.png with Qt
    python packaging/make_icons.py ico OUT.ico    # Windows icon (from the PNGs, with Pillow)
    python packaging/make_icons.py icns OUT.icns  # macOS icon (from the PNGs, with Pillow)

The PNGs are committed (they are small and the running program loads them without Qt's SVG
plugin); re-render them after editing the SVG. `build.spec` calls :func:`write_ico` and
:func:`write_icns` at build time on Windows and macOS.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "deformity-app.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def png_path(size: int) -> Path:
    return ICONS / f"deformity-app-{size}.png"


def render_pngs(sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Render the SVG at each size with Qt (antialiased, transparent corners)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    assert app is not None  # QPainter needs a QGuiApplication
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = png_path(size)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"{path} could not be written")
        written.append(path)
    return written


def _images():
    from PIL import Image

    missing = [s for s in SIZES if not png_path(s).is_file()]
    if missing:
        raise SystemExit(f"missing PNG renderings {missing}: run `python packaging/make_icons.py png`")
    return [Image.open(png_path(s)).convert("RGBA") for s in SIZES]


def write_ico(out: Path) -> Path:
    """A Windows .ico holding every size (Pillow picks the sizes from the largest image)."""
    images = _images()
    out.parent.mkdir(parents=True, exist_ok=True)
    images[-1].save(out, format="ICO", sizes=[(s, s) for s in SIZES])
    return out


def write_icns(out: Path) -> Path:
    """A macOS .icns (16 to 256 px)."""
    images = _images()
    out.parent.mkdir(parents=True, exist_ok=True)
    images[-1].save(out, format="ICNS", append_images=images[:-1])
    return out


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["png"]:
        for path in render_pngs():
            print(path.relative_to(ROOT))
        return 0
    if len(args) == 2 and args[0] in ("ico", "icns"):
        out = (write_ico if args[0] == "ico" else write_icns)(Path(args[1]))
        print(out)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
