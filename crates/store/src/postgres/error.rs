//! PostgreSQL errors → `StoreError`: a database that cannot be reached is `Unavailable`
//! (503 `SERVICE_UNAVAILABLE`, retry later); anything the server refused is `Database`.

use crate::StoreError;
use tokio_postgres::error::SqlState;

/// The server's own message when there is one (tokio-postgres' `Display` says only
/// "db error").
pub(crate) fn text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn unreachable(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        // Class 08 (connection exception), the server shutting down or still starting,
        // too many connections: all go away by themselves.
        Some(db) => {
            db.code().code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                ]
                .contains(db.code())
        }
        // No server message: the socket failed, closed, or timed out.
        None => {
            e.is_closed()
                || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                || e.to_string().contains("timeout")
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if unreachable(&e) {
            StoreError::Unavailable(text(&e))
        } else {
            StoreError::Database(text(&e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(format!("connection pool: {other}")),
        }
    }
}
