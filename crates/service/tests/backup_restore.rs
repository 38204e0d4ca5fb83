//! On-demand backups through the service and restores that give back the
//! same bytes: a folder (to an alternate path, to the original location
//! over damaged files, a subset, skip on conflict) and a raw disk image
//! (to a new raw image and to qcow2). Invalid restore requests are refused
//! with stable codes.

mod support;

#[allow(unused_imports)]
use lifeboat_model::job::JobStatus;
use lifeboat_service::Clock;

use std::path::Path;

use chrono::TimeDelta;
use lifeboat_service::ops;
use support::{Env, pseudo_random, restore_req as req, snapshot};

/// An on-demand backup that completed with both of its tasks; its point.
async fn backup_now(
    env: &Env,
    h: &lifeboat_service::ServiceHandle,
    item: &lifeboat_catalog::Item,
) -> lifeboat_catalog::Point {
    let (done, point) = env.backup_now(h, item).await;
    assert_eq!(done.tasks[0]["taskId"], "Take Snapshot");
    assert_eq!(done.tasks[1]["taskId"], "Transfer data to vault");
    assert_eq!(done.tasks[1]["status"], "Completed");
    assert_eq!(done.progress["percent"], 100.0);
    point
}

both!(folder_round_trip, "2026-05-01T12:00:00Z", |env| {
    let (src, _v, item) = env.protected_tree("src", 7, "files", "docs").await;
    let h = env.start().await;

    let p1 = backup_now(&env, &h, &item).await;
    assert_eq!(p1.rule_tags, ["on-demand"]);
    assert_eq!(p1.expiry, Some(env.clock.now() + TimeDelta::days(30)));
    assert_eq!(p1.retain_until, p1.expiry);
    assert_eq!(p1.slot_key, None);
    let item_now = env.catalog.get_item_by_id(item.id).await.unwrap();
    assert_eq!(item_now.last_backup_status.as_deref(), Some("Healthy"));
    assert!(item_now.last_backup_time.is_some());

    // Alternate location: the tree lands under its original path.
    let alt = env.data().join("alt");
    let j = env
        .restore(
            &h,
            &item,
            &req(&p1.store_id, alt.to_str().unwrap(), None, &[]),
        )
        .await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(j.tasks[0]["taskId"], "Transfer data from vault");
    let restored = alt.join(src.strip_prefix("/").unwrap());
    assert_eq!(snapshot(&restored), snapshot(&src));

    // A second backup after a change; restore the first over damage.
    std::fs::write(src.join("a.txt"), "changed\n").unwrap();
    std::fs::write(src.join("new.txt"), "new\n").unwrap();
    let before = snapshot(&src);
    let p2 = backup_now(&env, &h, &item).await;
    assert_ne!(p1.store_id, p2.store_id);
    std::fs::write(src.join("sub/b.bin"), b"damaged").unwrap();
    std::fs::remove_file(src.join("sub/deeper/c.txt")).unwrap();
    let j = env
        .restore(
            &h,
            &item,
            &req(&p2.store_id, "original", Some("overwrite"), &[]),
        )
        .await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(snapshot(&src), before);

    // Conflict fail: refuses to touch an existing file.
    let j = env
        .restore(&h, &item, &req(&p1.store_id, "original", None, &[]))
        .await;
    assert_eq!(j.state, JobStatus::Failed);
    assert_eq!(j.errors[0]["errorCode"], "TARGET_EXISTS");
    assert_eq!(snapshot(&src), before);

    // A subset, relative to the item's source, with skip.
    let sub = env.data().join("subset");
    let j = env
        .restore(
            &h,
            &item,
            &req(
                &p1.store_id,
                sub.to_str().unwrap(),
                Some("skip"),
                &["sub/deeper"],
            ),
        )
        .await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    let got = snapshot(&sub);
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    assert!(got[0].0.ends_with("sub/deeper/c.txt"));
    assert_eq!(got[0].1, "gamma\n".repeat(1000).into_bytes());

    // Refusals with stable codes.
    let bad = |target: &str, conflict: Option<&str>| req(&p1.store_id, target, conflict, &[]);
    let e = ops::enqueue_restore(
        &env.catalog,
        env.clock.as_ref(),
        &item,
        &bad("relative/dir", None),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code().as_str(), e.target()),
        ("INVALID_ARGUMENT", Some("target"))
    );
    let e = ops::enqueue_restore(
        &env.catalog,
        env.clock.as_ref(),
        &item,
        &bad("/x", Some("merge")),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code().as_str(), e.target()),
        ("INVALID_ARGUMENT", Some("conflict"))
    );
    let e = ops::enqueue_restore(
        &env.catalog,
        env.clock.as_ref(),
        &item,
        &req(&"0".repeat(64), "/x", None, &[]),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "POINT_NOT_FOUND");
    let e = ops::enqueue_backup_now(
        &env.catalog,
        env.clock.as_ref(),
        &item,
        Some(env.clock.now() - TimeDelta::hours(1)),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code().as_str(), e.target()),
        ("INVALID_ARGUMENT", Some("retainUntil"))
    );
    h.shutdown(std::time::Duration::from_secs(10)).await;
});

fn qemu_img_to_raw(src: &Path, dst: &Path) {
    let st = std::process::Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(src)
        .arg(dst)
        .status()
        .expect("qemu-img runs");
    assert!(st.success());
}

both!(disk_round_trip, "2026-05-01T12:00:00Z", |env| {
    let img = env.data().join("disk.raw");
    // 4 MiB with data, zeros and a hole.
    let mut bytes = pseudo_random(1 << 20, 11);
    bytes.extend(vec![0u8; 1 << 20]);
    bytes.extend(pseudo_random(1 << 20, 12));
    std::fs::write(&img, &bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let v = env.daily_vault("disks").await;
    let item = env.item(&v, "vm-disk", "disk", &img, "P").await;
    let h = env.start().await;
    let p = backup_now(&env, &h, &item).await;
    assert_eq!(p.consistency, "crash");
    assert_eq!(p.size, 4 << 20);

    let out = env.data().join("restored/new.raw");
    let mut r = req(&p.store_id, out.to_str().unwrap(), None, &[]);
    let j = env.restore(&h, &item, &r).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&img).unwrap());
    // No staging folder is left behind.
    let left: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);

    // The target exists now: fail, skip, overwrite.
    let j = env.restore(&h, &item, &r).await;
    assert_eq!(j.state, JobStatus::Failed);
    assert_eq!(j.errors[0]["errorCode"], "TARGET_EXISTS");
    r.conflict = Some("skip".into());
    let j = env.restore(&h, &item, &r).await;
    assert_eq!(j.state, JobStatus::CompletedWithWarnings);
    std::fs::write(&out, b"junk").unwrap();
    r.conflict = Some("overwrite".into());
    let j = env.restore(&h, &item, &r).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&img).unwrap());

    // qcow2.
    let q = env.data().join("restored/new.qcow2");
    let mut rq = req(&p.store_id, q.to_str().unwrap(), None, &[]);
    rq.format = Some("qcow2".into());
    let j = env.restore(&h, &item, &rq).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    let back = env.data().join("back.raw");
    qemu_img_to_raw(&q, &back);
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&img).unwrap());

    let mut bad = req(&p.store_id, "original", None, &[]);
    let e = ops::enqueue_restore(&env.catalog, env.clock.as_ref(), &item, &bad)
        .await
        .unwrap_err();
    assert_eq!(e.target(), Some("target"));
    bad.target = "/tmp/x.img".into();
    bad.format = Some("vmdk".into());
    let e = ops::enqueue_restore(&env.catalog, env.clock.as_ref(), &item, &bad)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code().as_str(), e.target()),
        ("INVALID_ARGUMENT", Some("format"))
    );
    h.shutdown(std::time::Duration::from_secs(10)).await;
});
