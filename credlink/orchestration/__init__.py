"""Airflow glue: DAG builders and the code tasks run. The only package importing Airflow;
`etl/` and `linkage/` stay free of Airflow types."""
