//! The endpoints as routes of the program's own axum `Router`.

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;

use crate::export::endpoint::{ROUTES, respond};

/// A `Router` serving `/metrics` (Prometheus text, or `OpenMetrics` when the `Accept` header asks
/// for it), `/health` (`HEALTHY`, `DEGRADED` or `FAILING`, with 503 when failing),
/// `/health/circuit-breakers` and `/health/nodes`: merge it into the service's router.
///
/// Each answer renders a fresh snapshot on the handler's task: a few milliseconds for a
/// thousand nodes.
///
/// ```
/// use axum::Router;
///
/// let app: Router = Router::new().merge(instrument_runtime::serve::endpoints());
/// # drop(app);
/// ```
pub fn endpoints<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ROUTES.iter().fold(Router::new(), |router, (path, _)| {
        router.route(path, get(answer))
    })
}

async fn answer(request: Request) -> Response {
    match respond(&request) {
        Some(response) => response.into_response(),
        // Only the paths of `ROUTES` are routed here.
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
