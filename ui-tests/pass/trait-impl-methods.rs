//! Methods of a trait implementation, and a trait's provided method.

trait Shape {
    fn area(&self) -> f64;

    #[instrument_runtime::timed(name = "trait_provided_describe")]
    fn describe(&self) -> String {
        format!("area {:.1}", self.area())
    }
}

struct Square(f64);

impl Shape for Square {
    #[instrument_runtime::budget(name = "trait_impl_area", p99 = "1s")]
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

impl std::fmt::Display for Square {
    #[instrument_runtime::counted(name = "trait_impl_fmt")]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "square {}", self.0)
    }
}

impl Iterator for Square {
    type Item = u32;

    #[instrument_runtime::counted(name = "trait_impl_next")]
    fn next(&mut self) -> Option<Self::Item> {
        if self.0 <= 0.0 {
            return None;
        }
        self.0 -= 1.0;
        Some(1)
    }
}

fn main() {
    let mut square = Square(2.0);
    assert_eq!(square.describe(), "area 4.0");
    assert_eq!(square.to_string(), "square 2");
    assert_eq!(square.by_ref().count(), 2);
}
