//! Methods with `Self::` fallbacks: `self` is passed first, whatever the receiver.

use futures::executor::block_on;

struct Client {
    value: u32,
    cached: u32,
    up: bool,
}

impl Client {
    #[instrument_runtime::circuit_breaker(name = "client", failure_threshold = 1, fallback = Self::get_cached)]
    fn get(&self, offset: u32) -> Result<u32, String> {
        if self.up { Ok(self.value + offset) } else { Err("down".to_owned()) }
    }

    fn get_cached(&self, offset: u32) -> Result<u32, String> {
        Ok(self.cached + offset)
    }

    #[instrument_runtime::circuit_breaker(name = "client", failure_threshold = 1, fallback = Self::bump_cached)]
    fn bump(&mut self) -> Result<&mut u32, String> {
        if !self.up {
            return Err("down".to_owned());
        }
        self.value += 1;
        Ok(&mut self.value)
    }

    fn bump_cached(&mut self) -> Result<&mut u32, String> {
        Ok(&mut self.cached)
    }

    #[instrument_runtime::circuit_breaker(name = "client", failure_threshold = 1, fallback = Self::into_cached)]
    fn into_value(self) -> Result<u32, String> {
        if self.up { Ok(self.value) } else { Err("down".to_owned()) }
    }

    fn into_cached(self) -> Result<u32, String> {
        Ok(self.cached)
    }

    #[instrument_runtime::circuit_breaker(name = "client", failure_threshold = 1, fallback = Self::boxed_cached)]
    fn boxed(self: Box<Self>) -> Result<u32, String> {
        if self.up { Ok(self.value) } else { Err("down".to_owned()) }
    }

    fn boxed_cached(self: Box<Self>) -> Result<u32, String> {
        Ok(self.cached)
    }

    #[instrument_runtime::circuit_breaker(name = "client", failure_threshold = 1, fallback = Self::load_cached)]
    async fn load(&self) -> Result<u32, String> {
        if self.up { Ok(self.value) } else { Err("down".to_owned()) }
    }

    async fn load_cached(&self) -> Result<u32, String> {
        Ok(self.cached)
    }
}

fn main() {
    let mut client = Client { value: 1, cached: 10, up: true };
    assert_eq!(client.get(1), Ok(2));
    assert_eq!(client.bump().map(|value| *value), Ok(2));
    assert_eq!(block_on(client.load()), Ok(2));
    client.up = false;
    assert!(client.get(0).is_err());
    // The breaker named "client" is open now, for every method that names it.
    assert_eq!(client.get(1), Ok(11));
    *client.bump().expect("served by the fallback") += 1;
    assert_eq!(client.cached, 11);
    assert_eq!(block_on(client.load()), Ok(11));
    assert_eq!(Box::new(Client { value: 2, cached: 20, up: true }).boxed(), Ok(20));
    assert_eq!(client.into_value(), Ok(11));
    let snapshot = instrument_runtime::snapshot();
    let breaker = snapshot.breaker("client").expect("registered");
    assert_eq!(breaker.functions.len(), 5);
    assert_eq!(breaker.fallbacks, 5);
}
