//! The registry commands of the real `ferry` binary, named and flagged as `aws deploy` names
//! them, against a whole ferry served in the test process (`support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Output, Stdio};

use ferry_agent::config::AgentConfig;
use ferry_proto::registry::v1::AuthenticateOnPremisesInstanceRequest;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_runtime::config::ConfigSources;
use serde_json::{Value, json};
use support::Cluster;

const ROLE: &str = "arn:aws:iam::000000000000:role/ferry";

/// ferry served in the test process (`support`) by a runtime of its own, until dropped: the
/// tests are synchronous, as a shell running the binary is.
struct Ferry {
    cluster: Cluster,
    runtime: tokio::runtime::Runtime,
}

impl Ferry {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cluster = runtime.block_on(Cluster::start());
        Self { cluster, runtime }
    }

    /// `ferry ARGS --endpoint <this ferry>`.
    fn run(&self, args: &[&str]) -> Output {
        support::ferry(args)
            .args(["--endpoint", &self.cluster.endpoint])
            .output()
            .expect("run ferry")
    }

    /// The JSON answer of a command that must succeed.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ferry {args:?} failed ({:?}): {}",
            out.status.code(),
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("ferry {args:?} printed no JSON ({e}): {}", stdout(&out)))
    }

    /// The stderr of a command the registry must refuse (exit 1).
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "ferry {args:?}: {}",
            stdout(&out)
        );
        assert!(out.stdout.is_empty(), "{}", stdout(&out));
        stderr(&out)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn applications_are_created_read_listed_renamed_and_deleted() {
    let ferry = Ferry::start();
    let created = ferry.json(&[
        "create-application",
        "--application-name",
        "shop",
        "--compute-platform",
        "Server",
        "--tags",
        "Key=team,Value=web",
        "Key=tier,Value=1",
    ]);
    let id = created["applicationId"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(created.as_object().unwrap().len(), 1, "{created}");

    let got = ferry.json(&["get-application", "--application-name", "shop"]);
    let app = &got["application"];
    assert_eq!(app["applicationId"], id);
    assert_eq!(app["applicationName"], "shop");
    assert_eq!(app["computePlatform"], "COMPUTE_PLATFORM_SERVER");
    assert!(app["createTime"].as_str().unwrap().ends_with('Z'), "{app}");
    assert_eq!(app.get("linkedToGitHub"), None, "defaults are left out");

    let tags = ferry.json(&[
        "list-tags-for-resource",
        "--resource-arn",
        "arn:ferry:codedeploy:local:000000000000:application:shop",
    ]);
    assert_eq!(
        tags["tags"],
        json!([{"key": "team", "value": "web"}, {"key": "tier", "value": "1"}])
    );

    ferry.json(&[
        "create-application",
        "--application-name",
        "cart",
        "--compute-platform",
        "Lambda",
    ]);
    let listed = ferry.json(&["list-applications"]);
    assert_eq!(listed, json!({"applications": ["cart", "shop"]}));
    let batch = ferry.json(&[
        "batch-get-applications",
        "--application-names",
        "shop",
        "cart",
    ]);
    let platforms: Vec<_> = batch["applicationsInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|info| {
            (
                info["applicationName"].clone(),
                info["computePlatform"].clone(),
            )
        })
        .collect();
    assert!(
        platforms.contains(&(json!("cart"), json!("COMPUTE_PLATFORM_LAMBDA"))),
        "{batch}"
    );
    assert!(
        platforms.contains(&(json!("shop"), json!("COMPUTE_PLATFORM_SERVER"))),
        "{batch}"
    );

    let renamed = ferry.json(&[
        "update-application",
        "--application-name",
        "shop",
        "--new-application-name",
        "store",
    ]);
    assert_eq!(renamed, json!({}));
    let store = ferry.json(&["get-application", "--application-name", "store"]);
    assert_eq!(store["application"]["applicationId"], id);
    let gone = ferry.refused(&["get-application", "--application-name", "shop"]);
    assert!(
        gone.starts_with("An error occurred (ApplicationDoesNotExistException) when calling the GetApplication operation: "),
        "{gone}"
    );

    assert_eq!(
        ferry.json(&["delete-application", "--application-name", "store"]),
        json!({})
    );
    assert_eq!(
        ferry.json(&["list-applications"]),
        json!({"applications": ["cart"]})
    );
}

#[test]
fn a_duplicate_application_is_refused_with_the_codedeploy_exception() {
    let ferry = Ferry::start();
    ferry.json(&["create-application", "--application-name", "web"]);
    let refusal = ferry.refused(&["create-application", "--application-name", "web"]);
    assert!(
        refusal.starts_with("An error occurred (ApplicationAlreadyExistsException) when calling the CreateApplication operation: "),
        "{refusal}"
    );
    assert!(refusal.contains("web"), "{refusal}");
}

#[test]
fn deployment_configs_are_created_from_shorthand_or_json() {
    let ferry = Ferry::start();
    let created = ferry.json(&[
        "create-deployment-config",
        "--deployment-config-name",
        "ThreeQuarters",
        "--minimum-healthy-hosts",
        "type=FLEET_PERCENT,value=75",
    ]);
    assert!(!created["deploymentConfigId"].as_str().unwrap().is_empty());
    let got = ferry.json(&[
        "get-deployment-config",
        "--deployment-config-name",
        "ThreeQuarters",
    ]);
    let info = &got["deploymentConfigInfo"];
    assert_eq!(info["deploymentConfigId"], created["deploymentConfigId"]);
    assert_eq!(info["deploymentConfigName"], "ThreeQuarters");
    assert_eq!(
        info["minimumHealthyHosts"],
        json!({"type": "MINIMUM_HEALTHY_HOSTS_TYPE_FLEET_PERCENT", "value": 75})
    );
    assert_eq!(info["computePlatform"], "COMPUTE_PLATFORM_SERVER");

    ferry.json(&[
        "create-deployment-config",
        "--deployment-config-name",
        "TwoAtATime",
        "--minimum-healthy-hosts",
        r#"{"type":"HOST_COUNT","value":2}"#,
        "--compute-platform",
        "Server",
    ]);
    let two = ferry.json(&[
        "get-deployment-config",
        "--deployment-config-name",
        "TwoAtATime",
    ]);
    assert_eq!(
        two["deploymentConfigInfo"]["minimumHealthyHosts"],
        json!({"type": "MINIMUM_HEALTHY_HOSTS_TYPE_HOST_COUNT", "value": 2})
    );

    let listed = ferry.json(&["list-deployment-configs"]);
    let names = listed["deploymentConfigsList"].as_array().unwrap();
    for name in [
        "ThreeQuarters",
        "TwoAtATime",
        "CodeDeployDefault.OneAtATime",
    ] {
        assert!(names.contains(&json!(name)), "{name} not in {listed}");
    }
    ferry.json(&[
        "delete-deployment-config",
        "--deployment-config-name",
        "TwoAtATime",
    ]);
    let gone = ferry.refused(&[
        "get-deployment-config",
        "--deployment-config-name",
        "TwoAtATime",
    ]);
    assert!(
        gone.contains("(DeploymentConfigDoesNotExistException)"),
        "{gone}"
    );
}

#[test]
fn a_deployment_group_keeps_its_settings_as_written() {
    let ferry = Ferry::start();
    ferry.json(&["create-application", "--application-name", "web"]);
    let created = ferry.json(&[
        "create-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "local",
        "--deployment-config-name",
        "CodeDeployDefault.AllAtOnce",
        "--on-premises-instance-tag-filters",
        "Key=ferry-up,Value=local,Type=KEY_AND_VALUE",
        "--service-role-arn",
        ROLE,
        "--auto-rollback-configuration",
        "enabled=true,events=DEPLOYMENT_FAILURE",
        "--deployment-style",
        "deploymentType=IN_PLACE,deploymentOption=WITHOUT_TRAFFIC_CONTROL",
        "--trigger-configurations",
        r#"[{"triggerName":"hook","triggerTargetArn":"https://hooks.example/ferry","triggerEvents":["DeploymentFailure","DeploymentSuccess"]}]"#,
        "--tags",
        r#"[{"Key":"team","Value":"web"}]"#,
    ]);
    let id = created["deploymentGroupId"].as_str().unwrap();

    let got = ferry.json(&[
        "get-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "local",
    ]);
    let group = &got["deploymentGroupInfo"];
    assert_eq!(group["deploymentGroupId"], id);
    assert_eq!(group["applicationName"], "web");
    assert_eq!(group["deploymentGroupName"], "local");
    assert_eq!(group["deploymentConfigName"], "CodeDeployDefault.AllAtOnce");
    assert_eq!(group["serviceRoleArn"], ROLE);
    assert_eq!(
        group["onPremisesInstanceTagFilters"],
        json!([{"key": "ferry-up", "value": "local", "type": "TAG_FILTER_TYPE_KEY_AND_VALUE"}])
    );
    assert_eq!(
        group["autoRollbackConfiguration"],
        json!({"enabled": true, "events": ["AUTO_ROLLBACK_EVENT_DEPLOYMENT_FAILURE"]})
    );
    assert_eq!(
        group["deploymentStyle"],
        json!({"deploymentType": "DEPLOYMENT_TYPE_IN_PLACE", "deploymentOption": "DEPLOYMENT_OPTION_WITHOUT_TRAFFIC_CONTROL"})
    );
    assert_eq!(
        group["triggerConfigurations"],
        json!([{
            "triggerName": "hook",
            "triggerTargetArn": "https://hooks.example/ferry",
            "triggerEvents": ["TRIGGER_EVENT_TYPE_DEPLOYMENT_FAILURE", "TRIGGER_EVENT_TYPE_DEPLOYMENT_SUCCESS"],
        }])
    );

    let listed = ferry.json(&["list-deployment-groups", "--application-name", "web"]);
    assert_eq!(
        listed,
        json!({"applicationName": "web", "deploymentGroups": ["local"]})
    );
    let batch = ferry.json(&[
        "batch-get-deployment-groups",
        "--application-name",
        "web",
        "--deployment-group-names",
        "local",
    ]);
    assert_eq!(batch["deploymentGroupsInfo"][0]["deploymentGroupId"], id);
}

#[test]
fn update_deployment_group_changes_only_what_is_given() {
    let ferry = Ferry::start();
    ferry.json(&["create-application", "--application-name", "web"]);
    ferry.json(&[
        "create-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "blue",
        "--on-premises-instance-tag-filters",
        "Key=ferry-up,Value=local,Type=KEY_AND_VALUE",
        "--service-role-arn",
        ROLE,
    ]);
    // A tag set and tag filters exclude each other, so the filters are emptied with '[]'.
    ferry.json(&[
        "update-deployment-group",
        "--application-name",
        "web",
        "--current-deployment-group-name",
        "blue",
        "--new-deployment-group-name",
        "green",
        "--on-premises-instance-tag-filters",
        "[]",
        "--on-premises-tag-set",
        r#"{"onPremisesTagSetList":[[{"Key":"role","Value":"web","Type":"KEY_AND_VALUE"}],[{"Key":"env","Type":"KEY_ONLY"}]]}"#,
    ]);
    let got = ferry.json(&[
        "get-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "green",
    ]);
    let group = &got["deploymentGroupInfo"];
    assert_eq!(group["serviceRoleArn"], ROLE, "unchanged");
    assert_eq!(
        group["deploymentConfigName"],
        "CodeDeployDefault.OneAtATime"
    );
    assert_eq!(group.get("onPremisesInstanceTagFilters"), None, "{group}");
    assert_eq!(
        group["onPremisesTagSet"],
        json!({"onPremisesTagSetList": [
            {"filters": [{"key": "role", "value": "web", "type": "TAG_FILTER_TYPE_KEY_AND_VALUE"}]},
            {"filters": [{"key": "env", "type": "TAG_FILTER_TYPE_KEY_ONLY"}]},
        ]})
    );

    ferry.json(&[
        "delete-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "green",
    ]);
    let listed = ferry.json(&["list-deployment-groups", "--application-name", "web"]);
    assert_eq!(listed["deploymentGroups"], Value::Null, "{listed}");
}

#[test]
fn a_deployment_group_without_a_service_role_shows_the_registry_refusal() {
    let ferry = Ferry::start();
    ferry.json(&["create-application", "--application-name", "web"]);
    let refusal = ferry.refused(&[
        "create-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "local",
    ]);
    assert!(
        refusal.starts_with("An error occurred (RoleRequiredException) when calling the CreateDeploymentGroup operation: "),
        "{refusal}"
    );
}

#[test]
fn registering_an_instance_prints_a_credential_and_an_agent_config_the_agent_loads() {
    let ferry = Ferry::start();
    let registered = ferry.json(&["register-on-premises-instance", "--instance-name", "web-1"]);
    let credential = registered["instanceCredential"].as_str().unwrap();
    assert!(!credential.is_empty());
    assert!(
        registered["instanceArn"]
            .as_str()
            .unwrap()
            .ends_with("web-1"),
        "{registered}"
    );

    // The credential is the one the orchestrator will check.
    let endpoint = ferry.cluster.endpoint.clone();
    let authenticated = ferry.runtime.block_on(async {
        RegistryServiceClient::connect(endpoint)
            .await
            .unwrap()
            .authenticate_on_premises_instance(AuthenticateOnPremisesInstanceRequest {
                instance_name: "web-1".into(),
                instance_credential: credential.into(),
            })
            .await
    });
    assert!(authenticated.is_ok(), "{authenticated:?}");

    // The agent configuration is a file ferry-agent loads as it is.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.yaml");
    std::fs::write(&file, registered["agentConfig"].as_str().unwrap()).unwrap();
    let config: AgentConfig = ferry_runtime::config::load(&ConfigSources {
        file: Some(file),
        ..ConfigSources::default()
    })
    .unwrap();
    assert_eq!(config.orchestrator_endpoint, ferry.cluster.endpoint);
    assert_eq!(config.instance_name.as_deref(), Some("web-1"));
    assert_eq!(
        config.credential_file.as_deref(),
        Some(std::path::Path::new("/etc/ferry-agent/credential"))
    );

    let got = ferry.json(&["get-on-premises-instance", "--instance-name", "web-1"]);
    assert_eq!(got["instanceInfo"]["instanceName"], "web-1");
    assert_eq!(
        got["instanceInfo"]["instanceArn"],
        registered["instanceArn"]
    );
    assert_eq!(got["instanceInfo"].get("deregisterTime"), None);

    let again = ferry.refused(&["register-on-premises-instance", "--instance-name", "web-1"]);
    assert!(
        again.starts_with("An error occurred (InstanceNameAlreadyRegisteredException) when calling the RegisterOnPremisesInstance operation: "),
        "{again}"
    );

    ferry.json(&[
        "deregister-on-premises-instance",
        "--instance-name",
        "web-1",
    ]);
    let got = ferry.json(&["get-on-premises-instance", "--instance-name", "web-1"]);
    assert!(got["instanceInfo"]["deregisterTime"].is_string(), "{got}");
    let deregistered = ferry.json(&[
        "list-on-premises-instances",
        "--registration-status",
        "Deregistered",
    ]);
    assert_eq!(deregistered, json!({"instanceNames": ["web-1"]}));
    let registered = ferry.json(&[
        "list-on-premises-instances",
        "--registration-status",
        "Registered",
    ]);
    assert_eq!(registered, json!({}));
}

#[test]
fn instance_tags_are_added_removed_and_filtered_on() {
    let ferry = Ferry::start();
    for name in ["db-1", "web-1", "web-2"] {
        ferry.json(&["register-on-premises-instance", "--instance-name", name]);
    }
    ferry.json(&[
        "add-tags-to-on-premises-instances",
        "--instance-names",
        "web-1",
        "web-2",
        "--tags",
        "Key=role,Value=web",
        "Key=ferry-up,Value=local",
    ]);
    ferry.json(&[
        "add-tags-to-on-premises-instances",
        "--tags",
        r#"[{"Key":"role","Value":"db"}]"#,
        "--instance-names",
        r#"["db-1"]"#,
    ]);
    let list = |filters: &[&str]| {
        let mut args = vec!["list-on-premises-instances", "--tag-filters"];
        args.extend(filters);
        ferry.json(&args)["instanceNames"].clone()
    };
    assert_eq!(
        list(&["Key=role,Value=web,Type=KEY_AND_VALUE"]),
        json!(["web-1", "web-2"])
    );
    assert_eq!(
        list(&["Key=role,Type=KEY_ONLY"]),
        json!(["db-1", "web-1", "web-2"])
    );
    assert_eq!(
        list(&["Key=role,Type=KEY_ONLY", "Value=local,Type=VALUE_ONLY"]),
        json!(["web-1", "web-2"]),
        "an instance must match every filter"
    );

    ferry.json(&[
        "remove-tags-from-on-premises-instances",
        "--instance-names",
        "web-2",
        "--tags",
        "Key=role,Value=web",
    ]);
    assert_eq!(
        list(&["Key=role,Value=web,Type=KEY_AND_VALUE"]),
        json!(["web-1"])
    );
    let batch = ferry.json(&[
        "batch-get-on-premises-instances",
        "--instance-names",
        "web-1",
        "web-2",
    ]);
    let tags: Vec<_> = batch["instanceInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|info| (info["instanceName"].clone(), info["tags"].clone()))
        .collect();
    assert!(
        tags.contains(&(
            json!("web-1"),
            json!([{"key": "ferry-up", "value": "local"}, {"key": "role", "value": "web"}])
        )),
        "{batch}"
    );
    assert!(
        tags.contains(&(
            json!("web-2"),
            json!([{"key": "ferry-up", "value": "local"}])
        )),
        "{batch}"
    );
}

#[test]
fn lists_page_with_max_items_and_starting_token() {
    let ferry = Ferry::start();
    for name in ["a", "b", "c"] {
        ferry.json(&["create-application", "--application-name", name]);
    }
    let all = ferry.json(&["list-applications", "--page-size", "1"]);
    assert_eq!(all, json!({"applications": ["a", "b", "c"]}));
    let first = ferry.json(&["list-applications", "--max-items", "2"]);
    assert_eq!(first["applications"], json!(["a", "b"]));
    let token = first["nextToken"].as_str().unwrap();
    let rest = ferry.json(&["list-applications", "--starting-token", token]);
    assert_eq!(rest, json!({"applications": ["c"]}));
    let one = ferry.json(&["list-applications", "--page-size", "1", "--no-paginate"]);
    assert_eq!(one["applications"], json!(["a"]));
    assert!(one["nextToken"].is_string(), "{one}");
}

#[test]
fn yaml_and_table_output_are_readable() {
    let ferry = Ferry::start();
    ferry.json(&["create-application", "--application-name", "web"]);

    let out = ferry.run(&[
        "get-application",
        "--application-name",
        "web",
        "--output",
        "yaml",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let yaml: Value = serde_saphyr::from_str(&stdout(&out)).unwrap();
    assert_eq!(yaml["application"]["applicationName"], "web");

    let out = ferry.run(&[
        "get-application",
        "--application-name",
        "web",
        "--output",
        "table",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.lines().any(|line| {
            let cells: Vec<_> = line.split_whitespace().collect();
            cells == ["application.applicationName", "web"]
        }),
        "{table}"
    );

    let out = ferry.run(&[
        "register-on-premises-instance",
        "--instance-name",
        "web-1",
        "--output",
        "yaml",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let yaml: Value = serde_saphyr::from_str(&stdout(&out)).unwrap();
    assert!(yaml["instanceCredential"].is_string(), "{yaml}");
    let config: Value = serde_saphyr::from_str(yaml["agentConfig"].as_str().unwrap()).unwrap();
    assert_eq!(config["instance_name"], "web-1");

    let out = ferry.run(&[
        "register-on-premises-instance",
        "--instance-name",
        "web-2",
        "--output",
        "table",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.lines().any(|l| l.starts_with("instanceCredential ")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l == "instance_name: web-2"),
        "{table}"
    );
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    let ferry = Ferry::start();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "create-application",
                "--application-name",
                "web",
                "--compute-platform",
                "server",
            ],
            &["--compute-platform", "Server, Lambda, ECS"],
        ),
        (
            &[
                "create-deployment-group",
                "--application-name",
                "web",
                "--deployment-group-name",
                "g",
                "--on-premises-instance-tag-filters",
                "Key=a,Type=BOTH",
            ],
            &["--on-premises-instance-tag-filters", "KEY_AND_VALUE"],
        ),
        (
            &[
                "create-deployment-config",
                "--deployment-config-name",
                "c",
                "--minimum-healthy-hosts",
                "type=FLEET_PERCENT,value=most",
            ],
            &["--minimum-healthy-hosts", "expected an integer"],
        ),
        (
            &[
                "create-application",
                "--application-name",
                "web",
                "--tags",
                "Kye=a",
            ],
            &["--tags", "unknown member \"Kye\""],
        ),
        (
            &[
                "list-on-premises-instances",
                "--registration-status",
                "Gone",
            ],
            &["--registration-status", "Registered, Deregistered"],
        ),
    ];
    for (args, expected) in cases {
        let out = ferry.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        let message = stderr(&out);
        for part in *expected {
            assert!(
                message.contains(part),
                "{args:?}: {part:?} not in {message}"
            );
        }
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly_with_141() {
    let ferry = Ferry::start();
    ferry.json(&["create-application", "--application-name", "web"]);
    for output in ["json", "yaml", "table"] {
        // As `ferry list-applications | head -0`: nothing reads what is printed.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = support::ferry(&["list-applications", "--output", output])
            .args(["--endpoint", &ferry.cluster.endpoint])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{output}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{output}: {}", stderr(&out));
    }
}
