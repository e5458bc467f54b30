//! Methods with every kind of receiver, under each attribute.

use std::rc::Rc;

struct Counter {
    value: u32,
}

impl Counter {
    #[instrument_runtime::timed(name = "receivers_by_value")]
    fn into_value(self) -> u32 {
        self.value
    }

    #[instrument_runtime::counted(name = "receivers_by_ref")]
    fn get(&self) -> u32 {
        self.value
    }

    #[instrument_runtime::budget(name = "receivers_by_mut", p95 = "1s")]
    fn bump(&mut self) -> u32 {
        self.value += 1;
        self.value
    }

    #[instrument_runtime::counted(name = "receivers_by_mut_result", in_flight)]
    fn try_bump(&mut self) -> Result<u32, String> {
        if self.value == u32::MAX {
            return Err("overflow".to_owned());
        }
        self.value += 1;
        Ok(self.value)
    }

    #[instrument_runtime::timed(name = "receivers_boxed")]
    #[instrument_runtime::counted]
    fn boxed(self: Box<Self>) -> u32 {
        self.value
    }

    #[instrument_runtime::counted(name = "receivers_rc")]
    fn shared(self: Rc<Self>) -> u32 {
        self.value
    }

    #[instrument_runtime::timed(name = "receivers_mut_binding")]
    fn consume_mut(mut self) -> u32 {
        self.value *= 2;
        self.value
    }
}

fn main() {
    let mut counter = Counter { value: 1 };
    assert_eq!(counter.get(), 1);
    assert_eq!(counter.bump(), 2);
    assert_eq!(counter.try_bump(), Ok(3));
    assert_eq!(counter.into_value(), 3);
    assert_eq!(Box::new(Counter { value: 4 }).boxed(), 4);
    assert_eq!(Rc::new(Counter { value: 5 }).shared(), 5);
    assert_eq!(Counter { value: 6 }.consume_mut(), 12);
}
