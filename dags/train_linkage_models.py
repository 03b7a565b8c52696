"""
### train_linkage_models — train new versions of the linkage models (manual)

Trigger by hand (Airflow UI, or `airflow dags trigger train_linkage_models`) after the
registries or agency data changed a lot. For each subject type
(person, organisation) it trains the reviewed settings `linkage/models/<subject>.json` on the
staged records the deterministic pass leaves (u by random sampling, m by EM) and writes a new
model file `data/linkage/models/<subject>-<yyyymmdd>-<hash>.json` (date: the run's logical
date; a work folder git ignores, never the tracked `linkage/models/`) with its charts (match
weights, m and u) as offline HTML under `data/linkage/charts/<version>/`.
Linkage keeps using the production model until a reviewer promotes the new file:
**review it, then `credlink models promote FILE`** (the next `link_credit_codes` run uses it and
records its version).
"""

from credlink.orchestration.linkage_dag import train_dag

dag = train_dag("train_linkage_models", doc_md=__doc__)
