//! Integration tests that run the real thing (design.md principle 7): the `peakreel`
//! binary as a child process on a fresh data directory, driven over HTTP and through its
//! admin CLI, checked against api.md, errors.md and cli.md.

mod auth;
mod catalog;
mod compat;
mod console;
mod contract_fuzz;
mod create;
mod custom_catalog;
mod estimates;
mod faults;
mod fetching;
mod glyphs;
mod idempotency;
mod intelligibility;
mod karaoke;
mod launcher;
mod legacy;
mod legacy_render;
mod living;
mod living_support;
mod memory;
mod narration;
mod operability;
mod ops;
mod photos;
mod postgres;
mod privacy;
mod races;
mod scale;
mod speakable;
mod storage_s3;
mod storyboard;
mod support;
mod tasks;
mod uploads;
mod validation;
mod voices;
mod webhook_support;
mod webhooks;
mod worker_support;
mod workers;
