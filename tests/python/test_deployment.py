"""A whole deployment from a Python client generated from proto/: `ferry up` with two local
agents (see the `ferry_up` fixture in conftest.py), then CreateApplication,
CreateDeploymentGroup, UploadBundle, CreateDeployment and WatchDeployment to the end, using
only the generated stubs."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import time
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ferry.common.v1 import common_pb2
from ferry.deploy.v1 import deploy_pb2, deploy_pb2_grpc
from ferry.registry.v1 import registry_pb2, registry_pb2_grpc
from ferry.revision.v1 import revision_pb2, revision_pb2_grpc

TIMEOUT = 10  # seconds, per unary RPC
DEPLOY_TIMEOUT = 120  # seconds, for the whole WatchDeployment stream
CHUNK = 16 * 1024  # bytes per UploadBundle message; small, so the bundle takes several

AGENTS = ["local-1", "local-2"]
# CodeDeploy's in-place lifecycle of a Server target, in the order the events run.
LIFECYCLE = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]

APPSPEC = """\
version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/py-app
hooks:
  BeforeInstall:
    - location: scripts/hook.sh
      timeout: 60
  ValidateService:
    - location: scripts/hook.sh
      timeout: 60
"""

HOOK = """\
#!/bin/sh
echo "hello from $LIFECYCLE_EVENT"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The google.rpc.ErrorInfo detail of a failed call (exactly one is expected)."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no google.rpc.Status in trailers: {err.code()} {err.details()}"
    infos = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
    assert len(infos) == 1, f"want one ErrorInfo detail, got {status.details}"
    return infos[0]


def bundle(app_text: bytes) -> bytes:
    """A tar.gz revision: appspec.yml, app.txt and scripts/hook.sh (mode 0755)."""

    def add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        add(tar, "appspec.yml", APPSPEC.encode())
        add(tar, "app.txt", app_text)
        scripts = tarfile.TarInfo("scripts")
        scripts.type = tarfile.DIRTYPE
        scripts.mode = 0o755
        tar.addfile(scripts)
        add(tar, "scripts/hook.sh", HOOK.encode(), mode=0o755)
    return gzip.compress(raw.getvalue())


def upload_requests(application: str, data: bytes, sha256: str):
    yield revision_pb2.UploadBundleRequest(
        header=revision_pb2.UploadBundleHeader(
            application_name=application,
            description="pytest bundle",
            bundle_type=common_pb2.BUNDLE_TYPE_TGZ,
            expected_sha256=sha256,
        )
    )
    for start in range(0, len(data), CHUNK):
        yield revision_pb2.UploadBundleRequest(chunk=data[start : start + CHUNK])


def list_all_targets(stub, deployment_id: str) -> list[str]:
    ids: list[str] = []
    token = ""
    for _ in range(1_000):
        resp = stub.ListDeploymentTargets(
            deploy_pb2.ListDeploymentTargetsRequest(deployment_id=deployment_id, next_token=token),
            timeout=TIMEOUT,
        )
        ids.extend(resp.target_ids)
        token = resp.next_token
        if not token:
            return ids
    pytest.fail("ListDeploymentTargets did not stop paging")


def describe(event: deploy_pb2.WatchDeploymentResponse) -> str:
    kind = event.WhichOneof("event")
    body = getattr(event, kind) if kind else None
    return f"#{event.sequence} {kind}: {str(body).strip()}".replace("\n", " ")


def test_whole_deployment_with_two_local_agents(ferry_up):
    assert ferry_up.endpoint == f"http://{ferry_up.address}"
    channel = ferry_up.channel
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    revisions = revision_pb2_grpc.RevisionServiceStub(channel)
    deployments = deploy_pb2_grpc.DeploymentServiceStub(channel)

    application = unique("py-app")
    group = unique("py-group")

    # Application and deployment group (every agent of `ferry up` carries ferry-up=local).
    registry.CreateApplication(
        registry_pb2.CreateApplicationRequest(
            application_name=application,
            compute_platform=common_pb2.COMPUTE_PLATFORM_SERVER,
        ),
        timeout=TIMEOUT,
    )
    registry.CreateDeploymentGroup(
        registry_pb2.CreateDeploymentGroupRequest(
            application_name=application,
            deployment_group_name=group,
            deployment_config_name="CodeDeployDefault.OneAtATime",
            on_premises_instance_tag_filters=[
                common_pb2.TagFilter(
                    key="ferry-up",
                    value="local",
                    type=common_pb2.TAG_FILTER_TYPE_KEY_AND_VALUE,
                )
            ],
            service_role_arn="arn:aws:iam::000000000000:role/ferry",
        ),
        timeout=TIMEOUT,
    )

    # The bundle, streamed: a header, then the bytes.
    app_text = f"deployed by pytest {uuid.uuid4()}\n".encode() + b"x" * (3 * CHUNK)
    data = bundle(app_text)
    digest = hashlib.sha256(data).hexdigest()
    uploaded = revisions.UploadBundle(
        upload_requests(application, data, digest), timeout=TIMEOUT
    )
    assert uploaded.sha256 == digest
    assert uploaded.size == len(data)
    location = uploaded.location
    assert location.revision_type == common_pb2.REVISION_LOCATION_TYPE_UPLOADED, location
    assert location.uploaded_location.digest == digest
    assert location.uploaded_location.bundle_type == common_pb2.BUNDLE_TYPE_TGZ

    # The deployment, watched from its creation until the stream ends.
    started = time.monotonic()
    deployment_id = deployments.CreateDeployment(
        deploy_pb2.CreateDeploymentRequest(
            application_name=application,
            deployment_group_name=group,
            revision=location,
            description="a whole deployment from pytest",
        ),
        timeout=TIMEOUT,
    ).deployment_id
    assert deployment_id.startswith("d-") and len(deployment_id) == 11, deployment_id

    events = list(
        deployments.WatchDeployment(
            deploy_pb2.WatchDeploymentRequest(deployment_id=deployment_id, from_sequence=0),
            timeout=DEPLOY_TIMEOUT,
        )
    )
    elapsed = time.monotonic() - started
    log = "\n".join(describe(e) for e in events)
    assert events, "WatchDeployment ended without an event"

    sequences = [e.sequence for e in events]
    assert all(a < b for a, b in zip(sequences, sequences[1:])), f"not increasing: {sequences}"

    last = events[-1]
    assert last.WhichOneof("event") == "deployment_status_changed", log
    assert last.deployment_status_changed.status == common_pb2.DEPLOYMENT_STATUS_SUCCEEDED, log
    assert last.deployment_status_changed.overview.succeeded == len(AGENTS), log

    succeeded_targets = {
        e.target_status_changed.target_id
        for e in events
        if e.WhichOneof("event") == "target_status_changed"
        and e.target_status_changed.status == deploy_pb2.TARGET_STATUS_SUCCEEDED
    }
    assert succeeded_targets == set(AGENTS), log

    output: dict[tuple[str, str], list[str]] = {}
    for e in events:
        if e.WhichOneof("event") == "hook_output":
            key = (e.hook_output.target_id, e.hook_output.lifecycle_event_name)
            output.setdefault(key, []).extend(line.text for line in e.hook_output.lines)
    for agent in AGENTS:
        for hook in ("BeforeInstall", "ValidateService"):
            lines = output.get((agent, hook), [])
            assert any(f"hello from {hook}" in line for line in lines), (
                f"no 'hello from {hook}' from {agent}: {lines}\n{log}"
            )

    # OneAtATime: the second target starts only once the first has succeeded.
    def index(target: str, status: int) -> int:
        return next(
            i
            for i, e in enumerate(events)
            if e.WhichOneof("event") == "target_status_changed"
            and e.target_status_changed.target_id == target
            and e.target_status_changed.status == status
        )

    first, second = sorted(
        AGENTS, key=lambda t: index(t, deploy_pb2.TARGET_STATUS_IN_PROGRESS)
    )
    assert index(first, deploy_pb2.TARGET_STATUS_SUCCEEDED) < index(
        second, deploy_pb2.TARGET_STATUS_IN_PROGRESS
    ), log

    # The deployment, as GetDeployment reports it afterwards.
    got = deployments.GetDeployment(
        deploy_pb2.GetDeploymentRequest(deployment_id=deployment_id), timeout=TIMEOUT
    )
    info = got.deployment_info
    assert info.deployment_id == deployment_id
    assert info.application_name == application
    assert info.deployment_group_name == group
    assert info.deployment_config_name == "CodeDeployDefault.OneAtATime"
    assert info.status == common_pb2.DEPLOYMENT_STATUS_SUCCEEDED
    assert info.deployment_overview.succeeded == len(AGENTS)
    assert info.deployment_overview.failed == 0
    assert info.deployment_overview.pending == 0
    assert info.deployment_overview.in_progress == 0
    assert info.revision.uploaded_location.digest == digest
    assert info.creator == deploy_pb2.DEPLOYMENT_CREATOR_USER
    assert info.compute_platform == common_pb2.COMPUTE_PLATFORM_SERVER
    assert info.HasField("complete_time") and info.complete_time.seconds > 0
    assert got.sequence == last.sequence

    # Its targets.
    assert sorted(list_all_targets(deployments, deployment_id)) == AGENTS
    for agent in AGENTS:
        target = deployments.GetDeploymentTarget(
            deploy_pb2.GetDeploymentTargetRequest(deployment_id=deployment_id, target_id=agent),
            timeout=TIMEOUT,
        ).deployment_target
        assert target.deployment_target_type == deploy_pb2.DEPLOYMENT_TARGET_TYPE_INSTANCE_TARGET
        instance = target.instance_target
        assert instance.deployment_id == deployment_id
        assert instance.target_id == agent
        assert instance.status == deploy_pb2.TARGET_STATUS_SUCCEEDED
        names = [e.lifecycle_event_name for e in instance.lifecycle_events]
        assert names == LIFECYCLE, names
        for event in instance.lifecycle_events:
            assert event.status == common_pb2.LIFECYCLE_EVENT_STATUS_SUCCEEDED, (agent, event)

        # The AppSpec's files went under the agent's install root (absolute destinations are
        # re-rooted there).
        installed = ferry_up.data_dir / "agents" / agent / "install" / "srv" / "py-app" / "app.txt"
        assert installed.read_bytes() == app_text

    # A deployment to a group that does not exist.
    with pytest.raises(grpc.RpcError) as exc:
        deployments.CreateDeployment(
            deploy_pb2.CreateDeploymentRequest(
                application_name=application,
                deployment_group_name=unique("py-missing-group"),
                revision=location,
            ),
            timeout=TIMEOUT,
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND, exc.value.details()
    err = error_info(exc.value)
    assert err.reason == "DeploymentGroupDoesNotExistException"
    assert err.domain == "ferry"

    # Ctrl-C: the agents stop, the server drains, exit 0.
    code = ferry_up.interrupt()
    assert code == 0, ferry_up.log_tail()
    print(f"deployment {deployment_id} took {elapsed:.1f}s")
