#[instrument_runtime::timed(name = "bad\r\x1b[31mname")]
fn checkout() {}

fn main() {
    checkout();
}
