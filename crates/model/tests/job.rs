//! Jobs: every status pair, cancel, sub-tasks, progress, ETA, durations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use lifeboat_model::ErrorCode;
use lifeboat_model::job::{
    Job, JobErrorDetail, JobId, JobStatus, JobType, Progress, TaskStatus, iso8601_duration,
};

use JobStatus::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 9, 22, 0, 0).unwrap()
}

fn job(op: JobType) -> Job {
    Job::new(JobId("j1".into()), op, "srv-data", t0())
}

#[test]
fn every_status_pair() {
    let allowed = [
        (Queued, InProgress),
        (Queued, Cancelled),
        (Queued, Failed),
        (InProgress, Completed),
        (InProgress, CompletedWithWarnings),
        (InProgress, Failed),
        (InProgress, Cancelling),
        (Cancelling, Cancelled),
        (Cancelling, Completed),
        (Cancelling, CompletedWithWarnings),
        (Cancelling, Failed),
    ];
    for from in JobStatus::ALL {
        assert_eq!(
            from.is_terminal(),
            matches!(from, Completed | CompletedWithWarnings | Failed | Cancelled)
        );
        for to in JobStatus::ALL {
            let ok = allowed.contains(&(from, to));
            assert_eq!(from.can_transition_to(to), ok, "{from:?} -> {to:?}");
            if from.is_terminal() {
                assert!(!ok);
            }
        }
    }
}

#[test]
fn transitions_set_times_and_close_tasks() {
    let mut j = job(JobType::Backup);
    assert_eq!(j.status, Queued);
    let names: Vec<&str> = j.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(names, ["Take Snapshot", "Transfer data to vault"]);
    assert_eq!(
        j.queue_age(t0() + Duration::seconds(90)),
        Some(Duration::seconds(90))
    );
    assert_eq!(j.duration(t0()), None);

    let start = t0() + Duration::seconds(90);
    j.transition(InProgress, start).unwrap();
    assert_eq!(j.start_time, Some(start));
    assert_eq!(j.queue_age(start), None);
    j.start_task(0, start).unwrap();
    j.finish_task(0, TaskStatus::Completed, start + Duration::seconds(5))
        .unwrap();
    assert_eq!(
        j.tasks[0].duration(start + Duration::hours(1)),
        Some(Duration::seconds(5))
    );
    j.start_task(1, start + Duration::seconds(5)).unwrap();
    assert!(j.start_task(1, start).is_err(), "already running");
    assert!(
        j.finish_task(0, TaskStatus::Completed, start).is_err(),
        "already done"
    );
    let e = j.start_task(7, start).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidJobState);

    j.warnings.push(JobErrorDetail {
        error_code: "FILE_CHANGED".into(),
        error_string: "a file changed while it was read".into(),
        recommendations: vec![],
    });
    let end = start + Duration::milliseconds(9870);
    j.complete(end).unwrap();
    assert_eq!(j.status, CompletedWithWarnings);
    assert_eq!(j.end_time, Some(end));
    assert_eq!(j.tasks[1].status, TaskStatus::Completed);
    assert_eq!(j.tasks[1].end_time, Some(end));
    assert_eq!(
        iso8601_duration(j.duration(end + Duration::days(1)).unwrap()),
        "PT9.87S"
    );
    let e = j.transition(InProgress, end).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidJobState);
    assert_eq!(e.target(), "status");
}

#[test]
fn failure_marks_running_task_failed_and_skips_the_rest() {
    let mut j = job(JobType::Backup);
    j.transition(InProgress, t0()).unwrap();
    j.start_task(0, t0()).unwrap();
    j.fail(
        JobErrorDetail {
            error_code: "SOURCE_UNREADABLE".into(),
            error_string: "permission denied".into(),
            recommendations: vec!["grant read access".into()],
        },
        t0() + Duration::seconds(1),
    )
    .unwrap();
    assert_eq!(j.status, Failed);
    assert_eq!(j.tasks[0].status, TaskStatus::Failed);
    assert_eq!(j.tasks[1].status, TaskStatus::Skipped);
    assert_eq!(j.error_details[0].error_code, "SOURCE_UNREADABLE");
    let v = serde_json::to_value(&j).unwrap();
    assert_eq!(v["operation"], "Backup");
    assert_eq!(v["status"], "Failed");
    assert_eq!(v["errorDetails"][0]["errorCode"], "SOURCE_UNREADABLE");
    assert_eq!(v["tasks"][1]["taskId"], "Transfer data to vault");
    assert_eq!(serde_json::from_value::<Job>(v).unwrap(), j);
    let mut ok = job(JobType::Restore);
    ok.transition(InProgress, t0()).unwrap();
    ok.complete(t0()).unwrap();
    assert_eq!(ok.status, Completed);
    assert_eq!(ok.tasks[0].status, TaskStatus::Skipped);
}

#[test]
fn cancel_for_every_type_and_status() {
    for op in JobType::ALL {
        // Queued: cancelled at once.
        let mut j = job(op);
        assert_eq!(j.request_cancel(t0()).unwrap(), Cancelled);
        assert_eq!(j.end_time, Some(t0()));
        assert_eq!(j.duration(t0()), None, "never started");
        assert!(j.request_cancel(t0()).is_err(), "already ended");
        // Running.
        let mut j = job(op);
        j.transition(InProgress, t0()).unwrap();
        let r = j.request_cancel(t0());
        if op == JobType::DeleteBackupData {
            assert_eq!(r.unwrap_err().code(), ErrorCode::InvalidJobState);
            assert_eq!(j.status, InProgress);
        } else {
            assert_eq!(r.unwrap(), Cancelling);
            assert_eq!(j.request_cancel(t0()).unwrap(), Cancelling, "idempotent");
            j.start_task(0, t0()).unwrap();
            j.transition(Cancelled, t0() + Duration::seconds(3))
                .unwrap();
            assert_eq!(j.tasks[0].status, TaskStatus::Cancelled);
        }
    }
}

#[test]
fn percent_by_bytes_then_files() {
    let p = |bd, bt, fd, ft| Progress {
        bytes_done: bd,
        bytes_total: bt,
        files_done: fd,
        files_total: ft,
    };
    assert_eq!(p(0, None, 0, None).percent(), None);
    assert_eq!(p(50, Some(200), 1, Some(2)).percent(), Some(25.0));
    assert_eq!(p(50, None, 1, Some(4)).percent(), Some(25.0));
    assert_eq!(p(300, Some(200), 0, None).percent(), Some(100.0), "clamped");
    assert_eq!(
        p(0, Some(0), 0, None).percent(),
        Some(100.0),
        "empty source"
    );
    assert_eq!(p(0, None, 0, Some(0)).percent(), Some(100.0));
}

#[test]
fn eta_from_average_rate() {
    let p = Progress {
        bytes_done: 250,
        bytes_total: Some(1000),
        files_done: 0,
        files_total: None,
    };
    assert_eq!(p.eta(Duration::seconds(10)), Some(Duration::seconds(30)));
    assert_eq!(p.eta(Duration::zero()), None);
    let none = Progress {
        bytes_total: None,
        ..p
    };
    assert_eq!(none.eta(Duration::seconds(10)), None);
    let zero = Progress { bytes_done: 0, ..p };
    assert_eq!(zero.eta(Duration::seconds(10)), None);
    let done = Progress {
        bytes_done: 1000,
        ..p
    };
    assert_eq!(done.eta(Duration::seconds(10)), Some(Duration::zero()));

    let mut j = job(JobType::Backup);
    j.progress = p;
    assert_eq!(j.eta(t0()), None, "queued");
    j.transition(InProgress, t0()).unwrap();
    assert_eq!(
        j.eta(t0() + Duration::seconds(20)),
        Some(Duration::seconds(60))
    );
    j.complete(t0() + Duration::seconds(20)).unwrap();
    assert_eq!(j.eta(t0() + Duration::seconds(20)), None, "ended");
}

#[test]
fn iso8601_durations() {
    for (d, s) in [
        (Duration::zero(), "PT0S"),
        (Duration::milliseconds(9870), "PT9.87S"),
        (Duration::milliseconds(500), "PT0.5S"),
        (Duration::milliseconds(1), "PT0.001S"),
        (Duration::seconds(60), "PT1M"),
        (Duration::seconds(3600), "PT1H"),
        (Duration::seconds(3723), "PT1H2M3S"),
        (Duration::seconds(3603), "PT1H3S"),
        (Duration::days(2), "PT48H"),
        (Duration::seconds(-5), "PT0S"),
    ] {
        assert_eq!(iso8601_duration(d), s, "{d:?}");
    }
}
