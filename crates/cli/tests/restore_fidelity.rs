//! Restore fidelity: a generated tree holding every kind of entry and
//! attribute a backup records — files with holes, setuid/setgid/sticky
//! modes, owners, user xattrs, POSIX ACLs, a file capability, inode flags,
//! symlinks, a fifo, a socket, device nodes, hard links across folders,
//! names and a symlink target that are not UTF-8, nanosecond times on
//! files and folders — and a real operating-system
//! tree, restored by `lifeboat store restore` and by a restore job
//! (`lifeboat backup restore files`), then compared with the source in
//! everything: type, mode, owner, size, content, times, device numbers,
//! symlink targets, every xattr, inode flags, hard-link groups and holes.
//!
//! As root everything comes back. As another user the rules of
//! docs/restore.md apply: owners become the restoring user's, and what
//! needs root (device nodes, capabilities, immutable and append-only) is
//! not set and is reported, each part by name, with exit code 11.

mod common;
mod server_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{Env, exit, restored_root, s};
use serde_json::Value;

// ------------------------------------------------------------ the tree

const FL_IMMUTABLE: i32 = 0x10;
const FL_APPEND: i32 = 0x20;
const FL_NODUMP: i32 = 0x40;
/// The flags a backup records (docs/format.md §8).
const FL_KEPT: u32 = 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x1_0000;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in a test path")
}

fn os_ok(rc: libc::c_int, what: &str, p: &Path) {
    assert_eq!(
        rc,
        0,
        "{what} {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// Sets atime and mtime (nanoseconds) without following a symlink.
fn set_mtime(p: &Path, ns: i64) {
    let t = libc::timespec {
        tv_sec: ns / 1_000_000_000,
        tv_nsec: ns % 1_000_000_000,
    };
    // SAFETY: valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            cpath(p).as_ptr(),
            [t, t].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    os_ok(rc, "utimensat", p);
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn lchown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).expect("lchown");
}

fn mknod(p: &Path, kind: libc::mode_t, mode: u32, major: u32, minor: u32) {
    // SAFETY: valid path.
    let rc = unsafe { libc::mknod(cpath(p).as_ptr(), kind | mode, libc::makedev(major, minor)) };
    os_ok(rc, "mknod", p);
    chmod(p, mode);
}

fn open_for_flags(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(p)
}

/// The inode flags of a file or folder, kept to those a backup records.
fn get_flags(p: &Path) -> u32 {
    use std::os::fd::AsRawFd;
    let f = open_for_flags(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    let mut v: libc::c_int = 0;
    // SAFETY: valid descriptor and an int-sized out value.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut v) };
    os_ok(rc, "FS_IOC_GETFLAGS", p);
    v as u32 & FL_KEPT
}

/// Adds and removes inode flags of a file or folder.
fn try_change_flags(p: &Path, add: i32, remove: i32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = open_for_flags(p)?;
    let mut v: libc::c_int = 0;
    // SAFETY: valid descriptor and int-sized values.
    unsafe {
        if libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut v) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        v = (v | add) & !remove;
        if libc::ioctl(f.as_raw_fd(), libc::FS_IOC_SETFLAGS, &v) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn change_flags(p: &Path, add: i32, remove: i32) {
    try_change_flags(p, add, remove)
        .unwrap_or_else(|e| panic!("changing inode flags of {}: {e}", p.display()));
}

/// A POSIX ACL written short (`u::rw-,u:1000:r--,g::r--,m::r--,o::---`)
/// as the kernel stores it in `system.posix_acl_*`: version 2, then per
/// entry a tag, the permission bits and an id.
fn acl(text: &str) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for entry in text.split(',') {
        let parts: Vec<&str> = entry.split(':').collect();
        let [kind, id, perms] = parts[..] else {
            panic!("ACL entry {entry:?}")
        };
        let tag: u16 = match (kind, id.is_empty()) {
            ("u", true) => 0x01,
            ("u", false) => 0x02,
            ("g", true) => 0x04,
            ("g", false) => 0x08,
            ("m", _) => 0x10,
            ("o", _) => 0x20,
            _ => panic!("ACL entry {entry:?}"),
        };
        let perm: u16 = perms
            .chars()
            .zip([4, 2, 1])
            .map(|(c, bit)| if c == '-' { 0 } else { bit })
            .sum();
        let id: u32 = if id.is_empty() {
            u32::MAX
        } else {
            id.parse().expect("an id")
        };
        v.extend(tag.to_le_bytes());
        v.extend(perm.to_le_bytes());
        v.extend(id.to_le_bytes());
    }
    v
}

/// `cap_net_raw+ep` as `security.capability` (revision 2).
fn net_raw_capability() -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        v.extend(word.to_le_bytes());
    }
    v
}

/// Clears immutable and append-only on drop, so the temporary folders can
/// be removed even when an assertion failed.
struct Unlock(Vec<PathBuf>);

impl Drop for Unlock {
    fn drop(&mut self) {
        for p in &self.0 {
            let plain = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() || m.is_dir());
            if plain {
                let _ = try_change_flags(p, 0, FL_IMMUTABLE | FL_APPEND);
            }
        }
    }
}

/// An [`Unlock`] of everything under `root`.
fn unlock_all(root: &Path) -> Unlock {
    Unlock(walk(root).into_iter().map(|(_, p)| p).collect())
}

/// Builds the tree under `src`; the parts that need root only when
/// `privileged`. Returns the paths whose flags must be cleared afterwards.
fn make_tree(src: &Path, privileged: bool) -> Vec<PathBuf> {
    let p = |rel: &str| src.join(rel);
    for d in ["a", "b", "sticky", "setgid_dir", "acl_dir", "deep/er/est"] {
        std::fs::create_dir_all(p(d)).expect("mkdir");
    }
    std::fs::write(p("a/text"), "hello\n").unwrap();
    std::fs::write(p("a/bin"), lifeboat_testkit::noise(7, 300 << 10)).unwrap();
    std::fs::write(p("a/empty"), b"").unwrap();
    std::fs::write(p("deep/er/est/leaf"), "deep\n").unwrap();
    // 8 MiB with two 64 KiB islands of data: the rest is holes.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(p("a/sparse")).unwrap();
        f.set_len(8 << 20).unwrap();
        f.write_all_at(&lifeboat_testkit::noise(8, 64 << 10), 0)
            .unwrap();
        f.write_all_at(&lifeboat_testkit::noise(9, 64 << 10), 6 << 20)
            .unwrap();
    }
    for (name, mode) in [
        ("a/exec", 0o755),
        ("a/setuid", 0o4755),
        ("a/setgid", 0o2755),
        ("a/private", 0o600),
    ] {
        std::fs::write(p(name), name).unwrap();
        chmod(&p(name), mode);
    }
    chmod(&p("sticky"), 0o1777);
    chmod(&p("setgid_dir"), 0o2775);
    std::fs::write(p("setgid_dir/inside"), "g").unwrap();
    // Hard links, one across folders.
    std::fs::hard_link(p("a/text"), p("b/text_link")).unwrap();
    std::fs::hard_link(p("a/text"), p("a/text_link")).unwrap();
    // Extended attributes and ACLs.
    std::fs::write(p("a/xattr"), "x").unwrap();
    xattr::set(p("a/xattr"), "user.comment", b"kept exactly").unwrap();
    xattr::set(p("a/xattr"), "user.binary", &[0, 255, 1, 2]).unwrap();
    xattr::set(p("b"), "user.folder", b"on a folder").unwrap();
    std::fs::write(p("a/acl"), "acl").unwrap();
    let access = acl("u::rw-,u:1000:r--,g::r--,m::r--,o::---");
    xattr::set(p("a/acl"), "system.posix_acl_access", &access).unwrap();
    let default = acl("u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x");
    xattr::set(p("acl_dir"), "system.posix_acl_default", &default).unwrap();
    std::fs::write(p("acl_dir/inherited"), "inherits the default ACL").unwrap();
    // Symlinks, a fifo and a socket.
    std::os::unix::fs::symlink("text", p("a/rel")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", p("a/abs")).unwrap();
    std::os::unix::fs::symlink("nowhere/at/all", p("a/dangling")).unwrap();
    mknod(&p("a/fifo"), libc::S_IFIFO, 0o640, 0, 0);
    drop(std::os::unix::net::UnixListener::bind(p("a/sock")).expect("bind a socket"));
    chmod(&p("a/sock"), 0o750);
    // Names and a symlink target that are not UTF-8.
    let odd = |b: &[u8]| src.join(std::ffi::OsStr::from_bytes(b));
    std::fs::write(odd(b"a/caf\xe9"), "a Latin-1 name").unwrap();
    std::fs::create_dir(odd(b"\xff\xfe dir")).unwrap();
    std::fs::write(odd(b"\xff\xfe dir/inside \xc3"), "a cut sequence").unwrap();
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(b"target \xe9"), p("a/odd_link"))
        .unwrap();
    std::fs::write(p("a/nodump"), "not for dump").unwrap();
    let mut flagged = vec![(p("a/nodump"), FL_NODUMP)];
    if privileged {
        std::fs::write(p("a/owned"), "someone else's").unwrap();
        lchown(&p("a/owned"), 1234, 5678);
        lchown(&p("b"), 4321, 8765);
        lchown(&p("a/rel"), 1111, 2222);
        std::fs::write(p("a/cap"), "a program").unwrap();
        chmod(&p("a/cap"), 0o755);
        xattr::set(p("a/cap"), "security.capability", &net_raw_capability()).unwrap();
        mknod(&p("a/null"), libc::S_IFCHR, 0o666, 1, 3);
        mknod(&p("a/blk"), libc::S_IFBLK, 0o660, 7, 250);
        std::fs::write(p("a/immutable"), "cannot change").unwrap();
        std::fs::write(p("a/append"), "only grows").unwrap();
        flagged.push((p("a/immutable"), FL_IMMUTABLE));
        flagged.push((p("a/append"), FL_APPEND));
    }
    // Times: files first, then folders deepest first (making entries moves
    // a folder's mtime), flags last (an immutable file takes no new times).
    let mut t = 1_700_000_000_123_456_789i64;
    let mut all = walk(src);
    all.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.matches('/').count()));
    for (_, path) in all.iter().filter(|(_, p)| !p.is_dir() || p.is_symlink()) {
        t += 1_000_000_007;
        set_mtime(path, t);
    }
    for (_, path) in all.iter().filter(|(_, p)| p.is_dir() && !p.is_symlink()) {
        t += 1_000_000_007;
        set_mtime(path, t);
    }
    for (path, flag) in &flagged {
        change_flags(path, *flag, 0);
    }
    flagged.into_iter().map(|(p, _)| p).collect()
}

/// A name as a key that keeps every byte: itself when UTF-8, else quoted
/// with `\xHH` for the bytes that are not.
fn key(n: &std::ffi::OsStr) -> String {
    match n.to_str() {
        Some(s) => s.to_string(),
        None => format!("{n:?}"),
    }
}

/// `(relative path, full path)` of `root` and everything below it.
fn walk(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = vec![(String::new(), root.to_path_buf())];
    let mut i = 0;
    while i < out.len() {
        let (rel, path) = out[i].clone();
        i += 1;
        let m = std::fs::symlink_metadata(&path).expect("lstat");
        if !m.is_dir() {
            continue;
        }
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        for n in names {
            let name = key(&n);
            let r = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            out.push((r, path.join(&n)));
        }
    }
    out
}

// ------------------------------------------------------------ comparing

/// Everything a restore must bring back of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// `st_mode`: type and permission bits.
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime_ns: i64,
    rdev: u64,
    target: Option<String>,
    content: Option<blake3::Hash>,
    xattrs: BTreeMap<String, Vec<u8>>,
    flags: u32,
    /// For a file with several links: the first path of its group.
    link_group: Option<String>,
}

/// The tree under `root`, keyed by relative path; `blocks` gets each
/// file's allocated 512-byte blocks.
fn snapshot(root: &Path, blocks: &mut HashMap<String, u64>) -> BTreeMap<String, Node> {
    let mut first_of: HashMap<(u64, u64), String> = HashMap::new();
    let mut out = BTreeMap::new();
    for (rel, path) in walk(root) {
        let m = std::fs::symlink_metadata(&path).expect("lstat");
        let ft = m.file_type();
        let mut xattrs = BTreeMap::new();
        for n in xattr::list(&path).expect("listxattr") {
            let v = xattr::get(&path, &n).expect("getxattr").unwrap_or_default();
            xattrs.insert(key(&n), v);
        }
        let link_group = (ft.is_file() && m.nlink() > 1).then(|| {
            first_of
                .entry((m.dev(), m.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        let content = ft
            .is_file()
            .then(|| blake3::hash(&std::fs::read(&path).expect("read")));
        if ft.is_file() {
            blocks.insert(rel.clone(), m.blocks());
        }
        let node = Node {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: if ft.is_file() { m.size() } else { 0 },
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            rdev: m.rdev(),
            target: ft
                .is_symlink()
                .then(|| key(std::fs::read_link(&path).expect("readlink").as_os_str())),
            content,
            xattrs,
            flags: if ft.is_file() || ft.is_dir() {
                get_flags(&path)
            } else {
                0
            },
            link_group,
        };
        out.insert(rel, node);
    }
    out
}

/// What a restore as a user other than root gives (docs/restore.md): the
/// restoring user's owner and group, no device nodes, no capabilities, no
/// immutable or append-only flags.
fn as_unprivileged(mut want: BTreeMap<String, Node>, uid: u32, gid: u32) -> BTreeMap<String, Node> {
    want.retain(|_, n| {
        let kind = n.mode & libc::S_IFMT;
        kind != libc::S_IFCHR && kind != libc::S_IFBLK
    });
    for n in want.values_mut() {
        n.uid = uid;
        n.gid = gid;
        n.xattrs.remove("security.capability");
        n.flags &= !((FL_IMMUTABLE | FL_APPEND) as u32);
    }
    want
}

/// Every difference between two snapshots, one line each.
fn differences(want: &BTreeMap<String, Node>, got: &BTreeMap<String, Node>) -> Vec<String> {
    let mut out = Vec::new();
    let paths: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for p in paths {
        match (want.get(p), got.get(p)) {
            (Some(_), None) => out.push(format!("{p}: missing from the restore")),
            (None, Some(_)) => out.push(format!("{p}: restored but not in the source")),
            (Some(w), Some(g)) if w != g => {
                out.push(format!("{p}:\n  source   {w:?}\n  restored {g:?}"))
            }
            _ => {}
        }
    }
    out
}

#[track_caller]
fn assert_same(want: &BTreeMap<String, Node>, got: &BTreeMap<String, Node>, what: &str) {
    let diffs = differences(want, got);
    assert!(
        diffs.is_empty(),
        "{what}: {} difference(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Holes stay holes: no restored file takes more blocks than its source
/// (plus one 4 KiB block of slack per file for file-system rounding).
#[track_caller]
fn assert_holes_kept(src: &HashMap<String, u64>, got: &HashMap<String, u64>) {
    for (p, b) in got {
        let want = src.get(p).copied().unwrap_or(0);
        assert!(
            *b <= want + 8,
            "{p}: {b} blocks restored, {want} in the source"
        );
    }
}

/// The `(path, what)` pairs of a restore report's `metadata_lost`.
fn losses(report: &Value) -> BTreeSet<(String, String)> {
    report["metadata_lost"]
        .as_array()
        .expect("metadata_lost is a list")
        .iter()
        .map(|m| {
            (
                m["path"].as_str().expect("path").to_string(),
                m["what"].as_str().expect("what").to_string(),
            )
        })
        .collect()
}

// ------------------------------------------------------------ the tests

/// A vault holding one backup of a freshly made tree.
struct Backed {
    env: Env,
    src: PathBuf,
    want: BTreeMap<String, Node>,
    blocks: HashMap<String, u64>,
    _unlock: Unlock,
}

fn backed(privileged: bool) -> Backed {
    let env = Env::new();
    let src = env.path("src");
    let flagged = make_tree(&src, privileged);
    let unlock = Unlock(flagged);
    let mut blocks = HashMap::new();
    let want = snapshot(&src, &mut blocks);
    env.init();
    env.backup_ok(&[src.as_path()]);
    Backed {
        env,
        src,
        want,
        blocks,
        _unlock: unlock,
    }
}

#[test]
fn a_store_restore_brings_every_entry_and_attribute_back() {
    let root = is_root();
    let b = backed(root);
    let target = b.env.path("restore");
    let out = b.env.restore("latest", &target, &[]).expect_code(exit::OK);
    let report = &out.json()["report"];
    assert_eq!(losses(report), BTreeSet::new(), "{out}");
    let here = restored_root(&target, &b.src);
    let _unlock = unlock_all(&here);
    let mut blocks = HashMap::new();
    let got = snapshot(&here, &mut blocks);
    assert_same(&b.want, &got, "store restore");
    assert_holes_kept(&b.blocks, &blocks);
}

#[test]
fn as_another_user_a_restore_follows_the_documented_rules_and_reports_the_rest() {
    let root = is_root();
    let mut b = backed(root);
    let target = b.env.path("restore");
    std::fs::create_dir_all(&target).unwrap();
    // SAFETY: getuid/getgid have no preconditions.
    let (mut uid, mut gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if root {
        // Restore as nobody: it reads the vault and owns the target.
        (uid, gid) = (65534, 65534);
        for (_, p) in walk(&b.env.vault) {
            let m = std::fs::metadata(&p).unwrap();
            chmod(
                &p,
                m.mode() & 0o7777 | if m.is_dir() { 0o555 } else { 0o444 },
            );
        }
        lchown(&target, uid, gid);
        let home = target.parent().expect("the test folder");
        chmod(home, 0o755);
        b.env.cache = b.env.path("nobody-cache");
        std::fs::create_dir_all(&b.env.cache).unwrap();
        lchown(&b.env.cache, uid, gid);
        b.env.run_as = Some(uid);
    }
    let out = b.env.restore("latest", &target, &[]);
    let expected: BTreeSet<(String, String)> = if root {
        [
            ("a/cap", "xattr security.capability"),
            ("a/null", "node"),
            ("a/blk", "node"),
            ("a/immutable", "flags"),
            ("a/append", "flags"),
        ]
        .into_iter()
        .map(|(p, w)| (format!("{}/{p}", common::rel(&b.src)), w.to_string()))
        .collect()
    } else {
        BTreeSet::new()
    };
    let code = if root { 11 } else { exit::OK };
    let out = out.expect_code(code);
    assert_eq!(losses(&out.json()["report"]), expected, "{out}");
    if root {
        // Without -o json each part is a warning line, and a count ends it.
        let text_target = b.env.path("restore-text");
        std::fs::create_dir_all(&text_target).unwrap();
        lchown(&text_target, uid, gid);
        let text = b
            .env
            .run(&["restore", "latest", "--target", s(&text_target)])
            .expect_code(11);
        let _unlock_text = unlock_all(&text_target);
        for (p, w) in &expected {
            assert!(
                text.stderr.contains(&format!(
                    "warning: (METADATA_NOT_RESTORED) {p}: {w} not set: "
                )),
                "no warning line for {p} {w}: {text}"
            );
        }
        assert!(
            text.stderr
                .contains("warning: 5 part(s) of the recorded metadata could not be set"),
            "{text}"
        );
    }
    let here = restored_root(&target, &b.src);
    let _unlock = unlock_all(&here);
    let mut blocks = HashMap::new();
    let got = snapshot(&here, &mut blocks);
    assert_same(
        &as_unprivileged(b.want.clone(), uid, gid),
        &got,
        "restore as another user",
    );
    assert_holes_kept(&b.blocks, &blocks);
}

#[test]
fn a_real_system_tree_comes_back_exactly() {
    // /etc has files only root may read; as another user /usr/sbin alone.
    let sources: Vec<&Path> = if is_root() {
        vec![Path::new("/etc"), Path::new("/usr/sbin")]
    } else {
        vec![Path::new("/usr/sbin")]
    };
    let env = Env::new();
    env.init();
    env.backup_ok(&sources);
    let target = env.path("restore");
    let out = env.restore("latest", &target, &[]).expect_code(exit::OK);
    assert_eq!(losses(&out.json()["report"]), BTreeSet::new(), "{out}");
    for src in sources {
        let (mut a, mut b) = (HashMap::new(), HashMap::new());
        let want = snapshot(src, &mut a);
        let got = snapshot(&restored_root(&target, src), &mut b);
        assert_same(&want, &got, &format!("restore of {}", src.display()));
        assert!(
            want.len() > 20,
            "{} is not much of a system tree",
            src.display()
        );
    }
}

#[test]
fn a_restore_job_brings_every_entry_and_attribute_back() {
    use server_support::{Cli, ServerOpts, ServerProc};
    let root = is_root();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let _unlock = Unlock(make_tree(&src, root));
    let mut blocks = HashMap::new();
    let want = snapshot(&src, &mut blocks);
    let srv = ServerProc::start(ServerOpts::new(
        &dir.path().join("data"),
        &dir.path().join("server.log"),
    ));
    let cli = Cli::new(&dir.path().join("home"));
    let target = dir.path().join("restore");
    let run = |line: String| cli.backup(&srv, &line.split(' ').collect::<Vec<_>>());
    run("vault create --name prod".into()).ok();
    cli.protect_path(&srv, &src, "tree");
    run("protection backup-now --vault prod --item tree --wait".into()).ok();
    let job = run(format!(
        "restore files --vault prod --item tree --point latest --target-path {} --wait",
        s(&target)
    ))
    .ok()
    .json();
    assert_eq!(job["status"], "Completed", "{job}");
    let here = restored_root(&target, &src);
    let _unlock_restored = unlock_all(&here);
    let mut got_blocks = HashMap::new();
    let got = snapshot(&here, &mut got_blocks);
    assert_same(&want, &got, "restore job");
    assert_holes_kept(&blocks, &got_blocks);
}
