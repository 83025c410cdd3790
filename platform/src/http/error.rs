//! The one place where errors become HTTP responses:
//! `{"error": {"code": "...", "message": "..."}}` with the right status.

use poem::http::StatusCode;
use poem::Response;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::inbound::intake::IntakeError;

use crate::control::ControlError;
use crate::control::signup::SignupError;

#[derive(Debug, Object)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_request`, `not_found`, …
    pub code: String,
    /// For people; never contains internal details.
    pub message: String,
}

#[derive(Debug, Object)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.into() } })
}

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or fails validation.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or invalid credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller's role does not allow this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such object (or not visible to this caller).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Conflicts with the current state (a taken slug, a bot in use).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Telegram refused the bot token or the webhook.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// The tenant's plan allows no more of this; upgrade, or wait for the
    /// next month for a monthly limit.
    #[oai(status = 402)]
    PaymentRequired(Json<ErrorBody>),
    /// The tenant is suspended.
    #[oai(status = 423)]
    Locked(Json<ErrorBody>),
    /// The request has a body of unknown length (send `Content-Length`).
    #[oai(status = 411)]
    LengthRequired(Json<ErrorBody>),
    /// The body is larger than this route accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body's `Content-Type` is missing or not one this route reads.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Too many sign-ins or writes from this client or user; wait
    /// `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Our fault; the cause is in the server log.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// Telegram could not be reached or failed.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// Storage (or Redis) is unavailable right now; retry later.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    pub fn bad_request(code: &str, msg: impl Into<String>) -> Self {
        ApiError::BadRequest(body(code, msg))
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        ApiError::Unavailable(body("unavailable", msg))
    }
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        ApiError::Unauthorized(body("unauthorized", msg))
    }
    pub fn forbidden(code: &str, msg: impl Into<String>) -> Self {
        ApiError::Forbidden(body(code, msg))
    }
    pub(crate) fn internal(e: &anyhow::Error) -> Self {
        tracing::error!(error = %format!("{e:#}"), "internal error");
        ApiError::Internal(body("internal", "something went wrong on our side; it has been logged"))
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        let (status, code) = runtime_kind(&e);
        match &e {
            RuntimeError::Internal(inner) => ApiError::internal(inner),
            RuntimeError::RateLimited { retry_after } => {
                ApiError::TooManyRequests(body(code, e.to_string()), tikethet_runtime::auth::throttle::retry_secs(*retry_after))
            }
            _ => ApiError::with_status(status, body(code, e.to_string())),
        }
    }
}

impl ApiError {
    /// The variant that answers with `status` (the documented ones).
    fn with_status(status: StatusCode, b: Json<ErrorBody>) -> Self {
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(b),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(b),
            StatusCode::FORBIDDEN => ApiError::Forbidden(b),
            StatusCode::NOT_FOUND => ApiError::NotFound(b),
            StatusCode::CONFLICT => ApiError::Conflict(b),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(b),
            StatusCode::PAYMENT_REQUIRED => ApiError::PaymentRequired(b),
            StatusCode::LOCKED => ApiError::Locked(b),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(b),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(b),
            StatusCode::BAD_GATEWAY => ApiError::BadGateway(b),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(b),
            _ => ApiError::Internal(b),
        }
    }
}

/// Each desk error's HTTP status and the code its JSON answer carries: the
/// one table the API's answers and the console's pages both read.
pub fn runtime_kind(e: &RuntimeError) -> (StatusCode, &'static str) {
    match e {
        RuntimeError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        RuntimeError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        RuntimeError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        RuntimeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        RuntimeError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        RuntimeError::PlanLimit(_) => (StatusCode::PAYMENT_REQUIRED, "plan_limit_reached"),
        RuntimeError::Suspended => (StatusCode::LOCKED, "tenant_suspended"),
        RuntimeError::Upgrading => (StatusCode::SERVICE_UNAVAILABLE, "upgrading"),
        RuntimeError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
        RuntimeError::UnsupportedType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type"),
        RuntimeError::Upstream(_) => (StatusCode::BAD_GATEWAY, "telegram_unavailable"),
        RuntimeError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        RuntimeError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match &e {
            ControlError::Invalid(_) => ApiError::BadRequest(body("invalid_request", e.to_string())),
            ControlError::ConfirmationRequired => ApiError::BadRequest(body("confirmation_required", e.to_string())),
            ControlError::NotFound(_) => ApiError::NotFound(body("not_found", e.to_string())),
            ControlError::SlugTaken(_) => ApiError::Conflict(body("slug_taken", e.to_string())),
            ControlError::BotInUse(_) => ApiError::Conflict(body("bot_in_use", e.to_string())),
            ControlError::DomainTaken(_) => ApiError::Conflict(body("domain_taken", e.to_string())),
            ControlError::StorageExists(_) => ApiError::Conflict(body("storage_exists", e.to_string())),
            ControlError::WebhookRefused(_) => ApiError::Unprocessable(body("webhook_refused", e.to_string())),
            ControlError::TokenRefused(_) => ApiError::Unprocessable(body("bot_token_refused", e.to_string())),
            ControlError::Telegram(_) => ApiError::BadGateway(body("telegram_unavailable", e.to_string())),
            ControlError::BillingOffline => ApiError::Conflict(body("billing_offline", e.to_string())),
            ControlError::NotForSale(_) => ApiError::Conflict(body("plan_not_for_sale", e.to_string())),
            ControlError::NoCustomer | ControlError::NoSubscription => ApiError::Conflict(body("no_subscription", e.to_string())),
            ControlError::AlreadySubscribed => ApiError::Conflict(body("already_subscribed", e.to_string())),
            ControlError::SamePlan(_) => ApiError::Conflict(body("same_plan", e.to_string())),
            ControlError::Stripe(_) => ApiError::BadGateway(body("stripe_unavailable", e.to_string())),
            ControlError::Internal(inner) => ApiError::internal(inner),
        }
    }
}

/// The HTTP status and code of a refused signup.
pub fn signup_kind(e: &SignupError) -> (StatusCode, &'static str) {
    match e {
        SignupError::Closed => (StatusCode::FORBIDDEN, "signup_closed"),
        SignupError::InviteInvalid => (StatusCode::FORBIDDEN, "invite_invalid"),
        SignupError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        SignupError::TokenInvalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bot_token_invalid"),
        SignupError::BotTaken => (StatusCode::CONFLICT, "bot_taken"),
        SignupError::SlugTaken(_) => (StatusCode::CONFLICT, "slug_taken"),
        SignupError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        SignupError::Telegram(_) => (StatusCode::BAD_GATEWAY, "telegram_unavailable"),
        SignupError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<SignupError> for ApiError {
    fn from(e: SignupError) -> Self {
        let (_, code) = signup_kind(&e);
        let b = body(code, e.to_string());
        match e {
            SignupError::Closed | SignupError::InviteInvalid => ApiError::Forbidden(b),
            SignupError::Invalid(_) => ApiError::BadRequest(b),
            SignupError::TokenInvalid(_) => ApiError::Unprocessable(b),
            SignupError::BotTaken | SignupError::SlugTaken(_) => ApiError::Conflict(b),
            SignupError::RateLimited(wait) => ApiError::TooManyRequests(b, tikethet_runtime::auth::throttle::retry_secs(wait)),
            SignupError::Telegram(_) => ApiError::BadGateway(b),
            SignupError::Internal(inner) => ApiError::internal(&inner),
        }
    }
}

/// The HTTP status of a desk error, for pages (from [`runtime_kind`]).
pub fn runtime_status(e: &RuntimeError) -> StatusCode {
    runtime_kind(e).0
}

/// The HTTP status of a control-plane error, for pages (the API's JSON
/// answers follow the same mapping above).
pub fn control_status(e: &ControlError) -> StatusCode {
    match e {
        ControlError::Invalid(_) | ControlError::ConfirmationRequired => StatusCode::BAD_REQUEST,
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::SlugTaken(_)
        | ControlError::BotInUse(_)
        | ControlError::DomainTaken(_)
        | ControlError::StorageExists(_)
        | ControlError::BillingOffline
        | ControlError::NotForSale(_)
        | ControlError::NoCustomer
        | ControlError::NoSubscription
        | ControlError::AlreadySubscribed
        | ControlError::SamePlan(_) => StatusCode::CONFLICT,
        ControlError::WebhookRefused(_) | ControlError::TokenRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ControlError::Telegram(_) | ControlError::Stripe(_) => StatusCode::BAD_GATEWAY,
        ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<tikethet_runtime::domain::Invalid> for ApiError {
    fn from(e: tikethet_runtime::domain::Invalid) -> Self {
        ApiError::BadRequest(body("invalid_request", e.to_string()))
    }
}

/// The webhook's answers. Telegram retries anything but 2xx, so only a
/// refusal that must not be retried blindly gets a 4xx.
pub fn intake_response(e: &IntakeError) -> Response {
    let (status, code) = match e {
        IntakeError::UnknownRoute => (StatusCode::NOT_FOUND, "not_found"),
        IntakeError::BadSecret => (StatusCode::UNAUTHORIZED, "unauthorized"),
        IntakeError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        IntakeError::Unavailable(inner) => {
            tracing::error!(error = %format!("{inner:#}"), "webhook update not stored");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let message = match e {
        IntakeError::Unavailable(_) => "the update could not be stored; retry later".to_owned(),
        other => other.to_string(),
    };
    json_error(status, code, &message)
}

pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let b = serde_json::json!({ "error": { "code": code, "message": message } });
    Response::builder().status(status).content_type("application/json").body(b.to_string())
}

/// Turns every error poem or poem-openapi raises on its own (unknown path,
/// wrong method, unparsable body, missing credentials) into our JSON shape.
pub async fn render_poem_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let message = if status == StatusCode::UNAUTHORIZED {
        "missing or malformed `Authorization: Bearer …` header".to_owned()
    } else if status.is_server_error() {
        tracing::error!(error = %err, "unhandled server error");
        "something went wrong on our side; it has been logged".to_owned()
    } else {
        err.to_string()
    };
    json_error(status, code, &message)
}

/// The answer to a handler that panicked: the JSON error shape with an
/// opaque message; the panic's own message goes to the log only.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_owned());
    tracing::error!(panic = %what, "a request handler panicked");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; it has been logged")
}
