//! Integration tests that run the real thing (design.md principle 7): the `peakreel`
//! binary as a child process on a fresh data directory, driven over HTTP and through its
//! admin CLI, checked against api.md, errors.md and cli.md.

mod auth;
mod catalog;
mod console;
mod create;
mod custom_catalog;
mod fetching;
mod launcher;
mod living;
mod living_support;
mod ops;
mod races;
mod storyboard;
mod support;
mod tasks;
mod uploads;
mod validation;
mod webhook_support;
mod webhooks;
mod worker_support;
mod workers;
