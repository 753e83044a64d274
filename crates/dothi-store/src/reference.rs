//! Reference data: administrative units, agencies, categories, routing rules and holidays.
//!
//! It is small and read on every report, so a [`Snapshot`] is cached in memory and replaced
//! after each change. Imports are idempotent upserts keyed by code, so re-importing a file is
//! safe.

use std::collections::{BTreeMap, HashMap};

use dothi_calendar::{Calendar, DayOverride};
use dothi_domain::attributes::AttributeDef;
use dothi_domain::{geo, text, Actor, DomainError};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, WriteTx};
use crate::error::{conflict_on_unique, Result};
use crate::Store;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUnit {
    pub code: String,
    pub name: String,
    pub division_type: String,
    #[serde(default)]
    pub province_code: String,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agency {
    #[serde(default)]
    pub id: i64,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub commune_code: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

pub const AGENCY_KINDS: [&str; 6] = [
    "department",
    "commune_committee",
    "utility",
    "police",
    "ioc",
    "other",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Category {
    #[serde(default)]
    pub id: i64,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub description_en: Option<String>,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub deadline_normal_days: u32,
    pub deadline_urgent_days: u32,
    /// Agency code in files and the API; resolved to an id when stored.
    #[serde(default)]
    pub default_agency: Option<String>,
    #[serde(default)]
    pub attributes: Vec<AttributeDef>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutingRule {
    pub category: String,
    /// A commune code, or `null` for every commune.
    #[serde(default)]
    pub commune: Option<String>,
    pub agency: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holiday {
    pub date: chrono::NaiveDate,
    pub name: String,
    /// `holiday` (a day off) or `working_day` (a compensatory working weekend day).
    pub kind: DayOverride,
}

/// The import file format (see `reference/hue.json`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReferenceFile {
    #[serde(default)]
    pub province: Option<Province>,
    #[serde(default)]
    pub admin_units: Vec<AdminUnit>,
    #[serde(default)]
    pub agencies: Vec<Agency>,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub routing_rules: Vec<RoutingRule>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Province {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportSummary {
    pub admin_units: usize,
    pub agencies: usize,
    pub categories: usize,
    pub routing_rules: usize,
    pub holidays: usize,
}

#[derive(Default)]
pub struct Snapshot {
    pub admin_units: Vec<AdminUnit>,
    pub agencies: Vec<Agency>,
    pub categories: Vec<Category>,
    pub routing: HashMap<(i64, String), i64>,
    pub holidays: Vec<Holiday>,
    pub calendar: Calendar,
    folded_units: Vec<(String, usize)>,
}

impl Snapshot {
    pub async fn load(db: &Db) -> Result<Self> {
        let admin_units: Vec<AdminUnit> =
            sqlx::query("SELECT code, name, division_type, province_code, lat, lon FROM admin_units ORDER BY code")
                .fetch_all(&db.pool)
                .await?
                .iter()
                .map(|r| AdminUnit {
                    code: r.get(0),
                    name: r.get(1),
                    division_type: r.get(2),
                    province_code: r.get(3),
                    lat: r.get(4),
                    lon: r.get(5),
                })
                .collect();
        let agencies: Vec<Agency> = sqlx::query(
            "SELECT id, code, name, name_en, kind, commune_code, email, phone, active FROM agencies ORDER BY code",
        )
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Agency {
            id: r.get(0),
            code: r.get(1),
            name: r.get(2),
            name_en: r.get(3),
            kind: r.get(4),
            commune_code: r.get(5),
            email: r.get(6),
            phone: r.get(7),
            active: r.get::<i64, _>(8) != 0,
        })
        .collect();
        let agency_code: HashMap<i64, String> =
            agencies.iter().map(|a| (a.id, a.code.clone())).collect();
        let mut categories = Vec::new();
        for r in sqlx::query(
            "SELECT id, code, name, name_en, description, description_en, group_name, keywords, \
             deadline_normal_days, deadline_urgent_days, default_agency_id, attributes, active \
             FROM categories ORDER BY code",
        )
        .fetch_all(&db.pool)
        .await?
        {
            let keywords: String = r.get(7);
            let attributes: String = r.get(11);
            categories.push(Category {
                id: r.get(0),
                code: r.get(1),
                name: r.get(2),
                name_en: r.get(3),
                description: r.get(4),
                description_en: r.get(5),
                group: r.get(6),
                keywords: keywords
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                deadline_normal_days: r.get::<i64, _>(8) as u32,
                deadline_urgent_days: r.get::<i64, _>(9) as u32,
                default_agency: r
                    .get::<Option<i64>, _>(10)
                    .and_then(|id| agency_code.get(&id).cloned()),
                attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                active: r.get::<i64, _>(12) != 0,
            });
        }
        let routing = sqlx::query("SELECT category_id, commune_code, agency_id FROM routing_rules")
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|r| {
                (
                    (r.get::<i64, _>(0), r.get::<String, _>(1)),
                    r.get::<i64, _>(2),
                )
            })
            .collect();
        let mut holidays = Vec::new();
        for r in sqlx::query("SELECT day, name, kind FROM holidays ORDER BY day")
            .fetch_all(&db.pool)
            .await?
        {
            let day: String = r.get(0);
            let kind: String = r.get(2);
            if let (Ok(date), Ok(kind)) = (
                day.parse(),
                serde_json::from_value(serde_json::Value::String(kind)),
            ) {
                holidays.push(Holiday {
                    date,
                    name: r.get(1),
                    kind,
                });
            }
        }
        let calendar = Calendar::with_overrides(holidays.iter().map(|h| (h.date, h.kind)));
        let folded_units = admin_units
            .iter()
            .enumerate()
            .map(|(i, u)| (text::fold(strip_division(&u.name, &u.division_type)), i))
            .collect();
        Ok(Snapshot {
            admin_units,
            agencies,
            categories,
            routing,
            holidays,
            calendar,
            folded_units,
        })
    }

    pub fn category_by_code(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    pub fn category(&self, id: i64) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn agency(&self, id: i64) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.id == id)
    }

    pub fn agency_by_code(&self, code: &str) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.code == code)
    }

    pub fn admin_unit(&self, code: &str) -> Option<&AdminUnit> {
        self.admin_units.iter().find(|u| u.code == code)
    }

    /// The commune whose centroid is nearest, if the point is plausibly inside the province
    /// (within 25 km of some centroid). Centroids are approximate; operators can correct the
    /// commune of a report when assigning it.
    pub fn locate_commune(&self, lat: f64, lon: f64) -> Option<&AdminUnit> {
        self.admin_units
            .iter()
            .filter_map(|u| Some((geo::haversine_m(lat, lon, u.lat?, u.lon?), u)))
            .filter(|(d, _)| *d <= 25_000.0)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, u)| u)
    }

    /// True when the province has located communes and the point is far from all of them.
    pub fn outside_service_area(&self, lat: f64, lon: f64) -> bool {
        self.admin_units.iter().any(|u| u.lat.is_some()) && self.locate_commune(lat, lon).is_none()
    }

    /// The commune named in a free-text address ("... phường Vỹ Dạ"), for reports without GPS.
    pub fn commune_in_address(&self, address: &str) -> Option<&AdminUnit> {
        let folded = text::fold(address);
        self.folded_units
            .iter()
            .filter(|(name, _)| name.len() >= 3 && folded.contains(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, i)| &self.admin_units[*i])
    }

    /// Category × commune → agency; then the category's default agency; then the commune's
    /// people's committee. `None` leaves the report with the IOC for manual assignment.
    pub fn route(&self, category: &Category, commune: Option<&str>) -> Option<i64> {
        let by_rule = |c: &str| self.routing.get(&(category.id, c.to_string())).copied();
        commune
            .and_then(by_rule)
            .or_else(|| by_rule("*"))
            .or_else(|| {
                category
                    .default_agency
                    .as_deref()
                    .and_then(|c| self.agency_by_code(c))
                    .map(|a| a.id)
            })
            .or_else(|| {
                let commune = commune?;
                self.agencies
                    .iter()
                    .find(|a| {
                        a.kind == "commune_committee" && a.commune_code.as_deref() == Some(commune)
                    })
                    .map(|a| a.id)
            })
            .filter(|id| self.agency(*id).is_some_and(|a| a.active))
    }

    pub fn routing_rules(&self) -> Vec<RoutingRule> {
        let mut rules: Vec<RoutingRule> = self
            .routing
            .iter()
            .filter_map(|((cat, commune), agency)| {
                Some(RoutingRule {
                    category: self.category(*cat)?.code.clone(),
                    commune: (commune != "*").then(|| commune.clone()),
                    agency: self.agency(*agency)?.code.clone(),
                })
            })
            .collect();
        rules.sort_by(|a, b| (&a.category, &a.commune).cmp(&(&b.category, &b.commune)));
        rules
    }
}

fn strip_division<'a>(name: &'a str, division: &str) -> &'a str {
    let mut n = name;
    for prefix in [division, "Phường", "Xã", "Thị trấn", "Đặc khu"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest.trim_start();
            break;
        }
        let cap: String = prefix
            .chars()
            .take(1)
            .flat_map(char::to_uppercase)
            .chain(prefix.chars().skip(1))
            .collect();
        if let Some(rest) = n.strip_prefix(cap.as_str()) {
            n = rest.trim_start();
            break;
        }
    }
    n
}

fn check_code(field: &str, code: &str) -> Result<()> {
    if code.is_empty()
        || code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(DomainError::invalid(
            field,
            format!("'{code}' must be 1-64 ASCII letters, digits, '-', '_' or '.'"),
        )
        .into());
    }
    Ok(())
}

fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 300 {
        return Err(DomainError::invalid(field, "must be 1-300 characters").into());
    }
    Ok(())
}

impl Store {
    /// Import a reference file in one transaction: all of it lands, or none of it.
    pub async fn import_reference(
        &self,
        actor: &Actor,
        file: &ReferenceFile,
    ) -> Result<ImportSummary> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let province = file
            .province
            .as_ref()
            .map(|p| p.code.clone())
            .unwrap_or_default();
        for unit in &file.admin_units {
            let mut unit = unit.clone();
            if unit.province_code.is_empty() {
                unit.province_code = province.clone();
            }
            upsert_admin_unit(&mut tx, &unit).await?;
        }
        for agency in &file.agencies {
            upsert_agency(&mut tx, agency).await?;
        }
        for category in &file.categories {
            upsert_category(&mut tx, category).await?;
        }
        for rule in &file.routing_rules {
            put_rule(&mut tx, rule).await?;
        }
        for holiday in &file.holidays {
            put_holiday(&mut tx, holiday).await?;
        }
        tx.commit().await?;
        self.reload_reference().await?;
        Ok(ImportSummary {
            admin_units: file.admin_units.len(),
            agencies: file.agencies.len(),
            categories: file.categories.len(),
            routing_rules: file.routing_rules.len(),
            holidays: file.holidays.len(),
        })
    }

    pub async fn put_admin_unit(&self, actor: &Actor, unit: &AdminUnit) -> Result<()> {
        let mut tx = self.admin_tx(actor).await?;
        upsert_admin_unit(&mut tx, unit).await?;
        self.admin_commit(tx).await
    }

    pub async fn put_agency(&self, actor: &Actor, agency: &Agency) -> Result<Agency> {
        let mut tx = self.admin_tx(actor).await?;
        upsert_agency(&mut tx, agency).await?;
        self.admin_commit(tx).await?;
        Ok(self
            .reference()
            .agency_by_code(&agency.code)
            .cloned()
            .expect("agency just written"))
    }

    pub async fn put_category(&self, actor: &Actor, category: &Category) -> Result<Category> {
        let mut tx = self.admin_tx(actor).await?;
        upsert_category(&mut tx, category).await?;
        self.admin_commit(tx).await?;
        Ok(self
            .reference()
            .category_by_code(&category.code)
            .cloned()
            .expect("category just written"))
    }

    pub async fn put_routing_rule(&self, actor: &Actor, rule: &RoutingRule) -> Result<()> {
        let mut tx = self.admin_tx(actor).await?;
        put_rule(&mut tx, rule).await?;
        self.admin_commit(tx).await
    }

    pub async fn delete_routing_rule(
        &self,
        actor: &Actor,
        category: &str,
        commune: Option<&str>,
    ) -> Result<()> {
        let cat = self
            .reference()
            .category_by_code(category)
            .map(|c| c.id)
            .ok_or_else(|| DomainError::not_found(format!("category {category}")))?;
        let mut tx = self.admin_tx(actor).await?;
        let done =
            sqlx::query("DELETE FROM routing_rules WHERE category_id = $1 AND commune_code = $2")
                .bind(cat)
                .bind(commune.unwrap_or("*"))
                .execute(tx.conn())
                .await?;
        if done.rows_affected() == 0 {
            return Err(DomainError::not_found("routing rule").into());
        }
        self.admin_commit(tx).await
    }

    pub async fn put_holiday(&self, actor: &Actor, holiday: &Holiday) -> Result<()> {
        let mut tx = self.admin_tx(actor).await?;
        put_holiday(&mut tx, holiday).await?;
        self.admin_commit(tx).await
    }

    pub async fn delete_holiday(&self, actor: &Actor, date: chrono::NaiveDate) -> Result<()> {
        let mut tx = self.admin_tx(actor).await?;
        let done = sqlx::query("DELETE FROM holidays WHERE day = $1")
            .bind(date.to_string())
            .execute(tx.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(DomainError::not_found(format!("holiday {date}")).into());
        }
        self.admin_commit(tx).await
    }

    async fn admin_tx(&self, actor: &Actor) -> Result<WriteTx> {
        actor.require_admin()?;
        self.db.begin_write().await
    }

    async fn admin_commit(&self, tx: WriteTx) -> Result<()> {
        tx.commit().await?;
        self.reload_reference().await
    }
}

async fn upsert_admin_unit(tx: &mut WriteTx, unit: &AdminUnit) -> Result<()> {
    check_code("admin unit code", &unit.code)?;
    check_name("admin unit name", &unit.name)?;
    if let (Some(lat), Some(lon)) = (unit.lat, unit.lon) {
        if !geo::valid_coordinates(lat, lon) {
            return Err(DomainError::invalid(
                "admin unit coordinates",
                "lat must be within ±90 and lon within ±180",
            )
            .into());
        }
    }
    sqlx::query(
        "INSERT INTO admin_units (code, name, division_type, province_code, lat, lon) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, division_type = excluded.division_type, \
         province_code = excluded.province_code, lat = excluded.lat, lon = excluded.lon",
    )
    // See `write_reports`: a NULL f64 must not leave a float4 statement in the cache.
    .persistent(false)
    .bind(unit.code.as_str())
    .bind(unit.name.as_str())
    .bind(unit.division_type.as_str())
    .bind(unit.province_code.as_str())
    .bind(unit.lat)
    .bind(unit.lon)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn upsert_agency(tx: &mut WriteTx, agency: &Agency) -> Result<()> {
    check_code("agency code", &agency.code)?;
    check_name("agency name", &agency.name)?;
    if !AGENCY_KINDS.contains(&agency.kind.as_str()) {
        return Err(DomainError::invalid(
            "agency kind",
            format!(
                "'{}' is not one of {}",
                agency.kind,
                AGENCY_KINDS.join(", ")
            ),
        )
        .into());
    }
    if let Some(commune) = &agency.commune_code {
        let exists = sqlx::query("SELECT 1 FROM admin_units WHERE code = $1")
            .bind(commune.as_str())
            .fetch_optional(tx.conn())
            .await?;
        if exists.is_none() {
            return Err(DomainError::invalid(
                "commune_code",
                format!("no administrative unit has code '{commune}'"),
            )
            .into());
        }
    }
    sqlx::query(
        "INSERT INTO agencies (code, name, name_en, kind, commune_code, email, phone, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, kind = excluded.kind, \
         commune_code = excluded.commune_code, email = excluded.email, phone = excluded.phone, active = excluded.active",
    )
    .bind(agency.code.as_str())
    .bind(agency.name.as_str())
    .bind(agency.name_en.as_deref())
    .bind(agency.kind.as_str())
    .bind(agency.commune_code.as_deref())
    .bind(agency.email.as_deref())
    .bind(agency.phone.as_deref())
    .bind(agency.active as i64)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn agency_id(tx: &mut WriteTx, code: &str, field: &str) -> Result<i64> {
    sqlx::query("SELECT id FROM agencies WHERE code = $1")
        .bind(code)
        .fetch_optional(tx.conn())
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| DomainError::invalid(field, format!("no agency has code '{code}'")).into())
}

async fn upsert_category(tx: &mut WriteTx, category: &Category) -> Result<()> {
    check_code("category code", &category.code)?;
    check_name("category name", &category.name)?;
    if category.deadline_normal_days > 365 || category.deadline_urgent_days > 365 {
        return Err(DomainError::invalid("deadline", "must be at most 365 working days").into());
    }
    let mut seen = std::collections::HashSet::new();
    for attribute in &category.attributes {
        attribute.check()?;
        if !seen.insert(attribute.code.as_str()) {
            return Err(DomainError::invalid(
                "attributes",
                format!("code '{}' appears twice", attribute.code),
            )
            .into());
        }
    }
    let default_agency = match &category.default_agency {
        Some(code) => Some(agency_id(tx, code, "default_agency").await?),
        None => None,
    };
    let mut attributes = category.attributes.clone();
    attributes.sort_by_key(|a| a.order);
    sqlx::query(
        "INSERT INTO categories (code, name, name_en, description, description_en, group_name, keywords, \
         deadline_normal_days, deadline_urgent_days, default_agency_id, attributes, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, description = excluded.description, \
         description_en = excluded.description_en, group_name = excluded.group_name, keywords = excluded.keywords, \
         deadline_normal_days = excluded.deadline_normal_days, deadline_urgent_days = excluded.deadline_urgent_days, \
         default_agency_id = excluded.default_agency_id, attributes = excluded.attributes, active = excluded.active",
    )
    .bind(category.code.as_str())
    .bind(category.name.as_str())
    .bind(category.name_en.as_deref())
    .bind(category.description.as_str())
    .bind(category.description_en.as_deref())
    .bind(category.group.as_str())
    .bind(category.keywords.iter().map(|k| k.replace(',', " ")).collect::<Vec<_>>().join(","))
    .bind(category.deadline_normal_days as i64)
    .bind(category.deadline_urgent_days as i64)
    .bind(default_agency)
    .bind(serde_json::to_string(&attributes).expect("attributes serialise"))
    .bind(category.active as i64)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn put_rule(tx: &mut WriteTx, rule: &RoutingRule) -> Result<()> {
    let category: i64 = sqlx::query("SELECT id FROM categories WHERE code = $1")
        .bind(rule.category.as_str())
        .fetch_optional(tx.conn())
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| {
            DomainError::invalid(
                "category",
                format!("no category has code '{}'", rule.category),
            )
        })?;
    if let Some(commune) = &rule.commune {
        let exists = sqlx::query("SELECT 1 FROM admin_units WHERE code = $1")
            .bind(commune.as_str())
            .fetch_optional(tx.conn())
            .await?;
        if exists.is_none() {
            return Err(DomainError::invalid(
                "commune",
                format!("no administrative unit has code '{commune}'"),
            )
            .into());
        }
    }
    let agency = agency_id(tx, &rule.agency, "agency").await?;
    sqlx::query(
        "INSERT INTO routing_rules (category_id, commune_code, agency_id) VALUES ($1, $2, $3) \
         ON CONFLICT (category_id, commune_code) DO UPDATE SET agency_id = excluded.agency_id",
    )
    .bind(category)
    .bind(rule.commune.as_deref().unwrap_or("*"))
    .bind(agency)
    .execute(tx.conn())
    .await
    .map_err(|e| conflict_on_unique(e, || "routing rule already exists".into()))?;
    Ok(())
}

async fn put_holiday(tx: &mut WriteTx, holiday: &Holiday) -> Result<()> {
    check_name("holiday name", &holiday.name)?;
    let kind = match holiday.kind {
        DayOverride::Holiday => "holiday",
        DayOverride::WorkingDay => "working_day",
    };
    sqlx::query(
        "INSERT INTO holidays (day, name, kind) VALUES ($1, $2, $3) \
         ON CONFLICT (day) DO UPDATE SET name = excluded.name, kind = excluded.kind",
    )
    .bind(holiday.date.to_string())
    .bind(holiday.name.as_str())
    .bind(kind)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Pick the province `code` out of the national file (`reference/vn-admin-units-2025.json`)
/// so any of the 34 provinces can be loaded.
pub fn province_from_national(national: &serde_json::Value, code: &str) -> Option<ReferenceFile> {
    let province = national["provinces"]
        .as_array()?
        .iter()
        .find(|p| p["code"].to_string().trim_matches('"') == code)?;
    let units = province["communes"]
        .as_array()
        .or_else(|| province["wards"].as_array())?
        .iter()
        .map(|c| AdminUnit {
            code: format!("{:0>5}", c["code"].to_string().trim_matches('"')),
            name: c["name"].as_str().unwrap_or_default().to_string(),
            division_type: c["division_type"].as_str().unwrap_or_default().to_string(),
            province_code: code.to_string(),
            lat: None,
            lon: None,
        })
        .collect();
    Some(ReferenceFile {
        province: Some(Province {
            code: code.into(),
            name: province["name"].as_str().unwrap_or_default().into(),
        }),
        admin_units: units,
        ..Default::default()
    })
}

/// Map of commune code → name, used by listings.
pub fn commune_names(snapshot: &Snapshot) -> BTreeMap<String, String> {
    snapshot
        .admin_units
        .iter()
        .map(|u| (u.code.clone(), u.name.clone()))
        .collect()
}
