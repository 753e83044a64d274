-- Single sign-on: accounts at an OpenID Connect provider (the issuer's `sub` for one person)
-- and the local user each of them signs in as. One provider account maps to exactly one user;
-- a user may have several (one per provider). Keep in step with
-- ../postgres/0004_user_identities.sql.
CREATE TABLE user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
-- A first sign-on with a verified e-mail address links the user who has that address.
CREATE INDEX users_email_lower ON users (lower(email));
