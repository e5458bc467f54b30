//! Type, const and lifetime generics, `where` clauses and `impl Trait` arguments.

use std::fmt::Display;

#[instrument_runtime::counted(name = "generic_largest")]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best = *items.first()?;
    for &item in items {
        if item > best {
            best = item;
        }
    }
    Some(best)
}

#[instrument_runtime::timed(name = "generic_where")]
fn joined<I>(items: I, separator: &str) -> String
where
    I: IntoIterator,
    I::Item: Display,
{
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(separator)
}

#[instrument_runtime::budget(name = "generic_const", p50 = "1s")]
fn sum_array<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

#[instrument_runtime::counted(name = "generic_lifetime")]
fn longest<'a, 'b: 'a>(left: &'a str, right: &'b str) -> &'a str {
    if left.len() >= right.len() {
        left
    } else {
        right
    }
}

#[instrument_runtime::timed(name = "generic_impl_arg")]
fn total(values: impl IntoIterator<Item = u32>) -> u32 {
    values.into_iter().sum()
}

#[instrument_runtime::counted(name = "generic_all_kinds")]
fn first_chunk<'a, T: Clone, const N: usize>(items: &'a [T]) -> Result<[T; N], &'a str> {
    match items.get(..N) {
        Some(chunk) => Ok(std::array::from_fn(|index| chunk[index].clone())),
        None => Err("too short"),
    }
}

struct Wrapper<T>(T);

impl<T: Clone> Wrapper<T> {
    #[instrument_runtime::counted(name = "generic_method")]
    fn map<U, F: FnOnce(T) -> U>(&self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0.clone()))
    }
}

fn main() {
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest::<u8>(&[]), None);
    assert_eq!(joined([1, 2, 3], "-"), "1-2-3");
    assert_eq!(sum_array([1, 2, 3]), 6);
    assert_eq!(longest("abc", "de"), "abc");
    assert_eq!(total(vec![4, 5]), 9);
    assert_eq!(first_chunk::<u8, 2>(&[1, 2, 3]), Ok([1, 2]));
    assert_eq!(first_chunk::<u8, 4>(&[1]), Err("too short"));
    assert_eq!(Wrapper(2).map(|value| value * 10).0, 20);
}
