//! The shared fixture servers live in `peakreel-testkit`.
#![allow(unused_imports)]
pub use peakreel_testkit::*;
