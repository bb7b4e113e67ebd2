//! ferry's wire types: prost messages and tonic clients/servers for every package under
//! `proto/`, the descriptor set that reflection serves, and the one table that converts each
//! enum to and from CodeDeploy's string value.
//!
//! Client and server code sit behind the `client` and `server` features, so the agent does
//! not compile the orchestrator's server.

pub mod codedeploy;
#[cfg(feature = "json")]
pub mod revision_json;

/// The encoded `FileDescriptorSet` of every ferry package (with its imports), for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ferry_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("ferry.common.v1");
    }
}

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("ferry.registry.v1");

        /// The fully qualified gRPC service name, as reflection and health list it.
        pub const SERVICE_NAME: &str = "ferry.registry.v1.RegistryService";
    }
}

pub mod revision {
    // `ValidateAppSpecRequest.source` is a oneof of a string and a whole RevisionLocation.
    #[allow(clippy::large_enum_variant)]
    pub mod v1 {
        tonic::include_proto!("ferry.revision.v1");

        /// The fully qualified gRPC service name, as reflection and health list it.
        pub const SERVICE_NAME: &str = "ferry.revision.v1.RevisionService";
    }
}

pub mod agent {
    // Generated code: a oneof of whole messages (a Command carries a revision) is large, and
    // boxing it would change every caller's construction for no measurable gain.
    #[allow(clippy::large_enum_variant)]
    pub mod v1 {
        tonic::include_proto!("ferry.agent.v1");

        /// The fully qualified gRPC service name, as reflection and health list it.
        pub const SERVICE_NAME: &str = "ferry.agent.v1.AgentService";
    }
}

pub mod deploy {
    pub mod v1 {
        tonic::include_proto!("ferry.deploy.v1");

        /// The fully qualified gRPC service name, as reflection and health list it.
        pub const SERVICE_NAME: &str = "ferry.deploy.v1.DeploymentService";
    }
}
