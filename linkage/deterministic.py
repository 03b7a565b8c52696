"""The deterministic pass: records whose identifier is valid and found in the registry.

A record is linked here, before any model, when its identifier passes its check character
and names exactly one registry entry:

==============================  ==========================================================
``matched_on``                  rule
==============================  ==========================================================
``citizen_id``                  a valid 18-digit citizen ID present in the person spine
``citizen_id_legacy15``         a 15-digit legacy ID whose 18-digit upgrade (region + ``19``
                                + the rest + computed check) is present in the person spine
``uscc``                        a valid USCC present in the organisation spine
``organisation_code``           a valid organisation code embedded in exactly one USCC
``legacy_registration_no``      a 15-digit number equal to exactly one registry entry's
                                pre-2015 registration number (also when the standardiser read
                                it as a tax number: a 15-digit value can pass both checks)
``legacy_tax_no``               a 15-digit number equal to exactly one entry's tax number
``legacy_tax_no_org_code``      a tax number whose embedded organisation code is in exactly
                                one USCC
==============================  ==========================================================

Nothing else is linked here: bad check characters, masked IDs, passports, missing or malformed
identifiers all go to the models. A passport number is never compared with citizen IDs.

**No identifier is trusted alone.** A clerk may type another person's number, or a relative's:
an identifier found in the registry is only a candidate (:func:`deterministic_person_links`,
:func:`deterministic_organisation_links`). :func:`deterministic_pass` links it only when the
holder's registry name agrees with the record's (the name levels of the identity-evidence
policy's default rule, :mod:`linkage.evidence`). A valid identifier whose holder bears another
name is an **identifier conflict**: the record is not linked here; it goes to the model with its
identifier treated as disputed (every field read from that identifier set aside), and then to
a reviewer with both candidates, the identifier's holder and the best name match
(:mod:`linkage.resolve`).

A **namesake** is a conflict too: when the registry holds another entry with the holder's name
and birth date (persons; for organisations the same full name), a clerk who typed the other's
number would be believed on the number alone, which nothing else on the record can check: a
reviewer decides (``conflict_name_agreement = 'namesake'``).

Example:
    >>> links = deterministic_person_links(records, spine)         # doctest: +SKIP
    >>> links.columns
    ['unique_id', 'spine_id', 'method', 'matched_on']
    >>> split = deterministic_pass(records, spine, "person")          # doctest: +SKIP
    >>> split.conflicts.columns                                        # doctest: +SKIP
    ['unique_id', 'conflict_code', 'conflict_on', 'conflict_name_agreement']
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from credlink.linkage.evidence import EvidencePolicy, assess, load_policy
from credlink.linkage.spine import derived

__all__ = [
    "CONFLICT_COLUMNS",
    "DISPUTED_FIELDS",
    "LINK_COLUMNS",
    "NEVER_MODELLED",
    "DeterministicPass",
    "deterministic_organisation_links",
    "deterministic_pass",
    "deterministic_person_links",
    "namesakes",
]

#: The columns of a deterministic link table.
LINK_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "spine_id": pl.String(),
    "method": pl.String(),
    "matched_on": pl.String(),
}

_FIFTEEN = ("legacy_registration_no", "legacy_tax_no")


def _links(frame: pl.DataFrame, matched_on: str) -> pl.DataFrame:
    return frame.select(
        "unique_id",
        "spine_id",
        pl.lit("deterministic").alias("method"),
        pl.lit(matched_on).alias("matched_on"),
    )


def _unique_key(spine: pl.DataFrame, key: str) -> pl.DataFrame:
    """Spine `key` values held by exactly one entry, with that entry's id as `spine_id`."""
    return (
        spine.filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg(pl.col("unique_id").first().alias("spine_id"), pl.len().alias("_n"))
        .filter(pl.col("_n") == 1)
        .drop("_n")
    )


def _first_wins(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Links by rule, in rule order: a record keeps the first rule that linked it, unless two
    rules point it to different entries (then it is left to the model)."""
    if not parts:
        return pl.DataFrame(schema=LINK_COLUMNS)
    every = pl.concat(parts)
    agreed = every.filter(pl.col("spine_id").n_unique().over("unique_id") == 1)
    return agreed.unique("unique_id", keep="first", maintain_order=True)


def deterministic_person_links(records: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """Links of person records by valid citizen ID (see the module doc).

    `records` and `spine` are in :data:`linkage.spine.PERSON_COLUMNS`. Returns one row per
    linked record: ``unique_id``, ``spine_id``, ``method`` ('deterministic'), ``matched_on``.
    """
    ids = spine.select(pl.col("unique_id").alias("spine_id"), pl.col("citizen_id"))
    parts = []
    for cls in ("citizen_id", "citizen_id_legacy15"):
        hit = records.filter((pl.col("id_class") == cls) & pl.col("citizen_id").is_not_null()).join(
            ids, on="citizen_id", how="inner"
        )
        parts.append(_links(hit, cls))
    return _first_wins(parts)


def deterministic_organisation_links(records: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """Links of organisation records by valid USCC, organisation code or legacy number.

    `records` and `spine` are in :data:`linkage.spine.ORGANISATION_COLUMNS`. Returns one row
    per linked record: ``unique_id``, ``spine_id``, ``method``, ``matched_on``.
    """
    cls = pl.col("id_class")
    uscc = records.filter((cls == "uscc") & pl.col("uscc").is_not_null()).join(
        spine.select(pl.col("unique_id").alias("spine_id"), "uscc"), on="uscc", how="inner"
    )
    org_code = records.filter(cls == "organisation_code").join(
        _unique_key(spine, "org_code"), on="org_code", how="inner"
    )
    fifteen = records.filter(cls.is_in(_FIFTEEN)).select(
        "unique_id", pl.col("id_norm").alias("_n15"), "org_code"
    )
    by_reg = fifteen.join(
        _unique_key(spine, "legacy_registration_no").rename({"legacy_registration_no": "_n15"}),
        on="_n15",
        how="inner",
    )
    by_tax = fifteen.join(
        _unique_key(spine, "legacy_tax_no").rename({"legacy_tax_no": "_n15"}),
        on="_n15",
        how="inner",
    )
    tax_code = records.filter(cls == "legacy_tax_no").join(
        _unique_key(spine, "org_code"), on="org_code", how="inner"
    )
    return _first_wins(
        [
            _links(uscc, "uscc"),
            _links(org_code, "organisation_code"),
            _links(by_reg, "legacy_registration_no"),
            _links(by_tax, "legacy_tax_no"),
            _links(tax_code, "legacy_tax_no_org_code"),
        ]
    )


#: Identifier classes whose records never go to the person model: a passport number marks a
#: foreign national, who is in no Chinese registry (DOMAIN.md, "Identifiers"); linking one on
#: name and birth year alone would put a foreigner's listing on a citizen.
NEVER_MODELLED: dict[str, tuple[str, ...]] = {"person": ("passport",), "organisation": ()}


#: The columns of the identifier conflicts of :func:`deterministic_pass`.
CONFLICT_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "conflict_code": pl.String(),  # the identifier's registry holder
    "conflict_on": pl.String(),  # the identifier kind (a matched_on value)
    "conflict_name_agreement": pl.String(),  # how the holder's name compares
}

#: The fields of a record that come from its identifier: set aside (null) when the identifier
#: is disputed, so that the model scores the record on its other fields.
DISPUTED_FIELDS: dict[str, tuple[str, ...]] = {
    "person": ("id_norm", "citizen_id", "birth_date", "birth_ymd", "birth_year", "id_region",
               "id_tail"),
    "organisation": ("id_norm", "uscc", "org_code", "legacy_registration_no", "legacy_tax_no",
                     "region", "entity_type"),
}  # fmt: skip


def namesakes(spine: pl.DataFrame, subject_type: str) -> pl.DataFrame:
    """Spine entries (``unique_id``) that share their name (and, for persons, their birth
    date) with another entry: the name cannot tell them apart, only the number can."""
    key = ["name", "birth_ymd"] if subject_type == "person" else ["name"]
    return derived(
        spine,
        f"namesakes:{subject_type}",
        lambda: spine.filter(
            pl.all_horizontal([pl.col(k).is_not_null() for k in key])
            & pl.struct(key).is_duplicated()
        ).select("unique_id"),
    )


class DeterministicPass(NamedTuple):
    """What :func:`deterministic_pass` returns."""

    #: linked records: ``unique_id``, ``spine_id``, ``method``, ``matched_on``,
    #: ``name_agreement``, ``evidence``
    links: pl.DataFrame
    #: records left for the model (conflicts included, with their disputed fields null)
    to_model: pl.DataFrame
    #: records of a class never modelled (passports)
    never: pl.DataFrame
    #: one row per identifier conflict (:data:`CONFLICT_COLUMNS`)
    conflicts: pl.DataFrame


def deterministic_pass(
    records: pl.DataFrame,
    spine: pl.DataFrame,
    subject_type: str,
    policy: EvidencePolicy | None = None,
) -> DeterministicPass:
    """Split `records` into deterministic links, records for the model, records never linked
    and identifier conflicts (see the module doc).

    A record whose identifier names a registry entry is linked when that entry's name agrees
    with the record's by the `policy`'s default rule (default: the reviewed policy file);
    otherwise it is a conflict, and goes to the model with :data:`DISPUTED_FIELDS` null.
    Records of a class in :data:`NEVER_MODELLED` go to neither.
    """
    if subject_type == "person":
        found = deterministic_person_links(records, spine)
    elif subject_type == "organisation":
        found = deterministic_organisation_links(records, spine)
    else:
        raise ValueError(f"subject_type must be 'person' or 'organisation', got {subject_type!r}")
    rule = (policy or load_policy()).rule(subject_type)
    found = assess(found, records, spine, subject_type)
    found = found.with_columns(
        pl.col("spine_id").is_in(namesakes(spine, subject_type)["unique_id"].implode())
        .alias("_namesake")
    )  # fmt: skip
    name_ok = pl.col("name_agreement").is_in(list(rule.name))
    agrees = name_ok & ~pl.col("_namesake")
    links = found.filter(agrees).drop("_namesake")
    conflicts = found.filter(~agrees).select(
        "unique_id",
        pl.col("spine_id").alias("conflict_code"),
        pl.col("matched_on").alias("conflict_on"),
        pl.when(pl.col("_namesake") & name_ok)
        .then(pl.lit("namesake"))
        .otherwise("name_agreement")
        .alias("conflict_name_agreement"),
    )
    rest = records.join(links.select("unique_id"), on="unique_id", how="anti")
    disputed = rest["unique_id"].is_in(conflicts["unique_id"].implode())
    rest = rest.with_columns(
        pl.when(pl.lit(disputed)).then(pl.lit(None)).otherwise(pl.col(c)).alias(c)
        for c in DISPUTED_FIELDS[subject_type]
    )
    never = pl.col("id_class").is_in(NEVER_MODELLED[subject_type]).fill_null(False)
    return DeterministicPass(links, rest.filter(~never), rest.filter(never), conflicts)
