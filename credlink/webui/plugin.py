"""The Airflow plugin: credlink's pages in Airflow's API server and the UI's navigation.

Airflow finds :class:`CredlinkPlugin` through the ``airflow.plugins`` entry point of the
package (``credlink = "credlink.webui.plugin:CredlinkPlugin"``). It mounts the FastAPI app of
:mod:`credlink.webui.app` at :data:`URL_PREFIX` and adds two navigation entries (``external_views``
with ``destination='nav'``, rendered by the UI in an iframe; ``href`` is relative, without a
leading slash, so a UI served under a base path finds them too). Python changes to the plugin
need an API server restart.

Every Airflow process loads plugins (the scheduler and the DAG processor too), so importing this
module stays cheap: the app imports FastAPI and Jinja2 only; the lake, Polars and the linkage
code are imported by the endpoints when they are called.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from credlink.webui.app import URL_PREFIX, app

__all__ = ["EXTERNAL_VIEWS", "FASTAPI_APPS", "CredlinkPlugin"]


#: The app mounted in the API server (``/credlink/...``).
FASTAPI_APPS: list[dict[str, Any]] = [{"app": app, "url_prefix": URL_PREFIX, "name": "credlink"}]
#: The navigation entries: both pages as links of the UI's navigation bar itself (an entry
#: without a category is shown there; reviewers live in the workbench).
EXTERNAL_VIEWS: list[dict[str, Any]] = [
    {
        "name": "Review workbench",
        "href": f"{URL_PREFIX.lstrip('/')}/review",
        "destination": "nav",
        "nav_top_level": True,
        "url_route": "credlink-review",
    },
    {
        "name": "Linkage and subjects",
        "href": f"{URL_PREFIX.lstrip('/')}/platform",
        "destination": "nav",
        "url_route": "credlink-platform",
    },
]


class CredlinkPlugin(AirflowPlugin):
    """The review workbench and the platform pages (quality, backlog, subjects)."""

    name = "credlink"
    fastapi_apps = FASTAPI_APPS
    external_views = EXTERNAL_VIEWS
