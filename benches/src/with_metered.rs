//! `metered` with its stock metrics on the shared function: a call counter and a response-time
//! HDR histogram (behind a lock, as metered's default `AtomicHdrHistogram` is).

use std::sync::LazyLock;

use metered::{HitCount, ResponseTime, metered};

#[derive(Default, Debug)]
struct Service {
    metrics: ServiceMetrics,
}

#[metered(registry = ServiceMetrics)]
impl Service {
    #[measure([HitCount, ResponseTime])]
    #[inline(always)]
    fn work(&self, x: u64) -> u64 {
        crate::work(x)
    }
}

static SERVICE: LazyLock<Service> = LazyLock::new(Service::default);

#[inline(never)]
pub(crate) fn call(x: u64) -> u64 {
    SERVICE.work(x)
}
