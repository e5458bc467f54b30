//! A service with a dozen instrumented steps that serves `/metrics` while it works: the program
//! the endpoint's load figures in the README are measured against.
//!
//! ```text
//! cargo run --release --features http --example metrics_server -- 127.0.0.1:9464 30
//! ```
//!
//! Serves on the address given (default `127.0.0.1:9464`) for the seconds given (default: until
//! stopped), while one thread keeps calling the steps, so every scrape renders fresh numbers.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One budgeted step whose work grows with `n`. The budget is a `tt`: a `literal` fragment would
/// reach the attribute wrapped in an invisible group, which it does not read as a string.
macro_rules! steps {
    ($($name:ident: $p95:tt),* $(,)?) => {
        $(
            #[instrument_runtime::budget(p95 = $p95)]
            fn $name(n: u64) -> u64 {
                (0..n).fold(0, |sum, i| black_box(sum ^ i.wrapping_mul(0x9E37_79B9)))
            }
        )*
        /// Every step once.
        fn request(n: u64) -> u64 {
            0 $(^ $name(n))*
        }
    };
}

steps!(
    parse_request: "1ms",
    authenticate: "2ms",
    load_session: "2ms",
    validate_input: "1ms",
    fetch_customer: "5ms",
    fetch_orders: "5ms",
    price_cart: "3ms",
    check_stock: "4ms",
    reserve_stock: "4ms",
    charge_payment: "20ms",
    write_order: "10ms",
    render_response: "2ms",
);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9464".to_owned());
    let seconds = match args.next().map(|text| text.parse::<u64>()) {
        None => None,
        Some(Ok(seconds)) => Some(Duration::from_secs(seconds)),
        Some(Err(error)) => {
            eprintln!("metrics_server: the seconds to serve: {error}");
            return ExitCode::from(2);
        }
    };
    let server = match instrument_runtime::serve_metrics(&addr) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("metrics_server: cannot serve on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving http://{}/metrics", server.local_addr());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n = (n + 97) % 2_000;
                black_box(request(n));
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let started = Instant::now();
        while seconds.is_none_or(|seconds| started.elapsed() < seconds) {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
    });
    ExitCode::SUCCESS
}
