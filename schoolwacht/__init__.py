"""Schoolwacht: watches public social media for posts about a Dutch primary school."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("schoolwacht")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
