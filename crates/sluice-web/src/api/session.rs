//! Signing a browser in and out: the UI's session is the server's token in an HttpOnly,
//! SameSite=Strict cookie (see [`crate::guard`]).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{ApiError, Shared, guard};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    token: String,
}

/// `POST /api/session {"token": …}`: signs the browser in with the token, as `/?token=` does.
pub(super) async fn sign_in(
    State(state): State<Shared>,
    crate::body::Body(body): crate::body::Body<SignIn>,
) -> Result<Response, ApiError> {
    if !state.access.accepts(&body.token) {
        return Err(ApiError::field(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "token",
            "that is not this server's token",
        ));
    }
    Ok((
        [(
            header::SET_COOKIE,
            guard::session_cookie_header(&body.token),
        )],
        axum::Json(serde_json::json!({"status": "success"})),
    )
        .into_response())
}

/// `DELETE /api/session`: signs the browser out.
pub(super) async fn sign_out() -> Response {
    (
        [(
            header::SET_COOKIE,
            header::HeaderValue::from_static(
                "sluice_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
            ),
        )],
        axum::Json(serde_json::json!({"status": "success"})),
    )
        .into_response()
}
