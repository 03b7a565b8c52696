"""The FastAPI app of the workbench (placeholder until the pages land)."""

from __future__ import annotations

from fastapi import FastAPI

URL_PREFIX = "/credlink"

app = FastAPI(title="credlink", docs_url=None, redoc_url=None, openapi_url=None)
