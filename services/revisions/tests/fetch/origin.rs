//! Reading a `RevisionLocation`, the exception table, and the configuration.

use ferry_proto::common::v1::{
    GitHubLocation, GitLocation, RawString, RevisionLocation, RevisionLocationType, S3Location,
};
use ferry_revisions::fetch::{FetchConfig, FetchError, Origin, OriginKind};
use ferry_runtime::error::{ApiError, Exception};

const SHA: &str = "6DCB09B5B57875F334F61AEBED695E2E4193DB5E";

fn location(kind: RevisionLocationType) -> RevisionLocation {
    RevisionLocation {
        revision_type: kind as i32,
        ..RevisionLocation::default()
    }
}

fn exception(result: Result<Option<Origin>, ApiError>) -> Option<Exception> {
    result.expect_err("refused").exception()
}

#[test]
fn locations_become_origins() {
    let mut s3 = location(RevisionLocationType::S3);
    s3.s3_location = Some(S3Location {
        bucket: "revisions".into(),
        key: "app/v1.zip".into(),
        e_tag: "\"abc123\"".into(),
        ..S3Location::default()
    });
    assert_eq!(
        Origin::from_location(&s3).expect("valid"),
        Some(Origin::S3 {
            bucket: "revisions".into(),
            key: "app/v1.zip".into(),
            version: None,
            e_tag: Some("abc123".into()),
        })
    );

    let mut github = location(RevisionLocationType::GitHub);
    github.git_hub_location = Some(GitHubLocation {
        repository: "acme/web.site".into(),
        commit_id: SHA.into(),
    });
    assert_eq!(
        Origin::from_location(&github).expect("valid"),
        Some(Origin::GitHub {
            repository: "acme/web.site".into(),
            commit: SHA.to_ascii_lowercase(),
        })
    );

    // The service keeps these itself.
    let mut inline = location(RevisionLocationType::AppSpecContent);
    inline.app_spec_content = Some(RawString::default());
    assert_eq!(Origin::from_location(&inline).expect("valid"), None);
    let uploaded = location(RevisionLocationType::Uploaded);
    assert_eq!(Origin::from_location(&uploaded).expect("valid"), None);
}

#[test]
fn malformed_locations_are_codedeploy_exceptions() {
    use Exception::{InvalidRevision, RevisionRequired};
    assert_eq!(
        exception(Origin::from_location(&RevisionLocation::default())),
        Some(RevisionRequired)
    );
    assert_eq!(
        exception(Origin::from_location(&location(RevisionLocationType::S3))),
        Some(RevisionRequired)
    );

    let s3 = |bucket: &str, key: &str| {
        let mut loc = location(RevisionLocationType::S3);
        loc.s3_location = Some(S3Location {
            bucket: bucket.into(),
            key: key.into(),
            ..S3Location::default()
        });
        Origin::from_location(&loc)
    };
    for (bucket, key) in [
        ("", "k"),
        ("b", ""),
        ("a/b", "k"),
        ("b", "/k"),
        ("b", "a//k"),
    ] {
        assert_eq!(
            exception(s3(bucket, key)),
            Some(InvalidRevision),
            "{bucket} {key}"
        );
    }

    let github = |repository: &str, commit: &str| {
        let mut loc = location(RevisionLocationType::GitHub);
        loc.git_hub_location = Some(GitHubLocation {
            repository: repository.into(),
            commit_id: commit.into(),
        });
        Origin::from_location(&loc)
    };
    for (repository, commit) in [
        ("acme", SHA),
        ("acme/web/x", SHA),
        ("../web", SHA),
        ("acme/web", "main"),
        ("acme/web", "6dcb09b"),
        ("acme/web", ""),
    ] {
        let got = exception(github(repository, commit));
        assert_eq!(got, Some(InvalidRevision), "{repository} {commit}");
    }

    let mut git = location(RevisionLocationType::Git);
    git.git_location = Some(GitLocation {
        url: "ext::sh -c id".into(),
        commit_id: SHA.into(),
    });
    assert_eq!(
        exception(Origin::from_location(&git)),
        Some(InvalidRevision)
    );
}

#[test]
fn every_failure_has_its_exception() {
    let cases = [
        (
            FetchError::NotFound { what: "x".into() },
            Some(Exception::RevisionDoesNotExist),
        ),
        (
            FetchError::ETagMismatch {
                what: "x".into(),
                expected: "a".into(),
                actual: None,
            },
            Some(Exception::InvalidRevision),
        ),
        (
            unauthorized(OriginKind::GitHub),
            Some(Exception::InvalidGitHubAccountToken),
        ),
        (
            unauthorized(OriginKind::S3),
            Some(Exception::InvalidRevision),
        ),
        (
            FetchError::Throttled {
                origin: OriginKind::GitHub,
                message: "x".into(),
            },
            Some(Exception::Throttling),
        ),
        (
            origin_failed(OriginKind::Git),
            Some(Exception::InvalidRevision),
        ),
        (origin_failed(OriginKind::S3), None),
        (origin_failed(OriginKind::Bitbucket), None),
    ];
    for (err, expected) in cases {
        let text = err.to_string();
        assert_eq!(ApiError::from(err).exception(), expected, "{text}");
    }
}

fn unauthorized(origin: OriginKind) -> FetchError {
    FetchError::Unauthorized {
        origin,
        what: "x".into(),
        message: "401".into(),
    }
}

fn origin_failed(origin: OriginKind) -> FetchError {
    FetchError::Origin {
        origin,
        message: "502".into(),
    }
}

#[test]
fn configuration_reads_and_hides_its_secrets() {
    let config: FetchConfig = serde_json::from_value(serde_json::json!({
        "s3": { "endpoint": "http://127.0.0.1:9000", "path_style": true,
                "access_key_id": "AKID", "secret_access_key": "SECRET-KEY" },
        "github": { "token": "ghp_SECRET" },
        "bitbucket": { "username": "me", "app_password": "BB-SECRET" },
    }))
    .expect("config");
    assert_eq!(config.s3.region, "us-east-1");
    assert_eq!(config.github.api_url, "https://api.github.com");
    assert_eq!(config.git.timeout_secs, 600);
    let debug = format!("{config:?}");
    for secret in ["SECRET-KEY", "ghp_SECRET", "BB-SECRET"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    let unknown = serde_json::json!({ "s3": { "bucket": "x" } });
    assert!(serde_json::from_value::<FetchConfig>(unknown).is_err());
}
