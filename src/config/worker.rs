//! The worker's own configuration file.
