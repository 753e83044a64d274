//! Linked Entity Retrieval (§4.5.23): the entities that the Relationships of a result point
//! to, followed up to `joinLevel` hops. Retrieve Entity, Query Entities and the notifier use
//! it; how they are shown (`inline`/`flat`) is `dothi_ngsild::linked::render`.

use std::collections::{HashMap, HashSet};

use dothi_ngsild::entity::Entity;
use dothi_ngsild::linked::targets;
use dothi_store::ngsild::EntityFilter;

use crate::{live, now_ms, record, Broker, Result};

/// Ids asked of storage in one lookup.
const LOOKUP_CHUNK: usize = 500;

impl Broker {
    /// The entities reachable from `roots` through Relationships and ListRelationships in at
    /// most `level` hops, keyed by id (roots excluded). Each level is one batched lookup; an
    /// entity is fetched once however many paths (or cycles) lead to it; targets that do not
    /// exist are left out.
    pub async fn linked_entities(
        &self,
        roots: &[Entity],
        level: u32,
    ) -> Result<HashMap<String, Entity>> {
        let mut known: HashSet<String> = roots.iter().map(|e| e.id.clone()).collect();
        let mut found = HashMap::new();
        let mut frontier: Vec<String> = roots.iter().flat_map(targets).collect();
        for _ in 0..level {
            let wanted: Vec<String> = frontier
                .into_iter()
                .filter(|id| known.insert(id.clone()))
                .collect();
            if wanted.is_empty() {
                break;
            }
            let mut fetched = Vec::new();
            for chunk in wanted.chunks(LOOKUP_CHUNK) {
                let filter = EntityFilter {
                    ids: chunk.to_vec(),
                    ..EntityFilter::default()
                };
                for stored in &self.store.ngsild_query(&filter).await?.entities {
                    fetched.extend(live(record::entity_of(stored)?, now_ms()));
                }
            }
            frontier = fetched.iter().flat_map(targets).collect();
            for entity in fetched {
                found.insert(entity.id.clone(), entity);
            }
        }
        Ok(found)
    }
}
