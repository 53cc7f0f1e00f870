pub mod account;
pub mod catalog;
pub mod create;
pub mod custom;
pub mod files;
pub mod health;
pub mod tasks;
pub mod webhooks;
