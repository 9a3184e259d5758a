//! The registry database: schema migrations, content-addressed blobs, and the package queries.
//!
//! Blobs live in the `blobs` table keyed by sha256, so a version row and its bytes are written in
//! one transaction and become visible together or not at all.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use std::io::Seek;

use jiff::Timestamp;
use rusqlite::{Connection, MAIN_DB, OptionalExtension, Transaction, TransactionBehavior, params};
use semver::Version;

use super::RegistryError;
use super::auth::{self, AuthError};
use super::scopes::{self, ScopeTaken};
use super::upload::Spooled;
use crate::protocol::{
    GitInfo, PackageRecord, PackageSummary, Permissions, PrebuiltRecord, VersionRecord,
};
use crate::untrusted::Untrusted;

// Columns read into the wire types' text fields, and written from them.
impl rusqlite::types::FromSql for Untrusted {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        String::column_result(value).map(Untrusted::from)
    }
}

impl rusqlite::ToSql for Untrusted {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.unescaped().to_sql()
    }
}

/// The database file inside the data folder.
const DATABASE_FILE: &str = "registry.sqlite3";

/// Schema steps; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    publisher TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE TABLE packages (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE grants (
    package TEXT NOT NULL REFERENCES packages(name),
    publisher TEXT NOT NULL,
    PRIMARY KEY (package, publisher)
);
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
CREATE TABLE versions (
    package TEXT NOT NULL REFERENCES packages(name),
    version TEXT NOT NULL,
    manifest TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    size INTEGER NOT NULL,
    publisher TEXT NOT NULL,
    token_id INTEGER NOT NULL REFERENCES tokens(id),
    published_at TEXT NOT NULL,
    yanked_at TEXT,
    git_tag TEXT,
    git_commit TEXT,
    git_repository TEXT,
    downloads INTEGER NOT NULL DEFAULT 0,
    UNIQUE (package, version)
);
CREATE TABLE prebuilts (
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    platform TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    size INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    UNIQUE (package, version, platform),
    FOREIGN KEY (package, version) REFERENCES versions(package, version)
);
"#,
    r#"
-- Versions that differ only in build metadata (`+…`) are one version: they are keyed without it.
ALTER TABLE versions ADD COLUMN version_key TEXT GENERATED ALWAYS AS (
    CASE WHEN instr(version, '+') > 0 THEN substr(version, 1, instr(version, '+') - 1)
         ELSE version END
) VIRTUAL;
CREATE INDEX versions_by_key ON versions (package, version_key);
CREATE TABLE scopes (
    scope TEXT NOT NULL,
    publisher TEXT NOT NULL,
    source TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (scope, publisher)
);
-- The owners of packages published before scopes were held hold their packages' scopes.
INSERT OR IGNORE INTO scopes (scope, publisher, source, since)
    SELECT substr(name, 1, instr(name, '/') - 1), owner, 'first_publish', created_at
    FROM packages WHERE name LIKE '@%/%';
"#,
    r#"
-- Trusted publishing: tokens minted for some packages only, and what they were minted for.
ALTER TABLE tokens ADD COLUMN packages TEXT;
ALTER TABLE tokens ADD COLUMN minted_for TEXT;
-- Which CI identity may publish which package as which publisher. GitLab keeps its project in
-- `repository` and its configuration file in `workflow`; Bitbucket its UUIDs in
-- `repository_owner_id` (the workspace) and `repository`.
CREATE TABLE trusted_publishers (
    id INTEGER PRIMARY KEY,
    publisher TEXT NOT NULL,
    package TEXT NOT NULL,
    provider TEXT NOT NULL,
    issuer TEXT NOT NULL,
    repository TEXT NOT NULL,
    repository_owner_id TEXT,
    workflow TEXT,
    environment TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX trusted_publishers_by_issuer ON trusted_publishers (issuer);
-- ID tokens already exchanged, kept until they expire so none is exchanged twice.
CREATE TABLE id_token_uses (
    replay_key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
"#,
];

/// Refusals and failures of package operations; the API maps each to a status and code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("cannot move the upload's bytes: {0}")]
    Spool(std::io::Error),

    #[error(transparent)]
    Auth(#[from] AuthError),

    #[error("package `{name}` does not exist")]
    PackageNotFound { name: String },

    #[error("version `{version}` of `{name}` does not exist")]
    VersionNotFound { name: String, version: String },

    #[error("no `{platform}` prebuilt for `{name}` `{version}`")]
    PrebuiltNotFound {
        name: String,
        version: String,
        platform: String,
    },

    #[error(
        "publisher `{publisher}` may not publish `{name}`\nhint: ask the owner `{owner}` to add you with `PUT /api/packages/{{name}}/permissions`"
    )]
    NotAPublisher {
        publisher: String,
        name: String,
        owner: String,
    },

    #[error(transparent)]
    ScopeTaken(#[from] ScopeTaken),

    #[error("only the owner `{owner}` may change the permissions of `{name}`")]
    NotTheOwner { name: String, owner: String },

    #[error("`owner` must stay `{owner}`: ownership of `{name}` cannot be transferred")]
    OwnerChange { name: String, owner: String },
}

/// The database connection, shared by the HTTP handlers and the token commands.
pub struct Store {
    connection: Mutex<Connection>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in the prepared `data_dir` and brings its schema
    /// up to date.
    pub fn open(data_dir: &Path) -> Result<Store, RegistryError> {
        let path = data_dir.join(DATABASE_FILE);
        let database = |source| RegistryError::Database {
            path: path.clone(),
            source,
        };
        let mut connection = Connection::open(&path).map_err(database)?;
        connection
            .execute_batch(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(database)?;
        migrate(&mut connection, &path)?;
        Ok(Store {
            connection: Mutex::new(connection),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection; a panic while it was held leaves no open transaction, so poisoning is
    /// ignored.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(connection: &mut Connection, path: &Path) -> Result<(), RegistryError> {
    let database = |source| RegistryError::Database {
        path: path.to_path_buf(),
        source,
    };
    // An IMMEDIATE transaction takes the write lock before reading the version, so two
    // processes opening a fresh data folder at once (`serve` and `token create`) apply each
    // step exactly once; the second waits (busy timeout), then sees it done.
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(database)?;
    let applied: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(database)?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(RegistryError::SchemaTooNew {
            path: path.to_path_buf(),
            found: applied,
            supported: MIGRATIONS.len(),
        });
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(step).map_err(database)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(database)?;
    }
    tx.commit().map_err(database)
}

/// A validated upload of a package version, its tarball spooled to a temporary file.
pub struct NewVersion {
    pub name: String,
    pub version: String,
    pub manifest: String,
    pub payload: Spooled,
    pub git: GitInfo,
    pub publisher: String,
    /// The token that authorised the upload; checked again when the version is committed.
    pub token_id: i64,
}

/// A validated upload of a prebuilt binary for an existing version.
pub struct NewPrebuilt {
    pub name: String,
    pub version: String,
    pub platform: String,
    pub payload: Spooled,
    pub publisher: String,
    pub token_id: i64,
}

/// How an upload ended: stored, or refused because the slot is taken (whatever it holds), by
/// the version as it was published (which may differ from the upload's in build metadata).
pub enum Upload<T> {
    Published(T),
    Exists {
        stored_version: String,
        stored_sha256: String,
    },
}

/// The version without its build metadata: versions with the same key are one version
/// (SemVer ignores build metadata when comparing versions).
pub fn version_key(version: &str) -> &str {
    version.split_once('+').map_or(version, |(key, _)| key)
}

/// Stores a version and its blob in one transaction, unless that version already exists.
pub fn publish(
    connection: &mut Connection,
    mut new: NewVersion,
    at: Timestamp,
) -> Result<Upload<VersionRecord>, StoreError> {
    let now = &at.to_string();
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // The token may have been revoked or expired while the body was arriving.
    auth::still_valid(&tx, new.token_id, at)?;
    if package_owner(&tx, &new.name)?.is_some() {
        require_publisher(&tx, &new.name, &new.publisher)?;
    } else {
        if let Some(scope) = scopes::scope_of(&new.name) {
            scopes::claim(&tx, &new.name, scope, &new.publisher, now)??;
        }
        tx.execute(
            "INSERT INTO packages (name, owner, created_at) VALUES (?1, ?2, ?3)",
            params![new.name, new.publisher, now],
        )?;
    }
    let stored: Option<(String, String)> = tx
        .query_row(
            "SELECT version, sha256 FROM versions WHERE package = ?1 AND version_key = ?2
             ORDER BY rowid LIMIT 1",
            params![new.name, version_key(&new.version)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((stored_version, stored_sha256)) = stored {
        return Ok(Upload::Exists {
            stored_version,
            stored_sha256,
        });
    }
    insert_blob(&tx, &mut new.payload)?;
    tx.execute(
        "INSERT INTO versions (package, version, manifest, sha256, size, publisher, token_id,
                               published_at, git_tag, git_commit, git_repository)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            new.name,
            new.version,
            new.manifest,
            new.payload.sha256,
            new.payload.size as i64,
            new.publisher,
            new.token_id,
            now,
            new.git.tag,
            new.git.commit,
            new.git.repository
        ],
    )?;
    let record = version_record(&tx, &new.name, &new.version)?;
    tx.commit()?;
    Ok(Upload::Published(record))
}

/// Stores a prebuilt binary for an existing version, unless that platform already has one.
pub fn publish_prebuilt(
    connection: &mut Connection,
    mut new: NewPrebuilt,
    at: Timestamp,
) -> Result<Upload<PrebuiltRecord>, StoreError> {
    let now = &at.to_string();
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    auth::still_valid(&tx, new.token_id, at)?;
    require_publisher(&tx, &new.name, &new.publisher)?;
    new.version = stored_version(&tx, &new.name, &new.version)?;
    if let Some(stored) = prebuilt_record(&tx, &new.name, &new.version, &new.platform)? {
        return Ok(Upload::Exists {
            stored_version: new.version,
            stored_sha256: stored.sha256.into_unescaped(),
        });
    }
    insert_blob(&tx, &mut new.payload)?;
    tx.execute(
        "INSERT INTO prebuilts (package, version, platform, sha256, size, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            new.name,
            new.version,
            new.platform,
            new.payload.sha256,
            new.payload.size as i64,
            now
        ],
    )?;
    let record = prebuilt_record(&tx, &new.name, &new.version, &new.platform)?
        .expect("the row was just inserted");
    tx.commit()?;
    Ok(Upload::Published(record))
}

/// Yanks (`yanked = true`) or restores a version; answers whether anything changed.
pub fn set_yanked(
    connection: &mut Connection,
    name: &str,
    version: &str,
    publisher: &str,
    yanked: bool,
    now: &str,
) -> Result<(bool, VersionRecord), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_publisher(&tx, name, publisher)?;
    let version = &stored_version(&tx, name, version)?;
    let changed = if yanked {
        tx.execute(
            "UPDATE versions SET yanked_at = ?3
             WHERE package = ?1 AND version = ?2 AND yanked_at IS NULL",
            params![name, version, now],
        )?
    } else {
        tx.execute(
            "UPDATE versions SET yanked_at = NULL
             WHERE package = ?1 AND version = ?2 AND yanked_at IS NOT NULL",
            params![name, version],
        )?
    };
    let record = version_record(&tx, name, version)?;
    tx.commit()?;
    Ok((changed > 0, record))
}

/// A version's tarball (copied to a temporary file in `dir`) and sha256; counts one download.
pub fn download_tarball(
    connection: &mut Connection,
    name: &str,
    version: &str,
    dir: &Path,
) -> Result<(std::fs::File, String), StoreError> {
    let tx = connection.transaction()?;
    let version = &stored_version(&tx, name, version)?;
    tx.execute(
        "UPDATE versions SET downloads = downloads + 1 WHERE package = ?1 AND version = ?2",
        params![name, version],
    )?;
    let sha256: String = tx.query_row(
        "SELECT sha256 FROM versions WHERE package = ?1 AND version = ?2",
        params![name, version],
        |row| row.get(0),
    )?;
    let file = blob_to_file(&tx, &sha256, dir)?;
    tx.commit()?;
    Ok((file, sha256))
}

/// A prebuilt binary (copied to a temporary file in `dir`) and its sha256.
pub fn prebuilt_file(
    connection: &Connection,
    name: &str,
    version: &str,
    platform: &str,
    dir: &Path,
) -> Result<(std::fs::File, String), StoreError> {
    let version = &stored_version(connection, name, version)?;
    let sha256: String = connection
        .query_row(
            "SELECT sha256 FROM prebuilts WHERE package = ?1 AND version = ?2 AND platform = ?3",
            params![name, version, platform],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::PrebuiltNotFound {
            name: name.to_string(),
            version: version.to_string(),
            platform: platform.to_string(),
        })?;
    Ok((blob_to_file(connection, &sha256, dir)?, sha256))
}

/// One version's record, found by its key: `1.0.0+b` finds `1.0.0` as it was published.
pub fn version(
    connection: &Connection,
    name: &str,
    version: &str,
) -> Result<VersionRecord, StoreError> {
    let version = stored_version(connection, name, version)?;
    version_record(connection, name, &version)
}

/// A package with every version (yanked included) in SemVer order.
pub fn package(connection: &Connection, name: &str) -> Result<PackageRecord, StoreError> {
    let owner = package_owner(connection, name)?.ok_or_else(|| package_not_found(name))?;
    let mut versions = Vec::new();
    for version in version_strings(connection, name)? {
        versions.push(version_record(connection, name, &version)?);
    }
    Ok(PackageRecord {
        name: name.into(),
        owner: owner.into(),
        downloads: versions.iter().map(|v| v.downloads).sum(),
        versions,
    })
}

/// The packages `owner` owns, for `GET /packages?owner=me`.
pub fn owned_packages(
    connection: &Connection,
    owner: &str,
) -> Result<Vec<PackageSummary>, StoreError> {
    let mut statement =
        connection.prepare("SELECT name FROM packages WHERE owner = ?1 ORDER BY name")?;
    let names = statement
        .query_map([owner], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    names
        .into_iter()
        .map(|name| {
            let record = package(connection, &name)?;
            Ok(PackageSummary {
                latest: record
                    .versions
                    .iter()
                    .rev()
                    .find(|v| !v.yanked)
                    .map(|v| v.version.clone()),
                versions: record.versions.len(),
                downloads: record.downloads,
                owner: record.owner,
                name: name.into(),
            })
        })
        .collect()
}

/// Who may publish a package: its owner and the publishers the owner granted.
pub fn permissions(connection: &Connection, name: &str) -> Result<Permissions, StoreError> {
    let owner = package_owner(connection, name)?.ok_or_else(|| package_not_found(name))?;
    let mut statement =
        connection.prepare("SELECT publisher FROM grants WHERE package = ?1 ORDER BY publisher")?;
    let publishers = statement
        .query_map([name], |row| row.get(0))?
        .collect::<Result<Vec<Untrusted>, _>>()?;
    Ok(Permissions {
        name: name.into(),
        owner: owner.into(),
        publishers,
    })
}

/// Replaces a package's granted publishers; only its owner may.
pub fn set_publishers(
    connection: &mut Connection,
    name: &str,
    caller: &str,
    owner: Option<&str>,
    publishers: &[String],
) -> Result<Permissions, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = package_owner(&tx, name)?.ok_or_else(|| package_not_found(name))?;
    if current != caller {
        return Err(StoreError::NotTheOwner {
            name: name.to_string(),
            owner: current,
        });
    }
    if owner.is_some_and(|owner| owner != current) {
        return Err(StoreError::OwnerChange {
            name: name.to_string(),
            owner: current,
        });
    }
    tx.execute("DELETE FROM grants WHERE package = ?1", [name])?;
    for publisher in publishers.iter().filter(|p| **p != current) {
        tx.execute(
            "INSERT OR IGNORE INTO grants (package, publisher) VALUES (?1, ?2)",
            params![name, publisher],
        )?;
    }
    let result = permissions(&tx, name)?;
    tx.commit()?;
    Ok(result)
}

fn package_owner(connection: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    connection
        .query_row(
            "SELECT owner FROM packages WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
}

/// Refuses unless `publisher` owns `name` or was granted it.
fn require_publisher(tx: &Transaction, name: &str, publisher: &str) -> Result<(), StoreError> {
    let owner = package_owner(tx, name)?.ok_or_else(|| package_not_found(name))?;
    let granted: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM grants WHERE package = ?1 AND publisher = ?2)",
        params![name, publisher],
        |row| row.get(0),
    )?;
    if owner == publisher || granted {
        Ok(())
    } else {
        Err(StoreError::NotAPublisher {
            publisher: publisher.to_string(),
            name: name.to_string(),
            owner,
        })
    }
}

/// The version as it was published under `version`'s key: the exact string first (a registry
/// from before keys may hold several), else the first published.
fn stored_version(
    connection: &Connection,
    name: &str,
    version: &str,
) -> Result<String, StoreError> {
    if package_owner(connection, name)?.is_none() {
        return Err(package_not_found(name));
    }
    connection
        .query_row(
            "SELECT version FROM versions WHERE package = ?1 AND version_key = ?2
             ORDER BY version = ?3 DESC, rowid LIMIT 1",
            params![name, version_key(version), version],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| version_not_found(name, version))
}

/// Stores a spooled payload as a blob, copied in chunks so it is never in memory whole.
fn insert_blob(tx: &Transaction, payload: &mut Spooled) -> Result<(), StoreError> {
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO blobs (sha256, bytes) VALUES (?1, zeroblob(?2))",
        params![payload.sha256, payload.size as i64],
    )?;
    if inserted == 0 {
        return Ok(());
    }
    let mut blob = tx.blob_open(MAIN_DB, "blobs", "bytes", tx.last_insert_rowid(), false)?;
    payload.file.rewind().map_err(StoreError::Spool)?;
    std::io::copy(&mut payload.file, &mut blob).map_err(StoreError::Spool)?;
    Ok(())
}

/// Copies a stored blob into an unnamed temporary file in `dir`, in chunks.
fn blob_to_file(
    connection: &Connection,
    sha256: &str,
    dir: &Path,
) -> Result<std::fs::File, StoreError> {
    let rowid: i64 = connection.query_row(
        "SELECT rowid FROM blobs WHERE sha256 = ?1",
        [sha256],
        |row| row.get(0),
    )?;
    let mut blob = connection.blob_open(MAIN_DB, "blobs", "bytes", rowid, true)?;
    let mut file = tempfile::tempfile_in(dir).map_err(StoreError::Spool)?;
    std::io::copy(&mut blob, &mut file).map_err(StoreError::Spool)?;
    file.rewind().map_err(StoreError::Spool)?;
    Ok(file)
}

fn version_strings(connection: &Connection, name: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare("SELECT version FROM versions WHERE package = ?1")?;
    let mut versions = statement
        .query_map([name], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    // Stored versions were validated on publish, so they parse.
    versions.sort_by_cached_key(|v| Version::parse(v).ok());
    Ok(versions)
}

fn version_record(
    connection: &Connection,
    name: &str,
    version: &str,
) -> Result<VersionRecord, StoreError> {
    let mut record = connection.query_row(
        "SELECT sha256, size, yanked_at, publisher, published_at, downloads,
                git_tag, git_commit, git_repository
         FROM versions WHERE package = ?1 AND version = ?2",
        params![name, version],
        |row| {
            let yanked_at: Option<Untrusted> = row.get(2)?;
            Ok(VersionRecord {
                name: name.into(),
                version: version.into(),
                sha256: row.get(0)?,
                size: count(row, 1)?,
                yanked: yanked_at.is_some(),
                yanked_at,
                publisher: row.get(3)?,
                published_at: row.get(4)?,
                downloads: count(row, 5)?,
                git: GitInfo {
                    tag: row.get(6)?,
                    commit: row.get(7)?,
                    repository: row.get(8)?,
                },
                prebuilts: Vec::new(),
            })
        },
    )?;
    let mut statement = connection.prepare(
        "SELECT platform, sha256, size, published_at FROM prebuilts
         WHERE package = ?1 AND version = ?2 ORDER BY platform",
    )?;
    record.prebuilts = statement
        .query_map(params![name, version], prebuilt_row)?
        .collect::<Result<_, _>>()?;
    Ok(record)
}

fn prebuilt_record(
    connection: &Connection,
    name: &str,
    version: &str,
    platform: &str,
) -> rusqlite::Result<Option<PrebuiltRecord>> {
    connection
        .query_row(
            "SELECT platform, sha256, size, published_at FROM prebuilts
             WHERE package = ?1 AND version = ?2 AND platform = ?3",
            params![name, version, platform],
            prebuilt_row,
        )
        .optional()
}

fn prebuilt_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PrebuiltRecord> {
    Ok(PrebuiltRecord {
        platform: row.get(0)?,
        sha256: row.get(1)?,
        size: count(row, 2)?,
        published_at: row.get(3)?,
    })
}

/// A size or counter column, stored as SQLite's signed integer.
fn count(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(column)?;
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(column, value))
}

fn package_not_found(name: &str) -> StoreError {
    StoreError::PackageNotFound {
        name: name.to_string(),
    }
}

fn version_not_found(name: &str, version: &str) -> StoreError {
    StoreError::VersionNotFound {
        name: name.to_string(),
        version: version.to_string(),
    }
}
