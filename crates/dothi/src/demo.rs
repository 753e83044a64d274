//! Demo data for Huế: the reference file shipped in `reference/hue.json`, a handful of demo
//! accounts, and generated historic reports that look like a real year of field reports
//! (realistic categories, streets, channels, deadlines met and missed, ratings).

use anyhow::Result;
use chrono::{Duration, Utc};
use dothi_domain::{text, Action, Actor, Channel, Priority, Rating, Role, Status};
use dothi_store::auth::NewUser;
use dothi_store::historic::{HistoricEvent, HistoricReport};
use dothi_store::reference::ReferenceFile;
use dothi_store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

pub const HUE_REFERENCE: &str = include_str!("../../../reference/hue.json");

/// The demo accounts. Their passwords are public: never use `--demo` in production.
pub const DEMO_USERS: [(&str, &str, Role, Option<&str>, &str); 5] = [
    (
        "admin",
        "dothi-admin-2026",
        Role::Admin,
        None,
        "Quản trị hệ thống",
    ),
    (
        "ioc",
        "dothi-ioc-2026",
        Role::IocOperator,
        None,
        "Điều hành viên IOC",
    ),
    (
        "hepco",
        "dothi-hepco-2026",
        Role::AgencyStaff,
        Some("HEPCO"),
        "Cán bộ HEPCO",
    ),
    (
        "ubnd-vyda",
        "dothi-vyda-2026",
        Role::AgencyStaff,
        Some("UBND-19777"),
        "Cán bộ UBND phường Vỹ Dạ",
    ),
    (
        "citizen",
        "dothi-citizen-2026",
        Role::Citizen,
        None,
        "Nguyễn Văn An",
    ),
];

#[derive(Deserialize)]
struct Address {
    street: String,
    commune: String,
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct Samples {
    code: String,
    #[serde(default)]
    sample_descriptions: Vec<String>,
}

#[derive(Deserialize)]
struct DemoExtras {
    addresses: Vec<Address>,
    categories: Vec<Samples>,
}

pub async fn load_reference(store: &Store) -> Result<()> {
    if store.reference().categories.is_empty() {
        let file: ReferenceFile = serde_json::from_str(HUE_REFERENCE)?;
        let summary = store.import_reference(&Actor::system(), &file).await?;
        tracing::info!(?summary, "imported the Huế reference data");
    }
    Ok(())
}

/// `serve --demo`: reference data, demo accounts and reports, once.
pub async fn prepare(store: &Store) -> Result<()> {
    load_reference(store).await?;
    let system = Actor::system();
    let existing: Vec<String> = store
        .list_users(&system)
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    let mut created_any = false;
    for (username, password, role, agency, name) in DEMO_USERS {
        if existing.iter().any(|u| u == username) {
            continue;
        }
        store
            .create_user(
                &system,
                &NewUser {
                    username: username.into(),
                    display_name: name.into(),
                    email: Some(format!("{username}@demo.dothi.vn")),
                    phone: None,
                    password: password.into(),
                    role,
                    agency_code: agency.map(str::to_string),
                },
            )
            .await?;
        created_any = true;
    }
    if created_any {
        let (key, _) = store.create_api_key(&system, "demo").await?;
        eprintln!("Demo accounts (username / password):");
        for (username, password, role, _, _) in DEMO_USERS {
            eprintln!("  {username:<10} {password:<20} {}", role.as_str());
        }
        eprintln!("Demo Open311 api_key: {key}");
    }
    if store.count_reports().await? == 0 {
        generate_reports(store, 500, 2026).await?;
    }
    if store.alert_rules().await?.is_empty() {
        create_alert_rules(store).await?;
    }
    Ok(())
}

/// Where NGSI-LD puts terms that no `@context` defines (what `dothi simulate`'s devices use).
const DEFAULT_CONTEXT: &str = "https://uri.etsi.org/ngsi-ld/default-context/";

/// The demo's threshold rules (docs/ALERTS.md): air quality above AQI 150 for 10 minutes,
/// routed to the environment department; the Kim Long gauge at or above báo động 2, routed to
/// the IOC (the reference data has no flood-control agency of its own).
async fn create_alert_rules(store: &Store) -> Result<()> {
    use dothi_store::alerts::{Operator, RuleSpec, Severity, Texts};
    let text = |vi: &str, en: &str| Texts {
        vi: vi.into(),
        en: en.into(),
    };
    let iri = |term: &str| format!("{DEFAULT_CONTEXT}{term}");
    let rules = [
        RuleSpec {
            name: text(
                "Chất lượng không khí kém (AQI > 150)",
                "Poor air quality (AQI > 150)",
            ),
            enabled: true,
            entity_type: iri("AirQualityObserved"),
            id_pattern: None,
            attribute: iri("airQualityIndex"),
            operator: Operator::Gt,
            threshold: Some(150.0),
            threshold_attribute: None,
            duration_s: 600,
            hysteresis: 10.0,
            severity: Severity::Warning,
            agency: Some("SNNMT".into()),
            message: Some(text(
                "Trạm {entity}: AQI {value} vượt ngưỡng {threshold} liên tục 10 phút",
                "Station {entity}: AQI {value} above {threshold} for 10 minutes",
            )),
        },
        RuleSpec {
            name: text(
                "Mực nước sông Hương tại Kim Long đạt báo động 2",
                "Hương River at Kim Long reaches alarm level 2",
            ),
            enabled: true,
            entity_type: iri("FloodMonitoring"),
            id_pattern: Some("^urn:ngsi-ld:FloodMonitoring:KimLong$".into()),
            attribute: iri("currentLevel"),
            operator: Operator::Ge,
            threshold: None,
            threshold_attribute: Some(iri("alarmLevel2")),
            duration_s: 0,
            hysteresis: 0.1,
            severity: Severity::Critical,
            agency: Some("IOC".into()),
            message: Some(text(
                "Mực nước tại Kim Long {value} m, đạt báo động 2 ({threshold} m)",
                "Water level at Kim Long {value} m, at alarm level 2 ({threshold} m)",
            )),
        },
    ];
    for rule in &rules {
        store.alert_rule_create(&Actor::system(), rule).await?;
    }
    Ok(())
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// Generate `n` historic reports spread over the last 180 days.
pub async fn generate_reports(store: &Store, n: usize, seed: u64) -> Result<()> {
    let extras: DemoExtras = serde_json::from_str(HUE_REFERENCE)?;
    let reference = store.reference();
    let calendar = reference.calendar.clone();
    let citizen_id = store
        .list_users(&Actor::system())
        .await?
        .into_iter()
        .find(|u| u.role == Role::Citizen)
        .map(|u| u.id);
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    let channels = [
        (Channel::App, 55),
        (Channel::Web, 12),
        (Channel::Hotline, 15),
        (Channel::Zalo, 9),
        (Channel::Email, 5),
        (Channel::Facebook, 4),
    ];
    let names = [
        "Nguyễn Thị Hoa",
        "Trần Văn Minh",
        "Lê Thị Thu",
        "Phạm Quốc Bảo",
        "Hoàng Văn Nam",
        "Võ Thị Lan",
    ];
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let category = pick(&mut rng, &reference.categories);
        let samples = extras
            .categories
            .iter()
            .find(|c| c.code == category.code)
            .map(|c| c.sample_descriptions.as_slice())
            .unwrap_or(&[]);
        let description = if samples.is_empty() {
            category.name.clone()
        } else {
            pick(&mut rng, samples).clone()
        };
        // Put the report where its text says it is, when the text names a known street.
        let folded = text::fold(&description);
        let named: Vec<&Address> = extras
            .addresses
            .iter()
            .filter(|a| {
                folded.contains(&text::fold(
                    a.street.split(" (").next().unwrap_or(&a.street),
                ))
            })
            .collect();
        let address = if named.is_empty() {
            pick(&mut rng, &extras.addresses)
        } else {
            *pick(&mut rng, &named)
        };
        let lat = address.lat + rng.gen_range(-0.0015..0.0015);
        let lon = address.lon + rng.gen_range(-0.0015..0.0015);
        let commune = Some(address.commune.clone());
        let agency = reference.route(category, commune.as_deref());
        let roll = rng.gen_range(0..100);
        let channel = channels
            .iter()
            .scan(0, |acc, (c, w)| {
                *acc += w;
                Some((*c, *acc))
            })
            .find(|(_, acc)| roll < *acc)
            .map(|(c, _)| c)
            .unwrap_or(Channel::App);
        let priority = if rng.gen_bool(0.08) {
            Priority::Urgent
        } else {
            Priority::Normal
        };
        let age_minutes = rng.gen_range(10..180 * 24 * 60);
        let created = now - Duration::minutes(age_minutes);
        let days = match priority {
            Priority::Normal => category.deadline_normal_days,
            Priority::Urgent => category.deadline_urgent_days,
        };
        let deadline = calendar.deadline(created, days);
        let ms = |t: chrono::DateTime<Utc>| t.timestamp_millis();
        let agency_label = agency
            .and_then(|id| reference.agency(id))
            .map(|a| a.code.to_lowercase())
            .unwrap_or_else(|| "ioc".into());
        let mut events = vec![HistoricEvent {
            action: Action::Create,
            from: None,
            to: Status::Received,
            actor: if channel == Channel::Hotline {
                "ioc".into()
            } else {
                "citizen".into()
            },
            actor_role: Some(if channel == Channel::Hotline {
                "ioc_operator"
            } else {
                "citizen"
            }),
            target_agency_id: None,
            note: None,
            at: ms(created),
        }];
        let mut status = Status::Received;
        let (mut resolved_at, mut closed_at, mut rating, mut on_time, mut notes) =
            (None, None, None, None, None);
        let mut updated = created;
        if let Some(agency_id) = agency {
            events.push(HistoricEvent {
                action: Action::Assign,
                from: Some(Status::Received),
                to: Status::Assigned,
                actor: "system".into(),
                actor_role: None,
                target_agency_id: Some(agency_id),
                note: None,
                at: ms(created),
            });
            status = Status::Assigned;
            // Handling time: most within the deadline, a long tail past it (Huế 2022: 51% on time).
            let span = (deadline - created).num_minutes().max(60);
            let handling = Duration::minutes((span as f64 * rng.gen_range(0.1..1.8)) as i64);
            let accepted = created + Duration::minutes(rng.gen_range(20..600));
            if accepted < now {
                events.push(HistoricEvent {
                    action: Action::Accept,
                    from: Some(status),
                    to: Status::InProgress,
                    actor: agency_label.clone(),
                    actor_role: Some("agency_staff"),
                    target_agency_id: None,
                    note: None,
                    at: ms(accepted),
                });
                status = Status::InProgress;
                updated = accepted;
            }
            let resolved = created + handling;
            if resolved < now && status == Status::InProgress {
                if rng.gen_bool(0.05) {
                    events.push(HistoricEvent {
                        action: Action::Reject,
                        from: Some(status),
                        to: Status::Rejected,
                        actor: agency_label.clone(),
                        actor_role: Some("agency_staff"),
                        target_agency_id: None,
                        note: Some("Không thuộc thẩm quyền xử lý".into()),
                        at: ms(resolved),
                    });
                    status = Status::Rejected;
                    closed_at = Some(ms(resolved));
                    notes = Some("Không thuộc thẩm quyền xử lý".to_string());
                } else {
                    let note = "Đơn vị đã kiểm tra và khắc phục xong.".to_string();
                    events.push(HistoricEvent {
                        action: Action::Resolve,
                        from: Some(status),
                        to: Status::Resolved,
                        actor: agency_label.clone(),
                        actor_role: Some("agency_staff"),
                        target_agency_id: None,
                        note: Some(note.clone()),
                        at: ms(resolved),
                    });
                    status = Status::Resolved;
                    resolved_at = Some(ms(resolved));
                    on_time = Some(resolved <= deadline);
                    notes = Some(note);
                    let rated = resolved + Duration::hours(rng.gen_range(1..72));
                    if rated < now && rng.gen_bool(0.7) {
                        let r = match rng.gen_range(0..100) {
                            0..=69 => Rating::Satisfied,
                            70..=89 => Rating::Acceptable,
                            _ => Rating::Unsatisfied,
                        };
                        events.push(HistoricEvent {
                            action: Action::Rate,
                            from: Some(status),
                            to: Status::Closed,
                            actor: "citizen".into(),
                            actor_role: Some("citizen"),
                            target_agency_id: None,
                            note: None,
                            at: ms(rated),
                        });
                        status = Status::Closed;
                        rating = Some(r);
                        closed_at = Some(ms(rated));
                        updated = rated;
                    } else if now - resolved > Duration::days(7) {
                        // Nobody rated it: the platform closed it after seven days.
                        let auto = resolved + Duration::days(7);
                        events.push(HistoricEvent {
                            action: Action::Close,
                            from: Some(status),
                            to: Status::Closed,
                            actor: "system".into(),
                            actor_role: None,
                            target_agency_id: None,
                            note: None,
                            at: ms(auto),
                        });
                        status = Status::Closed;
                        closed_at = Some(ms(auto));
                        updated = auto;
                    } else {
                        updated = resolved;
                    }
                }
            }
        }
        let overdue = status.is_open() && deadline < now;
        let search_text = text::fold(&format!(
            "{} {} {}",
            description, address.street, category.name
        ));
        batch.push(HistoricReport {
            category_id: category.id,
            status,
            priority,
            channel,
            description,
            address: Some(format!(
                "{}, {}",
                address.street,
                reference
                    .admin_unit(&address.commune)
                    .map(|u| u.name.as_str())
                    .unwrap_or("")
            )),
            lat,
            lon,
            commune_code: commune,
            agency_id: agency,
            reporter_user_id: if matches!(channel, Channel::App | Channel::Web) {
                citizen_id
            } else {
                None
            },
            reporter_name: Some(pick(&mut rng, &names).to_string()),
            reporter_phone: Some(format!("09{:08}", rng.gen_range(0..100_000_000u32))),
            search_text,
            status_notes: notes,
            created_at: ms(created),
            updated_at: ms(updated),
            deadline_at: ms(deadline),
            resolved_at,
            closed_at,
            overdue,
            resolved_on_time: on_time,
            handling_days: resolved_at
                .map(|r| calendar.working_days_between(created, dothi_store::time::from_ms(r))),
            rating,
            events,
        });
        if batch.len() == 1000 || i + 1 == n {
            store.insert_historic(&batch).await?;
            batch.clear();
        }
    }
    Ok(())
}

pub const DEMO_CATALOG: &str = include_str!("../../../reference/demo-catalog.json");

#[derive(Deserialize)]
struct DemoGroup {
    name: String,
    title: dothi_catalog::Translated,
    description: dothi_catalog::Translated,
}

#[derive(Deserialize)]
struct DemoUpload {
    resource: String,
    filename: String,
    content: String,
}

#[derive(Deserialize)]
struct DemoDataset {
    package: serde_json::Value,
    #[serde(default)]
    uploads: Vec<DemoUpload>,
}

#[derive(Deserialize)]
struct DemoCatalog {
    groups: Vec<DemoGroup>,
    datasets: Vec<DemoDataset>,
}

/// The catalogue's organizations (one per agency, always) and, once, the demo groups and
/// datasets of `reference/demo-catalog.json`, with their uploaded files under `data_dir`.
pub async fn load_catalog(store: &Store, base_url: &str, data_dir: &std::path::Path) -> Result<()> {
    use dothi_catalog::access::Viewer;
    use dothi_store::catalog::ResourceTarget;

    store.catalog_sync_organizations().await?;
    let system = Viewer::system();
    let directory = store.catalog_directory().await?;
    if !directory.groups.is_empty() || !store.catalog_dataset_names(Some(1), 0).await?.is_empty() {
        return Ok(());
    }
    let demo: DemoCatalog = serde_json::from_str(DEMO_CATALOG)?;
    let refused =
        |e: dothi_store::catalog::CatalogStoreError| anyhow::anyhow!("demo catalogue: {e}");
    for g in demo.groups {
        store
            .catalog_create_group(&system, &g.name, g.title, g.description)
            .await
            .map_err(refused)?;
    }
    let files = dothi_store::catalog_files::ResourceFiles::new(data_dir);
    for d in demo.datasets {
        let text = d.package.to_string().replace("{base}", base_url);
        let mut package: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)?;
        // The same ids on every demo instance, so that dumps of one load into another.
        let name = package["name"].as_str().unwrap_or_default().to_string();
        package.insert(
            "id".into(),
            dothi_catalog::stable_id("dataset", &name).into(),
        );
        let input = dothi_catalog::input::package(&package).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (dataset, _) = store
            .catalog_create_dataset(&system, input)
            .await
            .map_err(refused)?;
        for upload in d.uploads {
            let Some(resource) = dataset
                .resources
                .iter()
                .find(|r| r.name.vi == upload.resource)
            else {
                anyhow::bail!("demo catalogue: no resource '{}'", upload.resource);
            };
            let mut incoming = files
                .begin(u64::MAX)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            incoming
                .write(upload.content.as_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let stored = incoming
                .finish(&resource.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (input, _) = dothi_catalog::input::resource(
                dothi_catalog::render::resource_dict(resource, 0, &dataset.id, base_url)
                    .as_object()
                    .expect("a resource renders as an object"),
            );
            store
                .catalog_save_resource(
                    &system,
                    ResourceTarget::Existing { id: &resource.id },
                    input,
                    Some((stored, upload.filename)),
                )
                .await
                .map_err(refused)?;
        }
    }
    tracing::info!("loaded the demo open-data catalogue");
    Ok(())
}
