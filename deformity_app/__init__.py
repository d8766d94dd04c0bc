"""The desktop application, its command line and its reports."""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("deformity-app")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
