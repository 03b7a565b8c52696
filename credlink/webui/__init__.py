"""The review workbench and the platform's own pages inside Airflow's web UI.

An Airflow 3 plugin (:mod:`credlink.webui.plugin`, registered by the ``airflow.plugins``
entry point in ``pyproject.toml``) mounts a FastAPI app (:mod:`credlink.webui.app`) under
``/credlink`` in Airflow's API server and adds entries to the UI's navigation, rendered in an
iframe: no second server, no second password. Every endpoint checks the caller's Airflow
identity (:mod:`credlink.webui.auth`); deciding needs the reviewer role. The pages are
server-rendered Jinja2 templates shipped in ``templates/``; no script or style is loaded from
anywhere else. See docs/review.md.
"""
