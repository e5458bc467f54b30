//! An `async fn` with an `async fn` fallback, awaited in its place while the breaker is open.

use futures::executor::block_on;
use instrument_runtime::BreakerState;

#[instrument_runtime::circuit_breaker(name = "search", failure_threshold = 1, fallback = search_cached)]
async fn search(query: &str, limit: usize) -> Result<Vec<String>, String> {
    if query.is_empty() {
        return Err("empty query".to_owned());
    }
    Ok(vec![query.to_owned(); limit])
}

async fn search_cached(query: &str, _limit: usize) -> Result<Vec<String>, String> {
    Ok(vec![format!("cached {query}")])
}

fn main() {
    assert_eq!(block_on(search("a", 2)), Ok(vec!["a".to_owned(), "a".to_owned()]));
    assert!(block_on(search("", 2)).is_err());
    assert_eq!(instrument_runtime::breaker("search").expect("registered").state(), BreakerState::Open);
    assert_eq!(block_on(search("b", 2)), Ok(vec!["cached b".to_owned()]));
    let snapshot = instrument_runtime::snapshot();
    assert_eq!(snapshot.breaker("search").expect("registered").fallbacks, 1);
    assert_eq!(snapshot.node("search").expect("the node keeps the fn's name").calls, 2);
}
