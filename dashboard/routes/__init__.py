"""The dashboard's pages, one router per module (see dashboard/app.py for the shared dependencies)."""

from __future__ import annotations

from dashboard.routes import admin, cases, overview, report, review, sources

ROUTERS = [overview.router, review.router, cases.router, report.router, sources.router, admin.router]
