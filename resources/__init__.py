"""Data shipped with the application: normal ranges, tables with their sources, icons, demo material."""
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Absolute path of a file inside `resources/` (works from a source tree and an installed wheel)."""
    return RESOURCES_DIR.joinpath(*parts)
