//! The datasets the platform publishes itself (docs/OPEN-DATA.md): their refresh task in
//! `dothi serve`, which keeps the latest files in memory for the catalogue, and `dothi
//! open-data`, which writes them to a folder.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use dothi_opendata::{LatestDatasets, Options};
use dothi_store::Store;

/// What the published datasets cover (`dothi serve` and `dothi open-data`).
#[derive(Args, Clone)]
pub struct OpenDataOptionArgs {
    /// Open data: the anonymised report list covers the reports received in this many days up
    /// to the refresh.
    #[arg(long, env = "DOTHI_OPENDATA_REPORT_DAYS", default_value_t = 365)]
    pub opendata_report_days: u32,
    /// Open data: the sensor aggregates cover this many whole days before the refresh day.
    #[arg(long, env = "DOTHI_OPENDATA_SENSOR_DAYS", default_value_t = 90)]
    pub opendata_sensor_days: u32,
    /// Open data: NGSI-LD entity types whose numeric attributes are published as daily
    /// aggregates (comma-separated local names); entities of other types never are.
    #[arg(
        long,
        env = "DOTHI_OPENDATA_SENSOR_TYPES",
        default_value = "AirQualityObserved,WaterQualityObserved,WeatherObserved,FloodMonitoring,WaterObserved,NoiseLevelObserved"
    )]
    pub opendata_sensor_types: String,
}

impl OpenDataOptionArgs {
    pub fn options(&self) -> Options {
        Options {
            report_list_days: self.opendata_report_days,
            sensor_days: self.opendata_sensor_days,
            sensor_types: self
                .opendata_sensor_types
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// `dothi serve` options of the published datasets.
#[derive(Args, Clone)]
pub struct OpenDataArgs {
    /// Open data: regenerate the published datasets every this many seconds (the first time at
    /// start-up); 0: never.
    #[arg(long, env = "DOTHI_OPENDATA_REFRESH_SECS", default_value_t = 86_400)]
    pub opendata_refresh_secs: u64,
    #[command(flatten)]
    pub options: OpenDataOptionArgs,
}

/// The organization the platform's own datasets are published under: the IOC's (its agency
/// code in lower case).
pub const PUBLISHER: &str = "ioc";

/// Publishes each generated dataset in the catalogue, one transaction each; a failure is logged
/// and leaves that dataset as the previous refresh published it.
pub async fn publish_in_catalogue(
    store: &Store,
    files: &dothi_store::catalog_files::ResourceFiles,
    datasets: &[dothi_opendata::PublishedDataset],
) {
    for dataset in datasets {
        if let Err(e) = store
            .catalog_publish_generated(files, dataset, PUBLISHER)
            .await
        {
            tracing::warn!(dataset = %dataset.name, error = %e, "publishing in the catalogue failed");
        }
    }
}

/// Starts the refresh task; the handle returned always holds the latest refresh (None before
/// the first one ends). Each refresh is also published in the catalogue (`catalogue`: the
/// catalogue's resource files). A failed refresh is logged and the previous files stay
/// published.
pub fn spawn_refresh(
    store: &Store,
    args: &OpenDataArgs,
    catalogue: dothi_store::catalog_files::ResourceFiles,
) -> LatestDatasets {
    let latest = LatestDatasets::default();
    if args.opendata_refresh_secs == 0 {
        return latest;
    }
    let (store, options, handle) = (store.clone(), args.options.options(), latest.clone());
    let period = Duration::from_secs(args.opendata_refresh_secs);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let started = std::time::Instant::now();
            let now = dothi_store::time::now_ms();
            match dothi_store::opendata::generate_all(&store, now, &options).await {
                Ok(datasets) => {
                    let bytes: usize = datasets
                        .iter()
                        .flat_map(|d| d.resources.iter().map(|r| r.bytes.len()))
                        .sum();
                    publish_in_catalogue(&store, &catalogue, &datasets).await;
                    handle.replace(datasets);
                    tracing::info!(
                        bytes,
                        ms = started.elapsed().as_millis() as u64,
                        "open data refreshed"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "open data refresh failed"),
            }
        }
    });
    latest
}

/// `dothi open-data`: write the published datasets to a folder, as a refresh would make them.
#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub db: crate::DbArgs,
    /// The folder to write to (created if missing): every resource file, and
    /// `{dataset}.meta.json` with each dataset's metadata and column schemas.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub options: OpenDataOptionArgs,
}

pub async fn export(args: ExportArgs) -> Result<()> {
    let store = crate::open(&args.db, dothi_store::Settings::default()).await?;
    let datasets = dothi_store::opendata::generate_all(
        &store,
        dothi_store::time::now_ms(),
        &args.options.options(),
    )
    .await?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for dataset in &datasets {
        let meta = args.out.join(format!("{}.meta.json", dataset.name));
        std::fs::write(&meta, serde_json::to_vec_pretty(dataset)?)
            .with_context(|| format!("writing {}", meta.display()))?;
        for resource in &dataset.resources {
            let path = args.out.join(&resource.name);
            std::fs::write(&path, &resource.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("{}\t{} rows", path.display(), resource.row_count);
        }
    }
    Ok(())
}
