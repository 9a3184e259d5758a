//! Command-line definitions (clap derive). Parsing only: behaviour lives in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use secrecy::SecretString;

/// Secrets from the command line go straight into a type whose `Debug` redacts them.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// The longest duration a flag takes: a week. Longer ones are mistakes, and a deadline computed
/// from `u64::MAX` seconds would overflow.
const MAX_SECONDS: u64 = 7 * 24 * 3600;

/// Parses a number of seconds from `min` to [`MAX_SECONDS`].
fn seconds(min: u64) -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(min..=MAX_SECONDS)
}

#[derive(Debug, Parser)]
#[command(
    name = "chuks-ci",
    version,
    about = "Publish Chuks packages from CI: verify the tag, pack, upload, confirm.",
    propagate_version = true
)]
pub struct Cli {
    /// Output format for results on stdout.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,

    /// Print more detail on stderr (-v: steps, -vv: HTTP traffic without secrets).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// `--format`: how results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
}

/// `--confirm-tag`: whether to ask the forge about the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfirmTagArg {
    /// Confirm when credentials exist; otherwise print one notice saying how to enable it.
    Auto,
    /// Missing credentials are an error.
    Required,
    /// Never ask the forge.
    Off,
}

/// `--if-exists`: what a version (or prebuilt) the registry already holds means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IfExists {
    /// The same bytes are `unchanged`; other bytes fail (bump the version); a registry that does
    /// not say what it holds gives `exists`, with a warning.
    Verify,
    /// `exists`, with a warning, even for other bytes: for prebuilt binaries, which rebuild to
    /// other bytes.
    Skip,
    /// Fail for anything not proven identical.
    Error,
}

/// `--uploader`: what sends the bytes to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UploaderArg {
    /// `http` for `--local-registry` and loopback registries; otherwise the official CLI when it
    /// is found, else `http`.
    Auto,
    /// The official `chuks` CLI (`chuks publish`), the one client of the real registry's
    /// source-publish protocol.
    Chuks,
    /// chuks-ci's own HTTP client, speaking docs/registry-api.md.
    Http,
}

/// How to pick and run the uploader.
#[derive(Debug, Clone, Args)]
pub struct UploaderArgs {
    /// What uploads: `auto`, `chuks` (the official CLI) or `http`.
    #[arg(
        long,
        value_enum,
        value_name = "UPLOADER",
        env = "CHUKS_UPLOADER",
        default_value = "auto"
    )]
    pub uploader: UploaderArg,

    /// The official `chuks` binary; default `CHUKS_BIN`, then `chuks` on PATH.
    #[arg(long, value_name = "PATH")]
    pub chuks_bin: Option<PathBuf>,

    /// Seconds the official CLI may take for one upload before it is stopped (at most a week).
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = seconds(1))]
    pub upload_timeout: u64,
}

/// `--trusted-publishing`: whether to exchange the CI's OIDC ID token for a short-lived token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrustedPublishingArg {
    /// When no token is given and the CI offers an ID token.
    Auto,
    /// Always, unless a token is given; any failure to exchange is an error.
    Always,
    /// Never: a token is needed.
    Never,
}

#[derive(Debug, Clone, Args)]
pub struct TrustedPublishingArgs {
    /// Exchange the CI's OIDC ID token for a short-lived token (trusted publishing): `auto`
    /// (when no token is given and the CI offers one), `always` or `never`. A token given
    /// always wins.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        env = "CHUKS_TRUSTED_PUBLISHING",
        default_value = "auto"
    )]
    pub trusted_publishing: TrustedPublishingArg,
}

/// The CI platform `init` writes a pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitPlatformArg {
    Github,
    Gitlab,
    Bitbucket,
}

/// Which pipeline `init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitExampleArg {
    /// One package at the repository root, published on `v*` tags.
    SinglePackage,
    /// The package, then its native shim built per platform and published with `--prebuilt`.
    PrebuiltBinaries,
    /// Two packages in one repository, released with tags like `@scope/name@1.2.0`.
    Monorepo,
    /// One package published with no stored secret: the job's OIDC ID token is exchanged for a
    /// short-lived token (trusted publishing).
    TrustedPublishing,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that the release tag matches `version` in chuks.json (a local dry run too).
    VerifyTag(VerifyTagArgs),
    /// Build the package tarball exactly as `publish` would upload it.
    Pack(PackArgs),
    /// Verify the tag, pack, upload to the registry, and read the version back.
    Publish(PublishArgs),
    /// Preflight a release: the tag checks, tag confirmation on the forge, and the token.
    Check(CheckArgs),
    /// Show the token's name, publisher, scopes, expiry and last use (never the token).
    Whoami(WhoamiArgs),
    /// Yank a published version (default: the manifest's); it stays downloadable by exact version.
    Yank(YankArgs),
    /// Restore a yanked version.
    Restore(RestoreArgs),
    /// Run the reference Chuks registry and manage its tokens.
    #[cfg(feature = "local-registry")]
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Write a tag-triggered publish pipeline for GitHub, GitLab or Bitbucket into a repository.
    Init(InitArgs),
    /// Bump `version` in chuks.json, commit, tag the release, and with `--push` push both.
    Bump(BumpArgs),
    /// Install the pre-push guard against mismatched release tags, or run it.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Trusted publishing: see what this job's OIDC ID token says and what would trust it.
    #[command(subcommand)]
    Trust(TrustExplainCommand),
    /// For chuks-ci's maintainers: keep the committed pipeline files current.
    #[command(subcommand, hide = true)]
    Maintain(MaintainCommand),
}

/// `chuks-ci trust`: this job's identity, as trusted publishing sees it.
#[derive(Debug, Subcommand)]
pub enum TrustExplainCommand {
    /// Decode this job's OIDC ID token WITHOUT verifying it, show the claims a trusted
    /// publisher is matched on, and the `registry trust add` line that would accept it.
    Explain(TrustExplainArgs),
}

#[derive(Debug, Args)]
pub struct TrustExplainArgs {
    /// Read the ID token from this file instead of asking the CI for one.
    #[arg(long, value_name = "PATH")]
    pub id_token_file: Option<PathBuf>,

    /// The package the `registry trust add` line names; default the manifest's `name`.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,

    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub registry: RegistryUrlArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    /// Path to the package's chuks.json.
    #[arg(long, value_name = "PATH", default_value = "chuks.json")]
    pub manifest: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct TagArgs {
    /// The release tag; by default read from the CI environment, then from git tags at HEAD.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// A prefix before the version in tags, e.g. `numpy-v` for `numpy-v1.2.0`.
    #[arg(long, value_name = "PREFIX")]
    pub tag_prefix: Option<String>,

    /// Let files git does not track (and does not ignore) ship: in CI they are an error
    /// otherwise, since the release would hold files its commit does not.
    #[arg(long)]
    pub allow_untracked: bool,
}

#[derive(Debug, Args)]
pub struct VerifyTagArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub tag: TagArgs,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WorkspaceArgs {
    /// Every package of the repository whose release tag (`name@1.2.0`, `name/v1.2.0`, or its
    /// `tag-prefix` in chuks-workspace.json) points at HEAD, in dependency order.
    #[arg(long, conflicts_with_all = ["tag", "tag_prefix"])]
    pub workspace: bool,

    /// With `--workspace`: only this package (repeatable).
    #[arg(long = "package", value_name = "NAME", requires = "workspace")]
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PackOptions {
    /// Include this file even though the leak guard refuses it; relative to the package folder
    /// (repeatable).
    #[arg(long = "allow-file", value_name = "PATH")]
    pub allow_files: Vec<PathBuf>,

    /// Refuse packages whose files add up to more than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::pack::DEFAULT_MAX_UNPACKED_BYTES)]
    pub max_size: u64,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub pack: PackOptions,

    /// Print every file with its size and sha256, then the totals; write nothing without `--output`.
    #[arg(long)]
    pub list: bool,

    /// Write the tarball here (default: `<name>-<version>.tgz` in the current folder; none with `--list`).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The API token (`chuks_pk_…`). Prefer `CHUKS_TOKEN`: arguments are visible to other processes.
    #[arg(long, value_name = "TOKEN", value_parser = secret)]
    pub token: Option<SecretString>,

    /// Read the API token from standard input (used when neither `--token` nor `CHUKS_TOKEN` is set).
    #[arg(long, conflicts_with = "token")]
    pub token_stdin: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RegistryUrlArgs {
    /// The registry URL; default `CHUKS_REGISTRY_URL`, then https://registry.chuks.org/backend.
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct NetworkArgs {
    /// Retries after the first attempt for connect errors, timeouts, 408, 429 and 5xx (at most
    /// 20).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,

    /// Seconds to wait for a connection (at least 1, at most a week).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = seconds(1))]
    pub connect_timeout: u64,

    /// Seconds without any progress before a transfer is abandoned, at least 1, at most a week
    /// (there is no total limit).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = seconds(1))]
    pub stall_timeout: u64,
}

/// How to reach the registry: the token, its URL, and the network behaviour.
#[derive(Debug, Clone, Args)]
pub struct RegistryAccessArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub registry: RegistryUrlArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ForgeArgs {
    /// Check on GitHub, GitLab or Bitbucket that the tag exists there and points at the CI's
    /// commit: `auto` when credentials exist, `required` to fail without them, or `off`.
    #[arg(long, value_enum, value_name = "MODE", default_value = "auto")]
    pub confirm_tag: ConfirmTagArg,

    /// GitHub token for tag confirmation; default `GITHUB_TOKEN`.
    #[arg(long, value_name = "TOKEN", value_parser = secret)]
    pub github_token: Option<SecretString>,
}

#[derive(Debug, Clone, Args)]
pub struct PreflightArgs {
    /// Warn when the token expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub expiry_warning_days: i64,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub tag: TagArgs,
    #[command(flatten)]
    pub pack: PackOptions,
    #[command(flatten)]
    pub access: RegistryAccessArgs,
    #[command(flatten)]
    pub forge: ForgeArgs,
    #[command(flatten)]
    pub preflight: PreflightArgs,
    #[command(flatten)]
    pub trusted_publishing: TrustedPublishingArgs,
    #[command(flatten)]
    pub uploader: UploaderArgs,

    /// Upload one platform's prebuilt binary for the manifest's version instead of the source
    /// (`--prebuilt-only`, as the official CLI calls it, works too).
    #[arg(long, visible_alias = "prebuilt-only", requires = "file")]
    pub prebuilt: bool,

    /// The prebuilt's platform: `darwin-arm64`, `darwin-x86_64`, `linux-x86_64`,
    /// `linux-aarch64`, `windows-x86_64`, or `auto` for this host.
    #[arg(long, value_name = "ID", default_value = "auto", requires = "prebuilt")]
    pub platform: String,

    /// The prebuilt binary to upload.
    #[arg(long, value_name = "PATH", requires = "prebuilt")]
    pub file: Option<PathBuf>,

    /// Publish to a reference registry run inside this process, storing its data in DIR, with a
    /// freshly minted publish-only token. For rehearsing a release on your machine.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["registry", "token", "token_stdin"])]
    pub local_registry: Option<PathBuf>,

    /// Do everything except the upload.
    #[arg(long)]
    pub dry_run: bool,

    /// When the registry already holds this version: `verify` it holds our bytes, `skip` it
    /// whatever it holds, or fail (`error`) unless it is proven identical.
    #[arg(long, value_enum, value_name = "MODE", default_value = "verify")]
    pub if_exists: IfExists,

    /// Seconds to wait, after the upload, for the registry to show the version with our sha256,
    /// tag and commit (at most a week).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = seconds(0))]
    pub confirm_timeout: u64,

    #[command(flatten)]
    pub workspace: WorkspaceArgs,

    /// With `--workspace`: every package of the workspace whose version the registry does not
    /// hold yet, tagged at HEAD or not (a package without a tag is released untagged); what the
    /// registry holds already is left as it is (`exists` or `unchanged`).
    #[arg(long, requires = "workspace")]
    pub unpublished: bool,

    /// With `--workspace`: how many packages whose dependencies are published may upload at once.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16), requires = "workspace")]
    pub jobs: u16,

    /// Also write the results as a dotenv file (for GitLab's `artifacts: reports: dotenv`).
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub tag: TagArgs,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub access: RegistryAccessArgs,
    #[command(flatten)]
    pub forge: ForgeArgs,
    #[command(flatten)]
    pub preflight: PreflightArgs,
    #[command(flatten)]
    pub trusted_publishing: TrustedPublishingArgs,
    #[command(flatten)]
    pub uploader: UploaderArgs,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub access: RegistryAccessArgs,
}

#[derive(Debug, Args)]
pub struct YankArgs {
    /// The version to yank; default the manifest's `version`.
    #[arg(value_name = "VERSION")]
    pub package_version: Option<String>,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub access: RegistryAccessArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The version to restore.
    #[arg(value_name = "VERSION")]
    pub package_version: String,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub access: RegistryAccessArgs,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Serve the registry API over HTTP until Ctrl-C.
    Serve(ServeArgs),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Grant, list and revoke who may create packages under a scope (`@name`).
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Add, list and remove trusted publishers: the CI workflows that may publish a package
    /// with no stored token, by exchanging their OIDC ID token.
    #[command(subcommand)]
    Trust(TrustCommand),
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    /// Folder holding the registry's SQLite database and blobs.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArgs,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,

    /// Largest package (decoded tarball) accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::registry_server::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_package_bytes: u64,

    /// Largest size a published tarball may unpack to, in bytes (its tar stream: headers,
    /// contents and padding).
    #[arg(long, value_name = "BYTES", default_value_t = crate::registry_server::DEFAULT_MAX_UNPACKED_BYTES)]
    pub max_unpacked_bytes: u64,

    /// Answer 429 with `Retry-After` once more than this many requests arrive in one second.
    #[arg(long, value_name = "PER_SECOND")]
    pub rate_limit: Option<u32>,

    /// Seconds a client may take to send a request's line and headers.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::registry_server::DEFAULT_HEADER_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,

    /// Seconds an upload's body may go without a byte arriving.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::registry_server::DEFAULT_BODY_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub body_idle_timeout: u64,

    /// Seconds an upload's body may take from its first byte to its last.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::registry_server::DEFAULT_UPLOAD_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_timeout: u64,

    /// Unknown or malformed tokens one client address may present per minute; past that it gets
    /// 429 with `Retry-After` until the minute ends.
    #[arg(long, value_name = "COUNT", default_value_t = crate::registry_server::DEFAULT_AUTH_FAILURES_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_per_minute: u32,

    /// An OIDC issuer whose ID tokens trusted publishing accepts; repeat for several. Giving any
    /// replaces the defaults (GitHub Actions' and GitLab.com's). Plain http only on loopback.
    #[arg(long = "oidc-issuer", value_name = "URL", default_values = [crate::protocol::GITHUB_ISSUER, crate::protocol::GITLAB_ISSUER])]
    pub oidc_issuers: Vec<String>,

    /// The audience (`aud`) ID tokens must carry; `GET /api/oidc/audience` announces it.
    #[arg(long, value_name = "AUDIENCE", default_value = crate::registry_server::DEFAULT_AUDIENCE)]
    pub oidc_audience: String,

    /// Minutes a token minted by trusted publishing lives.
    #[arg(long, value_name = "MINUTES", default_value_t = crate::registry_server::DEFAULT_MINTED_TOKEN_LIFETIME.as_secs() / 60, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub minted_token_minutes: u64,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a CI workflow to publish a package as a publisher; the package may not exist yet
    /// (its first publish creates it, owned by the publisher).
    Add(Box<TrustAddArgs>),
    /// Show every trusted publisher.
    List(DataDirArgs),
    /// Stop trusting one, by the id `trust list` shows.
    Remove(TrustRemoveArgs),
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrustProviderArg {
    Github,
    Gitlab,
    Bitbucket,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Args)]
pub struct TrustAddArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The publisher the minted tokens act as (the package's owner, or one it granted).
    #[arg(long)]
    pub publisher: String,
    /// The package, as `name` in chuks.json.
    #[arg(long)]
    pub package: String,
    /// The CI whose ID tokens are trusted.
    #[arg(long, value_enum)]
    pub provider: TrustProviderArg,
    /// The issuer (`iss`) of the ID tokens; default GitHub Actions' or GitLab.com's. Required
    /// for Bitbucket, whose issuer is per workspace.
    #[arg(long, value_name = "URL", required_if_eq("provider", "bitbucket"))]
    pub issuer: Option<String>,
    /// GitHub: the repository, `OWNER/REPO`.
    #[arg(long, value_name = "OWNER/REPO", required_if_eq("provider", "github"))]
    pub repository: Option<String>,
    /// GitHub: the numeric id of the repository's owner, so a re-created account of the same
    /// name is not trusted.
    #[arg(long, value_name = "N")]
    pub repository_owner_id: Option<String>,
    /// GitHub: the workflow file's name in `.github/workflows/` (the caller's or a reusable one).
    #[arg(long, value_name = "FILE", required_if_eq("provider", "github"))]
    pub workflow: Option<String>,
    /// GitHub, GitLab: the deployment environment the job must run in.
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    /// GitLab: the project, `GROUP/PROJECT`.
    #[arg(
        long,
        value_name = "GROUP/PROJECT",
        required_if_eq("provider", "gitlab")
    )]
    pub project: Option<String>,
    /// GitLab: the CI configuration file's path in the project.
    #[arg(long, value_name = "PATH", required_if_eq("provider", "gitlab"))]
    pub config_path: Option<String>,
    /// Bitbucket: the workspace's UUID.
    #[arg(long, value_name = "UUID", required_if_eq("provider", "bitbucket"))]
    pub workspace_uuid: Option<String>,
    /// Bitbucket: the repository's UUID.
    #[arg(long, value_name = "UUID", required_if_eq("provider", "bitbucket"))]
    pub repository_uuid: Option<String>,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Args)]
pub struct TrustRemoveArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The trusted publisher's id shown by `trust list`.
    pub id: i64,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token; the raw value is printed once.
    Create(TokenCreateArgs),
    /// Show every token's metadata, never token material.
    List(DataDirArgs),
    /// Revoke a token by id; it stays listed as `revoked`.
    Revoke(TokenRevokeArgs),
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The publisher the token acts as.
    #[arg(long)]
    pub publisher: String,
    /// A descriptive name, e.g. "GitHub Actions — my_package".
    #[arg(long)]
    pub name: String,
    /// Comma-separated scopes: packages:read, packages:publish, packages:yank, packages:permissions.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Days until the token expires (7 to 365).
    #[arg(long, value_name = "DAYS")]
    pub expires_in_days: i64,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Let a publisher create packages under a scope, alongside whoever holds it.
    Grant(ScopeGrantArgs),
    /// Show who holds each scope: the first publisher under it, and the granted ones.
    List(DataDirArgs),
    /// Take a scope from a publisher; packages already published keep their owners.
    Revoke(ScopeGrantArgs),
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Args)]
pub struct ScopeGrantArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The scope, as it starts a package name, e.g. `@chuks`.
    #[arg(long)]
    pub scope: String,
    /// The publisher, as tokens name it.
    #[arg(long)]
    pub publisher: String,
}

#[cfg(feature = "local-registry")]
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The token id shown by `token list`.
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The CI platform to write the pipeline for.
    #[arg(value_enum)]
    pub platform: InitPlatformArg,

    /// Which pipeline: one package, a package with prebuilt binaries, or a monorepo [default:
    /// prebuilt-binaries when shim/ holds a cdylib crate, else single-package].
    #[arg(long, value_enum)]
    pub example: Option<InitExampleArg>,

    /// The repository to write into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Overwrite an existing pipeline file.
    #[arg(long)]
    pub force: bool,
}

/// chuks-ci's own upkeep, which users never need.
#[derive(Debug, Subcommand)]
pub enum MaintainCommand {
    /// Compare the committed examples and generated files (`ci-examples/`, the action, the
    /// templates, the pipe, the reusable workflow) with what this build renders, or rewrite them.
    Examples(MaintainExamplesArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["check", "update"])))]
pub struct MaintainExamplesArgs {
    /// Fail if a committed file differs from its rendering, or is missing.
    #[arg(long)]
    pub check: bool,

    /// Rewrite every file that differs from its rendering.
    #[arg(long)]
    pub update: bool,

    /// The chuks-ci checkout.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

impl From<FormatArg> for crate::report::Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Human => crate::report::Format::Human,
            FormatArg::Json => crate::report::Format::Json,
        }
    }
}

impl From<TrustedPublishingArg> for crate::trusted_publishing::Mode {
    fn from(arg: TrustedPublishingArg) -> Self {
        match arg {
            TrustedPublishingArg::Auto => Self::Auto,
            TrustedPublishingArg::Always => Self::Always,
            TrustedPublishingArg::Never => Self::Never,
        }
    }
}

impl From<ConfirmTagArg> for crate::forge::ConfirmMode {
    fn from(arg: ConfirmTagArg) -> Self {
        match arg {
            ConfirmTagArg::Auto => crate::forge::ConfirmMode::Auto,
            ConfirmTagArg::Required => crate::forge::ConfirmMode::Required,
            ConfirmTagArg::Off => crate::forge::ConfirmMode::Off,
        }
    }
}

impl From<InitPlatformArg> for crate::pipelines::Ci {
    fn from(arg: InitPlatformArg) -> Self {
        match arg {
            InitPlatformArg::Github => crate::pipelines::Ci::Github,
            InitPlatformArg::Gitlab => crate::pipelines::Ci::Gitlab,
            InitPlatformArg::Bitbucket => crate::pipelines::Ci::Bitbucket,
        }
    }
}

impl From<InitExampleArg> for crate::pipelines::Example {
    fn from(arg: InitExampleArg) -> Self {
        match arg {
            InitExampleArg::SinglePackage => crate::pipelines::Example::SinglePackage,
            InitExampleArg::PrebuiltBinaries => crate::pipelines::Example::PrebuiltBinaries,
            InitExampleArg::Monorepo => crate::pipelines::Example::Monorepo,
            InitExampleArg::TrustedPublishing => crate::pipelines::Example::TrustedPublishing,
        }
    }
}

impl TagArgs {
    /// The plain query the release check takes.
    pub fn query(&self) -> crate::verify::Query {
        crate::verify::Query {
            tag: self.tag.clone(),
            prefix: self.tag_prefix.clone(),
            allow_untracked: self.allow_untracked,
            untagged: false,
        }
    }
}

impl PackOptions {
    /// The plain limits the packer takes.
    pub fn limits(&self) -> crate::pack::Limits {
        crate::pack::Limits {
            allow_files: self.allow_files.clone(),
            max_size: self.max_size,
            ignore_files: crate::pack::IgnoreFiles::default(),
        }
    }
}

#[derive(Debug, Args)]
pub struct BumpArgs {
    /// `major`, `minor`, `patch`, `premajor`, `preminor`, `prepatch`, `prerelease`, or an exact
    /// version such as `1.4.0-beta.1`.
    #[arg(value_name = "LEVEL|VERSION")]
    pub target: String,

    /// The prerelease identifier of a `pre*` level; default `rc` (`prerelease` on a prerelease
    /// keeps its identifier).
    #[arg(long, value_name = "ID")]
    pub preid: Option<String>,

    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// Bump this package of the repository's workspace (its chuks.json is found for you); its
    /// tag is `name@1.2.0` unless `--tag-form`, `--tag-prefix` or chuks-workspace.json's
    /// `tag-prefix` says otherwise.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,

    /// With `--package`: also release the workspace packages whose dependency range the new
    /// version leaves behind: their range raised, their patch version bumped, in the same commit,
    /// each with its own tag, pushed together.
    #[arg(long, requires = "package")]
    pub dependents: bool,

    /// Tag as PREFIX followed by the version, e.g. `numpy-v` for `numpy-v1.2.0`.
    #[arg(long, value_name = "PREFIX", conflicts_with = "tag_form")]
    pub tag_prefix: Option<String>,

    /// The tag's form; default: the form of the current version's tag, else `v`.
    #[arg(long, value_enum, value_name = "FORM")]
    pub tag_form: Option<TagFormArg>,

    /// The commit and tag message; `{name}`, `{version}` and `{tag}` are filled in.
    #[arg(long, short, value_name = "TEXT", default_value = crate::bump_plan::DEFAULT_MESSAGE)]
    pub message: String,

    /// Push the branch and the tag together: `git push --atomic REMOTE HEAD:BRANCH TAG`.
    #[arg(long, conflicts_with = "no_commit")]
    pub push: bool,

    /// The remote to check for the tag and push to; default the branch's upstream, then `origin`.
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,

    /// Only rewrite chuks.json: no commit and no tag.
    #[arg(long)]
    pub no_commit: bool,

    /// Commit without tagging.
    #[arg(long)]
    pub no_tag: bool,

    /// Print the change to chuks.json and the git commands, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How `bump` writes the release tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TagFormArg {
    /// `v1.2.0`
    V,
    /// `1.2.0`
    Bare,
    /// `name@1.2.0`
    At,
    /// `name/v1.2.0`
    Slash,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write a `pre-push` hook that refuses release tags disagreeing with chuks.json at the
    /// tagged commit.
    Install(HookInstallArgs),
    /// The hook's check: reads the refs being pushed from stdin, as git hands them to `pre-push`.
    PrePush(HookPrePushArgs),
}

#[derive(Debug, Args)]
pub struct HookInstallArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// The `--tag-prefix` the package's releases use, for the hook to check tags with.
    #[arg(long, value_name = "PREFIX")]
    pub tag_prefix: Option<String>,

    /// Replace a `pre-push` hook that chuks-ci did not write.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct HookPrePushArgs {
    /// The remote's name, as git passes it to the hook.
    #[arg(value_name = "REMOTE")]
    pub remote: Option<String>,

    /// The remote's URL, as git passes it to the hook.
    #[arg(value_name = "URL")]
    pub url: Option<String>,

    /// The repository's own chuks.json, relative to the repository root; monorepo tags
    /// (`name@1.2.0`) are checked against the chuks.json that names their package.
    #[arg(long, value_name = "PATH", default_value = crate::manifest::MANIFEST_FILE)]
    pub manifest: String,

    /// The prefix before the version in the package's release tags.
    #[arg(long, value_name = "PREFIX")]
    pub tag_prefix: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn prebuilt_only_is_the_official_cli_name_for_prebuilt() {
        use clap::Parser;
        let args = ["chuks-ci", "publish", "--prebuilt-only", "--file", "lib.so"];
        let cli = super::Cli::try_parse_from(args).unwrap();
        let super::Command::Publish(publish) = cli.command else {
            panic!("not a publish");
        };
        assert!(publish.prebuilt);
    }
}
