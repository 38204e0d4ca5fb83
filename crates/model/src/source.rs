//! Typed sources and restore requests: what an item protects
//! ([`Source`]) and how one of its points comes back ([`RestoreRequest`]),
//! one variant per workload. The catalog stores both as JSON and converts
//! them here, once; nothing else compares workload names as strings.
//!
//! A new workload adds one variant to each enum (and its module in
//! `lifeboat-workloads`); see docs/workloads.md.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ModelError};
use crate::item::WorkloadKind;

/// What a protected item backs up. Serialized with the workload name as
/// tag: `{"workload":"path","path":"/srv/data"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "workload", rename_all = "lowercase")]
pub enum Source {
    /// A local file or folder tree.
    Path { path: PathBuf },
    /// A disk image file (raw or qcow2).
    Disk { image: PathBuf },
}

impl Source {
    /// The workload that backs this source up.
    pub fn kind(&self) -> WorkloadKind {
        match self {
            Source::Path { .. } => WorkloadKind::Path,
            Source::Disk { .. } => WorkloadKind::Disk,
        }
    }

    /// The path the source lives at (a folder, a file or an image).
    pub fn path(&self) -> &Path {
        match self {
            Source::Path { path } => path,
            Source::Disk { image } => image,
        }
    }

    /// A source from a workload and a path, as rows before typed sources
    /// stored them (`workload` and `source` columns).
    pub fn new(kind: WorkloadKind, path: impl Into<PathBuf>) -> Source {
        let path = path.into();
        match kind {
            WorkloadKind::Path => Source::Path { path },
            WorkloadKind::Disk => Source::Disk { image: path },
        }
    }
}

impl WorkloadKind {
    /// Every workload.
    pub const ALL: [WorkloadKind; 2] = [WorkloadKind::Path, WorkloadKind::Disk];

    /// The workload's name on the wire and in the catalog (`path`, `disk`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Path => "path",
            WorkloadKind::Disk => "disk",
        }
    }

    /// The workload named `name`; `INVALID_ARGUMENT` (target `workload`)
    /// for a name no workload has.
    pub fn parse(name: &str) -> Result<WorkloadKind, ModelError> {
        WorkloadKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                ModelError::new(
                    ErrorCode::InvalidArgument,
                    "workload",
                    format!("workload must be 'path' or 'disk' (got {name:?})"),
                )
            })
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a restore does with something that already exists at the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Conflict {
    /// Replace it.
    Overwrite,
    /// Keep it, restore the rest.
    Skip,
    /// Stop with an error (the default).
    #[default]
    Fail,
}

impl Conflict {
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::Overwrite => "overwrite",
            Conflict::Skip => "skip",
            Conflict::Fail => "fail",
        }
    }
}

/// The image format a disk restore writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    #[default]
    Raw,
    Qcow2,
}

impl DiskFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

/// How a point comes back, checked: one variant per workload, tagged like
/// [`Source`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "workload", rename_all = "lowercase")]
pub enum RestoreRequest {
    /// Files under `target` (`/` for the original location); `include`
    /// narrows it to some paths (absolute, or relative to the source).
    #[serde(rename_all = "camelCase")]
    Path {
        target: PathBuf,
        #[serde(default)]
        conflict: Conflict,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        include: Vec<String>,
    },
    /// A new image file at `target`.
    #[serde(rename_all = "camelCase")]
    Disk {
        target: PathBuf,
        #[serde(default)]
        conflict: Conflict,
        #[serde(default)]
        format: DiskFormat,
    },
}

fn invalid(target: &str, message: String) -> ModelError {
    ModelError::new(ErrorCode::InvalidArgument, target, message)
}

fn parse_enum<T: for<'de> Deserialize<'de>>(
    field: &str,
    value: &str,
    allowed: &str,
) -> Result<T, ModelError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| invalid(field, format!("{field} must be {allowed} (got {value:?})")))
}

impl RestoreRequest {
    /// The workload it restores.
    pub fn kind(&self) -> WorkloadKind {
        match self {
            RestoreRequest::Path { .. } => WorkloadKind::Path,
            RestoreRequest::Disk { .. } => WorkloadKind::Disk,
        }
    }

    pub fn conflict(&self) -> Conflict {
        match self {
            RestoreRequest::Path { conflict, .. } | RestoreRequest::Disk { conflict, .. } => {
                *conflict
            }
        }
    }

    /// Checks a restore as the API spells it (`target`, `conflict`,
    /// `include`, `format`; the stored form of jobs before typed requests
    /// too) for an item of workload `kind`. Refusals are
    /// `INVALID_ARGUMENT` with the field as target.
    pub fn from_parts(
        kind: WorkloadKind,
        target: &str,
        conflict: Option<&str>,
        include: &[String],
        format: Option<&str>,
    ) -> Result<RestoreRequest, ModelError> {
        let conflict: Conflict = match conflict {
            None => Conflict::Fail,
            Some(c) => parse_enum("conflict", c, "overwrite, skip or fail")?,
        };
        match kind {
            WorkloadKind::Path => {
                if format.is_some() {
                    return Err(invalid(
                        "format",
                        "format applies to disk items only".into(),
                    ));
                }
                let target = if target == "original" {
                    PathBuf::from("/")
                } else if target.starts_with('/') {
                    PathBuf::from(target)
                } else {
                    return Err(invalid(
                        "target",
                        format!("target must be \"original\" or an absolute path (got {target:?})"),
                    ));
                };
                for (i, inc) in include.iter().enumerate() {
                    if inc.trim_matches('/').is_empty() || inc.split('/').any(|c| c == "..") {
                        return Err(invalid(
                            &format!("include[{i}]"),
                            format!(
                                "include paths must name something inside the item (got {inc:?})"
                            ),
                        ));
                    }
                }
                Ok(RestoreRequest::Path {
                    target,
                    conflict,
                    include: include.to_vec(),
                })
            }
            WorkloadKind::Disk => {
                if !target.starts_with('/') || target.ends_with('/') {
                    return Err(invalid(
                        "target",
                        format!(
                            "a disk item restores to a new image file: give its absolute path (got {target:?})"
                        ),
                    ));
                }
                if !include.is_empty() {
                    return Err(invalid(
                        "include",
                        "include applies to path items only".into(),
                    ));
                }
                let format: DiskFormat = match format {
                    None => DiskFormat::Raw,
                    Some(f) => parse_enum("format", f, "raw or qcow2")?,
                };
                Ok(RestoreRequest::Disk {
                    target: PathBuf::from(target),
                    conflict,
                    format,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn source_json_round_trip() {
        let s = Source::new(WorkloadKind::Path, "/srv/data");
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, json!({"workload": "path", "path": "/srv/data"}));
        assert_eq!(serde_json::from_value::<Source>(v).unwrap(), s);
        let d = Source::new(WorkloadKind::Disk, "/img/a.qcow2");
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v, json!({"workload": "disk", "image": "/img/a.qcow2"}));
        assert_eq!(serde_json::from_value::<Source>(v).unwrap(), d);
        assert_eq!(d.kind(), WorkloadKind::Disk);
        assert_eq!(d.path(), Path::new("/img/a.qcow2"));
        assert!(serde_json::from_value::<Source>(json!({"workload": "vm", "path": "/x"})).is_err());
    }

    #[test]
    fn workload_names() {
        for k in WorkloadKind::ALL {
            assert_eq!(WorkloadKind::parse(k.as_str()).unwrap(), k);
            // The name matches the serde name the wire uses.
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        let e = WorkloadKind::parse("vm").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(e.target(), "workload");
    }

    #[test]
    fn restore_requests_checked() {
        let r =
            RestoreRequest::from_parts(WorkloadKind::Path, "original", None, &[], None).unwrap();
        assert_eq!(
            r,
            RestoreRequest::Path {
                target: "/".into(),
                conflict: Conflict::Fail,
                include: vec![]
            }
        );
        let r = RestoreRequest::from_parts(
            WorkloadKind::Disk,
            "/r/new.qcow2",
            Some("overwrite"),
            &[],
            Some("qcow2"),
        )
        .unwrap();
        assert_eq!(r.conflict(), Conflict::Overwrite);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"workload": "disk", "target": "/r/new.qcow2", "conflict": "overwrite", "format": "qcow2"})
        );
        assert_eq!(serde_json::from_value::<RestoreRequest>(v).unwrap(), r);
        let bad = |kind, target: &str, conflict: Option<&str>, include: &[&str], format| {
            let inc: Vec<String> = include.iter().map(|s| s.to_string()).collect();
            RestoreRequest::from_parts(kind, target, conflict, &inc, format)
                .unwrap_err()
                .target()
                .to_string()
        };
        use WorkloadKind::{Disk, Path as P};
        assert_eq!(bad(P, "rel", None, &[], None), "target");
        assert_eq!(bad(P, "/", Some("merge"), &[], None), "conflict");
        assert_eq!(bad(P, "/", None, &["a/../b"], None), "include[0]");
        assert_eq!(bad(P, "/", None, &["ok", "/"], None), "include[1]");
        assert_eq!(bad(P, "/", None, &[], Some("raw")), "format");
        assert_eq!(bad(Disk, "/dir/", None, &[], None), "target");
        assert_eq!(bad(Disk, "/a.raw", None, &["x"], None), "include");
        assert_eq!(bad(Disk, "/a.raw", None, &[], Some("vmdk")), "format");
    }
}
