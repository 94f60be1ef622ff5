//! `idle`: the server's resident memory per idle connection.
//!
//! Connections are opened in steps of `--step` by client processes (at most [`PER_CLIENT`] connections
//! each: the open-file limit is 20,000 per process), and the server's RSS is read from `/proc` once each
//! step has settled: the marginal cost (between steps) and the average (since no connection) per
//! connection. The server is `ingest_load serve` (the gateway alone, no log subscriber) or, with
//! `--served PATH`, a `tianshu serve` binary with its log subscriber at its default level (the lines go to
//! /dev/null), whose registry is provisioned here first.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tianshu_store::Store;
use tokio::net::TcpStream;

use super::{Result, arg, arg_str, authenticate, provision, rss_bytes, scratch_store, spawn_server};

/// Connections per client process.
const PER_CLIENT: u32 = 5_000;

/// The gateway's settings for the measurement: every connection from 127.0.0.1 admitted, none closed for
/// silence while it runs.
const SERVED_CONFIG: &str = "[jt808]\nmax_connections_per_ip = 20000\nmax_unauthenticated = 20000\n\
                             heartbeat_interval_secs = 3600\npre_auth_timeout_secs = 600\n";

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

pub(super) fn idle(args: &[String]) -> Result<()> {
    let connections: u32 = arg(args, "--connections", 10_000).max(1);
    let step: u32 = arg(args, "--step", 5_000).clamp(1, connections);
    let pre_auth = args.iter().any(|a| a == "--pre-auth");
    let store_url = scratch_store("idle");
    let served = arg_str(args, "--served");
    let (mut server, addr) = match &served {
        Some(bin) => start_served(bin, &store_url, connections)?,
        None => spawn_server(&store_url, connections, "durable", None, &[])?,
    };
    let pid = server.id();
    std::thread::sleep(Duration::from_secs(2));
    let base = rss_bytes(pid);
    let what = match &served {
        Some(bin) => format!("{bin} serve"),
        None => "ingest_load serve (no log subscriber)".to_string(),
    };
    println!("idle: {what}: RSS {:.1} MiB with no connection", mib(base));
    let kind = if pre_auth {
        "connected, not authenticated,"
    } else {
        "authenticated"
    };
    let (mut clients, mut open, mut last) = (Vec::new(), 0u32, base);
    while open < connections {
        let upto = (open + step).min(connections);
        for from in (open..upto).step_by(PER_CLIENT as usize) {
            let to = (from + PER_CLIENT).min(upto);
            clients.push(start_client(addr, from, to, pre_auth)?);
        }
        std::thread::sleep(Duration::from_secs(3));
        let rss = rss_bytes(pid);
        let marginal = rss.saturating_sub(last) as f64 / f64::from(upto - open);
        let average = rss.saturating_sub(base) as f64 / f64::from(upto);
        println!(
            "idle: {upto} {kind} connections: RSS {:.1} MiB; marginal {marginal:.0} bytes per connection \
             ({open} -> {upto}), average {average:.0} bytes per connection (0 -> {upto})",
            mib(rss)
        );
        (open, last) = (upto, rss);
    }
    for mut c in clients {
        drop(c.stdin.take());
        let _ = c.wait();
    }
    if served.is_some() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    } else {
        drop(server.stdin.take());
    }
    let _ = server.wait();
    Ok(())
}

/// Provisions `terminals` in the store at `store_url`, then starts `bin serve` on it with the real log
/// subscriber; returns the process and where terminals connect.
fn start_served(bin: &str, store_url: &str, terminals: u32) -> Result<(Child, SocketAddr)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = Store::open(store_url).await?;
        provision(&store, terminals).await
    })?;
    drop(runtime);
    let config = std::env::temp_dir().join(format!("tianshu-bench-idle-{}.toml", std::process::id()));
    std::fs::write(&config, SERVED_CONFIG)?;
    let mut child = Command::new(bin)
        .args(["serve", "--store", store_url, "--jt808", "127.0.0.1:0"])
        .args(["--http", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let addr = loop {
        let line = lines.next().ok_or("tianshu serve exited before listening")??;
        if let Some(rest) = line.strip_prefix("listening ") {
            break rest
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("jt808="))
                .ok_or("no jt808= in the listening line")?
                .parse()?;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, addr))
}

/// Starts a client process holding connections `from..to`; returns once they are all open.
fn start_client(addr: SocketAddr, from: u32, to: u32, pre_auth: bool) -> Result<Child> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["idle-client", "--addr", &addr.to_string()]);
    command.args(["--from", &from.to_string(), "--to", &to.to_string()]);
    if pre_auth {
        command.arg("--pre-auth");
    }
    let mut c = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let stdout = c.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    if !line.starts_with("ready") {
        return Err(format!("idle client {from}..{to} failed: {line}").into());
    }
    Ok(c)
}

/// `idle-client --addr A --from I --to J [--pre-auth]`: opens connections for terminals `I..J`
/// (authenticated unless `--pre-auth`), prints `ready N`, and holds them until standard input closes.
pub(super) fn client(args: &[String]) -> Result<()> {
    let addr: SocketAddr = arg_str(args, "--addr").ok_or("--addr")?.parse()?;
    let from: u32 = arg(args, "--from", 0);
    let to: u32 = arg(args, "--to", 0);
    let pre_auth = args.iter().any(|a| a == "--pre-auth");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut streams = Vec::with_capacity(to.saturating_sub(from) as usize);
        for i in from..to {
            let mut s = TcpStream::connect(addr).await?;
            if !pre_auth {
                authenticate(&mut s, i).await?;
            }
            streams.push(s);
        }
        println!("ready {}", streams.len());
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        })
        .await?;
        drop(streams);
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })
}
