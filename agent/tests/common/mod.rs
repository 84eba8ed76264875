//! Helpers shared by the agent's integration tests.
#![allow(dead_code)]

pub mod stand_in;
