//! Helpers for calsync's end-to-end tests: databases, moto server, a Lambda Runtime API emulator.

pub mod caldav;

pub mod api;
pub mod db;
pub mod ews;
mod fake_http;
pub mod fixtures;
pub mod google;
pub mod logs;
pub mod microsoft;
pub mod oauth;
pub mod receiver;

pub mod lambda_emulator;
pub mod moto;
