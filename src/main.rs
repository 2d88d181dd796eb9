//! The `treaty-kg` binary: wiring only (flags → logging → state → serve).

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use treaty_kg::config::{Cli, Command, Config, TOKEN_ENV};

/// Rust's allocations go to mimalloc (RocksDB's own C++ ones stay with glibc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    limit_malloc_arenas();
    // The log is written in batches by a background thread (see `log_writer`);
    // what is left is written on exit.
    let (writer, flush_on_exit) = treaty_kg::log_writer::batched(
        std::io::stderr(),
        treaty_kg::log_writer::INTERVAL,
        treaty_kg::log_writer::MAX_PENDING,
    );
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !ansi {
        // Access lines skip tracing's field formatting (the same text; on a
        // terminal the event's coloured fields are kept).
        treaty_kg::log_line::write_access_lines_to(writer.clone());
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("treaty_kg=info")))
        .with_writer(writer)
        .with_ansi(ansi)
        .event_format(treaty_kg::log_line::LineFormat)
        .init();
    let code = treaty_kg::exec::server_runtime(None).map_or(2, |runtime| runtime.block_on(run()));
    drop(flush_on_exit);
    std::process::exit(code);
}

/// glibc gives threads allocator arenas of their own, up to eight per core,
/// and keeps what they freed: after the search index's build (a burst of
/// allocations on a few pool threads) a 1M-quad server held 525 MB of
/// resident memory, 112 MB of it live (BENCHMARKS.md). As many arenas as
/// cores keeps allocation uncontended and returns the rest.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's own knob, when set, is the operator's to keep.
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        // One per core: two per core measured no faster on small queries.
        let arenas = i32::try_from(cores).unwrap_or(2).max(2);
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Runs the command; the process's exit code.
async fn run() -> i32 {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Load(args) => {
            tokio::task::spawn_blocking(move || treaty_kg::cli::load(args)).await.unwrap_or_else(|e| Err(e.into()))
        }
        Command::Query(args) => treaty_kg::cli::query(args).await,
        Command::Dump(args) => {
            tokio::task::spawn_blocking(move || treaty_kg::cli::dump(args)).await.unwrap_or_else(|e| Err(e.into()))
        }
        Command::Queries(args) => treaty_kg::cli::queries(args),
        Command::Generate(args) => {
            let started = std::time::Instant::now();
            treaty_kg::generate::generate(args.triples, args.seed, std::io::stdout().lock())
                .map(|n| {
                    eprintln!("generated {n} quads in {:.1} s (seed {})", started.elapsed().as_secs_f64(), args.seed);
                })
                .map_err(Into::into)
        }
        Command::Backup(args) => treaty_kg::cli::backup(args).await,
        Command::Run(args) => treaty_kg::cli::run(args).await,
        Command::Validate(args) => match treaty_kg::cli::validate(args) {
            Ok(true) => Ok(()),
            Ok(false) => return 1,
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => 0,
        Err(error)
            if error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            0
        }
        Err(error) => {
            eprintln!("treaty-kg: error: {error:#}");
            2
        }
    }
}

async fn serve(args: treaty_kg::config::ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_serve_args(args, std::env::var(TOKEN_ENV).ok())?;
    let bind = config.bind;
    let read_only = config.write_token.is_none();
    let state = tokio::task::spawn_blocking(move || treaty_kg::build_state(config)).await??;
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        read_only,
        "treaty-kg is serving: SPARQL at /sparql, Graph Store at /store"
    );
    tracing::info!(quads = state.summary.current().views.stats.triples, "quads in the store");
    treaty_kg::serve(listener, state, treaty_kg::shutdown_signal()).await?;
    Ok(())
}
