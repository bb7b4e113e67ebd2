//! The stored form of a revision location: CodeDeploy's RevisionLocation as JSON, with its
//! member names and enum values. The revisions service stores revisions in it and the
//! orchestrator stores deployments' revisions in it.

use crate::codedeploy::CodeDeployName;
use crate::common::v1::{
    self as common, BundleType, RevisionLocation, RevisionLocationType as Type,
};
use serde::{Deserialize, Serialize};

/// CodeDeploy's name of a BundleType value (empty when unknown).
pub fn bundle_name(value: i32) -> &'static str {
    BundleType::try_from(value)
        .ok()
        .and_then(CodeDeployName::codedeploy_name)
        .unwrap_or_default()
}

fn bundle_value(name: &str) -> i32 {
    BundleType::from_codedeploy_name(name).map_or(0, |t| t as i32)
}

/// CodeDeploy's RevisionLocation with its member names (the registry stores targets alike).
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Stored {
    revision_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_location: Option<StoredS3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    git_hub_location: Option<Commit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    string: Option<Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_spec_content: Option<Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitbucket_location: Option<Commit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    git_location: Option<GitUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uploaded_location: Option<Uploaded>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StoredS3 {
    bucket: String,
    key: String,
    bundle_type: String,
    version: String,
    e_tag: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Commit {
    repository: String,
    commit_id: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Content {
    content: String,
    sha256: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct GitUrl {
    url: String,
    commit_id: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Uploaded {
    digest: String,
    bundle_type: String,
}

impl From<&RevisionLocation> for Stored {
    fn from(w: &RevisionLocation) -> Self {
        let raw = |r: &common::RawString| Content {
            content: r.content.clone(),
            sha256: r.sha256.clone(),
        };
        Self {
            revision_type: Type::try_from(w.revision_type)
                .ok()
                .and_then(CodeDeployName::codedeploy_name)
                .unwrap_or_default()
                .to_owned(),
            s3_location: w.s3_location.as_ref().map(|s| StoredS3 {
                bucket: s.bucket.clone(),
                key: s.key.clone(),
                bundle_type: bundle_name(s.bundle_type).to_owned(),
                version: s.version.clone(),
                e_tag: s.e_tag.clone(),
            }),
            git_hub_location: w.git_hub_location.as_ref().map(|g| Commit {
                repository: g.repository.clone(),
                commit_id: g.commit_id.clone(),
            }),
            string: w.string.as_ref().map(raw),
            app_spec_content: w.app_spec_content.as_ref().map(raw),
            bitbucket_location: w.bitbucket_location.as_ref().map(|b| Commit {
                repository: b.repository.clone(),
                commit_id: b.commit_id.clone(),
            }),
            git_location: w.git_location.as_ref().map(|g| GitUrl {
                url: g.url.clone(),
                commit_id: g.commit_id.clone(),
            }),
            uploaded_location: w.uploaded_location.as_ref().map(|u| Uploaded {
                digest: u.digest.clone(),
                bundle_type: bundle_name(u.bundle_type).to_owned(),
            }),
        }
    }
}

impl From<Stored> for RevisionLocation {
    fn from(s: Stored) -> Self {
        let raw = |c: Content| common::RawString {
            content: c.content,
            sha256: c.sha256,
        };
        Self {
            revision_type: Type::from_codedeploy_name(&s.revision_type).map_or(0, |t| t as i32),
            s3_location: s.s3_location.map(|s| common::S3Location {
                bucket: s.bucket,
                key: s.key,
                bundle_type: bundle_value(&s.bundle_type),
                version: s.version,
                e_tag: s.e_tag,
            }),
            git_hub_location: s.git_hub_location.map(|c| common::GitHubLocation {
                repository: c.repository,
                commit_id: c.commit_id,
            }),
            string: s.string.map(raw),
            app_spec_content: s.app_spec_content.map(raw),
            bitbucket_location: s.bitbucket_location.map(|c| common::BitbucketLocation {
                repository: c.repository,
                commit_id: c.commit_id,
            }),
            git_location: s.git_location.map(|g| common::GitLocation {
                url: g.url,
                commit_id: g.commit_id,
            }),
            uploaded_location: s.uploaded_location.map(|u| common::UploadedLocation {
                digest: u.digest,
                bundle_type: bundle_value(&u.bundle_type),
            }),
        }
    }
}

/// The JSON of `location`, with CodeDeploy's member names.
pub fn to_json(location: &RevisionLocation) -> String {
    serde_json::to_string(&Stored::from(location)).unwrap_or_default()
}

/// The location stored as `json` by [`to_json`].
pub fn from_json(json: &str) -> Result<RevisionLocation, serde_json::Error> {
    serde_json::from_str::<Stored>(json).map(RevisionLocation::from)
}
