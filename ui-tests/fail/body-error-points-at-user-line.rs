#[instrument_runtime::counted(name = "checkout")]
fn checkout(items: &[u64]) -> Result<u64, String> {
    let total: u64 = items.iter().sum();
    let label: String = total;
    Ok(label.len() as u64)
}

#[instrument_runtime::timed]
fn pay() -> u64 {
    "not a number"
}

fn main() {
    let _ = checkout(&[1, 2]);
    let _ = pay();
}
