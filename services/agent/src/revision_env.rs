//! The hook environment a revision contributes: CodeDeploy's BUNDLE_* variables, and ferry's
//! for the revision types CodeDeploy does not have.

use ferry_proto::common::v1::RevisionLocation;

/// `(name, value)` pairs for the revision; empty values are left out.
pub fn bundle_env(
    location: Option<&RevisionLocation>,
    sha256: Option<&str>,
) -> Vec<(String, String)> {
    let mut env: Vec<(&str, String)> = Vec::new();
    if let Some(location) = location {
        if let Some(s3) = &location.s3_location {
            env.push(("BUNDLE_BUCKET", s3.bucket.clone()));
            env.push(("BUNDLE_KEY", s3.key.clone()));
            env.push(("BUNDLE_VERSION", s3.version.clone()));
            env.push(("BUNDLE_ETAG", s3.e_tag.clone()));
        }
        if let Some(github) = &location.git_hub_location {
            env.push(("BUNDLE_COMMIT", github.commit_id.clone()));
            env.push(("BUNDLE_REPOSITORY", github.repository.clone()));
        }
        if let Some(bitbucket) = &location.bitbucket_location {
            env.push(("BUNDLE_COMMIT", bitbucket.commit_id.clone()));
            env.push(("BUNDLE_REPOSITORY", bitbucket.repository.clone()));
        }
        if let Some(git) = &location.git_location {
            env.push(("BUNDLE_COMMIT", git.commit_id.clone()));
            env.push(("BUNDLE_REPOSITORY", git.url.clone()));
        }
    }
    if let Some(sha256) = sha256 {
        env.push(("BUNDLE_SHA256", sha256.to_owned()));
    }
    env.into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::common::v1::{GitHubLocation, S3Location};

    #[test]
    fn s3_and_github_get_codedeploys_names() {
        let s3 = RevisionLocation {
            s3_location: Some(S3Location {
                bucket: "b".into(),
                key: "k.zip".into(),
                e_tag: "e".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            bundle_env(Some(&s3), None),
            vec![
                ("BUNDLE_BUCKET".to_owned(), "b".to_owned()),
                ("BUNDLE_KEY".to_owned(), "k.zip".to_owned()),
                ("BUNDLE_ETAG".to_owned(), "e".to_owned()),
            ]
        );
        let github = RevisionLocation {
            git_hub_location: Some(GitHubLocation {
                repository: "o/r".into(),
                commit_id: "abc".into(),
            }),
            ..Default::default()
        };
        let env = bundle_env(Some(&github), Some("00ff"));
        assert!(env.contains(&("BUNDLE_COMMIT".to_owned(), "abc".to_owned())));
        assert!(env.contains(&("BUNDLE_SHA256".to_owned(), "00ff".to_owned())));
    }
}
