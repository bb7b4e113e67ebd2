//! The report as a whole: every problem at once, the typed spec and its summary, formats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_appspec::{
    AppSpec, Format, LifecycleEvent, Mode, ObjectType, Os, Problem, Severity, validate, validate_as,
};

#[test]
fn reports_every_problem_not_just_the_first() {
    let text = "version: 1\nos: solaris\nfiles:\n  - source: a\nhooks:\n  Install:\n    - location: x.sh\n  AfterInstall:\n    - location: y.sh\n      timeout: 0\n";
    let report = validate(text);
    let paths: Vec<&str> = report.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "version",
            "os",
            "files[0]",
            "hooks.Install",
            "hooks.AfterInstall[0].timeout"
        ],
        "{:#?}",
        report.problems
    );
    let lines: Vec<Option<u32>> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [Some(1), Some(2), Some(4), Some(6), Some(10)]);
    assert!(report.spec.is_none());
    assert_eq!((report.errors(), report.warnings()), (5, 0));
}

#[test]
fn typed_server_spec_has_the_defaults() {
    let text = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv/app\npermissions:\n  - object: /srv/app\n    mode: 755\nhooks:\n  AfterInstall:\n    - location: scripts/a.sh\n    - location: scripts/b.sh\n      timeout: 60\n      runas: app\n  ApplicationStart:\n    - location: scripts/start.sh\n";
    let report = validate(text);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let Some(AppSpec::Server(spec)) = &report.spec else {
        panic!("not a server spec: {report:?}")
    };
    assert_eq!(spec.os, Os::Linux);
    assert_eq!(spec.file_exists_behavior, None);
    let perm = &spec.permissions[0];
    assert_eq!(
        (perm.pattern.as_str(), perm.mode.clone()),
        ("**", Some(Mode("755".into())))
    );
    assert_eq!(perm.types, [ObjectType::File, ObjectType::Directory]);
    let after = &spec.hooks[&LifecycleEvent::AfterInstall];
    assert_eq!((after[0].timeout, after[0].runas.as_deref()), (3600, None));
    assert_eq!(
        (after[1].timeout, after[1].runas.as_deref()),
        (60, Some("app"))
    );

    let summary = report.spec.as_ref().unwrap().summary();
    assert_eq!(
        (summary.files, summary.permissions, summary.os),
        (1, 1, Some(Os::Linux))
    );
    let hooks: Vec<(LifecycleEvent, usize)> = summary.hooks.into_iter().collect();
    assert_eq!(
        hooks,
        [
            (LifecycleEvent::AfterInstall, 2),
            (LifecycleEvent::ApplicationStart, 1)
        ]
    );
}

#[test]
fn typed_lambda_and_ecs_specs() {
    let lambda = "version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: fn\n        Alias: live\n        CurrentVersion: 3\n        TargetVersion: \"4\"\nHooks:\n  - AfterAllowTraffic: check\n";
    let Some(AppSpec::Lambda(spec)) = validate(lambda).spec else {
        panic!("not lambda")
    };
    assert_eq!(
        (spec.current_version.as_str(), spec.target_version.as_str()),
        ("3", "4")
    );
    assert_eq!(spec.hooks[&LifecycleEvent::AfterAllowTraffic], "check");

    let ecs = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\n";
    let report = validate(ecs);
    let Some(AppSpec::Ecs(spec)) = &report.spec else {
        panic!("not ecs: {report:?}")
    };
    assert_eq!(
        (spec.container_name.as_str(), spec.container_port),
        ("web", 8080)
    );
    assert_eq!(report.spec.as_ref().unwrap().summary().files, 0);
}

#[test]
fn json_is_sniffed_and_can_be_forced() {
    assert_eq!(Format::sniff("  {\"version\": 0.0}"), Format::Json);
    assert_eq!(Format::sniff("version: 0.0"), Format::Yaml);
    let report = validate_as("version: 0.0\nos: linux\n", Format::Json);
    assert_eq!(report.problems.len(), 1);
    assert!(
        report.problems[0].message.starts_with("invalid JSON"),
        "{:?}",
        report.problems
    );
    // Valid for YAML (a trailing comma in a flow mapping), not for JSON.
    let text = "{\"version\": 0.0, \"os\": \"linux\",}";
    assert!(validate_as(text, Format::Yaml).is_valid());
    assert!(!validate(text).is_valid());
}

#[test]
fn locates_problems_found_later() {
    let report =
        validate("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n");
    assert_eq!(report.line_of("hooks.AfterInstall[0].location"), Some(5));
    let mut later = vec![Problem::error(
        "hooks.AfterInstall[0].location",
        None,
        "missing",
    )];
    report.locate(&mut later);
    assert_eq!(later[0].line, Some(5));
    assert_eq!(
        later[0].to_string(),
        "5: error: hooks.AfterInstall[0].location: missing"
    );
    assert_eq!(later[0].severity, Severity::Error);
}
