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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from credlink.etl.storage import Location

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


def lake_dir() -> Location:
    """The lake (staging, quarantine, linkage and publish tables): `$CREDLINK_LAKE` (a folder,
    or an object-store URL such as ``s3://bucket/prefix``: see :mod:`credlink.etl.storage`
    and docs/storage.md), else `<data>/lake`.

    Example: unset -> ``PosixPath('/home/me/credlink/data/lake')``;
    ``CREDLINK_LAKE=s3://credlink/prod`` -> ``S3Path('credlink/prod', protocol='s3')``.
    """
    env = os.environ.get("CREDLINK_LAKE", "").strip()
    if not env:
        return data_dir() / "lake"
    from credlink.etl.storage import is_url, location

    return location(env) if is_url(env) else Path(env).resolve()


def airflow_home() -> Path:
    """The Airflow home: `$AIRFLOW_HOME`, else `<root>/.airflow`."""
    env = os.environ.get("AIRFLOW_HOME")
    return Path(env).resolve() if env else project_root() / ".airflow"


def warehouse_location() -> Location:
    """Where the published warehouse lives: `$CREDLINK_WAREHOUSE` (a file, or an object-store
    URL), else `<data>/warehouse/credlink.duckdb`."""
    env = os.environ.get("CREDLINK_WAREHOUSE")
    if env and env.strip():
        from credlink.etl.storage import is_url, location

        if is_url(env.strip()):
            return location(env.strip())
        return Path(env).resolve()
    return data_dir() / "warehouse" / "credlink.duckdb"


def warehouse_path() -> Path:
    """The published warehouse (one DuckDB file, replaced atomically by each publish run):
    `$CREDLINK_WAREHOUSE`, else `<data>/warehouse/credlink.duckdb`.

    Publishing builds it as a local DuckDB file and renames it into place, and readers open
    it with DuckDB, which cannot open a database file on an object store: an object-store URL
    is refused here (:class:`~credlink.etl.storage.ObjectStoreUnsupported`), naming the
    variable, rather than half-working (docs/storage.md)."""
    where = warehouse_location()
    if isinstance(where, Path):
        return where
    from credlink.etl.storage import ObjectStoreUnsupported

    raise ObjectStoreUnsupported(
        f"CREDLINK_WAREHOUSE={where}: the warehouse is a DuckDB file that publishing replaces "
        "by a local rename and that readers open with DuckDB; it cannot live on an object "
        "store yet. Set CREDLINK_WAREHOUSE to a local path (a shared lake on the object store "
        "still works; see docs/storage.md)"
    )
