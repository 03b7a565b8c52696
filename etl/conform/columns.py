"""The columns of the conformed tables (the layer's schemas, in business names).

Every conformed table keeps the staged row's bookkeeping (:data:`META_COLUMNS`: which source
record it is, when that version was updated, the interval that staged it), one row per staged
version, so that readers choose the version they need (the latest, or the latest known on a
day). ``unique_id`` is ``'<source>/<table>/<record id>'``, the key of ``linkage.record_links``.

- ``conformed.subjects__<source>__<table>`` (:data:`SUBJECT_COLUMNS`): one row per staged
  version of an agency record, its subject's fields (persons and organisations in one table,
  ``subject_type`` says which; a field the other type has not is null);
- ``conformed.listings__<list>`` (:data:`LISTING_COLUMNS` after the bookkeeping, then the
  list's own fields): one row per staged version of a listing;
- ``conformed.events__<name>`` (:data:`EVENT_COLUMNS`): one row per staged version of a record
  that may be an event of that name (``is_event``), its key and date.
"""

from __future__ import annotations

import polars as pl

__all__ = ["EVENT_COLUMNS", "LISTING_COLUMNS", "META_COLUMNS", "SUBJECT_COLUMNS"]

#: The staged row's bookkeeping, first in every conformed table.
META_COLUMNS: dict[str, pl.DataType] = {
    "_source": pl.String(),
    "_table": pl.String(),
    "_record_id": pl.String(),  # the record's primary key ('|'-joined)
    "_updated_utc": pl.Datetime("us", "UTC"),  # this version's update time
    "_interval": pl.String(),  # the interval that staged it
}

#: ``conformed.subjects__<source>__<table>``, after :data:`META_COLUMNS`.
SUBJECT_COLUMNS: dict[str, pl.DataType] = {
    **META_COLUMNS,
    "unique_id": pl.String(),  # '<source>/<table>/<record id>'
    "subject_type": pl.String(),  # person / organisation
    "name": pl.String(),  # standardised: simplified Han, or upper-case Latin
    "name_pinyin": pl.String(),  # persons: 'zhang wei'
    "name_script": pl.String(),  # persons: han / pinyin / latin
    "name_core": pl.String(),  # organisations: without region, legal form, branch suffix
    "id_type": pl.String(),  # the identity document's type, where the source says (passport)
    "id_class": pl.String(),  # etl.standardise.identifiers: citizen_id, uscc, missing, ...
    "id_norm": pl.String(),  # the identifier as written, normalised
    "citizen_id": pl.String(),  # persons: a valid citizen identity number
    "birth_date": pl.Date(),  # persons: from the identity number
    "birth_year": pl.Int32(),
    "id_region": pl.String(),  # the division code the identifier gives
    "id_tail": pl.String(),  # persons: the identity number's last 4 characters
    "uscc": pl.String(),  # organisations: a valid USCC
    "org_code": pl.String(),  # organisations: the 9-character organisation code
    "entity_type": pl.String(),  # organisations: the USCC's first two characters
    "region": pl.String(),  # organisations: where registered (the identifier's, else the source's)
    "household_region": pl.String(),  # persons: where registered (hukou) or sued
    "sex": pl.String(),  # persons: M / F, from a column of the source's own
    "legal_rep_name": pl.String(),  # organisations: the legal representative as written
    "legal_rep_pinyin": pl.String(),
    "legal_rep_id": pl.String(),  # the legal representative's identity number, normalised
    "case_number": pl.String(),  # a case file's number: records of one case corroborate
    "parent_id": pl.String(),  # the unique_id of the record whose subject fields it borrows
    "parent_identifier": pl.String(),  # always / when_unusable: when the parent's id is taken
}

#: A listing, whatever the list (after :data:`META_COLUMNS` in ``conformed.listings__*``);
#: then the list's own fields. Dates are days; an end day is the first day no longer in force.
LISTING_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),  # '<source>/<table>/<record id>', as in linkage.record_links
    "list_id": pl.String(),  # the list's name: 'court_defaulters'
    "subject_type": pl.String(),  # person / organisation
    "subject_name": pl.String(),
    "reference": pl.String(),  # case or decision number, as the agency writes it
    "listed_on": pl.Date(),  # published
    "effective_from": pl.Date(),  # in force from (after an objection window)
    "ends_on": pl.Date(),  # the listing's own term ends (exclusive); null: no term of its own
    "removed_on": pl.Date(),  # removed from the list (null: not removed)
    "removal_reason": pl.String(),  # why (publish.listings.REMOVAL_REASONS)
}

#: ``conformed.events__<name>``, after :data:`META_COLUMNS`.
EVENT_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "key": pl.String(),  # what the event is about (a licence number)
    "date": pl.Date(),  # when it happened
    "is_event": pl.Boolean(),  # whether this version is such an event (an ungraded inspection)
}
