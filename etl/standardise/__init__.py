"""Standardisation: raw agency values to comparable, typed values (no Airflow, no I/O).

Plain functions from Polars Series to Series or DataFrames, vectorised over whole columns:

- :mod:`etl.standardise.names`: :func:`person_names`, :func:`organisation_names`;
- :mod:`etl.standardise.identifiers`: :func:`person_ids`, :func:`organisation_ids`;
- :mod:`etl.standardise.values`: :func:`text`, :func:`dates`, :func:`timestamps`,
  :func:`amounts`;
- :mod:`etl.standardise.vocabularies`: :func:`load_vocabulary`, :func:`map_values` over the
  reviewed vocabularies in ``schemas/vocabularies/``.

Example:
    >>> person_ids(pl.Series(["110105491231002"]))["id_citizen"].to_list()
    ['11010519491231002X']
"""

from credlink.etl.standardise.identifiers import organisation_ids, person_ids
from credlink.etl.standardise.names import organisation_names, person_names
from credlink.etl.standardise.values import amounts, dates, text, timestamps
from credlink.etl.standardise.vocabularies import Vocabulary, load_vocabulary, map_values

__all__ = [
    "Vocabulary",
    "amounts",
    "dates",
    "load_vocabulary",
    "map_values",
    "organisation_ids",
    "organisation_names",
    "person_ids",
    "person_names",
    "text",
    "timestamps",
]
