//! The files on disk that hold secrets (the token signing key file, the audit key file, a
//! SQLite database with its `-wal` and `-shm`): start-up warns when group or others have any
//! access to one. Writ creates the audit key file and a new SQLite database 0600 itself; a file
//! an operator made (or an older version created) may be wider, and whoever can read the
//! signing key can sign tokens, whoever can read the audit key can forge the audit chain.

use std::path::Path;

/// The permission bits of `path` when group or others have any access to it (read, write or
/// execute); `None` when only the owner has, or when it cannot be read.
#[cfg(unix)]
pub fn exposed_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
pub fn exposed_mode(_path: &Path) -> Option<u32> {
    None
}

/// Logs a warning naming `setting` when `path` is open to group or others.
pub fn warn_if_exposed(path: &Path, setting: &str) {
    if let Some(mode) = exposed_mode(path) {
        tracing::warn!(
            file = %path.display(),
            setting,
            mode = format!("{mode:03o}"),
            "{} holds a secret and is accessible to group or others (mode {mode:03o}); \
             restrict it with chmod 600",
            path.display()
        );
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn group_or_other_access_is_exposed() {
        let path = std::env::temp_dir().join(format!("writ-files-{}", std::process::id()));
        std::fs::write(&path, "secret").unwrap();
        for (mode, exposed) in [(0o600, false), (0o400, false), (0o640, true), (0o604, true)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(exposed_mode(&path).is_some(), exposed, "{mode:o}");
        }
        assert_eq!(exposed_mode(Path::new("/nonexistent/writ-key")), None);
        let _ = std::fs::remove_file(&path);
    }
}
