"""The enforcing agencies: ``schemas/publish/agencies.yaml`` (a reviewed file).

Each agency has a code, which names its enforcement list (``enforce.<code>``), and its name. The
memoranda's measures and the national list's entries name their agency by code.

Example:
    >>> enforcing_agencies()["caac"].name.startswith("中国民用航空局")
    True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from credlink.etl.contracts import SCHEMAS_DIR, strict_yaml_load

__all__ = ["AGENCIES_FILE", "AgenciesError", "Agency", "enforcing_agencies"]

AGENCIES_FILE = SCHEMAS_DIR / "publish" / "agencies.yaml"


class AgenciesError(ValueError):
    """The agencies file is malformed; the message names the file."""


class Agency(BaseModel):
    """An enforcing agency: `code` (names its enforcement list) and its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str


class _Agencies(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agencies: tuple[Agency, ...] = Field(min_length=1)


@cache
def enforcing_agencies(path: Path = AGENCIES_FILE) -> dict[str, Agency]:
    """The enforcing agencies of ``schemas/publish/agencies.yaml``, by code.

    Example: ``enforcing_agencies()["caac"].name`` starts with '中国民用航空局'.
    """
    try:
        raw = strict_yaml_load(path.read_text(encoding="utf-8"), path)
        return {a.code: a for a in _Agencies.model_validate(raw).agencies}
    except Exception as exc:  # any failure: name the file
        raise AgenciesError(f"{path}: invalid agencies file: {exc}") from exc
