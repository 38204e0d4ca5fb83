//! Wire names of the model's enums: the one place a state, job type or
//! status becomes text and back (the catalog's columns, metrics labels).
//! Each name is the enum's serde name; a test checks that they agree.

use std::fmt;

/// A name that is not one of an enum's (a row written by a newer server,
/// or edited by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a known {}", self.name, self.kind)
    }
}

impl std::error::Error for UnknownName {}

/// `as_str`, `FromStr`, `TryFrom<String>` and `Display` for a fieldless
/// enum, from its variants and their names.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: [$ty; <[&str]>::len(&[$($name),+])] = [$($ty::$variant),+];

            /// The value's name on the wire and in the catalog.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::names::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err($crate::names::UnknownName {
                        kind: stringify!($ty),
                        name: s.to_owned(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::names::UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

use crate::item::{HealthStatus, LastBackupStatus, ProtectionState};
use crate::job::{JobStatus, JobType};

wire_names!(JobType {
    Backup => "Backup",
    Restore => "Restore",
    DeleteBackupData => "DeleteBackupData",
    ExpirySweep => "ExpirySweep",
    GarbageCollection => "GarbageCollection",
});

wire_names!(JobStatus {
    Queued => "Queued",
    InProgress => "InProgress",
    Completed => "Completed",
    CompletedWithWarnings => "CompletedWithWarnings",
    Failed => "Failed",
    Cancelling => "Cancelling",
    Cancelled => "Cancelled",
});

wire_names!(ProtectionState {
    Protected => "Protected",
    ProtectionStopped => "ProtectionStopped",
    BackupsSuspended => "BackupsSuspended",
    ProtectionError => "ProtectionError",
    SoftDeleted => "SoftDeleted",
});

wire_names!(HealthStatus {
    Passed => "Passed",
    ActionRequired => "ActionRequired",
    ActionSuggested => "ActionSuggested",
});

wire_names!(LastBackupStatus {
    Healthy => "Healthy",
    Unhealthy => "Unhealthy",
    IrPending => "IRPending",
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::str::FromStr;

    fn agrees<T>(values: &[T])
    where
        T: Copy + Serialize + FromStr<Err = UnknownName> + PartialEq + std::fmt::Debug,
        T: std::fmt::Display,
    {
        for v in values {
            let serde_name = serde_json::to_value(v).unwrap();
            assert_eq!(serde_name.as_str(), Some(v.to_string().as_str()), "{v:?}");
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
        let e = "NoSuchName".parse::<T>().unwrap_err();
        assert_eq!(e.name, "NoSuchName");
    }

    #[test]
    fn wire_names_are_the_serde_names_and_parse_back() {
        agrees(&JobType::ALL);
        agrees(&JobStatus::ALL);
        agrees(&ProtectionState::ALL);
        agrees(&HealthStatus::ALL);
        agrees(&LastBackupStatus::ALL);
        assert_eq!(JobType::ALL.len(), 5);
        assert_eq!(JobStatus::ALL.len(), 7);
        assert_eq!(ProtectionState::ALL.len(), 5);
        assert_eq!(LastBackupStatus::ALL.len(), 3);
    }
}
