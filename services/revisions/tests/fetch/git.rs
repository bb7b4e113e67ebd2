//! git remotes: real repositories made with the git CLI, over file:// and dumb HTTP.

use std::time::Duration;

use ferry_revisions::fetch::{FetchConfig, FetchError, Fetchers, GitConfig, Origin};
use ferry_runtime::error::{ApiError, Exception};

use crate::support::repo::Repo;
use crate::support::{entries, read_all, web};

fn at(url: &str, commit: &str) -> Origin {
    Origin::Git {
        url: url.into(),
        commit: commit.into(),
    }
}

fn fetchers() -> Fetchers {
    Fetchers::new(&FetchConfig::default()).expect("fetchers")
}

/// Two commits: the first is no branch tip once the second exists.
fn two_commits() -> (Repo, String, String) {
    let repo = Repo::new();
    let first = repo.commit(
        &[
            ("appspec.yml", "version: 0.0\nos: linux\n"),
            ("scripts/start.sh", "echo one\n"),
        ],
        "first",
    );
    let second = repo.commit(
        &[
            ("scripts/start.sh", "echo two\n"),
            ("web/index.html", "<p>hi</p>\n"),
        ],
        "second",
    );
    (repo, first, second)
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
        .collect()
}

#[tokio::test]
async fn a_commit_is_archived_from_a_file_remote() {
    let (repo, first, second) = two_commits();
    let fetchers = fetchers();

    let fetched = fetchers
        .fetch(&at(&repo.url(), &second))
        .await
        .expect("fetch");
    assert_eq!((fetched.size, fetched.e_tag.as_deref()), (None, None));
    let tar = read_all(fetched).await.expect("body");
    assert_eq!(
        entries(&tar, false),
        files(&[
            ("appspec.yml", "version: 0.0\nos: linux\n"),
            ("scripts/start.sh", "echo two\n"),
            ("web/index.html", "<p>hi</p>\n"),
        ])
    );

    // An older commit, by its id alone.
    let tar = read_all(
        fetchers
            .fetch(&at(&repo.url(), &first))
            .await
            .expect("fetch"),
    )
    .await
    .expect("body");
    assert_eq!(
        entries(&tar, false),
        files(&[
            ("appspec.yml", "version: 0.0\nos: linux\n"),
            ("scripts/start.sh", "echo one\n"),
        ])
    );
    assert_eq!(fetchers.origin_reads(), 2);
}

#[tokio::test]
async fn dumb_http_falls_back_to_fetching_the_branches() {
    let (repo, first, _) = two_commits();
    let bare = repo.bare_for_dumb_http();
    let server = web::static_files(bare.path().to_path_buf()).await;

    let url = format!("{}/", server.url());
    let tar = read_all(fetchers().fetch(&at(&url, &first)).await.expect("fetch"))
        .await
        .expect("body");
    assert_eq!(entries(&tar, false)[1].1, "echo one\n");
}

#[tokio::test]
async fn unknown_commits_and_repositories_do_not_exist() {
    let (repo, _, _) = two_commits();
    let fetchers = fetchers();
    let missing_dir = repo.dir.path().join("no-such-repository");
    let cases = [
        at(&repo.url(), "0123456789abcdef0123456789abcdef01234567"),
        at(
            &format!("file://{}", missing_dir.display()),
            &"a".repeat(40),
        ),
    ];
    for origin in cases {
        let err = fetchers.fetch(&origin).await.expect_err("missing");
        assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
        assert_eq!(
            ApiError::from(err).exception(),
            Some(Exception::RevisionDoesNotExist)
        );
    }
}

#[tokio::test]
async fn only_commit_ids_and_known_transports_reach_git() {
    let (repo, first, _) = two_commits();
    let marker = repo.dir.path().join("pwned");
    let ext = format!("ext::sh -c touch% {}", marker.display());
    let fetchers = fetchers();
    let cases = [
        at(&repo.url(), "main"),
        at(&repo.url(), &first[..12]),
        at(&ext, &first),
        at(&repo.dir.path().display().to_string(), &first),
        at("git@github.com:acme/web.git", &first),
        at("fd::3", &first),
    ];
    for origin in cases {
        let err = fetchers.fetch(&origin).await.expect_err("refused");
        assert!(matches!(err, FetchError::InvalidRevision(_)), "{err:?}");
        assert_eq!(
            ApiError::from(err).exception(),
            Some(Exception::InvalidRevision)
        );
    }
    assert!(!marker.exists(), "ext:: ran a command");
    assert_eq!(fetchers.origin_reads(), 0);
}

#[tokio::test]
async fn a_remote_that_never_answers_times_out() {
    let server = web::silent().await;
    let config = FetchConfig {
        git: GitConfig {
            timeout_secs: 1,
            ..GitConfig::default()
        },
        ..FetchConfig::default()
    };
    let fetchers = Fetchers::new(&config).expect("fetchers");
    let origin = at(&format!("{}/repo.git", server.url()), &"b".repeat(40));
    let result = tokio::time::timeout(Duration::from_secs(30), fetchers.fetch(&origin))
        .await
        .expect("the fetcher's own time-out comes first");
    let err = result.expect_err("timed out");
    assert!(matches!(err, FetchError::TimedOut { .. }), "{err:?}");
}
