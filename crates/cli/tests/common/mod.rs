//! Shared helpers for the integration tests that drive the real `lifeboat`
//! binary: a scratch environment (vault, cache, passphrase), command runners
//! that capture exit codes and `-o json` output, a deterministic data
//! generator, and a byte-for-byte + metadata comparison of file trees.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Exit codes of `lifeboat` (crates/cli/src/main.rs `mod exit`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const PARTIAL: i32 = 3;
    pub const NO_VAULT: i32 = 4;
    pub const WRONG_PASSPHRASE: i32 = 5;
    pub const DAMAGE: i32 = 6;
    pub const STORAGE_FULL: i32 = 7;
}

pub const PASS: &str = "test passphrase 1";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lifeboat")
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A scratch folder with a vault path, a cache path and a passphrase.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub vault: PathBuf,
    pub cache: PathBuf,
    pub pass: String,
    /// Run every command under `setpriv` as this uid/gid (for permission tests).
    pub run_as: Option<u32>,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = dir.path().join("vault");
        let cache = dir.path().join("cache");
        Self {
            dir,
            vault,
            cache,
            pass: PASS.to_string(),
            run_as: None,
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `lifeboat store ARGS --vault V` with the test environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with_pass(args, &self.pass)
    }

    pub fn cmd_with_pass(&self, args: &[&str], pass: &str) -> Command {
        let mut c = match self.run_as {
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        c.arg("store")
            .args(args)
            .arg("--vault")
            .arg(&self.vault)
            .env("LIFEBOAT_PASSPHRASE", pass)
            .env("LIFEBOAT_KDF_M_KIB", "1024")
            .env("LIFEBOAT_KDF_T", "1")
            .env("LIFEBOAT_CACHE_DIR", &self.cache)
            .env_remove("LIFEBOAT_NEW_PASSPHRASE")
            .env_remove("LIFEBOAT_VAULT")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out::of(self.cmd(args), args)
    }

    /// Runs with `-o json`.
    pub fn run_json(&self, args: &[&str]) -> Out {
        let mut full = args.to_vec();
        full.extend(["-o", "json"]);
        self.run(&full)
    }

    /// Runs with `-o json`, requires exit 0, returns the parsed stdout.
    pub fn ok_json(&self, args: &[&str]) -> serde_json::Value {
        self.run_json(args).expect_code(exit::OK).json()
    }

    pub fn init(&self) {
        self.run(&["init"]).expect_code(exit::OK);
    }

    pub fn init_with(&self, extra: &[&str]) {
        let mut a = vec!["init"];
        a.extend_from_slice(extra);
        self.run(&a).expect_code(exit::OK);
    }

    /// Backs up `paths` with `-o json`; returns (exit code, parsed output).
    pub fn backup(&self, paths: &[&Path]) -> (i32, serde_json::Value) {
        let mut a = vec!["backup"];
        a.extend(paths.iter().map(|p| s(p)));
        let out = self.run_json(&a);
        assert!(
            out.code == exit::OK || out.code == exit::PARTIAL,
            "backup failed: {out}"
        );
        (out.code, out.json())
    }

    /// Backs up and requires a clean exit 0; returns (point id, point JSON).
    pub fn backup_ok(&self, paths: &[&Path]) -> (String, serde_json::Value) {
        let (code, v) = self.backup(paths);
        assert_eq!(code, exit::OK, "backup had warnings: {v}");
        (
            v["id"].as_str().expect("id").to_string(),
            v["point"].clone(),
        )
    }

    /// `points -o json`: (readable ids oldest first, full JSON).
    pub fn points(&self) -> (Vec<String>, serde_json::Value) {
        let out = self.run_json(&["points"]);
        assert!(
            out.code == exit::OK || out.code == exit::DAMAGE,
            "points failed: {out}"
        );
        let v = out.json();
        let ids = v["points"]
            .as_array()
            .expect("points array")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_string())
            .collect();
        (ids, v)
    }

    pub fn restore(&self, point: &str, target: &Path, extra: &[&str]) -> Out {
        let mut a = vec!["restore", point, "--target", s(target)];
        a.extend_from_slice(extra);
        self.run_json(&a)
    }

    pub fn verify(&self, extra: &[&str]) -> Out {
        let mut a = vec!["verify"];
        a.extend_from_slice(extra);
        self.run_json(&a)
    }

    pub fn verify_clean(&self, ctx: &str) {
        let out = self.verify(&["--read-data"]);
        assert_eq!(out.code, exit::OK, "{ctx}: verify --read-data: {out}");
        assert_eq!(out.json()["clean"], true, "{ctx}: {out}");
    }
}

/// The outcome of one run of the binary.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`lifeboat store {}` exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.what,
            self.code,
            truncate(&self.stdout, 6000),
            truncate(&self.stderr, 6000)
        )
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl Out {
    pub fn of(mut c: Command, args: &[&str]) -> Self {
        let o = c.output().expect("run lifeboat");
        Self {
            // Killed by a signal: no code.
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            what: args.join(" "),
        }
    }

    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit code: {self}");
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }

    /// The `error.code` of a `-o json` failure on stderr.
    pub fn error_code(&self) -> Option<String> {
        self.stderr
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["error"]["code"].as_str().map(String::from))
    }

    /// Requires this exit code and this JSON error code.
    #[track_caller]
    pub fn expect_error(&self, exit_code: i32, code: &str) {
        assert_eq!(
            (self.code, self.error_code().as_deref()),
            (exit_code, Some(code)),
            "expected exit {exit_code} with {code}: {self}"
        );
    }
}

/// Where restore puts a source path: under the target, without the leading `/`.
pub fn restored_root(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").expect("absolute source"))
}

/// The manifest path of a source (absolute path without the leading `/`).
pub fn rel(src: &Path) -> String {
    s(src).trim_start_matches('/').to_string()
}

// ------------------------------------------------------------ data generator

/// A small deterministic generator (xorshift), so failures can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
    /// Compressible, text-like bytes.
    pub fn text(&mut self, n: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "lorem", "ipsum", "vault", "backup", "restore", "point", "chunk", "pack", "index",
            "verify", "dolor", "sit", "amet", "2026", "error", "info",
        ];
        let mut v = Vec::with_capacity(n + 64);
        while v.len() < n {
            let w = WORDS[self.below(WORDS.len() as u64) as usize];
            v.extend_from_slice(w.as_bytes());
            v.push(if self.below(9) == 0 { b'\n' } else { b' ' });
        }
        v.truncate(n);
        v
    }
}

// ------------------------------------------------------------ file helpers

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in path")
}

/// Sets atime and mtime (seconds, nanoseconds) without following symlinks.
pub fn set_times(p: &Path, sec: i64, nsec: i64) {
    let ts = [
        libc::timespec {
            tv_sec: sec - 1000,
            tv_nsec: nsec,
        },
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
    ];
    let c = cpath(p);
    // SAFETY: valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "utimensat {}", p.display());
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).expect("chown");
}

pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Sets an extended attribute; false when the file system refuses.
pub fn try_set_xattr(p: &Path, name: &str, value: &[u8]) -> bool {
    let c = cpath(p);
    let n = CString::new(name).expect("name");
    // SAFETY: valid path, name and buffer.
    unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        ) == 0
    }
}

/// Every extended attribute of `p` (not following symlinks).
pub fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = cpath(p);
    let mut out = BTreeMap::new();
    let mut names = vec![0u8; 65536];
    // SAFETY: valid path and buffer.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return out;
    }
    for name in names[..n as usize]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
    {
        let cn = CString::new(name).expect("name");
        let mut val = vec![0u8; 65536];
        // SAFETY: valid path, name and buffer.
        let len =
            unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), val.as_mut_ptr().cast(), val.len()) };
        if len >= 0 {
            val.truncate(len as usize);
            out.insert(String::from_utf8_lossy(name).into_owned(), val);
        }
    }
    out
}

pub fn mkfifo(p: &Path, mode: u32) {
    let c = cpath(p);
    // SAFETY: valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), mode) }, 0, "mkfifo");
}

/// Bytes the file system allocated for `p`.
pub fn allocated(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).expect("stat").blocks() * 512
}

/// Sum of the sizes of every file under `root`.
pub fn du(root: &Path) -> u64 {
    let mut total = 0;
    for (_, m) in walk(root) {
        if m.is_file() {
            total += m.len();
        }
    }
    total
}

/// Every object under `root` (not following symlinks), root excluded, sorted.
pub fn walk(root: &Path) -> Vec<(String, std::fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let e = e.expect("dir entry");
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            if m.is_dir() {
                stack.push(p.clone());
            }
            let r = p.strip_prefix(root).expect("under root");
            out.push((s(r).to_string(), m));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// path → contents of every regular file under `root`.
pub fn file_contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(root)
        .into_iter()
        .filter(|(_, m)| m.is_file())
        .map(|(r, _)| {
            let data = std::fs::read(root.join(&r)).expect("read");
            (r, data)
        })
        .collect()
}

/// Type, size, mode, mtime (s, ns) and content of one object.
pub type ObjState = (String, u64, u32, i64, i64, Vec<u8>);
/// Every object under a folder by relative path.
pub type DirState = BTreeMap<String, ObjState>;

/// Name, type, size, mode, mtime and content of everything under `root`:
/// two equal states mean nothing in the folder changed.
pub fn dir_state(root: &Path) -> DirState {
    walk(root)
        .into_iter()
        .map(|(r, m)| {
            let content = if m.is_file() {
                std::fs::read(root.join(&r)).expect("read")
            } else {
                Vec::new()
            };
            (
                r,
                (
                    kind_of(&m).to_string(),
                    m.len(),
                    m.mode(),
                    m.mtime(),
                    m.mtime_nsec(),
                    content,
                ),
            )
        })
        .collect()
}

pub fn kind_of(m: &std::fs::Metadata) -> &'static str {
    let ft = m.file_type();
    if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "chardev"
    } else if ft.is_block_device() {
        "blockdev"
    } else {
        "other"
    }
}

fn same_content(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]).expect("read") {
                0 => break,
                k => n += k,
            }
        }
        n
    }
}

/// What `compare_trees` checks besides names, types and contents.
#[derive(Clone, Copy)]
pub struct Cmp {
    pub mode: bool,
    pub owner: bool,
    pub mtime: bool,
    pub dir_mtime: bool,
    pub xattrs: bool,
    pub hardlinks: bool,
}

impl Cmp {
    pub const ALL: Cmp = Cmp {
        mode: true,
        owner: true,
        mtime: true,
        dir_mtime: true,
        xattrs: true,
        hardlinks: true,
    };
    pub const CONTENT: Cmp = Cmp {
        mode: false,
        owner: false,
        mtime: false,
        dir_mtime: false,
        xattrs: false,
        hardlinks: false,
    };
}

/// Differences between two trees (the roots' own metadata included); empty when equal.
pub fn compare_trees(a: &Path, b: &Path, cmp: Cmp) -> Vec<String> {
    let mut diffs = Vec::new();
    let la: BTreeMap<String, std::fs::Metadata> = std::iter::once((
        String::new(),
        std::fs::symlink_metadata(a).expect("lstat a"),
    ))
    .chain(walk(a))
    .collect();
    let lb: BTreeMap<String, std::fs::Metadata> = match std::fs::symlink_metadata(b) {
        Ok(m) => std::iter::once((String::new(), m)).chain(walk(b)).collect(),
        Err(e) => return vec![format!("{}: {e}", b.display())],
    };
    for k in la.keys().filter(|k| !lb.contains_key(*k)) {
        diffs.push(format!("missing in restore: {k}"));
    }
    for k in lb.keys().filter(|k| !la.contains_key(*k)) {
        diffs.push(format!("extra in restore: {k}"));
    }
    // Hard-link groups: first path of each inode in `a`.
    let mut first_of: HashMap<u64, String> = HashMap::new();
    for (k, ma) in &la {
        let Some(mb) = lb.get(k) else { continue };
        let (pa, pb) = (a.join(k), b.join(k));
        let name = if k.is_empty() { "<root>" } else { k };
        let (ka, kb) = (kind_of(ma), kind_of(mb));
        if ka != kb {
            diffs.push(format!("{name}: type {ka} vs {kb}"));
            continue;
        }
        match ka {
            "file" => {
                if ma.len() != mb.len() {
                    diffs.push(format!("{name}: size {} vs {}", ma.len(), mb.len()));
                } else if !same_content(&pa, &pb) {
                    diffs.push(format!("{name}: content differs"));
                }
                if cmp.hardlinks {
                    if ma.nlink() != mb.nlink() {
                        diffs.push(format!("{name}: nlink {} vs {}", ma.nlink(), mb.nlink()));
                    }
                    if ma.nlink() > 1 {
                        match first_of.get(&ma.ino()) {
                            None => {
                                first_of.insert(ma.ino(), k.clone());
                            }
                            Some(first) => {
                                if lb.get(first).map(|m| m.ino()) != Some(mb.ino()) {
                                    diffs.push(format!("{name}: not hard-linked to {first}"));
                                }
                            }
                        }
                    }
                }
            }
            "symlink" => {
                let (ta, tb) = (std::fs::read_link(&pa), std::fs::read_link(&pb));
                if ta.as_ref().ok() != tb.as_ref().ok() {
                    diffs.push(format!("{name}: link target {ta:?} vs {tb:?}"));
                }
            }
            _ => {}
        }
        if cmp.mode && ka != "symlink" && ma.mode() != mb.mode() {
            diffs.push(format!("{name}: mode {:o} vs {:o}", ma.mode(), mb.mode()));
        }
        if cmp.owner && (ma.uid(), ma.gid()) != (mb.uid(), mb.gid()) {
            diffs.push(format!(
                "{name}: owner {}:{} vs {}:{}",
                ma.uid(),
                ma.gid(),
                mb.uid(),
                mb.gid()
            ));
        }
        let check_time = if ka == "dir" {
            cmp.dir_mtime
        } else {
            cmp.mtime
        };
        if check_time && (ma.mtime(), ma.mtime_nsec()) != (mb.mtime(), mb.mtime_nsec()) {
            diffs.push(format!(
                "{name}: mtime {}.{:09} vs {}.{:09}",
                ma.mtime(),
                ma.mtime_nsec(),
                mb.mtime(),
                mb.mtime_nsec()
            ));
        }
        if cmp.xattrs && ka != "symlink" {
            let (xa, xb) = (xattrs(&pa), xattrs(&pb));
            if xa != xb {
                diffs.push(format!("{name}: xattrs {xa:?} vs {xb:?}"));
            }
        }
    }
    diffs
}

#[track_caller]
pub fn assert_same_tree(a: &Path, b: &Path, cmp: Cmp) {
    let d = compare_trees(a, b, cmp);
    assert!(
        d.is_empty(),
        "{} and {} differ:\n  {}",
        a.display(),
        b.display(),
        d.join("\n  ")
    );
}

/// Makes a folder world-traversable (tempdirs are 0700) so another uid can reach inside.
pub fn open_up(p: &Path) {
    chmod(p, 0o755);
}

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}
