fn main() {
    let lengths: Vec<usize> = ["a", "bc"]
        .iter()
        .map(#[instrument_runtime::timed] |entry| entry.len())
        .collect();
    println!("{lengths:?}");
}
