//! Recovery-point manifests and the entries of their tree streams
//! (docs/format.md §8).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::VaultKeys;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::{ChunkId, PointId};

/// The workload that wrote a point (docs/format.md §8): an open name, so a
/// new workload needs no change here. `files` and `disk` are built in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Workload(Cow<'static, str>);

impl Workload {
    pub const FILES: Workload = Workload(Cow::Borrowed("files"));
    pub const DISK: Workload = Workload(Cow::Borrowed("disk"));

    /// A workload name: 1 to 64 of `a-z`, `0-9`, `-`, starting with a letter.
    pub fn new(name: &str) -> Result<Self> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "{name:?} is not a workload name (1 to 64 of a-z, 0-9 and -, starting with a letter)"
            )));
        }
        Ok(Self(Cow::Owned(name.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Workload {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Workload::new(&s)
    }
}

impl From<Workload> for String {
    fn from(w: Workload) -> String {
        w.0.into_owned()
    }
}

/// The two kinds a version 1 manifest can name.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum KindV1 {
    Files,
    Disk,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    Consistent,
    ChangedDuringBackup,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    /// Bytes of file or disk content the point describes.
    pub bytes: u64,
    /// Content bytes that were new to the vault.
    pub added_bytes: u64,
    /// What those new bytes took in the vault after compression and encryption.
    pub added_stored_bytes: u64,
    pub new_chunks: u64,
    /// Files whose content was taken from the parent point without reading.
    #[serde(default)]
    pub unchanged_files: u64,
    pub warnings: u64,
    pub duration_ms: u64,
}

/// A recovery-point manifest, in the current (version 2) shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// The manifest version it was read from; `encode` always writes the current one.
    pub version: u32,
    pub time: chrono::DateTime<chrono::Utc>,
    pub host: String,
    pub user: String,
    /// The workload that wrote the point.
    pub kind: Workload,
    /// The workload's own metadata (`{}` for files and disks).
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub paths: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub parent: Option<PointId>,
    pub tree: Vec<ChunkId>,
    pub consistency: Consistency,
    pub summary: Summary,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A version 1 manifest: a closed kind and no metadata.
#[derive(Deserialize)]
struct PointV1 {
    version: u32,
    time: chrono::DateTime<chrono::Utc>,
    host: String,
    user: String,
    kind: KindV1,
    paths: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    parent: Option<PointId>,
    tree: Vec<ChunkId>,
    consistency: Consistency,
    summary: Summary,
    #[serde(default)]
    warnings: Vec<String>,
}

impl From<PointV1> for Point {
    fn from(p: PointV1) -> Point {
        Point {
            version: p.version,
            time: p.time,
            host: p.host,
            user: p.user,
            kind: match p.kind {
                KindV1::Files => Workload::FILES,
                KindV1::Disk => Workload::DISK,
            },
            meta: serde_json::Map::new(),
            paths: p.paths,
            tags: p.tags,
            parent: p.parent,
            tree: p.tree,
            consistency: p.consistency,
            summary: p.summary,
            warnings: p.warnings,
        }
    }
}

pub fn point_name(id: &PointId) -> String {
    format!("points/{}", id.to_hex())
}

impl Point {
    /// Seals the point as a current-version manifest (whatever `version`
    /// it was read with) and returns its id and bytes.
    pub fn encode(&self, keys: &VaultKeys) -> (PointId, Vec<u8>) {
        let json = if self.version == POINT_VERSION as u32 {
            serde_json::to_vec(self)
        } else {
            serde_json::to_vec(&Point {
                version: POINT_VERSION as u32,
                ..self.clone()
            })
        }
        .expect("point serializes");
        let mut plain = vec![ENCODING_ZSTD];
        // Compressing into a Vec cannot fail.
        zstd::stream::copy_encode(&json[..], &mut plain, 3).expect("zstd into memory");
        let mut out = Vec::with_capacity(plain.len() + 64);
        out.extend_from_slice(&prologue(POINT_MAGIC, POINT_VERSION));
        out.extend_from_slice(&keys.seal(AAD_POINT, &plain));
        (PointId::of_bytes(&out), out)
    }

    /// Opens a version 2 or version 1 manifest.
    pub fn decode(keys: &VaultKeys, bytes: &[u8], what: &str) -> Result<Self> {
        let version = match bytes.get(4) {
            Some(&POINT_VERSION_V1) => POINT_VERSION_V1,
            _ => POINT_VERSION,
        };
        check_prologue(bytes, POINT_MAGIC, version, "point manifest", what)?;
        let plain = keys.open(AAD_POINT, &bytes[PROLOGUE_LEN..], what)?;
        let json = decode_encoded(&plain, 64 << 20, what)?;
        let bad = |e: serde_json::Error| Error::corrupt(what, format!("manifest: {e}"));
        let point: Point = if version == POINT_VERSION_V1 {
            serde_json::from_slice::<PointV1>(&json)
                .map_err(bad)?
                .into()
        } else {
            serde_json::from_slice(&json).map_err(bad)?
        };
        if point.version != version as u32 {
            return Err(Error::corrupt(
                what,
                format!(
                    "manifest says version {} in a version {version} object",
                    point.version
                ),
            ));
        }
        Ok(point)
    }

    /// Whether the point holds disk images (restored as images, not as files).
    pub fn is_disk(&self) -> bool {
        self.kind == Workload::DISK
    }
}

/// Undoes the encoding byte of a sealed plaintext, with a cap on the output.
pub fn decode_encoded(plain: &[u8], cap: usize, what: &str) -> Result<Vec<u8>> {
    match plain.split_first() {
        Some((&ENCODING_RAW, rest)) => Ok(rest.to_vec()),
        Some((&ENCODING_ZSTD, rest)) => {
            let mut out = Vec::new();
            let dec = zstd::stream::read::Decoder::new(rest)
                .map_err(|e| Error::corrupt(what, format!("zstd: {e}")))?;
            use std::io::Read;
            dec.take(cap as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::corrupt(what, format!("zstd: {e}")))?;
            if out.len() > cap {
                return Err(Error::corrupt(what, "decompresses to more than allowed"));
            }
            Ok(out)
        }
        _ => Err(Error::corrupt(what, "unknown encoding")),
    }
}

/// One element of a chunk list: a stored chunk or a run of zero bytes (a hole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChunkRef {
    Id(ChunkId),
    Zero(u64),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    Chardev,
    Blockdev,
    Socket,
    Disk,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    #[serde(default)]
    pub mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub mtime: i64,
    #[serde(default)]
    pub ctime: i64,
    /// Not recorded by this version (see backup.rs); restore uses mtime when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub atime: i64,
    #[serde(default)]
    pub ino: u64,
    #[serde(default)]
    pub nlink: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    /// Inode flags (`FS_IOC_GETFLAGS`), kept to those restore sets again
    /// (`restore::KEPT_FLAGS`); 0 for none.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub flags: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u32>,
}

impl Entry {
    pub fn new(path: String, kind: EntryType) -> Self {
        Self {
            path,
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            user: None,
            group: None,
            size: 0,
            mtime: 0,
            ctime: 0,
            atime: 0,
            ino: 0,
            nlink: 0,
            chunks: Vec::new(),
            xattrs: BTreeMap::new(),
            target: None,
            link: None,
            rdev: None,
            flags: 0,
            changed: false,
            chunk_size: None,
        }
    }

    pub fn chunk_ids(&self) -> impl Iterator<Item = &ChunkId> {
        self.chunks.iter().filter_map(|c| match c {
            ChunkRef::Id(id) => Some(id),
            ChunkRef::Zero(_) => None,
        })
    }
}

fn is_zero(x: &i64) -> bool {
    *x == 0
}

fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}

/// Checks that a manifest path is relative, normal and cannot escape a target.
pub fn check_safe_path(p: &str) -> Result<()> {
    if p.is_empty()
        || p.starts_with('/')
        || crate::names::decode(p).is_none()
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::UnsafePath(p.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        for ok in ["a", "a/b", "srv/data/x.txt", "a/..b", "...x"] {
            check_safe_path(ok).unwrap();
        }
        for bad in [
            "", "/etc", "a/../b", "..", "a//b", "a/", "./a", "a/.", "x\0y",
        ] {
            assert!(check_safe_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn chunk_refs_serialize_as_hex_or_number() {
        let e = Entry {
            chunks: vec![ChunkRef::Id(ChunkId([0xab; 32])), ChunkRef::Zero(4096)],
            ..Entry::new("a".into(), EntryType::File)
        };
        let j = serde_json::to_string(&e).unwrap();
        assert!(
            j.contains(&format!("[\"{}\",4096]", "ab".repeat(32))),
            "{j}"
        );
        let back: Entry = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
    }
}
