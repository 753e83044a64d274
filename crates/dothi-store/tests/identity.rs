//! Single sign-on accounts: a provider account maps to one user, a verified e-mail address links
//! an existing user, anything else creates a citizen without a usable password.

use dothi_domain::{Actor, Role};
use dothi_store::auth::NewUser;
use dothi_store::identity::{IdentityMatch, OidcClaims};
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::StoreError;
use sqlx::Row;

const HUE_S: &str = "https://id.hue.gov.vn";

fn an() -> OidcClaims {
    OidcClaims {
        name: Some("Nguyễn Văn An".into()),
        preferred_username: Some("an.nguyen".into()),
        email: Some("an.nguyen@example.vn".into()),
        email_verified: true,
        phone: Some("+84 234 3822 123".into()),
    }
}

fn local(username: &str, email: Option<&str>, role: Role, agency: Option<&str>) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("Local {username}"),
        email: email.map(str::to_string),
        phone: None,
        password: "mat-khau-dai-2026".into(),
        role,
        agency_code: agency.map(str::to_string),
    }
}

#[tokio::test]
async fn first_sign_on_creates_a_citizen_and_later_ones_find_it() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let (user, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "sub-1", &an())
            .await
            .unwrap();
        assert_eq!(how, IdentityMatch::Created, "{backend:?}");
        assert_eq!(user.role, Role::Citizen);
        assert_eq!(user.display_name, "Nguyễn Văn An");
        assert_eq!(user.username, "an.nguyen");
        assert_eq!(user.email.as_deref(), Some("an.nguyen@example.vn"));
        assert_eq!(user.phone.as_deref(), Some("+84 234 3822 123"));
        assert!(user.active);
        assert_eq!(user.agency_id, None);

        // No password: local sign-in is impossible, whatever is tried.
        let hash: Option<String> = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user.id)
            .fetch_one(&store.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(hash, None, "{backend:?}");
        assert!(store.login("an.nguyen", "").await.is_err());

        // The same provider account, even with other claims: the same user, unchanged.
        let other = OidcClaims {
            name: Some("Someone Else".into()),
            email: Some("else@example.vn".into()),
            ..an()
        };
        let (again, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "sub-1", &other)
            .await
            .unwrap();
        assert_eq!(how, IdentityMatch::Known);
        assert_eq!(again, user);
        assert_eq!(
            store.oidc_identities(user.id).await.unwrap(),
            [(HUE_S.to_string(), "sub-1".to_string())]
        );

        // The same subject at another issuer is another person.
        let elsewhere = store
            .find_or_create_oidc_user(
                "https://other.example",
                "sub-1",
                &OidcClaims {
                    email_verified: false,
                    ..an()
                },
            )
            .await
            .unwrap();
        assert_ne!(elsewhere.id, user.id, "{backend:?}");
        assert_eq!(
            elsewhere.username, "an.nguyen-2",
            "{backend:?}: suffix on collision"
        );
        let third = store
            .find_or_create_oidc_user(
                "https://third.example",
                "x",
                &OidcClaims {
                    email_verified: false,
                    ..an()
                },
            )
            .await
            .unwrap();
        assert_eq!(third.username, "an.nguyen-3");

        let count: i64 = sqlx::query("SELECT COUNT(*) FROM user_identities")
            .fetch_one(&store.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 3);
    }
}

#[tokio::test]
async fn a_verified_email_links_the_existing_user() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let admin = Actor::system();
        let staff = store
            .create_user(
                &admin,
                &local(
                    "hepco-an",
                    Some("An.Nguyen@Example.VN"),
                    Role::AgencyStaff,
                    Some("HEPCO"),
                ),
            )
            .await
            .unwrap();

        // Not verified: no link, a new citizen.
        let unverified = OidcClaims {
            email_verified: false,
            ..an()
        };
        let (citizen, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "unverified", &unverified)
            .await
            .unwrap();
        assert_eq!(how, IdentityMatch::Created, "{backend:?}");
        assert_ne!(citizen.id, staff.id);
        assert_eq!(citizen.role, Role::Citizen);

        // That citizen now has the same address too, so the address is ambiguous: no link.
        let (other, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "ambiguous", &an())
            .await
            .unwrap();
        assert_eq!(how, IdentityMatch::Created, "{backend:?}");
        assert!(other.id != staff.id && other.id != citizen.id);
    }
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let staff = store
            .create_user(
                &Actor::system(),
                &local(
                    "hepco-an",
                    Some("An.Nguyen@Example.VN"),
                    Role::AgencyStaff,
                    Some("HEPCO"),
                ),
            )
            .await
            .unwrap();
        // Verified, one user has it (case-insensitively): linked, role and profile kept.
        let (linked, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "sub-staff", &an())
            .await
            .unwrap();
        assert_eq!(how, IdentityMatch::LinkedByEmail, "{backend:?}");
        assert_eq!(linked, staff);
        // The local password still works.
        assert!(store.login("hepco-an", "mat-khau-dai-2026").await.is_ok());
        let (again, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "sub-staff", &an())
            .await
            .unwrap();
        assert_eq!((again.id, how), (staff.id, IdentityMatch::Known));

        // Another account at the same provider with the same address does not take it over.
        let (newcomer, how) = store
            .find_or_create_oidc_user_with_match(HUE_S, "sub-recycled", &an())
            .await
            .unwrap();
        assert_eq!(how, IdentityMatch::Created, "{backend:?}");
        assert_ne!(newcomer.id, staff.id);
    }
}

#[tokio::test]
async fn deactivated_users_are_refused() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let user = store
            .find_or_create_oidc_user(HUE_S, "sub-1", &an())
            .await
            .unwrap();
        store
            .update_user(&Actor::system(), user.id, Role::Citizen, None, false)
            .await
            .unwrap();
        let err = store
            .find_or_create_oidc_user(HUE_S, "sub-1", &an())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Domain(dothi_domain::DomainError::Forbidden(_))
            ),
            "{backend:?}: {err:?}"
        );
        // Nor may a new provider account link to them by e-mail address.
        let local_user = store
            .create_user(
                &Actor::system(),
                &local("binh", Some("binh@example.vn"), Role::Citizen, None),
            )
            .await
            .unwrap();
        store
            .update_user(&Actor::system(), local_user.id, Role::Citizen, None, false)
            .await
            .unwrap();
        let binh = OidcClaims {
            email: Some("binh@example.vn".into()),
            ..an()
        };
        let err = store
            .find_or_create_oidc_user(HUE_S, "sub-binh", &binh)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Domain(dothi_domain::DomainError::Forbidden(_))
            ),
            "{backend:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn sparse_claims_still_make_a_valid_user() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let user = store
            .find_or_create_oidc_user(HUE_S, "0f3a9c", &OidcClaims::default())
            .await
            .unwrap();
        assert_eq!(user.username, "citizen", "{backend:?}");
        assert_eq!(user.display_name, "citizen");
        assert_eq!(user.email, None);
        let named = store
            .find_or_create_oidc_user(
                HUE_S,
                "named",
                &OidcClaims {
                    name: Some("Lê Thị Đào".into()),
                    email: Some("not-an-address".into()),
                    email_verified: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(named.username, "le-thi-dao", "{backend:?}");
        assert_eq!(named.display_name, "Lê Thị Đào");
        assert_eq!(named.email, None, "not an address");
        for (issuer, subject) in [("", "s"), (HUE_S, ""), (HUE_S, &"s".repeat(256))] {
            assert!(store
                .find_or_create_oidc_user(issuer, subject, &an())
                .await
                .is_err());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_sign_ons_make_one_user() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.spawn(async move {
                store
                    .find_or_create_oidc_user(HUE_S, "racer", &an())
                    .await
                    .unwrap()
                    .id
            });
        }
        let mut ids = Vec::new();
        while let Some(id) = tasks.join_next().await {
            ids.push(id.unwrap());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1, "{backend:?}: {ids:?}");
        let users: i64 = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(&store.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(users, 1, "{backend:?}");
    }
}
