//! Context source registrations and their subscriptions on both backends: a write and the
//! notifications it causes in one transaction, compare-and-swap updates, expiry, and the
//! outbox keys of registration subscriptions.

use dothi_domain::DomainError;
use dothi_store::ngsild_registrations::RegistrationRecord;
use dothi_store::ngsild_subscriptions::SubscriptionKind;
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::{Store, StoreError};

const A: &str = "urn:ngsi-ld:ContextSourceRegistration:a";
const SUB: &str = "urn:ngsi-ld:Subscription:s";

async fn outbox(store: &Store) -> Vec<(String, String)> {
    let mut due = store
        .ngsild_deliveries_due(i64::MAX / 2, 100, 0)
        .await
        .unwrap();
    due.sort_by_key(|d| d.seq);
    due.into_iter()
        .map(|d| (d.subscription_id, d.payload))
        .collect()
}

fn ids(records: &[RegistrationRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test]
async fn registration_writes_carry_their_notifications_and_updates_are_compare_and_swap() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let note = |n: &str| vec![(SUB.to_string(), n.to_string())];

        let created = store
            .ngsild_registration_create(A, "{\"v\":1}", None, 1_000, &note("created"))
            .await
            .unwrap();
        assert_eq!(
            (
                created.id.as_str(),
                created.body.as_str(),
                created.revision,
                created.created_at
            ),
            (A, "{\"v\":1}", 1, 1_000)
        );
        let taken = store
            .ngsild_registration_create(A, "{}", None, 1_000, &note("lost"))
            .await
            .unwrap_err();
        assert!(
            matches!(taken, StoreError::Domain(DomainError::Conflict(_))),
            "{taken:?}"
        );

        let updated = store
            .ngsild_registration_update(A, 1, "{\"v\":2}", Some(i64::MAX), &note("updated"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((updated.revision, updated.body.as_str()), (2, "{\"v\":2}"));
        // A change computed from revision 1 is refused, and its notification is not queued.
        let stale = store
            .ngsild_registration_update(A, 1, "{\"v\":3}", None, &note("stale"))
            .await
            .unwrap();
        assert_eq!(stale, None);
        assert!(!store
            .ngsild_registration_delete(A, 1, &note("stale delete"))
            .await
            .unwrap());
        assert_eq!(
            store
                .ngsild_registration_get(A, 0)
                .await
                .unwrap()
                .unwrap()
                .body,
            "{\"v\":2}"
        );
        assert!(store
            .ngsild_registration_delete(A, 2, &note("deleted"))
            .await
            .unwrap());
        assert_eq!(store.ngsild_registration_get(A, 0).await.unwrap(), None);

        let key = SubscriptionKind::Csource.outbox_key(SUB);
        assert_eq!(key, format!("csource {SUB}"));
        assert_eq!(
            outbox(&store).await,
            vec![
                (key.clone(), "created".to_string()),
                (key.clone(), "updated".to_string()),
                (key, "deleted".to_string()),
            ]
        );
    }
}

#[tokio::test]
async fn expired_registrations_are_absent_and_their_ids_free() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        store
            .ngsild_registration_create(A, "{}", Some(5_000), 1_000, &[])
            .await
            .unwrap();
        store
            .ngsild_registration_create("urn:b", "{}", None, 2_000, &[])
            .await
            .unwrap();
        assert_eq!(
            ids(&store.ngsild_registrations(4_999).await.unwrap()),
            vec![A, "urn:b"]
        );
        assert_eq!(
            ids(&store.ngsild_registrations(5_000).await.unwrap()),
            vec!["urn:b"]
        );
        assert!(store
            .ngsild_registration_get(A, 5_000)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            ids(&store.ngsild_registrations_expired(5_000).await.unwrap()),
            vec![A]
        );
        // The id of an expired registration may be taken again.
        let again = store
            .ngsild_registration_create(A, "{\"new\":true}", None, 6_000, &[])
            .await
            .unwrap();
        assert_eq!((again.revision, again.created_at), (1, 6_000));
        assert!(store
            .ngsild_registrations_expired(i64::MAX)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn registration_subscriptions_keep_bookkeeping_and_their_own_outbox_rows() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let first = vec![(SUB.to_string(), "initial".to_string())];
        let created = store
            .ngsild_subscription_create(
                SubscriptionKind::Csource,
                SUB,
                "{}",
                "active",
                None,
                &first,
            )
            .await
            .unwrap();
        assert_eq!((created.times_sent, created.status.as_str()), (0, "active"));
        assert!(matches!(
            store
                .ngsild_subscription_create(
                    SubscriptionKind::Csource,
                    SUB,
                    "{}",
                    "active",
                    None,
                    &[]
                )
                .await,
            Err(StoreError::Domain(DomainError::Conflict(_)))
        ));
        // An entity subscription of the same id is another resource with other outbox rows.
        store
            .ngsild_subscription_create(SubscriptionKind::Entity, SUB, "{}", "active", None, &[])
            .await
            .unwrap();
        store
            .ngsild_deliveries_enqueue(&[(SUB.to_string(), "entity".to_string())], 0)
            .await
            .unwrap();

        assert!(store
            .ngsild_subscription_record_delivery(SubscriptionKind::Csource, SUB, false, 7_000)
            .await
            .unwrap());
        let read = store
            .ngsild_subscription_get(SubscriptionKind::Csource, SUB)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                read.times_sent,
                read.times_failed,
                read.last_failure,
                read.last_notification
            ),
            (1, 1, Some(7_000), Some(7_000))
        );
        let entity = store
            .ngsild_subscription_get(SubscriptionKind::Entity, SUB)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entity.times_sent, 0);

        let updated = store
            .ngsild_subscription_update(
                SubscriptionKind::Csource,
                SUB,
                "{\"v\":2}",
                "paused",
                Some(9),
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (updated.status.as_str(), updated.expires_at),
            ("paused", Some(9))
        );
        let page = store
            .ngsild_subscription_list(SubscriptionKind::Csource, Some(10), 0, true)
            .await
            .unwrap();
        assert_eq!((page.subscriptions.len(), page.total), (1, Some(1)));

        assert!(store
            .ngsild_subscription_delete(SubscriptionKind::Csource, SUB)
            .await
            .unwrap());
        assert!(!store
            .ngsild_subscription_delete(SubscriptionKind::Csource, SUB)
            .await
            .unwrap());
        // Its notifications went with it; the entity subscription's stay.
        assert_eq!(
            outbox(&store).await,
            vec![(SUB.to_string(), "entity".to_string())]
        );
    }
}
