//! Store queries of the API's `oauth` feature.

use super::Store;

impl Store {}
