"""Who is calling, and may they decide: every endpoint's Airflow identity and the reviewer role.

FastAPI apps of a plugin are mounted in Airflow's API server but **not** protected by its login:
each endpoint of :mod:`credlink.webui.app` depends on :func:`caller` (any page) or
:func:`reviewer` (deciding, triggering a linkage run). The identity is Airflow's own: the JWT of
the ``Authorization: Bearer`` header, else the UI's ``_token`` cookie, checked by the configured
auth manager exactly as the core REST API checks it
(``airflow.api_fastapi.core_api.security.get_user``). No identity, or a token that is invalid,
expired or revoked: **401**. An identity without the right: **403**.

Who may do what (docs/review.md):

- **see** the workbench and the platform pages: whoever the auth manager lets see the custom view
  :data:`RESOURCE` (``is_authorized_custom_view(method="GET")``; every logged-in role of the
  simple auth manager);
- **decide** (and ask for a linkage run now): the reviewer role. With the simple auth manager
  (the embedded default), whose roles are fixed, that is :data:`REVIEWER_ROLES` (``op`` and
  ``admin``; ``viewer`` and ``user`` may only look): set a user's role in
  ``[core] simple_auth_manager_users`` (``li:op``). With any other auth manager (FAB, Keycloak:
  what a real deployment runs), the permission ``POST`` on the custom view :data:`RESOURCE`,
  granted to a role in that manager's own administration, like any other Airflow permission.

Example:
    >>> @app.get("/x")                                                    # doctest: +SKIP
    ... def page(who: Caller = Depends(caller)) -> str: return who.name
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

__all__ = ["RESOURCE", "REVIEWER_ROLES", "Caller", "caller", "may_review", "reviewer"]

#: The custom view the auth manager is asked about (a role is granted GET to see, POST to
#: decide, in an auth manager with configurable permissions).
RESOURCE = "credlink-review"
#: The simple auth manager's roles that may decide.
REVIEWER_ROLES = frozenset({"op", "admin"})


@dataclass(frozen=True)
class Caller:
    """The Airflow user of a request: name, role (simple auth manager; None otherwise), whether
    they may decide, and the token they came with (to call Airflow's REST API on their behalf)."""

    name: str
    role: str | None
    may_review: bool
    token: str | None


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


def may_review(user: Any) -> bool:
    """Whether the Airflow `user` holds the reviewer role (see the module doc)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    if isinstance(user, SimpleAuthManagerUser):
        return (user.role or "").lower() in REVIEWER_ROLES
    manager = get_auth_manager()
    return bool(manager.is_authorized_custom_view(method="POST", resource_name=RESOURCE, user=user))


async def caller(request: Request) -> Caller:
    """The request's Airflow identity (401 without a valid one; 403 when the auth manager does
    not let the user see the custom view :data:`RESOURCE`)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPBearer

    token = _token_of(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not logged in to Airflow: log in to the Airflow UI (or send an API token as "
            "'Authorization: Bearer ...', from POST /auth/token)",
        )
    credentials = await HTTPBearer(auto_error=False)(request)
    try:
        user = await get_user(request, None, credentials)
    except HTTPException as exc:
        # Airflow answers 403 for an invalid token; for us it is no identity at all.
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"the Airflow login is not valid ({exc.detail}): log in to the Airflow UI again",
        ) from exc
    manager = get_auth_manager()
    if not manager.is_authorized_custom_view(method="GET", resource_name=RESOURCE, user=user):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{user.get_name()} may not see the review workbench (custom view {RESOURCE!r})",
        )
    return Caller(
        name=str(user.get_name()),
        role=getattr(user, "role", None),
        may_review=may_review(user),
        token=token,
    )


async def reviewer(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
    """The caller if they hold the reviewer role, else 403 naming what they lack. A browser's
    form posted from another site is refused too (its ``Origin`` is not this server's): the
    UI's cookie is ``SameSite=Lax`` already; this keeps it so behind any proxy setting."""
    origin = request.headers.get("origin")
    if origin:
        from urllib.parse import urlsplit

        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a decision posted from another site ({origin[:80]}) is refused",
            )
    if not who.may_review:
        role = f" (role {who.role})" if who.role else ""
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{who.name}{role} may look but not decide: deciding needs the reviewer role "
            f"(simple auth manager: role {' or '.join(sorted(REVIEWER_ROLES))}; other auth "
            f"managers: POST on the custom view {RESOURCE!r}); see docs/review.md",
        )
    return who
