//! Return values that borrow from the receiver or from arguments.

struct User {
    name: String,
    scores: Vec<u32>,
}

impl User {
    #[instrument_runtime::timed(name = "borrowed_name_timed")]
    fn name(&self) -> &str {
        &self.name
    }

    #[instrument_runtime::counted(name = "borrowed_name_counted")]
    fn name_counted(&self) -> &str {
        &self.name
    }

    #[instrument_runtime::counted(name = "borrowed_best")]
    fn best(&self) -> Result<&u32, &'static str> {
        self.scores.iter().max().ok_or("no scores")
    }

    #[instrument_runtime::timed(name = "borrowed_scores_mut")]
    fn scores_mut(&mut self) -> &mut Vec<u32> {
        &mut self.scores
    }

    #[instrument_runtime::counted(name = "borrowed_scores_mut_counted")]
    fn scores_mut_counted(&mut self) -> &mut Vec<u32> {
        &mut self.scores
    }
}

#[instrument_runtime::counted(name = "borrowed_first_word")]
fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

fn main() {
    let mut user = User {
        name: "ada".to_owned(),
        scores: vec![3, 7],
    };
    assert_eq!(user.name(), "ada");
    assert_eq!(user.name_counted(), "ada");
    assert_eq!(user.best(), Ok(&7));
    user.scores_mut().push(9);
    user.scores_mut_counted().push(1);
    assert_eq!(user.scores, [3, 7, 9, 1]);
    assert_eq!(first_word("hello world"), "hello");
}
