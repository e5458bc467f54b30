use async_trait::async_trait;

#[async_trait]
trait Embedder {
    async fn embed(&self, text: &str) -> Result<usize, String>;
}

struct Remote;

#[async_trait]
impl Embedder for Remote {
    #[instrument_runtime::circuit_breaker]
    async fn embed(&self, text: &str) -> Result<usize, String> {
        Ok(text.len())
    }
}

fn main() {
    let _ = futures::executor::block_on(Remote.embed("a"));
}
