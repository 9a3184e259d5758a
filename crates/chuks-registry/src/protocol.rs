//! The registry wire format of `docs/registry-api.md`, typed once: what `registry_client` sends
//! and reads, and what `registry_server` parses and answers.
//!
//! Uploads carry their payload as a base64 string field next to a small head; the head types
//! here leave the payload out so the client can stream it from disk after the serialised head.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::untrusted::Untrusted;

/// Where the API lives below a registry's base URL: the official CLI appends it to
/// `CHUKS_REGISTRY_URL`, and the reference registry serves its routes there too.
pub const API_PREFIX: &str = "/api";

/// The JSON field of a source publish that carries the base64 tarball; sent last.
pub const SOURCE_PAYLOAD_FIELD: &str = "tarball";

/// The JSON field of a prebuilt upload that carries the base64 binary; sent last.
pub const PREBUILT_PAYLOAD_FIELD: &str = "binary";

/// Where a version came from in git; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub tag: Option<Untrusted>,
    pub commit: Option<Untrusted>,
    pub repository: Option<Untrusted>,
}

/// `POST /packages/{name}/{version}` without its [`SOURCE_PAYLOAD_FIELD`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcePublishHead {
    pub manifest: Value,
    pub sha256: String,
    pub size: u64,
    #[serde(default)]
    pub git: Option<GitInfo>,
}

/// `POST /packages/{name}/{version}/prebuilt` without its [`PREBUILT_PAYLOAD_FIELD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrebuiltPublishHead {
    pub platform: String,
    pub sha256: String,
    pub size: u64,
}

/// One platform's prebuilt binary of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrebuiltRecord {
    pub platform: Untrusted,
    pub sha256: Untrusted,
    pub size: u64,
    pub published_at: Untrusted,
}

/// A published version as the registry reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub name: Untrusted,
    pub version: Untrusted,
    pub sha256: Untrusted,
    pub size: u64,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default)]
    pub yanked_at: Option<Untrusted>,
    pub publisher: Untrusted,
    pub published_at: Untrusted,
    #[serde(default)]
    pub downloads: u64,
    #[serde(default)]
    pub git: GitInfo,
    #[serde(default)]
    pub prebuilts: Vec<PrebuiltRecord>,
}

/// How a publish ended on the registry's side. An overwrite is never a result: it is refused
/// with `409 version_exists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishResult {
    Published,
}

/// A publish answer: `{"result": …, …record}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishAnswer<R> {
    pub result: PublishResult,
    #[serde(flatten)]
    pub record: R,
}

/// The record a prebuilt upload answers with: the version it belongs to, and the binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrebuiltAnswerRecord {
    pub name: Untrusted,
    pub version: Untrusted,
    #[serde(flatten)]
    pub prebuilt: PrebuiltRecord,
}

/// The part of either publish answer a client checks: the sha256 the registry stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDigest {
    pub sha256: Untrusted,
}

/// `GET /tokens/self` (and `registry token list --format json`): a token's metadata, never the
/// token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: Untrusted,
    pub publisher: Untrusted,
    pub scopes: Vec<Untrusted>,
    pub status: Untrusted,
    pub created_at: Untrusted,
    pub expires_at: Untrusted,
    pub last_used_at: Option<Untrusted>,
    pub revoked_at: Option<Untrusted>,
}

/// GitHub Actions' issuer, the default of a GitHub trusted publisher.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// GitLab.com's issuer, the default of a GitLab trusted publisher.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// `GET /oidc/audience`: the `aud` an ID token must carry for this registry's exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAudience {
    pub audience: Untrusted,
}

/// The body of `POST /oidc/token`: a CI's OIDC ID token to exchange. It is a secret.
#[derive(Serialize, Deserialize)]
pub struct OidcExchangeRequest {
    pub token: String,
}

/// The answer to `POST /oidc/token`: a short-lived `chuks_pk_` token (a secret, never shown),
/// when it expires, and what it may do.
#[derive(Serialize, Deserialize)]
pub struct OidcExchangeAnswer {
    pub token: String,
    pub expires_at: Untrusted,
    pub scopes: Vec<Untrusted>,
    pub packages: Vec<Untrusted>,
}

/// The claims of an ID token that decide a trusted-publisher match, as a refusal
/// (`no_trusted_publisher`) reports them in its `claims` field, and `trust explain` shows them.
/// A claim the token lacks is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_owner_id: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_ref: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_workflow_ref: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_path: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_config_ref_uri: Option<Untrusted>,
    #[serde(
        default,
        rename = "workspaceUuid",
        skip_serializing_if = "Option::is_none"
    )]
    pub workspace_uuid: Option<Untrusted>,
    #[serde(
        default,
        rename = "repositoryUuid",
        skip_serializing_if = "Option::is_none"
    )]
    pub repository_uuid: Option<Untrusted>,
}

/// In a `no_trusted_publisher` refusal's `mismatch` field: the one claim that kept the closest
/// trusted publisher from matching. `expected` is absent when the repository (or project,
/// or Bitbucket repository) itself matched none, so a refusal never reveals other publishers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMismatch {
    pub claim: Untrusted,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Untrusted>,
    #[serde(default)]
    pub found: Option<Untrusted>,
}

/// What a token minted by trusted publishing was minted for, kept for audit: the trusted
/// publisher that matched and the run's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedFor {
    /// The id of the trusted publisher (`registry trust list`) that matched first.
    pub trusted_publisher: i64,
    pub provider: Untrusted,
    pub issuer: Untrusted,
    #[serde(default)]
    pub repository: Option<Untrusted>,
    #[serde(default)]
    pub workflow: Option<Untrusted>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<Untrusted>,
    #[serde(default)]
    pub sha: Option<Untrusted>,
    #[serde(default)]
    pub run_id: Option<Untrusted>,
}

/// A token's metadata with what restricts it beyond its scopes: `GET /tokens/self`, `DELETE
/// /tokens/self` and `registry token list --format json`. Both extra fields are absent for an
/// ordinary token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenDetails {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The only packages the token may publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<Untrusted>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_publishing: Option<MintedFor>,
}

/// What a yank or restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YankResult {
    Yanked,
    Restored,
}

/// `POST …/yank` and `…/restore`: `{"result", "changed", …version}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YankAnswer {
    pub result: YankResult,
    /// False when the version already was in the requested state.
    #[serde(default)]
    pub changed: bool,
    #[serde(flatten)]
    pub record: VersionRecord,
}

/// `GET /packages/{name}`: a package with every version (yanked included) in SemVer order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub name: Untrusted,
    pub owner: Untrusted,
    pub downloads: u64,
    pub versions: Vec<VersionRecord>,
}

/// One package of the `GET /packages?owner=me` listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSummary {
    pub name: Untrusted,
    pub owner: Untrusted,
    pub latest: Option<Untrusted>,
    pub versions: usize,
    pub downloads: u64,
}

/// `GET /packages?owner=me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageListing {
    pub packages: Vec<PackageSummary>,
}

/// `GET /packages/{name}/permissions`, and the answer to `PUT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub name: Untrusted,
    pub owner: Untrusted,
    pub publishers: Vec<Untrusted>,
}

/// The body of `PUT /packages/{name}/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionsRequest {
    #[serde(default)]
    pub owner: Option<String>,
    pub publishers: Vec<String>,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: Untrusted,
}

/// Every error answer: `{"error": {"code", "message", …extra}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: Untrusted,
    /// The documented extensions of some codes (`stored_sha256`, `revoked_at`, `scope`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorDetail {
    /// A string extension field, e.g. `stored_sha256`.
    pub fn field(&self, name: &str) -> Option<Untrusted> {
        self.extra
            .get(name)
            .and_then(Value::as_str)
            .map(Untrusted::from)
    }
}

/// Declares [`ErrorCode`] with the wire spelling of each variant, written once.
macro_rules! error_codes {
    ($($variant:ident => $code:literal,)*) => {
        /// The documented error codes; a code this crate does not know keeps its text in `Other`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
            Other(Untrusted),
        }

        impl ErrorCode {
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(code) => code.unescaped(),
                }
            }

            pub fn parse(code: &str) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(Untrusted::from(other)),
                }
            }
        }
    };
}

error_codes! {
    InvalidJson => "invalid_json",
    InvalidBody => "invalid_body",
    InvalidBase64 => "invalid_base64",
    InvalidName => "invalid_name",
    InvalidVersion => "invalid_version",
    InvalidQuery => "invalid_query",
    IncompleteBody => "incomplete_body",
    BadRequest => "bad_request",
    MissingToken => "missing_token",
    NotAnApiToken => "not_an_api_token",
    InvalidToken => "invalid_token",
    TokenRevoked => "token_revoked",
    TokenExpired => "token_expired",
    MissingScope => "missing_scope",
    NotAPublisher => "not_a_publisher",
    NotTheOwner => "not_the_owner",
    NotFound => "not_found",
    PackageNotFound => "package_not_found",
    VersionNotFound => "version_not_found",
    PrebuiltNotFound => "prebuilt_not_found",
    MethodNotAllowed => "method_not_allowed",
    VersionExists => "version_exists",
    PackageTooLarge => "package_too_large",
    ChecksumMismatch => "checksum_mismatch",
    SizeMismatch => "size_mismatch",
    ManifestMismatch => "manifest_mismatch",
    InvalidManifest => "invalid_manifest",
    UnknownPlatform => "unknown_platform",
    InvalidPermissions => "invalid_permissions",
    RateLimited => "rate_limited",
    Internal => "internal",
    UploadTimeout => "upload_timeout",
    InvalidGit => "invalid_git",
    InvalidTarball => "invalid_tarball",
    TarballManifestMismatch => "tarball_manifest_mismatch",
    HeaderTimeout => "header_timeout",
    UriTooLong => "uri_too_long",
    HeadersTooLarge => "headers_too_large",
    InvalidContentLength => "invalid_content_length",
    TooManyAuthFailures => "too_many_auth_failures",
    DuplicateMember => "duplicate_member",
    UnsafeMember => "unsafe_member",
    ScopeTaken => "scope_taken",
    InvalidIdToken => "invalid_id_token",
    NoTrustedPublisher => "no_trusted_publisher",
    IdTokenReplayed => "id_token_replayed",
    IssuerUnavailable => "issuer_unavailable",
}

/// A code the registry invented is shown escaped: it is the registry's text.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Other(code) => code.fmt(f),
            known => f.write_str(known.as_str()),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_and_unknown_ones_are_kept() {
        for code in ["version_exists", "token_revoked", "internal"] {
            assert_eq!(ErrorCode::parse(code).as_str(), code);
            assert!(!matches!(ErrorCode::parse(code), ErrorCode::Other(_)));
        }
        let foreign: ErrorBody =
            serde_json::from_str(r#"{"error": {"code": "E_DUP", "message": "m", "n": 1}}"#)
                .unwrap();
        assert_eq!(foreign.error.code, ErrorCode::Other("E_DUP".into()));
        assert_eq!(
            serde_json::to_string(&foreign).unwrap(),
            r#"{"error":{"code":"E_DUP","message":"m","n":1}}"#
        );
    }

    #[test]
    fn a_publish_head_serialises_in_wire_order() {
        let head = PrebuiltPublishHead {
            platform: "linux-x86_64".to_string(),
            sha256: "ab".to_string(),
            size: 3,
        };
        assert_eq!(
            serde_json::to_string(&head).unwrap(),
            r#"{"platform":"linux-x86_64","sha256":"ab","size":3}"#
        );
    }
}
