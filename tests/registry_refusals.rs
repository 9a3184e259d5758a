//! What the reference registry refuses because a consumer would be hurt by it: tarballs that
//! unpack somewhere else or into something else than they seem to, versions that differ only
//! in build metadata, and packages under another publisher's scope. Every refusal stores
//! nothing.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::io::Write;

use chuks_ci::registry_server::{DEFAULT_MAX_UNPACKED_BYTES, Registry};
use chuks_ci::token::Scope;
use common::registry::{TestRegistry, body_for_tarball, manifest};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// One tar member written by hand, so that paths and types a careful writer refuses can be made.
struct Raw {
    kind: u8,
    path: Vec<u8>,
    link: Vec<u8>,
    data: Vec<u8>,
    /// The size the header declares, when it is not the data's.
    declared: Option<u64>,
}

fn raw(kind: u8, path: &str, link: &str, data: &[u8]) -> Raw {
    Raw {
        kind,
        path: path.as_bytes().to_vec(),
        link: link.as_bytes().to_vec(),
        data: data.to_vec(),
        declared: None,
    }
}

fn file(path: &str, data: &[u8]) -> Raw {
    raw(b'0', path, "", data)
}

fn dir(path: &str) -> Raw {
    raw(b'5', path, "", b"")
}

fn symlink(path: &str, target: &str) -> Raw {
    raw(b'2', path, target, b"")
}

fn hard_link(path: &str, target: &str) -> Raw {
    raw(b'1', path, target, b"")
}

/// A pax header whose records apply to the next member.
fn pax(records: &[(&str, &str)]) -> Raw {
    let mut data = String::new();
    for (key, value) in records {
        let body = format!(" {key}={value}\n");
        // The length counts its own digits.
        let mut length = body.len() + 1;
        while format!("{length}{body}").len() != length {
            length += 1;
        }
        data.push_str(&format!("{length}{body}"));
    }
    raw(b'x', "PaxHeaders/x", "", data.as_bytes())
}

/// A GNU long-name header naming the next member.
fn long_name(name: &str) -> Raw {
    raw(b'L', "././@LongLink", "", format!("{name}\0").as_bytes())
}

/// The `chuks.json` that `body_for_tarball("di", version, …)` declares.
fn manifest_file(version: &str) -> Raw {
    file("chuks.json", manifest("di", version).to_string().as_bytes())
}

fn header_for(member: &Raw) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::new(member.kind));
    header.set_size(member.declared.unwrap_or(member.data.len() as u64));
    header.set_mode(0o644);
    header.set_mtime(0);
    let old = header.as_old_mut();
    old.name[..member.path.len()].copy_from_slice(&member.path);
    old.linkname[..member.link.len()].copy_from_slice(&member.link);
    header.set_cksum();
    header
}

/// The tar stream of `members`, without its end-of-archive blocks.
fn tar_members(members: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        out.extend_from_slice(header_for(member).as_bytes());
        out.extend_from_slice(&member.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A whole `.tar.gz` of `members`.
fn targz(members: &[Raw]) -> Vec<u8> {
    let mut tar = tar_members(members);
    tar.extend_from_slice(&[0; 1024]);
    gzip(&tar)
}

async fn publish_tarball(
    registry: &TestRegistry,
    token: &str,
    version: &str,
    tarball: &[u8],
) -> (StatusCode, Value) {
    let body = body_for_tarball("di", version, tarball);
    let path = format!("/packages/di/{version}");
    registry
        .call(Method::POST, &path, Some(token), Some(&body))
        .await
}

fn assert_nothing_stored(registry: &TestRegistry) {
    for table in ["packages", "versions", "blobs"] {
        assert_eq!(registry.count_rows(table), 0, "{table}");
    }
}

#[tokio::test]
async fn tarballs_that_unpack_elsewhere_or_twice_are_refused() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let cases: Vec<(&str, Vec<Raw>, &str)> = vec![
        (
            "two root chuks.json",
            vec![file("chuks.json", br#"{"name":"di","version":"9.9.9"}"#)],
            "duplicate_member",
        ),
        (
            "chuks.json and ./chuks.json",
            vec![file("./chuks.json", br#"{"name":"di","version":"9.9.9"}"#)],
            "duplicate_member",
        ),
        (
            "chuks.json and CHUKS.JSON (one file on macOS and Windows)",
            vec![file("CHUKS.JSON", b"{}")],
            "duplicate_member",
        ),
        (
            "a source file twice",
            vec![file("src/a.chuks", b"1"), file("src//a.chuks", b"2")],
            "duplicate_member",
        ),
        (
            "a pax path naming chuks.json again",
            vec![pax(&[("path", "chuks.json")]), file("innocent.txt", b"{}")],
            "duplicate_member",
        ),
        (
            "a parent-folder path",
            vec![file("../evil", b"x")],
            "unsafe_member",
        ),
        (
            "a parent-folder path inside",
            vec![file("src/../../evil", b"x")],
            "unsafe_member",
        ),
        (
            "an absolute path",
            vec![file("/etc/evil", b"x")],
            "unsafe_member",
        ),
        (
            "a Windows separator",
            vec![file("..\\evil", b"x")],
            "unsafe_member",
        ),
        (
            "a Windows drive",
            vec![file("C:/evil", b"x")],
            "unsafe_member",
        ),
        (
            "a control character",
            vec![file("a\nb", b"x")],
            "unsafe_member",
        ),
        (
            "a GNU long name climbing out",
            vec![long_name("../../evil"), file("fine", b"x")],
            "unsafe_member",
        ),
        (
            "a pax path climbing out",
            vec![pax(&[("path", "../evil")]), file("fine", b"x")],
            "unsafe_member",
        ),
        (
            "a symlink climbing out",
            vec![symlink("docs/link", "../../etc/passwd")],
            "unsafe_member",
        ),
        (
            "an absolute symlink",
            vec![symlink("link", "/etc/passwd")],
            "unsafe_member",
        ),
        (
            "a symlink with `..` after a name",
            vec![symlink("x/up", ".."), symlink("escape", "x/up/..")],
            "unsafe_member",
        ),
        (
            "a member written through a symlinked folder",
            vec![symlink("x/root", ".."), file("x/root/chuks.json", b"{}")],
            "unsafe_member",
        ),
        (
            "a hard link climbing out",
            vec![hard_link("h", "../outside")],
            "unsafe_member",
        ),
        (
            "a hard link to a file the archive does not hold",
            vec![hard_link("h", "src/later")],
            "unsafe_member",
        ),
        (
            "a character device",
            vec![raw(b'3', "dev/tty", "", b"")],
            "unsafe_member",
        ),
        (
            "a block device",
            vec![raw(b'4', "dev/sda", "", b"")],
            "unsafe_member",
        ),
        ("a FIFO", vec![raw(b'6', "pipe", "", b"")], "unsafe_member"),
        (
            "a member type nobody defined",
            vec![raw(b'Z', "odd", "", b"")],
            "unsafe_member",
        ),
        (
            "a pax size that disagrees with the header",
            vec![pax(&[("size", "0")]), file("hidden", &[b'x'; 1024])],
            "invalid_tarball",
        ),
    ];
    // Each case after a root `chuks.json` of its own version, so each would have been stored.
    for (index, (what, rest, expected)) in cases.into_iter().enumerate() {
        let version = format!("0.1.{index}");
        let mut members = vec![manifest_file(&version)];
        members.extend(rest);
        let (status, answer) = publish_tarball(&registry, &token, &version, &targz(&members)).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected),
            "{what}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("\nhint: "), "{what}: {message}");
        if expected != "invalid_tarball" {
            assert!(answer["error"]["path"].is_string(), "{what}: {answer}");
        }
    }
    let linked_manifest = targz(&[
        file("real.json", manifest("di", "0.2.0").to_string().as_bytes()),
        symlink("chuks.json", "real.json"),
    ]);
    let (status, answer) = publish_tarball(&registry, &token, "0.2.0", &linked_manifest).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tarball"),
        "a symlink named chuks.json is no manifest: {answer}"
    );
    assert_nothing_stored(&registry);
}

#[tokio::test]
async fn members_hidden_after_the_archive_or_in_another_gzip_member_are_seen() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let mut first = tar_members(&[manifest_file("0.1.0")]);
    let second = tar_members(&[file("chuks.json", br#"{"name":"di","version":"6.6.6"}"#)]);

    // gunzip reads every gzip member: the second one continues the tar stream.
    let mut two_members = gzip(&first);
    two_members.extend(gzip(&second));
    let (status, answer) = publish_tarball(&registry, &token, "0.1.0", &two_members).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "duplicate_member"),
        "{answer}"
    );

    // A second archive after the first one's end-of-archive blocks.
    first.extend_from_slice(&[0; 1024]);
    first.extend(&second);
    let (status, answer) = publish_tarball(&registry, &token, "0.1.0", &gzip(&first)).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tarball"),
        "{answer}"
    );
    assert_nothing_stored(&registry);
}

#[tokio::test]
async fn links_and_folders_inside_the_package_are_accepted() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let tarball = targz(&[
        dir("./"),
        manifest_file("0.1.0"),
        dir("src/"),
        file("src/index.chuks", b"export const a = 1\n"),
        file("./README.md", b"# di\n"),
        symlink("docs/readme", "../README.md"),
        symlink("src/same", "index.chuks"),
        hard_link("src/copy.chuks", "src/index.chuks"),
        long_name(&format!("src/{}.chuks", "n".repeat(150))),
        file("ignored-by-long-name", b"long"),
        pax(&[("path", "src/pax-named.chuks")]),
        file("ignored-by-pax", b"pax"),
    ]);
    let (status, answer) = publish_tarball(&registry, &token, "0.1.0", &tarball).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn a_tarball_may_not_unpack_past_the_limit() {
    let registry = TestRegistry::start_with(|config| config.max_unpacked_bytes = 1024 * 1024);
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let big = targz(&[
        manifest_file("0.1.0"),
        file("zeros", &vec![0; 2 * 1024 * 1024]),
    ]);
    assert!(big.len() < 10 * 1024, "{} bytes", big.len());
    let (status, answer) = publish_tarball(&registry, &token, "0.1.0", &big).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "package_too_large"),
        "{answer}"
    );
    assert_eq!(answer["error"]["limit_bytes"], 1024 * 1024);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-unpacked-bytes"),
        "{answer}"
    );
    assert_nothing_stored(&registry);
    // Just under the limit is fine.
    let fits = targz(&[manifest_file("0.1.0"), file("zeros", &vec![0; 900 * 1024])]);
    let (status, answer) = publish_tarball(&registry, &token, "0.1.0", &fits).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// 2 MB of gzip that unpacks to 2 GiB: one gzip member per MiB of zeros, as `gunzip` reads them.
fn gzip_bomb() -> Vec<u8> {
    const MIB: usize = 1024 * 1024;
    let mut big = file("zeros", b"");
    big.declared = Some(2048 * MIB as u64);
    let mut bomb = gzip(&tar_members(&[manifest_file("0.1.0"), big]));
    let mebibyte_of_zeros = gzip(&vec![0; MIB]);
    for _ in 0..2048 {
        bomb.extend_from_slice(&mebibyte_of_zeros);
    }
    bomb.extend(gzip(&[0; 1024]));
    bomb
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_under_the_default_limit() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let bomb = gzip_bomb();
    assert!(bomb.len() < 4 * 1024 * 1024, "{} bytes", bomb.len());
    let (status, answer) = publish_tarball(&registry, &token, "0.1.0", &bomb).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "package_too_large"),
        "{answer}"
    );
    assert_eq!(answer["error"]["limit_bytes"], DEFAULT_MAX_UNPACKED_BYTES);
    assert_nothing_stored(&registry);
}

#[tokio::test]
async fn versions_that_differ_only_in_build_metadata_are_one_version() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish, Scope::PackagesYank]);
    let (status, first) = registry.publish(&token, "di", "1.0.0", b"plain").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for version in ["1.0.0+a", "1.0.0+b"] {
        let (status, answer) = registry.publish(&token, "di", version, b"other").await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, "version_exists"),
            "{version}: {answer}"
        );
        assert_eq!(answer["error"]["stored_version"], "1.0.0");
        assert_eq!(answer["error"]["stored_sha256"], first["sha256"]);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("already published as `1.0.0`"),
            "{message}"
        );
        assert!(message.contains("build metadata"), "{message}");
    }
    assert_eq!(registry.stored_versions("di"), 1);
    assert_eq!(registry.count_rows("blobs"), 1);
    // A read names the version by its key, and answers it as it was published.
    let record = registry.version("di", "1.0.0+b").unwrap();
    assert_eq!(
        (record["version"].as_str(), &record["sha256"]),
        (Some("1.0.0"), &first["sha256"])
    );
    let (status, yanked) = registry
        .call(
            Method::POST,
            "/packages/di/1.0.0%2Bz/yank",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (status, &yanked["version"]),
        (StatusCode::OK, &Value::from("1.0.0"))
    );

    // Build metadata on the first publish is kept; the plain version is then the overwrite.
    let (status, _) = registry
        .publish(&token, "di", "2.0.0+build.1", b"built")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) = registry.publish(&token, "di", "2.0.0", b"plain").await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "version_exists")
    );
    assert_eq!(answer["error"]["stored_version"], "2.0.0+build.1");
    // Prereleases stay versions of their own.
    let (status, _) = registry
        .publish(&token, "di", "2.0.0-rc.1+build.1", b"rc")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(registry.stored_versions("di"), 3);
}

#[test]
fn publish_reports_a_build_metadata_twin_as_published_with_other_contents() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let repo = common::PackageRepo::new("di", "1.0.0");
    let publish = |tag: &str| {
        repo.tag(tag);
        repo.push();
        repo.chuks_ci()
            .args(["publish", "--registry", registry.url(), "--tag", tag])
            .env("CHUKS_TOKEN", &token)
            .output()
            .unwrap()
    };
    let first = publish("v1.0.0");
    assert!(first.status.success(), "{}", common::outputs(&first).1);

    repo.write("chuks.json", &common::manifest_json("di", "1.0.0+b"));
    repo.commit("build metadata only");
    let twin = publish("v1.0.0+b");
    let (_, stderr) = common::outputs(&twin);
    assert_eq!(twin.status.code(), Some(1), "{stderr}");
    let error = &stderr[stderr.find("error: ").unwrap_or(0)..];
    common::snapshot_settings(repo.path()).bind(|| {
        insta::assert_snapshot!(error);
    });
    assert_eq!(registry.stored_versions("di"), 1);
}

#[tokio::test]
async fn a_scope_belongs_to_its_first_publisher_unless_the_operator_grants_it() {
    let registry = TestRegistry::start();
    let publish = [Scope::PackagesPublish, Scope::PackagesPermissions];
    let alice = registry.token("alice", &publish);
    let bob = registry.token("bob", &publish);
    assert_eq!(
        registry.publish(&alice, "@alice/x", "1.0.0", b"x").await.0,
        StatusCode::CREATED
    );
    for name in ["@alice/y", "@alice/x"] {
        let (status, answer) = registry.publish(&bob, name, "1.0.0", b"bob's").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {answer}");
        if name == "@alice/y" {
            assert_eq!(code(&answer), "scope_taken");
            assert_eq!(answer["error"]["scope"], "@alice");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains("registry scope grant --scope @alice --publisher bob"));
        }
    }
    assert_eq!(registry.count_rows("packages"), 1);
    assert_eq!(registry.count_rows("versions"), 1);

    // The owner's grant on a package is about that package only.
    let grant = serde_json::json!({"publishers": ["bob"]});
    let path = "/packages/@alice%2Fx/permissions";
    assert_eq!(
        registry
            .call(Method::PUT, path, Some(&alice), Some(&grant))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        registry
            .publish(&bob, "@alice/x", "1.1.0", b"bob's")
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        registry
            .publish(&bob, "@alice/y", "1.0.0", b"bob's")
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // The operator's grant lets bob create packages under the scope, which he then owns.
    registry.grant_scope("@alice", "bob").unwrap();
    let (status, created) = registry.publish(&bob, "@alice/y", "1.0.0", b"bob's").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, package) = registry.get("/packages/@alice%2Fy").await;
    assert_eq!(package["owner"], "bob");
    registry.revoke_scope("@alice", "bob").unwrap();
    assert_eq!(
        registry
            .publish(&bob, "@alice/z", "1.0.0", b"bob's")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Unscoped names and other scopes are unaffected.
    for name in ["bobs-tool", "@bob/tool"] {
        assert_eq!(
            registry.publish(&bob, name, "1.0.0", b"b").await.0,
            StatusCode::CREATED,
            "{name}"
        );
    }
    let held: Vec<(String, String, &str)> = registry
        .list_scopes()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h.scope.unescaped().to_string(),
                h.publisher.unescaped().to_string(),
                h.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        held,
        [
            ("@alice".into(), "alice".into(), "first_publish"),
            ("@bob".into(), "bob".into(), "first_publish"),
        ]
    );
}

#[test]
fn publish_names_the_scope_holder_and_the_operator_s_grant() {
    let registry = TestRegistry::start();
    let alice = registry.token("alice", &[Scope::PackagesPublish]);
    let bob = registry.token("bob", &[Scope::PackagesPublish]);
    let publish = |name: &str, token: &str| {
        let repo = common::PackageRepo::new(name, "1.0.0");
        repo.tag("v1.0.0");
        repo.push();
        let output = repo
            .chuks_ci()
            .args(["publish", "--registry", registry.url()])
            .env("CHUKS_TOKEN", token)
            .output()
            .unwrap();
        (output, repo)
    };
    assert!(publish("@chuks/numpy", &alice).0.status.success());
    let (refused, repo) = publish("@chuks/ffmpeg", &bob);
    let (_, stderr) = common::outputs(&refused);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    let error = &stderr[stderr.find("error: ").unwrap_or(0)..];
    common::snapshot_settings(repo.path()).bind(|| {
        insta::assert_snapshot!(error);
    });
    assert!(registry.version("@chuks/ffmpeg", "1.0.0").is_none());
}

/// A data folder from before version keys and scopes: its rows stay readable as they were, and
/// the owners of its scoped packages hold their scopes.
#[test]
fn a_data_folder_from_before_keys_and_scopes_is_migrated() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::open(data.path()).unwrap();
    let issued = registry
        .mint_token(
            "alice",
            "t",
            &[Scope::PackagesPublish],
            common::registry::in_seconds(60),
        )
        .unwrap();
    drop(registry);
    let connection = rusqlite::Connection::open(data.path().join("registry.sqlite3")).unwrap();
    connection
        .execute_batch(&format!(
            "DROP INDEX versions_by_key;
             ALTER TABLE versions DROP COLUMN version_key;
             DROP TABLE scopes;
             DROP TABLE trusted_publishers;
             DROP TABLE id_token_uses;
             ALTER TABLE tokens DROP COLUMN packages;
             ALTER TABLE tokens DROP COLUMN minted_for;
             PRAGMA user_version = 1;
             INSERT INTO packages (name, owner, created_at) VALUES ('@alice/x', 'alice', '2025-01-01T00:00:00Z');
             INSERT INTO blobs (sha256, bytes) VALUES ('a', x'00'), ('b', x'01');
             INSERT INTO versions (package, version, manifest, sha256, size, publisher, token_id,
                                   published_at)
             VALUES ('@alice/x', '1.0.0', '{{}}', 'a', 1, 'alice', {id}, 't'),
                    ('@alice/x', '1.0.0+b', '{{}}', 'b', 1, 'alice', {id}, 't');",
            id = issued.record.id
        ))
        .unwrap();
    drop(connection);

    let registry = Registry::open(data.path()).unwrap();
    let held = registry.list_scopes().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].scope.unescaped(), held[0].publisher.unescaped()),
        ("@alice", "alice")
    );
    drop(registry);
    let server =
        Registry::start(chuks_ci::registry_server::RegistryConfig::new(data.path())).unwrap();
    for (asked, stored) in [("1.0.0", "a"), ("1.0.0%2Bb", "b"), ("1.0.0%2Bc", "a")] {
        let url = format!("{}/api/packages/@alice%2Fx/{asked}", server.url());
        let (status, record) = common::http_get_json(&url);
        assert_eq!(
            (status, &record["sha256"]),
            (200, &Value::from(stored)),
            "{asked}"
        );
    }
}
