"""
### train_linkage_models — train new versions of the linkage models (manual)

Trigger by hand (Airflow UI, or `airflow dags trigger train_linkage_models`) after the
registries or agency data changed a lot. For each subject type
(person, organisation) it trains the reviewed settings `linkage/models/<subject>.json` on the
staged records the deterministic pass leaves (u by random sampling, m by EM) and writes a new
model file `linkage/models/<subject>-<yyyymmdd>-<hash>.json` (date: the run's logical date)
with its charts (match weights, m and u) as offline HTML under `data/linkage/charts/<version>/`.
The next `link_credit_codes` run uses the newest model and records its version.
**Review the new files before committing them.**
"""

from credlink.orchestration.linkage_dag import train_dag

dag = train_dag("train_linkage_models", doc_md=__doc__)
