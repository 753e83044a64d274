use dothi_domain::DomainError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A fault of ours that is not the database's (writing a stored document or a generated
    /// file failed). Answered like a storage failure (logged, 503), never a panic.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Unique-constraint violations are the caller's conflict, not a server fault.
    pub fn unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Map a unique violation to a 409-style conflict with a readable message.
pub fn conflict_on_unique(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            DomainError::Conflict(message()).into()
        }
        _ => StoreError::Database(e),
    }
}
