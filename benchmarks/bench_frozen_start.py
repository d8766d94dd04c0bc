"""The built program (`make dist`): its size, and its start to the first painted frame of the demo film.

Prints `name: value (goal ...)`. Each start runs the built `deformity-app` offscreen with
DEFORMITY_APP_QUIT_AFTER_LOAD (the application quits once the first film is shown, see
deformity_app/gui/app.py) and a user folder of its own, and times it from the moment the process is
started to the log line "first film shown", less the fixed 300 ms that the application waits
after the film is shown before it grabs the window and writes that line (the grab renders the
whole window once, as the first paint does, so the figure is close to the first painted frame).

- `frozen_first_start_s`: the very first start of a freshly installed folder: its files evicted from
  the page cache (posix_fadvise DONTNEED on each of them, which touches no other file) and an empty
  user folder (the build ships the demo film drawn; a source install draws it at the first start).
- `frozen_cold_start_s`: a start after a reboot: the files evicted again, the demo film already drawn.
- `frozen_start_s`: later starts (the median of three): files cached, the demo film already drawn.
- `frozen_vs_source_start`: that figure divided by the same start of the installed source program
  (`.venv/bin/deformity-app`), measured in the same run.

No asserts: machines here are noisy. Without a built folder it prints so and measures nothing.

Run: `.venv/bin/python benchmarks/bench_frozen_start.py [FOLDER]` (default: dist/<this version's folder>)
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTLE_S = 0.300  # deformity_app.gui.app._quit_after_first_film waits this long after filmLoaded
GOAL_S = 3.0
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*first film shown", re.MULTILINE)


def _folder() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1]).resolve()
    name = subprocess.run([sys.executable, str(REPO / "packaging" / "dist_name.py")], capture_output=True,
                          text=True, check=True).stdout.strip()
    return REPO / "dist" / name


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def _evict(folder: Path) -> None:
    """Drop the folder's files from the page cache, as after a reboot (only these files)."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _start(exe: Path, home: Path) -> tuple[float, float]:
    """(seconds to the first painted frame, seconds until the process ended) of one start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_"))}
    env.update(QT_QPA_PLATFORM="offscreen", DEFORMITY_APP_HOME=str(home), DEFORMITY_APP_QUIT_AFTER_LOAD="1")
    log = home / "log" / "deformity-app.log"
    before = log.read_text(encoding="utf-8") if log.exists() else ""
    started = time.time()
    proc = subprocess.run([str(exe)], capture_output=True, text=True, env=env, cwd=str(home.parent), timeout=300)
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"{exe} exited with {proc.returncode}: {proc.stderr[-2000:]}")
    found = _STAMP.findall(log.read_text(encoding="utf-8")[len(before):])
    if not found:
        raise SystemExit(f"{exe}: no 'first film shown' line in {log}")
    shown = _dt.datetime.strptime(found[-1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return shown - SETTLE_S - started, ended - started


def main() -> None:
    folder = _folder()
    exe = folder / ("deformity-app.exe" if sys.platform == "win32" else "deformity-app")
    if not exe.is_file():
        print(f"# {exe} does not exist: build it with `make dist` (nothing measured)")  # `make bench` goes on
        return
    source = REPO / ".venv" / ("Scripts/deformity-app.exe" if sys.platform == "win32" else "bin/deformity-app")
    size, count = _size(folder)
    print(f"# {folder.name}: {size / 1e6:.0f} MB in {count} files; {os.cpu_count()} CPUs; "
          f"{_dt.date.today().isoformat()}")
    print(f"frozen_size_mb: {size / 1e6:.0f} (no goal; the folder as built)")

    with tempfile.TemporaryDirectory(prefix="frozen-start-") as tmp:
        home = Path(tmp) / "home"
        evict = hasattr(os, "posix_fadvise")
        how = "files evicted from the page cache" if evict else "files possibly cached (no posix_fadvise here)"
        if evict:
            _evict(folder)
        first, first_total = _start(exe, home)
        print(f"frozen_first_start_s: {first:.2f} (no goal; {how}, empty user folder; process ended after {first_total:.2f} s)")
        if evict:
            _evict(folder)
        cold, cold_total = _start(exe, home)
        print(f"frozen_cold_start_s: {cold:.2f} (goal < {GOAL_S:.0f}; {how}, demo film already drawn; "
              f"process ended after {cold_total:.2f} s)")

        warm = [_start(exe, home) for _ in range(3)]
        frozen = statistics.median(t for t, _ in warm)
        print(f"frozen_start_s: {frozen:.2f} (goal < {GOAL_S:.0f}; median of 3 later starts: "
              f"{', '.join(f'{t:.2f}' for t, _ in warm)})")

        if source.is_file():
            source_home = Path(tmp) / "source-home"
            _start(source, source_home)  # draws the demo film and fills the cache, as for the frozen runs
            runs = [_start(source, source_home)[0] for _ in range(3)]
            base = statistics.median(runs)
            print(f"frozen_vs_source_start: {frozen / base:.2f} (no goal; the source program (.venv) "
                  f"starts in {base:.2f} s, median of 3)")


if __name__ == "__main__":
    main()
