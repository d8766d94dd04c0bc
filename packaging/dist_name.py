"""The name of the built program's folder: deformity-app-<version>-<system>-<machine>.

    python packaging/dist_name.py      # prints it (the Makefile and the build test use this)
"""
from __future__ import annotations

import platform
from importlib import metadata

APP = "deformity-app"


def system() -> str:
    """"linux", "windows" or "macos"."""
    return {"Darwin": "macos", "Windows": "windows"}.get(platform.system(), platform.system().lower())


def machine() -> str:
    """"x86_64" or "arm64" (whatever the system calls them)."""
    raw = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(raw, raw)


def folder_name(version: str | None = None) -> str:
    return f"{APP}-{version or metadata.version(APP)}-{system()}-{machine()}"


if __name__ == "__main__":
    print(folder_name())
