//! A publish run.

pub mod settle;
