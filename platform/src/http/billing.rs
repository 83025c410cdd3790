//! `POST /billing/stripe/webhook`: Stripe's events. The raw body is checked
//! against `Stripe-Signature` with `TIKETHET_STRIPE_WEBHOOK_SECRET` before
//! anything is read from it; the control plane records and applies each
//! event once. 2xx tells Stripe to stop; anything else makes it retry
//! (<https://docs.stripe.com/webhooks#retries>), which is what a storage
//! failure here wants.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, IntoResponse as _, Request, Response, handler};
use tikethet_billing::stripe::{events, signature};

use super::error::{ApiError, json_error};
use crate::AppState;
use crate::control::billing::Applied;

/// Stripe's events are far smaller; a larger body is not one of them.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

#[handler]
pub async fn stripe_webhook(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let Some(secret) = &state.settings.stripe_webhook_secret else {
        return json_error(StatusCode::NOT_FOUND, "billing_offline", "billing runs offline: TIKETHET_STRIPE_WEBHOOK_SECRET is not set");
    };
    let bytes = match body.into_bytes_limit(MAX_EVENT_BYTES).await {
        Ok(b) => b,
        Err(_) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &format!("events are limited to {MAX_EVENT_BYTES} bytes")),
    };
    let header = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(header, &bytes, secret.expose(), chrono::Utc::now().timestamp()) {
        tracing::warn!(error = %e, "Stripe webhook refused");
        return json_error(StatusCode::BAD_REQUEST, "invalid_signature", &e.to_string());
    }
    let event = match events::parse(&bytes) {
        Ok(e) => e,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, "invalid_event", &e.to_string()),
    };
    // Parsed as JSON above, so it is UTF-8.
    let payload = String::from_utf8_lossy(&bytes);
    match state.control.apply_stripe_event(&event, &payload).await {
        Ok(Applied::Duplicate) => ok(serde_json::json!({ "received": true, "duplicate": true })),
        Ok(Applied::Done(outcome)) => ok(serde_json::json!({ "received": true, "outcome": outcome })),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn ok(body: serde_json::Value) -> Response {
    Response::builder().status(StatusCode::OK).content_type("application/json").body(body.to_string())
}
