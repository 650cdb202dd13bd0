//! Store queries of the API's `writes` feature.

use super::Store;

impl Store {}
