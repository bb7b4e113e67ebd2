"""ferry-registry over gRPC from a generated Python client, reflection and health.

Every test runs once per backend (see the `registry` fixture in conftest.py)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from google.rpc import code_pb2, error_details_pb2
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

from ferry.common.v1 import common_pb2
from ferry.registry.v1 import registry_pb2

from conftest import REGISTRY_SERVICE

TIMEOUT = 10  # seconds, per RPC


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


def list_all_applications(stub) -> list[str]:
    names: list[str] = []
    token = ""
    for _ in range(10_000):
        resp = stub.ListApplications(
            registry_pb2.ListApplicationsRequest(next_token=token), timeout=TIMEOUT
        )
        names.extend(resp.applications)
        token = resp.next_token
        if not token:
            return names
    pytest.fail("ListApplications did not stop paging")


# ---------------------------------------------------------------------------------------------
# Applications


def test_create_get_list_application(registry_stub):
    name = unique("py-app")
    created = registry_stub.CreateApplication(
        registry_pb2.CreateApplicationRequest(application_name=name), timeout=TIMEOUT
    )
    app_id = uuid.UUID(created.application_id)  # raises unless it is a UUID
    assert str(app_id) == created.application_id.lower()

    got = registry_stub.GetApplication(
        registry_pb2.GetApplicationRequest(application_name=name), timeout=TIMEOUT
    ).application
    assert got.application_name == name
    assert got.application_id == created.application_id
    # CodeDeploy's default compute platform is Server.
    assert got.compute_platform == common_pb2.COMPUTE_PLATFORM_SERVER
    assert got.HasField("create_time") and got.create_time.seconds > 0
    assert not got.linked_to_git_hub

    assert name in list_all_applications(registry_stub)


def test_create_application_twice_is_already_exists(registry_stub):
    name = unique("py-dup")
    registry_stub.CreateApplication(
        registry_pb2.CreateApplicationRequest(application_name=name), timeout=TIMEOUT
    )
    with pytest.raises(grpc.RpcError) as exc:
        registry_stub.CreateApplication(
            registry_pb2.CreateApplicationRequest(application_name=name), timeout=TIMEOUT
        )
    err = exc.value
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS, err.details()
    status = rpc_status.from_call(err)
    assert status is not None and status.code == code_pb2.ALREADY_EXISTS
    info = error_info(err)
    assert info.reason == "ApplicationAlreadyExistsException"
    assert info.domain == "ferry"


def test_get_missing_application_is_not_found(registry_stub):
    with pytest.raises(grpc.RpcError) as exc:
        registry_stub.GetApplication(
            registry_pb2.GetApplicationRequest(application_name=unique("py-missing")),
            timeout=TIMEOUT,
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND, exc.value.details()
    info = error_info(exc.value)
    assert info.reason == "ApplicationDoesNotExistException"
    assert info.domain == "ferry"


# ---------------------------------------------------------------------------------------------
# Reflection and health


def test_reflection_lists_and_resolves_services(registry):
    # grpcio-reflection's client speaks grpc.reflection.v1alpha.
    db = ProtoReflectionDescriptorDatabase(registry.channel)
    services = set(db.get_services())
    assert REGISTRY_SERVICE in services
    assert "grpc.health.v1.Health" in services
    assert any(
        s.startswith("grpc.reflection.") and s.endswith(".ServerReflection") for s in services
    ), services

    # A pool fed only by the server: no local .proto or generated descriptor involved.
    pool = DescriptorPool(db)
    svc = pool.FindServiceByName(REGISTRY_SERVICE)
    local = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"]
    assert {m.name for m in svc.methods} == {m.name for m in local.methods}
    create = svc.methods_by_name["CreateApplication"]
    assert create.input_type.full_name == "ferry.registry.v1.CreateApplicationRequest"
    info = pool.FindMessageTypeByName("ferry.registry.v1.ApplicationInfo")
    assert info.fields_by_name["create_time"].message_type.full_name == "google.protobuf.Timestamp"
    assert (
        info.fields_by_name["compute_platform"].enum_type.full_name
        == "ferry.common.v1.ComputePlatform"
    )

    # Call the service with message classes built from the reflected descriptors alone.
    request_cls = message_factory.GetMessageClass(create.input_type)
    response_cls = message_factory.GetMessageClass(create.output_type)
    call = registry.channel.unary_unary(
        f"/{REGISTRY_SERVICE}/CreateApplication",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_cls.FromString,
    )
    resp = call(request_cls(application_name=unique("py-reflected")), timeout=TIMEOUT)
    uuid.UUID(resp.application_id)


def test_reflection_v1_is_served(registry):
    # grpc.reflection.v1 has the same messages as v1alpha, so v1alpha's classes encode them.
    call = registry.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    responses = list(
        call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=TIMEOUT)
    )
    assert len(responses) == 1
    names = {s.name for s in responses[0].list_services_response.service}
    assert REGISTRY_SERVICE in names


def test_health_reports_serving(registry):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(registry.channel)
    resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_logs_listen_address(registry):
    assert registry.address in registry.log_text(), registry.log_tail()
