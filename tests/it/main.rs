//! The integration tests: one test binary (one link after a change to
//! `src/`), a module per area. Each test runs the real `pam360-bulk` binary
//! against the real simulator (or a scripted misbehaving server) on
//! 127.0.0.1, in a scratch directory of its own.

mod common;

mod add_accounts;
mod by_names;
mod first_hour;
mod frictions;
mod hostile_input;
mod maps;
mod options;
mod properties;
mod readme;
mod request_passwords;
mod resilience;
mod resume;
mod simulator_reads;
mod sync;
mod tls;
mod transport;
mod trust;
mod trust3;
mod ux;
