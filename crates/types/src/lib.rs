//! Wire-level vocabulary shared by every PeakReel crate: the error-code registry
//! (`Code` → HTTP status and wire string), the error value every module converts into,
//! and the id formats of api.md §1. No I/O lives here.

mod error;
pub mod ids;

pub use error::{ApiError, Code, FieldError};
