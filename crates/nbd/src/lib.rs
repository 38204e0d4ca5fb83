//! # lifeboat-nbd: reading disk images in place over NBD
//!
//! This crate owns Lifeboat's NBD client and its use of `qemu-nbd`: the
//! fixed-newstyle handshake with structured replies and metadata contexts
//! (`base:allocation`, `qemu:dirty-bitmap:NAME`), reads and block-status
//! queries ([`client`]), running `qemu-nbd` read-only on a private unix
//! socket for one image ([`qemu`]), and [`NbdBlockSource`], the
//! `lifeboat_store::blocks::BlockSource` a disk backup reads a qcow2 (or
//! any other qemu format) through, with no temporary copy. See
//! docs/disk-images.md.
//!
//! The client is written here because no maintained Rust crate implements
//! an NBD *client* with structured replies and block status (the crates
//! that exist are servers, or clients of the old simple-reply protocol for
//! the kernel's driver); the protocol is small and every byte of it is
//! checked below.
//!
//! ## Design notes
//!
//! - **Bounded and panic-free on any input.** Every parser works on any
//!   `Read`, refuses lengths past the bounds in [`proto`], and checks that
//!   chunks stay inside their request; after a violation the connection is
//!   not used again. `fuzz/fuzz_targets/nbd_reply.rs` feeds them bytes.
//! - **One request in flight.** Simple and enough for sequential backup
//!   reads; replies are matched by cookie all the same.
//! - **The export dies with us.** `qemu-nbd` runs without `--persistent`
//!   and for one client, so it exits when the connection closes, even if
//!   Lifeboat is killed; dropping the export reaps it and removes its
//!   folder.

pub mod client;
pub mod error;
pub mod handshake;
pub mod proto;
pub mod qemu;
pub mod reply;
pub mod source;

use std::path::{Path, PathBuf};

pub use client::NbdClient;
pub use error::{Error, Result};
pub use qemu::{ExportOptions, ImageFormat, QemuNbdExport, detect_format};
pub use source::NbdBlockSource;

/// An image opened for a backup: a raw file (read directly, it is its own
/// block device) or an NBD source for anything qemu has to interpret.
pub enum OpenedImage {
    Raw(PathBuf),
    Nbd(NbdBlockSource),
}

/// Opens `image` for reading: raw images (and images when qemu-img is not
/// installed) come back as their path, everything else as an
/// [`NbdBlockSource`] over a fresh read-only qemu-nbd export.
pub fn open_image(image: &Path, opts: &ExportOptions) -> Result<OpenedImage> {
    let format = match &opts.format {
        Some(f) => f.clone(),
        None => detect_format(image)?,
    };
    // A raw image has no bitmap: an asked-for bitmap needs qemu.
    if format.is_raw() && opts.bitmap.is_none() {
        return Ok(OpenedImage::Raw(image.to_path_buf()));
    }
    let opts = ExportOptions {
        format: Some(format),
        ..opts.clone()
    };
    Ok(OpenedImage::Nbd(NbdBlockSource::open(image, &opts)?))
}
