//! GitHub and Bitbucket Cloud against local servers that follow their documented endpoints.

use ferry_revisions::fetch::{
    BitbucketConfig, FetchConfig, FetchError, Fetchers, GitHubConfig, Origin, OriginKind,
};
use ferry_runtime::error::{ApiError, Exception};

use crate::support::web::{self, Archives, GitHub};
use crate::support::{entries, read_all, tgz};

const COMMIT: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const UNKNOWN: &str = "0000000000000000000000000000000000000001";

fn archives(repository: &str, top: &str) -> (Archives, Vec<u8>) {
    let bytes = tgz(
        top,
        &[
            ("appspec.yml", "version: 0.0\nos: linux\n"),
            ("scripts/start.sh", "#!/bin/sh\necho started\n"),
        ],
    );
    let archives = [((repository.to_owned(), COMMIT.to_owned()), bytes.clone())];
    (archives.into_iter().collect(), bytes)
}

fn github_fetchers(github: &GitHub, token: &str) -> Fetchers {
    let config = FetchConfig {
        github: GitHubConfig {
            api_url: github.api_url(),
            token: Some(token.into()),
        },
        ..FetchConfig::default()
    };
    Fetchers::new(&config).expect("fetchers")
}

fn on_github(repository: &str, commit: &str) -> Origin {
    Origin::GitHub {
        repository: repository.into(),
        commit: commit.into(),
    }
}

#[tokio::test]
async fn github_tarball_follows_the_redirect_without_the_token() {
    let (archives, bytes) = archives("acme/web", "acme-web-6dcb09b");
    let github = GitHub::start("s3cr3t", archives).await;
    let fetchers = github_fetchers(&github, "s3cr3t");

    let fetched = fetchers
        .fetch(&on_github("acme/web", COMMIT))
        .await
        .expect("fetch");
    assert_eq!(fetched.e_tag.as_deref(), Some(COMMIT));
    let body = read_all(fetched).await.expect("body");
    assert_eq!(body, bytes);
    let files = entries(&body, true);
    assert_eq!(files[0].0, "acme-web-6dcb09b/appspec.yml");

    let seen = github.seen.lock().expect("seen");
    assert_eq!(seen.api_auth, [Some("Bearer s3cr3t".to_owned())]);
    // The download host is another host:port: the token stays with the API.
    assert_eq!(seen.download_auth, [None]);
    assert_eq!(fetchers.origin_reads(), 1);
}

#[tokio::test]
async fn github_failures_map_to_codedeploy_exceptions() {
    let (archives, _) = archives("acme/web", "acme-web-6dcb09b");
    let github = GitHub::start("s3cr3t", archives).await;
    let fetchers = github_fetchers(&github, "s3cr3t");

    let unknown = fetchers.fetch(&on_github("acme/web", UNKNOWN)).await;
    let unknown = unknown.expect_err("unknown commit");
    assert!(
        matches!(unknown, FetchError::NotFound { .. }),
        "{unknown:?}"
    );
    assert_eq!(
        ApiError::from(unknown).exception(),
        Some(Exception::RevisionDoesNotExist)
    );

    let limited = fetchers.fetch(&on_github("acme/limited", COMMIT)).await;
    let limited = limited.expect_err("rate limited");
    assert!(
        matches!(limited, FetchError::Throttled { .. }),
        "{limited:?}"
    );
    assert_eq!(
        ApiError::from(limited).exception(),
        Some(Exception::Throttling)
    );

    // GitHub failing is neither the caller's mistake nor a CodeDeploy exception.
    let broken = fetchers.fetch(&on_github("acme/broken", COMMIT)).await;
    let broken = broken.expect_err("502");
    assert!(
        matches!(
            broken,
            FetchError::Origin {
                origin: OriginKind::GitHub,
                ..
            }
        ),
        "{broken:?}"
    );
    assert_eq!(ApiError::from(broken).exception(), None);

    let wrong = github_fetchers(&github, "not-the-token");
    let err = wrong.fetch(&on_github("acme/web", COMMIT)).await;
    let err = err.expect_err("bad credentials");
    assert!(matches!(err, FetchError::Unauthorized { .. }), "{err:?}");
    assert_eq!(
        ApiError::from(err).exception(),
        Some(Exception::InvalidGitHubAccountToken)
    );

    // A branch name never reaches GitHub.
    let branch = fetchers.fetch(&on_github("acme/web", "main")).await;
    let branch = branch.expect_err("a branch");
    assert_eq!(
        ApiError::from(branch).exception(),
        Some(Exception::InvalidRevision)
    );
    assert_eq!(fetchers.origin_reads(), 3);
}

#[tokio::test]
async fn bitbucket_archive_with_basic_auth() {
    let (archives, bytes) = archives("team/api", "team-api-6dcb09b5b578");
    let server = web::bitbucket("deployer", "app-password", archives).await;
    let config = |password: Option<&str>| FetchConfig {
        bitbucket: BitbucketConfig {
            base_url: server.url(),
            username: password.map(|_| "deployer".to_owned()),
            app_password: password.map(str::to_owned),
        },
        ..FetchConfig::default()
    };
    let on_bitbucket = |commit: &str| Origin::Bitbucket {
        repository: "team/api".into(),
        commit: commit.into(),
    };
    let fetchers = Fetchers::new(&config(Some("app-password"))).expect("fetchers");

    let fetched = fetchers.fetch(&on_bitbucket(COMMIT)).await.expect("fetch");
    assert_eq!(read_all(fetched).await.expect("body"), bytes);

    let unknown = fetchers.fetch(&on_bitbucket(UNKNOWN)).await;
    let unknown = unknown.expect_err("unknown commit");
    assert_eq!(
        ApiError::from(unknown).exception(),
        Some(Exception::RevisionDoesNotExist)
    );

    for password in [None, Some("wrong")] {
        let fetchers = Fetchers::new(&config(password)).expect("fetchers");
        let err = fetchers.fetch(&on_bitbucket(COMMIT)).await;
        let err = err.expect_err("no access");
        assert!(
            matches!(
                err,
                FetchError::Unauthorized {
                    origin: OriginKind::Bitbucket,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            ApiError::from(err).exception(),
            Some(Exception::InvalidRevision)
        );
    }
}
