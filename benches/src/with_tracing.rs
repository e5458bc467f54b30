//! `tracing` `#[instrument]` with the standard `registry()` subscriber and one layer.
//!
//! The layer only counts closed spans on a thread-local counter: any real layer (fmt, a metrics
//! or timing layer) does more, so this is a lower bound on what `tracing` costs per call.

use std::cell::Cell;
use std::sync::Once;

use tracing::span;
use tracing::subscriber::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

use crate::work;

struct CountClosed;

thread_local! {
    static CLOSED: Cell<u64> = const { Cell::new(0) };
}

impl<S: Subscriber> Layer<S> for CountClosed {
    fn on_close(&self, _id: span::Id, _ctx: Context<'_, S>) {
        CLOSED.with(|closed| closed.set(closed.get() + 1));
    }
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(CountClosed))
            .expect("no other global subscriber is set");
    });
}

#[tracing::instrument(skip_all)]
#[inline(never)]
pub(crate) fn call(x: u64) -> u64 {
    work(x)
}
