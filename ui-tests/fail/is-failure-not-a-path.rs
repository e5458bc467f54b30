#[instrument_runtime::counted(is_failure = |error: &String| error.is_empty())]
fn parse(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| text.to_owned())
}

fn main() {
    let _ = parse("1");
}
