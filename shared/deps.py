"""FastAPI dependencies the services' routes share: the objects an app factory put on
`app.state`, the process runtime and the agency's known clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from shared.known_clients import KnownClients
from shared.runtime import Runtime, get_runtime


def app_state(name: str) -> Callable[[Request], Any]:
    """A dependency answering `app.state.<name>`, which the service's app factory set (use it
    in an `Annotated[Type, Depends(app_state(name))]` alias, so routes see the type)."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = get.__qualname__ = f"get_{name}"
    return get


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Known = Annotated[KnownClients, Depends(app_state("known"))]
