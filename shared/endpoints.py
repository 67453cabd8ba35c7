"""Where the operator tools find the servers: the addresses `deploy/local/stack.py` gives the
services, read from the same env (explicit address first, then the dev stack's port overrides),
so a CLI command reaches whatever stack the operator started."""

from __future__ import annotations

import os
from collections.abc import Mapping

DEV_KAFKA_PORT = 19092
DEV_MONGO_PORT = 27817
# deploy/local/stack.SERVICES, in order: the dev stack serves them on 8101, 8102, ...
SERVICE_PORTS = {"calendar": 8101, "metrics": 8102, "budget": 8103, "audit": 8104}


class UnreachableError(RuntimeError):
    """A server could not be reached; the message names it, its address and the env to set."""

    def __init__(self, server: str, address: str, hint: str, cause: object = None) -> None:
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        super().__init__(f"cannot reach {server} at {address}{detail}; {hint}")
        self.server = server
        self.address = address


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{name}={raw!r} is not a port number (1-65535)")
    return port


def kafka_bootstrap(env: Mapping[str, str] | None = None) -> str:
    """`KAFKA_BOOTSTRAP_SERVERS`, else the dev stack's broker (`SOCIALOPS_KAFKA_PORT`)."""
    e = _env(env)
    return e.get("KAFKA_BOOTSTRAP_SERVERS") or (
        f"127.0.0.1:{_port(e, 'SOCIALOPS_KAFKA_PORT', DEV_KAFKA_PORT)}"
    )


def mongodb_uri(env: Mapping[str, str] | None = None) -> str:
    """`MONGODB_URI`, else the dev stack's database (`SOCIALOPS_MONGO_PORT`)."""
    e = _env(env)
    return e.get("MONGODB_URI") or (
        f"mongodb://127.0.0.1:{_port(e, 'SOCIALOPS_MONGO_PORT', DEV_MONGO_PORT)}"
        "/?directConnection=true"
    )


def service_url(service: str, env: Mapping[str, str] | None = None) -> str:
    """`<SERVICE>_URL`, else the dev stack's service port (`<SERVICE>_PORT`)."""
    e = _env(env)
    name = service.upper()
    return e.get(f"{name}_URL") or (
        f"http://127.0.0.1:{_port(e, f'{name}_PORT', SERVICE_PORTS[service])}"
    )


KAFKA_HINT = "start the stack (make up) or set KAFKA_BOOTSTRAP_SERVERS / SOCIALOPS_KAFKA_PORT"
MONGO_HINT = "start the stack (make up) or set MONGODB_URI / SOCIALOPS_MONGO_PORT"
