use anyhow::Context;
use estafeta_core::Config;
use estafeta_server::RunningServer;
use tokio::signal::unix::{SignalKind, signal};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let grace = config.limits.shutdown_grace;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let server = RunningServer::start(config).await?;
    tracing::info!("{}", server.banner());
    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(signal = name, grace = ?grace, "shutting down: no new connections; letting sessions finish");
    if server.shutdown(grace).await {
        tracing::info!("stopped cleanly");
    } else {
        tracing::warn!("stopped; sessions still open after the grace period were cut");
    }
    Ok(())
}
