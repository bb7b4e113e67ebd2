use super::*;

fn s3(bucket: &str, key: &str, bundle: BundleType) -> RevisionLocation {
    RevisionLocation {
        revision_type: Type::S3 as i32,
        s3_location: Some(common::S3Location {
            bucket: bucket.into(),
            key: key.into(),
            bundle_type: bundle as i32,
            version: String::new(),
            e_tag: "\"abc\"".into(),
        }),
        ..Default::default()
    }
}

#[test]
fn an_s3_location_needs_its_bundle_type_and_loses_etag_quotes() {
    let err = Location::parse(Some(&s3("b", "k.zip", BundleType::Unspecified))).unwrap_err();
    assert_eq!(err.exception(), Some(Exception::InvalidRevision));
    let loc = Location::parse(Some(&s3("bucket", "app/k.zip", BundleType::Zip))).unwrap();
    assert_eq!(loc.wire().s3_location.as_ref().unwrap().e_tag, "abc");
    assert!(loc.immutable());
    assert_eq!(loc.s3(), Some(("bucket", "app/k.zip")));
}

#[test]
fn missing_revisions_are_required() {
    assert_eq!(
        Location::parse(None).unwrap_err().exception(),
        Some(Exception::RevisionRequired)
    );
    let typeless = RevisionLocation::default();
    assert_eq!(
        Location::parse(Some(&typeless)).unwrap_err().exception(),
        Some(Exception::RevisionRequired)
    );
}

#[test]
fn inline_content_is_keyed_by_its_sha256_which_must_match() {
    let content = "version: 0.0\nos: linux\n";
    let raw = |sha: &str| RevisionLocation {
        revision_type: Type::AppSpecContent as i32,
        app_spec_content: Some(common::RawString {
            content: content.into(),
            sha256: sha.into(),
        }),
        ..Default::default()
    };
    let sha = sha256_hex(content.as_bytes());
    let a = Location::parse(Some(&raw(""))).unwrap();
    let b = Location::parse(Some(&raw(&sha.to_uppercase()))).unwrap();
    assert_eq!(a.key(), b.key());
    assert_eq!(a.wire().app_spec_content.as_ref().unwrap().sha256, sha);
    let err = Location::parse(Some(&raw(&"0".repeat(64)))).unwrap_err();
    assert_eq!(err.exception(), Some(Exception::InvalidRevision));
}

#[test]
fn keys_tell_locations_apart_and_json_round_trips() {
    let a = Location::parse(Some(&s3("bucket", "a.zip", BundleType::Zip))).unwrap();
    let b = Location::parse(Some(&s3("bucket", "a.zip", BundleType::Tgz))).unwrap();
    assert_ne!(a.key(), b.key());
    let json = a.to_json();
    assert!(json.contains(r#""bundleType":"zip""#), "{json}");
    assert_eq!(&Location::from_json(&json).unwrap(), a.wire());
    let up = Location::uploaded(&"ab".repeat(32), BundleType::Tgz);
    assert_eq!(Location::from_json(&up.to_json()).unwrap(), *up.wire());
}

#[test]
fn an_unpinned_s3_object_may_change() {
    let mut loc = s3("bucket", "a.zip", BundleType::Zip);
    loc.s3_location.as_mut().unwrap().e_tag.clear();
    assert!(!Location::parse(Some(&loc)).unwrap().immutable());
}
