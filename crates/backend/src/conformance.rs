//! The conformance suite every backend must pass before a vault may live
//! on it. It works under a fresh random prefix of the backend it is given
//! and removes what it wrote, so it can run against a shared bucket.
//!
//! ```ignore
//! let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir));
//! lifeboat_backend::conformance::run(backend).expect("conforms");
//! ```

use std::sync::{Arc, Barrier};

use crate::error::{BackendErrorKind, BackendResult, Op};
use crate::fault::{Fault, FaultAction, FaultBackend};
use crate::{Backend, LIST_PAGE, RetryPolicy, Retrying};

/// The first check that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub check: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "backend conformance check `{}` failed: {}",
            self.check, self.detail
        )
    }
}

impl std::error::Error for Failure {}

type Check = Result<(), Failure>;

/// One named check of the suite.
type CheckFn = fn(&Arc<dyn Backend>, &str) -> Check;

fn ensure(ok: bool, check: &'static str, detail: impl FnOnce() -> String) -> Check {
    if ok {
        Ok(())
    } else {
        Err(Failure {
            check,
            detail: detail(),
        })
    }
}

fn call<T>(check: &'static str, r: crate::BackendResult<T>) -> Result<T, Failure> {
    r.map_err(|e| Failure {
        check,
        detail: format!("unexpected error: {e}"),
    })
}

/// Runs every check; returns the names of the checks passed.
pub fn run(backend: Arc<dyn Backend>) -> Result<Vec<&'static str>, Failure> {
    let mut rand = [0u8; 8];
    getrandom::fill(&mut rand).map_err(|e| Failure {
        check: "setup",
        detail: e.to_string(),
    })?;
    let root = format!("conformance-{}/", hex::encode(rand));
    let checks: [(&'static str, CheckFn); 7] = [
        ("put_if_absent", put_if_absent),
        ("put_if_absent_race", put_if_absent_race),
        ("get", get),
        ("get_range", get_range),
        ("paged_list", paged_list),
        ("delete", delete),
        ("transient_retried", transient_retried),
    ];
    let mut passed = Vec::new();
    let mut result = Ok(());
    for (name, check) in checks {
        if let Err(f) = check(&backend, &root) {
            result = Err(f);
            break;
        }
        passed.push(name);
    }
    // Clean up whatever happened above.
    if let Ok(left) = backend.list(&root) {
        for o in left {
            let _ = backend.delete(&o.name);
        }
    }
    result.map(|()| passed)
}

fn put_if_absent(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "put_if_absent";
    let n = format!("{root}put/a");
    ensure(!call(C, b.exists(&n))?, C, || {
        "exists before the put".into()
    })?;
    ensure(call(C, b.put_if_absent(&n, b"first"))?, C, || {
        "the first put answered `exists`".into()
    })?;
    ensure(!call(C, b.put_if_absent(&n, b"second"))?, C, || {
        "a second put of the same name answered `stored`".into()
    })?;
    ensure(call(C, b.get(&n))? == b"first", C, || {
        "a refused put changed the object".into()
    })?;
    ensure(call(C, b.exists(&n))?, C, || {
        "exists is false after a put".into()
    })?;
    // An empty object is an object.
    let e = format!("{root}put/empty");
    ensure(call(C, b.put_if_absent(&e, b""))?, C, || {
        "empty put refused".into()
    })?;
    ensure(call(C, b.get(&e))?.is_empty(), C, || {
        "empty object not empty".into()
    })
}

fn put_if_absent_race(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "put_if_absent_race";
    const WRITERS: usize = 8;
    for round in 0..4 {
        let name = format!("{root}race/{round}");
        let barrier = Barrier::new(WRITERS);
        // Large enough that writes overlap in time; each writer's bytes differ.
        let payload = |w: usize| -> Vec<u8> {
            (0..256 * 1024)
                .map(|i| (i as u8) ^ (w as u8).wrapping_mul(37).wrapping_add(1))
                .collect()
        };
        let answers: Vec<(usize, crate::BackendResult<bool>)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (b, name, barrier) = (b.clone(), name.clone(), &barrier);
                    s.spawn(move || {
                        let data = payload(w);
                        barrier.wait();
                        (w, b.put_if_absent(&name, &data))
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or((usize::MAX, Ok(false))))
                .collect()
        });
        let mut winners = Vec::new();
        for (w, r) in answers {
            if call(C, r)? {
                winners.push(w);
            }
        }
        ensure(winners.len() == 1, C, || {
            format!(
                "round {round}: {} writers were told they stored it",
                winners.len()
            )
        })?;
        let stored = call(C, b.get(&name))?;
        ensure(stored == payload(winners[0]), C, || {
            format!(
                "round {round}: the object ({} bytes) is not the winner's bytes whole",
                stored.len()
            )
        })?;
    }
    Ok(())
}

fn get(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "get";
    let n = format!("{root}get/x");
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    call(C, b.put_if_absent(&n, &data))?;
    ensure(call(C, b.get(&n))? == data, C, || "bytes differ".into())?;
    match b.get(&format!("{root}get/missing")) {
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Failure {
            check: C,
            detail: format!("missing object: kind {:?}, not NotFound ({e})", e.kind),
        }),
        Ok(_) => Err(Failure {
            check: C,
            detail: "a missing object was read".into(),
        }),
    }
}

fn get_range(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "get_range";
    let n = format!("{root}range/x");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    call(C, b.put_if_absent(&n, &data))?;
    ranges_read(&data, "get_range", |off, len| b.get_range(&n, off, len))?;
    // A held-open object reads the same ranges the same way.
    if let Some(open) = call(C, b.open_object(&n))? {
        ranges_read(&data, "open_object", |off, len| open.get_range(off, len))?;
        let mut buf = vec![0u8; 5000];
        call(C, open.read_at(1234, &mut buf))?;
        ensure(buf == data[1234..6234], C, || {
            "open_object: read_at of 5000 bytes at 1234: wrong bytes".to_string()
        })?;
        match open.read_at(9_000, &mut buf) {
            Err(e) if e.kind == BackendErrorKind::OutOfRange => {}
            other => {
                return Err(Failure {
                    check: C,
                    detail: format!(
                        "open_object: read_at past the end: {:?}, not OutOfRange",
                        other.map_err(|e| e.kind)
                    ),
                });
            }
        }
    }
    let missing = format!("{root}range/missing");
    for (how, got) in [
        ("get_range", b.get_range(&missing, 0, 1).map(|v| v.len())),
        ("open_object", b.open_object(&missing).map(|_| 0)),
    ] {
        match got {
            Err(e) if e.is_not_found() => {}
            other => {
                return Err(Failure {
                    check: C,
                    detail: format!("{how} of a missing object: {:?}", other.map_err(|e| e.kind)),
                });
            }
        }
    }
    Ok(())
}

/// Ranges inside `data` come back exact; ranges past its end are `OutOfRange`.
fn ranges_read(data: &[u8], how: &str, read: impl Fn(u64, u64) -> BackendResult<Vec<u8>>) -> Check {
    const C: &str = "get_range";
    for (off, len) in [
        (0u64, 10_000u64),
        (0, 1),
        (1234, 5000),
        (9_999, 1),
        (10_000, 0),
    ] {
        let got = call(C, read(off, len))?;
        ensure(got == data[off as usize..(off + len) as usize], C, || {
            format!(
                "{how}: {len} bytes at {off}: wrong bytes ({} returned)",
                got.len()
            )
        })?;
    }
    for (off, len) in [
        (9_990u64, 11u64),
        (10_001, 1),
        (u64::MAX - 1, 2),
        (0, u64::MAX),
    ] {
        match read(off, len) {
            Err(e) if e.kind == BackendErrorKind::OutOfRange => {}
            other => {
                return Err(Failure {
                    check: C,
                    detail: format!(
                        "{how}: {len} bytes at {off} (past the end): {:?}, not OutOfRange",
                        other.map(|v| v.len()).map_err(|e| e.kind)
                    ),
                });
            }
        }
    }
    Ok(())
}

fn paged_list(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "paged_list";
    let total = LIST_PAGE + 234;
    let prefix = format!("{root}many/");
    let mut want: Vec<(String, u64)> = (0..total)
        .map(|i| {
            // Some in sub-folders, as packs are.
            let name = if i % 3 == 0 {
                format!("{prefix}{:02x}/{i:05}", i % 7)
            } else {
                format!("{prefix}{i:05}")
            };
            (name, (i % 17) as u64)
        })
        .collect();
    for (name, size) in &want {
        call(C, b.put_if_absent(name, &vec![7u8; *size as usize]))?;
    }
    // A neighbour that shares the prefix's text but not its folder.
    call(C, b.put_if_absent(&format!("{root}many-not/x"), b"x"))?;
    want.sort();
    let first = call(C, b.list_page(&prefix, None, LIST_PAGE))?;
    ensure(first.objects.len() == LIST_PAGE, C, || {
        format!(
            "first page has {} objects, not {LIST_PAGE}",
            first.objects.len()
        )
    })?;
    ensure(first.next.is_some(), C, || {
        "no continuation after a full page".into()
    })?;
    let mut got: Vec<(String, u64)> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = call(C, b.list_page(&prefix, token.as_deref(), 300))?;
        ensure(page.objects.len() <= 300, C, || {
            "a page is over its limit".into()
        })?;
        got.extend(page.objects.into_iter().map(|o| (o.name, o.size)));
        pages += 1;
        ensure(pages <= total, C, || "the listing does not end".into())?;
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    ensure(got == want, C, || {
        format!(
            "paged listing has {} objects (want {total}), or in the wrong order or sizes",
            got.len()
        )
    })?;
    let all: Vec<(String, u64)> = call(C, b.list(&prefix))?
        .into_iter()
        .map(|o| (o.name, o.size))
        .collect();
    ensure(all == want, C, || {
        format!("list() has {} objects", all.len())
    })?;
    ensure(
        call(C, b.list(&format!("{root}nothing/")))?.is_empty(),
        C,
        || "an empty prefix lists objects".into(),
    )
}

fn delete(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "delete";
    let n = format!("{root}del/x");
    call(C, b.put_if_absent(&n, b"x"))?;
    call(C, b.delete(&n))?;
    ensure(!call(C, b.exists(&n))?, C, || "exists after delete".into())?;
    ensure(b.get(&n).err().is_some_and(|e| e.is_not_found()), C, || {
        "get after delete is not NotFound".into()
    })?;
    ensure(
        !call(C, b.list(&format!("{root}del/")))?
            .iter()
            .any(|o| o.name == n),
        C,
        || "listed after delete".into(),
    )?;
    call(C, b.delete(&n))
        .and_then(|()| call(C, b.delete(&format!("{root}del/never"))))
        .map_err(|f| Failure {
            check: C,
            detail: format!("deleting a missing object: {}", f.detail),
        })?;
    // The name is free again.
    ensure(call(C, b.put_if_absent(&n, b"y"))?, C, || {
        "a deleted name cannot be stored again".into()
    })
}

fn transient_retried(b: &Arc<dyn Backend>, root: &str) -> Check {
    const C: &str = "transient_retried";
    let fault = Arc::new(FaultBackend::new(b.clone()));
    let r = Retrying::new(fault.clone(), RetryPolicy::immediate(3));
    let n = format!("{root}retry/x");
    let transient = FaultAction::Fail(BackendErrorKind::Transient);
    for op in [
        Op::Put,
        Op::Get,
        Op::GetRange,
        Op::List,
        Op::Delete,
        Op::Exists,
    ] {
        fault.inject(Fault::nth(op, 1, transient));
    }
    ensure(call(C, r.put_if_absent(&n, b"abc"))?, C, || {
        "put not stored".into()
    })?;
    ensure(call(C, r.get(&n))? == b"abc", C, || "get".into())?;
    ensure(call(C, r.get_range(&n, 1, 2))? == b"bc", C, || {
        "get_range".into()
    })?;
    ensure(call(C, r.exists(&n))?, C, || "exists".into())?;
    ensure(
        call(C, r.list(&format!("{root}retry/")))?.len() == 1,
        C,
        || "list".into(),
    )?;
    call(C, r.delete(&n))?;
    ensure(!call(C, b.exists(&n))?, C, || "delete not done".into())?;
    ensure(fault.injected() == 6, C, || {
        format!("{} of 6 faults were hit", fault.injected())
    })?;
    // A put whose failed attempt landed anyway counts as stored.
    let landed = format!("{root}retry/landed");
    call(C, b.put_if_absent(&landed, b"mine"))?;
    fault.inject(Fault::nth(Op::Put, 1, transient));
    ensure(call(C, r.put_if_absent(&landed, b"mine"))?, C, || {
        "a retried put that had landed was reported as someone else's".into()
    })?;
    // A put cut off part-way that left a fragment is not taken for
    // someone else's object, and put_exclusive removes the fragment.
    let cut = format!("{root}retry/cut");
    fault.inject(Fault::nth(
        Op::Put,
        1,
        FaultAction::Truncate { keep_percent: 50 },
    ));
    let e = crate::put_exclusive(&r, &cut, b"whole bytes").err();
    ensure(
        e.as_ref()
            .is_some_and(|e| e.kind == BackendErrorKind::Incomplete),
        C,
        || format!("a cut-off put was not reported as incomplete: {e:?}"),
    )?;
    ensure(!call(C, b.exists(&cut))?, C, || {
        "the fragment of a cut-off put was left behind".into()
    })?;
    // Permanent failures are not retried; transient ones are, a bounded number of times.
    let before = fault.calls(Op::Get);
    fault.inject(Fault::nth(
        Op::Get,
        1,
        FaultAction::Fail(BackendErrorKind::Permanent),
    ));
    let e = r.get(&landed).err();
    ensure(
        e.as_ref()
            .is_some_and(|e| e.kind == BackendErrorKind::Permanent)
            && fault.calls(Op::Get) == before + 1,
        C,
        || "a permanent failure was retried or hidden".into(),
    )?;
    let before = fault.calls(Op::Get);
    fault.inject(Fault::from_nth(Op::Get, 1, transient));
    let e = r.get(&landed).err();
    fault.clear();
    ensure(
        e.as_ref()
            .is_some_and(|e| e.is_transient() && e.attempts == 3)
            && fault.calls(Op::Get) == before + 3,
        C,
        || format!("unbounded or missing retries: {e:?}"),
    )?;
    // A short ranged read is retried, not returned.
    fault.inject(Fault::nth(
        Op::GetRange,
        1,
        FaultAction::Truncate { keep_percent: 50 },
    ));
    ensure(call(C, r.get_range(&landed, 0, 4))? == b"mine", C, || {
        "a short read came back as data".into()
    })
}
