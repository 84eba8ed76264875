//! One module per command.

pub mod get;
pub mod serve;
pub mod up;
pub mod validate;
