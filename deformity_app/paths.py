"""Where the application keeps the user's settings, data (recovery, attempts) and logs.

platformdirs gives the right folder on each system; DEFORMITY_APP_HOME, when set, puts them all
under one folder instead (tests, portable installs).
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "deformity-app"


def _base(kind: str) -> Path:
    home = os.environ.get("DEFORMITY_APP_HOME")
    if home:
        return Path(home) / kind
    return Path({
        "config": platformdirs.user_config_dir(APP, appauthor=False),
        "data": platformdirs.user_data_dir(APP, appauthor=False),
        "cache": platformdirs.user_cache_dir(APP, appauthor=False),
        "log": platformdirs.user_log_dir(APP, appauthor=False),
    }[kind])


def user_dir(kind: str) -> Path:
    """The folder for `kind` ("config", "data", "cache" or "log"), created when missing."""
    path = _base(kind)
    path.mkdir(parents=True, exist_ok=True)
    return path


def recovery_dir() -> Path:
    path = user_dir("data") / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path
