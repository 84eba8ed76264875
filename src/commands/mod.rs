//! One module per command.

pub mod apply;
pub mod client;
pub mod describe;
pub mod events;
pub mod get;
pub mod logs;
pub mod print;
pub mod rollout;
pub mod serve;
pub mod up;
pub mod validate;
