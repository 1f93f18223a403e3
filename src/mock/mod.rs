//! The reference ONTAP mock.
pub mod cli;
