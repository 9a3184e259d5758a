//! Client memory does not grow with package size: publishing a 200 MB package keeps the
//! `chuks-ci` process's peak RSS under 100 MB (read from /proc while it runs).
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chuks_ci::token::Scope;
use common::PackageRepo;
use common::registry::TestRegistry;

const PACKAGE_BYTES: u64 = 200 * 1000 * 1000;
const FILES: u64 = 40;
const PEAK_RSS_LIMIT_KIB: u64 = 100 * 1024;

/// Incompressible bytes from a xorshift generator, so gzip cannot shrink the upload.
fn write_noise(path: &Path, bytes: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = seed | 1;
    let mut block = vec![0u8; 1 << 16];
    let mut left = bytes;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let take = left.min(block.len() as u64) as usize;
        file.write_all(&block[..take]).unwrap();
        left -= take as u64;
    }
}

/// The largest `VmHWM` seen in /proc while the process runs, in KiB.
fn peak_rss_kib(child: &mut std::process::Child) -> (u64, std::process::ExitStatus) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                peak = peak.max(kib);
            }
        }
        if let Some(exit) = child.try_wait().unwrap() {
            return (peak, exit);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn publishing_200_mb_stays_under_100_mb_of_rss() {
    let registry = TestRegistry::start_with(|config| config.max_package_bytes = 2 * PACKAGE_BYTES);
    let token = registry
        .create_token("alice", "memory", &[Scope::PackagesPublish], 30)
        .unwrap();

    let repo = PackageRepo::new("bigdata", "1.0.0");
    std::fs::create_dir(repo.path().join("data")).unwrap();
    for index in 0..FILES {
        let path = repo.path().join(format!("data/blob-{index:02}.bin"));
        write_noise(&path, PACKAGE_BYTES / FILES, index + 1);
    }
    repo.commit("large data");
    repo.tag("v1.0.0");

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("chuks-ci"))
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", repo.path().join(".git"))
        .env("CHUKS_TOKEN", token.token.expose())
        .args([
            "publish",
            "--registry",
            registry.url(),
            "--max-size",
            "300000000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (peak_kib, status) = peak_rss_kib(&mut child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "publish failed: {stderr}");
    // Not a terminal: progress is a line about every 10%, ending at 100%.
    assert!(stderr.contains("uploaded 10% ("), "{stderr}");
    assert!(stderr.contains("uploaded 100% ("), "{stderr}");
    // The figure, for whoever reads the test log.
    let _ = writeln!(
        std::io::stderr(),
        "peak RSS publishing {} MB: {} KiB",
        PACKAGE_BYTES / 1_000_000,
        peak_kib
    );
    assert!(peak_kib > 0, "no RSS was read");
    assert!(
        peak_kib < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak_kib} KiB is over {PEAK_RSS_LIMIT_KIB} KiB"
    );
}
