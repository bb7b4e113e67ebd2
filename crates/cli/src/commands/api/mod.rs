//! The service operations, named and flagged as `aws deploy` names them: what every one of
//! them shares (the endpoint, output formats, errors, JSON in and out) lives here; the
//! commands live in `registry.rs` (applications, deployment groups and configurations,
//! on-premises instances) and `deploy/` (revisions, deployments, targets, waiting, watching).

mod deploy;
mod registry;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use tonic::transport::Channel;

#[derive(Subcommand)]
pub enum ApiCommand {
    #[command(flatten)]
    Registry(registry::RegistryCommand),
    #[command(flatten)]
    Deploy(deploy::DeployCommand),
}

pub fn run(command: ApiCommand) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match command {
            ApiCommand::Registry(command) => registry::run(command).await,
            ApiCommand::Deploy(command) => deploy::run(command).await,
        }
    })
}

/// Exit status when the service refused the call (the CodeDeploy exception is printed).
pub const EXIT_SERVICE_ERROR: u8 = 1;

/// The endpoint and output format, taken by every service command.
#[derive(Args, Clone, Debug)]
pub struct Global {
    /// The ferry endpoint (`ferry up`, or a gateway in front of the services).
    #[arg(long, env = "FERRY_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,
    /// How to print the answer.
    #[arg(long, value_enum, env = "FERRY_OUTPUT", default_value_t = Output::Json)]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
    Yaml,
    Table,
}

impl Global {
    /// A channel to the endpoint (connected on first use).
    pub fn channel(&self) -> anyhow::Result<Channel> {
        let endpoint = ferry_runtime::telemetry::endpoint(&self.endpoint)
            .with_context(|| format!("--endpoint {:?} is not an address", self.endpoint))?;
        Ok(endpoint.connect_lazy())
    }
}

fn pool() -> anyhow::Result<DescriptorPool> {
    DescriptorPool::decode(ferry_proto::FILE_DESCRIPTOR_SET).context("reading ferry's descriptors")
}

/// `message` (of protobuf type `full_name`, e.g. `ferry.deploy.v1.DeploymentInfo`) as JSON,
/// with protobuf's JSON mapping (lowerCamelCase names, enum value names).
pub fn to_json(message: &impl Message, full_name: &str) -> anyhow::Result<serde_json::Value> {
    let descriptor = pool()?
        .get_message_by_name(full_name)
        .with_context(|| format!("no message {full_name}"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())?;
    let options = SerializeOptions::new().skip_default_fields(true);
    Ok(dynamic.serialize_with_options(serde_json::value::Serializer, &options)?)
}

/// Parses JSON (protobuf's mapping: camelCase or the proto names, enum names or numbers) into
/// `M`, of protobuf type `full_name`. What `--output json` printed is accepted as is.
pub fn from_json<M: Message + Default>(json: &str, full_name: &str) -> anyhow::Result<M> {
    let descriptor = pool()?
        .get_message_by_name(full_name)
        .with_context(|| format!("no message {full_name}"))?;
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(descriptor, &mut deserializer)
        .with_context(|| format!("not a {full_name} in JSON"))?;
    Ok(M::decode(dynamic.encode_to_vec().as_slice())?)
}

/// Prints an answer in the chosen format.
pub fn print(output: Output, value: &serde_json::Value) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Yaml => print!("{}", serde_saphyr::to_string(value)?),
        Output::Table => {
            let mut rows = Vec::new();
            flatten("", value, &mut rows);
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in rows {
                println!("{key:width$}  {value}");
            }
        }
    }
    Ok(())
}

/// `message` printed in the chosen format.
pub fn print_message(
    output: Output,
    message: &impl Message,
    full_name: &str,
) -> anyhow::Result<()> {
    print(output, &to_json(message, full_name)?)
}

/// A JSON value as (dotted path, scalar) rows, for `--output table`.
fn flatten(prefix: &str, value: &serde_json::Value, rows: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, rows);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, rows);
            }
        }
        serde_json::Value::String(s) => rows.push((prefix.to_owned(), s.clone())),
        other => rows.push((prefix.to_owned(), other.to_string())),
    }
}

/// Prints a refused call as the AWS CLI does: the CodeDeploy exception name and the
/// service's sentence; returns the exit status.
pub fn refused(operation: &str, status: &tonic::Status) -> u8 {
    let reason = ferry_runtime::error::error_reason(status)
        .unwrap_or_else(|| format!("{:?}", status.code()));
    eprintln!(
        "An error occurred ({reason}) when calling the {operation} operation: {}",
        status.message()
    );
    EXIT_SERVICE_ERROR
}

/// The outcome of one call: printed answer (exit 0) or printed refusal.
pub fn answer<M: Message>(
    global: &Global,
    operation: &str,
    full_name: &str,
    result: Result<tonic::Response<M>, tonic::Status>,
) -> anyhow::Result<u8> {
    match result {
        Ok(response) => {
            print_message(global.output, &response.into_inner(), full_name)?;
            Ok(0)
        }
        Err(status) => Ok(refused(operation, &status)),
    }
}
