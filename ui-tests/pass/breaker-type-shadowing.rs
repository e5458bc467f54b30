//! A module that defines its own `Result`, `Ok`, `Err`, `Option`, `Some`, `None`, `String` does not
//! change what a breaker's expansion means.

#![allow(dead_code, non_camel_case_types)]

mod shadowed {
    pub struct Result;
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Ok;
    pub struct Err;
    pub struct String;
    pub struct bool;
    pub struct u32;

    pub mod core {}
    pub mod std {}
    pub mod instrument_runtime {}
    pub mod inventory {}

    pub type Outcome = ::core::result::Result<::core::primitive::u32, ::std::io::Error>;

    fn is_transient(_error: &::std::io::Error) -> ::core::primitive::bool {
        true
    }

    #[::instrument_runtime::circuit_breaker(name = "shadow_breaker", fallback = cached, is_failure = is_transient)]
    pub fn fetch((key, _): (::core::primitive::u32, ::core::primitive::u32)) -> Outcome {
        ::core::result::Result::Ok(key)
    }

    fn cached(pair: (::core::primitive::u32, ::core::primitive::u32)) -> Outcome {
        ::core::result::Result::Ok(pair.1)
    }

    #[::instrument_runtime::circuit_breaker(name = "shadow_breaker_async")]
    pub async fn load() -> Outcome {
        ::core::result::Result::Ok(1)
    }
}

fn main() {
    assert_eq!(shadowed::fetch((1, 2)).ok(), Some(1));
    assert_eq!(futures::executor::block_on(shadowed::load()).ok(), Some(1));
}
