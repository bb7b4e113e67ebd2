//! CreateDeploymentGroup's refusals, one field at a time, each with its gRPC code and
//! CodeDeploy exception; none of them writes anything.

use ferry_proto::common::v1::{ComputePlatform, Tag, TagFilter, TagFilterType};
use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{create_app, filter, group, minimal};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, error_reason};

backend_tests!(
    names_roles_and_configurations_are_checked,
    targets_triggers_alarms_and_rollbacks_are_checked,
);

pub type Case = (CreateDeploymentGroupRequest, Code, &'static str);

pub const INVALID: Code = Code::InvalidArgument;

/// Server "srv", Lambda "fn" and ECS "ecs" applications.
pub async fn start(backend: Backend) -> TestRegistry {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "srv", ComputePlatform::Server).await;
    create_app(&mut r, "fn", ComputePlatform::Lambda).await;
    create_app(&mut r, "ecs", ComputePlatform::Ecs).await;
    r
}

pub async fn check_all(r: &mut TestRegistry, cases: Vec<Case>) {
    for (req, code, reason) in cases {
        let status = r
            .client
            .create_deployment_group(req.clone())
            .await
            .expect_err(&format!("{req:?} should fail"));
        assert_eq!(
            (status.code(), error_reason(&status).as_deref()),
            (code, Some(reason)),
            "{req:?}: {status:?}"
        );
    }
    for app in ["srv", "fn", "ecs"] {
        let list = ListDeploymentGroupsRequest {
            application_name: app.into(),
            ..Default::default()
        };
        let groups = r
            .client
            .list_deployment_groups(list)
            .await
            .unwrap()
            .into_inner()
            .deployment_groups;
        assert!(groups.is_empty(), "nothing written in {app}: {groups:?}");
    }
}

pub fn srv() -> CreateDeploymentGroupRequest {
    minimal("srv", "g")
}

fn trigger(name: &str, target: &str, events: Vec<i32>) -> TriggerConfig {
    TriggerConfig {
        trigger_name: name.into(),
        trigger_target_arn: target.into(),
        trigger_events: events,
    }
}

async fn names_roles_and_configurations_are_checked(backend: Backend) {
    let mut r = start(backend).await;
    let with = |f: fn(&mut CreateDeploymentGroupRequest)| {
        let mut req = srv();
        f(&mut req);
        req
    };
    let cases: Vec<Case> = vec![
        (
            with(|q| q.application_name.clear()),
            INVALID,
            "ApplicationNameRequiredException",
        ),
        (
            with(|q| q.application_name = "a b".into()),
            INVALID,
            "InvalidApplicationNameException",
        ),
        (
            with(|q| q.application_name = "ghost".into()),
            Code::NotFound,
            "ApplicationDoesNotExistException",
        ),
        (
            with(|q| q.deployment_group_name.clear()),
            INVALID,
            "DeploymentGroupNameRequiredException",
        ),
        (
            with(|q| q.deployment_group_name = "x".repeat(101)),
            INVALID,
            "InvalidDeploymentGroupNameException",
        ),
        (
            with(|q| q.service_role_arn.clear()),
            INVALID,
            "RoleRequiredException",
        ),
        (
            with(|q| q.service_role_arn = "deployer".into()),
            INVALID,
            "InvalidRoleException",
        ),
        (
            with(|q| q.service_role_arn = "arn:aws:s3:::bucket/key".into()),
            INVALID,
            "InvalidRoleException",
        ),
        (
            with(|q| q.deployment_config_name = "Missing".into()),
            Code::NotFound,
            "DeploymentConfigDoesNotExistException",
        ),
        (
            with(|q| q.deployment_config_name = "a/b".into()),
            INVALID,
            "InvalidDeploymentConfigNameException",
        ),
        (
            with(|q| q.deployment_config_name = "CodeDeployDefault.LambdaAllAtOnce".into()),
            INVALID,
            "InvalidDeploymentConfigNameException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_config_name: "CodeDeployDefault.OneAtATime".into(),
                ..minimal("fn", "g")
            },
            INVALID,
            "InvalidDeploymentConfigNameException",
        ),
        (
            with(|q| {
                q.tags = vec![Tag {
                    key: "aws:x".into(),
                    value: String::new(),
                }]
            }),
            INVALID,
            "InvalidTagsToAddException",
        ),
        (
            with(|q| q.outdated_instances_strategy = 9),
            INVALID,
            "InvalidInputException",
        ),
    ];
    check_all(&mut r, cases).await;
}

async fn targets_triggers_alarms_and_rollbacks_are_checked(backend: Backend) {
    use TagFilterType::*;
    let mut r = start(backend).await;
    let one = || vec![filter("env", "prod", KeyAndValue)];
    let four_groups = || (0..4).map(|_| group(one())).collect::<Vec<_>>();
    let hook = "https://example.com/hook";
    let start_event = || vec![TriggerEventType::DeploymentStart as i32];
    let cases: Vec<Case> = vec![
        (
            CreateDeploymentGroupRequest {
                ec2_tag_filters: one(),
                ec2_tag_set: Some(Ec2TagSet {
                    ec2_tag_set_list: vec![group(one())],
                }),
                ..srv()
            },
            INVALID,
            "InvalidEC2TagCombinationException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_instance_tag_filters: one(),
                on_premises_tag_set: Some(OnPremisesTagSet {
                    on_premises_tag_set_list: vec![group(one())],
                }),
                ..srv()
            },
            INVALID,
            "InvalidOnPremisesTagCombinationException",
        ),
        (
            CreateDeploymentGroupRequest {
                ec2_tag_set: Some(Ec2TagSet {
                    ec2_tag_set_list: four_groups(),
                }),
                ..srv()
            },
            INVALID,
            "TagSetListLimitExceededException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_tag_set: Some(OnPremisesTagSet {
                    on_premises_tag_set_list: four_groups(),
                }),
                ..srv()
            },
            INVALID,
            "TagSetListLimitExceededException",
        ),
        (
            CreateDeploymentGroupRequest {
                ec2_tag_filters: vec![filter("", "v", KeyOnly)],
                ..srv()
            },
            INVALID,
            "InvalidEC2TagException",
        ),
        (
            CreateDeploymentGroupRequest {
                ec2_tag_filters: vec![filter("k", "v", Unspecified)],
                ..srv()
            },
            INVALID,
            "InvalidEC2TagException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_instance_tag_filters: vec![filter("k", "", KeyAndValue)],
                ..srv()
            },
            INVALID,
            "InvalidTagException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_instance_tag_filters: vec![filter("", "", ValueOnly)],
                ..srv()
            },
            INVALID,
            "InvalidTagException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_instance_tag_filters: vec![TagFilter {
                    r#type: 99,
                    ..filter("k", "v", KeyOnly)
                }],
                ..srv()
            },
            INVALID,
            "InvalidTagException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_tag_set: Some(OnPremisesTagSet {
                    on_premises_tag_set_list: vec![group(vec![])],
                }),
                ..srv()
            },
            INVALID,
            "InvalidTagException",
        ),
        (
            CreateDeploymentGroupRequest {
                on_premises_instance_tag_filters: one(),
                ..minimal("fn", "g")
            },
            INVALID,
            "InvalidTagException",
        ),
        (
            CreateDeploymentGroupRequest {
                auto_scaling_groups: vec!["asg-1".into()],
                ..srv()
            },
            INVALID,
            "InvalidAutoScalingGroupException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: (0..11)
                    .map(|i| trigger(&format!("t{i}"), hook, start_event()))
                    .collect(),
                ..srv()
            },
            INVALID,
            "TriggerTargetsLimitExceededException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![trigger(
                    "t",
                    "arn:aws:sns:us-east-1:1:topic",
                    start_event(),
                )],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![trigger("t", "ftp://example.com", start_event())],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![trigger("t", "https://", start_event())],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![trigger("t", hook, vec![])],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![trigger("t", hook, vec![99])],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![trigger("", hook, start_event())],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                trigger_configurations: vec![
                    trigger("t", hook, start_event()),
                    trigger("t", hook, start_event()),
                ],
                ..srv()
            },
            INVALID,
            "InvalidTriggerConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                alarm_configuration: Some(AlarmConfiguration {
                    alarms: (0..11)
                        .map(|i| Alarm {
                            name: format!("a{i}"),
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..srv()
            },
            INVALID,
            "AlarmsLimitExceededException",
        ),
        (
            CreateDeploymentGroupRequest {
                alarm_configuration: Some(AlarmConfiguration {
                    enabled: true,
                    ..Default::default()
                }),
                ..srv()
            },
            INVALID,
            "InvalidAlarmConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                alarm_configuration: Some(AlarmConfiguration {
                    alarms: vec![Alarm { name: "a".into() }, Alarm { name: "a".into() }],
                    ..Default::default()
                }),
                ..srv()
            },
            INVALID,
            "InvalidAlarmConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                auto_rollback_configuration: Some(AutoRollbackConfiguration {
                    enabled: true,
                    events: vec![],
                }),
                ..srv()
            },
            INVALID,
            "InvalidAutoRollbackConfigException",
        ),
        (
            CreateDeploymentGroupRequest {
                auto_rollback_configuration: Some(AutoRollbackConfiguration {
                    enabled: false,
                    events: vec![0],
                }),
                ..srv()
            },
            INVALID,
            "InvalidAutoRollbackConfigException",
        ),
    ];
    check_all(&mut r, cases).await;
}
