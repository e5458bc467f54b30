//! The report when SIGTERM, SIGINT or SIGHUP ends the program.
//!
//! The handler only does what is safe inside a signal handler: it writes the signal's number to
//! a pipe. A thread of ours blocks on that pipe, writes the report set like the exit hook, then
//! ends the process with the signal's default action, so the exit status says "killed by
//! SIGTERM" as it would have without us. A watchdog ends it the same way after
//! [`SIGNAL_DEADLINE`](crate::report::SIGNAL_DEADLINE) if the write hangs.
//!
//! Plain `sigaction` rather than `signal-hook`: we must tell whether the program has since
//! installed a handler of its own, and signal-hook registers every user's actions behind one
//! shared handler, so tokio's `ctrl_c` (built on signal-hook) would be indistinguishable from
//! ours and we would end a program that meant to shut down by itself.

use std::ffi::c_int;
use std::io::Read as _;
use std::os::fd::IntoRawFd as _;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;

use super::SIGNALS_ENV;
use super::at_exit::{Ending, write_set};

/// The signals that end a service: `docker stop` and Kubernetes (SIGTERM), Ctrl-C (SIGINT), a
/// closed terminal (SIGHUP).
const SIGNALS: [c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The pipe's write end, for the handler; -1 until installed.
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// The process that installed the handler: a child forked without `exec` keeps the handler but
/// not our thread, and must not hand its signals to its parent's.
static OWNER: AtomicI32 = AtomicI32::new(0);
/// The signal whose report is being written; 0 when none.
static WRITING_FOR: AtomicI32 = AtomicI32::new(0);

/// Installs the handler for each of [`SIGNALS`] whose action is the default one: a signal the
/// program ignores (`nohup`) or already handles is left alone.
pub(super) fn install() {
    if crate::record::env::switch(SIGNALS_ENV) == Some(false) {
        return;
    }
    let free: Vec<c_int> = SIGNALS
        .into_iter()
        .filter(|&signal| current_handler(signal) == Some(libc::SIG_DFL))
        .collect();
    if free.is_empty() {
        return;
    }
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(error) => return cannot_install(&error),
    };
    let writer = writer.into_raw_fd();
    // SAFETY: `writer` is an open descriptor we own. Non-blocking, so the handler never waits.
    unsafe { libc::fcntl(writer, libc::F_SETFL, libc::O_NONBLOCK) };
    PIPE.store(writer, Ordering::Release);
    // SAFETY: `getpid` cannot fail.
    OWNER.store(unsafe { libc::getpid() }, Ordering::Release);
    // Read now, so a bad value is reported at startup rather than while a signal is handled.
    super::signal_deadline();
    // The thread starts with every signal blocked, so none is ever delivered to it: a program
    // that blocks signals in its own threads to `sigwait` for them keeps getting them.
    let previous = block_all_signals();
    let listener = std::thread::Builder::new()
        .name("instrument-signals".to_owned())
        .spawn(move || listen(reader));
    set_signal_mask(&previous);
    if let Err(error) = listener {
        return cannot_install(&error);
    }
    for signal in free {
        // SAFETY: a zeroed `sigaction` is a valid value; the fields that matter are set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler_address();
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: valid pointers to a local; an empty mask blocks nothing extra in the handler.
        unsafe {
            libc::sigemptyset(&raw mut action.sa_mask);
            libc::sigaction(signal, &raw const action, std::ptr::null_mut());
        }
    }
}

fn cannot_install(error: &std::io::Error) {
    eprintln!("instrument: no report on SIGTERM, SIGINT or SIGHUP: {error}");
}

/// The signal handler: async-signal-safe calls only (`write`, `sigaction`, `raise`,
/// `pthread_sigmask`), no allocation, no lock.
extern "C" fn on_signal(signal: c_int) {
    let _errno = ErrnoGuard::save();
    // SAFETY: `getpid` is async-signal-safe and cannot fail.
    let forked = unsafe { libc::getpid() } != OWNER.load(Ordering::Acquire);
    let first = WRITING_FOR
        .compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if forked || !first {
        // A child forked without `exec` has the handler but not our thread, so nobody would
        // write: the signal does what it always did. A signal while the report is being
        // written means "now": the process ends (if the signal is still ours).
        end_as_signalled(signal);
        return;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "signal numbers are below 65"
    )]
    let byte = signal as u8;
    // SAFETY: a one-byte write from a local to the pipe we opened; `write` is async-signal-safe.
    // If the pipe were full, a byte is already waiting: nothing is lost.
    unsafe { libc::write(PIPE.load(Ordering::Acquire), (&raw const byte).cast(), 1) };
}

/// Our thread: waits for a signal's number, writes the report set, ends the process.
fn listen(mut reader: std::io::PipeReader) {
    let mut byte = [0];
    while let Ok(1) = reader.read(&mut byte) {
        let signal = c_int::from(byte[0]);
        let (written, watchdog) = mpsc::channel::<()>();
        let deadline = super::signal_deadline();
        // A write stuck on a full disk or a stderr nobody reads must not keep a stopped service
        // alive: after the deadline the process ends anyway, with the same status.
        let _ = std::thread::Builder::new()
            .name("instrument-signal-watchdog".to_owned())
            .spawn(move || {
                if watchdog.recv_timeout(deadline) == Err(mpsc::RecvTimeoutError::Timeout) {
                    end_as_signalled(signal);
                }
            });
        let _ = std::panic::catch_unwind(|| write_set(Ending::Signal));
        drop(written);
        end_as_signalled(signal);
        // Still running: the program handles this signal itself now (its handler chained to
        // ours) and owns the ending; its exit hook writes the report again. A later signal
        // writes again too.
        WRITING_FOR.store(0, Ordering::Release);
    }
}

/// Called by the exit hook after its write: a signal that arrived as the program was ending
/// normally still ends it, as it would have without us (its default action would have struck
/// before the program got to exit).
pub(super) fn end_if_signalled() {
    match WRITING_FOR.load(Ordering::Acquire) {
        0 => {}
        signal => end_as_signalled(signal),
    }
}

/// Ends the process as `signal`'s default action does, if our handler is still the signal's
/// action; otherwise the program installed its own since, and returns. Async-signal-safe.
fn end_as_signalled(signal: c_int) {
    if current_handler(signal) != Some(handler_address()) {
        return;
    }
    // SAFETY: resetting a signal to its default action and raising it on this thread; all
    // async-signal-safe. Our threads block every signal, hence the unblock after the raise.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &raw const default, std::ptr::null_mut());
        libc::raise(signal);
        let mut only = std::mem::zeroed();
        libc::sigemptyset(&raw mut only);
        libc::sigaddset(&raw mut only, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &raw const only, std::ptr::null_mut());
    }
}

fn handler_address() -> libc::sighandler_t {
    on_signal as extern "C" fn(c_int) as libc::sighandler_t
}

/// The signal's current action (`SIG_DFL`, `SIG_IGN` or a handler's address).
fn current_handler(signal: c_int) -> Option<libc::sighandler_t> {
    // SAFETY: a zeroed `sigaction` is valid; a null new action only reads the current one.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(signal, std::ptr::null(), &raw mut current) == 0)
            .then_some(current.sa_sigaction)
    }
}

fn block_all_signals() -> libc::sigset_t {
    // SAFETY: valid pointers to locals.
    unsafe {
        let (mut all, mut previous) = (std::mem::zeroed(), std::mem::zeroed());
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &raw const all, &raw mut previous);
        previous
    }
}

fn set_signal_mask(mask: &libc::sigset_t) {
    // SAFETY: a valid signal set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
}

/// Restores `errno` when the handler returns: the code it interrupted may be about to read it.
struct ErrnoGuard(c_int);

impl ErrnoGuard {
    fn save() -> Self {
        // SAFETY: the thread's own errno location.
        Self(unsafe { *errno_location() })
    }
}

impl Drop for ErrnoGuard {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { *errno_location() = self.0 };
    }
}

#[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
use libc::__errno as errno_location;
#[cfg(any(target_os = "android", target_os = "openbsd", target_os = "netbsd"))]
use libc::__errno as errno_location;
#[cfg(target_os = "linux")]
use libc::__errno_location as errno_location;
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
use libc::__error as errno_location;
