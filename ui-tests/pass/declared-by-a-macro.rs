//! Attributes written by a user's `macro_rules!`: values passed as `$value:literal` or
//! `$value:expr` fragments arrive in invisible groups and must read as if written in place.

macro_rules! budgeted_step {
    ($function:ident, $name:literal, $p95:literal, $tolerance:expr) => {
        #[instrument_runtime::budget(name = $name, p95 = $p95, tolerance = $tolerance)]
        fn $function(input: u64) -> u64 {
            input + 1
        }
    };
}

macro_rules! guarded_step {
    ($function:ident, $breaker:literal, $recovery:literal) => {
        #[instrument_runtime::circuit_breaker(name = $breaker, recovery = $recovery)]
        fn $function(input: u64) -> Result<u64, std::io::Error> {
            Ok(input)
        }
    };
}

budgeted_step!(parse, "macro_parse", "1ms", "5%");
budgeted_step!(render, "macro_render", "2ms", "10%");
guarded_step!(fetch, "macro_fetch", "2s");

fn main() {
    assert_eq!(render(parse(1)), 3);
    assert_eq!(fetch(4).unwrap(), 4);
    let nodes = instrument_runtime::record::nodes();
    for name in ["macro_parse", "macro_render"] {
        assert!(nodes.iter().any(|node| node.name == name), "{name} is not registered");
    }
    assert!(instrument_runtime::breaker("macro_fetch").is_some());
}
