//! A module that defines its own `Result`, `Option`, `Box`, `Some`, `None`, `Ok`, `Err` (and
//! more) does not change what the expansion means.

#![allow(dead_code, non_camel_case_types, clippy::upper_case_acronyms)]

mod shadowed {
    pub struct Result;
    pub struct Option;
    pub struct Box;
    pub struct Some;
    pub struct None;
    pub struct Ok;
    pub struct Err;
    pub struct Vec;
    pub struct String;
    pub struct Drop;
    pub struct Fn;
    pub struct FnOnce;
    pub struct u8;
    pub struct u64;
    pub struct bool;
    pub struct str;

    pub mod core {}
    pub mod std {}
    pub mod instrument_runtime {}
    pub mod inventory {}

    // Unused on purpose: the expansion must call the real macros by absolute path.
    #[allow(unused_macros)]
    macro_rules! line {
        () => {
            "not a line"
        };
    }
    #[allow(unused_macros)]
    macro_rules! file {
        () => {
            0
        };
    }
    #[allow(unused_macros)]
    macro_rules! module_path {
        () => {
            0
        };
    }
    #[allow(unused_macros)]
    macro_rules! thread_local {
        ($($t:tt)*) => {
            compile_error!("the user's own `thread_local!` was used");
        };
    }

    fn fail() -> ::core::result::Result<(), ()> {
        ::core::result::Result::Err(())
    }

    #[::instrument_runtime::timed(name = "shadow_timed")]
    pub fn timed() -> Ok {
        Ok
    }

    #[::instrument_runtime::counted(name = "shadow_counted", in_flight)]
    pub fn counted(flag: ::core::primitive::bool) -> Result {
        let _ = flag;
        Result
    }

    #[::instrument_runtime::counted(name = "shadow_counted_real_result")]
    #[::instrument_runtime::budget(p95 = "50ms")]
    pub fn real_result() -> ::core::result::Result<(), ()> {
        fail()?;
        ::core::result::Result::Ok(())
    }

    #[::instrument_runtime::counted(name = "shadow_async")]
    pub async fn asynchronous() -> Option {
        Option
    }
}

mod aliased {
    /// A crate-style alias, the most common kind of shadowing.
    pub type Result<T> = ::core::result::Result<T, ::std::string::String>;

    #[instrument_runtime::counted(name = "shadow_alias")]
    pub fn parse(text: &str) -> Result<u32> {
        text.parse().map_err(|_| "bad".to_owned())
    }
}

fn main() {
    let _ = shadowed::timed();
    let _ = shadowed::counted(true);
    assert!(shadowed::real_result().is_err());
    let _ = futures::executor::block_on(shadowed::asynchronous());
    assert_eq!(aliased::parse("3"), Ok(3));
    let snapshot = instrument_runtime::snapshot();
    assert_eq!(
        snapshot
            .node("shadow_counted_real_result")
            .expect("registered")
            .errors,
        1
    );
    assert_eq!(
        snapshot.node("shadow_counted").expect("registered").errors,
        0
    );
}
