//! The engine's operations, one file per group of commands.

pub mod create;
pub mod lifecycle;
pub mod logs;
pub mod remove;
