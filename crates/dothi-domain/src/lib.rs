//! The field-report domain: statuses, the workflow state machine, roles and who may do what.
//!
//! This crate knows nothing about HTTP or SQL. The store executes what this crate decides,
//! and the protocol crates translate to and from it. Keeping the rules here means Open311,
//! the native API and the web pages can never disagree about what a transition means.

pub mod attributes;
pub mod error;
pub mod geo;
pub mod role;
pub mod text;
pub mod workflow;

pub use error::DomainError;
pub use role::{Actor, Role};
pub use workflow::{Action, Channel, Priority, Rating, RejectReason, Status};
