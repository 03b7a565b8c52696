"""Joint incentives (联合激励): red lists x incentive memoranda -> incentives, their history, and
per-agency incentive lists.

An incentive memorandum is a reviewed file in ``schemas/incentives/`` in the format of a
punishment memorandum (:mod:`publish.memoranda`) with ``kind: incentive``: which red list
grants it (a list of ``kind: red`` in the conform mappings, e.g. ``tax_grade_a``, the grade A
taxpayers), the measures (each with its clause, text and enforcing agency) and how long they
last. :func:`load_incentives` refuses, naming the file and the field, a file that is not
``kind: incentive`` or that targets a black list; a punishment memorandum may in turn target
no red list (:mod:`publish.memoranda`).

The incentives are computed as the restrictions are, by the same three steps of
:mod:`publish.rules` (:func:`~publish.rules.triggers`, :func:`~publish.rules.targeted`,
:func:`~publish.rules.restrictions`) and the same history (:func:`publish.history.changes`),
with one rule more: **a subject on any blacklist receives no incentive** (the ``blacklisted``
codes of the run, e.g. :func:`blacklisted_subjects`). Its incentives in force end on the run's
day (``revoked``, reason ``blacklisted``); one it would newly receive is not granted and the
history says so once (``withheld``, reason ``blacklisted``) until it is granted after all.

:func:`incentive_tables` (pure, no I/O) gives, for one publish run:

``publish.incentives``          one row per subject per memorandum per measure in force, with
                                provenance (the listing records, link methods, the weakest
                                link), as ``publish.restrictions``
``publish.incentive_history``   every change, with the run that made it (the whole history),
                                as ``publish.restriction_history``: ``granted``, ``extended``,
                                ``shortened``, ``amended``, ``expired``, ``revoked`` (ended
                                early: ``blacklisted``, ``unlinked``, a removal), ``withheld``
``incentive.<agency>``          per enforcing agency: who receives which measure, from when to
                                when; nothing of the basis (as ``enforce.<agency>``)

Example:
    >>> incentives = load_incentives()
    >>> [m.id for m in incentives]
    ['tax_grade_a_2016']
    >>> out = incentive_tables(listings, links, incentives, legal_reps=reps,
    ...                        blacklisted=blacklisted_subjects(listings, links, day),
    ...                        history=history, run_id="r1", as_of=day, seq=1)  # doctest: +SKIP
    >>> sorted(out.by_agency)                                              # doctest: +SKIP
    ['customs', 'finance', 'financial_regulator', 'honours', 'market_regulator', 'ndrc', 'tax']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from credlink.etl.catalog import columns, conform
from credlink.etl.contracts import SCHEMAS_DIR
from credlink.linkage.evidence import EvidencePolicy
from credlink.publish.history import changes, latest_state
from credlink.publish.listings import LISTS, SourceList
from credlink.publish.memoranda import Memorandum, MemorandumError, load_memorandum
from credlink.publish.rules import agency_rows, restrictions, targeted, triggers

__all__ = [
    "BLACKLISTED",
    "INCENTIVES_DIR",
    "INCENTIVE_COLUMNS",
    "INCENTIVE_HISTORY_COLUMNS",
    "IncentiveError",
    "IncentiveTables",
    "blacklisted_subjects",
    "incentive_tables",
    "load_incentive",
    "load_incentives",
]

INCENTIVES_DIR = SCHEMAS_DIR / "incentives"

#: ``publish.incentives`` (with the run columns).
INCENTIVE_COLUMNS = columns("publish.incentives")
#: ``publish.incentive_history``: one row per change of an incentive.
INCENTIVE_HISTORY_COLUMNS = columns("publish.incentive_history")
#: ``incentive.<agency>``.
AGENCY_COLUMNS = columns("incentive.*")

#: The reason an incentive ends, or is not granted, for a subject on a blacklist.
BLACKLISTED = "blacklisted"

#: The history's change names for an incentive, where a restriction's would mislead.
_CHANGE_NAMES = {"imposed": "granted", "lifted": "revoked"}


class IncentiveError(MemorandumError):
    """An incentive memorandum file is malformed; the message names the file and the field."""


def load_incentive(path: Path, lists: Mapping[str, SourceList] | None = None) -> Memorandum:
    """Parse and validate one incentive memorandum file (:func:`publish.memoranda.
    load_memorandum`'s rules, then: ``kind: incentive``, every target a red list of `lists`,
    default the catalog :data:`publish.listings.LISTS`); errors name the file and the field.

    Example: ``load_incentive(INCENTIVES_DIR / "tax_grade_a_2016.yaml").targets[0].list`` is
    'tax_grade_a'.
    """
    memo = load_memorandum(path)
    catalog = LISTS if lists is None else lists
    problems = []
    kind = getattr(memo, "kind", "punishment")
    if kind != "incentive":
        problems.append(
            f"kind: {kind!r}: a file of {path.parent.name}/ is an incentive memorandum "
            "(kind: incentive); punishment memoranda live in schemas/memoranda/"
        )
    for i, target in enumerate(memo.targets):
        spec = catalog.get(target.list)
        list_kind = spec.kind if spec is not None else None
        if list_kind != "red":
            problems.append(
                f"targets.{i}.list: {target.list!r} is a {list_kind} list; an incentive "
                "memorandum targets red lists only (a list of kind: red in schemas/conform/)"
            )
    if problems:
        raise IncentiveError("\n".join([f"{path}: invalid incentive memorandum", *problems]))
    return memo


def load_incentives(
    directory: Path = INCENTIVES_DIR, lists: Mapping[str, SourceList] | None = None
) -> list[Memorandum]:
    """Every incentive memorandum in `directory` (``*.yaml``, :func:`load_incentive`), sorted
    by id (none when the folder is absent)."""
    return sorted(
        (load_incentive(p, lists) for p in sorted(directory.glob("*.yaml"))), key=lambda m: m.id
    )


@dataclass(frozen=True)
class IncentiveTables:
    """The incentive tables of one run."""

    #: ``publish.incentives``: in force on the run's day
    incentives: pl.DataFrame
    #: ``publish.incentive_history``: the whole history after the run
    history: pl.DataFrame
    #: agency code -> its list (the warehouse table ``incentive.<agency>``)
    by_agency: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: the :func:`publish.rules.targeted` rows behind them (a blacklisted subject's ended on
    #: the run's day with reason ``blacklisted``), for explanations
    bound: pl.DataFrame | None = None

    def tables(self) -> dict[str, pl.DataFrame]:
        """The warehouse tables by name: ``publish.incentives``, ``publish.incentive_history``,
        ``incentive.<agency>``."""
        out = {"publish.incentives": self.incentives,
               "publish.incentive_history": self.history}  # fmt: skip
        out.update({f"incentive.{a}": f for a, f in self.by_agency.items()})
        return out


def blacklisted_subjects(
    listings: Mapping[str, pl.DataFrame],
    links: pl.DataFrame,
    as_of: date,
    lists: Mapping[str, SourceList] | None = None,
) -> pl.DataFrame:
    """The subjects (``credit_code``) on a blacklist on `as_of`: linked (accept band) to a
    listing of a black list published by then and neither removed nor past its own end.

    A run also counts the subjects its restrictions bind (a listed organisation's legal
    representative): ``pl.concat([blacklisted_subjects(...), restrictions.select("credit_code")])``.
    """
    catalog = LISTS if lists is None else lists
    day = pl.lit(as_of)
    live = []
    for list_id, frame in listings.items():
        spec = catalog.get(list_id)
        if spec is None or spec.kind != "black" or frame.is_empty():
            continue
        live.append(
            frame.filter(
                (pl.col("listed_on") <= day)
                & (pl.col("removed_on").is_null() | (pl.col("removed_on") > day))
                & (pl.col("ends_on").is_null() | (pl.col("ends_on") > day))
            ).select("unique_id")
        )
    if not live or links.is_empty():
        return pl.DataFrame(schema={"credit_code": pl.String()})
    accepted = links.filter((pl.col("band") == "accept") & pl.col("credit_code").is_not_null())
    return (
        pl.concat(live)
        .join(accepted.select("unique_id", "credit_code"), on="unique_id", how="inner")
        .select(pl.col("credit_code").cast(pl.String))
        .unique()
        .sort("credit_code")
    )


def _as_restriction_ids(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({"incentive_id": "restriction_id"}) if "incentive_id" in frame else frame


def _withhold(bound: pl.DataFrame, codes: pl.Series, as_of: date) -> pl.DataFrame:
    """`bound` with the live rows of blacklisted subjects ended on `as_of` (reason
    :data:`BLACKLISTED`): they bind no one, and the history says why."""
    hit = pl.col("target_code").is_in(codes.implode()) & pl.col("trigger_status").is_in(
        ["active", "pending", "under_objection"]
    )
    return bound.with_columns(
        pl.when(hit).then(pl.lit("ended")).otherwise("trigger_status").alias("trigger_status"),
        pl.when(hit).then(pl.lit(as_of)).otherwise("end").alias("end"),
        pl.when(hit).then(pl.lit(BLACKLISTED)).otherwise("end_reason").alias("end_reason"),
    )


def _withheld(
    would: pl.DataFrame, previous: pl.DataFrame, *, run_id: str, as_of: date, seq: int
) -> pl.DataFrame:
    """History rows for the incentives `would` (:func:`publish.rules.restrictions` rows) that a
    blacklisted subject is not granted: once, unless the latest recorded state already says
    so (ended or withheld for the blacklist); one in force is revoked by
    :func:`publish.history.changes` instead."""
    said = previous.filter(
        pl.col("status").is_in(["active", "pending", "under_objection"])
        | (pl.col("reason") == BLACKLISTED)
    ).select("restriction_id")
    rows = would.join(said, on="restriction_id", how="anti")
    return rows.select(
        pl.col("restriction_id").alias("incentive_id"),
        "credit_code",
        "subject_type",
        "memorandum_id",
        "measure_id",
        "enforcing_agency",
        pl.lit("withheld").alias("change"),
        pl.lit("withheld").alias("status"),
        "valid_from",
        "valid_to",
        pl.lit(BLACKLISTED).alias("reason"),
        "listing_records",
        pl.lit(run_id).alias("run_id"),
        pl.lit(as_of).alias("as_of"),
        pl.lit(seq).alias("seq"),
    )


def _by_agency(
    current: pl.DataFrame,
    incentives: Sequence[Memorandum],
    registry: pl.DataFrame | None,
) -> dict[str, pl.DataFrame]:
    text = pl.DataFrame(
        [(x.id, x.text) for m in incentives for x in m.measures],
        schema={"measure_id": pl.String, "measure": pl.String},
        orient="row",
    ).unique("measure_id", keep="first")
    names = (
        registry.select(pl.col("credit_code").cast(pl.String), pl.col("name").cast(pl.String))
        if registry is not None
        else pl.DataFrame(schema={"credit_code": pl.String, "name": pl.String})
    ).unique("credit_code", keep="first")
    out = {}
    for agency in sorted({x.enforcing_agency for m in incentives for x in m.measures}):
        merged = agency_rows(current, agency)
        frame = merged.join(names, on="credit_code", how="left").join(
            text, on="measure_id", how="left"
        )
        out[agency] = conform(frame, AGENCY_COLUMNS).sort("credit_code", "measure_id")
    return out


def incentive_tables(
    listings: Mapping[str, pl.DataFrame],
    links: pl.DataFrame,
    incentives: Sequence[Memorandum],
    *,
    legal_reps: pl.DataFrame,
    blacklisted: pl.DataFrame,
    history: pl.DataFrame,
    run_id: str,
    as_of: date,
    seq: int,
    registry: pl.DataFrame | None = None,
    policy: EvidencePolicy | None = None,
) -> IncentiveTables:
    """The incentive tables of one run (see the module doc); pure, no I/O.

    `listings` and `links` as for :func:`publish.rules.triggers` (the red lists' listings are
    the ones the incentive memoranda target; other lists are ignored); `incentives` the
    incentive memoranda (:func:`load_incentives`); `legal_reps` as for
    :func:`publish.rules.targeted`; `blacklisted` the subjects (``credit_code``) on any
    blacklist on `as_of`, who receive no incentive; `history` the incentive history recorded
    before (``publish.incentive_history``; rows of `run_id` are replaced: a re-run); `seq` the
    run's order (the publish run's); `registry` names for the agencies' lists (``credit_code``,
    ``name``; none: null names); `policy` the identity-evidence policy (default: the reviewed
    file, as :func:`publish.rules.targeted`).
    """
    trig = triggers(listings, links, incentives, as_of)
    bound = targeted(trig, incentives, legal_reps, policy)
    codes = blacklisted["credit_code"].cast(pl.String).drop_nulls().unique()
    would = restrictions(bound.filter(pl.col("target_code").is_in(codes.implode())))
    bound = _withhold(bound, codes, as_of)
    in_force = restrictions(bound)

    recorded = _as_restriction_ids(conform(history, INCENTIVE_HISTORY_COLUMNS))
    before = latest_state(recorded.filter((pl.col("run_id") != run_id) & (pl.col("seq") < seq)))
    made = changes(before, in_force, bound, run_id=run_id, as_of=as_of, seq=seq)
    made = made.with_columns(pl.col("change").replace(_CHANGE_NAMES).alias("change")).rename(
        {"restriction_id": "incentive_id"}
    )
    made = pl.concat(
        [
            conform(made, INCENTIVE_HISTORY_COLUMNS),
            conform(_withheld(would, before, run_id=run_id, as_of=as_of, seq=seq),
                    INCENTIVE_HISTORY_COLUMNS),
        ]
    )  # fmt: skip
    whole = pl.concat(
        [conform(history, INCENTIVE_HISTORY_COLUMNS).filter(pl.col("run_id") != run_id), made]
    ).sort("seq", "incentive_id", maintain_order=True)

    current = conform(
        in_force.rename({"restriction_id": "incentive_id"}).with_columns(
            pl.lit(run_id).alias("run_id"), pl.lit(as_of).alias("as_of")
        ),
        INCENTIVE_COLUMNS,
    )
    return IncentiveTables(
        incentives=current,
        history=whole,
        by_agency=_by_agency(current, incentives, registry),
        bound=bound,
    )
