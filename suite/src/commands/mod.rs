//! One module per subcommand that needs more than a few lines.
pub mod analyze;
pub mod bench;
pub mod data;
pub mod doctor;
pub mod env;
pub mod list;
pub mod models;
pub mod plan;
pub mod reproduce;
pub mod ship;
pub mod summarize;
