//! Parameters written as patterns still reach the fallback: the macro names them and
//! destructures them again before the body runs.

use futures::executor::block_on;

#[derive(Clone, Copy)]
struct Point {
    x: u32,
    y: u32,
}

#[instrument_runtime::circuit_breaker(failure_threshold = 1, fallback = area_cached)]
fn area((width, height): (u32, u32), Point { x, y }: Point, _: &str, mut scale: u32) -> Result<u32, String> {
    scale += 1;
    if width == 0 {
        return Err("empty".to_owned());
    }
    Ok(width * height * scale + x + y)
}

fn area_cached(size: (u32, u32), origin: Point, label: &str, scale: u32) -> Result<u32, String> {
    Ok(size.0 + origin.x + origin.y + scale + u32::try_from(label.len()).unwrap_or(0))
}

#[instrument_runtime::circuit_breaker(failure_threshold = 1, fallback = first_cached)]
async fn first<T>([head, ..]: [T; 3], _: ()) -> Result<T, String> {
    Ok(head)
}

async fn first_cached<T>(values: [T; 3], (): ()) -> Result<T, String> {
    let [_, _, last] = values;
    Ok(last)
}

fn main() {
    let origin = Point { x: 1, y: 2 };
    assert_eq!(area((2, 3), origin, "a", 1), Ok(15));
    assert!(area((0, 3), origin, "a", 1).is_err());
    assert_eq!(area((2, 3), origin, "abc", 1), Ok(9));
    assert_eq!(block_on(first([1, 2, 3], ())), Ok(1));
}
