//! The HTTP surface of `docs/registry-api.md`: routes, request checks, and JSON error bodies.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use jiff::Timestamp;
use rusqlite::Connection;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::RegistryError;
use super::auth::{self, AuthError, Caller};
use super::auth_failures::AuthFailures;
use super::exchange::{self, ExchangeError};
use super::oidc::{self, VerifyError};
use super::rate_limit::RateLimiter;
use super::store::{self, NewPrebuilt, NewVersion, Store, StoreError, Upload};
use super::tarball::{self, TarballError};
use super::tokens;
use super::trusted_publishers;
use super::upload::{self, BodyLimits, Received, Spooled, UploadError};
use crate::manifest::{self, Manifest};
use crate::protocol::{
    API_PREFIX, ErrorBody, ErrorCode, ErrorDetail, GitInfo, Health, OidcAudience,
    OidcExchangeAnswer, OidcExchangeRequest, PREBUILT_PAYLOAD_FIELD, PackageListing,
    PermissionsRequest, PrebuiltAnswerRecord, PrebuiltPublishHead, PublishAnswer, PublishResult,
    SOURCE_PAYLOAD_FIELD, SourcePublishHead, YankAnswer, YankResult,
};
use crate::token::Scope;
use crate::untrusted::Untrusted;

/// Room in a publish body for the manifest and JSON around the base64 tarball.
const BODY_OVERHEAD_BYTES: u64 = 1024 * 1024;

/// Small JSON bodies (permissions) never need more.
const SMALL_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    /// Where upload payloads are decoded to before they move into the database.
    pub spool_dir: PathBuf,
    pub max_package_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub body_idle_timeout: Duration,
    pub upload_timeout: Duration,
    pub limiter: Option<Arc<RateLimiter>>,
    pub auth_failures: Arc<AuthFailures>,
    pub log_requests: bool,
    pub oidc: Arc<oidc::Verifier>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest(API_PREFIX, routes())
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/tokens/self", get(token_self).delete(revoke_token_self))
        .route("/oidc/audience", get(oidc_audience))
        .route("/oidc/token", post(oidc_exchange))
        .route("/packages", get(owned_packages))
        .route("/packages/{name}", get(package))
        .route(
            "/packages/{name}/permissions",
            get(get_permissions).put(put_permissions),
        )
        .route("/packages/{name}/{version}", get(version).post(publish))
        .route("/packages/{name}/{version}/tarball", get(tarball))
        .route(
            "/packages/{name}/{version}/prebuilt",
            post(publish_prebuilt),
        )
        .route(
            "/packages/{name}/{version}/prebuilt/{platform}",
            get(prebuilt),
        )
        .route("/packages/{name}/{version}/yank", post(yank))
        .route("/packages/{name}/{version}/restore", post(restore))
}

/// An error answer: `{"error": {"code", "message", …extra}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    // Boxed: handlers return `Result<_, ApiError>` everywhere, and the detail is large.
    detail: Box<ErrorDetail>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: Box::new(ErrorDetail {
                code,
                message: message.into().into(),
                extra: Map::new(),
            }),
            retry_after: None,
        }
    }

    /// A 429 that says when to come back.
    fn too_many(code: ErrorCode, message: &str, wait: Duration) -> ApiError {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            format!("{message}\nhint: wait for `Retry-After` seconds ({seconds}) and retry"),
        );
        error.retry_after = Some(seconds);
        error
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.detail.extra.insert(key.to_string(), value.into());
        self
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }

    fn too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PackageTooLarge,
            format!("the upload is larger than this registry's limit of {limit} bytes\nhint: shrink the package (check `chuks-ci pack --list`) or ask the operator to raise `--max-package-bytes`"),
        )
        .with("limit_bytes", limit)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: *self.detail,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        if let StoreError::Auth(auth) = err {
            return auth.into();
        }
        let (status, code) = match &err {
            StoreError::Sqlite(_) | StoreError::Spool(_) | StoreError::Auth(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
            StoreError::PackageNotFound { .. } => {
                (StatusCode::NOT_FOUND, ErrorCode::PackageNotFound)
            }
            StoreError::VersionNotFound { .. } => {
                (StatusCode::NOT_FOUND, ErrorCode::VersionNotFound)
            }
            StoreError::PrebuiltNotFound { .. } => {
                (StatusCode::NOT_FOUND, ErrorCode::PrebuiltNotFound)
            }
            StoreError::NotAPublisher { .. } => (StatusCode::FORBIDDEN, ErrorCode::NotAPublisher),
            StoreError::ScopeTaken(_) => (StatusCode::FORBIDDEN, ErrorCode::ScopeTaken),
            StoreError::NotTheOwner { .. } => (StatusCode::FORBIDDEN, ErrorCode::NotTheOwner),
            StoreError::OwnerChange { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidPermissions,
            ),
        };
        let error = ApiError::new(status, code, err.to_string());
        match err {
            StoreError::ScopeTaken(taken) => error.with("scope", taken.scope),
            _ => error,
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> ApiError {
        ApiError::internal(err.to_string())
    }
}

impl From<VerifyError> for ApiError {
    fn from(err: VerifyError) -> ApiError {
        let message = err.to_string();
        match err {
            VerifyError::Unavailable { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::IssuerUnavailable,
                message,
            ),
            _ => ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidIdToken, message),
        }
    }
}

impl From<ExchangeError> for ApiError {
    fn from(err: ExchangeError) -> ApiError {
        let message = err.to_string();
        match err {
            ExchangeError::Replayed => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::IdTokenReplayed, message)
            }
            ExchangeError::NoTrustedPublisher { claims, mismatch } => {
                let refusal = ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::NoTrustedPublisher,
                    message,
                )
                .with("claims", serde_json::to_value(*claims).unwrap_or_default());
                match mismatch {
                    Some(mismatch) => refusal.with(
                        "mismatch",
                        serde_json::to_value(mismatch).unwrap_or_default(),
                    ),
                    None => refusal,
                }
            }
            ExchangeError::SeveralPublishers { .. } => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::NoTrustedPublisher,
                message,
            ),
            ExchangeError::Registry(err) => err.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> ApiError {
        let message = err.to_string();
        let unauthorized = |code| ApiError::new(StatusCode::UNAUTHORIZED, code, message.clone());
        match err {
            AuthError::MissingToken => unauthorized(ErrorCode::MissingToken),
            AuthError::NotBearer | AuthError::NotAnApiToken { .. } => {
                unauthorized(ErrorCode::NotAnApiToken)
            }
            AuthError::InvalidToken => unauthorized(ErrorCode::InvalidToken),
            AuthError::Revoked { revoked_at, .. } => {
                unauthorized(ErrorCode::TokenRevoked).with("revoked_at", revoked_at.to_string())
            }
            AuthError::Expired { expires_at, .. } => {
                unauthorized(ErrorCode::TokenExpired).with("expires_at", expires_at.to_string())
            }
            AuthError::MissingScope { scope, .. } => {
                ApiError::new(StatusCode::FORBIDDEN, ErrorCode::MissingScope, message)
                    .with("scope", scope.as_str())
            }
            AuthError::Store(_) => ApiError::internal(message),
        }
    }
}

/// The id of the token a request presented, filled in by authentication for the request log.
#[derive(Clone, Default)]
struct LoggedToken(Arc<AtomicI64>);

/// The request's `Authorization` header and where to note the token id for the log.
struct Credentials {
    authorization: Option<String>,
    logged: LoggedToken,
    /// The client's address, for throttling failed authentication.
    client: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Credentials, Infallible> {
        Ok(Credentials {
            // A header that is not visible ASCII is kept as empty, so it is refused as malformed.
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|value| value.to_str().unwrap_or_default().to_string()),
            logged: parts.extensions.get().cloned().unwrap_or_default(),
            client: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        })
    }
}

impl AppState {
    /// Runs a database operation off the async threads.
    async fn db<T, E>(
        &self,
        operation: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || operation(&mut store.lock()).map_err(Into::into))
            .await
            .map_err(|err| ApiError::internal(format!("database task failed: {err}")))?
    }

    async fn authenticate(
        &self,
        credentials: Credentials,
        scope: Option<Scope>,
    ) -> Result<Caller, ApiError> {
        let Credentials {
            authorization,
            logged,
            client,
        } = credentials;
        if let Some(wait) = client.and_then(|client| {
            self.auth_failures
                .blocked_for(client, std::time::Instant::now())
        }) {
            return Err(ApiError::too_many(
                ErrorCode::TooManyAuthFailures,
                "too many requests from this address presented unknown or malformed tokens",
                wait,
            ));
        }
        let failures = Arc::clone(&self.auth_failures);
        self.db(move |connection| {
            let result = auth::authenticate(
                connection,
                authorization.as_deref(),
                scope,
                Timestamp::now(),
            );
            let guessed = matches!(
                result,
                Err(AuthError::InvalidToken
                    | AuthError::NotAnApiToken { .. }
                    | AuthError::NotBearer)
            );
            if let (true, Some(client)) = (guessed, client) {
                failures.record(client, std::time::Instant::now());
            }
            let id = match &result {
                Ok(caller) => Some(caller.token.id),
                Err(err) => err.token_id(),
            };
            if let Some(id) = id {
                logged.0.store(id, Ordering::Relaxed);
            }
            result
        })
        .await
    }

    /// An upload's limits: the base64 of the largest package plus room for the rest.
    fn body_limits(&self) -> BodyLimits {
        let encoded = self.max_package_bytes.div_ceil(3).saturating_mul(4);
        BodyLimits {
            max_body_bytes: encoded.saturating_add(BODY_OVERHEAD_BYTES),
            max_head_bytes: BODY_OVERHEAD_BYTES as usize,
            max_payload_bytes: self.max_package_bytes,
            idle: self.body_idle_timeout,
            total: self.upload_timeout,
        }
    }

    /// The documented answer to a body that was not accepted.
    fn upload_refusal(&self, err: UploadError, field: &str) -> ApiError {
        let bad_request = |code, hint: &str| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                format!("{err}\nhint: {hint}"),
            )
        };
        match &err {
            UploadError::TooLarge { limit } => ApiError::too_large(*limit),
            UploadError::Idle(_) | UploadError::Total(_) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::UploadTimeout,
                format!(
                    "{err}\nhint: check the network between the client and the registry, then retry"
                ),
            ),
            UploadError::Incomplete(_) => {
                bad_request(ErrorCode::IncompleteBody, "retry the upload")
            }
            UploadError::InvalidJson(_) => bad_request(
                ErrorCode::InvalidJson,
                "send the JSON body of docs/registry-api.md",
            ),
            UploadError::InvalidBody(_) => bad_request(
                ErrorCode::InvalidBody,
                "send the fields of docs/registry-api.md",
            ),
            UploadError::InvalidBase64 { .. } => bad_request(
                ErrorCode::InvalidBase64,
                &format!("send `{field}` as standard base64 with padding"),
            ),
            UploadError::Spool(_) => ApiError::internal(err.to_string()),
        }
    }
}

async fn health() -> Response {
    axum::Json(Health {
        status: "ok".into(),
    })
    .into_response()
}

async fn token_self(
    State(state): State<AppState>,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let caller = state.authenticate(credentials, None).await?;
    Ok(axum::Json(caller.token.details(Timestamp::now())).into_response())
}

/// Revokes the token presented: how a run ends its minted token, or anyone retires theirs.
async fn revoke_token_self(
    State(state): State<AppState>,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let caller = state.authenticate(credentials, None).await?;
    let id = caller.token.id;
    let now = Timestamp::now();
    let record = state
        .db(move |connection| tokens::revoke(connection, id, now))
        .await?;
    Ok(axum::Json(record.details(now)).into_response())
}

async fn oidc_audience(State(state): State<AppState>) -> Response {
    axum::Json(OidcAudience {
        audience: state.oidc.config().audience.as_str().into(),
    })
    .into_response()
}

/// `POST /oidc/token`: verify the ID token, then match and mint in one transaction.
async fn oidc_exchange(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let body = read_body(body, 2 * oidc::MAX_ID_TOKEN_BYTES).await?;
    let request: OidcExchangeRequest = parse_json(&body)?;
    let bitbucket_issuers = state
        .db(|connection| {
            trusted_publishers::bitbucket_issuers(connection).map_err(StoreError::from)
        })
        .await?;
    let claims = state
        .oidc
        .verify(&request.token, &bitbucket_issuers, Timestamp::now())
        .await?;
    let lifetime = state.oidc.config().minted_token_lifetime;
    let minted = state
        .db(move |connection| exchange::mint(connection, &claims, lifetime, Timestamp::now()))
        .await?;
    let record = &minted.issued.record;
    let answer = OidcExchangeAnswer {
        token: minted.issued.token.expose().to_string(),
        expires_at: record.expires_at.to_string().into(),
        scopes: record.scopes.iter().map(|s| s.as_str().into()).collect(),
        packages: minted.packages.iter().map(|p| p.as_str().into()).collect(),
    };
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

#[derive(Deserialize)]
struct OwnerQuery {
    owner: Option<String>,
}

async fn owned_packages(
    State(state): State<AppState>,
    credentials: Credentials,
    Query(query): Query<OwnerQuery>,
) -> Result<Response, ApiError> {
    let caller = state
        .authenticate(credentials, Some(Scope::PackagesRead))
        .await?;
    if query.owner.as_deref() != Some("me") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            "only `owner=me` is supported\nhint: request `GET /api/packages?owner=me`",
        ));
    }
    let owner = caller.publisher().to_string();
    let packages = state
        .db(move |connection| store::owned_packages(connection, &owner))
        .await?;
    Ok(axum::Json(PackageListing { packages }).into_response())
}

async fn package(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    let record = state
        .db(move |connection| store::package(connection, &name))
        .await?;
    Ok(axum::Json(record).into_response())
}

async fn version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_name_and_version(&name, &version)?;
    let record = state
        .db(move |connection| store::version(connection, &name, &version))
        .await?;
    Ok(axum::Json(record).into_response())
}

async fn tarball(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_name_and_version(&name, &version)?;
    let dir = state.spool_dir.clone();
    let (file, sha256) = state
        .db(move |connection| store::download_tarball(connection, &name, &version, &dir))
        .await?;
    Ok(file_response(file, &sha256, "application/gzip"))
}

async fn prebuilt(
    State(state): State<AppState>,
    Path((name, version, platform)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    check_name_and_version(&name, &version)?;
    check_platform(&platform)?;
    let dir = state.spool_dir.clone();
    let (file, sha256) = state
        .db(move |connection| store::prebuilt_file(connection, &name, &version, &platform, &dir))
        .await?;
    Ok(file_response(file, &sha256, "application/octet-stream"))
}

/// The shared start of both uploads, in the documented order: auth, path, then the body read
/// as a stream (size, JSON, base64) with its payload spooled to a temporary file.
async fn read_upload<H: DeserializeOwned + Send + 'static>(
    state: &AppState,
    credentials: Credentials,
    name: &str,
    version: &str,
    body: Body,
    field: &'static str,
) -> Result<(Caller, Received<H>), ApiError> {
    let caller = state
        .authenticate(credentials, Some(Scope::PackagesPublish))
        .await?;
    check_name_and_version(name, version)?;
    check_token_package(&caller, name)?;
    let received = upload::receive(body, field, state.body_limits(), state.spool_dir.clone())
        .await
        .map_err(|err| state.upload_refusal(err, field))?;
    Ok((caller, received))
}

async fn publish(
    State(state): State<AppState>,
    credentials: Credentials,
    Path((name, version)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let (caller, received): (_, Received<SourcePublishHead>) = read_upload(
        &state,
        credentials,
        &name,
        &version,
        body,
        SOURCE_PAYLOAD_FIELD,
    )
    .await?;
    let head = received.head;
    let payload = received.payload;
    check_payload(
        SOURCE_PAYLOAD_FIELD,
        &payload,
        head.size,
        &head.sha256,
        state.max_package_bytes,
    )?;
    let manifest = check_manifest(&head.manifest, &name, &version)?;
    let git = head.git.unwrap_or_default();
    check_git(&git)?;
    let payload = check_tarball(payload, head.manifest, state.max_unpacked_bytes).await?;
    let what = format!("`{name}` `{version}`");
    let asked_version = version.clone();
    let declared_sha256 = payload.sha256.clone();
    let new = NewVersion {
        name,
        version,
        manifest,
        payload,
        git,
        publisher: caller.publisher().to_string(),
        token_id: caller.token.id,
    };
    let outcome = state
        .db(move |connection| store::publish(connection, new, Timestamp::now()))
        .await?;
    upload_response(outcome, &what, &asked_version, &declared_sha256, |record| {
        record
    })
}

async fn publish_prebuilt(
    State(state): State<AppState>,
    credentials: Credentials,
    Path((name, version)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let (caller, received): (_, Received<PrebuiltPublishHead>) = read_upload(
        &state,
        credentials,
        &name,
        &version,
        body,
        PREBUILT_PAYLOAD_FIELD,
    )
    .await?;
    let head = received.head;
    let payload = received.payload;
    check_platform(&head.platform)?;
    check_payload(
        PREBUILT_PAYLOAD_FIELD,
        &payload,
        head.size,
        &head.sha256,
        state.max_package_bytes,
    )?;
    let what = format!("the `{}` prebuilt of `{name}` `{version}`", head.platform);
    let answered = (name.clone(), version.clone());
    let asked_version = version.clone();
    let declared_sha256 = payload.sha256.clone();
    let new = NewPrebuilt {
        name,
        version,
        platform: head.platform,
        payload,
        publisher: caller.publisher().to_string(),
        token_id: caller.token.id,
    };
    let outcome = state
        .db(move |connection| store::publish_prebuilt(connection, new, Timestamp::now()))
        .await?;
    upload_response(
        outcome,
        &what,
        &asked_version,
        &declared_sha256,
        |prebuilt| PrebuiltAnswerRecord {
            name: answered.0.into(),
            version: answered.1.into(),
            prebuilt,
        },
    )
}

async fn yank(
    State(state): State<AppState>,
    credentials: Credentials,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_yanked(state, credentials, name, version, true).await
}

async fn restore(
    State(state): State<AppState>,
    credentials: Credentials,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_yanked(state, credentials, name, version, false).await
}

async fn set_yanked(
    state: AppState,
    credentials: Credentials,
    name: String,
    version: String,
    yanked: bool,
) -> Result<Response, ApiError> {
    let caller = state
        .authenticate(credentials, Some(Scope::PackagesYank))
        .await?;
    check_name_and_version(&name, &version)?;
    let publisher = caller.publisher().to_string();
    let (changed, record) = state
        .db(move |connection| {
            let now = Timestamp::now().to_string();
            store::set_yanked(connection, &name, &version, &publisher, yanked, &now)
        })
        .await?;
    let result = if yanked {
        YankResult::Yanked
    } else {
        YankResult::Restored
    };
    Ok(axum::Json(YankAnswer {
        result,
        changed,
        record,
    })
    .into_response())
}

async fn get_permissions(
    State(state): State<AppState>,
    credentials: Credentials,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    state
        .authenticate(credentials, Some(Scope::PackagesPermissions))
        .await?;
    check_name(&name)?;
    let permissions = state
        .db(move |connection| store::permissions(connection, &name))
        .await?;
    Ok(axum::Json(permissions).into_response())
}

async fn put_permissions(
    State(state): State<AppState>,
    credentials: Credentials,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = state
        .authenticate(credentials, Some(Scope::PackagesPermissions))
        .await?;
    check_name(&name)?;
    let request: PermissionsRequest = parse_json(&read_body(body, SMALL_BODY_BYTES).await?)?;
    for publisher in &request.publishers {
        super::check_publisher_name(publisher).map_err(|err| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidPermissions,
                err.to_string(),
            )
        })?;
    }
    let publisher = caller.publisher().to_string();
    let permissions = state
        .db(move |connection| {
            store::set_publishers(
                connection,
                &name,
                &publisher,
                request.owner.as_deref(),
                &request.publishers,
            )
        })
        .await?;
    Ok(axum::Json(permissions).into_response())
}

/// Reads a body of at most `limit` bytes, answering 413 as soon as it grows past that.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    // A declared `Content-Length` over the limit is refused before reading anything.
    if body.size_hint().lower() > limit as u64 {
        return Err(ApiError::too_large(limit as u64));
    }
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::IncompleteBody,
                format!("the request body ended early: {err}\nhint: retry the upload"),
            )
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit as u64));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidBody,
            format!("the request body does not have the documented fields: {err}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson,
            format!("the request body is not complete JSON: {err}"),
        ),
    })
}

/// Checks a spooled payload against the declared size and sha256.
fn check_payload(
    field: &str,
    payload: &Spooled,
    declared_size: u64,
    declared_sha256: &str,
    limit: u64,
) -> Result<(), ApiError> {
    let actual_size = payload.size;
    if declared_size > limit || actual_size > limit {
        return Err(ApiError::too_large(limit));
    }
    if actual_size != declared_size {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::SizeMismatch,
            format!("`size` says {declared_size} bytes but `{field}` holds {actual_size}\nhint: the upload was altered or cut short; retry it"),
        )
        .with("actual_size", actual_size));
    }
    let actual_sha256 = &payload.sha256;
    if !declared_sha256.eq_ignore_ascii_case(actual_sha256) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ChecksumMismatch,
            format!("`sha256` does not match the sha256 of `{field}` ({actual_sha256})\nhint: the upload was altered in transit; retry it"),
        )
        .with("actual_sha256", actual_sha256.as_str()));
    }
    Ok(())
}

/// Validates the manifest and checks it names the version in the path; returns it as text.
fn check_manifest(document: &Value, name: &str, version: &str) -> Result<String, ApiError> {
    let text = document.to_string();
    let manifest = Manifest::parse(FsPath::new(manifest::MANIFEST_FILE), &text).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidManifest,
            err.to_string(),
        )
    })?;
    let path_version = manifest::parse_version(version).ok();
    if manifest.name != name || path_version.as_ref() != Some(&manifest.version) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ManifestMismatch,
            format!(
                "the path names `{name}` `{version}` but the manifest says `{}` `{}`\nhint: publish to the name and version written in chuks.json",
                manifest.name, manifest.version
            ),
        ));
    }
    Ok(text)
}

/// Refuses a tarball an extractor could be hurt by (see `tarball`), or whose own `chuks.json`
/// is not the `manifest` field (which was checked against the path).
async fn check_tarball(
    mut payload: Spooled,
    manifest: Value,
    max_unpacked_bytes: u64,
) -> Result<Spooled, ApiError> {
    let checked = tokio::task::spawn_blocking(move || {
        let bytes =
            tarball::inspect(&mut payload.file, max_unpacked_bytes).map_err(tarball_refusal)?;
        let packed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if packed.as_ref() == Some(&manifest) {
            return Ok(payload);
        }
        let says = |key: &str| {
            packed
                .as_ref()
                .and_then(|packed| packed[key].as_str())
                .unwrap_or("?")
                .to_string()
        };
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TarballManifestMismatch,
            format!(
                "the tarball's own `chuks.json` (`{}` `{}`) is not the `manifest` sent with it\nhint: upload the tarball packed from the chuks.json you send",
                says("name"),
                says("version")
            ),
        ))
    });
    checked
        .await
        .map_err(|err| ApiError::internal(format!("tarball check failed: {err}")))?
}

/// The documented answer to a tarball `tarball::inspect` refused.
fn tarball_refusal(err: TarballError) -> ApiError {
    const REPACK: &str = "upload the `.tar.gz` that `chuks-ci pack` makes";
    let unprocessable = |code, hint: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!("{err}\nhint: {hint}"),
        )
    };
    match &err {
        TarballError::TooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PackageTooLarge,
            format!("{err}\nhint: shrink the package (check `chuks-ci pack --list`) or ask the operator to raise `--max-unpacked-bytes`"),
        )
        .with("limit_bytes", *limit),
        TarballError::TooManyMembers => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PackageTooLarge,
            format!("{err}\nhint: shrink the package (check `chuks-ci pack --list`)"),
        )
        .with("limit_members", tarball::MAX_MEMBERS),
        TarballError::Duplicate { path } => unprocessable(
            ErrorCode::DuplicateMember,
            &format!("{REPACK}: it holds each path once"),
        )
        .with("path", path.unescaped()),
        TarballError::Unsafe { path, .. } => unprocessable(
            ErrorCode::UnsafeMember,
            &format!("{REPACK}: it holds only files, folders and links that stay inside the package"),
        )
        .with("path", path.unescaped()),
        TarballError::Unreadable(_)
        | TarballError::NoManifest
        | TarballError::ManifestTooLarge
        | TarballError::TrailingData => unprocessable(
            ErrorCode::InvalidTarball,
            &format!("{REPACK}, with `chuks.json` at its root"),
        ),
    }
}

/// The longest `git` fields stored: a tag, a commit id (hex SHA-1 or SHA-256), a repository URL.
const GIT_FIELD_LIMITS: [(&str, usize); 3] = [("tag", 256), ("commit", 64), ("repository", 2048)];

/// Refuses `git` fields that are too long or hold control characters.
fn check_git(git: &GitInfo) -> Result<(), ApiError> {
    let values = [&git.tag, &git.commit, &git.repository];
    for ((field, limit), value) in GIT_FIELD_LIMITS.into_iter().zip(values) {
        let Some(value) = value.as_ref().map(Untrusted::unescaped) else {
            continue;
        };
        let problem = if value.len() > limit {
            format!("is {} bytes long, over the limit of {limit}", value.len())
        } else if value.chars().any(char::is_control) {
            "holds control characters".to_string()
        } else {
            continue;
        };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidGit,
            format!("`git.{field}` {problem}\nhint: send the release's tag, commit id and repository URL as git reports them"),
        )
        .with("field", field)
        .with("limit_bytes", limit));
    }
    Ok(())
}

/// A token minted by trusted publishing publishes only the packages whose publishers matched.
fn check_token_package(caller: &Caller, name: &str) -> Result<(), ApiError> {
    if caller.token.may_publish(name) {
        return Ok(());
    }
    let allowed = caller
        .token
        .packages
        .iter()
        .flatten()
        .map(|package| format!("`{package}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::NotAPublisher,
        format!(
            "API token {} was minted by trusted publishing for {allowed} only, not `{name}`\nhint: add a trusted publisher for `{name}` with `chuks-ci registry trust add`",
            caller.token.id
        ),
    ))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    manifest::validate_name(name).map_err(|reason| {
        let hint = if name.starts_with('@') && !name.contains('/') {
            "encode the `/` of a scoped name as `%2F`, e.g. `/api/packages/@scope%2Fname`"
        } else {
            "use the `name` from chuks.json"
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidName,
            format!("`{name}` is not a valid package name ({reason})\nhint: {hint}"),
        )
    })
}

fn check_name_and_version(name: &str, version: &str) -> Result<(), ApiError> {
    check_name(name)?;
    manifest::parse_version(version).map_err(|(reason, hint)| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidVersion,
            format!("`{version}` is not a SemVer 2.0 version ({reason})\nhint: {hint}"),
        )
    })?;
    Ok(())
}

fn check_platform(platform: &str) -> Result<(), ApiError> {
    if crate::prebuilt::PLATFORMS.contains(&platform) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnknownPlatform,
        format!(
            "unknown platform `{platform}`\nhint: use one of {}",
            crate::prebuilt::PLATFORMS
                .map(|p| format!("`{p}`"))
                .join(", ")
        ),
    ))
}

/// `201 published`, or `409 version_exists` for every overwrite (identical bytes included, as
/// the real registry answers) with `stored_sha256` and `stored_version`; `answer` turns the stored record into the one
/// the route answers with.
fn upload_response<T, R: serde::Serialize>(
    outcome: Upload<T>,
    what: &str,
    version: &str,
    declared_sha256: &str,
    answer: impl FnOnce(T) -> R,
) -> Result<Response, ApiError> {
    match outcome {
        Upload::Published(record) => {
            let body = PublishAnswer {
                result: PublishResult::Published,
                record: answer(record),
            };
            Ok((StatusCode::CREATED, axum::Json(body)).into_response())
        }
        Upload::Exists {
            stored_version,
            stored_sha256,
        } => {
            // Versions that differ only in build metadata are one version.
            let published_as = if stored_version == version {
                String::new()
            } else {
                format!(" as `{stored_version}`")
            };
            let message = if stored_sha256.eq_ignore_ascii_case(declared_sha256) {
                format!(
                    "{what} is already published{published_as} with these contents (sha256 {stored_sha256})\nhint: nothing to do: a re-run of a published release changes nothing"
                )
            } else if published_as.is_empty() {
                format!(
                    "{what} is already published with other contents (sha256 {stored_sha256})\nhint: published contents never change; bump `version` in chuks.json and tag a new release"
                )
            } else {
                format!(
                    "{what} is already published{published_as} with other contents (sha256 {stored_sha256})\nhint: versions that differ only in build metadata (`+…`) are one version; bump `version` in chuks.json and tag a new release"
                )
            };
            Err(
                ApiError::new(StatusCode::CONFLICT, ErrorCode::VersionExists, message)
                    .with("stored_sha256", stored_sha256)
                    .with("stored_version", stored_version),
            )
        }
    }
}

/// A download streamed from its temporary copy, so memory does not grow with its size.
fn file_response(file: std::fs::File, sha256: &str, content_type: &'static str) -> Response {
    let length = file.metadata().map(|metadata| metadata.len()).ok();
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    if let Ok(value) = HeaderValue::from_str(sha256) {
        headers.insert("x-chuks-sha256", value);
    }
    response
}

async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state
        .limiter
        .as_ref()
        .is_some_and(|limiter| !limiter.admit())
    {
        return ApiError::too_many(
            ErrorCode::RateLimited,
            "too many requests",
            Duration::from_secs(1),
        )
        .into_response();
    }
    next.run(request).await
}

/// Logs one line per request (never headers or tokens) and gives axum's own error answers the
/// JSON error shape.
async fn log_request(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let logged = LoggedToken::default();
    request.extensions_mut().insert(logged.clone());
    let method = request.method().clone();
    // The client chose the path: it prints escaped, like any text from outside.
    let path = Untrusted::from(request.uri().path());
    let response = as_json_error(next.run(request).await).await;
    if state.log_requests {
        let token = match logged.0.load(Ordering::Relaxed) {
            0 => String::new(),
            id => format!(" token={id}"),
        };
        // One write per line, and a closed stderr is nothing to stop serving for.
        let line = format!("{method} {path} {}{token}\n", response.status().as_u16());
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }
    response
}

/// Rewrites a non-JSON error answer (unknown route, wrong method, unparsable path or query).
async fn as_json_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), SMALL_BODY_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let (code, fallback) = match status {
        StatusCode::NOT_FOUND => (
            ErrorCode::NotFound,
            "no such route\nhint: see docs/registry-api.md",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this route does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PackageTooLarge, "the request body is too large")
        }
        status if status.is_client_error() => {
            (ErrorCode::BadRequest, "the request could not be parsed")
        }
        _ => (ErrorCode::Internal, "the server failed"),
    };
    let message = if text.trim().is_empty() {
        fallback.to_string()
    } else {
        text
    };
    ApiError::new(status, code, message).into_response()
}
