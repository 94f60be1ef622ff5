//! `tianshu`: the command line of the platform.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses arguments and
//! dispatches. Configuration, logging and signal handling are wired here, nowhere else.

mod audit;
mod carpool;
mod cmd;
mod config;
mod http;
mod http_accept;
mod logging;
mod roles;
mod serve;
mod summaries;
mod web;

use clap::Parser;

/// Tianshu (天枢): a platform that watches official cars through their BeiDou terminals.
#[derive(Debug, Parser)]
#[command(name = "tianshu", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
