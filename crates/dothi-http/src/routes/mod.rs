pub mod auth;
pub mod reference;
pub mod reports;
