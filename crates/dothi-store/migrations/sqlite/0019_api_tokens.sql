-- API tokens of the CKAN Action API (api_token_create, api_token_list, api_token_revoke;
-- issue 5). Keep in step with ../postgres/0019_api_tokens.sql. Read and written by
-- crates/dothi-store/src/api_tokens.rs; see docs/OPEN-DATA.md ("API tokens").
--
-- id is the token's public identifier (CKAN's jti), shown by api_token_list and accepted by
-- api_token_revoke. The secret itself is never stored: only its SHA-256 (token_hash).
-- Revoking deletes the row, as CKAN does. expires_at is NULL for a token without expiry;
-- last_access is written at most once a minute per token.
CREATE TABLE user_api_tokens (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_access BIGINT,
    expires_at BIGINT
);
CREATE INDEX user_api_tokens_user ON user_api_tokens (user_id, created_at);
