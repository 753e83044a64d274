pub mod auth;
pub mod ioc;
pub mod reference;
pub mod reports;
