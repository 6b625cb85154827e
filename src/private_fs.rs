//! Files only the worker's user may read or replace: spill files of
//! streamed transactions, the standalone state file.
//!
//! ```text
//!   parent dir ── check_parent: owned by us or root; group/world-writable only with the sticky bit
//!     └── <prefix><random>/   private_dir: mkdir 0700, fails if the name exists
//!           └── <file>        create_private: O_CREAT|O_EXCL|O_NOFOLLOW, 0600
//! ```
//!
//! Why each rule: a predictable name in a shared directory (`/tmp`) can be
//! pre-created by another local user, as a directory they own or as a symlink
//! to a file they want overwritten. `mkdir` of a random name fails instead of
//! accepting an existing directory; `O_EXCL|O_NOFOLLOW` fails instead of
//! following a symlink or opening a planted file; modes 0700/0600 keep row
//! data from other users. A parent that others may write without the sticky
//! bit lets them rename our directory away and put theirs in its place, which
//! no flag on our files prevents: such a parent is refused, not warned about.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Why a directory is not safe to keep private files in.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeDir {
    #[error("{path} cannot be read: {source}")]
    Stat {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a directory")]
    NotDirectory { path: PathBuf },
    #[error("{path} is owned by uid {owner}, neither this process's user (uid {user}) nor root: that user could replace its content; use a directory of your own")]
    Owner { path: PathBuf, owner: u32, user: u32 },
    #[error("{path} is writable by other users (mode {mode:o}) without the sticky bit: they could rename or replace files in it; chmod go-w (or +t) it, or use another directory")]
    Writable { path: PathBuf, mode: u32 },
}

/// Checks that other local users cannot tamper with what is created in `dir`
/// (see the module docs). Symlinks to a directory are followed: what counts
/// is the directory itself.
pub fn check_parent(dir: &Path) -> Result<(), UnsafeDir> {
    let meta = std::fs::metadata(dir).map_err(|source| UnsafeDir::Stat { path: dir.to_owned(), source })?;
    if !meta.is_dir() {
        return Err(UnsafeDir::NotDirectory { path: dir.to_owned() });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let user = effective_uid();
        if meta.uid() != user && meta.uid() != 0 {
            return Err(UnsafeDir::Owner { path: dir.to_owned(), owner: meta.uid(), user });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(UnsafeDir::Writable { path: dir.to_owned(), mode });
        }
    }
    Ok(())
}

/// The effective user id of this process.
#[cfg(unix)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A new directory `<parent>/<prefix><random>` with mode 0700, removed when
/// the returned handle is dropped. Never reuses an existing directory.
pub fn private_dir(parent: &Path, prefix: &str) -> io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).rand_bytes(12);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(parent)
}

/// Creates `path` for writing, mode 0600; fails if anything (a file, a
/// symlink, even a dangling one) is already there.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Opens `path` for reading without following a symlink in its last component.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn private_dir_is_0700_and_fresh() {
        let tmp = tempfile::tempdir().unwrap();
        let a = private_dir(tmp.path(), "p-").unwrap();
        let b = private_dir(tmp.path(), "p-").unwrap();
        assert_ne!(a.path(), b.path(), "random names");
        assert_eq!(mode(a.path()), 0o700);
    }

    #[test]
    fn create_private_is_0600_and_refuses_symlinks_and_existing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        create_private(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(create_private(&f).unwrap_err().kind(), io::ErrorKind::AlreadyExists);

        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = tmp.path().join("link");
        symlink(&victim, &link).unwrap();
        assert!(create_private(&link).is_err());
        let dangling = tmp.path().join("dangling");
        symlink(tmp.path().join("nothing"), &dangling).unwrap();
        assert!(create_private(&dangling).is_err());
        assert!(!tmp.path().join("nothing").exists(), "a dangling symlink is not followed");
        assert!(open_nofollow(&link).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn parents_others_can_write_without_sticky_bit_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_parent(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(check_parent(&dir), Err(UnsafeDir::Writable { .. })));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        assert!(matches!(check_parent(&dir), Err(UnsafeDir::Writable { .. })));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        check_parent(&dir).unwrap();
        assert!(matches!(check_parent(&tmp.path().join("missing")), Err(UnsafeDir::Stat { .. })));
        let file = tmp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(check_parent(&file), Err(UnsafeDir::NotDirectory { .. })));
    }

    #[test]
    fn parents_owned_by_another_user_are_refused() {
        // Only root can hand a directory to another user.
        if effective_uid() != 0 {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("theirs");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
        assert!(matches!(check_parent(&dir), Err(UnsafeDir::Owner { owner: 65534, .. })));
    }
}
