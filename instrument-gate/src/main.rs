//! `instrument-gate`: see the library's documentation, or `instrument-gate --help`.

use std::io::{self, IsTerminal as _};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(std::ffi::OsString::into_string)
        .collect();
    let Ok(args) = args else {
        eprintln!("instrument-gate: error: the arguments must be valid UTF-8");
        return ExitCode::from(instrument_gate::EXIT_ERROR);
    };
    let stdout = io::stdout();
    let color = instrument_gate::color_wanted(stdout.is_terminal());
    let status =
        instrument_gate::run_with_color(&args, &mut stdout.lock(), &mut io::stderr().lock(), color);
    ExitCode::from(status)
}
