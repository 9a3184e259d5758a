//! Upload progress: a bar on a terminal, a line about every 10% elsewhere, nothing for small uploads.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::pack::human_bytes;
use crate::registry_client::ProgressFn;

/// Uploads smaller than this finish too fast for progress to help.
const SHOW_PROGRESS_FROM_BYTES: u64 = 4 * 1024 * 1024;

/// Builds the progress callback for an upload of `total` bytes.
pub fn for_upload(total: u64, quiet: bool) -> (ProgressFn, Option<ProgressBar>) {
    if quiet || total < SHOW_PROGRESS_FROM_BYTES {
        return (Arc::new(|_, _| {}), None);
    }
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        let shown = bar.clone();
        return (Arc::new(move |sent, _| shown.set_position(sent)), Some(bar));
    }
    let last_decile = Arc::new(AtomicU64::new(0));
    let report = move |sent: u64, total: u64| {
        let decile = sent * 10 / total.max(1);
        // A retry starts again from zero: report its progress afresh.
        if decile < last_decile.load(Ordering::Relaxed) {
            last_decile.store(decile, Ordering::Relaxed);
        }
        if decile > last_decile.fetch_max(decile, Ordering::Relaxed) {
            crate::report::write_stderr(&format!(
                "uploaded {}% ({} of {})\n",
                decile * 10,
                human_bytes(sent),
                human_bytes(total)
            ));
        }
    };
    (Arc::new(report), None)
}
