//! `sextant`: the one binary. A thin shell over the library crates: it parses
//! flags, wires components together and prints results. All behaviour lives
//! in `sextant-api`, `sextant-proto`, `mesos-v1`, `localmesos`, `sextant-agent` and
//! `sextant-controller`, which can be tested alone.

mod cli;
#[macro_use]
mod commands;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// mimalloc rather than glibc's malloc: at 100,000 tasks a quarter of the
/// process's CPU samples were in glibc's malloc and free (consolidating
/// and unlinking free chunks); see docs/benchmarks.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// The commands that talk to a controller, over one client.
async fn talk(command: Command, client: &sextant_api::client::Client) -> anyhow::Result<ExitCode> {
    let success = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    match command {
        Command::Get(args) => success(commands::get::run(args, client).await),
        Command::Describe(args) => success(commands::describe::run(args, client).await),
        Command::ClusterInfo(args) => success(commands::cluster_info::run(args, client).await),
        Command::Rollout(args) => commands::rollout::run(args, client).await,
        Command::Logs(args) => success(commands::logs::run(args, client).await),
        Command::Apply(args) => commands::apply::apply(args, client).await,
        Command::Diff(args) => Ok(commands::apply::diff(args, client).await),
        Command::Delete(args) => commands::apply::delete(args, client).await,
        Command::Scale(args) => success(commands::apply::scale(args, client).await),
        other => anyhow::bail!("{other:?} does not talk to a controller"),
    }
}

/// At least this many async workers, whatever the core count: under
/// `sextant up` the master, the agent and the controller share one
/// runtime, and a worker held by the master's lock or a journal write
/// stalls a whole share of it (on 2 cores, 6 workers made the 100,000-task
/// launch 2.5 times faster: docs/benchmarks.md). `TOKIO_WORKER_THREADS`
/// still decides when set.
const MIN_WORKERS: usize = 4;

fn main() -> ExitCode {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        runtime.worker_threads(cores.max(MIN_WORKERS));
    }
    match runtime.build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let success = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Up(args) => success(commands::up::run(*args).await),
        Command::LocalMesos(args) => success(commands::serve::local_mesos(args).await),
        Command::Agent(args) => success(commands::serve::agent(args).await),
        Command::Controller(args) => success(commands::serve::controller(args).await),
        Command::Validate(args) => commands::validate::validate(args),
        Command::Schema(args) => commands::validate::schema(args),
        Command::Version => {
            outln!("sextant {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Completion(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "sextant", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
        command => {
            match commands::client::connect(
                cli.server.as_deref(),
                cli.token.as_deref(),
                cli.ca_cert.as_deref(),
                cli.config.as_deref(),
            ) {
                Ok(client) => talk(command, &client).await,
                // kubectl's diff says "error" with exit code 2.
                Err(e) if matches!(command, Command::Diff(_)) => {
                    eprintln!("error: {e:#}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e),
            }
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
