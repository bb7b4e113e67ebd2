//! ResolveRevision (one origin read however many resolve at once; uploads, inline content,
//! invalid AppSpecs) and ValidateAppSpec.

use ferry_proto::common::v1::*;
use ferry_proto::revision::v1::validate_app_spec_request::Source;
use ferry_proto::revision::v1::*;
use futures::StreamExt;
use tonic::Code;

use crate::backend_tests;
use crate::bundles::upload_messages;
use crate::register::{register, s3};
use crate::support::{APPSPEC, Backend, Env, assert_error, sample_bundle, tgz};

backend_tests!(
    concurrent_resolves_read_the_origin_once,
    uploads_and_inline_content_resolve,
    an_invalid_appspec_is_an_invalid_revision,
    validate_inline_content,
);

fn resolve(app: &str, revision: RevisionLocation) -> ResolveRevisionRequest {
    ResolveRevisionRequest {
        application_name: app.into(),
        revision: Some(revision),
    }
}

async fn upload(env: &mut Env, bytes: &[u8]) -> RevisionLocation {
    let messages = upload_messages(UploadBundleHeader::default(), bytes, 64 * 1024);
    env.client
        .upload_bundle(futures::stream::iter(messages))
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
}

async fn concurrent_resolves_read_the_origin_once(backend: Backend) {
    let mut env = Env::start_with_s3(backend).await;
    env.create_app("web").await;
    let moto = env.moto.as_ref().unwrap();
    moto.create_bucket("builds").await;
    let bundle = sample_bundle(6 << 20);
    let e_tag = moto.put("builds", "web/app.tgz", bundle.clone()).await;
    let unpinned = s3("builds", "web/app.tgz", "");
    env.client
        .register_application_revision(register("web", unpinned.clone(), ""))
        .await
        .unwrap();

    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(env.another_client().await);
    }
    let calls = clients
        .iter_mut()
        .map(|c| c.resolve_revision(resolve("web", unpinned.clone())));
    let results = futures::future::join_all(calls).await;
    assert_eq!(
        env.revisions.origin_reads(),
        1,
        "one origin read for 4 concurrent resolves"
    );
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bundle));
    for result in results {
        let resolved = result.unwrap().into_inner();
        assert_eq!(
            (resolved.sha256.as_str(), resolved.size),
            (sha.as_str(), bundle.len() as u64)
        );
        assert_eq!(resolved.bundle_type, BundleType::Tgz as i32);
        let spec = resolved.app_spec.unwrap();
        assert_eq!(
            (spec.compute_platform, spec.os.as_str(), spec.files),
            (ComputePlatform::Server as i32, "linux", 1)
        );
        assert_eq!(spec.hooks.len(), 1);
        assert_eq!(spec.hooks[0].lifecycle_event, "ApplicationStart");
        let hook = &spec.hooks[0].hooks[0];
        assert_eq!(
            (
                hook.location.as_str(),
                hook.timeout_seconds,
                hook.runas.as_str()
            ),
            ("scripts/start.sh", 60, "root")
        );
    }
    // The fetched bundle is downloadable by its digest.
    let downloaded: Vec<u8> = env
        .client
        .download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .flat_map(|m| futures::stream::iter(m.unwrap().chunk))
        .collect()
        .await;
    assert!(downloaded == bundle);

    // An object that may change is read again; one pinned by its ETag is read once.
    env.client
        .resolve_revision(resolve("web", unpinned))
        .await
        .unwrap();
    assert_eq!(env.revisions.origin_reads(), 2);
    let pinned = s3("builds", "web/app.tgz", &e_tag);
    env.client
        .resolve_revision(resolve("", pinned.clone()))
        .await
        .unwrap();
    env.client
        .resolve_revision(resolve("", pinned))
        .await
        .unwrap();
    assert_eq!(env.revisions.origin_reads(), 3);

    assert_error(
        env.client
            .resolve_revision(resolve("web", s3("builds", "web/missing.tgz", "")))
            .await,
        Code::NotFound,
        "RevisionDoesNotExistException",
    );
    assert_error(
        env.client
            .resolve_revision(resolve("web", s3("builds", "web/app.tgz", "0123")))
            .await,
        Code::InvalidArgument,
        "InvalidRevisionException",
    );
}

const LAMBDA: &str = r#"version: 0.0
Resources:
  - myLambdaFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: "myLambdaFunction"
        Alias: "myLambdaFunctionAlias"
        CurrentVersion: "1"
        TargetVersion: "2"
Hooks:
  - BeforeAllowTraffic: "ValidateBeforeTrafficShift"
"#;

async fn uploads_and_inline_content_resolve(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let location = upload(&mut env, &sample_bundle(100_000)).await;
    let resolved = env
        .client
        .resolve_revision(resolve("web", location))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resolved.app_spec.unwrap().compute_platform,
        ComputePlatform::Server as i32
    );

    let content = RevisionLocation {
        revision_type: RevisionLocationType::AppSpecContent as i32,
        app_spec_content: Some(RawString {
            content: LAMBDA.into(),
            sha256: String::new(),
        }),
        ..Default::default()
    };
    let resolved = env
        .client
        .resolve_revision(resolve("web", content))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.bundle_type, BundleType::Yaml as i32);
    let spec = resolved.app_spec.unwrap();
    assert_eq!(spec.compute_platform, ComputePlatform::Lambda as i32);
    assert_eq!(
        spec.hooks[0].hooks[0].location,
        "ValidateBeforeTrafficShift"
    );
    assert_eq!(
        env.revisions.origin_reads(),
        0,
        "nothing came from an origin"
    );

    let unknown = RevisionLocation {
        revision_type: RevisionLocationType::Uploaded as i32,
        uploaded_location: Some(UploadedLocation {
            digest: "cd".repeat(32),
            bundle_type: 0,
        }),
        ..Default::default()
    };
    assert_error(
        env.client.resolve_revision(resolve("", unknown)).await,
        Code::NotFound,
        "RevisionDoesNotExistException",
    );
    assert_error(
        env.client
            .resolve_revision(resolve("gone", s3("builds", "x.tgz", "")))
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
}

async fn an_invalid_appspec_is_an_invalid_revision(backend: Backend) {
    let mut env = Env::start(backend).await;
    let missing_script = APPSPEC.replace("scripts/start.sh", "scripts/missing.sh");
    let bundle = tgz(&[
        ("appspec.yml", missing_script.as_bytes(), 0o644),
        ("index.html", b"hi", 0o644),
    ]);
    let location = upload(&mut env, &bundle).await;
    let status = env
        .client
        .resolve_revision(resolve("", location.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("scripts/missing.sh"),
        "{}",
        status.message()
    );
    let report = env
        .client
        .validate_app_spec(ValidateAppSpecRequest {
            source: Some(Source::Revision(location)),
            application_name: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!report.valid);
    let problem = report
        .problems
        .iter()
        .find(|p| p.severity == Severity::Error as i32)
        .unwrap();
    assert_eq!(problem.path, "hooks.ApplicationStart[0].location");
    assert!(problem.line > 0, "{problem:?}");

    let no_appspec = upload(&mut env, &tgz(&[("index.html", b"hi", 0o644)])).await;
    let status = env
        .client
        .resolve_revision(resolve("", no_appspec))
        .await
        .unwrap_err();
    assert!(status.message().contains("appspec"), "{}", status.message());
}

async fn validate_inline_content(backend: Backend) {
    let mut env = Env::start(backend).await;
    let validate = |content: &str| ValidateAppSpecRequest {
        source: Some(Source::Content(content.into())),
        application_name: String::new(),
    };
    let c = &mut env.client;
    let ok = c
        .validate_app_spec(validate(APPSPEC))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid, "{:?}", ok.problems);
    assert!(
        ok.problems
            .iter()
            .all(|p| p.severity != Severity::Error as i32)
    );

    let bad = "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/x.sh\n      timout: 10\n  Nonsense:\n    - location: y.sh\n";
    let report = c
        .validate_app_spec(validate(bad))
        .await
        .unwrap()
        .into_inner();
    assert!(!report.valid);
    let errors: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error as i32)
        .collect();
    assert!(
        errors.len() >= 2,
        "every problem, not just the first: {errors:?}"
    );
    let typo = errors
        .iter()
        .find(|p| p.path.contains("timout"))
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert_eq!(typo.line, 6);
    assert!(
        errors
            .iter()
            .any(|p| p.path.contains("Nonsense") && p.line == 7),
        "{errors:?}"
    );

    assert_error(
        c.validate_app_spec(ValidateAppSpecRequest::default()).await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
}
