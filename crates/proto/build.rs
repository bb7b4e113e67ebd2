//! Compiles every package under `proto/` with protox (pure Rust, so no `protoc` is needed) and
//! generates prost messages plus tonic clients and servers. One descriptor set per package is
//! written next to the generated code for gRPC reflection.

use std::path::PathBuf;

use prost::Message;

const PACKAGES: &[(&str, &str)] = &[
    ("ferry.common.v1", "ferry/common/v1/common.proto"),
    ("ferry.registry.v1", "ferry/registry/v1/registry.proto"),
    ("ferry.revision.v1", "ferry/revision/v1/revision.proto"),
    ("ferry.agent.v1", "ferry/agent/v1/agent.proto"),
    ("ferry.deploy.v1", "ferry/deploy/v1/deploy.proto"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.display());

    let files: Vec<PathBuf> = PACKAGES.iter().map(|(_, f)| root.join(f)).collect();
    let fds = protox::compile(&files, [&root])?;

    // One descriptor set for everything: reflection resolves imports across packages with it.
    std::fs::write(out.join("ferry_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(cfg!(feature = "client"))
        .build_server(cfg!(feature = "server"))
        .compile_fds(fds)?;
    Ok(())
}
