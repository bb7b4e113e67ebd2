"""Black-box tests of the ferry binaries over gRPC, from Python.

At import, this generates Python stubs for every .proto under proto/ into _gen/ (gen.sh) and
puts that directory on sys.path, so tests import e.g. `ferry.registry.v1.registry_pb2`.

Environment:
  FERRY_BIN_DIR            where the binaries are (default: <repo>/target/debug)
  FERRY_TEST_POSTGRES_URL  when set, every registry test also runs against this database
                           (e.g. postgres://postgres@127.0.0.1:5432/test); otherwise those
                           cases are skipped
  FERRY_TEST_START_TIMEOUT seconds to wait for a started binary to report SERVING (default 60)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GEN_DIR = HERE / "_gen"

REGISTRY_SERVICE = "ferry.registry.v1.RegistryService"


def _generate_stubs() -> None:
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(
        ["bash", str(HERE / "gen.sh")], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"tests/python/gen.sh failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )


_generate_stubs()
sys.path.insert(0, str(GEN_DIR))


# ---------------------------------------------------------------------------------------------
# Starting a binary.


def bin_dir() -> Path:
    d = Path(os.environ.get("FERRY_BIN_DIR", "target/debug"))
    return d if d.is_absolute() else ROOT / d


# The binaries read FERRY_* environment variables as config (names that are no setting are
# warned about, or rejected): the harness's own variables must not reach them.
HARNESS_ENV = ("FERRY_BIN_DIR", "FERRY_VENV")
HARNESS_ENV_PREFIX = "FERRY_TEST_"


def server_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in HARNESS_ENV and not k.startswith(HARNESS_ENV_PREFIX)
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe_channel(address: str) -> grpc.Channel:
    # Short reconnect backoff: the first attempts land before the server listens, and the
    # default backoff (1 s, growing) would make readiness lag behind the server.
    return grpc.insecure_channel(
        address,
        options=[
            ("grpc.initial_reconnect_backoff_ms", 50),
            ("grpc.min_reconnect_backoff_ms", 50),
            ("grpc.max_reconnect_backoff_ms", 250),
        ],
    )


def is_serving(channel: grpc.Channel, service: str) -> bool:
    """True once grpc.health.v1 reports SERVING for `service` (or, when the server does not
    know that name, for the whole server)."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.NOT_FOUND or not service:
            return False
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
    return resp.status == health_pb2.HealthCheckResponse.SERVING


class ServerProcess:
    """One ferry binary started on a free loopback port with a fresh data directory."""

    def __init__(self, binary: str, args: list[str], health_service: str, name: str):
        self.binary = bin_dir() / binary
        self.extra_args = args
        self.health_service = health_service
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix=f"ferry-{name}-")
        self.data_dir = Path(self._tmp.name) / "data"
        self.data_dir.mkdir()
        self.log_path = Path(self._tmp.name) / "server.log"
        self.proc: subprocess.Popen | None = None
        self.address = ""
        self.channel: grpc.Channel | None = None

    def start(self) -> None:
        if not self.binary.is_file():
            raise RuntimeError(
                f"{self.binary} not found: build it first (cargo build -p ferry-registry) "
                "or set FERRY_BIN_DIR"
            )
        timeout = float(os.environ.get("FERRY_TEST_START_TIMEOUT", "60"))
        # A free port can be taken by someone else between probing and binding: retry then.
        for attempt in range(3):
            port = free_port()
            self.address = f"127.0.0.1:{port}"
            self._spawn()
            if self._wait_serving(timeout):
                self.channel = grpc.insecure_channel(self.address)
                return
            code = self.proc.poll()
            log = self.log_tail()
            self.stop()
            if code is not None and "in use" in log.lower() and attempt < 2:
                continue
            state = f"exited with {code}" if code is not None else f"not SERVING after {timeout:.0f}s"
            raise RuntimeError(f"{self.binary.name} ({self.name}) {state}; its output:\n{log}")

    def _spawn(self) -> None:
        args = [
            str(self.binary),
            "--listen",
            self.address,
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env(),
                cwd=self._tmp.name,
                start_new_session=True,
            )

    def _wait_serving(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with probe_channel(self.address) as ch:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                if is_serving(ch, self.health_service):
                    return True
                time.sleep(0.05)  # poll interval, bounded by the deadline above
        return False

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()


# ---------------------------------------------------------------------------------------------
# Fixtures.


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def registry(request) -> ServerProcess:
    """A running ferry-registry, once per backend: SQLite under its fresh data dir, and a
    fresh PostgreSQL database created next to $FERRY_TEST_POSTGRES_URL (dropped afterwards)."""
    args: list[str] = []
    database = None
    if request.param == "postgres":
        url = os.environ.get("FERRY_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("FERRY_TEST_POSTGRES_URL not set")
        database = f"ferry_pytest_{os.getpid()}"
        _psql(url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        _psql(url, f"CREATE DATABASE {database}")
        args = ["--database-url", f"{url.rsplit('/', 1)[0]}/{database}"]
    server = ServerProcess("ferry-registry", args, REGISTRY_SERVICE, f"registry-{request.param}")
    try:
        server.start()
        yield server
    finally:
        server.close()
        if database:
            _psql(os.environ["FERRY_TEST_POSTGRES_URL"], f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def registry_stub(registry):
    from ferry.registry.v1 import registry_pb2_grpc

    return registry_pb2_grpc.RegistryServiceStub(registry.channel)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        server = item.funcargs.get("registry") if hasattr(item, "funcargs") else None
        if isinstance(server, ServerProcess):
            report.sections.append((f"{server.name} output (last lines)", server.log_tail()))


# ---------------------------------------------------------------------------------------------
# `ferry up`: every service on one port, with local agents.

DEPLOYMENT_SERVICE = "ferry.deploy.v1.DeploymentService"
FERRY_UP_BANNER = "ferry is up at http://"


class FerryUp:
    """`ferry up --listen 127.0.0.1:<free port> --data-dir <tmp> --agents N`, started once
    its first stdout line (`ferry is up at http://HOST:PORT`, printed once the local agents
    have connected) is out and DeploymentService reports SERVING. stdout and stderr go to
    files in the temporary directory."""

    def __init__(self, agents: int, name: str = "up"):
        self.binary = bin_dir() / "ferry"
        self.agents = agents
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix=f"ferry-{name}-")
        self.data_dir = Path(self._tmp.name) / "data"
        self.stdout_path = Path(self._tmp.name) / "stdout.log"
        self.log_path = Path(self._tmp.name) / "stderr.log"
        self.proc: subprocess.Popen | None = None
        self.address = ""
        self.endpoint = ""
        self.channel: grpc.Channel | None = None

    def start(self) -> None:
        if not self.binary.is_file():
            raise RuntimeError(
                f"{self.binary} not found: build it first (cargo build -p ferry-cli) "
                "or set FERRY_BIN_DIR"
            )
        # The local agents get 30 s to connect before the banner is printed anyway.
        timeout = max(float(os.environ.get("FERRY_TEST_START_TIMEOUT", "60")), 45.0)
        for attempt in range(3):
            port = free_port()
            self.address = f"127.0.0.1:{port}"
            self._spawn()
            if self._wait_up(timeout):
                self.channel = grpc.insecure_channel(self.address)
                return
            code = self.proc.poll()
            log = self.log_tail()
            self.kill()
            if code is not None and "in use" in log.lower() and attempt < 2:
                continue
            state = f"exited with {code}" if code is not None else f"not up after {timeout:.0f}s"
            raise RuntimeError(f"ferry up ({self.name}) {state}; its output:\n{log}")

    def _spawn(self) -> None:
        args = [
            str(self.binary),
            "up",
            "--listen",
            self.address,
            "--data-dir",
            str(self.data_dir),
            "--agents",
            str(self.agents),
        ]
        with open(self.stdout_path, "wb") as out, open(self.log_path, "ab") as err:
            err.write(f"$ {' '.join(args)}\n".encode())
            err.flush()
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=server_env(),
                cwd=self._tmp.name,
                start_new_session=True,
            )

    def first_line(self) -> str | None:
        """The first complete stdout line, once it is out."""
        try:
            text = self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return None
        return text.split("\n", 1)[0] if "\n" in text else None

    def _wait_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with probe_channel(self.address) as ch:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                line = self.first_line()
                if line is not None:
                    if not line.startswith(FERRY_UP_BANNER):
                        raise RuntimeError(f"ferry up's first line is {line!r}")
                    self.endpoint = line[len("ferry is up at ") :]
                    if is_serving(ch, DEPLOYMENT_SERVICE):
                        return True
                time.sleep(0.05)  # poll interval, bounded by the deadline above
        return False

    def log_text(self) -> str:
        parts = []
        for path in (self.stdout_path, self.log_path):
            try:
                parts.append(path.read_text(errors="replace"))
            except FileNotFoundError:
                pass
        return "\n".join(parts)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def interrupt(self, timeout: float = 40.0) -> int:
        """SIGINT, as Ctrl-C would send, and the exit status (killed after `timeout`)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        assert self.proc is not None, "ferry up is not running"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"ferry up did not stop {timeout:.0f}s after SIGINT")
        self.proc = None
        return code

    def kill(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.kill()
        self._tmp.cleanup()


@pytest.fixture
def ferry_up():
    """A running `ferry up --agents 2` (local-1 and local-2, tagged ferry-up=local) with a
    fresh data directory; the test may stop it with .interrupt(), else it is killed."""
    up = FerryUp(agents=2)
    try:
        up.start()
        yield up
    finally:
        up.close()


class _FerryUpReport:
    """Adds the output of a test's `ferry up` to its failure report."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.failed and hasattr(item, "funcargs"):
            up = item.funcargs.get("ferry_up")
            if isinstance(up, FerryUp):
                report.sections.append((f"ferry {up.name} output (last lines)", up.log_tail()))


def pytest_configure(config):
    config.pluginmanager.register(_FerryUpReport(), "ferry-up-report")
