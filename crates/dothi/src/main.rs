//! `dothi`: one binary for the whole platform. Subcommands are thin: they parse options and
//! call the library crates.

mod demo;
mod opendata;
mod simulate;

// glibc malloc showed up as a quarter of the CPU time in profiles of list endpoints (many
// small allocations per row, across threads); mimalloc removes the arena-lock contention.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use dothi_domain::{Actor, Role};
use dothi_store::auth::NewUser;
use dothi_store::reference::ReferenceFile;
use dothi_store::{Settings, Store};

/// Every option can also be set with the environment variable shown in `--help`; see
/// docs/CONFIGURATION.md for the full list with defaults.
#[derive(Parser)]
#[command(
    name = "dothi",
    version,
    about = "dothi: smart-city operations platform (field reports, Open311, IOC)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Database URL: a SQLite file (sqlite://PATH) or PostgreSQL (postgres://…).
    #[arg(
        long = "db",
        env = "DATABASE_URL",
        default_value = "sqlite://./data/dothi.db"
    )]
    url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (native API, Open311, OpenAPI).
    Serve(Box<ServeArgs>),
    /// Manage Open311 API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Manage local user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import reference data (communes, agencies, categories, routing rules, holidays) from a
    /// JSON file in the format of reference/hue.json.
    Import {
        #[command(flatten)]
        db: DbArgs,
        /// The file to import. Use `--province CODE` with the national file
        /// (reference/vn-admin-units-2025.json) to import one province's communes.
        file: std::path::PathBuf,
        #[arg(long)]
        province: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Load the Huế demo data and N generated historic reports (for demos and benchmarks).
    Seed {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 500)]
        reports: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    // --- MQTT ingestion (IoT): the demo simulator ---
    /// Publish realistic readings of the demo IoT devices over MQTT (see docs/IOT.md).
    Simulate(simulate::SimulateArgs),
    // --- Open data: the datasets the platform publishes ---
    /// Write the datasets the platform publishes (CSV, JSON and their metadata) to a folder
    /// (see docs/OPEN-DATA.md).
    OpenData(opendata::ExportArgs),
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "DOTHI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Load the Huế reference data, demo accounts and demo reports if the database is empty.
    #[arg(long, env = "DOTHI_DEMO")]
    demo: bool,
    /// Public base URL used in links (media URLs, Open311 discovery). Default: http://LISTEN.
    #[arg(long, env = "DOTHI_PUBLIC_URL")]
    public_url: Option<String>,
    /// Open311 jurisdiction_id.
    #[arg(long, env = "DOTHI_JURISDICTION_ID", default_value = "hue.gov.vn")]
    jurisdiction_id: String,
    /// Radius of duplicate suggestions, metres.
    #[arg(long, env = "DOTHI_DUPLICATE_RADIUS_M", default_value_t = 100.0)]
    duplicate_radius_m: f64,
    /// How many days back duplicate suggestions look.
    #[arg(long, env = "DOTHI_DUPLICATE_WINDOW_DAYS", default_value_t = 7)]
    duplicate_window_days: i64,
    /// Resolved reports nobody rated are closed after this many days.
    #[arg(long, env = "DOTHI_AUTO_CLOSE_DAYS", default_value_t = 7)]
    auto_close_days: i64,
    /// Lifetime of bearer tokens, hours.
    #[arg(long, env = "DOTHI_TOKEN_TTL_HOURS", default_value_t = 168)]
    token_ttl_hours: i64,
    /// Largest request body in bytes (uploads included).
    #[arg(long, env = "DOTHI_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Data directory: files of uploaded open-data resources go to its `resources/` folder.
    /// Default: the SQLite database file's folder, or ./data with PostgreSQL. With several
    /// instances, every instance must see the same directory (shared storage).
    #[arg(long, env = "DOTHI_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Largest uploaded open-data resource file, bytes (CKAN API; streamed to disk, so the
    /// size does not cost memory).
    #[arg(long, env = "DOTHI_MAX_RESOURCE_BYTES", default_value_t = 1024 * 1024 * 1024)]
    max_resource_bytes: u64,
    /// Seconds between deadline sweeps (overdue detection, auto-close) and reference reloads.
    #[arg(long, env = "DOTHI_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    sweep_interval_secs: u64,
    /// Map tiles for the web pages, as an XYZ URL template; "none" shows maps without tiles.
    #[arg(
        long,
        env = "DOTHI_MAP_TILES",
        default_value = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    )]
    map_tiles: String,
    /// Attribution shown under the map tiles.
    #[arg(
        long,
        env = "DOTHI_MAP_ATTRIBUTION",
        default_value = "© OpenStreetMap contributors"
    )]
    map_attribution: String,
    /// Where maps open: "LAT,LON" (default: the centre of Huế).
    #[arg(long, env = "DOTHI_MAP_CENTER", default_value = "16.4637,107.5909", value_parser = parse_center)]
    map_center: (f64, f64),
    /// Zoom level maps open at (5-19).
    #[arg(long, env = "DOTHI_MAP_ZOOM", default_value_t = 12, value_parser = clap::value_parser!(u8).range(5..=19))]
    map_zoom: u8,
    /// Mark cookies Secure. Default: on when the public URL is https.
    #[arg(long, env = "DOTHI_SECURE_COOKIES")]
    secure_cookies: Option<bool>,
    /// Sign-in attempts a minute per user name (four times as many per client address).
    #[arg(long, env = "DOTHI_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    login_attempts_per_minute: u32,
    /// Single sign-on: the OpenID Connect provider's issuer URL (discovery at
    /// ISSUER/.well-known/openid-configuration). Unset: no single sign-on.
    #[arg(long, env = "DOTHI_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// Single sign-on: the client id dothi is registered with at the provider.
    #[arg(long, env = "DOTHI_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// Single sign-on: the client secret (unset for a public client).
    #[arg(long, env = "DOTHI_OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,
    /// Single sign-on: the provider's name on the sign-in button.
    #[arg(long, env = "DOTHI_OIDC_LABEL", default_value = "Hue-S")]
    oidc_label: String,
    /// Single sign-on: the scopes asked for (space-separated).
    #[arg(
        long,
        env = "DOTHI_OIDC_SCOPES",
        default_value = "openid profile email"
    )]
    oidc_scopes: String,
    /// NGSI-LD: download `@context` URLs the broker does not hold (off: such requests get
    /// 503 LdContextNotAvailable, and nothing is fetched at run time).
    #[arg(long, env = "DOTHI_NGSILD_FETCH_CONTEXTS")]
    ngsild_fetch_contexts: bool,
    /// NGSI-LD: contexts to serve from files, as URL=PATH pairs separated by commas.
    #[arg(long, env = "DOTHI_NGSILD_CONTEXTS", default_value = "")]
    ngsild_contexts: String,
    /// NGSI-LD: who may use the API — `writes` (reads open, writes need an API key or an
    /// IOC operator's token), `all` (everything needs credentials) or `open`.
    #[arg(long, env = "DOTHI_NGSILD_ACCESS", default_value = "writes", value_parser = parse_access)]
    ngsild_access: dothi_broker::Access,
    /// Alerts: run the threshold-rules engine and the alert webhook worker in this process.
    /// Run them in exactly one instance per database (two engines would raise twice).
    #[arg(long, env = "DOTHI_ALERT_ENGINE", default_value_t = true, action = clap::ArgAction::Set)]
    alert_engine: bool,
    // --- MQTT ingestion (IoT) ---
    #[command(flatten)]
    mqtt: MqttArgs,
    // --- NGSI-LD temporal API: history retention ---
    /// NGSI-LD: delete attribute history observed more than this many days ago (checked every
    /// hour); 0 keeps the history forever.
    #[arg(long, env = "DOTHI_NGSILD_HISTORY_RETENTION_DAYS", default_value_t = 0)]
    ngsild_history_retention_days: u32,
    /// NGSI-LD: the most instances of one attribute a temporal read answers at once; longer
    /// evolutions are paged by time (206 with Content-Range, docs/NGSI-LD.md).
    #[arg(long, env = "DOTHI_NGSILD_TEMPORAL_LIMIT", default_value_t = 1000)]
    ngsild_temporal_limit: u32,
    // --- Open data: the datasets the platform publishes ---
    #[command(flatten)]
    opendata: opendata::OpenDataArgs,
}

// --- MQTT ingestion (IoT) ---
/// `dothi serve` options of MQTT ingestion (docs/IOT.md).
#[derive(Args)]
struct MqttArgs {
    /// MQTT broker whose device measures become NGSI-LD attribute updates, e.g.
    /// mqtt://127.0.0.1:1883 (docs/IOT.md). Empty: no ingestion. Unset: off, except with
    /// --demo, which uses mqtt://127.0.0.1:1883.
    #[arg(long, env = "DOTHI_MQTT_URL")]
    mqtt_url: Option<String>,
    /// MQTT client id. Set it for a persistent session (QoS 1 measures published while dothi
    /// is down are delivered when it is back); unset: a fresh session at each start.
    #[arg(long, env = "DOTHI_MQTT_CLIENT_ID")]
    mqtt_client_id: Option<String>,
    /// MQTT user name (the URL may carry user:password@ instead).
    #[arg(long, env = "DOTHI_MQTT_USERNAME")]
    mqtt_username: Option<String>,
    #[arg(long, env = "DOTHI_MQTT_PASSWORD", hide_env_values = true)]
    mqtt_password: Option<String>,
    /// First topic levels of the device topics ({prefix}/{apiKey}/{deviceId}/attrs).
    #[arg(long, env = "DOTHI_MQTT_TOPIC_PREFIX", default_value = "dothi/v1")]
    mqtt_topic_prefix: String,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key; the key is printed as the last line of output.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
    },
    /// List keys (names and prefixes only).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a local account.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        #[arg(long, env = "DOTHI_NEW_USER_PASSWORD")]
        password: String,
        #[arg(long)]
        display_name: Option<String>,
        /// citizen, agency_staff, ioc_operator or admin.
        #[arg(long, default_value = "citizen")]
        role: String,
        /// Agency code, for agency_staff.
        #[arg(long)]
        agency: Option<String>,
    },
}

async fn open(db: &DbArgs, settings: Settings) -> Result<Store> {
    Store::open(&db.url, settings)
        .await
        .with_context(|| format!("opening the database at {}", db.url))
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let system = Actor::system();
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::ApiKey {
            command: ApiKeyCommand::Create { db, name },
        } => {
            let store = open(&db, Settings::default()).await?;
            let (key, meta) = store.create_api_key(&system, &name).await?;
            println!(
                "Created API key #{} '{}' (prefix {}). Store it now: it is not shown again.",
                meta.id, meta.name, meta.prefix
            );
            println!("{key}");
            Ok(())
        }
        Command::ApiKey {
            command: ApiKeyCommand::List { db },
        } => {
            let store = open(&db, Settings::default()).await?;
            for k in store.list_api_keys(&system).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    k.id,
                    k.prefix,
                    k.name,
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    db,
                    username,
                    password,
                    display_name,
                    role,
                    agency,
                },
        } => {
            let store = open(&db, Settings::default()).await?;
            let user = store
                .create_user(
                    &system,
                    &NewUser {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username,
                        email: None,
                        phone: None,
                        password,
                        role: Role::parse(&role)?,
                        agency_code: agency,
                    },
                )
                .await?;
            println!(
                "Created user #{} '{}' ({})",
                user.id,
                user.username,
                user.role.as_str()
            );
            Ok(())
        }
        Command::Import { db, file, province } => {
            let store = open(&db, Settings::default()).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let reference: ReferenceFile = match province {
                Some(code) => {
                    let national: serde_json::Value =
                        serde_json::from_str(&text).context("parsing the national file")?;
                    match dothi_store::reference::province_from_national(&national, &code) {
                        Some(r) => r,
                        None => bail!("province {code} is not in {}", file.display()),
                    }
                }
                None => serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", file.display()))?,
            };
            let summary = store.import_reference(&system, &reference).await?;
            store.catalog_sync_organizations().await?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Migrate { db } => {
            open(&db, Settings::default()).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Simulate(args) => simulate::run(args).await,
        Command::OpenData(args) => opendata::export(args).await,
        Command::Seed { db, reports, seed } => {
            let store = open(&db, Settings::default()).await?;
            demo::load_reference(&store).await?;
            store.catalog_sync_organizations().await?;
            demo::generate_reports(&store, reports, seed).await?;
            println!("{} reports in the database", store.count_reports().await?);
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let public_url = public_url.trim_end_matches('/').to_string();
    let oidc = match args.oidc_issuer.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(issuer) => Some(
            dothi_web::OidcConfig::new(
                issuer,
                args.oidc_client_id.as_deref().unwrap_or(""),
                args.oidc_client_secret.as_deref(),
                &args.oidc_label,
                &args.oidc_scopes,
            )
            .map_err(anyhow::Error::msg)?,
        ),
    };
    let settings = Settings {
        duplicate_radius_m: args.duplicate_radius_m,
        duplicate_window_days: args.duplicate_window_days,
        auto_close_days: args.auto_close_days,
        token_ttl_hours: args.token_ttl_hours,
        public_url: public_url.clone(),
    };
    let store = open(&args.db, settings).await?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| default_data_dir(&args.db.url));
    if args.demo {
        demo::prepare(&store).await?;
        demo::load_catalog(&store, &public_url, &data_dir).await?;
        // --- MQTT ingestion (IoT) ---
        let created = simulate::provision_demo_devices(&store).await?;
        if created > 0 {
            eprintln!("Demo IoT devices: {created} registered (keys in docs/IOT.md)");
        }
    }
    // One catalogue organization per agency; another instance starting at the same moment may
    // win the race, which is fine.
    if let Err(e) = store.catalog_sync_organizations().await {
        tracing::warn!(error = %e, "catalogue organizations not synchronised with the agencies");
    }
    // The catalogue's search index would be loaded by the first search (a second for 10,000
    // datasets); load it now instead.
    let catalogue = store.clone();
    tokio::spawn(async move {
        if let Err(e) = catalogue.catalog_load_index().await {
            tracing::warn!(error = %e, "catalogue search index not loaded at start-up");
        }
    });
    let sweeper = store.clone();
    let interval = Duration::from_secs(args.sweep_interval_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match sweeper.sweep(dothi_store::time::now_ms()).await {
                Ok((0, 0)) => {}
                Ok((overdue, closed)) => tracing::info!(overdue, closed, "deadline sweep"),
                Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
            }
            if let Err(e) = sweeper.reload_reference().await {
                tracing::warn!(error = %e, "reference reload failed");
            }
            // Agencies added or renamed (here or on another instance) get their organization.
            if let Err(e) = sweeper.catalog_sync_organizations().await {
                tracing::warn!(error = %e, "catalogue organizations not synchronised");
            }
        }
    });
    let config = dothi_http::HttpConfig {
        base_url: public_url.clone(),
        jurisdiction_id: args.jurisdiction_id,
        max_body_bytes: args.max_body_bytes,
        secure_cookies: args
            .secure_cookies
            .unwrap_or(public_url.starts_with("https://")),
        login_attempts_per_minute: args.login_attempts_per_minute,
        ..Default::default()
    };
    let web = dothi_web::WebConfig {
        tiles_url: (!args.map_tiles.trim().is_empty() && args.map_tiles != "none")
            .then(|| args.map_tiles.clone()),
        tiles_attribution: args.map_attribution.clone(),
        map_center: args.map_center,
        map_zoom: args.map_zoom,
        oidc,
        dataset_exports: None,
    };
    let broker = dothi_broker::Broker::new(
        store.clone(),
        dothi_broker::BrokerConfig {
            fetch_remote_contexts: args.ngsild_fetch_contexts,
            base_url: public_url.clone(),
            access: args.ngsild_access,
            temporal_limit: args.ngsild_temporal_limit.max(1),
            ..Default::default()
        },
    );
    preload_contexts(&broker, &args.ngsild_contexts)?;
    // --- MQTT ingestion (IoT): runs until the server stops (dropping it stops it) ---
    let _ingestion = start_ingestion(&broker, &args.mqtt, args.demo)?;
    // --- NGSI-LD temporal API: history retention ---
    spawn_history_retention(&broker, args.ngsild_history_retention_days);
    // --- NGSI-LD subscriptions: the notifier follows the change log into the outbox, the
    // worker delivers the outbox (HTTP, MQTT); both run until the process exits ---
    let _notifier = dothi_broker::subscriptions::spawn_notifier(broker.clone());
    let _delivery = dothi_broker::subscriptions::spawn_delivery_worker(broker.clone());
    // --- NGSI-LD context source registry: deletes expired registrations and sends the
    // periodic notifications of registration subscriptions (their other notifications are
    // queued with each registration change and delivered by the worker above) ---
    let _registry = dothi_broker::registrations::spawn_registry_worker(broker.clone());
    // --- Alerts: the threshold-rules engine follows the change log; the webhook worker
    // delivers the alert events' outbox (docs/ALERTS.md); both run until the process exits ---
    if args.alert_engine {
        tokio::spawn(dothi_broker::rules::RulesEngine::new(broker.clone()).run());
        tokio::spawn(dothi_broker::webhooks::WebhookWorker::new(broker.store.clone()).run());
    }
    // --- Open data: the datasets the platform publishes, regenerated on a schedule and kept in
    // memory and published in the catalogue as the IOC's datasets ---
    let _open_data = opendata::spawn_refresh(
        &store,
        &args.opendata,
        dothi_store::catalog_files::ResourceFiles::new(&data_dir),
    );
    let ckan_config = dothi_ckan::CkanConfig {
        base_url: public_url.clone(),
        data_dir,
        max_upload_bytes: args.max_resource_bytes,
        ..Default::default()
    };
    let ckan = dothi_ckan::router(store.clone(), ckan_config.clone());
    // `/dataset/{id}.ttl` shares the dataset page's route: the page handler passes it on.
    let web = dothi_web::WebConfig {
        dataset_exports: Some(dothi_ckan::dataset_exports(store.clone(), ckan_config)),
        ..web
    };
    let app = dothi_web::app(store, config, web)
        .nest("/ngsi-ld/v1", dothi_ngsild_api::router(broker))
        .merge(ckan)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(
        "dothi listening on {public_url} (Open311: {public_url}/open311/v2/discovery.json)"
    );
    // On SIGTERM or Ctrl-C, stop accepting connections and let requests in flight finish; live
    // feeds (server-sent events) never finish by themselves, so after a grace period the
    // remaining connections are closed. Every acknowledged write is already committed.
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown().await;
        let _ = stopping_tx.send(true);
    });
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = stopping.changed().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::info!("closing connections still open {SHUTDOWN_GRACE:?} after shutdown began");
        }
    }
    Ok(())
}

// --- MQTT ingestion (IoT) ---
/// Starts MQTT ingestion if a broker is configured (with --demo: the local one). An unreachable
/// broker is retried in the background; only a malformed setting stops the server.
fn start_ingestion(
    broker: &dothi_broker::Broker,
    args: &MqttArgs,
    demo: bool,
) -> Result<Option<dothi_broker::mqtt::Ingestion>> {
    let url = match args.mqtt_url.as_deref().map(str::trim) {
        Some("") => return Ok(None),
        Some(url) => url.to_string(),
        None if demo => "mqtt://127.0.0.1:1883".to_string(),
        None => return Ok(None),
    };
    let mut config = dothi_broker::mqtt::IngestConfig::new(&url);
    config.topic_prefix = args.mqtt_topic_prefix.trim_end_matches('/').to_string();
    config.username = args.mqtt_username.clone();
    config.password = args.mqtt_password.clone();
    match &args.mqtt_client_id {
        Some(id) if !id.trim().is_empty() => config.client_id = id.trim().to_string(),
        _ => {
            config.client_id = format!("dothi-{}", std::process::id());
            config.clean_session = true;
        }
    }
    let ingestion = dothi_broker::mqtt::spawn(broker.clone(), config)
        .map_err(|e| anyhow::anyhow!("DOTHI_MQTT_URL: {e}"))?;
    tracing::info!(url = %url, prefix = %args.mqtt_topic_prefix, "MQTT ingestion started");
    Ok(Some(ingestion))
}

/// Loads `URL=PATH,URL=PATH` contexts from files, so that requests citing those URLs work
/// without internet access.
fn preload_contexts(broker: &dothi_broker::Broker, list: &str) -> Result<()> {
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (url, path) = pair
            .split_once('=')
            .with_context(|| format!("DOTHI_NGSILD_CONTEXTS: '{pair}' is not URL=PATH"))?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("DOTHI_NGSILD_CONTEXTS: reading {path}"))?;
        let document: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("DOTHI_NGSILD_CONTEXTS: {path} is not JSON"))?;
        broker
            .contexts
            .preload(url, document)
            .map_err(|e| anyhow::anyhow!("DOTHI_NGSILD_CONTEXTS: {path}: {e}"))?;
    }
    Ok(())
}

// --- NGSI-LD temporal API: history retention ---
/// Every hour, deletes the NGSI-LD history older than `days` (0: never). A failed purge is
/// logged and retried at the next hour; it never stops the server.
fn spawn_history_retention(broker: &dothi_broker::Broker, days: u32) {
    if days == 0 {
        return;
    }
    let broker = broker.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match broker.purge_history(days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "NGSI-LD history retention"),
                Err(e) => tracing::warn!(error = %e, "NGSI-LD history retention failed"),
            }
        }
    });
}

/// The data directory when none is configured: next to a SQLite database file, so that a
/// database and its files travel together; ./data otherwise.
fn default_data_dir(db_url: &str) -> std::path::PathBuf {
    let path = db_url
        .strip_prefix("sqlite://")
        .or_else(|| db_url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p));
    match path {
        Some(p) if p != ":memory:" && !p.is_empty() => std::path::Path::new(p)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| ".".into()),
        _ if !db_url.starts_with("postgres") && !db_url.contains("://") && !db_url.is_empty() => {
            std::path::Path::new(db_url)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(|d| d.to_path_buf())
                .unwrap_or_else(|| ".".into())
        }
        _ => "./data".into(),
    }
}

fn parse_access(s: &str) -> Result<dothi_broker::Access, String> {
    dothi_broker::Access::parse(s).ok_or_else(|| format!("'{s}' is not open, writes or all"))
}

/// "LAT,LON" with the latitude in -90..90 and the longitude in -180..180.
fn parse_center(s: &str) -> Result<(f64, f64), String> {
    let (lat, lon) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not LAT,LON"))?;
    let lat: f64 = lat
        .trim()
        .parse()
        .map_err(|_| format!("'{lat}' is not a latitude"))?;
    let lon: f64 = lon
        .trim()
        .parse()
        .map_err(|_| format!("'{lon}' is not a longitude"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!("'{s}' is outside -90..90, -180..180"));
    }
    Ok((lat, lon))
}

const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}

#[cfg(test)]
mod tests {
    use super::parse_center;

    #[test]
    fn data_directory_defaults_to_the_sqlite_files_folder() {
        use super::default_data_dir;
        assert_eq!(
            default_data_dir("sqlite://./data/dothi.db"),
            std::path::Path::new("./data")
        );
        assert_eq!(
            default_data_dir("sqlite:///tmp/x/d.db?mode=rwc"),
            std::path::Path::new("/tmp/x")
        );
        assert_eq!(
            default_data_dir("/srv/dothi/d.db"),
            std::path::Path::new("/srv/dothi")
        );
        assert_eq!(
            default_data_dir("postgres://db/dothi"),
            std::path::Path::new("./data")
        );
    }

    #[test]
    fn map_centre_is_lat_comma_lon_within_range() {
        assert_eq!(parse_center("16.4637,107.5909"), Ok((16.4637, 107.5909)));
        assert_eq!(
            parse_center(" 21.0285 , 105.8542 "),
            Ok((21.0285, 105.8542))
        );
        assert_eq!(
            parse_center("16.4637"),
            Err("'16.4637' is not LAT,LON".into())
        );
        assert_eq!(parse_center("x,107"), Err("'x' is not a latitude".into()));
        assert_eq!(
            parse_center("107.59,16.46"),
            Err("'107.59,16.46' is outside -90..90, -180..180".into())
        );
    }
}
