//! One module per command.

pub mod apply;
pub mod get;
pub mod serve;
pub mod up;
pub mod validate;
