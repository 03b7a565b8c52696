"""The project's settings in one place: where files live, the agencies' time zone and the linkage
bands.

Everything generated (worlds, the lake, the warehouse, the Airflow home) sits under folders that
git ignores. The project root is `$CREDLINK_ROOT` when set; else the checkout this package sits
in (a source tree: `pyproject.toml` beside the package); else, for an installed wheel, the
current directory. The reviewed files (contracts, memoranda, vocabularies) ship inside the package
(`SCHEMAS_DIR`) and never depend on the current directory.

Example:
    >>> project_root() / "data"   # doctest: +SKIP
    PosixPath('/home/me/credlink/data')
    >>> TIMEZONE
    'Asia/Shanghai'
    >>> ACCEPT, REVIEW
    (0.99, 0.3)
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

#: The package folder. In a source tree its `etl`, `linkage`, `publish`, `world` and `schemas`
#: are links to the folders beside it; in the wheel they are real folders inside it.
PACKAGE_DIR = Path(__file__).parent
#: The reviewed files: source and table contracts, memoranda, vocabularies, evidence policies.
SCHEMAS_DIR = PACKAGE_DIR / "schemas"
#: Folders of reviewed files added to the shipped ones (``os.pathsep``-separated), e.g. a site's
#: own agency: each may hold ``sources/`` and ``conform/`` (source contracts and conform
#: mappings, read beside the shipped ones; a source in two folders is an error).
SCHEMAS_OVERLAY_ENV = "CREDLINK_SCHEMAS_OVERLAY"

#: The zone the agencies' systems keep local time in (every wall-clock value of every source,
#: the DAGs' daily intervals, a listing's "today").
TIMEZONE = "Asia/Shanghai"
ZONE = ZoneInfo(TIMEZONE)


def day_start(d: date) -> datetime:
    """Midnight of day `d` in the agencies' time zone, in UTC (as Airflow gives the bounds of a
    daily interval): ``day_start(date(2025, 12, 31))`` -> 2025-12-30 16:00 UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=ZONE).astimezone(UTC)


#: Link probability from which a model link is accepted (it may restrict, if the identity
#: evidence the policy demands is there too). Changing it changes every band: relink in full.
ACCEPT = 0.99
#: Link probability from which a record goes to review instead of being left unlinked.
REVIEW = 0.3


def schema_folders() -> tuple[Path, ...]:
    """The folders of reviewed source contracts and conform mappings: `SCHEMAS_DIR`, then each
    folder of `$CREDLINK_SCHEMAS_OVERLAY` (a fifth agency without an edit of the shipped files).

    Example: with `CREDLINK_SCHEMAS_OVERLAY=/srv/site-schemas` -> `(SCHEMAS_DIR,
    PosixPath('/srv/site-schemas'))`.
    """
    extra = os.environ.get(SCHEMAS_OVERLAY_ENV, "")
    return (SCHEMAS_DIR, *(Path(p).resolve() for p in extra.split(os.pathsep) if p))


def project_root() -> Path:
    """The project root: `$CREDLINK_ROOT`, else the source checkout holding this package, else
    (an installed wheel) the current directory."""
    env = os.environ.get("CREDLINK_ROOT")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "credlink").is_dir():
        return checkout
    return Path.cwd().resolve()


def data_dir() -> Path:
    """Generated data: `$CREDLINK_DATA`, else `<root>/data`."""
    env = os.environ.get("CREDLINK_DATA")
    return Path(env).resolve() if env else project_root() / "data"


def lake_dir() -> Path:
    """The lake (staging, quarantine, linkage and publish tables): `<data>/lake`."""
    return data_dir() / "lake"


def airflow_home() -> Path:
    """The Airflow home: `$AIRFLOW_HOME`, else `<root>/.airflow`."""
    env = os.environ.get("AIRFLOW_HOME")
    return Path(env).resolve() if env else project_root() / ".airflow"


def warehouse_path() -> Path:
    """The published warehouse (one DuckDB file, replaced atomically by each publish run):
    `$CREDLINK_WAREHOUSE`, else `<data>/warehouse/credlink.duckdb`."""
    env = os.environ.get("CREDLINK_WAREHOUSE")
    return Path(env).resolve() if env else data_dir() / "warehouse" / "credlink.duckdb"
