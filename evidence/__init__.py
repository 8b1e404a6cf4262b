"""Evidence for a police report (DESIGN.md, flow step 5; issue 6).

- `capture`     an image of every flagged post: a Chromium screenshot of its public page
                (`screenshot`) or, for API posts and as fallback, Schoolwacht's rendering
                (`render`); made by the scheduler's `evidence` job and at the latest on export;
- `bundle`      the export of one case to a ZIP (`report` writes its Dutch PDF);
- `verify`      re-checks a ZIP against its SHA256SUMS and manifest.json.

Screenshots are made outside any database transaction; see `evidence.capture`.
"""

from __future__ import annotations

from evidence.bundle import ExportResult, check_exportable, export_case, prepare_case, write_bundle
from evidence.capture import CaptureReport, ImageOutcome, capture_pending, ensure_images
from evidence.render import render_post
from evidence.screenshot import ScreenshotFailed, Shot, take_screenshot
from evidence.verify import VerifyReport, verify_bundle

__all__ = [
    "CaptureReport",
    "ExportResult",
    "ImageOutcome",
    "ScreenshotFailed",
    "Shot",
    "VerifyReport",
    "capture_pending",
    "check_exportable",
    "ensure_images",
    "export_case",
    "prepare_case",
    "render_post",
    "take_screenshot",
    "verify_bundle",
    "write_bundle",
]
