//! What the registered file descriptor sets tell the server: the reflection services, and
//! which methods stream (the request timeout leaves those alone).

use std::collections::HashSet;

use prost::Message as _;
use prost_types::FileDescriptorSet;
use tonic_reflection::server::{Builder, v1, v1alpha};

/// The descriptor sets every server serves besides the service's own: health, and both
/// reflection versions (so each reflection service lists the other, too).
pub(crate) const BUILTIN: [&[u8]; 3] = [
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

/// Paths (`/package.Service/Method`) of every client-, server- or bidi-streaming method.
pub(crate) fn streaming_methods(sets: &[&[u8]]) -> Result<HashSet<String>, prost::DecodeError> {
    let mut paths = HashSet::new();
    for set in sets {
        for file in FileDescriptorSet::decode(*set)?.file {
            let package = file.package();
            for service in &file.service {
                let service_name = if package.is_empty() {
                    service.name().to_owned()
                } else {
                    format!("{package}.{}", service.name())
                };
                for method in &service.method {
                    if method.client_streaming() || method.server_streaming() {
                        paths.insert(format!("/{service_name}/{}", method.name()));
                    }
                }
            }
        }
    }
    Ok(paths)
}

fn builder<'a>(sets: &[&'a [u8]]) -> Builder<'a> {
    // Registered explicitly (rather than `include_reflection_service`, which adds only its own
    // version) so v1 and v1alpha clients both see both reflection services.
    sets.iter().fold(
        Builder::configure().include_reflection_service(false),
        |builder, set| builder.register_encoded_file_descriptor_set(set),
    )
}

/// `grpc.reflection.v1` over every set; grpcurl ≥ 1.9 and newer clients use it.
pub(crate) fn reflection_v1(
    sets: &[&'static [u8]],
) -> Result<v1::ServerReflectionServer<impl v1::ServerReflection>, tonic_reflection::server::Error>
{
    builder(sets).build_v1()
}

/// `grpc.reflection.v1alpha` over every set; grpcurl 1.8 and Python's grpcio-reflection use it.
pub(crate) fn reflection_v1alpha(
    sets: &[&'static [u8]],
) -> Result<
    v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
    tonic_reflection::server::Error,
> {
    builder(sets).build_v1alpha()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_streaming_methods() {
        let paths = streaming_methods(&BUILTIN).expect("builtin sets decode");
        assert!(paths.contains("/grpc.health.v1.Health/Watch"));
        assert!(paths.contains("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
        assert!(paths.contains("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
        assert!(!paths.contains("/grpc.health.v1.Health/Check"));
    }
}
