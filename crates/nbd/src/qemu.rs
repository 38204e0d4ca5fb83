//! Running `qemu-nbd` for one image: a read-only export on a unix socket in
//! a private temporary folder, gone (process reaped, folder removed) when
//! the [`QemuNbdExport`] is dropped. Also the format probe (`qemu-img info`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long qemu-nbd may take to open the image and listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The image format as `qemu-img info` names it (`raw`, `qcow2`, `vmdk`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFormat(pub String);

impl ImageFormat {
    pub fn is_raw(&self) -> bool {
        self.0 == "raw"
    }
}

/// Asks `qemu-img info` for the format. `-U` (force share) because this
/// reads only the header and must work while a VM holds the image; the
/// export itself decides on sharing separately. Without qemu-img at all
/// every image is raw, as before.
pub fn detect_format(image: &Path) -> Result<ImageFormat> {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(image)
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ImageFormat("raw".into()));
        }
        Err(e) => return Err(Error::Qemu(format!("running qemu-img info: {e}"))),
    };
    if !out.status.success() {
        return Err(Error::Qemu(format!(
            "qemu-img info {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Qemu(format!("qemu-img info {}: {e}", image.display())))?;
    let f = v
        .get("format")
        .and_then(|f| f.as_str())
        .ok_or_else(|| Error::Qemu(format!("qemu-img info {}: no format", image.display())))?;
    // The format goes into an option string: accept only plain names.
    if f.is_empty()
        || !f
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Qemu(format!("qemu-img info reports format {f:?}")));
    }
    Ok(ImageFormat(f.to_string()))
}

/// How to export an image.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Format; `None` asks `qemu-img info`.
    pub format: Option<ImageFormat>,
    /// Read even when another process (a running VM) holds the image's
    /// write lock. The data may then be inconsistent; off by default.
    pub force_share: bool,
    /// A persistent dirty bitmap of the image to export as
    /// `qemu:dirty-bitmap:NAME`.
    pub bitmap: Option<String>,
}

/// A running `qemu-nbd` serving one image read-only on a private socket.
pub struct QemuNbdExport {
    child: Option<Child>,
    socket: PathBuf,
    format: ImageFormat,
    bitmap: Option<String>,
    // Removed last, after the process is gone.
    dir: tempfile::TempDir,
}

/// qemu option strings separate with commas; a comma in a value is doubled.
fn opt_escape(s: &str) -> String {
    s.replace(',', ",,")
}

impl QemuNbdExport {
    /// Starts qemu-nbd for `image` and waits until it listens.
    pub fn start(image: &Path, opts: &ExportOptions) -> Result<Self> {
        let format = match &opts.format {
            Some(f) => f.clone(),
            None => detect_format(image)?,
        };
        let abs = std::path::absolute(image)
            .map_err(|e| Error::io(format!("resolving {}", image.display()), e))?;
        let path = abs
            .to_str()
            .ok_or_else(|| Error::Qemu(format!("{} is not valid UTF-8", abs.display())))?;
        if let Some(b) = &opts.bitmap
            && (b.is_empty() || b.len() > 1023 || b.contains(['\0', '\n']))
        {
            return Err(Error::Range(format!("bitmap name {b:?} is not usable")));
        }
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-nbd-")
            .tempdir()
            .map_err(|e| Error::io("creating the NBD socket folder", e))?;
        let socket = dir.path().join("nbd.sock");
        let log = dir.path().join("qemu-nbd.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        // --image-opts: the file name is taken as a file name (never as a
        // protocol such as `nbd:`), and force-share can be set.
        let mut spec = format!(
            "driver={},read-only=on,file.driver=file,file.filename={}",
            format.0,
            opt_escape(path)
        );
        if opts.force_share {
            spec.push_str(",force-share=on");
        }
        let mut cmd = Command::new("qemu-nbd");
        cmd.args(["--read-only", "--shared=1", "--image-opts"])
            .arg("--socket")
            .arg(&socket);
        if let Some(b) = &opts.bitmap {
            cmd.arg("--bitmap").arg(b);
        }
        cmd.arg(&spec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = cmd
            .spawn()
            .map_err(|e| Error::Qemu(format!("running qemu-nbd: {e}")))?;
        let mut export = QemuNbdExport {
            child: Some(child),
            socket,
            format,
            bitmap: opts.bitmap.clone(),
            dir,
        };
        export.wait_listening(&abs, &log)?;
        Ok(export)
    }

    fn wait_listening(&mut self, image: &Path, log: &Path) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.socket.exists() {
                return Ok(());
            }
            let Some(child) = self.child.as_mut() else {
                return Err(Error::Qemu("qemu-nbd is not running".into()));
            };
            if let Some(st) = child
                .try_wait()
                .map_err(|e| Error::io("waiting for qemu-nbd", e))?
            {
                self.child = None;
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let text = text.trim();
                if text.contains("lock") {
                    return Err(Error::ImageLocked {
                        image: image.display().to_string(),
                        detail: text.to_string(),
                    });
                }
                return Err(Error::Qemu(format!(
                    "qemu-nbd for {} exited ({st}): {text}",
                    image.display()
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Error::Qemu(format!(
                    "qemu-nbd for {} did not listen within {} s",
                    image.display(),
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// If qemu-nbd has exited, what it said (after a failed connection).
    pub fn exit_error(&mut self) -> Option<Error> {
        std::thread::sleep(Duration::from_millis(50));
        let st = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        let text =
            std::fs::read_to_string(self.dir.path().join("qemu-nbd.log")).unwrap_or_default();
        Some(Error::Qemu(format!(
            "qemu-nbd exited ({st}): {}",
            text.trim()
        )))
    }

    /// The unix socket the export listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn format(&self) -> &ImageFormat {
        &self.format
    }

    /// The bitmap exported, if one was asked for.
    pub fn bitmap(&self) -> Option<&str> {
        self.bitmap.as_deref()
    }

    /// The private folder holding the socket (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for QemuNbdExport {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // After our disconnect qemu-nbd exits by itself (it is not
        // --persistent); give it a moment, then stop it.
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
