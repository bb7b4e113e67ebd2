//! `ferry`: the command line of the ferry deployment service.

mod commands;

use std::process::ExitCode;

use clap::Parser;

/// ferry — deployments in the model of AWS CodeDeploy.
#[derive(Parser)]
#[command(name = "ferry", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    commands::run(Cli::parse().command)
}
