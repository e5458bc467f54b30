//! `autometrics` `#[autometrics]` with its Prometheus exporter initialised (default backend,
//! `prometheus-client`).

use std::sync::Once;

use crate::work;

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(autometrics::prometheus_exporter::init);
}

#[autometrics::autometrics]
#[inline(never)]
pub(crate) fn call(x: u64) -> u64 {
    work(x)
}
