//! RegisterApplicationRevision, GetApplicationRevision, BatchGetApplicationRevisions, and
//! what the orchestrator records about a revision's use.

use chrono::{TimeZone, Utc};
use ferry_proto::common::v1::*;
use ferry_proto::revision::v1::*;
use tonic::Code;

use crate::backend_tests;
use crate::support::{Backend, Env, assert_error};

backend_tests!(
    register_get_and_register_again,
    register_refuses_bad_input,
    get_of_unknown_revisions_and_applications,
    batch_get_keeps_order_and_reports_the_missing,
    usage_and_targets_show_in_get,
);

pub fn s3(bucket: &str, key: &str, e_tag: &str) -> RevisionLocation {
    RevisionLocation {
        revision_type: RevisionLocationType::S3 as i32,
        s3_location: Some(S3Location {
            bucket: bucket.into(),
            key: key.into(),
            bundle_type: BundleType::Tgz as i32,
            version: String::new(),
            e_tag: e_tag.into(),
        }),
        ..Default::default()
    }
}

pub fn github(commit: &str) -> RevisionLocation {
    RevisionLocation {
        revision_type: RevisionLocationType::GitHub as i32,
        git_hub_location: Some(GitHubLocation {
            repository: "acme/web".into(),
            commit_id: commit.into(),
        }),
        ..Default::default()
    }
}

pub fn register(
    app: &str,
    revision: RevisionLocation,
    description: &str,
) -> RegisterApplicationRevisionRequest {
    RegisterApplicationRevisionRequest {
        application_name: app.into(),
        description: description.into(),
        revision: Some(revision),
    }
}

fn get(app: &str, revision: RevisionLocation) -> GetApplicationRevisionRequest {
    GetApplicationRevisionRequest {
        application_name: app.into(),
        revision: Some(revision),
    }
}

async fn register_get_and_register_again(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let c = &mut env.client;
    c.register_application_revision(register(
        "web",
        s3("builds", "web/1.tgz", "\"e1\""),
        "first",
    ))
    .await
    .unwrap();
    let got = c
        .get_application_revision(get("web", s3("builds", "web/1.tgz", "e1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.application_name, "web");
    let location = got.revision.unwrap();
    assert_eq!(
        location.s3_location.as_ref().unwrap().e_tag,
        "e1",
        "quotes are dropped"
    );
    let info = got.revision_info.unwrap();
    assert_eq!(info.description, "first");
    assert!(info.deployment_groups.is_empty());
    assert!(info.first_used_time.is_none() && info.last_used_time.is_none());
    let registered = info.register_time.unwrap();

    // CodeDeploy: registering again replaces the description and keeps the rest.
    c.register_application_revision(register("web", s3("builds", "web/1.tgz", "e1"), "second"))
        .await
        .unwrap();
    let info = c
        .get_application_revision(get("web", s3("builds", "web/1.tgz", "e1")))
        .await
        .unwrap()
        .into_inner()
        .revision_info
        .unwrap();
    assert_eq!(info.description, "second");
    assert_eq!(info.register_time.unwrap(), registered);

    // Inline content gets its sha256 filled in; another type is another revision.
    let content = RevisionLocation {
        revision_type: RevisionLocationType::AppSpecContent as i32,
        app_spec_content: Some(RawString {
            content: "version: 0.0\n".into(),
            sha256: String::new(),
        }),
        ..Default::default()
    };
    c.register_application_revision(register("web", content.clone(), ""))
        .await
        .unwrap();
    let got = c
        .get_application_revision(get("web", content))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.revision.unwrap().app_spec_content.unwrap().sha256.len(),
        64
    );
}

async fn register_refuses_bad_input(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let c = &mut env.client;
    let ok = || s3("builds", "web/1.tgz", "");
    assert_error(
        c.register_application_revision(register("nope", ok(), ""))
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    assert_error(
        c.register_application_revision(register("", ok(), ""))
            .await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
    assert_error(
        c.register_application_revision(register("web", ok(), &"d".repeat(257)))
            .await,
        Code::InvalidArgument,
        "DescriptionTooLongException",
    );
    c.register_application_revision(register("web", ok(), &"d".repeat(256)))
        .await
        .unwrap();
    assert_error(
        c.register_application_revision(RegisterApplicationRevisionRequest {
            application_name: "web".into(),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "RevisionRequiredException",
    );
    let mut no_bundle_type = ok();
    no_bundle_type.s3_location.as_mut().unwrap().bundle_type = 0;
    let mut no_key = ok();
    no_key.s3_location.as_mut().unwrap().key.clear();
    let wrong_sha = RevisionLocation {
        revision_type: RevisionLocationType::String as i32,
        string: Some(RawString {
            content: "version: 0.0".into(),
            sha256: "00".repeat(32),
        }),
        ..Default::default()
    };
    let no_content = RevisionLocation {
        revision_type: RevisionLocationType::AppSpecContent as i32,
        app_spec_content: Some(RawString::default()),
        ..Default::default()
    };
    let never_uploaded = RevisionLocation {
        revision_type: RevisionLocationType::Uploaded as i32,
        uploaded_location: Some(UploadedLocation {
            digest: "ab".repeat(32),
            bundle_type: 0,
        }),
        ..Default::default()
    };
    for bad in [
        no_bundle_type,
        no_key,
        wrong_sha,
        no_content,
        github("main"),
        never_uploaded,
    ] {
        assert_error(
            c.register_application_revision(register("web", bad.clone(), ""))
                .await,
            Code::InvalidArgument,
            "InvalidRevisionException",
        );
    }
    let typed_but_empty = RevisionLocation {
        revision_type: RevisionLocationType::S3 as i32,
        ..Default::default()
    };
    assert_error(
        c.register_application_revision(register("web", typed_but_empty, ""))
            .await,
        Code::InvalidArgument,
        "RevisionRequiredException",
    );
}

async fn get_of_unknown_revisions_and_applications(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let c = &mut env.client;
    assert_error(
        c.get_application_revision(get("web", github(&"a".repeat(40))))
            .await,
        Code::NotFound,
        "RevisionDoesNotExistException",
    );
    assert_error(
        c.get_application_revision(get("gone", github(&"a".repeat(40))))
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    assert_error(
        c.get_application_revision(GetApplicationRevisionRequest {
            application_name: "web".into(),
            revision: None,
        })
        .await,
        Code::InvalidArgument,
        "RevisionRequiredException",
    );
}

async fn batch_get_keeps_order_and_reports_the_missing(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let c = &mut env.client;
    let (a, b, missing) = (
        github(&"a".repeat(40)),
        github(&"b".repeat(40)),
        github(&"c".repeat(40)),
    );
    c.register_application_revision(register("web", a.clone(), "a"))
        .await
        .unwrap();
    c.register_application_revision(register("web", b.clone(), "b"))
        .await
        .unwrap();
    let batch = |revisions: Vec<RevisionLocation>| BatchGetApplicationRevisionsRequest {
        application_name: "web".into(),
        revisions,
    };
    let got = c
        .batch_get_application_revisions(batch(vec![b.clone(), missing, a.clone()]))
        .await
        .unwrap()
        .into_inner();
    let descriptions: Vec<_> = got
        .revisions
        .iter()
        .map(|r| {
            r.generic_revision_info
                .as_ref()
                .unwrap()
                .description
                .as_str()
        })
        .collect();
    assert_eq!(descriptions, ["b", "a"]);
    assert!(
        got.error_message.contains(&"c".repeat(40)),
        "{}",
        got.error_message
    );
    let all = c
        .batch_get_application_revisions(batch(vec![a.clone(), b]))
        .await
        .unwrap()
        .into_inner();
    assert!(all.error_message.is_empty());
    assert_error(
        c.batch_get_application_revisions(batch(vec![a.clone(); 26]))
            .await,
        Code::InvalidArgument,
        "BatchLimitExceededException",
    );
    c.batch_get_application_revisions(batch(vec![a; 25]))
        .await
        .unwrap();
    assert_error(
        c.batch_get_application_revisions(batch(vec![])).await,
        Code::InvalidArgument,
        "RevisionRequiredException",
    );
    assert_error(
        c.batch_get_application_revisions(BatchGetApplicationRevisionsRequest {
            application_name: "nope".into(),
            revisions: vec![github(&"a".repeat(40))],
        })
        .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
}

async fn usage_and_targets_show_in_get(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let (a, b) = (github(&"a".repeat(40)), github(&"b".repeat(40)));
    env.client
        .register_application_revision(register("web", a.clone(), ""))
        .await
        .unwrap();
    env.client
        .register_application_revision(register("web", b.clone(), ""))
        .await
        .unwrap();
    let (t1, t2) = (
        Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        Utc.timestamp_opt(1_700_000_500, 0).unwrap(),
    );
    assert!(env.revisions.mark_used("web", &a, t2).await.unwrap());
    assert!(env.revisions.mark_used("web", &a, t1).await.unwrap());
    assert!(
        !env.revisions
            .mark_used("web", &github(&"c".repeat(40)), t1)
            .await
            .unwrap()
    );
    env.revisions
        .set_target_revision("web", "prod", Some(&a))
        .await
        .unwrap();
    env.revisions
        .set_target_revision("web", "beta", Some(&a))
        .await
        .unwrap();
    env.revisions
        .set_target_revision("web", "beta", Some(&b))
        .await
        .unwrap();
    let info = env
        .client
        .get_application_revision(get("web", a))
        .await
        .unwrap()
        .into_inner()
        .revision_info
        .unwrap();
    assert_eq!(info.first_used_time.unwrap().seconds, 1_700_000_000);
    assert_eq!(info.last_used_time.unwrap().seconds, 1_700_000_500);
    assert_eq!(info.deployment_groups, ["prod"]);
    let info = env
        .client
        .get_application_revision(get("web", b))
        .await
        .unwrap()
        .into_inner()
        .revision_info
        .unwrap();
    assert_eq!(info.deployment_groups, ["beta"]);
}
