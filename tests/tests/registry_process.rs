//! `ferry-registry` as a user runs it: a real process, configured by nothing, by flags, by a
//! file or by `FERRY_…` variables; found by address in its log; healthy; listed by reflection;
//! stopped by SIGTERM.

// Test and benchmark code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{CreateApplicationRequest, GetApplicationRequest};
use ferry_tests::{Service, binary, channel, wait_serving};
use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};

const REGISTRY: &str = "ferry.registry.v1.RegistryService";

async fn reflection_v1_services(channel: Channel) -> Vec<String> {
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match answers
        .message()
        .await
        .unwrap()
        .and_then(|r| r.message_response)
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn reflection_v1alpha_services(channel: Channel) -> Vec<String> {
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match answers
        .message()
        .await
        .unwrap()
        .and_then(|r| r.message_response)
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn starts_with_no_configuration_at_all() {
    let cwd = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary("ferry-registry"));
    command
        .current_dir(cwd.path())
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_DATABASE_URL")
        .env_remove("FERRY_LISTEN");
    let mut registry = Service::start(command);
    let addr = registry.wait_for_address();
    assert_eq!(addr.to_string(), "127.0.0.1:50051", "the default address");
    let channel = channel(addr).await;
    wait_serving(channel.clone(), "").await;
    wait_serving(channel.clone(), REGISTRY).await;
    assert!(
        cwd.path().join("ferry-data/registry.sqlite").exists(),
        "the embedded database is created on first start"
    );

    for services in [
        reflection_v1_services(channel.clone()).await,
        reflection_v1alpha_services(channel.clone()).await,
    ] {
        for expected in [
            REGISTRY,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                services.iter().any(|s| s == expected),
                "reflection lists {services:?}, not {expected}"
            );
        }
    }

    // Well within the 10 s grace: the drain ends as soon as no request is in flight.
    let status = registry.terminate(Duration::from_secs(5)).await;
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
}

#[tokio::test]
async fn flags_file_and_environment_configure_it_and_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("registry.yaml");
    // The file sets the data directory; a flag sets the address.
    std::fs::write(
        &file,
        format!("data_dir: {}\nlog:\n  format: json\n", data.display()),
    )
    .unwrap();
    let start = || {
        let mut command = Command::new(binary("ferry-registry"));
        command
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&file)
            .env_remove("FERRY_DATABASE_URL");
        Service::start(command)
    };
    let mut registry = start();
    let addr = registry.wait_for_address_json();
    wait_serving(channel(addr).await, REGISTRY).await;
    let mut client = RegistryServiceClient::new(channel(addr).await);
    client
        .create_application(CreateApplicationRequest {
            application_name: "kept".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(data.join("registry.sqlite").exists());
    assert!(registry.terminate(Duration::from_secs(5)).await.success());

    let mut registry = start();
    let addr = registry.wait_for_address_json();
    let mut client = RegistryServiceClient::new(channel(addr).await);
    let app = client
        .get_application(GetApplicationRequest {
            application_name: "kept".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        app.into_inner().application.unwrap().application_name,
        "kept"
    );

    // FERRY_DATABASE_URL beats the file's data directory.
    let other = dir.path().join("other.sqlite");
    let mut command = Command::new(binary("ferry-registry"));
    command
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .env(
            "FERRY_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", other.display()),
        );
    let mut third = Service::start(command);
    let addr = third.wait_for_address_json();
    wait_serving(channel(addr).await, REGISTRY).await;
    assert!(other.exists(), "the environment's database URL was used");
}

#[test]
fn a_bad_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.yaml");
    std::fs::write(&file, "server:\n  request_timeout: 5\n").unwrap();
    let output = Command::new(binary("ferry-registry"))
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.request_timeout") && stderr.contains("registry.yaml"),
        "{stderr}"
    );
}

#[test]
fn a_stray_ferry_variable_is_reported_but_not_fatal() {
    // Kubernetes sets FERRY_REGISTRY_PORT for a Service named ferry-registry.
    let output = Command::new(binary("ferry-registry"))
        .args(["--dump-config"])
        .env("FERRY_REGISTRY_PORT", "tcp://10.0.0.1:50051")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("FERRY_REGISTRY_PORT"));
}

#[test]
fn dump_config_prints_the_effective_configuration() {
    let output = Command::new(binary("ferry-registry"))
        .args([
            "--dump-config",
            "--listen",
            "127.0.0.1:7777",
            "--database-url",
            "postgres://db/ferry",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let yaml = String::from_utf8_lossy(&output.stdout);
    assert!(yaml.contains("listen: 127.0.0.1:7777"), "{yaml}");
    assert!(yaml.contains("database_url: postgres://db/ferry"), "{yaml}");
}
