pub mod alerts;
pub mod auth;
pub mod ioc;
pub mod ioc_views;
pub mod iot;
pub mod reference;
pub mod reports;
pub mod sharing;
mod sse;
