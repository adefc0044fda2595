//! The `writ` binary: `writ serve` runs the API (`writ-server`) and the background runtime
//! (`writ-runtime`: the job worker, the dispatchers and the audit chainer), wired here; `writ
//! migrate` brings the database schema up to date; `writ audit verify` and `writ audit export`
//! check and export the tamper-evident audit log. All read the same configuration (see
//! `config.rs` and docs/configuration.md).

mod audit;
mod config;
mod files;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use writ_domain::clock::SystemClock;
use writ_store::{ConnectOptions, SqlStore};

#[derive(Parser, Debug)]
#[command(
    name = "writ",
    version,
    about = "Entitlement management for AI agent identities"
)]
struct Cli {
    /// TOML configuration file (unknown keys are an error).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://writ.db (default) or postgres://user:pass@host/db.
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply the embedded database migrations and exit.
    Migrate,
    /// Check or export the tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute the audit chain; report the first broken link (exit status 1) or that it is
    /// intact (0).
    Verify {
        /// An export file (or any file of checkpoint lines): its last checkpoint must still be
        /// in the chain, so a truncated log is detected.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write every linked record as a JSON line, with signed checkpoints.
    Export {
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn init_logging(config: &config::Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}

async fn open_store(config: &config::Config) -> Result<SqlStore, String> {
    let store = writ_store::connect(&ConnectOptions::new(config.database_url.0.clone()))
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    writ_store::migrate(&store)
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    Ok(store)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

/// Re-reads the TLS files on every SIGHUP until the task is aborted; a pair that fails to load
/// is logged and the one in use kept.
#[cfg(unix)]
fn reload_tls_on_sighup(
    tls: writ_server::tls::ReloadableTls,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| format!("cannot watch SIGHUP (TLS reload): {e}"))?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
                Err(error) => tracing::error!(
                    %error,
                    "SIGHUP: the TLS certificate and key could not be reloaded; still serving the previous ones"
                ),
            }
        }
    }))
}

async fn serve(config: config::Config) -> Result<(), String> {
    // Read before anything binds or opens: an unreadable or invalid file stops the start.
    let tls = match config.tls.files()? {
        Some((cert, key)) => {
            let tls = writ_server::tls::ReloadableTls::load(cert, key)?;
            files::warn_if_exposed(key, "tls.key_file");
            Some(tls)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("listener address: {e}"))?;
    // `/metrics` on a listener of its own (e.g. loopback) instead of the API's.
    let metrics_listener = match &config.metrics_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen on {address} (metrics_listen): {e}"))?,
        ),
        None => None,
    };
    let audit_key_path = audit::key_path(&config)?;
    let audit_key = Arc::new(audit::load_or_create_key(&audit_key_path)?);
    files::warn_if_exposed(&audit_key_path, "audit.key_file");
    let store = open_store(&config).await?;
    if let Some(database) = writ_store::sqlite_file(&config.database_url.0) {
        // A database this version created is 0600; an older one may not be. It holds the
        // signing key unless tokens.signing_key_file is set.
        for suffix in ["", "-wal", "-shm"] {
            let mut file = database.clone().into_os_string();
            file.push(suffix);
            files::warn_if_exposed(std::path::Path::new(&file), "database_url");
        }
    }
    let signing_key_pem = match &config.tokens.signing_key_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| format!("tokens.signing_key_file {}: {e}", path.display()))?;
            files::warn_if_exposed(path, "tokens.signing_key_file");
            Some(pem)
        }
        None => None,
    };
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    let public_url = config.public_url.clone().unwrap_or_else(|| {
        let scheme = if tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{local}")
    });
    let token_lifetime = writ_domain::duration::parse(&config.tokens.api_lifetime)
        .map_err(|e| format!("tokens.api_lifetime: {e}"))?;
    let job_lease =
        writ_domain::duration::parse(&config.jobs.lease).map_err(|e| format!("jobs.lease: {e}"))?;
    let resource_token_lifetime = writ_domain::duration::parse(&config.tokens.resource_lifetime)
        .map_err(|e| format!("tokens.resource_lifetime: {e}"))?;
    let expiry_notice_lead_times = config::expiry_lead_times(&config)?;
    let max_agent_access = config::max_agent_access(&config)?;
    let lifecycle_day_length = config::lifecycle_day_length(&config)?;
    // Where people sign in (issue 16). The upstream client and linking policy are built here
    // and handed to the server's state (`/signin/sso`, `/signin/sso/callback`).
    let sign_in = config::sign_in(&config)?;
    let upstream = match &sign_in.sso {
        Some((upstream, policy)) => {
            tracing::info!(
                issuer = %upstream.issuer,
                sign_in = sign_in.mode.as_str(),
                link_by = policy.link_by.as_str(),
                create_users = policy.create_users,
                "single sign-on through an upstream OpenID provider"
            );
            let client: Arc<dyn writ_domain::identity::federation::UpstreamProvider> =
                Arc::new(writ_runtime::sso::UpstreamClient::new(
                    upstream.clone(),
                    &config.outbound.allow_hosts,
                    writ_runtime::outbound::OutboundTimeouts::default(),
                    Arc::new(SystemClock),
                )?);
            Some((client, policy.clone()))
        }
        None => None,
    };
    let refresh_token_lifetime = config::refresh_token_lifetime(&config)?;
    let mut started = writ_server::start(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        writ_server::ServerConfig {
            public_url: public_url.clone(),
            tenant_id: config.tenant_id.clone(),
            bootstrap_client_id: config.bootstrap.client_id.clone(),
            bootstrap_client_secret: config.bootstrap.client_secret.clone().map(|s| s.0),
            signing_key_pem,
            token_lifetime,
            resource_token_lifetime,
            metrics: Some(metrics),
            expiry_notice_lead_times: Some(expiry_notice_lead_times),
            max_agent_access: Some(max_agent_access),
            lifecycle_day_length: Some(lifecycle_day_length),
            refresh_token_lifetime: Some(refresh_token_lifetime),
            trusted_proxies: writ_server::client_address::TrustedProxies::parse(
                &config.trusted_proxies,
            )?,
            metrics_on_own_listener: metrics_listener.is_some(),
            tls: tls.is_some(),
            browser: config::browser_settings(&config)?,
        },
    )
    .await
    .map_err(|e| format!("start-up failed: {e}"))?;
    started.state.sign_in = writ_server::state::SignInSettings {
        mode: sign_in.mode,
        sso: upstream.map(|(provider, policy)| writ_server::state::SsoSettings {
            provider,
            policy: Arc::new(policy),
        }),
    };
    if let Some((client_id, secret)) = &started.generated_admin {
        // Printed once, on the first start of an empty database, and never again.
        eprintln!(
            "\nNo administrator was configured, so one was created. Save these now; they are not shown again:\n  \
             tenant id:     {}\n  client id:     {client_id}\n  client secret: {secret}\n",
            started.tenant_id
        );
    }
    tracing::info!(
        listen = %local,
        public_url = %public_url,
        tenant_id = %started.tenant_id,
        database = store.backend_kind().name(),
        "writ is serving"
    );
    // One shutdown signal stops the HTTP server and every background task.
    let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
    let runtime = writ_runtime::Runtime::new(
        store.clone(),
        Arc::new(SystemClock),
        started.state.entitlement.clone(),
        started.state.tokens.clone(),
        started.state.job_waker.clone(),
        writ_runtime::RuntimeConfig {
            job_lease,
            job_passes: store.backend_kind().job_passes(),
            webhook_endpoints: config::webhook_endpoints(&config)?,
            webhook_max_attempts: config.notifications.webhook_max_attempts,
            outbound: writ_runtime::outbound::OutboundPolicy::parse(&config.outbound.allow_hosts)?,
            smtp: config::smtp(&config)?,
            public_url: public_url.clone(),
            audit_key,
        },
    )?;
    let metrics_stopped = worker_stopped.clone();
    // Waiters on requests (`Prefer: wait`) hear of other replicas' changes through PostgreSQL;
    // on SQLite this process makes every change, and the store wakes them itself.
    let request_changes = writ_domain::store::Store::request_changes(&store);
    let request_listener = (store.backend_kind() == writ_store::Backend::Postgres).then(|| {
        tokio::spawn(writ_store::listen::run_request_listener(
            config.database_url.0.clone(),
            request_changes.clone(),
            worker_stopped.clone(),
        ))
    });
    let runtime = runtime.spawn(worker_stopped);
    let metrics_server = match metrics_listener {
        Some(metrics_listener) => {
            let address = metrics_listener
                .local_addr()
                .map_err(|e| format!("metrics listener address: {e}"))?;
            tracing::info!(metrics_listen = %address, "serving /metrics on its own listener");
            let mut stopped = metrics_stopped;
            Some(tokio::spawn(writ_server::serve_metrics(
                metrics_listener,
                started.state.clone(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop_worker.send(true);
        // Requests held open by `Prefer: wait` answer now rather than hold the shutdown.
        request_changes.close();
    };
    match tls {
        Some(tls) => {
            #[cfg(unix)]
            let reloader = reload_tls_on_sighup(tls.clone())?;
            tracing::info!("serving HTTPS (the TLS files are re-read on SIGHUP)");
            let served = writ_server::serve_tls(listener, tls, started.state, shutdown).await;
            #[cfg(unix)]
            reloader.abort();
            served
        }
        None => writ_server::serve(listener, started.state, shutdown).await,
    }
    .map_err(|e| format!("server error: {e}"))?;
    runtime.join().await;
    if let Some(listener) = request_listener
        && let Err(error) = listener.await
    {
        tracing::error!(%error, "the request change listener ended abnormally");
    }
    if let Some(metrics_server) = metrics_server {
        match metrics_server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the metrics listener failed"),
            Err(error) => tracing::error!(%error, "the metrics listener ended abnormally"),
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        Command::Migrate | Command::Audit { .. } => None,
    };
    let flags = config::Flags {
        config: cli.config.clone(),
        listen,
        database: cli.database.clone(),
    };
    let config = config::load(&flags, &env)?;
    init_logging(&config);
    for var in config::unknown_env_vars(&env) {
        tracing::warn!(variable = %var, "ignoring an unknown WRIT_ environment variable");
    }
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let store = open_store(&config).await?;
            tracing::info!(database = store.backend_kind().name(), "migrations applied");
            store.close().await;
            Ok(())
        }
        Command::Audit { command } => run_audit(&config, command).await,
    }
}

async fn run_audit(config: &config::Config, command: AuditCommand) -> Result<(), String> {
    let key = audit::load_key(&audit::key_path(config)?)?;
    let store = open_store(config).await?;
    let outcome = match command {
        AuditCommand::Verify { checkpoint } => {
            let checkpoint = checkpoint
                .as_deref()
                .map(audit::read_last_checkpoint)
                .transpose()?;
            match audit::verify(&store, &key, checkpoint.as_ref()).await {
                Ok((true, report)) => {
                    println!("{report}");
                    Ok(())
                }
                Ok((false, report)) => {
                    println!("{report}");
                    Err("the audit log failed verification".to_owned())
                }
                Err(e) => Err(e),
            }
        }
        AuditCommand::Export { out } => {
            let now = writ_domain::clock::Clock::now(&SystemClock);
            let exported = match &out {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let mut writer = std::io::BufWriter::new(file);
                    audit::export(&store, &key, now, &mut writer).await
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut writer = stdout.lock();
                    audit::export(&store, &key, now, &mut writer).await
                }
            };
            exported.map(|seq| {
                tracing::info!(audit.last_seq = seq, "audit log exported");
            })
        }
    };
    store.close().await;
    outcome
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("writ: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Start-up errors may quote a configured URL; never with its secrets.
            eprintln!("writ: {}", writ_server::redact::urls_in_text(&message));
            ExitCode::FAILURE
        }
    }
}
