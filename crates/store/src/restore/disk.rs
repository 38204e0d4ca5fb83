//! Restore of disk points: each disk entry becomes `<target>/<name>`,
//! sparse raw, or qcow2 through `qemu-img convert`.

use super::*;

/// Disk points: each disk entry becomes `<target>/<name>`, sparse raw, or
/// qcow2 through `qemu-img convert`.
pub(super) fn restore_disks(
    vault: &Vault,
    index: &Index,
    point: &Point,
    target: &Path,
    opts: &RestoreOptions,
    progress: Arc<Progress>,
) -> Result<RestoreReport> {
    let fmt = opts.disk_format.clone().unwrap_or_else(|| "raw".into());
    if fmt != "raw" && fmt != "qcow2" {
        return Err(Error::InvalidArgument(format!(
            "unknown disk format {fmt:?} (raw or qcow2)"
        )));
    }
    std::fs::create_dir_all(target).map_err(|e| Error::io(target.display().to_string(), e))?;
    let mut report = RestoreReport::default();
    for e in entries(vault, index, point) {
        let e = e?;
        if e.kind != EntryType::Disk {
            continue;
        }
        check_safe_path(&e.path)?;
        if e.path.contains('/') {
            return Err(Error::UnsafePath(e.path.clone()));
        }
        let out_name = disk_file_name(&e.path, &fmt);
        let out = target.join(&out_name);
        if std::fs::symlink_metadata(&out).is_ok() {
            match opts.conflict {
                Conflict::Fail => return Err(Error::TargetExists(out, "a file".into())),
                Conflict::SkipExisting => {
                    report.skipped += 1;
                    continue;
                }
                Conflict::Overwrite => std::fs::remove_file(&out)
                    .map_err(|err| Error::io(out.display().to_string(), err))?,
            }
        }
        let raw_out = if fmt == "qcow2" {
            target.join(format!(".{out_name}.partial.raw"))
        } else {
            out.clone()
        };
        write_disk_raw(vault, index, &e, &raw_out, &progress)?;
        if fmt == "qcow2" {
            let st = std::process::Command::new("qemu-img")
                .args(["convert", "-O", "qcow2"])
                .arg(&raw_out)
                .arg(&out)
                .output()
                .map_err(|err| Error::External(format!("running qemu-img: {err}")))?;
            let _ = std::fs::remove_file(&raw_out);
            if !st.status.success() {
                return Err(Error::External(format!(
                    "qemu-img convert: {}",
                    String::from_utf8_lossy(&st.stderr).trim()
                )));
            }
        }
        report.files += 1;
        report.bytes += e.size;
        report.written.push(out.display().to_string());
    }
    Ok(report)
}

/// The restored image's name: a name saying another format gets the right extension.
fn disk_file_name(name: &str, fmt: &str) -> String {
    const IMAGE_EXTS: [&str; 6] = [".raw", ".img", ".qcow2", ".vmdk", ".vhdx", ".vdi"];
    let ext = IMAGE_EXTS.iter().find(|x| name.ends_with(*x));
    match (fmt, ext) {
        ("raw", Some(&".raw" | &".img")) | ("qcow2", Some(&".qcow2")) => name.to_string(),
        (_, Some(x)) => format!("{}.{fmt}", &name[..name.len() - x.len()]),
        (_, None) if fmt == "raw" => name.to_string(),
        (_, None) => format!("{name}.{fmt}"),
    }
}

fn write_disk_raw(
    vault: &Vault,
    index: &Index,
    e: &Entry,
    out: &Path,
    progress: &Progress,
) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|err| Error::io(out.display().to_string(), err))?;
    let what = out.display().to_string();
    super::write_chunks(vault, index, e, &f, &what, |_, off| {
        progress.bytes_read.store(off, Ordering::Relaxed);
    })?;
    f.sync_all().map_err(|err| Error::io(what, err))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn disk_names() {
        use super::disk_file_name as n;
        assert_eq!(n("web.raw", "raw"), "web.raw");
        assert_eq!(n("web.raw", "qcow2"), "web.qcow2");
        assert_eq!(n("vm.qcow2", "raw"), "vm.raw");
        assert_eq!(n("vm.qcow2", "qcow2"), "vm.qcow2");
        assert_eq!(n("disk", "raw"), "disk");
        assert_eq!(n("disk", "qcow2"), "disk.qcow2");
        assert_eq!(n("a.vmdk", "raw"), "a.raw");
    }
}
