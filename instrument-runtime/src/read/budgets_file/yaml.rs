//! YAML text -> a small tree whose every key and value remembers where it was written.
//!
//! `saphyr-parser` emits events with spans; this folds them into [`Yaml`] values. Mappings keep
//! their entries in order and duplicates included, so the schema walk can report a repeated key
//! on its second occurrence. Aliases are resolved by copying the anchored value (positions then
//! point at the anchor).
//!
//! The file is untrusted input, read by the gate and by the instrumented program at exit, so
//! every cost is bounded by the text's length: nesting is limited, and so are the values aliases
//! copy. Nine aliases of an anchor that holds nine aliases, seven levels deep, would otherwise
//! make a 647-byte file into millions of values (a "billion laughs"); the copy that would pass
//! the limit is refused before it is made.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput};

use super::diagnostic::Position;

/// Nesting deeper than this is not a budgets file; the limit keeps the recursion bounded.
const MAX_DEPTH: usize = 32;

/// Values aliases may copy in all: this many, plus [`ALIAS_COPIES_PER_EVENT`] per value written
/// so far. A real file reuses a few small anchors, far below; a file whose aliases copy aliases
/// passes it after a handful of levels, with its memory still bounded by its length.
const ALIAS_COPIES_ALLOWED: usize = 10_000;
/// See [`ALIAS_COPIES_ALLOWED`].
const ALIAS_COPIES_PER_EVENT: usize = 10;

/// A value and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Yaml {
    pub(super) value: Value,
    pub(super) at: Position,
}

/// The three kinds of YAML value; scalars keep their text, typed later by the schema.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    /// A scalar as written; `plain` when unquoted (only a plain scalar can be null).
    Scalar { text: String, plain: bool },
    /// Entries in document order, duplicates kept.
    Mapping(Vec<(Yaml, Yaml)>),
    /// A list; its items are never budgets, so only its presence matters.
    Sequence,
}

impl Yaml {
    /// `~`, `null`, or nothing at all (`p95:`), unquoted.
    pub(super) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value as a user would name it in "found ...": the scalar quoted, or its kind.
    pub(super) fn describe(&self) -> String {
        if self.is_null() {
            return "nothing".to_owned();
        }
        match &self.value {
            Value::Scalar { text, .. } => format!("`{text}`"),
            Value::Mapping(_) => "a mapping".to_owned(),
            Value::Sequence => "a list".to_owned(),
        }
    }
}

/// A YAML syntax error: the parser stops at the first one, so there is at most one.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub(super) at: Position,
    pub(super) message: String,
}

/// Parses one YAML document; `None` for a file with no document (empty, or only comments).
pub(super) fn parse(text: &str) -> Result<Option<Yaml>, SyntaxError> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        written: 0,
        copied: 0,
    };
    let mut document = None;
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(document),
            Event::DocumentStart(_) if document.is_some() => {
                return Err(SyntaxError {
                    at: position(span),
                    message: "expected one YAML document, found a second; remove the `---`"
                        .to_owned(),
                });
            }
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                document = Some(reader.value(event, span, 0)?);
            }
            other => return Err(unexpected(&other, span)),
        }
    }
}

struct Reader<'input> {
    parser: Parser<'input, StrInput<'input>>,
    /// Each anchored value, and how many values it holds (itself included).
    anchors: HashMap<usize, (Yaml, usize)>,
    /// Values read from the text so far.
    written: usize,
    /// Values copied by aliases so far.
    copied: usize,
}

impl<'input> Reader<'input> {
    fn next(&mut self) -> Result<(Event<'input>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(next)) => Ok(next),
            Some(Err(error)) => Err(syntax_error(&error)),
            // The parser ends every stream with `StreamEnd`, and `parse` stops there.
            None => Err(SyntaxError {
                at: Position { line: 1, column: 1 },
                message: "unexpected end of the YAML stream".to_owned(),
            }),
        }
    }

    fn value(
        &mut self,
        event: Event<'input>,
        span: Span,
        depth: usize,
    ) -> Result<Yaml, SyntaxError> {
        let at = position(span);
        if depth > MAX_DEPTH {
            return Err(SyntaxError {
                at,
                message: format!("values nested more than {MAX_DEPTH} levels deep"),
            });
        }
        let first = (self.written, self.copied);
        self.written += 1;
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, _) => (
                Value::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                },
                anchor,
            ),
            Event::MappingStart(anchor, _) => {
                let mut entries = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key = self.value(event, span, depth + 1)?;
                    let (event, span) = self.next()?;
                    let value = self.value(event, span, depth + 1)?;
                    entries.push((key, value));
                }
                (Value::Mapping(entries), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                loop {
                    let (event, span) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    self.value(event, span, depth + 1)?;
                }
                (Value::Sequence, anchor)
            }
            Event::Alias(anchor) => return self.alias(anchor, span),
            other => return Err(unexpected(&other, span)),
        };
        let yaml = Yaml { value, at };
        // The parser numbers anchors from 1; 0 means none.
        if anchor != 0 {
            let size = 1 + (self.written - first.0) + (self.copied - first.1);
            self.anchors.insert(anchor, (yaml.clone(), size));
        }
        Ok(yaml)
    }

    /// A copy of the anchored value, unless it would take the copies past their limit; the
    /// check comes first, so a refused alias costs nothing.
    fn alias(&mut self, anchor: usize, span: Span) -> Result<Yaml, SyntaxError> {
        let Some((yaml, size)) = self.anchors.get(&anchor) else {
            return Err(unexpected(&Event::Alias(anchor), span));
        };
        let allowed = ALIAS_COPIES_ALLOWED.saturating_add(self.written * ALIAS_COPIES_PER_EVENT);
        if self.copied.saturating_add(*size) > allowed {
            return Err(SyntaxError {
                at: position(span),
                message: format!(
                    "aliases copy more than {allowed} values; a budgets file has no use for \
                     anchors at this scale: write the entries out"
                ),
            });
        }
        self.copied += size;
        Ok(yaml.clone())
    }
}

/// 1-based line and column; saphyr's lines are 1-based and its columns 0-based, in characters.
fn position(span: Span) -> Position {
    marker_position(span.start.line(), span.start.col())
}

fn marker_position(line: usize, col: usize) -> Position {
    Position {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(col.saturating_add(1)).unwrap_or(u32::MAX),
    }
}

fn syntax_error(error: &ScanError) -> SyntaxError {
    SyntaxError {
        at: marker_position(error.marker().line(), error.marker().col()),
        message: format!("invalid YAML: {}", error.info()),
    }
}

/// An event the parser's grammar does not produce where it came; kept as an error, not a panic.
fn unexpected(event: &Event<'_>, span: Span) -> SyntaxError {
    SyntaxError {
        at: position(span),
        message: format!("invalid YAML: unexpected {event:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn scalar(text: &str, line: u32, column: u32) -> Yaml {
        Yaml {
            value: Value::Scalar {
                text: text.to_owned(),
                plain: true,
            },
            at: Position { line, column },
        }
    }

    #[test]
    fn keys_and_values_keep_their_one_based_positions() {
        let yaml = parse("nodes:\n  embedding: { p95: 50ms }\n")
            .unwrap()
            .unwrap();
        let Value::Mapping(top) = &yaml.value else {
            panic!("{yaml:?}")
        };
        assert_eq!(top[0].0, scalar("nodes", 1, 1));
        let Value::Mapping(nodes) = &top[0].1.value else {
            panic!("{top:?}")
        };
        assert_eq!(nodes[0].0, scalar("embedding", 2, 3));
        let Value::Mapping(entry) = &nodes[0].1.value else {
            panic!("{nodes:?}")
        };
        assert_eq!(entry[0], (scalar("p95", 2, 16), scalar("50ms", 2, 21)));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let yaml = parse("{ µ: 5µs, b: 1 }").unwrap().unwrap();
        let Value::Mapping(entries) = &yaml.value else {
            panic!("{yaml:?}")
        };
        assert_eq!(entries[1].1, scalar("1", 1, 14));
    }

    #[test]
    fn duplicate_keys_are_kept_for_the_schema_to_report() {
        let yaml = parse("a: 1\na: 2\n").unwrap().unwrap();
        let Value::Mapping(entries) = &yaml.value else {
            panic!("{yaml:?}")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0, scalar("a", 2, 1));
    }

    #[test]
    fn quoted_scalars_are_not_plain_and_start_at_the_quote() {
        let yaml = parse("a: \"80ms\"").unwrap().unwrap();
        let Value::Mapping(entries) = &yaml.value else {
            panic!("{yaml:?}")
        };
        assert_eq!(
            entries[0].1,
            Yaml {
                value: Value::Scalar {
                    text: "80ms".to_owned(),
                    plain: false
                },
                at: Position { line: 1, column: 4 }
            }
        );
    }

    #[test]
    fn an_alias_is_a_copy_of_its_anchor() {
        let yaml = parse("a: &fast { p95: 1ms }\nb: *fast\n").unwrap().unwrap();
        let Value::Mapping(entries) = &yaml.value else {
            panic!("{yaml:?}")
        };
        assert_eq!(entries[0].1, entries[1].1);
    }

    /// Each level a mapping of nine aliases of the level below, as in the report of the attack.
    fn alias_bomb(levels: usize) -> String {
        let mut text = "a0: &a0 { p95: 1ms }\n".to_owned();
        for level in 1..=levels {
            let aliases: Vec<String> = (0..9).map(|i| format!("k{i}: *a{}", level - 1)).collect();
            let _ = writeln!(text, "a{level}: &a{level} {{ {} }}", aliases.join(", "));
        }
        text
    }

    #[test]
    fn reproduces_the_alias_bomb_refused_at_the_alias_that_copies_too_much() {
        // Seven levels would copy 9^7 mappings, eleven 9^11: the refusal comes at the same alias,
        // before any of that is built.
        for levels in [7, 11] {
            let bomb = alias_bomb(levels);
            let error = parse(&bomb).unwrap_err();
            assert_eq!(
                error,
                SyntaxError {
                    at: Position {
                        line: 5,
                        column: 24
                    },
                    message: "aliases copy more than 10710 values; a budgets file has no use \
                              for anchors at this scale: write the entries out"
                        .to_owned(),
                },
                "{bomb}"
            );
        }
        assert!(alias_bomb(7).len() < 700);
    }

    #[test]
    fn many_aliases_of_a_small_anchor_are_fine() {
        let mut text = "fast: &fast { p95: 1ms, p99: 2ms }\n".to_owned();
        for i in 0..5_000 {
            let _ = writeln!(text, "n{i}: *fast");
        }
        let yaml = parse(&text).unwrap().unwrap();
        let Value::Mapping(entries) = &yaml.value else {
            panic!("{yaml:?}")
        };
        assert_eq!(entries.len(), 5_001);
        assert_eq!(entries[5_000].1, entries[0].1);
    }

    #[test]
    fn an_empty_file_or_only_comments_has_no_document() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("# nothing budgeted yet\n"), Ok(None));
    }

    #[test]
    fn a_syntax_error_has_the_parser_position_one_based() {
        assert_eq!(
            parse("a: b: c\n"),
            Err(SyntaxError {
                at: Position { line: 1, column: 5 },
                message: "invalid YAML: mapping values are not allowed in this context".to_owned(),
            })
        );
    }

    #[test]
    fn a_second_document_is_an_error_on_its_marker() {
        let error = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(error.at, Position { line: 2, column: 1 });
        assert!(
            error.message.starts_with("expected one YAML document"),
            "{error:?}"
        );
    }

    #[test]
    fn null_is_only_unquoted() {
        assert!(scalar("~", 1, 1).is_null());
        assert!(scalar("", 1, 1).is_null());
        let quoted = Yaml {
            value: Value::Scalar {
                text: "null".to_owned(),
                plain: false,
            },
            at: Position { line: 1, column: 1 },
        };
        assert!(!quoted.is_null());
        assert_eq!(quoted.describe(), "`null`");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let error = parse(&deep).unwrap_err();
        assert_eq!(error.message, "values nested more than 32 levels deep");
        // The scanner refuses flow nesting this deep itself, before our limit; either way the
        // stack stays shallow.
        let deeper = format!("{}1{}", "{a: ".repeat(1_000_000), "}".repeat(1_000_000));
        assert!(parse(&deeper).is_err());
        let mut block = String::new();
        for depth in 0..100 {
            let _ = writeln!(block, "{}k:", " ".repeat(depth));
        }
        assert_eq!(
            parse(&block).unwrap_err().message,
            "values nested more than 32 levels deep"
        );
    }
}
