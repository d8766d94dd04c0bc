"""Crash recovery: the open work is written to a recovery file after every edit.

One file per running application (named by process id). A clean exit removes it; a file whose
process is no longer running was left by a crash, and the next start offers to restore it.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measurements.case import Case, CaseError, atomic_write_text

from .paths import recovery_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovered:
    path: Path  # the recovery file
    case: Case
    film_path: Path | None
    case_path: Path | None
    saved_at: float


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class RecoveryFile:
    """The recovery file of this process."""

    def __init__(self, folder: Path | None = None, pid: int | None = None) -> None:
        self.folder = folder or recovery_dir()
        self.pid = os.getpid() if pid is None else pid
        self.path = self.folder / f"session-{self.pid}.json"

    def write(self, case: Case, film_path: Path | None, case_path: Path | None) -> None:
        data: dict[str, Any] = {
            "format": "deformity-recovery/1",
            "saved_at": time.time(),
            "pid": self.pid,
            "film_path": str(film_path) if film_path else None,
            "case_path": str(case_path) if case_path else None,
            "case": case.to_dict(),
        }
        atomic_write_text(self.path, json.dumps(data, ensure_ascii=False))

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def find_orphans(folder: Path | None = None) -> list[Recovered]:
    """Recovery files left by processes that are no longer running, newest first."""
    folder = folder or recovery_dir()
    found: list[Recovered] = []
    for path in sorted(folder.glob("session-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pid = int(data.get("pid", 0))
            if pid == os.getpid() or _pid_alive(pid):
                continue
            case = Case.from_dict(data["case"])
        except (OSError, ValueError, KeyError, TypeError, CaseError) as exc:
            log.warning("ignoring an unreadable recovery file %s: %s", path.name, exc)
            continue
        found.append(Recovered(
            path=path,
            case=case,
            film_path=Path(data["film_path"]) if data.get("film_path") else None,
            case_path=Path(data["case_path"]) if data.get("case_path") else None,
            saved_at=float(data.get("saved_at", 0.0)),
        ))
    found.sort(key=lambda r: r.saved_at, reverse=True)
    return found
