//! One module per subcommand; each returns the process's exit code.

mod api;
mod appspec;
mod up;

use std::process::ExitCode;

use clap::Subcommand;

/// Exit status of a command whose input was checked and found valid.
pub const EXIT_OK: u8 = 0;
/// Exit status of a command whose input was checked and found invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit status of a usage error: bad arguments (clap's own), a missing or unreadable path.
pub const EXIT_USAGE: u8 = 2;

#[derive(Subcommand)]
pub enum Command {
    /// Work with AppSpec files.
    #[command(subcommand)]
    Appspec(appspec::AppspecCommand),
    /// Run ferry on this machine: registry, revisions and orchestrator in one process on one
    /// port, and optionally local agents.
    Up(up::UpArgs),
    /// The service operations, named as `aws deploy` names them.
    #[command(flatten)]
    Api(api::ApiCommand),
}

pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Appspec(cmd) => appspec::run(cmd),
        Command::Up(args) => up::run(args),
        Command::Api(cmd) => api::run(cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("ferry: error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
