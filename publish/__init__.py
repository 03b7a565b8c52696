"""Publishing: joint-punishment memoranda applied to linked agency listings.

Memoranda are reviewed files (:mod:`publish.memoranda`); source lists are read from the lake
(:mod:`publish.listings`); the rules make restrictions (:mod:`publish.rules`), every change is
recorded (:mod:`publish.history`), and the warehouse is written atomically
(:mod:`publish.warehouse`) after holding each table to its contract
(:mod:`publish.contracts`). :func:`publish.stage.run_publish` runs it all;
:mod:`publish.explain` prints one subject's credit record.
"""
