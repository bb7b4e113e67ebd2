//! `--revision`: a RevisionLocation, read as every structured flag is (`api::input`: JSON,
//! shorthand or `file://PATH`), or the whole object `ferry push` printed, whose `revision` it
//! is.

use ferry_proto::common::v1::{RevisionLocation, RevisionLocationType};
use serde_json::Value;

use crate::commands::api::input;

/// `--revision`: the `revision` of `ferry push`'s output, that whole output, or a
/// RevisionLocation in any form `api::input` reads.
pub fn revision(value: &str) -> Result<RevisionLocation, String> {
    let mut tree = input::read(value)?;
    if let Value::Object(members) = &mut tree
        && !members.contains_key("revisionType")
        && !members.contains_key("revision_type")
        && let Some(inner) = members.remove("revision")
    {
        tree = inner;
    }
    let location: RevisionLocation = input::to_message(tree)?;
    if location.revision_type == RevisionLocationType::Unspecified as i32 {
        return Err("revisionType is missing".to_owned());
    }
    Ok(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::common::v1::{BundleType, UploadedLocation};

    #[test]
    fn a_revision_reads_from_push_output_protobuf_json_aws_json_and_shorthand() {
        let uploaded = RevisionLocation {
            revision_type: RevisionLocationType::Uploaded as i32,
            uploaded_location: Some(UploadedLocation {
                digest: "ab".repeat(32),
                bundle_type: BundleType::Tgz as i32,
            }),
            ..Default::default()
        };
        let proto = r#"{"revisionType": "REVISION_LOCATION_TYPE_UPLOADED", "uploadedLocation": {"digest": "ABAB", "bundleType": "BUNDLE_TYPE_TGZ"}}"#
            .replace("ABAB", &"ab".repeat(32));
        assert_eq!(revision(&proto).unwrap(), uploaded);
        let push = format!(
            r#"{{"applicationName": "shop", "revision": {proto}, "sha256": "x", "size": 3}}"#
        );
        assert_eq!(revision(&push).unwrap(), uploaded);
        let shorthand = format!(
            "revisionType=Uploaded,uploadedLocation={{digest={},bundleType=tgz}}",
            "ab".repeat(32)
        );
        assert_eq!(revision(&shorthand).unwrap(), uploaded);

        let s3 =
            revision("revisionType=S3,s3Location={bucket=b,key=k.zip,bundleType=zip}").unwrap();
        assert_eq!(s3.revision_type, RevisionLocationType::S3 as i32);
        let location = s3.s3_location.unwrap();
        assert_eq!(
            (location.bucket.as_str(), location.bundle_type),
            ("b", BundleType::Zip as i32)
        );
        let aws = revision(r#"{"revisionType": "GitHub", "gitHubLocation": {"repository": "o/r", "commitId": "c"}}"#).unwrap();
        assert_eq!(aws.git_hub_location.unwrap().commit_id, "c");
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let err = revision("revisionType=S4").unwrap_err();
        assert!(err.contains("use one of S3, GitHub"), "{err}");
        assert!(
            revision("{\"revisionType\":")
                .unwrap_err()
                .contains("not valid JSON")
        );
        let err = revision("revisionType=S3,bucket=b").unwrap_err();
        assert!(err.contains("unknown member \"bucket\""), "{err}");
        assert!(
            revision("{}")
                .unwrap_err()
                .contains("revisionType is missing")
        );
    }
}
