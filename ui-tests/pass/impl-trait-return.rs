//! `impl Trait` in return position, alone and nested, under every attribute.

#[instrument_runtime::timed(name = "impl_iter_timed")]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[instrument_runtime::counted(name = "impl_iter_counted")]
fn odds(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 1)
}

#[instrument_runtime::counted(name = "impl_nested_result")]
fn parsed(text: &str) -> Result<impl Iterator<Item = u32> + '_, String> {
    if text.is_empty() {
        return Err("empty".to_owned());
    }
    Ok(text.split(',').filter_map(|part| part.trim().parse().ok()))
}

#[instrument_runtime::budget(name = "impl_fn_budget", p95 = "10ms")]
fn adder(step: u32) -> impl Fn(u32) -> u32 {
    move |value| value + step
}

fn main() {
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(odds(5).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(parsed("1, 2,x").map(Iterator::sum::<u32>), Ok(3));
    assert!(parsed("").is_err());
    assert_eq!(adder(2)(3), 5);
}
