//! ListApplicationRevisions: every sort, every filter, pagination and the listing's exceptions.

use chrono::{TimeZone, Utc};
use ferry_proto::revision::v1::*;
use tonic::Code;

use crate::backend_tests;
use crate::register::{github, register, s3};
use crate::support::{Backend, Env, assert_error};

backend_tests!(
    sorts_by_register_first_used_and_last_used_time,
    filters_by_bucket_prefix_and_deployment,
    pages_cover_everything_once,
    refuses_bad_filters_and_tokens,
);

fn commit(n: usize) -> String {
    format!("{n:040x}")
}

fn list(sort_by: ApplicationRevisionSortBy, order: SortOrder) -> ListApplicationRevisionsRequest {
    ListApplicationRevisionsRequest {
        application_name: "web".into(),
        sort_by: sort_by as i32,
        sort_order: order as i32,
        ..Default::default()
    }
}

/// The commit ids (or S3 keys) of a page.
fn names(response: &ListApplicationRevisionsResponse) -> Vec<String> {
    response
        .revisions
        .iter()
        .map(|r| match (&r.git_hub_location, &r.s3_location) {
            (Some(g), _) => g.commit_id.trim_start_matches('0').to_owned(),
            (_, Some(s)) => s.key.clone(),
            _ => String::new(),
        })
        .collect()
}

async fn sorts_by_register_first_used_and_last_used_time(backend: Backend) {
    use ApplicationRevisionSortBy as By;
    use SortOrder::{Ascending as Asc, Descending as Desc};
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    for n in [1, 2, 3] {
        env.client
            .register_application_revision(register("web", github(&commit(n)), ""))
            .await
            .unwrap();
    }
    let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
    // 1: first used at 30, last at 40; 3: used once at 10; 2: never.
    env.revisions
        .mark_used("web", &github(&commit(1)), at(30))
        .await
        .unwrap();
    env.revisions
        .mark_used("web", &github(&commit(1)), at(40))
        .await
        .unwrap();
    env.revisions
        .mark_used("web", &github(&commit(3)), at(10))
        .await
        .unwrap();
    let c = &mut env.client;
    let cases = [
        (By::Unspecified, SortOrder::Unspecified, ["1", "2", "3"]),
        (By::RegisterTime, Asc, ["1", "2", "3"]),
        (By::RegisterTime, Desc, ["3", "2", "1"]),
        // Never used sorts first ascending, last descending.
        (By::FirstUsedTime, Asc, ["2", "3", "1"]),
        (By::FirstUsedTime, Desc, ["1", "3", "2"]),
        (By::LastUsedTime, Asc, ["2", "3", "1"]),
        (By::LastUsedTime, Desc, ["1", "3", "2"]),
    ];
    for (by, order, expected) in cases {
        let page = c
            .list_application_revisions(list(by, order))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(names(&page), expected, "{by:?} {order:?}");
        // The same order a page at a time.
        let mut request = ListApplicationRevisionsRequest {
            page_size: 1,
            ..list(by, order)
        };
        let mut seen = Vec::new();
        loop {
            let page = c
                .list_application_revisions(request.clone())
                .await
                .unwrap()
                .into_inner();
            seen.extend(names(&page));
            if page.next_token.is_empty() {
                break;
            }
            request.next_token = page.next_token;
        }
        assert_eq!(seen, expected, "{by:?} {order:?} paged");
    }
}

async fn filters_by_bucket_prefix_and_deployment(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    env.create_app("api").await;
    for (bucket, key) in [
        ("builds", "web/1.tgz"),
        ("builds", "web/2.tgz"),
        ("builds", "api/1.tgz"),
        ("other", "web/3.tgz"),
    ] {
        env.client
            .register_application_revision(register("web", s3(bucket, key, ""), ""))
            .await
            .unwrap();
    }
    env.client
        .register_application_revision(register("web", github(&commit(9)), ""))
        .await
        .unwrap();
    env.client
        .register_application_revision(register("api", s3("builds", "web/9.tgz", ""), ""))
        .await
        .unwrap();
    env.revisions
        .set_target_revision("web", "prod", Some(&s3("builds", "web/2.tgz", "")))
        .await
        .unwrap();
    let c = &mut env.client;
    let filtered = |bucket: &str, prefix: &str, deployed: ListStateFilterAction| {
        ListApplicationRevisionsRequest {
            application_name: "web".into(),
            s3_bucket: bucket.into(),
            s3_key_prefix: prefix.into(),
            deployed: deployed as i32,
            ..Default::default()
        }
    };
    use ListStateFilterAction::{Exclude, Ignore, Include, Unspecified};
    let cases: [(&str, &str, ListStateFilterAction, &[&str]); 8] = [
        (
            "",
            "",
            Unspecified,
            &["web/1.tgz", "web/2.tgz", "api/1.tgz", "web/3.tgz", "9"],
        ),
        (
            "builds",
            "",
            Ignore,
            &["web/1.tgz", "web/2.tgz", "api/1.tgz"],
        ),
        ("builds", "web/", Unspecified, &["web/1.tgz", "web/2.tgz"]),
        ("builds", "web/1", Unspecified, &["web/1.tgz"]),
        ("builds", "WEB/", Unspecified, &[]),
        ("builds", "web_", Unspecified, &[]),
        ("", "", Include, &["web/2.tgz"]),
        ("builds", "web/", Exclude, &["web/1.tgz"]),
    ];
    for (bucket, prefix, deployed, expected) in cases {
        let page = c
            .list_application_revisions(filtered(bucket, prefix, deployed))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(names(&page), expected, "{bucket:?} {prefix:?} {deployed:?}");
    }
}

async fn pages_cover_everything_once(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    for n in 1..=5 {
        env.client
            .register_application_revision(register("web", github(&commit(n)), ""))
            .await
            .unwrap();
    }
    let c = &mut env.client;
    let mut request = ListApplicationRevisionsRequest {
        application_name: "web".into(),
        page_size: 2,
        ..Default::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = c
            .list_application_revisions(request.clone())
            .await
            .unwrap()
            .into_inner();
        pages.push(names(&page));
        if page.next_token.is_empty() {
            break;
        }
        request.next_token = page.next_token;
    }
    assert_eq!(pages, [vec!["1", "2"], vec!["3", "4"], vec!["5"]]);

    // A token belongs to its listing.
    let first = c
        .list_application_revisions(ListApplicationRevisionsRequest {
            next_token: String::new(),
            ..request.clone()
        })
        .await
        .unwrap();
    let token = first.into_inner().next_token;
    let other = ListApplicationRevisionsRequest {
        sort_order: SortOrder::Descending as i32,
        next_token: token,
        ..request.clone()
    };
    assert_error(
        c.list_application_revisions(other).await,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );
    let garbage = ListApplicationRevisionsRequest {
        next_token: "garbage".into(),
        ..request
    };
    assert_error(
        c.list_application_revisions(garbage).await,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );
}

async fn refuses_bad_filters_and_tokens(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let c = &mut env.client;
    let base = || ListApplicationRevisionsRequest {
        application_name: "web".into(),
        ..Default::default()
    };
    let cases = [
        (
            ListApplicationRevisionsRequest {
                s3_key_prefix: "web/".into(),
                ..base()
            },
            "BucketNameFilterRequiredException",
        ),
        (
            ListApplicationRevisionsRequest {
                s3_bucket: "Not_A_Bucket".into(),
                ..base()
            },
            "InvalidBucketNameFilterException",
        ),
        (
            ListApplicationRevisionsRequest {
                s3_bucket: "ok-bucket".into(),
                s3_key_prefix: "/abs".into(),
                ..base()
            },
            "InvalidKeyPrefixFilterException",
        ),
        (
            ListApplicationRevisionsRequest {
                sort_by: 99,
                ..base()
            },
            "InvalidSortByException",
        ),
        (
            ListApplicationRevisionsRequest {
                sort_order: 99,
                ..base()
            },
            "InvalidSortOrderException",
        ),
        (
            ListApplicationRevisionsRequest {
                deployed: 99,
                ..base()
            },
            "InvalidDeployedStateFilterException",
        ),
        (
            ListApplicationRevisionsRequest {
                page_size: -1,
                ..base()
            },
            "InvalidInputException",
        ),
        (
            ListApplicationRevisionsRequest {
                application_name: String::new(),
                ..base()
            },
            "ApplicationNameRequiredException",
        ),
    ];
    for (request, reason) in cases {
        assert_error(
            c.list_application_revisions(request).await,
            Code::InvalidArgument,
            reason,
        );
    }
    assert_error(
        c.list_application_revisions(ListApplicationRevisionsRequest {
            application_name: "gone".into(),
            ..base()
        })
        .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    let empty = c
        .list_application_revisions(base())
        .await
        .unwrap()
        .into_inner();
    assert!(empty.revisions.is_empty() && empty.next_token.is_empty());
}
