"""Local infrastructure for SocialOps: a real Kafka broker, a MongoDB-wire server and the services.

`python -m deploy.local.stack up|down|status|infra` starts and stops processes by PID under a
git-ignored state folder. `KAFKA_BOOTSTRAP_SERVERS` / `MONGODB_URI` switch to external servers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer

from shared.secrets import mask_uri

REPO = Path(__file__).resolve().parents[2]
KAFKA_POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
SERVICES = ("calendar", "metrics", "budget", "audit")
SECANTUS_BIN = Path(sys.executable).parent / "secantusd-py"


@dataclass(frozen=True)
class Profile:
    """Where one stack keeps its state and which ports it uses (the demo and tests differ)."""

    name: str
    home: Path
    kafka_port: int
    mongo_port: int
    service_ports: dict[str, int] = field(default_factory=dict)

    @property
    def sandbox_port(self) -> int:
        """The sandbox platform's port: 8199 for dev, beside the mongo port otherwise."""
        default = 8199 if self.name == "dev" else self.mongo_port + 2
        return _port("SANDBOX_PORT", default)

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def kafka_bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return os.environ.get("MONGODB_URI") or (
            f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"
        )


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def profile(name: str = "dev") -> Profile:
    """The `dev` stack (make up, make demo) or the `test` stack (pytest), each with own ports."""
    base = Path(os.environ.get("SOCIALOPS_HOME", REPO / ".local"))
    if name == "test":
        return Profile(
            "test",
            base / "test",
            kafka_port=_port("SOCIALOPS_TEST_KAFKA_PORT", 29092),
            mongo_port=_port("SOCIALOPS_TEST_MONGO_PORT", 27818),
        )
    return Profile(
        "dev",
        base / "dev",
        kafka_port=_port("SOCIALOPS_KAFKA_PORT", 19092),
        mongo_port=_port("SOCIALOPS_MONGO_PORT", 27817),
        service_ports={
            svc: _port(f"{svc.upper()}_PORT", 8101 + i) for i, svc in enumerate(SERVICES)
        },
    )


class StackError(RuntimeError):
    """A process did not start or become ready; the message names it and its log."""


# --------------------------------------------------------------------------- processes


def _pid_file(p: Profile, name: str) -> Path:
    return p.run_dir / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def running_pid(p: Profile, name: str) -> int | None:
    """The PID recorded for `name` if that process still runs."""
    path = _pid_file(p, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    return pid if pid and _alive(pid) else None


def _spawn(p: Profile, name: str, cmd: list[str], env: dict[str, str] | None = None) -> int:
    p.run_dir.mkdir(parents=True, exist_ok=True)
    p.log_dir.mkdir(parents=True, exist_ok=True)
    log = open(p.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(  # noqa: S603 - commands are built here, not from input
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own process group, so `down` can stop it and its children
    )
    _pid_file(p, name).write_text(str(proc.pid))
    return proc.pid


def _stop(p: Profile, name: str, timeout: float = 15.0) -> bool:
    pid = running_pid(p, name)
    _pid_file(p, name).unlink(missing_ok=True)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.1)
    return True


def _wait(p: Profile, name: str, ready: callable, timeout: float) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        pid = running_pid(p, name)
        if pid is None:
            break
        time.sleep(0.2)
    log = p.log_dir / f"{name}.log"
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
    raise StackError(
        f"{name} did not become ready within {timeout:.0f}s; log: {log}\n" + "\n".join(tail)
    )


def _wait_bindable(port: int, timeout: float = 90.0) -> None:
    """Wait until `port` can be bound without SO_REUSEADDR, as SecantusDB binds it: for about
    a minute after a server on it stopped, the connections it closed hold the port in
    TIME_WAIT and its bind fails with 'Address already in use' (a benchmark run right after
    another one)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise StackError(f"port {port} stayed in use for {timeout:.0f}s") from None
        time.sleep(1.0)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- kafka


def kafka_lib() -> Path:
    """Download the Kafka broker jars from Maven Central once, into a git-ignored cache."""
    cache = Path(os.environ.get("SOCIALOPS_CACHE", REPO / ".local" / "cache"))
    lib = cache / "kafka-lib"
    marker = lib / ".complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StackError("Kafka needs Java 17+ and Maven on PATH (apt-get install maven)")
    typer.echo(f"[stack] downloading Apache Kafka jars from Maven Central into {lib} ...")
    lib.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn", "-B", "-ntp", f"-Dmaven.repo.local={cache / 'm2'}", "-f", str(KAFKA_POM),
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={lib}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603
    assert proc.stdout is not None
    for line in proc.stdout:  # progress: one line per artifact
        if "Downloaded from" in line or "Copying" in line or "ERROR" in line:
            typer.echo("  " + line.strip()[:140])
    if proc.wait() != 0:
        raise StackError("Maven could not download the Kafka jars (see output above)")
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    typer.echo(f"[stack] {len(list(lib.glob('*.jar')))} jars ready")
    return lib


LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.server.name = org.apache.kafka
logger.server.level = warn
"""


def _kafka_config(p: Profile, data: Path) -> str:
    cport = p.kafka_port + 1
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{p.kafka_port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{p.kafka_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.hours=24
# Many small topics (tests make a set per test): keep per-partition memory small
log.index.size.max.bytes=1048576
log.segment.bytes=67108864
"""


def start_kafka(p: Profile) -> str:
    """Start a single-node KRaft broker unless one runs or an external one is configured."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return p.kafka_bootstrap
    if running_pid(p, "kafka"):
        return p.kafka_bootstrap
    if _port_open("127.0.0.1", p.kafka_port):
        raise StackError(f"port {p.kafka_port} is taken; set SOCIALOPS_KAFKA_PORT")
    lib = kafka_lib()
    data = p.data_dir / "kafka"
    conf_dir = p.home / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    props = conf_dir / "kafka.properties"
    props.write_text(_kafka_config(p, data))
    (conf_dir / "log4j2.properties").write_text(LOG4J2)
    classpath = f"{lib}/*"
    if not (data / "meta.properties").exists():
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - java from PATH, like Kafka's own scripts
            [_java(), "-cp", classpath, "kafka.tools.StorageTool", "format", "--standalone",
             "-t", _kafka_cluster_id(classpath), "-c", str(props)],
            check=True, capture_output=True,
        )  # fmt: skip
    typer.echo(f"[stack] starting Kafka on 127.0.0.1:{p.kafka_port}")
    _spawn(
        p,
        "kafka",
        [_java(), "-Xmx1g", "-Xms256m", "-XX:+UseG1GC", "-cp", classpath,
         f"-Dlog4j2.configurationFile={conf_dir / 'log4j2.properties'}",
         "kafka.Kafka", str(props)],
    )  # fmt: skip
    _wait(p, "kafka", lambda: _kafka_ready(p), timeout=90)
    return p.kafka_bootstrap


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("Kafka needs Java 17+ on PATH (apt-get install openjdk-17-jre-headless)")
    return java


def _kafka_cluster_id(classpath: str) -> str:
    out = subprocess.run(  # noqa: S603 - java from PATH
        [_java(), "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def _kafka_ready(p: Profile) -> bool:
    if not _port_open("127.0.0.1", p.kafka_port):
        return False
    log = p.log_dir / "kafka.log"
    # The port opens before the broker can serve metadata; ask it for real.
    code = (
        "import asyncio\nfrom aiokafka.admin import AIOKafkaAdminClient\n"
        "async def m():\n"
        f"  a=AIOKafkaAdminClient(bootstrap_servers='{p.kafka_bootstrap}',"
        "request_timeout_ms=3000)\n"
        "  await a.start(); await a.list_topics(); await a.close()\n"
        "asyncio.run(m())\n"
    )
    ok = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], check=False, capture_output=True, timeout=20
    )
    return ok.returncode == 0 and log.exists()


# --------------------------------------------------------------------------- mongo


def start_mongo(p: Profile) -> str:
    """Start SecantusDB (MongoDB wire protocol) unless one runs or MONGODB_URI is set."""
    if os.environ.get("MONGODB_URI") or running_pid(p, "mongo"):
        return p.mongodb_uri
    if _port_open("127.0.0.1", p.mongo_port):
        raise StackError(f"port {p.mongo_port} is taken; set SOCIALOPS_MONGO_PORT")
    if not SECANTUS_BIN.exists():
        raise StackError(f"{SECANTUS_BIN} missing: run `make install`")
    data = p.data_dir / "mongo"
    data.mkdir(parents=True, exist_ok=True)
    _wait_bindable(p.mongo_port)
    typer.echo(f"[stack] starting SecantusDB (MongoDB wire) on 127.0.0.1:{p.mongo_port}")
    _spawn(
        p,
        "mongo",
        [str(SECANTUS_BIN), "--host", "127.0.0.1", "--port", str(p.mongo_port),
         "--storage-path", str(data), "--log-level", "WARNING",
         "--sync-on-commit"],  # journaled writes must survive a crash (see shared/mongo.py)
    )  # fmt: skip
    # a loaded machine has taken over 30 s to start it (a WiredTiger recovery of a large store)
    _wait(p, "mongo", lambda: _port_open("127.0.0.1", p.mongo_port), timeout=120)
    return p.mongodb_uri


# --------------------------------------------------------------------------- services


def service_env(p: Profile) -> dict[str, str]:
    """Environment every service process gets: where Kafka and MongoDB are."""
    return {"KAFKA_BOOTSTRAP_SERVERS": p.kafka_bootstrap, "MONGODB_URI": p.mongodb_uri}


def sandbox_url(p: Profile) -> str:
    """The sandbox social platform of this stack (deploy/local/sandbox_platform.py)."""
    return f"http://127.0.0.1:{p.sandbox_port}"


def start_sandbox(p: Profile) -> None:
    """Start the sandbox platform the calendar publishes to (issue 9), unless it runs."""
    if running_pid(p, "sandbox"):
        return
    if _port_open("127.0.0.1", p.sandbox_port):
        raise StackError(f"port {p.sandbox_port} for the sandbox is taken; set SANDBOX_PORT")
    typer.echo(f"[stack] starting the sandbox platform on {sandbox_url(p)}")
    cmd = [sys.executable, "-m", "deploy.local.sandbox_platform", "--port", str(p.sandbox_port)]
    _spawn(p, "sandbox", cmd)
    _wait(p, "sandbox", lambda: _http_ok(f"{sandbox_url(p)}/healthz"), timeout=15)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
            return bool(r.status == 200)
    except OSError:
        return False


def start_services(p: Profile) -> None:
    """Start the four services, then wait until each answers /readyz."""
    start_sandbox(p)
    env = service_env(p) | {"CALENDAR_PUBLISH_SANDBOX_URL": sandbox_url(p)}
    for svc in SERVICES:
        if running_pid(p, svc):
            continue
        port = p.service_ports[svc]
        if _port_open("127.0.0.1", port):
            raise StackError(f"port {port} for {svc} is taken; set {svc.upper()}_PORT")
        typer.echo(f"[stack] starting {svc} on http://127.0.0.1:{port}")
        _spawn(
            p,
            svc,
            [sys.executable, "-m", f"services.{svc}"],
            env={**env, f"{svc.upper()}_PORT": str(port), f"{svc.upper()}_HOST": "127.0.0.1"},
        )
    for svc in SERVICES:
        url = f"http://127.0.0.1:{p.service_ports[svc]}/readyz"
        _wait(p, svc, lambda url=url: _http_ok(url), timeout=60)
        typer.echo(f"[stack] {svc} ready")


# --------------------------------------------------------------------------- prometheus (issue 12)


def prometheus_port(p: Profile) -> int:
    """Where the dev stack's Prometheus listens (19090; PROMETHEUS_PORT overrides)."""
    return _port("PROMETHEUS_PORT", 19090)


def prometheus_config(p: Profile) -> str:
    """The dev stack's scrape config: each service as its own job, every 2 s, with the
    project's alert rules (deploy/prometheus/rules) loaded."""
    jobs = "".join(
        f"  - job_name: {svc}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        for svc, port in p.service_ports.items()
    )
    rules = REPO / "deploy" / "prometheus" / "rules" / "*.yml"
    return (
        "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n"
        f"rule_files:\n  - {rules}\nscrape_configs:\n{jobs}"
    )


def start_prometheus(p: Profile) -> None:
    """Start Debian's Prometheus scraping the services (skipped when it is not installed:
    `make install` installs it)."""
    binary = shutil.which("prometheus")
    if binary is None or p.name != "dev" or running_pid(p, "prometheus"):
        return
    port = prometheus_port(p)
    if _port_open("127.0.0.1", port):
        raise StackError(f"port {port} for Prometheus is taken; set PROMETHEUS_PORT")
    conf = p.home / "conf" / "prometheus.yml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(prometheus_config(p))
    typer.echo(f"[stack] starting Prometheus on http://127.0.0.1:{port} scraping "
               + ", ".join(f"{s}:{n}/metrics" for s, n in p.service_ports.items()))  # fmt: skip
    _spawn(p, "prometheus", [binary, f"--config.file={conf}",
                             f"--storage.tsdb.path={p.data_dir / 'prometheus'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                             "--storage.tsdb.retention.time=2d"])  # fmt: skip
    _wait(p, "prometheus", lambda: _http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=30)


def components(p: Profile) -> Iterator[tuple[str, str]]:
    """(name, address) of everything this profile may run."""
    yield "kafka", p.kafka_bootstrap
    yield "mongo", p.mongodb_uri
    for svc, port in p.service_ports.items():
        yield svc, f"http://127.0.0.1:{port}"
    yield "sandbox", sandbox_url(p)
    if p.name == "dev":
        yield "prometheus", f"http://127.0.0.1:{prometheus_port(p)}"


def up(p: Profile, *, with_services: bool = True) -> None:
    start_mongo(p)
    start_kafka(p)
    if with_services:
        start_services(p)
        start_prometheus(p)


def down(p: Profile) -> list[str]:
    """Stop what this profile started, services first, by PID; return what was stopped."""
    stopped = []
    for name in ("prometheus", *reversed(SERVICES), "sandbox", "kafka", "mongo"):
        if _stop(p, name):
            stopped.append(name)
    return stopped


# --------------------------------------------------------------------------- CLI

cli = typer.Typer(add_completion=False, help="Start and stop the local SocialOps stack.")


@cli.command("up")
def up_cmd(
    services: bool = typer.Option(True, help="Also start the four services"),
    profile_name: str = typer.Option("dev", "--profile"),
) -> None:
    """Start Kafka, the database and the services in the background; wait until ready."""
    p = profile(profile_name)
    try:
        up(p, with_services=services)
    except (StackError, subprocess.CalledProcessError) as e:
        typer.secho(f"[stack] FAILED: {mask_uri(str(e))}", fg="red", err=True)
        raise typer.Exit(1) from e
    status_cmd(profile_name)


@cli.command("down")
def down_cmd(profile_name: str = typer.Option("dev", "--profile")) -> None:
    """Stop everything `up` started."""
    stopped = down(profile(profile_name))
    typer.echo(f"[stack] stopped: {', '.join(stopped) or 'nothing was running'}")


@cli.command("status")
def status_cmd(profile_name: str = typer.Option("dev", "--profile")) -> None:
    """Show what runs, with PIDs and addresses."""
    p = profile(profile_name)
    for name, address in components(p):
        pid = running_pid(p, name)
        external = (name == "kafka" and "KAFKA_BOOTSTRAP_SERVERS" in os.environ) or (
            name == "mongo" and "MONGODB_URI" in os.environ
        )
        state = "external" if external else (f"running pid {pid}" if pid else "stopped")
        typer.echo(f"  {name:<9} {state:<20} {mask_uri(address)}")
    typer.echo(f"  logs: {p.log_dir}")


@cli.command("env")
def env_cmd(
    profile_name: str = typer.Option("dev", "--profile"),
    show_secrets: bool = typer.Option(False, help="Print passwords in URIs unmasked"),
) -> None:
    """Print the connection settings as JSON (passwords in URIs masked)."""
    p = profile(profile_name)
    text = json.dumps({**service_env(p), "ports": p.service_ports})
    typer.echo(text if show_secrets else mask_uri(text))


if __name__ == "__main__":
    cli()
