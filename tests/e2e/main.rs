//! calsync's end-to-end tests, one binary (faster to link than one per file).

mod store;
mod vault;

mod aws_adapters;
mod lambda_binaries;
