//! The one place where database errors are classified into the domain's [`StoreError`].

use writ_domain::store::StoreError;

pub(crate) fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) => match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => {
                StoreError::Unique(db.constraint().unwrap_or("key").to_owned())
            }
            sqlx::error::ErrorKind::ForeignKeyViolation => {
                StoreError::ForeignKey(db.constraint().unwrap_or("reference").to_owned())
            }
            // PostgreSQL refuses U+0000 in text (SQLite stores it); the server refuses it at
            // its edges, and whatever still carries one (a forged skiptoken) is the client's
            // error, not the database's.
            _ if db.code().as_deref() == Some("22021") => StoreError::InvalidQuery(
                "text must not contain the NUL character (U+0000)".to_owned(),
            ),
            _ => StoreError::Other(err.to_string()),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(err.to_string())
        }
        _ => StoreError::Other(err.to_string()),
    }
}

pub(crate) trait ResultExt<T> {
    fn store(self) -> Result<T, StoreError>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(classify)
    }
}
