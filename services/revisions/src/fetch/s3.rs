//! S3 (and S3-compatible stores) through object_store: one `GET` carrying the version and an
//! `If-Match` of the revision's ETag, so the check and the read are a single request and the
//! bytes read are the bytes checked. A store is built once per bucket and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, StaticCredentialProvider};

use super::Fetched;
use super::config::{DEFAULT_S3_REGION, S3Config};
use super::error::{FetchError, OriginKind};

pub(super) struct S3Fetcher {
    config: S3Config,
    stores: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

/// What one fetch asks of S3.
pub(super) struct S3Object<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub version: Option<&'a str>,
    pub e_tag: Option<&'a str>,
    /// How the object is named in errors.
    pub what: String,
}

impl S3Fetcher {
    /// Builds one store for a placeholder bucket, so a configuration that cannot work fails
    /// at start-up and not at the first revision.
    pub fn new(config: &S3Config) -> Result<Self, FetchError> {
        let fetcher = Self {
            config: config.clone(),
            stores: Mutex::default(),
        };
        fetcher.build("ferry-config-check")?;
        Ok(fetcher)
    }

    pub async fn fetch(&self, object: S3Object<'_>) -> Result<Fetched, FetchError> {
        let store = self.store(object.bucket)?;
        let path = Path::parse(object.key)
            .map_err(|e| FetchError::InvalidRevision(format!("s3 key {:?}: {e}", object.key)))?;
        let options = GetOptions {
            version: object.version.map(str::to_owned),
            // S3 compares quoted entity tags, as HTTP says.
            if_match: object.e_tag.map(|t| format!("\"{t}\"")),
            ..GetOptions::default()
        };
        let result = match store.get_opts(&path, options).await {
            Ok(result) => result,
            Err(object_store::Error::Precondition { .. }) => {
                return Err(mismatch(&store, &path, &object).await);
            }
            Err(e) => return Err(s3_error(e, &object)),
        };
        let e_tag = result.meta.e_tag.as_deref().map(unquote);
        // Some S3-compatible stores ignore If-Match; compare what came back as well.
        if let (Some(expected), Some(actual)) = (object.e_tag, e_tag.as_deref())
            && expected != actual
        {
            return Err(FetchError::ETagMismatch {
                what: object.what,
                expected: expected.to_owned(),
                actual: Some(actual.to_owned()),
            });
        }
        let size = Some(result.meta.size);
        let what = object.what;
        let body = result
            .into_stream()
            .map_err(move |e| FetchError::Origin {
                origin: OriginKind::S3,
                message: format!("reading {what}: {e}"),
            })
            .boxed();
        Ok(Fetched { body, size, e_tag })
    }

    fn store(&self, bucket: &str) -> Result<Arc<AmazonS3>, FetchError> {
        // A poisoned lock only means another fetch panicked mid-insert; the map is still whole.
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = stores.get(bucket) {
            return Ok(store.clone());
        }
        let store = Arc::new(self.build(bucket)?);
        stores.insert(bucket.to_owned(), store.clone());
        Ok(store)
    }

    fn build(&self, bucket: &str) -> Result<AmazonS3, FetchError> {
        let c = &self.config;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(!c.path_style);
        if let Some(endpoint) = &c.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        // The default region gives way to AWS_REGION; a region configured on purpose wins.
        if c.region != DEFAULT_S3_REGION
            || builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .is_none()
        {
            builder = builder.with_region(&c.region);
        }
        if c.allow_http {
            builder = builder.with_allow_http(true);
        }
        match (&c.access_key_id, &c.secret_access_key) {
            // Static credentials replace the environment's entirely, session token included.
            (Some(key_id), Some(secret_key)) => {
                let credential = AwsCredential {
                    key_id: key_id.clone(),
                    secret_key: secret_key.clone(),
                    token: None,
                };
                builder =
                    builder.with_credentials(Arc::new(StaticCredentialProvider::new(credential)));
            }
            (None, None) => {}
            _ => {
                return Err(FetchError::Config(
                    "s3.access_key_id and s3.secret_access_key go together".into(),
                ));
            }
        }
        // object_store takes a virtual-hosted endpoint with the bucket in it; ferry's
        // endpoint is the store's root, shared by every bucket.
        if !c.path_style
            && let Some(endpoint) = builder.get_config_value(&AmazonS3ConfigKey::Endpoint)
        {
            builder = builder.with_endpoint(with_bucket_host(&endpoint, bucket)?);
        }
        builder
            .build()
            .map_err(|e| FetchError::Config(format!("s3: {e}")))
    }
}

/// `https://s3.example.com` → `https://BUCKET.s3.example.com`.
fn with_bucket_host(endpoint: &str, bucket: &str) -> Result<String, FetchError> {
    match endpoint.split_once("://") {
        Some((scheme, host)) => Ok(format!("{scheme}://{bucket}.{host}")),
        None => Err(FetchError::Config(format!(
            "s3.endpoint {endpoint:?} is not a URL"
        ))),
    }
}

/// If-Match failed: ask for the ETag the object has now, only to say so in the error.
async fn mismatch(store: &AmazonS3, path: &Path, object: &S3Object<'_>) -> FetchError {
    let head = GetOptions {
        version: object.version.map(str::to_owned),
        head: true,
        ..GetOptions::default()
    };
    let actual = match store.get_opts(path, head).await {
        Ok(result) => result.meta.e_tag.as_deref().map(unquote),
        Err(_) => None,
    };
    FetchError::ETagMismatch {
        what: object.what.clone(),
        expected: object.e_tag.unwrap_or_default().to_owned(),
        actual,
    }
}

fn s3_error(err: object_store::Error, object: &S3Object<'_>) -> FetchError {
    use object_store::Error as E;
    let what = object.what.clone();
    match err {
        E::NotFound { .. } => FetchError::NotFound { what },
        // S3 also answers 403 for a missing key when ferry may not list the bucket.
        E::PermissionDenied { source, .. } | E::Unauthenticated { source, .. } => {
            FetchError::Unauthorized {
                origin: OriginKind::S3,
                what,
                message: format!("access denied ({source})"),
            }
        }
        err => {
            // object_store keeps the status private: its text is all there is to tell a
            // malformed version id (400) or SlowDown after the retries from an outage.
            let text = err.to_string();
            if text.contains("SlowDown") {
                FetchError::Throttled {
                    origin: OriginKind::S3,
                    message: text,
                }
            } else if object.version.is_some() && text.contains("400") && text.contains("ersion") {
                FetchError::InvalidRevision(format!("s3 refused the version of {what}: {text}"))
            } else {
                FetchError::Origin {
                    origin: OriginKind::S3,
                    message: format!("reading {what}: {text}"),
                }
            }
        }
    }
}

fn unquote(tag: &str) -> String {
    tag.trim_matches('"').to_owned()
}
