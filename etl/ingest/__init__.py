"""Ingestion: extract a source table's interval, standardise, validate, stage or quarantine."""
