//! One module per subcommand that needs more than a few lines.
pub mod analyze;
pub mod env;
pub mod models;
