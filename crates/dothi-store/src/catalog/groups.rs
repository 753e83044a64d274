//! Organizations and groups written through the CKAN API (`organization_create`,
//! `organization_update`, `group_create`, `group_update`; the patches merge first), by
//! sysadmins (`access::may_manage_organizations`). What an update may change, and what an
//! agency's organization keeps from the reference data, is `dothi_catalog::input::group`.
//!
//! A dataset's search words hold its organization's titles, and its facet terms the names of
//! its organization and groups; a change of those rewrites the index rows of the datasets
//! concerned in the same transaction (their documents and `metadata_modified` stay as they
//! are), so search never finds a dataset by an old name.

use dothi_catalog::access::{self, Viewer};
use dothi_catalog::input::group::{self as group_input, GroupInput};
use dothi_catalog::model::{Group, Organization, State, Translated};
use dothi_catalog::CatalogError;
use sqlx::Row;

use super::{decode, denied, validation, write_dataset, CatalogResult, Directory};
use crate::db::WriteTx;
use crate::time::now_ms;
use crate::Store;

/// The columns organizations and groups share, in one of their two tables.
struct Record<'a> {
    table: &'static str,
    id: &'a str,
    name: &'a str,
    title: &'a Translated,
    description: &'a Translated,
    image_url: &'a str,
}

impl Record<'_> {
    fn of_organization(o: &Organization) -> Record<'_> {
        Record {
            table: "catalog_organizations",
            id: &o.id,
            name: &o.name,
            title: &o.title,
            description: &o.description,
            image_url: &o.image_url,
        }
    }

    fn of_group(g: &Group) -> Record<'_> {
        Record {
            table: "catalog_groups",
            id: &g.id,
            name: &g.name,
            title: &g.title,
            description: &g.description,
            image_url: &g.image_url,
        }
    }

    /// CKAN's `group_name_validator`, and no id taken twice.
    async fn check_free(&self, tx: &mut WriteTx, new: bool) -> CatalogResult<()> {
        let name_taken = sqlx::query(&format!(
            "SELECT 1 FROM {} WHERE name = $1 AND id <> $2",
            self.table
        ))
        .bind(self.name)
        .bind(self.id)
        .fetch_optional(tx.conn())
        .await?;
        if name_taken.is_some() {
            return Err(validation("name", "Group name already exists in database"));
        }
        if new {
            let id_taken = sqlx::query(&format!("SELECT 1 FROM {} WHERE id = $1", self.table))
                .bind(self.id)
                .fetch_optional(tx.conn())
                .await?;
            if id_taken.is_some() {
                return Err(validation("id", "Group id already exists"));
            }
        }
        Ok(())
    }

    async fn insert(&self, tx: &mut WriteTx, created: i64) -> CatalogResult<()> {
        self.check_free(tx, true).await?;
        sqlx::query(&format!(
            "INSERT INTO {} (id, name, title, title_en, description, description_en, image_url, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            self.table
        ))
        .bind(self.id)
        .bind(self.name)
        .bind(self.title.vi.as_str())
        .bind(self.title.en.as_str())
        .bind(self.description.vi.as_str())
        .bind(self.description.en.as_str())
        .bind(self.image_url)
        .bind(created)
        .execute(tx.conn())
        .await
        .map_err(name_clash)?;
        Ok(())
    }

    async fn update(&self, tx: &mut WriteTx) -> CatalogResult<()> {
        self.check_free(tx, false).await?;
        sqlx::query(&format!(
            "UPDATE {} SET name = $1, title = $2, title_en = $3, description = $4, \
             description_en = $5, image_url = $6 WHERE id = $7",
            self.table
        ))
        .bind(self.name)
        .bind(self.title.vi.as_str())
        .bind(self.title.en.as_str())
        .bind(self.description.vi.as_str())
        .bind(self.description.en.as_str())
        .bind(self.image_url)
        .bind(self.id)
        .execute(tx.conn())
        .await
        .map_err(name_clash)?;
        Ok(())
    }
}

/// A concurrent write took the name between the check and the write.
fn name_clash(e: sqlx::Error) -> super::CatalogStoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            validation("name", "Group name already exists in database")
        }
        _ => e.into(),
    }
}

/// Organizations and groups are written by sysadmins only.
fn authorize(viewer: &Viewer, refusal: impl FnOnce() -> String) -> CatalogResult<()> {
    if access::may_manage_organizations(viewer) {
        Ok(())
    } else {
        Err(denied(refusal()))
    }
}

/// The organization or group (`kind`) an update names, if it exists and the viewer may
/// change it, in CKAN's order: not found first, then not authorized.
fn to_update<T: Clone>(
    found: Option<&T>,
    id: impl Fn(&T) -> &str,
    viewer: &Viewer,
    kind: &str,
) -> CatalogResult<T> {
    let existing = found.ok_or_else(|| CatalogError::NotFound("Group was not found.".into()))?;
    authorize(viewer, || {
        format!(
            "User {} not authorized to edit {kind} {}",
            viewer.name,
            id(existing)
        )
    })?;
    Ok(existing.clone())
}

/// Whose index rows a write changes, with the directory as it is after the write.
pub(super) enum Affected<'a> {
    Nothing,
    /// The active datasets of the organization with this seq (its name or title changed).
    Organization(i64, &'a Directory),
    /// The datasets filed under the group of this (former) name.
    Group(&'a str, &'a Directory),
}

/// Rewrites the index rows (search words, facet terms) of the datasets a change affects from
/// their documents, with the directory as it is after the change.
pub(super) async fn reindex(tx: &mut WriteTx, affected: Affected<'_>) -> CatalogResult<()> {
    let (query, dir) = match affected {
        Affected::Nothing => return Ok(()),
        Affected::Organization(seq, dir) => (
            sqlx::query(
                "SELECT seq FROM catalog_datasets WHERE owner_org = $1 AND state = 'active'",
            )
            .bind(seq),
            dir,
        ),
        Affected::Group(name, dir) => (
            sqlx::query(
                "SELECT DISTINCT dataset FROM catalog_terms WHERE field = 'groups' AND value = $1",
            )
            .bind(name),
            dir,
        ),
    };
    let seqs: Vec<i64> = query
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
    for seq in seqs {
        let row = sqlx::query("SELECT body FROM catalog_dataset_bodies WHERE dataset = $1")
            .bind(seq)
            .fetch_one(tx.conn())
            .await?;
        let dataset = decode(&row.get::<String, _>(0))?;
        write_dataset(tx, Some(seq), &dataset, dir).await?;
    }
    Ok(())
}

impl Store {
    /// Writes the record (a new one when `created` is given) and reindexes the datasets it
    /// affects, in one transaction.
    async fn write_record(
        &self,
        record: Record<'_>,
        created: Option<i64>,
        affected: Affected<'_>,
    ) -> CatalogResult<()> {
        let mut tx = self.db.begin_write().await?;
        match created {
            Some(at) => record.insert(&mut tx, at).await?,
            None => record.update(&mut tx).await?,
        }
        reindex(&mut tx, affected).await?;
        // The directory changed even where no dataset was rewritten: searches reload it.
        crate::catalog_index::raise_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `organization_create`: an organization made by hand (no agency behind it).
    pub async fn catalog_create_organization(
        &self,
        viewer: &Viewer,
        input: GroupInput,
    ) -> CatalogResult<Organization> {
        authorize(viewer, || {
            format!(
                "User {} not authorized to create organizations",
                viewer.name
            )
        })?;
        let now = now_ms();
        let id = input.id.clone().unwrap_or_else(dothi_catalog::new_id);
        let g = group_input::new_group(input, id, now);
        let org = Organization {
            id: g.id,
            name: g.name,
            title: g.title,
            description: g.description,
            image_url: g.image_url,
            agency_id: None,
            state: State::Active,
            created: now,
        };
        self.write_record(Record::of_organization(&org), Some(now), Affected::Nothing)
            .await?;
        Ok(org)
    }

    /// `organization_update`. Returns the organization as it now is.
    pub async fn catalog_update_organization(
        &self,
        viewer: &Viewer,
        id_or_name: &str,
        input: GroupInput,
    ) -> CatalogResult<Organization> {
        let mut dir = self.catalog_directory().await?;
        let existing = to_update(
            dir.organization(id_or_name),
            |o| &o.id,
            viewer,
            "organization",
        )?;
        let org = group_input::updated_organization(&existing, input)?;
        let seq = dir.org_seq.get(&org.id).copied().unwrap_or_default();
        dir.organizations.insert(org.id.clone(), org.clone());
        let affected = if org.name != existing.name || org.title != existing.title {
            Affected::Organization(seq, &dir)
        } else {
            Affected::Nothing
        };
        self.write_record(Record::of_organization(&org), None, affected)
            .await?;
        Ok(org)
    }

    /// `group_create`. A group's id is derived from its name unless one is given, so the
    /// same theme has the same id on every instance.
    pub async fn catalog_add_group(
        &self,
        viewer: &Viewer,
        input: GroupInput,
    ) -> CatalogResult<Group> {
        authorize(viewer, || {
            format!("User {} not authorized to create groups", viewer.name)
        })?;
        let now = now_ms();
        let id = input
            .id
            .clone()
            .unwrap_or_else(|| dothi_catalog::stable_id("group", &input.name));
        let group = group_input::new_group(input, id, now);
        self.write_record(Record::of_group(&group), Some(now), Affected::Nothing)
            .await?;
        Ok(group)
    }

    /// `group_update`. Returns the group as it now is.
    pub async fn catalog_update_group(
        &self,
        viewer: &Viewer,
        id_or_name: &str,
        input: GroupInput,
    ) -> CatalogResult<Group> {
        let mut dir = self.catalog_directory().await?;
        let existing = to_update(dir.group(id_or_name), |g| &g.id, viewer, "group")?;
        let group = group_input::updated_group(&existing, input);
        dir.groups.insert(group.id.clone(), group.clone());
        let affected = if group.name != existing.name {
            Affected::Group(&existing.name, &dir)
        } else {
            Affected::Nothing
        };
        self.write_record(Record::of_group(&group), None, affected)
            .await?;
        Ok(group)
    }
}
