//! Progress on a terminal: bytes, files, rate and ETA on stderr, refreshed
//! from the engine's counters. Hidden when stderr is not a terminal or the
//! output is JSON, so pipes and scripts see only results.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use lifeboat_store::upload::Progress;

pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Display {
    /// `total` bytes if known (for an ETA).
    pub fn start(enabled: bool, label: &str, counters: Arc<Progress>, total: Option<u64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Self { stop, thread: None };
        }
        let bar_style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let spinner_style =
            ProgressStyle::with_template("{prefix} {spinner} {bytes} {bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(bar_style.clone()),
            None => ProgressBar::new_spinner().with_style(spinner_style),
        };
        bar.set_prefix(label.to_string());
        let s = stop.clone();
        let mut has_total = total.is_some();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // A file backup learns its total from the walk ahead; switch
                // from a spinner to a bar with an ETA once it is known.
                if !has_total && counters.total_known.load(Ordering::Relaxed) {
                    bar.set_length(counters.bytes_total.load(Ordering::Relaxed));
                    bar.set_style(bar_style.clone());
                    has_total = true;
                }
                bar.set_position(counters.bytes_read.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} files, {} new",
                    counters.files_done.load(Ordering::Relaxed),
                    indicatif::HumanBytes(counters.bytes_new.load(Ordering::Relaxed))
                ));
                std::thread::sleep(Duration::from_millis(150));
            }
            bar.finish_and_clear();
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
