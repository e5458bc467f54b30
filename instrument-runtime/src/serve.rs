//! Instrumenting a web service (feature `tower`): [`RequestMetricsLayer`] records each request
//! as a call of a node per route template, and [`endpoints`] mounts `/metrics` and the health
//! routes in the program's own axum `Router`, so the service needs no second port.
//!
//! ```
//! use axum::{Router, routing::get};
//! use instrument_runtime::serve::{RequestMetricsLayer, endpoints};
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "a user" }))
//!     .merge(endpoints())
//!     .layer(RequestMetricsLayer::new());
//! # drop(app);
//! ```

mod layer;
mod router;

pub use layer::{OUTCOMES, RequestMetrics, RequestMetricsLayer, ResponseFuture, UNMATCHED};
pub use router::endpoints;
