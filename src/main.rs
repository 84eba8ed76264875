//! `sextant`: the one binary. A thin shell over the library crates: it parses
//! flags, wires components together and prints results. All behaviour lives
//! in `sextant-api`, `sextant-proto`, `mesos-v1`, `localmesos`, `sextant-agent` and
//! `sextant-controller`, which can be tested alone.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn init_tracing(verbose: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = if verbose { "debug" } else { "info" };
    let filter = EnvFilter::try_from_env("SEXTANT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let success = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let token = cli.token.as_deref();
    let result = match cli.command {
        Command::Up(args) => success(commands::up::run(args).await),
        Command::LocalMesos(args) => success(commands::serve::local_mesos(args).await),
        Command::Agent(args) => success(commands::serve::agent(args).await),
        Command::Controller(args) => success(commands::serve::controller(args).await),
        Command::Get(args) => success(commands::get::run(args, token).await),
        Command::Describe(args) => success(commands::describe::run(args, token).await),
        Command::Rollout(args) => commands::rollout::run(args, token).await,
        Command::Logs(args) => success(commands::logs::run(args, token).await),
        Command::Apply(args) => commands::apply::apply(args, token).await,
        Command::Diff(args) => Ok(commands::apply::diff(args, token).await),
        Command::Delete(args) => commands::apply::delete(args, token).await,
        Command::Scale(args) => success(commands::apply::scale(args, token).await),
        Command::Validate(args) => commands::validate::validate(args),
        Command::Schema(args) => commands::validate::schema(args),
        Command::Version => {
            println!("sextant {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
