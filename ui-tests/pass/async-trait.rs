//! `#[async_trait]` methods: the boxed future inside is what gets instrumented.

use async_trait::async_trait;

#[async_trait]
trait Store {
    async fn load(&self, key: u32) -> Result<u32, String>;
    async fn name(&self) -> String;
}

struct Memory;

#[async_trait]
impl Store for Memory {
    #[instrument_runtime::counted(name = "async_trait_load")]
    async fn load(&self, key: u32) -> Result<u32, String> {
        if key == 0 {
            return Err("missing".to_owned());
        }
        Ok(key + 1)
    }

    #[instrument_runtime::timed(name = "async_trait_name")]
    #[instrument_runtime::budget(p50 = "1s")]
    async fn name(&self) -> String {
        "memory".to_owned()
    }
}

fn main() {
    let store: Box<dyn Store> = Box::new(Memory);
    assert_eq!(futures::executor::block_on(store.load(1)), Ok(2));
    assert!(futures::executor::block_on(store.load(0)).is_err());
    assert_eq!(futures::executor::block_on(store.name()), "memory");
}
