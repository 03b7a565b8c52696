"""Explain one candidate pair to a reviewer: Splink's waterfall chart, as offline HTML.

The pair is scored again with the same model, term frequencies and prior as in
:func:`linkage.engine.link` (the whole spine gives the term frequencies and the prior), and
Splink's waterfall chart shows how each comparison moves the match weight. The chart library
is inlined in the file: it opens without network access.

Example:
    >>> waterfall_html(record, spine, "110101198001010013", model_path,
    ...                Path("review/courts-SXBZXR-7.html"))                 # doctest: +SKIP
    PosixPath('review/courts-SXBZXR-7.html')
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from credlink.linkage.engine import RECORDS, SPINE, prepare_tables, tf_table
from credlink.linkage.model import LinkageModel, ModelError, load_model

__all__ = ["waterfall_html"]


def waterfall_html(
    record: pl.DataFrame,
    spine: pl.DataFrame,
    candidate_code: object,
    model: Path | str | LinkageModel,
    out: Path,
) -> Path:
    """Write the waterfall chart of (the one row of `record`, spine entry `candidate_code`)
    under `model` to `out` (self-contained HTML); returns `out`. The spine entry is the one
    whose id (the model's ``unique_id_column_name``, any type) is `candidate_code`.

    Raises :class:`~linkage.model.ModelError` when the candidate is not in the spine.
    """
    from splink import DuckDBAPI, Linker

    m = model if isinstance(model, LinkageModel) else load_model(model)
    recs, spn = prepare_tables(record, spine, m)
    uid = m.unique_id_column
    # the id as the caller wrote it, whatever type the prepared spine holds it in
    one = spn.filter(pl.col(uid).cast(pl.String) == str(candidate_code))
    if one.is_empty():
        raise ModelError(f"candidate {candidate_code!r} is not in the spine")
    db = DuckDBAPI()
    db.duckdb_con.execute("SET autoinstall_known_extensions = false")
    settings = m.splink_settings(
        probability_two_random_records_match=min(m.meta.linkable_share / spn.height, 0.5),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        # the one pair, whatever the blocking rules would have said
        blocking_rules_to_generate_predictions=["1=1"],
    )
    linker = Linker(
        [
            db.register(recs.head(1).to_arrow(), dataset_display_name=RECORDS),
            db.register(one.to_arrow(), dataset_display_name=SPINE),
        ],
        settings,
        log_level=logging.WARNING,
    )
    for col in m.tf_columns:
        tf = db.register(tf_table(spn, col), table_name=f"credlink_tf_{col}")
        linker.table_management.register_term_frequency_lookup(tf, col)
    pairs = linker.inference.predict(warning_mode="never").as_record_list()
    chart = linker.visualisations.waterfall_chart(pairs, filter_nulls=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    chart.save(str(out), inline=True)
    return out
