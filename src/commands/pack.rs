//! `chuks-ci pack`: build the tarball that `publish` would upload, or with `--list` show what
//! it would hold (written only when `--output` is given, so listing leaves nothing behind for
//! the next publish to ship).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use tempfile::NamedTempFile;

use super::Exit;
use crate::cli::PackArgs;
use crate::manifest::Manifest;
use crate::pack::{self, PackPlan, TarballSummary};
use crate::report::{Format, Reporter};
use crate::untrusted::Untrusted;

pub fn run(args: &PackArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let output = match (&args.output, args.list) {
        (Some(output), _) => Some(output.clone()),
        (None, false) => Some(PathBuf::from(default_file_name(&manifest))),
        (None, true) => None,
    };
    let root = manifest.package_dir();
    reporter.debug(1, format!("packing `{}`", Untrusted::path(root)));
    let plan = pack::plan(root, &args.pack.limits(), output.as_deref())?;
    super::note_left_out(&plan, reporter);
    let summary = match &output {
        Some(output) => write(&plan, output)?,
        None => pack::write_tarball(&plan, std::io::sink())?,
    };
    if args.list {
        reporter.note(
            "files chosen by `.gitignore` and `.chuksignore`, as chuks-ci's HTTP uploader ships them; the official `chuks` CLI (`--uploader chuks`) reads only `.gitignore`",
        );
    }
    match reporter.format {
        Format::Human => print_human(&manifest, output.as_deref(), &summary, args.list),
        Format::Json => print_json(&manifest, output.as_deref(), &summary, args.list),
    }
    Ok(Exit::Success)
}

/// Writes the tarball to `output`, all or nothing.
fn write(plan: &PackPlan, output: &Path) -> anyhow::Result<TarballSummary> {
    let (temp, summary) = pack::write_tempfile(plan, output_dir(output))?;
    save(temp, output).with_context(|| {
        format!(
            "cannot write `{}`\nhint: check the permissions of the output folder",
            Untrusted::path(output)
        )
    })?;
    Ok(summary)
}

/// `<name>-<version>.tgz`, with a scope made file-name safe: `@chuks/numpy` → `chuks-numpy`.
fn default_file_name(manifest: &Manifest) -> String {
    let name = manifest.name.trim_start_matches('@').replace('/', "-");
    format!("{name}-{}.tgz", manifest.version)
}

fn output_dir(output: &Path) -> &Path {
    match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Moves the finished tarball into place; until then a failure leaves no partial file behind.
fn save(temp: NamedTempFile, output: &Path) -> std::io::Result<()> {
    make_shareable(temp.as_file())?;
    temp.persist(output)?;
    Ok(())
}

/// Temporary files are created owner-only; the tarball is an ordinary file to share.
#[cfg(unix)]
fn make_shareable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn make_shareable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

fn print_human(manifest: &Manifest, output: Option<&Path>, summary: &TarballSummary, list: bool) {
    if list {
        let width = summary.files.iter().map(|f| f.size.to_string().len()).max();
        let width = width.unwrap_or(0);
        for file in &summary.files {
            crate::outln!("{:>width$}  {}  {}", file.size, file.sha256, file.path);
        }
    }
    let files = if summary.file_count == 1 {
        "file"
    } else {
        "files"
    };
    let counted = format!(
        "{}@{}: {} {files}, {} bytes",
        manifest.name, manifest.version, summary.file_count, summary.unpacked_size
    );
    let tarball = format!("{} bytes, sha256 {}", summary.size, summary.sha256);
    match output {
        Some(output) => crate::outln!("packed {counted} → {} ({tarball})", Untrusted::path(output)),
        None => crate::outln!(
            "listed {counted}; the tarball ({tarball}) was not written: pass `--output FILE` to write it"
        ),
    }
}

fn print_json(manifest: &Manifest, output: Option<&Path>, summary: &TarballSummary, list: bool) {
    let mut result = json!({
        "result": if output.is_some() { "packed" } else { "listed" },
        "name": manifest.name,
        "version": manifest.version.to_string(),
        "path": output,
        "file_count": summary.file_count,
        "unpacked_size": summary.unpacked_size,
        "size": summary.size,
        "sha256": summary.sha256,
    });
    if list {
        let files: Vec<_> = summary
            .files
            .iter()
            .map(|file| json!({ "path": file.path, "size": file.size, "sha256": file.sha256 }))
            .collect();
        result["files"] = files.into();
    }
    crate::report::print_json(&result);
}
