//! The engine's operations, one file per group of commands.

pub mod admin;
pub mod audit;
pub mod create;
pub mod exec;
pub mod files;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod objects;
pub mod query;
pub mod remove;
pub mod system;
