"""The contracts of the conformed tables, made from their contract files: the conform mappings
(``schemas/conform/<source>.yaml``) with the columns of :mod:`etl.conform.columns`.

Example:
    >>> conformed_contracts()["conformed.listings__court_defaulters"].key
    ('unique_id', '_interval')
"""

from __future__ import annotations

from credlink.etl.catalog import TableContract, contract_of
from credlink.etl.conform.apply import listing_columns
from credlink.etl.conform.columns import EVENT_COLUMNS, META_COLUMNS, SUBJECT_COLUMNS
from credlink.etl.conform.mappings import (
    LAYER,
    conform_mappings,
    events_dataset,
    listings_dataset,
    subjects_dataset,
)

__all__ = ["conformed_contracts"]


def conformed_contracts() -> dict[str, TableContract]:
    """The contracts of the conformed layer's tables, made from their contract files, the conform
    mappings (``schemas/conform/<source>.yaml``, with the columns of
    :mod:`etl.conform.columns`): a subject-record table per mapped staged table, a listing table
    per list (the listing's columns, then the list's own fields), an event table per event."""
    key = ("unique_id", "_interval")
    out: dict[str, TableContract] = {}
    for source, mapping in sorted(conform_mappings().items()):
        where = f"schemas/conform/{source}.yaml"
        for table, conf in mapping.tables.items():
            if conf.subjects is not None:
                name = f"{LAYER}.{subjects_dataset(source, table)}"
                out[name] = contract_of(
                    name, f"one row per staged version of a record of {source}.{table}: its "
                    "subject's fields", key, SUBJECT_COLUMNS, f"Made by {where}.")  # fmt: skip
            for lst in conf.lists:
                name = f"{LAYER}.{listings_dataset(lst.list)}"
                out[name] = contract_of(
                    name, f"one row per staged version of a listing of {lst.list}", key,
                    listing_columns(lst), f"{lst.title} Made by {where}.",
                    {n: f.description for n, f in lst.fields.items()})  # fmt: skip
            for ev in conf.events:
                name = f"{LAYER}.{events_dataset(ev.name)}"
                out[name] = contract_of(
                    name, f"one row per staged version of a record that may be a {ev.name} "
                    "event", key, {**META_COLUMNS, **EVENT_COLUMNS},
                    f"Made by {where}.")  # fmt: skip
    return out
