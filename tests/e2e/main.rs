//! calsync's end-to-end tests, one binary (faster to link than one per file).
mod browser;
mod caldav;
mod cli;
mod enterprise_connect;
mod gdpr;
mod ical;
mod inbound_mail;
mod notify;
mod sync;

mod api;
mod api_router;
mod aws_adapters;
mod backup;
mod lambda_binaries;
mod openapi;
mod retention;
mod sdk;
mod store;
mod template;
mod vault;
