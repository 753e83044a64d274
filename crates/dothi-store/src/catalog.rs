//! The open-data catalogue's persistence: datasets (one JSON document each, plus the folded
//! search columns and facet terms rewritten with it), organizations (one per agency) and
//! groups. What may be read or written is decided by `dothi_catalog::access`; validation by
//! `dothi_catalog::input`; this module resolves references, enforces uniqueness and writes.
//!
//! Searches read the process's index (`catalog_index`), a cache of the catalogue kept exact by
//! the catalogue's generation: every transaction here that writes a catalogue table raises it
//! (`catalog_index::raise_generation`) and stamps the datasets it wrote, last, before its
//! commit. Everything else reads the database, so several instances on one PostgreSQL
//! database always agree.

use std::collections::HashMap;
use std::sync::Arc;

use dothi_catalog::access::{self, Viewer};
use dothi_catalog::input::{self, PackageInput, Resolved};
use dothi_catalog::model::{Dataset, Group, Organization, State, StoredFile, Translated};
use dothi_catalog::render;
use dothi_catalog::search::SearchQuery;
use dothi_catalog::{CatalogError, FieldErrors};
use sqlx::Row;

use crate::catalog_files::StoredUpload;
use crate::db::{bind_all, Backend, Val, WriteTx};
use crate::error::StoreError;
use crate::time::now_ms;
use crate::Store;

mod groups;

/// A refusal in the catalogue's terms, or a storage failure.
#[derive(Debug)]
pub enum CatalogStoreError {
    Refused(CatalogError),
    Store(StoreError),
}

impl From<CatalogError> for CatalogStoreError {
    fn from(e: CatalogError) -> Self {
        CatalogStoreError::Refused(e)
    }
}

impl From<StoreError> for CatalogStoreError {
    fn from(e: StoreError) -> Self {
        CatalogStoreError::Store(e)
    }
}

impl From<sqlx::Error> for CatalogStoreError {
    fn from(e: sqlx::Error) -> Self {
        CatalogStoreError::Store(e.into())
    }
}

impl std::fmt::Display for CatalogStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogStoreError::Refused(e) => e.fmt(f),
            CatalogStoreError::Store(e) => e.fmt(f),
        }
    }
}

pub type CatalogResult<T> = Result<T, CatalogStoreError>;

fn validation(field: &str, message: impl Into<String>) -> CatalogStoreError {
    CatalogError::Validation(FieldErrors::one(field, message)).into()
}

fn denied(message: String) -> CatalogStoreError {
    CatalogError::NotAuthorized(message).into()
}

/// The catalogue's organizations and groups, by id.
#[derive(Default)]
pub struct Directory {
    pub organizations: HashMap<String, Organization>,
    pub groups: HashMap<String, Group>,
    org_seq: HashMap<String, i64>,
}

impl Directory {
    pub fn organization(&self, id_or_name: &str) -> Option<&Organization> {
        self.organizations
            .get(id_or_name)
            .or_else(|| self.organizations.values().find(|o| o.name == id_or_name))
    }

    pub fn group(&self, id_or_name: &str) -> Option<&Group> {
        self.groups
            .get(id_or_name)
            .or_else(|| self.groups.values().find(|g| g.name == id_or_name))
    }

    pub fn render_context<'a>(&'a self, base_url: &'a str) -> render::Context<'a> {
        render::Context {
            base_url,
            organizations: &self.organizations,
            groups: &self.groups,
        }
    }

    fn owner(&self, dataset: &Dataset) -> CatalogResult<&Organization> {
        self.organizations
            .get(&dataset.owner_org)
            .ok_or_else(|| CatalogStoreError::Store(StoreError::Database(sqlx::Error::RowNotFound)))
    }
}

/// One page of `package_search`.
pub struct SearchPage {
    pub count: i64,
    pub datasets: Vec<Dataset>,
    /// Per facet field asked for: (value, count), most frequent first.
    pub facets: Vec<(String, Vec<(String, i64)>)>,
    pub directory: Arc<Directory>,
}

/// Which dataset a resource write targets.
pub enum ResourceTarget<'a> {
    /// A new resource of this dataset (id or name).
    New { package: &'a str },
    /// An existing resource.
    Existing { id: &'a str },
}

/// A resource write's outcome; `replaced_file` is the key of a file no longer referenced.
pub struct SavedResource {
    pub dataset: Dataset,
    pub resource_id: String,
    pub directory: Directory,
    pub replaced_file: Option<String>,
}

const ORG_COLUMNS: &str = "seq, id, name, title, title_en, description, description_en, \
                           image_url, agency_id, state, created_at";
const GROUP_COLUMNS: &str =
    "seq, id, name, title, title_en, description, description_en, image_url, state, created_at";

fn state_of(s: &str) -> State {
    if s == "deleted" {
        State::Deleted
    } else {
        State::Active
    }
}

fn decode(body: &str) -> CatalogResult<Dataset> {
    serde_json::from_str(body).map_err(|e| {
        CatalogStoreError::Store(StoreError::Database(sqlx::Error::Decode(Box::new(e))))
    })
}

/// URL name of an agency's organization: its code in lower case.
fn organization_name(code: &str) -> String {
    let mut name: String = code
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.chars().count() < input::NAME_MIN {
        name.push('-');
    }
    name.chars().take(input::NAME_MAX).collect()
}

/// The datasets a viewer may find with `include_private`: private
/// datasets are included for the organizations whose private datasets
/// [`access::Viewer::reads_private_of`] lets them read (the rule `access::may_read` applies to
/// single datasets).
enum Scope {
    Public,
    All,
    PublicAnd(Vec<i64>),
}

impl Scope {
    fn of(viewer: &Viewer, dir: &Directory, include_private: bool) -> Scope {
        if !include_private {
            return Scope::Public;
        }
        let readable: Vec<i64> = dir
            .organizations
            .values()
            .filter(|o| viewer.reads_private_of(o))
            .filter_map(|o| dir.org_seq.get(&o.id).copied())
            .collect();
        if readable.is_empty() {
            Scope::Public
        } else if readable.len() == dir.organizations.len() {
            Scope::All
        } else {
            Scope::PublicAnd(readable)
        }
    }

    /// Whether a dataset with this visibility and owner (organization seq) is found.
    fn admits(&self, private: bool, owner_org: i64) -> bool {
        match self {
            Scope::Public => !private,
            Scope::All => true,
            Scope::PublicAnd(orgs) => !private || orgs.contains(&owner_org),
        }
    }
}

/// Organizations and groups, read on `conn`.
pub(crate) async fn read_directory(
    conn: &mut sqlx::AnyConnection,
) -> Result<Directory, StoreError> {
    let orgs = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM catalog_organizations"))
        .fetch_all(&mut *conn)
        .await?;
    let groups = sqlx::query(&format!("SELECT {GROUP_COLUMNS} FROM catalog_groups"))
        .fetch_all(&mut *conn)
        .await?;
    let mut dir = Directory::default();
    for r in orgs {
        let o = Organization {
            id: r.get(1),
            name: r.get(2),
            title: Translated::new(r.get::<String, _>(3), r.get::<String, _>(4)),
            description: Translated::new(r.get::<String, _>(5), r.get::<String, _>(6)),
            image_url: r.get(7),
            agency_id: r.get(8),
            state: state_of(&r.get::<String, _>(9)),
            created: r.get(10),
        };
        dir.org_seq.insert(o.id.clone(), r.get(0));
        dir.organizations.insert(o.id.clone(), o);
    }
    for r in groups {
        let g = Group {
            id: r.get(1),
            name: r.get(2),
            title: Translated::new(r.get::<String, _>(3), r.get::<String, _>(4)),
            description: Translated::new(r.get::<String, _>(5), r.get::<String, _>(6)),
            image_url: r.get(7),
            state: state_of(&r.get::<String, _>(8)),
            created: r.get(9),
        };
        dir.groups.insert(g.id.clone(), g);
    }
    Ok(dir)
}

impl Store {
    /// Organizations and groups, read now.
    pub async fn catalog_directory(&self) -> Result<Directory, StoreError> {
        let mut conn = self.db.pool.acquire().await?;
        read_directory(&mut conn).await
    }

    /// One organization per agency of the reference data: creates the missing ones and
    /// follows renamed agencies (rewriting the search index of their datasets, which holds
    /// the organization's titles). Returns how many were created.
    pub async fn catalog_sync_organizations(&self) -> Result<usize, StoreError> {
        enum Change {
            Rename(String, String, String),
            Create(String, String, String, String, i64),
        }
        let reference = self.reference();
        let mut dir = self.catalog_directory().await?;
        let by_agency: HashMap<i64, &Organization> = dir
            .organizations
            .values()
            .filter_map(|o| o.agency_id.map(|a| (a, o)))
            .collect();
        let mut taken: std::collections::HashSet<String> =
            dir.organizations.values().map(|o| o.name.clone()).collect();
        let mut changes = vec![];
        for agency in &reference.agencies {
            let title_en = agency.name_en.clone().unwrap_or_default();
            match by_agency.get(&agency.id) {
                Some(o) if o.title.vi == agency.name && o.title.en == title_en => {}
                Some(o) => {
                    changes.push(Change::Rename(o.id.clone(), agency.name.clone(), title_en))
                }
                None => {
                    let base = organization_name(&agency.code);
                    let mut name = base.clone();
                    let mut n = 1;
                    while taken.contains(&name) {
                        n += 1;
                        name = format!("{base}-{n}");
                    }
                    taken.insert(name.clone());
                    changes.push(Change::Create(
                        dothi_catalog::stable_id("organization", &agency.code),
                        name,
                        agency.name.clone(),
                        title_en,
                        agency.id,
                    ));
                }
            }
        }
        // Called every sweep: nothing to do must cost no write transaction.
        if changes.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin_write().await?;
        let mut created = 0;
        let mut renamed = vec![];
        let now = now_ms();
        for change in changes {
            match change {
                Change::Rename(id, title, title_en) => {
                    sqlx::query(
                        "UPDATE catalog_organizations SET title = $1, title_en = $2 WHERE id = $3",
                    )
                    .bind(title.as_str())
                    .bind(title_en.as_str())
                    .bind(id.as_str())
                    .execute(tx.conn())
                    .await?;
                    if let Some(o) = dir.organizations.get_mut(&id) {
                        o.title = Translated::new(title, title_en);
                    }
                    renamed.extend(dir.org_seq.get(&id).copied());
                }
                Change::Create(id, name, title, title_en, agency) => {
                    sqlx::query(
                        "INSERT INTO catalog_organizations (id, name, title, title_en, agency_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(title)
                    .bind(title_en)
                    .bind(agency)
                    .bind(now)
                    .execute(tx.conn())
                    .await?;
                    created += 1;
                }
            }
        }
        for seq in renamed {
            groups::reindex(&mut tx, groups::Affected::Organization(seq, &dir))
                .await
                .map_err(|e| match e {
                    CatalogStoreError::Store(e) => e,
                    // Reindexing unchanged documents refuses nothing they did not already hold.
                    CatalogStoreError::Refused(e) => {
                        dothi_domain::DomainError::Conflict(e.to_string()).into()
                    }
                })?;
        }
        crate::catalog_index::raise_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Create a group (a theme datasets are filed under); sysadmins only. `group_create`
    /// is [`Store::catalog_add_group`].
    pub async fn catalog_create_group(
        &self,
        viewer: &Viewer,
        name: &str,
        title: Translated,
        description: Translated,
    ) -> CatalogResult<Group> {
        let mut errors = FieldErrors::new();
        input::check_name(name, "name", &mut errors);
        errors.into_result(())?;
        let given = input::group::GroupInput {
            id: None,
            name: name.to_string(),
            title,
            description,
            image_url: String::new(),
        };
        self.catalog_add_group(viewer, given).await
    }

    async fn dataset_row(
        &self,
        tx: Option<&mut WriteTx>,
        id_or_name: &str,
    ) -> CatalogResult<Option<(i64, Dataset)>> {
        let lock = match (tx.is_some(), self.db.backend) {
            (true, Backend::Postgres) => " FOR UPDATE",
            _ => "",
        };
        let sql =
            format!(
                "SELECT d.seq, b.body FROM catalog_datasets d \
                 JOIN catalog_dataset_bodies b ON b.dataset = d.seq WHERE d.id = $1 OR d.name = $1{lock}"
            );
        let q = sqlx::query(&sql).bind(id_or_name);
        let row = match tx {
            Some(tx) => q.fetch_optional(tx.conn()).await?,
            None => q.fetch_optional(&self.db.pool).await?,
        };
        match row {
            Some(r) => Ok(Some((r.get(0), decode(&r.get::<String, _>(1))?))),
            None => Ok(None),
        }
    }

    /// `package_show`: the dataset if the viewer may read it.
    pub async fn catalog_dataset(
        &self,
        viewer: &Viewer,
        id_or_name: &str,
    ) -> CatalogResult<(Dataset, Directory)> {
        let (_, dataset) = self
            .dataset_row(None, id_or_name)
            .await?
            .ok_or_else(CatalogError::not_found)?;
        let dir = self.catalog_directory().await?;
        check_read(viewer, &dataset, dir.owner(&dataset)?)?;
        Ok((dataset, dir))
    }

    /// `resource_show` and downloads: the resource's dataset if the viewer may read it.
    pub async fn catalog_dataset_of_resource(
        &self,
        viewer: &Viewer,
        resource_id: &str,
    ) -> CatalogResult<(Dataset, Directory)> {
        let not_found = || CatalogError::NotFound("Resource was not found.".into());
        let row = sqlx::query(
            "SELECT b.body FROM catalog_resources r \
             JOIN catalog_dataset_bodies b ON b.dataset = r.dataset WHERE r.id = $1",
        )
        .bind(resource_id)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(not_found)?;
        let dataset = decode(&row.get::<String, _>(0))?;
        let dir = self.catalog_directory().await?;
        check_read(viewer, &dataset, dir.owner(&dataset)?)?;
        Ok((dataset, dir))
    }

    /// `package_create`.
    pub async fn catalog_create_dataset(
        &self,
        viewer: &Viewer,
        mut input: PackageInput,
    ) -> CatalogResult<(Dataset, Directory)> {
        if !viewer.is_signed_in() {
            return Err(denied(
                "Action package_create requires an authenticated user".into(),
            ));
        }
        let dir = self.catalog_directory().await?;
        let org = match &input.owner_org {
            Some(r) => dir
                .organization(r)
                .ok_or_else(|| validation("owner_org", "Organization does not exist"))?,
            // Agency staff file their datasets under their agency by default.
            None => dir
                .organizations
                .values()
                .find(|o| viewer.agency_id.is_some() && o.agency_id == viewer.agency_id)
                .ok_or_else(|| validation("owner_org", "An organization must be provided"))?,
        };
        if !access::may_edit(viewer, org) {
            return Err(denied(format!(
                "User {} not authorized to add dataset to this organization",
                viewer.name
            )));
        }
        // As CKAN: only sysadmins choose the id of a new dataset (e.g. when copying a portal).
        if !viewer.is_sysadmin() {
            input.dataset.id.clear();
        }
        let groups = resolve_groups(&dir, input.groups.as_deref().unwrap_or(&[]))?;
        let mut tx = self.db.begin_write().await?;
        if !input.dataset.id.is_empty()
            && self
                .dataset_row(Some(&mut tx), &input.dataset.id)
                .await?
                .is_some()
        {
            return Err(validation("id", "Dataset id already exists"));
        }
        let dataset = input::build_dataset(
            input,
            None,
            Resolved {
                owner_org: org.id.clone(),
                groups,
                creator_user_id: viewer.user_id.map(|u| u.to_string()),
                now: now_ms(),
            },
        );
        write_dataset(&mut tx, None, &dataset, &dir).await?;
        tx.commit().await?;
        Ok((dataset, dir))
    }

    /// `package_update` (and `package_patch`, after merging): replaces the dataset.
    pub async fn catalog_update_dataset(
        &self,
        viewer: &Viewer,
        id_or_name: &str,
        input: PackageInput,
    ) -> CatalogResult<(Dataset, Directory)> {
        let dir = self.catalog_directory().await?;
        let mut tx = self.db.begin_write().await?;
        let (seq, existing) = self
            .dataset_row(Some(&mut tx), id_or_name)
            .await?
            .ok_or_else(CatalogError::not_found)?;
        let old_org = dir.owner(&existing)?;
        if !access::may_edit(viewer, old_org) {
            return Err(denied(format!(
                "User {} not authorized to edit package {}",
                viewer.name, existing.id
            )));
        }
        let org = match &input.owner_org {
            Some(r) => dir
                .organization(r)
                .ok_or_else(|| validation("owner_org", "Organization does not exist"))?,
            None => old_org,
        };
        if !access::may_edit(viewer, org) {
            return Err(validation(
                "owner_org",
                "You cannot add a dataset to this organization",
            ));
        }
        let groups = match &input.groups {
            Some(refs) => resolve_groups(&dir, refs)?,
            None => existing.groups.clone(),
        };
        let dataset = input::build_dataset(
            input,
            Some(&existing),
            Resolved {
                owner_org: org.id.clone(),
                groups,
                creator_user_id: None,
                now: now_ms(),
            },
        );
        write_dataset(&mut tx, Some(seq), &dataset, &dir).await?;
        tx.commit().await?;
        Ok((dataset, dir))
    }

    /// `package_delete`: a soft delete, as in CKAN (the dataset keeps its name and id).
    pub async fn catalog_delete_dataset(
        &self,
        viewer: &Viewer,
        id_or_name: &str,
    ) -> CatalogResult<()> {
        let dir = self.catalog_directory().await?;
        let mut tx = self.db.begin_write().await?;
        let (seq, mut dataset) = self
            .dataset_row(Some(&mut tx), id_or_name)
            .await?
            .ok_or_else(CatalogError::not_found)?;
        if !access::may_edit(viewer, dir.owner(&dataset)?) {
            return Err(denied(format!(
                "User {} not authorized to delete package {}",
                viewer.name, dataset.id
            )));
        }
        dataset.state = State::Deleted;
        dataset.metadata_modified = now_ms();
        write_dataset(&mut tx, Some(seq), &dataset, &dir).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `resource_create` / `resource_patch`: a resource added or replaced, with the file of an
    /// upload already on disk (see `catalog_files`).
    pub async fn catalog_save_resource(
        &self,
        viewer: &Viewer,
        target: ResourceTarget<'_>,
        input: dothi_catalog::Resource,
        upload: Option<(StoredUpload, String)>,
    ) -> CatalogResult<SavedResource> {
        let dir = self.catalog_directory().await?;
        let mut tx = self.db.begin_write().await?;
        let dataset_ref = match &target {
            ResourceTarget::New { package } => package.to_string(),
            ResourceTarget::Existing { id } => sqlx::query(
                "SELECT d.id FROM catalog_resources r JOIN catalog_datasets d ON d.seq = r.dataset \
                 WHERE r.id = $1",
            )
            .bind(*id)
            .fetch_optional(tx.conn())
            .await?
            .map(|r| r.get::<String, _>(0))
            .ok_or_else(|| CatalogError::NotFound("Resource was not found.".into()))?,
        };
        let (seq, mut dataset) = self
            .dataset_row(Some(&mut tx), &dataset_ref)
            .await?
            .filter(|(_, d)| d.state == State::Active)
            .ok_or_else(|| CatalogError::NotFound("Package was not found.".into()))?;
        if !access::may_edit(viewer, dir.owner(&dataset)?) {
            return Err(denied(match &target {
                ResourceTarget::New { .. } => format!(
                    "User {} not authorized to create resources on dataset {}",
                    viewer.name, dataset.id
                ),
                ResourceTarget::Existing { id } => {
                    format!("User {} not authorized to edit resource {id}", viewer.name)
                }
            }));
        }
        let now = now_ms();
        let position = match &target {
            ResourceTarget::New { .. } => None,
            ResourceTarget::Existing { id } => dataset.resources.iter().position(|r| r.id == *id),
        };
        let existing = position.map(|p| dataset.resources[p].clone());
        let mut input = input;
        if let Some(e) = &existing {
            input.id = e.id.clone();
        }
        let mut resource = input::build_resource(input, existing.as_ref(), now);
        let old_file = existing.as_ref().and_then(|r| r.file.clone());
        if let Some((stored, filename)) = upload {
            input::attach_file(
                &mut resource,
                StoredFile {
                    key: stored.key,
                    filename: input::munge_filename(&filename),
                },
                stored.size,
                stored.sha256,
                now,
            );
        }
        let replaced_file = match (&old_file, &resource.file) {
            (Some(old), Some(new)) if old.key == new.key => None,
            (Some(old), _) => Some(old.key.clone()),
            _ => None,
        };
        let resource_id = resource.id.clone();
        match position {
            Some(p) => dataset.resources[p] = resource,
            None => dataset.resources.push(resource),
        }
        dataset.metadata_modified = now;
        write_dataset(&mut tx, Some(seq), &dataset, &dir).await?;
        tx.commit().await?;
        Ok(SavedResource {
            dataset,
            resource_id,
            directory: dir,
            replaced_file,
        })
    }

    /// `package_list`: names of the public active datasets, by name.
    pub async fn catalog_dataset_names(
        &self,
        limit: Option<i64>,
        offset: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT name FROM catalog_datasets WHERE state = 'active' AND private = 0 \
             ORDER BY name LIMIT $1 OFFSET $2",
        )
        .bind(limit.unwrap_or(i64::MAX))
        .bind(offset)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Public dataset counts per organization and group id.
    pub async fn catalog_package_counts(&self) -> Result<HashMap<String, i64>, StoreError> {
        let dir_rows = sqlx::query(
            "SELECT o.id, COUNT(d.seq) FROM catalog_datasets d JOIN catalog_organizations o ON o.seq = d.owner_org \
             WHERE d.state = 'active' AND d.private = 0 GROUP BY o.id",
        )
        .fetch_all(&self.db.pool)
        .await?;
        let group_rows = sqlx::query(
            "SELECT g.id, COUNT(t.dataset) FROM catalog_terms t JOIN catalog_groups g ON g.name = t.value \
             WHERE t.field = 'groups' AND t.private = 0 GROUP BY g.id",
        )
        .fetch_all(&self.db.pool)
        .await?;
        Ok(dir_rows
            .iter()
            .chain(group_rows.iter())
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect())
    }

    /// `tag_list`: tags of the public active datasets, by name; `query` matches ignoring
    /// diacritics.
    pub async fn catalog_tags(&self, query: Option<&str>) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT value FROM catalog_terms WHERE field = 'tags' AND private = 0 ORDER BY value",
        )
        .fetch_all(&self.db.pool)
        .await?;
        let needle = query.map(dothi_domain::text::fold).unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| r.get::<String, _>(0))
            .filter(|t| needle.is_empty() || dothi_domain::text::fold(t).contains(&needle))
            .collect())
    }

    /// Loads the process's search index now rather than at the first search.
    pub async fn catalog_load_index(&self) -> Result<(), StoreError> {
        let generation = crate::catalog_index::generation(&self.db).await?;
        drop(crate::catalog_index::at_least(&self.catalog_index, &self.db, generation).await?);
        Ok(())
    }

    /// `package_search`: answered by the process's index (`catalog_index`); the database gives
    /// the page's bodies and, in the same statement, the catalogue's generation. If that is
    /// ahead of the index, the index catches up and the search runs again, so the answer is
    /// never older than the search. One statement when nothing changed.
    pub async fn catalog_search(
        &self,
        viewer: &Viewer,
        query: &SearchQuery,
    ) -> CatalogResult<SearchPage> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (seen, directory, scope, found) = {
                let cached = self.catalog_index.read().await;
                let scope = Scope::of(viewer, &cached.directory, query.include_private);
                let found = cached
                    .index
                    .search(query, |private, owner| scope.admits(private, owner));
                (cached.generation, cached.directory.clone(), scope, found)
            };
            let (generation, bodies) = self.page_bodies(&found.page).await?;
            // Under a stream of writes, the third answer is taken: its index was reloaded
            // during this search, so it is still no older than the search.
            if generation > seen && attempts < 3 {
                drop(
                    crate::catalog_index::at_least(&self.catalog_index, &self.db, generation)
                        .await?,
                );
                continue;
            }
            let mut datasets = Vec::with_capacity(bodies.len());
            for body in bodies {
                let dataset = decode(&body)?;
                let owner = directory
                    .org_seq
                    .get(&dataset.owner_org)
                    .copied()
                    .unwrap_or(-1);
                // Only if the index is older than the bodies can this leave one out.
                if dataset.state == State::Active && scope.admits(dataset.private, owner) {
                    datasets.push(dataset);
                }
            }
            return Ok(SearchPage {
                count: found.count,
                datasets,
                facets: found.facets,
                directory,
            });
        }
    }

    /// The catalogue's generation and the bodies of these datasets, in this order, read in one
    /// statement (one snapshot).
    async fn page_bodies(&self, seqs: &[i64]) -> CatalogResult<(i64, Vec<String>)> {
        if seqs.is_empty() {
            return Ok((crate::catalog_index::generation(&self.db).await?, vec![]));
        }
        let sql = match self.db.backend {
            Backend::Sqlite => {
                "SELECT (SELECT generation FROM catalog_generation), dataset, body \
                 FROM catalog_dataset_bodies WHERE dataset IN (SELECT value FROM json_each($1))"
            }
            Backend::Postgres => {
                "SELECT (SELECT generation FROM catalog_generation), dataset, body \
                 FROM catalog_dataset_bodies WHERE dataset IN \
                 (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST($1 AS JSON)))"
            }
        };
        // A JSON array of numbers, which both backends expand in SQL.
        let list = format!(
            "[{}]",
            seqs.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let rows = sqlx::query(sql).bind(list).fetch_all(&self.db.pool).await?;
        let Some(generation) = rows.first().map(|r| r.get::<i64, _>(0)) else {
            // Every dataset has its body: nothing found means another snapshot's index.
            return Ok((crate::catalog_index::generation(&self.db).await?, vec![]));
        };
        let mut bodies: HashMap<i64, String> = rows.iter().map(|r| (r.get(1), r.get(2))).collect();
        Ok((
            generation,
            seqs.iter().filter_map(|s| bodies.remove(s)).collect(),
        ))
    }
}

fn check_read(viewer: &Viewer, dataset: &Dataset, org: &Organization) -> CatalogResult<()> {
    if access::may_read(viewer, dataset, org) {
        Ok(())
    } else if dataset.state == State::Deleted && !dataset.private {
        // A deleted public dataset is gone for those who cannot restore it.
        Err(CatalogError::not_found().into())
    } else {
        Err(denied(format!(
            "User {} not authorized to read package {}",
            viewer.name, dataset.id
        )))
    }
}

fn resolve_groups(dir: &Directory, refs: &[String]) -> CatalogResult<Vec<String>> {
    let mut ids = vec![];
    let mut errors = vec![];
    for r in refs {
        let mut e = FieldErrors::new();
        match dir.group(r) {
            Some(g) => {
                if !ids.contains(&g.id) {
                    ids.push(g.id.clone());
                }
            }
            None => e.add("name", format!("Group {r} does not exist")),
        }
        errors.push(e);
    }
    let mut all = FieldErrors::new();
    all.add_items("groups", errors);
    all.into_result(ids).map_err(Into::into)
}

/// Writes the dataset's row, facet terms and resource index (none of either for a deleted
/// dataset), then raises the catalogue's generation and stamps the row with it (see
/// `catalog_index`): the caller commits right after. `seq` is None for a new dataset.
async fn write_dataset(
    tx: &mut WriteTx,
    seq: Option<i64>,
    dataset: &Dataset,
    dir: &Directory,
) -> CatalogResult<i64> {
    let seq = write_dataset_rows(tx, seq, dataset, dir).await?;
    let generation = crate::catalog_index::raise_generation(tx).await?;
    sqlx::query("UPDATE catalog_datasets SET generation = $1 WHERE seq = $2")
        .bind(generation)
        .bind(seq)
        .execute(tx.conn())
        .await?;
    Ok(seq)
}

async fn write_dataset_rows(
    tx: &mut WriteTx,
    seq: Option<i64>,
    dataset: &Dataset,
    dir: &Directory,
) -> CatalogResult<i64> {
    let org = dir.owner(dataset)?;
    let org_seq = *dir.org_seq.get(&org.id).ok_or_else(|| {
        CatalogStoreError::Store(StoreError::Internal(format!(
            "organization {} has no row number",
            org.id
        )))
    })?;
    let taken = sqlx::query("SELECT seq FROM catalog_datasets WHERE name = $1")
        .bind(dataset.name.as_str())
        .fetch_optional(tx.conn())
        .await?
        .map(|r| r.get::<i64, _>(0));
    if taken.is_some() && taken != seq {
        return Err(validation("name", "That URL is already in use."));
    }
    let body = serde_json::to_string(dataset).map_err(|e| {
        CatalogStoreError::Store(StoreError::Internal(format!("dataset {}: {e}", dataset.id)))
    })?;
    let title_sort = dothi_domain::text::fold(&dataset.title.vi);
    let private = dataset.private as i64;
    let vals = [
        Val::S(dataset.id.clone()),
        Val::S(dataset.name.clone()),
        Val::I(org_seq),
        Val::I(private),
        Val::S(dataset.state.as_str().into()),
        Val::S(title_sort),
        Val::I(dataset.metadata_created),
        Val::I(dataset.metadata_modified),
    ];
    let seq = match seq {
        None => {
            let seq: i64 = bind_all(
                sqlx::query(
                    "INSERT INTO catalog_datasets (id, name, owner_org, private, state, title_sort, \
                     metadata_created, metadata_modified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                ),
                &vals,
            )
            .fetch_one(tx.conn())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    validation("name", "That URL is already in use.")
                }
                _ => e.into(),
            })?
            .get(0);
            sqlx::query("INSERT INTO catalog_dataset_bodies (dataset, body) VALUES ($1, $2)")
                .bind(seq)
                .bind(body.as_str())
                .execute(tx.conn())
                .await?;
            seq
        }
        Some(seq) => {
            let mut vals = vals.to_vec();
            vals.push(Val::I(seq));
            bind_all(
                sqlx::query(
                    "UPDATE catalog_datasets SET id = $1, name = $2, owner_org = $3, private = $4, \
                     state = $5, title_sort = $6, metadata_created = $7, metadata_modified = $8 \
                     WHERE seq = $9",
                ),
                &vals,
            )
            .execute(tx.conn())
            .await?;
            sqlx::query("UPDATE catalog_dataset_bodies SET body = $1 WHERE dataset = $2")
                .bind(body.as_str())
                .bind(seq)
                .execute(tx.conn())
                .await?;
            for table in ["catalog_terms", "catalog_resources", "catalog_words"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE dataset = $1"))
                    .bind(seq)
                    .execute(tx.conn())
                    .await?;
            }
            seq
        }
    };
    if dataset.state == State::Deleted {
        return Ok(seq);
    }
    let group_names: Vec<String> = dataset
        .groups
        .iter()
        .filter_map(|g| dir.groups.get(g).map(|g| g.name.clone()))
        .collect();
    // Words and terms: one statement each (a few hundred rows at most).
    let words = dataset.search_words(&format!("{} {}", org.title.vi, org.title.en));
    if !words.is_empty() {
        let mut vals = Vec::with_capacity(words.len() * 4);
        for w in words {
            vals.extend([
                Val::S(w.word),
                Val::I(seq),
                Val::I(w.in_title as i64),
                Val::I(w.in_notes as i64),
            ]);
        }
        let sql = format!(
            "INSERT INTO catalog_words (word, dataset, in_title, in_notes) VALUES {}",
            crate::reports::row_placeholders(tx.backend(), vals.len() / 4, 4)
        );
        bind_all(sqlx::query(&sql), &vals)
            .execute(tx.conn())
            .await?;
    }
    let terms = dataset.facet_terms(&org.name, &group_names);
    if !terms.is_empty() {
        let mut vals = Vec::with_capacity(terms.len() * 5);
        for (field, value) in terms {
            vals.extend([
                Val::I(seq),
                Val::S(field),
                Val::S(value),
                Val::I(private),
                Val::I(org_seq),
            ]);
        }
        let sql = format!(
            "INSERT INTO catalog_terms (dataset, field, value, private, owner_org) VALUES {}",
            crate::reports::row_placeholders(tx.backend(), vals.len() / 5, 5)
        );
        bind_all(sqlx::query(&sql), &vals)
            .execute(tx.conn())
            .await?;
    }
    let mut item_errors = vec![];
    let mut clash = false;
    for r in &dataset.resources {
        let mut e = FieldErrors::new();
        let other = sqlx::query("SELECT dataset FROM catalog_resources WHERE id = $1")
            .bind(r.id.as_str())
            .fetch_optional(tx.conn())
            .await?;
        if other.is_some() {
            e.add("id", "Resource id already exists");
            clash = true;
        } else {
            sqlx::query("INSERT INTO catalog_resources (id, dataset) VALUES ($1, $2)")
                .bind(r.id.as_str())
                .bind(seq)
                .execute(tx.conn())
                .await?;
        }
        item_errors.push(e);
    }
    if clash {
        let mut errors = FieldErrors::new();
        errors.add_items("resources", item_errors);
        return Err(CatalogError::Validation(errors).into());
    }
    Ok(seq)
}

/// A platform account as `user_show` sees it.
pub struct CatalogUser {
    pub user: crate::auth::User,
    pub created: i64,
}

impl Store {
    /// The account with this user name or numeric id, if any.
    pub async fn catalog_user(&self, name_or_id: &str) -> Result<Option<CatalogUser>, StoreError> {
        let row = sqlx::query(
            "SELECT id, created_at FROM users WHERE username = $1 OR CAST(id AS TEXT) = $1",
        )
        .bind(name_or_id)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = self.user(row.get(0)).await?;
        Ok(Some(CatalogUser {
            user,
            created: row.get(1),
        }))
    }
}

/// Why the generated datasets could not be published.
#[derive(Debug)]
pub enum PublishError {
    /// The platform's organization is missing from the catalogue.
    NoOrganization(String),
    /// Writing a resource file failed.
    File(crate::catalog_files::UploadError),
    Catalog(CatalogStoreError),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::NoOrganization(name) => {
                write!(f, "the catalogue has no organization {name:?}")
            }
            PublishError::File(e) => e.fmt(f),
            PublishError::Catalog(e) => e.fmt(f),
        }
    }
}

impl<T: Into<CatalogStoreError>> From<T> for PublishError {
    fn from(e: T) -> Self {
        PublishError::Catalog(e.into())
    }
}

impl Store {
    /// Publishes one dataset the platform generated (`dothi_opendata`) as a public catalogue
    /// dataset of the organization `owner`, its files as uploaded resources: created the first
    /// time, updated in place afterwards. Ids are derived from the dataset's and the files'
    /// names, so every refresh (and every instance) writes the same records. The files are
    /// written, synced and renamed first (`ResourceFiles`), then one transaction points the
    /// dataset at them; the previous files are removed after the commit, the new ones if the
    /// transaction fails.
    pub async fn catalog_publish_generated(
        &self,
        files: &crate::catalog_files::ResourceFiles,
        generated: &dothi_opendata::PublishedDataset,
        owner: &str,
    ) -> Result<Dataset, PublishError> {
        let dir = self.catalog_directory().await?;
        let org = dir
            .organization(owner)
            .ok_or_else(|| PublishError::NoOrganization(owner.to_string()))?
            .id
            .clone();
        let mut written = vec![];
        for r in &generated.resources {
            let id = dothi_catalog::stable_id("opendata-resource", &r.name);
            let stored = async {
                let mut incoming = files.begin(u64::MAX).await?;
                incoming.write(&r.bytes).await?;
                incoming.finish(&id).await
            }
            .await;
            match stored {
                Ok(stored) => written.push((id, stored, r)),
                Err(e) => {
                    for (_, s, _) in &written {
                        files.remove(&s.key).await;
                    }
                    return Err(PublishError::File(e));
                }
            }
        }
        let new_keys: Vec<String> = written.iter().map(|(_, s, _)| s.key.clone()).collect();
        let result = self.write_generated(generated, &org, &dir, written).await;
        match result {
            Ok((dataset, old_keys)) => {
                for key in old_keys.iter().filter(|k| !new_keys.contains(k)) {
                    files.remove(key).await;
                }
                Ok(dataset)
            }
            Err(e) => {
                for key in &new_keys {
                    files.remove(key).await;
                }
                Err(e)
            }
        }
    }

    async fn write_generated(
        &self,
        generated: &dothi_opendata::PublishedDataset,
        org: &str,
        dir: &Directory,
        written: Vec<(String, StoredUpload, &dothi_opendata::Resource)>,
    ) -> Result<(Dataset, Vec<String>), PublishError> {
        let id = dothi_catalog::stable_id("opendata-dataset", &generated.name);
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let existing = self.dataset_row(Some(&mut tx), &id).await?;
        let (seq, previous) = match existing {
            Some((seq, d)) => (Some(seq), Some(d)),
            None => (None, None),
        };
        let old_keys: Vec<String> = previous
            .iter()
            .flat_map(|d| d.resources.iter().filter_map(|r| r.file.as_ref()))
            .map(|f| f.key.clone())
            .collect();
        let text = |t: &dothi_opendata::Text| Translated::new(t.vi.clone(), t.en.clone());
        let resources = written
            .into_iter()
            .map(|(rid, stored, r)| {
                let before = previous.as_ref().and_then(|d| d.resource(&rid));
                let mut resource = dothi_catalog::model::Resource {
                    id: rid.clone(),
                    name: text(&r.title),
                    description: Translated::default(),
                    url: String::new(),
                    url_type: None,
                    format: r.format.label().to_string(),
                    mimetype: Some(r.media_type.to_string()),
                    size: None,
                    hash: String::new(),
                    resource_type: None,
                    created: before.map(|b| b.created).unwrap_or(now),
                    last_modified: None,
                    metadata_modified: now,
                    file: None,
                };
                input::attach_file(
                    &mut resource,
                    StoredFile {
                        key: stored.key,
                        filename: input::munge_filename(&r.name),
                    },
                    stored.size,
                    stored.sha256,
                    now,
                );
                resource.mimetype = Some(r.media_type.to_string());
                resource
            })
            .collect();
        let mut extras = vec![dothi_catalog::model::Extra {
            key: "refreshed_at".into(),
            value: generated.refreshed_at.to_rfc3339(),
        }];
        if let Some(t) = &generated.temporal_coverage {
            extras.push(dothi_catalog::model::Extra {
                key: "temporal_end".into(),
                value: t.end.to_string(),
            });
            extras.push(dothi_catalog::model::Extra {
                key: "temporal_start".into(),
                value: t.start.to_string(),
            });
        }
        let dataset = Dataset {
            id: id.clone(),
            name: generated.name.clone(),
            title: text(&generated.title),
            notes: text(&generated.description),
            owner_org: org.to_string(),
            private: false,
            state: State::Active,
            license_id: Some(generated.licence_id.clone()),
            author: None,
            author_email: None,
            maintainer: None,
            maintainer_email: None,
            url: None,
            version: None,
            tags: generated.tags.clone(),
            groups: previous
                .as_ref()
                .map(|d| d.groups.clone())
                .unwrap_or_default(),
            extras,
            resources,
            creator_user_id: None,
            metadata_created: previous.as_ref().map(|d| d.metadata_created).unwrap_or(now),
            metadata_modified: now,
        };
        write_dataset(&mut tx, seq, &dataset, dir).await?;
        tx.commit().await?;
        Ok((dataset, old_keys))
    }
}
