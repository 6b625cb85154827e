//! Spill files against another local user sharing the temporary directory.

use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;
use crate::source::postgres::pgoutput;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A parent like `/tmp`: writable by everyone, sticky.
fn shared_tmp() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    tmp
}

fn write_one(s: &mut StreamSpool, xid: u32) -> Result<(), SpillError> {
    let m = PgOutputMessage::Message {
        xid: Some(xid),
        transactional: true,
        lsn: Lsn(1),
        prefix: "p".into(),
        content: Bytes::from_static(b"row data"),
    };
    s.start(xid, true)?;
    s.append(Lsn(1), &pgoutput::encode(&m, true), &m)?;
    s.stop()
}

#[test]
fn predictable_directories_planted_by_another_user_are_not_used() {
    let tmp = shared_tmp();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"root only").unwrap();
    // What an attacker could pre-create with the old naming scheme
    // (pgcdc-spill-<slot>-<pid>-<n>): directories whose `<xid>.spill` is a
    // symlink to a file they want overwritten.
    let pid = std::process::id();
    for n in 0..256 {
        let planted = tmp.path().join(format!("pgcdc-spill-slot-{pid}-{n}"));
        fs::create_dir(&planted).unwrap();
        symlink(&victim, planted.join("7.spill")).unwrap();
    }
    let mut s = StreamSpool::new(tmp.path(), "slot").unwrap();
    assert!(!s.dir().join("7.spill").exists(), "the spool's directory is new and empty");
    write_one(&mut s, 7).unwrap();
    let replay = s.commit(7).unwrap();
    drop(replay);
    assert_eq!(fs::read(&victim).unwrap(), b"root only", "the symlink target was not written");
}

#[test]
fn spill_directory_is_0700_and_files_are_0600() {
    let tmp = shared_tmp();
    let mut s = StreamSpool::new(tmp.path(), "slot").unwrap();
    assert_eq!(mode(s.dir()), 0o700);
    write_one(&mut s, 7).unwrap();
    assert_eq!(mode(&s.dir().join("7.spill")), 0o600);
}

#[test]
fn a_symlink_in_place_of_a_spill_file_is_refused_not_followed() {
    let tmp = shared_tmp();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"root only").unwrap();
    let mut s = StreamSpool::new(tmp.path(), "slot").unwrap();
    symlink(&victim, s.dir().join("9.spill")).unwrap();
    assert!(matches!(write_one(&mut s, 9), Err(SpillError::Io { xid: 9, .. })));
    assert_eq!(fs::read(&victim).unwrap(), b"root only");
}

#[test]
fn a_parent_others_can_write_without_the_sticky_bit_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let err = StreamSpool::new(tmp.path(), "slot").err().unwrap();
    assert!(matches!(err, SpillError::UnsafeDir(_)), "{err}");
    assert!(err.to_string().contains("worker.spill_dir"), "the error says what to do: {err}");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing was created");
}

#[test]
fn stale_cleanup_follows_no_symlink_and_spares_other_users() {
    let tmp = shared_tmp();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("keep"), b"x").unwrap();
    // A dead pid's name, but a symlink to someone else's directory.
    symlink(elsewhere.path(), tmp.path().join("pgcdc-spill-slot-0-1")).unwrap();
    let _s = StreamSpool::new(tmp.path(), "slot").unwrap();
    assert!(elsewhere.path().join("keep").exists());
    assert!(fs::symlink_metadata(tmp.path().join("pgcdc-spill-slot-0-1")).is_ok(), "not ours: left alone");
}
