//! The data management policy (policy.md) in code: `retention` holds its retention table as data.

pub mod retention;
