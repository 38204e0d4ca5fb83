//! Newtype ids so that a chunk id, a pack id and a point id cannot be mixed up.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
            pub fn from_hex(s: &str) -> Result<Self> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|_| {
                    Error::InvalidArgument(format!("{s:?} is not a 64-digit hex id"))
                })?;
                Ok(Self(out))
            }
            pub fn from_slice(b: &[u8]) -> Self {
                let mut out = [0u8; 32];
                out.copy_from_slice(&b[..32]);
                Self(out)
            }
            /// Id of an object named after the unkeyed BLAKE3 of its bytes.
            pub fn of_bytes(bytes: &[u8]) -> Self {
                Self(*blake3::hash(bytes).as_bytes())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(
    /// Keyed BLAKE3 of a chunk's plaintext.
    ChunkId
);
define_id!(
    /// Unkeyed BLAKE3 of a pack file.
    PackId
);
define_id!(
    /// Unkeyed BLAKE3 of an index segment object.
    SegmentId
);
define_id!(
    /// Unkeyed BLAKE3 of a point manifest object.
    PointId
);
define_id!(
    /// Unkeyed BLAKE3 of a key slot object.
    KeyId
);

/// Random 16-byte id of a writer lease.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct LeaseId(pub [u8; 16]);

impl LeaseId {
    pub fn random() -> Self {
        Self(crate::crypto::random_array())
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}
