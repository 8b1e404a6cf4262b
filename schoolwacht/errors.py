"""One error tree for the whole service.

    SchoolwachtError
    ├── ConfigError        the config file is missing, unreadable or invalid
    ├── NotFoundError      a school, source, case or post that does not exist
    ├── InputError         bad input from a user (a report, an upload, a JSONL line)
    │   └── UploadError    a screenshot that is not a PNG/JPEG, too big, or a bomb
    ├── FetchError         a platform answered badly (shown as a source's last_error)
    └── StorageError       a capture file is missing or does not match its hash

The CLI turns any of these into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations


class SchoolwachtError(Exception):
    """Base class: an error the user can act on, with a one-line message."""


class ConfigError(SchoolwachtError):
    pass


class NotFoundError(SchoolwachtError):
    pass


class InputError(SchoolwachtError):
    pass


class UploadError(InputError):
    pass


class FetchError(SchoolwachtError):
    pass


class StorageError(SchoolwachtError):
    pass


__all__ = [
    "ConfigError",
    "FetchError",
    "InputError",
    "NotFoundError",
    "SchoolwachtError",
    "StorageError",
    "UploadError",
]
