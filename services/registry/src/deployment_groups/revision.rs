//! The JSON of a group's target revision and of its last successful and last attempted
//! deployments (`deployment_groups.target_revision`, `last_successful_deployment`,
//! `last_attempted_deployment`), written when deployments run, and read back here for
//! GetDeploymentGroup. Keys are CodeDeploy's member names, enums CodeDeploy's names.

use chrono::{DateTime, Utc};
use ferry_proto::common::v1::{self as common, BundleType, DeploymentStatus, RevisionLocationType};
use ferry_proto::registry::v1 as pb;
use serde::{Deserialize, Serialize};

use ferry_runtime::error::ApiError;

use crate::convert::{by_name, timestamp};

/// CodeDeploy's RevisionLocation, with ferry's own location kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    #[serde(with = "by_name")]
    pub revision_type: RevisionLocationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_location: Option<S3Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_hub_location: Option<Commit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_spec_content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket_location: Option<Commit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_location: Option<GitLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_location: Option<Uploaded>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    #[serde(with = "by_name::option", skip_serializing_if = "Option::is_none")]
    pub bundle_type: Option<BundleType>,
    pub version: String,
    pub e_tag: String,
}

/// A repository at a commit (GitHub's "account/repository", Bitbucket's "workspace/repository").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Commit {
    pub repository: String,
    pub commit_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Content {
    pub content: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GitLocation {
    pub url: String,
    pub commit_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Uploaded {
    pub digest: String,
    #[serde(with = "by_name::option", skip_serializing_if = "Option::is_none")]
    pub bundle_type: Option<BundleType>,
}

/// CodeDeploy's LastDeploymentInfo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDeployment {
    pub deployment_id: String,
    #[serde(with = "by_name")]
    pub status: DeploymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
}

fn bundle(kind: Option<BundleType>) -> i32 {
    kind.unwrap_or(BundleType::Unspecified) as i32
}

fn commit(c: Commit) -> (String, String) {
    (c.repository, c.commit_id)
}

impl From<Revision> for common::RevisionLocation {
    fn from(r: Revision) -> Self {
        let raw = |c: Content| common::RawString {
            content: c.content,
            sha256: c.sha256,
        };
        Self {
            revision_type: r.revision_type as i32,
            s3_location: r.s3_location.map(|s| common::S3Location {
                bucket: s.bucket,
                key: s.key,
                bundle_type: bundle(s.bundle_type),
                version: s.version,
                e_tag: s.e_tag,
            }),
            git_hub_location: r
                .git_hub_location
                .map(commit)
                .map(|(repository, commit_id)| common::GitHubLocation {
                    repository,
                    commit_id,
                }),
            string: r.string.map(raw),
            app_spec_content: r.app_spec_content.map(raw),
            bitbucket_location: r
                .bitbucket_location
                .map(commit)
                .map(|(repository, commit_id)| common::BitbucketLocation {
                    repository,
                    commit_id,
                }),
            git_location: r.git_location.map(|g| common::GitLocation {
                url: g.url,
                commit_id: g.commit_id,
            }),
            uploaded_location: r.uploaded_location.map(|u| common::UploadedLocation {
                digest: u.digest,
                bundle_type: bundle(u.bundle_type),
            }),
        }
    }
}

impl From<LastDeployment> for pb::LastDeploymentInfo {
    fn from(d: LastDeployment) -> Self {
        Self {
            deployment_id: d.deployment_id,
            status: d.status as i32,
            end_time: d.end_time.map(timestamp),
            create_time: d.create_time.map(timestamp),
        }
    }
}

/// Reads an optional stored JSON column into its wire type.
pub fn read<T, W>(json: Option<&str>) -> Result<Option<W>, ApiError>
where
    T: for<'de> Deserialize<'de> + Into<W>,
{
    json.map(|json| {
        serde_json::from_str::<T>(json)
            .map(Into::into)
            .map_err(ApiError::internal)
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_revision_reads_back_as_codedeploy_describes_it() {
        let json = r#"{"revisionType":"S3","s3Location":{"bucket":"b","key":"app.tgz","bundleType":"tgz","eTag":"x"}}"#;
        let wire: common::RevisionLocation = read::<Revision, _>(Some(json)).unwrap().unwrap();
        assert_eq!(wire.revision_type, RevisionLocationType::S3 as i32);
        let s3 = wire.s3_location.unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.key.as_str(), s3.e_tag.as_str()),
            ("b", "app.tgz", "x")
        );
        assert_eq!(s3.bundle_type, BundleType::Tgz as i32);
        assert!(
            read::<Revision, common::RevisionLocation>(None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_last_deployment_round_trips() {
        let stored = LastDeployment {
            deployment_id: "d-ABCDEFGHI".into(),
            status: DeploymentStatus::Succeeded,
            end_time: None,
            create_time: Some(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
        };
        let json = serde_json::to_string(&stored).unwrap();
        assert!(json.contains(r#""status":"Succeeded""#), "{json}");
        let wire: pb::LastDeploymentInfo = read::<LastDeployment, _>(Some(&json)).unwrap().unwrap();
        assert_eq!(wire.deployment_id, "d-ABCDEFGHI");
        assert_eq!(wire.status, DeploymentStatus::Succeeded as i32);
        assert_eq!(wire.create_time.unwrap().seconds, 1_700_000_000);
        assert!(wire.end_time.is_none());
    }

    #[test]
    fn a_corrupt_column_is_an_internal_error() {
        let err = read::<LastDeployment, pb::LastDeploymentInfo>(Some(
            r#"{"deploymentId":"d","status":"Nope"}"#,
        ))
        .unwrap_err();
        assert_eq!(err.exception(), None);
    }
}
