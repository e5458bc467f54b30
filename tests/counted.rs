//! `#[counted]`: calls, failures judged by the return type, panics, cancellations, in-flight.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{NodeSnapshot, Outcome, counted, snapshot};

fn node(name: &str) -> NodeSnapshot {
    snapshot().node(name).expect("registered").clone()
}

#[counted(name = "io_result")]
fn io_result(fail: bool) -> std::io::Result<u8> {
    if fail {
        return Err(std::io::Error::other("disk on fire"));
    }
    Ok(1)
}

#[test]
fn errors_of_io_result_are_counted() {
    for fail in [false, true, true, false, false] {
        let _ = io_result(fail);
    }
    let node = node("io_result");
    assert_eq!((node.calls, node.errors, node.panics), (5, 2, 0));
    assert!(
        node.latency.is_none(),
        "#[counted] alone does not read the clock"
    );
    assert!(node.instruments.counted && !node.instruments.timed);
}

#[derive(Debug)]
struct ParseError;

impl From<std::num::ParseIntError> for ParseError {
    fn from(_: std::num::ParseIntError) -> Self {
        ParseError
    }
}

type AppResult<T> = Result<T, ParseError>;

#[counted(name = "alias_with_question_mark")]
fn alias_with_question_mark(input: &str) -> AppResult<Vec<u32>> {
    if input.is_empty() {
        return Ok(Vec::new());
    }
    input
        .split(',')
        .map(|part| Ok(part.trim().parse()?))
        .collect()
}

#[test]
fn an_alias_an_early_return_and_a_converted_question_mark() {
    assert_eq!(alias_with_question_mark("").unwrap(), Vec::<u32>::new());
    assert_eq!(alias_with_question_mark("1, 2").unwrap(), vec![1, 2]);
    assert!(alias_with_question_mark("1, x").is_err());
    let node = node("alias_with_question_mark");
    assert_eq!((node.calls, node.errors), (3, 1));
}

struct Status(u16);

impl Outcome for Status {
    fn is_failure(&self) -> bool {
        self.0 >= 500
    }
}

#[counted(name = "custom_outcome")]
fn custom_outcome(code: u16) -> Status {
    Status(code)
}

#[counted(name = "no_failure_type")]
fn no_failure_type(value: u32) -> Option<u32> {
    value.checked_sub(1)
}

#[test]
fn failure_is_what_the_outcome_trait_says() {
    for code in [200, 503, 404, 500] {
        let _ = custom_outcome(code);
    }
    assert_eq!(node("custom_outcome").errors, 2);
    assert_eq!(no_failure_type(0), None);
    let node = node("no_failure_type");
    assert_eq!(
        (node.calls, node.errors),
        (1, 0),
        "None is not a failure: Option has no Outcome"
    );
}

#[counted(name = "panicking_counted")]
fn panicking_counted() -> Result<(), String> {
    panic!("counted panic");
}

#[test]
fn a_panic_is_counted_and_propagates() {
    let payload = std::panic::catch_unwind(panicking_counted).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"counted panic"));
    let node = node("panicking_counted");
    assert_eq!((node.calls, node.panics, node.errors), (1, 1, 0));
}

/// Resolves when `open` is set; lets a test hold a call in flight.
struct Gate<'a>(&'a std::cell::Cell<bool>);

impl Future for Gate<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.get() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[counted(name = "gated", in_flight)]
async fn gated(open: &std::cell::Cell<bool>, fail: bool) -> Result<(), &'static str> {
    Gate(open).await;
    if fail { Err("failed") } else { Ok(()) }
}

#[test]
fn in_flight_follows_starts_completions_and_cancellations() {
    let open = std::cell::Cell::new(false);
    let mut cx = Context::from_waker(Waker::noop());
    let mut first = Box::pin(gated(&open, false));
    let mut second = Box::pin(gated(&open, true));
    let mut cancelled = Box::pin(gated(&open, false));
    for future in [&mut first, &mut second, &mut cancelled] {
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(node("gated").in_flight, Some(3));
    drop(cancelled);
    assert_eq!(node("gated").in_flight, Some(2));
    open.set(true);
    assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Err("failed")));
    let node = node("gated");
    assert_eq!(node.in_flight, Some(0));
    assert_eq!((node.calls, node.errors, node.cancelled), (2, 1, 1));
}

/// A return value whose failure check panics: the wrapper's code after the body unwinds.
struct Unjudgeable;

impl instrument_runtime::Outcome for Unjudgeable {
    fn is_failure(&self) -> bool {
        panic!("cannot tell")
    }
}

#[counted(name = "async_outcome_panics")]
async fn async_outcome_panics() -> Unjudgeable {
    Unjudgeable
}

#[test]
fn an_async_call_whose_failure_check_panics_is_a_panic() {
    let caught = std::panic::catch_unwind(|| futures::executor::block_on(async_outcome_panics()));
    assert!(caught.is_err());
    let node = node("async_outcome_panics");
    assert_eq!((node.calls, node.panics, node.cancelled), (1, 1, 0));
}

#[counted(name = "in_flight_panic", in_flight)]
fn in_flight_panic() {
    assert_eq!(
        node("in_flight_panic").in_flight,
        Some(1),
        "counted while running"
    );
    panic!("leaves in flight");
}

#[test]
fn in_flight_is_released_by_a_panic() {
    let _ = std::panic::catch_unwind(in_flight_panic);
    let node = node("in_flight_panic");
    assert_eq!((node.in_flight, node.panics), (Some(0), 1));
}

#[derive(Debug)]
enum TokenError {
    /// An optional token that is not there: control flow, not a failure.
    Absent,
    Malformed,
}

fn is_malformed(error: &TokenError) -> bool {
    matches!(error, TokenError::Malformed)
}

fn first_letter(input: &str) -> Result<char, TokenError> {
    match input.chars().next() {
        None => Err(TokenError::Absent),
        Some(c) if c.is_alphabetic() => Ok(c),
        Some(_) => Err(TokenError::Malformed),
    }
}

#[counted(name = "optional_token", is_failure = is_malformed)]
fn optional_token(input: &str) -> Result<char, TokenError> {
    first_letter(input)
}

#[instrument_runtime::timed(name = "optional_token_timed", is_failure = is_malformed)]
fn optional_token_timed(input: &str) -> Result<char, TokenError> {
    first_letter(input)
}

#[test]
fn reproduces_every_err_counted_as_a_failure_when_is_failure_says_otherwise() {
    for input in ["", "", "a", "1"] {
        let _ = optional_token(input);
        let _ = optional_token_timed(input);
    }
    for name in ["optional_token", "optional_token_timed"] {
        let node = node(name);
        assert_eq!((node.calls, node.errors), (4, 1), "{name}");
    }
}
