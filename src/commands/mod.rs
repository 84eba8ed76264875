//! One module per command, and the one way results reach stdout.

/// `println!` for results: a reader that went away (`| head`) ends the
/// process quietly with success, as it does for any Unix filter.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::commands::print_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for results, with `outln!`'s handling of a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::print_out(format_args!($($arg)*))
    };
}

pub mod apply;
pub mod client;
pub mod cluster;
pub mod cluster_info;
pub mod describe;
pub mod events;
pub mod get;
pub mod logs;
pub mod print;
pub mod revisions;
pub mod rollout;
pub mod serve;
pub mod up;
pub mod validate;
pub mod watch;

/// Writes results to stdout. A closed pipe exits 0 at once (nothing more
/// can be read of what this command says); another write error is said
/// on stderr, exit 1.
pub fn print_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = on_write(stdout.write_fmt(args).and_then(|()| stdout.flush())) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The outcome of a write to stdout: a closed pipe exits 0 at once (the
/// reader has what it wanted), another error is returned in words.
pub fn on_write(result: std::io::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(anyhow::anyhow!("cannot write to stdout: {e}")),
        Ok(()) => Ok(()),
    }
}
