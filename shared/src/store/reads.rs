//! Store queries of the API's `reads` feature.

use super::Store;

impl Store {}
