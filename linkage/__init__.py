"""Linkage: every agency record resolved to a unified social credit code.

The public API (Airflow-free; the DAGs call these):

- :func:`linkage.spine.read_person_spine`, :func:`linkage.spine.read_organisation_spine`:
  the registries as spines (one row per citizen ID / USCC);
- :func:`linkage.records.read_person_records`, :func:`linkage.records.read_organisation_records`:
  the agency records to link, in the spine's columns;
- :func:`linkage.deterministic.deterministic_pass`: links by valid identifiers;
- :func:`linkage.engine.link`: the Splink engine, any two tables and a model file;
- :func:`linkage.resolve.resolve`: all of it for one subject type, one row per record;
- :func:`linkage.train.train`: a new model version by EM;
- :func:`linkage.quality.quality_table`: precision / recall against a world's truth.

Models are reviewed JSON in ``linkage/models/`` (:mod:`linkage.model`).
"""
