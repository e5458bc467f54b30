//! `#[circuit_breaker]` stacks with the other attributes in any order: one wrapper, one node
//! (named by `timed`/`budget`/`counted`, or after the fn), one breaker (named by its own `name`).

#[instrument_runtime::timed(name = "stacked_embed")]
#[instrument_runtime::circuit_breaker(name = "embedding", failure_threshold = 1, fallback = embed_cached)]
#[instrument_runtime::budget(p95 = "1s")]
fn embed(text: &str) -> Result<usize, String> {
    if text.is_empty() { Err("empty".to_owned()) } else { Ok(text.len()) }
}

fn embed_cached(_text: &str) -> Result<usize, String> {
    Ok(0)
}

#[instrument_runtime::budget(name = "stacked_rank", p99 = "1s")]
#[instrument_runtime::counted(in_flight)]
#[instrument_runtime::circuit_breaker]
fn rank(score: u32) -> std::io::Result<u32> {
    Ok(score)
}

#[instrument_runtime::circuit_breaker(name = "parse", fallback = parse_default)]
#[instrument_runtime::timed]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

fn parse_default(_text: &str) -> Result<u32, std::num::ParseIntError> {
    Ok(0)
}

fn main() {
    assert_eq!(embed("ab"), Ok(2));
    assert!(embed("").is_err());
    assert_eq!(embed("abc"), Ok(0));
    assert_eq!(rank(3).expect("closed"), 3);
    assert!(parse("x").is_err());
    let snapshot = instrument_runtime::snapshot();
    let node = snapshot.node("stacked_embed").expect("registered once");
    assert_eq!((node.calls, node.errors), (2, 1));
    assert!(node.latency.is_some());
    assert_eq!(snapshot.breaker("embedding").expect("registered").fallbacks, 1);
    let rank_node = snapshot.node("stacked_rank").expect("named by budget");
    assert_eq!((rank_node.calls, rank_node.in_flight), (1, Some(0)));
    assert!(snapshot.breaker("rank").is_some());
    assert_eq!(snapshot.node("parse").expect("named after the fn").errors, 1);
    assert!(instrument_runtime::record::conflicts().is_empty());
}
