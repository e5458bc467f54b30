trait Store {
    #[instrument_runtime::timed]
    fn load(&self) -> u64;
}

struct Memory;

impl Store for Memory {
    fn load(&self) -> u64 {
        7
    }
}

fn main() {
    let _ = Memory.load();
}
