"""Where the demo's files are, from the environment the Makefile exports.

Example:
    >>> DemoEnv({"CREDLINK_DATA": "/tmp/d"}).lake_dir
    PosixPath('/tmp/d/lake')
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoEnv:
    """Where everything is, from the environment the Makefile exports."""

    env: Mapping[str, str]

    @property
    def root(self) -> Path:
        return Path(self.env.get("CREDLINK_ROOT", Path(__file__).resolve().parents[2]))

    @property
    def data_dir(self) -> Path:
        return Path(self.env.get("CREDLINK_DATA", self.root / "data"))

    @property
    def airflow_home(self) -> Path:
        return Path(self.env.get("AIRFLOW_HOME", self.root / ".airflow"))

    @property
    def logs_dir(self) -> Path:
        """`[logging] base_log_folder` of the project's airflow.cfg."""
        return Path(
            self.config_value("logging", "base_log_folder", str(self.airflow_home / "logs"))
        )

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def warehouse(self) -> Path:
        """The published warehouse (`$CREDLINK_WAREHOUSE`, as `credlink.settings` says)."""
        env = self.env.get("CREDLINK_WAREHOUSE")
        return Path(env) if env else self.data_dir / "warehouse" / "credlink.duckdb"

    def config_value(self, section: str, key: str, default: str) -> str:
        """An airflow.cfg value as Airflow reads it: `AIRFLOW__S__K` first, `${VARS}` expanded."""
        override = self.env.get(f"AIRFLOW__{section.upper()}__{key.upper()}")
        if override:
            return override
        cfg = configparser.ConfigParser(interpolation=None)
        path = self.env.get("AIRFLOW_CONFIG")
        if path:
            cfg.read(path)
        raw = cfg.get(section, key, fallback=default)
        return _expand(raw, self.env)

    @property
    def metadata_url(self) -> str:
        """`sql_alchemy_conn` as set (variable or cfg), else the URL file of the home."""
        from credlink.metadata_db import configured_url

        return self.config_value("database", "sql_alchemy_conn", "") or configured_url(
            self.airflow_home, self.env
        )


def _expand(value: str, env: Mapping[str, str]) -> str:
    """`${VAR}` / `$VAR` replaced from `env` (as Airflow expands cfg values), others kept."""
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: env.get(m.group(1) or m.group(2), m.group(0)),
        value,
    )
