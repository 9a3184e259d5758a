//! `chuks-ci pack` end to end: the real binary on package folders in temporary directories.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use common::assert_contains;

const MANIFEST: &str = r#"{ "name": "@chuks/numpy", "version": "1.2.0" }"#;

/// A Chuks registry token that must never be printed in full.
const CANARY: &str = "chuks_pk_Zq8RkX3vLmN2pT7wYb4cHd6JfG9sAe1U";

fn write(root: &Path, path: &str, contents: impl AsRef<[u8]>) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, contents).unwrap();
}

/// A package folder holding `chuks.json` and `files`.
fn package(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "chuks.json", MANIFEST);
    for (path, contents) in files {
        write(dir.path(), path, contents);
    }
    dir
}

/// Runs `chuks-ci <args>` in `cwd`, without colour or GitHub annotations.
fn chuks_ci(cwd: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("chuks-ci")
        .unwrap()
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .args(args)
        .output()
        .unwrap()
}

/// Packs `root` into `out` and returns the tarball's bytes, failing the test on refusal.
fn pack_to(root: &Path, out: &Path) -> Vec<u8> {
    let output = chuks_ci(root, &["pack", "--output", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    fs::read(out).unwrap()
}

/// The archive's paths and contents, in archive order.
fn entries(tarball: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(GzDecoder::new(tarball));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut contents = String::new();
            entry.read_to_string(&mut contents).unwrap();
            (path, contents)
        })
        .collect()
}

fn paths(tarball: &[u8]) -> Vec<String> {
    entries(tarball).into_iter().map(|(path, _)| path).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Escapes regex metacharacters so a path can be an insta filter.
fn regex_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let meta = "\\.+*?()|[]{}^$#&-~".contains(c);
            meta.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Asserts a refusal: exit code 1, nothing on stdout, and the message on stderr as snapshotted.
fn assert_refused(name: &str, output: &Output, tmp: &Path) {
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
    insta::with_settings!({ filters => vec![(regex_literal(&tmp.to_string_lossy()).as_str(), "[TMP]")] }, {
        insta::assert_snapshot!(name, text(&output.stderr));
    });
}

fn ignore_rules_tree() -> TempDir {
    package(&[
        (".gitignore", "*.log\nbuild/\nchuks.json\n"),
        (".chuksignore", "docs/\n"),
        (".editorconfig", "root = true\n"),
        ("README.md", "numpy\n"),
        ("src/main.chuks", "print(1)\n"),
        ("src/.gitignore", "gen.chuks\n"),
        ("src/gen.chuks", "generated\n"),
        ("src/target/codegen.chuks", "source, not build output\n"),
        ("debug.log", "noise\n"),
        ("build/out.o", "binary\n"),
        ("docs/guide.md", "guide\n"),
        ("target/debug/numpy", "build output\n"),
        ("chuks_packages/dep/index.chuks", "dependency\n"),
        ("lib/chuks_packages/dep/index.chuks", "dependency\n"),
    ])
}

const IGNORE_RULES_EXPECTED: [&str; 8] = [
    ".chuksignore",
    ".editorconfig",
    ".gitignore",
    "README.md",
    "chuks.json",
    "src/.gitignore",
    "src/main.chuks",
    "src/target/codegen.chuks",
];

#[test]
fn ignore_files_are_honoured_without_git() {
    let dir = ignore_rules_tree();
    let out = tempfile::tempdir().unwrap();
    let tarball = pack_to(dir.path(), &out.path().join("p.tgz"));
    assert_eq!(paths(&tarball), IGNORE_RULES_EXPECTED);
}

#[test]
fn ignore_files_are_honoured_in_a_git_repository_but_local_and_global_excludes_are_not() {
    let dir = ignore_rules_tree();
    let init = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init.stderr));
    write(dir.path(), ".git/info/exclude", "README.md\n");
    let xdg = tempfile::tempdir().unwrap();
    write(xdg.path(), "git/ignore", ".editorconfig\n");
    let out = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("chuks-ci")
        .unwrap()
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", xdg.path())
        .args([
            "pack",
            "--output",
            out.path().join("p.tgz").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tarball = fs::read(out.path().join("p.tgz")).unwrap();
    assert!(dir.path().join(".git/HEAD").exists());
    assert_eq!(paths(&tarball), IGNORE_RULES_EXPECTED);
}

#[test]
fn default_output_is_named_after_the_package_and_left_out_of_the_next_pack() {
    let dir = package(&[("src/main.chuks", "print(1)\n")]);
    let first = chuks_ci(dir.path(), &["pack"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let tarball = dir.path().join("chuks-numpy-1.2.0.tgz");
    let first_bytes = fs::read(&tarball).unwrap();
    assert_eq!(paths(&first_bytes), ["chuks.json", "src/main.chuks"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&tarball).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    let second = chuks_ci(dir.path(), &["pack"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(fs::read(&tarball).unwrap(), first_bytes);
    assert_eq!(
        text(&second.stdout),
        format!(
            "packed @chuks/numpy@1.2.0: 2 files, {} bytes → chuks-numpy-1.2.0.tgz ({} bytes, sha256 {})\n",
            MANIFEST.len() + 9,
            first_bytes.len(),
            sha256_hex(&first_bytes)
        )
    );
}

#[test]
fn a_manifest_elsewhere_packs_its_own_folder() {
    let dir = package(&[("src/main.chuks", "print(1)\n")]);
    let cwd = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("chuks.json");
    let output = chuks_ci(
        cwd.path(),
        &["pack", "--manifest", manifest.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tarball = fs::read(cwd.path().join("chuks-numpy-1.2.0.tgz")).unwrap();
    assert_eq!(paths(&tarball), ["chuks.json", "src/main.chuks"]);
}

#[test]
fn env_file_is_refused_with_its_path() {
    let dir = package(&[("config/.env.local", "API=1\n")]);
    let output = chuks_ci(dir.path(), &["pack"]);
    assert_refused("env_file_refused", &output, dir.path());
    assert!(!dir.path().join("chuks-numpy-1.2.0.tgz").exists());
}

#[test]
fn every_leak_is_reported_masked() {
    let source = format!("let url = \"https://registry\"\nlet token = \"{CANARY}\"\n");
    let dir = package(&[
        (".env", "API=1\n"),
        (".npmrc", "registry=x\n"),
        ("src/config.chuks", &source),
        ("src/clean.chuks", "print(1)\n"),
    ]);
    let output = chuks_ci(dir.path(), &["pack"]);
    assert_refused("leaks_refused", &output, dir.path());
    let stderr = text(&output.stderr);
    assert!(!stderr.contains(CANARY));
    assert!(!stderr.contains(&CANARY[..CANARY.len() - 1]));
    assert!(stderr.contains("chuks_pk_Zq8R****"));

    let json = chuks_ci(dir.path(), &["pack", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let stdout = text(&json.stdout);
    assert!(!stdout.contains(CANARY) && !text(&json.stderr).contains(CANARY));
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let message = result["problems"][0]["message"].as_str().unwrap();
    assert_contains(message, "`src/config.chuks` line 2");
}

#[test]
fn allow_file_overrides_the_guard_for_that_file_only() {
    let dir = package(&[
        (".env.example", "API=\n"),
        ("tests/fixture.chuks", &format!("{CANARY}\n")),
        ("secret.pem", "-----BEGIN-----\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let tgz = out.path().join("p.tgz");
    let tgz = tgz.to_str().unwrap();
    let args = [
        "pack",
        "--output",
        tgz,
        "--allow-file",
        ".env.example",
        "--allow-file",
        "./tests/fixture.chuks",
    ];
    let refused = chuks_ci(dir.path(), &args);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert_contains(&stderr, "refused 1 file:\n  - `secret.pem`");

    let allowed = chuks_ci(
        dir.path(),
        &[&args[..], &["--allow-file", "secret.pem"]].concat(),
    );
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert_eq!(
        paths(&fs::read(tgz).unwrap()),
        [
            ".env.example",
            "chuks.json",
            "secret.pem",
            "tests/fixture.chuks"
        ]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_inside_are_packed_as_files_and_outside_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pkg");
    write(&root, "chuks.json", MANIFEST);
    write(&root, "src/lib.chuks", "lib\n");
    symlink("src/lib.chuks", root.join("index.chuks")).unwrap();
    let out = dir.path().join("p.tgz");
    let tarball = pack_to(&root, &out);
    assert_eq!(
        entries(&tarball),
        [
            ("chuks.json".to_string(), MANIFEST.to_string()),
            ("index.chuks".to_string(), "lib\n".to_string()),
            ("src/lib.chuks".to_string(), "lib\n".to_string()),
        ]
    );

    write(dir.path(), "outside/secret.txt", "secret\n");
    symlink(dir.path().join("outside/secret.txt"), root.join("data.txt")).unwrap();
    let output = chuks_ci(&root, &["pack"]);
    assert_refused("symlink_outside_refused", &output, dir.path());
}

#[test]
fn oversize_packages_are_refused() {
    let big = "x".repeat(3000);
    let dir = package(&[("assets/big.bin", &big), ("src/main.chuks", "print(1)\n")]);
    let limit = (MANIFEST.len() + 3000 + 9 - 1).to_string();
    let output = chuks_ci(dir.path(), &["pack", "--max-size", &limit]);
    assert_refused("oversize_refused", &output, dir.path());

    let limit = (MANIFEST.len() + 3000 + 9).to_string();
    let output = chuks_ci(dir.path(), &["pack", "--max-size", &limit]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn list_prints_every_file_with_size_and_sha256() {
    let dir = package(&[("src/main.chuks", "print(1)\n"), ("README.md", "numpy\n")]);
    let output = chuks_ci(dir.path(), &["pack", "--list", "--output", "out.tgz"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tarball = fs::read(dir.path().join("out.tgz")).unwrap();
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..3],
        [
            format!(" 6  {}  README.md", sha256_hex(b"numpy\n")),
            format!(
                "{}  {}  chuks.json",
                MANIFEST.len(),
                sha256_hex(MANIFEST.as_bytes())
            ),
            format!(" 9  {}  src/main.chuks", sha256_hex(b"print(1)\n")),
        ]
    );
    assert!(lines[3].contains(&sha256_hex(&tarball)), "{stdout}");
    insta::assert_snapshot!("list", stdout);
}

#[test]
fn json_output_describes_the_tarball() {
    let dir = package(&[("src/main.chuks", "print(1)\n")]);
    let output = chuks_ci(
        dir.path(),
        &["pack", "--format", "json", "--list", "--output", "out.tgz"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tarball = fs::read(dir.path().join("out.tgz")).unwrap();
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        result,
        serde_json::json!({
            "result": "packed",
            "name": "@chuks/numpy",
            "version": "1.2.0",
            "path": "out.tgz",
            "file_count": 2,
            "unpacked_size": MANIFEST.len() + 9,
            "size": tarball.len(),
            "sha256": sha256_hex(&tarball),
            "files": [
                { "path": "chuks.json", "size": MANIFEST.len(), "sha256": sha256_hex(MANIFEST.as_bytes()) },
                { "path": "src/main.chuks", "size": 9, "sha256": sha256_hex(b"print(1)\n") },
            ],
        })
    );
}

#[test]
fn a_missing_manifest_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = chuks_ci(dir.path(), &["pack"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no `chuks.json`"));
}

/// The files of the determinism tree: path, contents, executable.
const DETERMINISM_FILES: [(&str, &str, bool); 5] = [
    ("chuks.json", MANIFEST, false),
    ("bin/run", "#!/bin/sh\necho run\n", true),
    ("src/a.chuks", "a\n", false),
    ("src/z/deep.chuks", "deep\n", false),
    ("Zeta.md", "upper case sorts first\n", false),
];

/// Builds the determinism tree in `order`, with the given non-exec and exec modes and mtime.
fn determinism_tree(order: &[usize], modes: (u32, u32), mtime_secs: u64) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for &index in order {
        let (path, contents, executable) = DETERMINISM_FILES[index];
        write(dir.path(), path, contents);
        let full = dir.path().join(path);
        set_mode(&full, if executable { modes.1 } else { modes.0 });
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime_secs);
        fs::File::options()
            .write(true)
            .open(&full)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    dir
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

#[test]
fn the_same_tree_gives_the_same_bytes() {
    let out = tempfile::tempdir().unwrap();
    let original = determinism_tree(&[0, 1, 2, 3, 4], (0o644, 0o755), 1_600_000_000);
    let first = pack_to(original.path(), &out.path().join("1.tgz"));
    let again = pack_to(original.path(), &out.path().join("2.tgz"));
    assert_eq!(first, again);

    let reordered = determinism_tree(&[4, 3, 1, 0, 2], (0o600, 0o700), 1_700_000_000);
    let copy = pack_to(reordered.path(), &out.path().join("3.tgz"));
    assert_eq!(first, copy);
    assert_eq!(
        paths(&first),
        [
            "Zeta.md",
            "bin/run",
            "chuks.json",
            "src/a.chuks",
            "src/z/deep.chuks"
        ]
    );
}

#[cfg(unix)]
#[test]
fn the_exec_bit_is_part_of_the_package() {
    let out = tempfile::tempdir().unwrap();
    let executable = determinism_tree(&[0, 1, 2, 3, 4], (0o644, 0o755), 0);
    let plain = determinism_tree(&[0, 1, 2, 3, 4], (0o644, 0o644), 0);
    let with_exec = pack_to(executable.path(), &out.path().join("1.tgz"));
    let without = pack_to(plain.path(), &out.path().join("2.tgz"));
    assert_ne!(with_exec, without);
}

/// About 7 MiB in 40 files, text and incompressible, so the tarball spans several gzip chunks.
fn multi_chunk_package() -> TempDir {
    let dir = package(&[]);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..40 {
        let len = 90_000 + i * 7_919;
        let contents: Vec<u8> = (0..len)
            .map(|j| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if i % 3 == 0 {
                    state as u8
                } else {
                    b"fn pack(files) { return archive; }\n"[j % 35]
                }
            })
            .collect();
        write(
            dir.path(),
            &format!("src/part{}/file{i:02}.chuks", i % 4),
            contents,
        );
    }
    dir
}

#[test]
fn the_bytes_do_not_depend_on_the_run_or_the_number_of_threads() {
    let package = multi_chunk_package();
    let options = chuks_ci::pack::Limits {
        allow_files: Vec::new(),
        max_size: chuks_ci::pack::DEFAULT_MAX_UNPACKED_BYTES,
        ignore_files: chuks_ci::pack::IgnoreFiles::default(),
    };
    let plan = chuks_ci::pack::plan(package.path(), &options, None).unwrap();
    let with_threads = |threads| {
        let mut bytes = Vec::new();
        chuks_ci::pack::write_tarball_with_threads(&plan, &mut bytes, threads).unwrap();
        bytes
    };
    let single = with_threads(1);
    assert!(
        single.len() > 3 << 20,
        "spans several chunks: {}",
        single.len()
    );
    for threads in [1, 2, 3, 8] {
        assert!(with_threads(threads) == single, "{threads} threads");
    }
    let out = tempfile::tempdir().unwrap();
    let first = pack_to(package.path(), &out.path().join("1.tgz"));
    let again = pack_to(package.path(), &out.path().join("2.tgz"));
    assert!(
        first == single && again == single,
        "the binary packs the same bytes"
    );
    // One gzip member holding every file: a single-member reader sees them all, intact.
    let mut archive = tar::Archive::new(GzDecoder::new(&single[..]));
    let mut count = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).unwrap();
        assert!(
            contents == fs::read(package.path().join(&path)).unwrap(),
            "{}",
            path.to_string_lossy()
        );
        count += 1;
    }
    assert_eq!(count, 41);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, *contents).unwrap();
    }
    builder.into_inner().unwrap()
}

fn deflated_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, contents) in entries {
        writer.start_file(*path, options).unwrap();
        writer.write_all(contents).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

/// The canary's body, which no refusal may show.
fn canary_body() -> &'static str {
    &CANARY["chuks_pk_".len()..]
}

/// A line of source holding the canary.
fn canary_line() -> String {
    format!("token = \"{CANARY}\"\n")
}

#[test]
fn leaks_in_names_encodings_and_archives_are_refused() {
    use base64::Engine;
    let (body, secret) = (canary_body(), canary_line());
    let dir = package(&[("src/clean.chuks", "print(1)\n")]);
    let root = dir.path();
    write(
        root,
        &format!("keys/{CANARY}.txt"),
        "named after the token\n",
    );
    write(root, &format!("cache/chuks%5Fpk%5F{body}/entry"), "x\n");
    write(root, "config/.env/settings.json", "{}\n");
    let tarball = gzip(&tar_of(&[
        ("app/readme.md", b"hi\n"),
        ("app/conf.txt", secret.as_bytes()),
    ]));
    write(root, "data/logs.tar.gz", tarball);
    write(
        root,
        "data/bundle.zip",
        deflated_zip(&[("notes/todo.txt", secret.as_bytes())]),
    );
    write(root, "data/notes.txt.gz", gzip(secret.as_bytes()));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
    write(
        root,
        "src/b64.chuks",
        format!("// config\nconst blob = \"{encoded}\"\n"),
    );
    write(
        root,
        "src/utf16.txt",
        utf16le_with_bom(&format!("a\nb\n{secret}")),
    );
    write(
        root,
        "src/url.txt",
        format!("https://x/?t=chuks%5Fpk%5F{body}\n"),
    );
    write(
        root,
        "deploy/notes.txt",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    );
    write(
        root,
        "deploy/key.ppk",
        "PuTTY-User-Key-File-3: ssh-ed25519\n",
    );
    let output = chuks_ci(root, &["pack"]);
    assert_refused("leaks_in_names_encodings_and_archives", &output, root);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains(body), "{stderr}");
    assert!(!stderr.contains(&encoded), "{stderr}");
}

#[test]
fn a_zip_bomb_is_refused_not_unpacked() {
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let dir = package(&[]);
    write(
        dir.path(),
        "assets/bomb.zip",
        deflated_zip(&[("zeros.bin", &zeros)]),
    );
    write(dir.path(), "assets/bomb.gz", gzip(&zeros));
    let output = chuks_ci(dir.path(), &["pack"]);
    assert_refused("zip_bomb_refused", &output, dir.path());
}

fn utf32(text: &str, big_endian: bool) -> Vec<u8> {
    text.chars()
        .flat_map(|c| match big_endian {
            true => (c as u32).to_be_bytes(),
            false => (c as u32).to_le_bytes(),
        })
        .collect()
}

/// A v7 (pre-ustar) tar: no magic, only a header checksum.
fn v7_tar(path: &str, contents: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_old();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    builder.append_data(&mut header, path, contents).unwrap();
    builder.into_inner().unwrap()
}

/// `lead` with a zip holding `path` → `contents` appended, as self-extracting installers and
/// polyglot images are made.
fn with_zip_appended(lead: &[u8], path: &str, contents: &[u8]) -> Vec<u8> {
    let mut bytes = lead.to_vec();
    bytes.extend(deflated_zip(&[(path, contents)]));
    bytes
}

#[test]
fn leaks_stored_the_way_people_store_them_are_refused() {
    let (body, secret) = (canary_body(), canary_line());
    let dir = package(&[("src/clean.chuks", "print(1)\n")]);
    let root = dir.path();
    write(
        root,
        "config/service-account.json",
        concat!(
            "{\n  \"type\": \"service_account\",\n  \"project_id\": \"numpy-ci\",\n",
            "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n\",\n",
            "  \"client_email\": \"ci@numpy-ci.iam.gserviceaccount.com\"\n}\n"
        ),
    );
    write(
        root,
        "deploy/tls-secret.yaml",
        concat!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\nstringData:\n  tls.key: |\n",
            "    -----BEGIN RSA PRIVATE KEY-----\n    MIIEpAIBAAKCAQEA3b7XGx2xJm1ozJz0\n",
            "    -----END RSA PRIVATE KEY-----\n"
        ),
    );
    write(
        root,
        "tools/install.sh",
        with_zip_appended(
            b"#!/bin/sh\nunzip -o \"$0\" -d /opt/numpy\nexit 0\n",
            "payload/settings.txt",
            secret.as_bytes(),
        ),
    );
    write(
        root,
        "assets/logo.png",
        with_zip_appended(
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89",
            "hidden.txt",
            secret.as_bytes(),
        ),
    );
    // A token in a tar's contents is found as plain text anyway: the member's name tells
    // whether the archive was looked into.
    write(root, "data/legacy.tar", v7_tar("legacy/.env", b"API=1\n"));
    write(
        root,
        "web/settings.json",
        format!("{{\n  \"token\": \"chuks\\u005fpk\\u005f{body}\"\n}}\n"),
    );
    write(
        root,
        "web/index.html",
        format!("<html>\n<p>chuks&#95;pk&#95;{body}</p>\n"),
    );
    write(
        root,
        "web/hex.html",
        format!("<p>chuks&#x5f;pk&#x5f;{body}</p>\n"),
    );
    write(
        root,
        "src/zero-width.chuks",
        format!(
            "let a = 1\nlet token = \"chuks_pk_{}\u{200b}{}\"\n",
            &body[..6],
            &body[6..]
        ),
    );
    write(
        root,
        "src/utf32le.txt",
        utf32(&format!("a\n{secret}"), false),
    );
    write(
        root,
        "src/utf32be.txt",
        utf32(&format!("\u{feff}{secret}"), true),
    );
    let output = chuks_ci(root, &["pack"]);
    assert_refused("leaks_stored_the_way_people_store_them", &output, root);
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains(body) && !stderr.contains(&body[6..]),
        "{stderr}"
    );
}

#[test]
fn a_key_header_without_a_key_still_ships() {
    let dir = package(&[
        (
            "src/pem.chuks",
            "const BEGIN = \"-----BEGIN RSA PRIVATE KEY-----\\n\"\n",
        ),
        (
            "docs/config.json",
            "{\"key\": \"-----BEGIN PRIVATE KEY-----\\n<paste the key here>\\n-----END PRIVATE KEY-----\"}\n",
        ),
        (
            "docs/secret.yaml",
            "tls.key: |\n  -----BEGIN EC PRIVATE KEY-----\n  -----END EC PRIVATE KEY-----\n",
        ),
    ]);
    let out = tempfile::tempdir().unwrap();
    let tarball = pack_to(dir.path(), &out.path().join("p.tgz"));
    assert_eq!(paths(&tarball).len(), 4);
}

#[test]
fn sqlite_databases_and_their_side_files_are_refused() {
    let dir = package(&[("src/main.chuks", "print(1)\n")]);
    fs::create_dir_all(dir.path().join("data")).unwrap();
    // A live database in WAL mode keeps its `-wal` and `-shm` files next to it.
    let database = rusqlite::Connection::open(dir.path().join("data/app.sqlite3")).unwrap();
    let mode: String = database
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    database
        .execute_batch("CREATE TABLE tokens (hash TEXT); INSERT INTO tokens VALUES ('x');")
        .unwrap();
    assert!(dir.path().join("data/app.sqlite3-wal").exists());
    let output = chuks_ci(dir.path(), &["pack"]);
    assert_refused("sqlite_refused", &output, dir.path());
    drop(database);
}

#[test]
fn a_registry_data_folder_is_left_out_with_a_note() {
    let dir = package(&[("src/main.chuks", "print(1)\n")]);
    let mut database = b"SQLite format 3\0".to_vec();
    database.resize(4096, 0);
    write(dir.path(), "registry-data/registry.sqlite3", &database);
    write(dir.path(), "registry-data/.chuks-registry-data", "");
    let output = chuks_ci(dir.path(), &["pack", "--list"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_contains(
        &text(&output.stderr),
        "left out `registry-data/`: it holds `.chuks-registry-data`",
    );
    assert!(!text(&output.stdout).contains("registry-data"));
}

/// Names a hostile contributor could give files: a newline and a workflow command, a terminal
/// escape sequence, a bidi override.
const HOSTILE_NAMES: [&str; 3] = [
    "notes\n::error file=x::forged.txt",
    "\u{1b}]0;pwned\u{7}\u{1b}[31mred.txt",
    "invoice\u{202e}txt.exe",
];

#[test]
fn file_names_are_printed_escaped_in_the_list_and_in_refusals() {
    let dir = package(&HOSTILE_NAMES.map(|name| (name, "x\n")));
    let listed = chuks_ci(dir.path(), &["pack", "--list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let stdout = text(&listed.stdout);
    assert_escaped(&stdout);
    insta::assert_snapshot!("hostile_names_listed", stdout);

    let json = chuks_ci(dir.path(), &["--format", "json", "pack", "--list"]);
    let result: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> = result["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap())
        .collect();
    for name in HOSTILE_NAMES {
        assert!(names.contains(&name), "{names:?}");
    }

    let refused = package(&[
        (".env\n::error::forged", "A=1\n"),
        ("\u{1b}[2Jclear\u{202e}.txt", &format!("{CANARY}\n")),
        ("##[warning]name.txt", &format!("{CANARY}\n")),
    ]);
    let output = chuks_ci(refused.path(), &["pack"]);
    assert_escaped(&text(&output.stderr));
    assert_refused("hostile_names_refused", &output, refused.path());
}

/// No raw control or bidi character, and no line a CI runner would read as a command.
fn assert_escaped(text: &str) {
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{text:?}"
    );
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("::") && !line.contains("##["),
            "{line}"
        );
    }
}
