"""The conformed layer: each agency's staged rows as subject records, listings and events with
business names, by a reviewed mapping per source (``schemas/conform/<source>.yaml``).

- :mod:`etl.conform.mappings`: the mappings (validated against the source contracts), the
  catalog of lists memoranda may target (:func:`~etl.conform.mappings.list_catalog`), the
  source contracts of the shipped and overlay folders; no data library is imported;
- :mod:`etl.conform.columns`: the conformed tables' columns;
- :mod:`etl.conform.derivations`: the named derivations a mapping may use;
- :mod:`etl.conform.contracts`: the conformed tables' contracts, made from the mappings;
- :mod:`etl.conform.apply`: the conform step (:func:`~etl.conform.apply.conform_partition`,
  run for each staged partition; :func:`~etl.conform.apply.conform_frames` on frames).

Linkage reads ``conformed.subjects__*``, publishing ``conformed.listings__*`` and
``conformed.events__*``; neither names a source, a table or an agency's column.
"""
