//! The service operations, named and flagged as `aws deploy` names them: what every one of
//! them shares (the endpoint, output formats, errors, JSON in and out) lives here, and flag
//! values in `input.rs` (JSON, shorthand from `shorthand.rs`, CodeDeploy's enum names from
//! `names.rs`); the commands live in `registry/` (applications, deployment groups and
//! configurations, on-premises instances, tags) and `deploy/` (revisions, deployments,
//! targets, waiting, watching).

mod deploy;
mod input;
mod names;
mod registry;
mod shorthand;

use std::io::Write as _;
use std::sync::OnceLock;

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
    let result = runtime.block_on(async {
        match command {
            ApiCommand::Registry(command) => registry::run(command).await,
            ApiCommand::Deploy(command) => deploy::run(command).await,
        }
    });
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(EXIT_BROKEN_PIPE),
        result => result,
    }
}

/// Exit status when the service refused the call (the CodeDeploy exception is printed).
pub const EXIT_SERVICE_ERROR: u8 = 1;

/// Exit status when the reader of the output went away (`ferry list-deployments | head`): a
/// shell's status of a process ended by SIGPIPE. Nothing more is printed.
pub const EXIT_BROKEN_PIPE: u8 = 128 + 13;

/// The endpoint when neither `--endpoint` nor `FERRY_ENDPOINT` names one: `ferry up`'s.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// Whether `error` comes of writing to a reader that went away.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The endpoint and output format, taken by every service command.
#[derive(Args, Clone, Debug)]
pub struct Global {
    /// The ferry endpoint (`ferry up`, or a gateway in front of the services).
    #[arg(long, env = "FERRY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
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

/// ferry's descriptors, decoded once.
fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(ferry_proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("reading ferry's descriptors: {e}"))
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

/// Prints an answer in the chosen format. A closed stdout is an error that [`run`] turns into
/// [`EXIT_BROKEN_PIPE`].
pub fn print(output: Output, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    write_answer(&mut out, output, value)
        .and_then(|()| Ok(out.flush()?))
        .context("writing the answer")
}

/// Prints `text` as it is (as [`print`] does an answer).
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the answer")
}

fn write_answer(
    out: &mut impl std::io::Write,
    output: Output,
    value: &serde_json::Value,
) -> anyhow::Result<()> {
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(value)?)?,
        Output::Yaml => write!(out, "{}", serde_saphyr::to_string(value)?)?,
        Output::Table => {
            let mut rows = Vec::new();
            flatten("", value, &mut rows);
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in rows {
                writeln!(out, "{key:width$}  {value}")?;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_print_as_json_yaml_or_aligned_rows() {
        let value = json!({"a": {"bb": "x"}, "list": [1, true]});
        let written = |output| {
            let mut out = Vec::new();
            write_answer(&mut out, output, &value).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            written(Output::Json),
            format!("{}\n", serde_json::to_string_pretty(&value).unwrap())
        );
        let yaml: serde_json::Value = serde_saphyr::from_str(&written(Output::Yaml)).unwrap();
        assert_eq!(yaml, value);
        assert_eq!(
            written(Output::Table),
            "a.bb     x\nlist[0]  1\nlist[1]  true\n"
        );
    }

    #[test]
    fn a_reader_that_went_away_is_told_from_other_errors() {
        struct Gone;
        impl std::io::Write for Gone {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gone = write_answer(&mut Gone, Output::Table, &json!({"a": 1}))
            .context("writing the answer")
            .unwrap_err();
        assert!(is_broken_pipe(&gone), "{gone:#}");
        assert!(!is_broken_pipe(&anyhow::anyhow!("refused")));
    }
}
