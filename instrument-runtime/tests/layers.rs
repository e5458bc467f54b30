//! The runtime's top-level modules depend on each other one way only: read from the source, the
//! imports between them (`use crate::x`, `crate::x::` in code, `super::` climbing to the root)
//! form a directed acyclic graph. DEVELOPMENT.md draws the layers this keeps apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// An import of another top-level module: who imports, and where, for the failure message.
#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    site: String,
}

#[test]
fn top_level_modules_form_a_directed_acyclic_graph() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = top_level_modules(&src);
    let mut edges = Vec::new();
    let mut root_paths = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module_path = module_path_of(relative);
        let Some(owner) = module_path.first().cloned() else {
            continue; // lib.rs: the map of the crate, above every module
        };
        let code = strip_comments_and_literals(&fs::read_to_string(&file).unwrap());
        for (line, target) in root_references(&code, module_path.len()) {
            let site = format!("src/{}:{line}", relative.display());
            if modules.contains(&target) {
                if target != owner {
                    edges.push(Edge {
                        from: owner.clone(),
                        to: target,
                        site,
                    });
                }
            } else {
                root_paths.push(format!("{site}: crate::{target}"));
            }
        }
    }
    assert!(
        root_paths.is_empty(),
        "name the module an item is defined in, not its re-export at the crate root (the root \
         hides the dependency from this check):\n{}",
        root_paths.join("\n")
    );
    if let Some(cycle) = find_cycle(&modules, &edges) {
        let described: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let edge = edges
                    .iter()
                    .find(|edge| edge.from == pair[0] && edge.to == pair[1]);
                format!("{} -> {} ({})", pair[0], pair[1], edge.unwrap().site)
            })
            .collect();
        panic!(
            "the top-level modules import each other in a circle:\n{}",
            described.join("\n")
        );
    }
}

#[test]
fn the_check_sees_every_form_of_import() {
    let code = strip_comments_and_literals(
        "use crate::a::X;\n\
         use crate::{b::Y, c};\n\
         // crate::commented::Out\n\
         let s = \"crate::quoted\"; let c = '\"'; let l: &'static str = s;\n\
         fn f() -> crate::d::Z { super::super::e::f() }\n\
         mod tests { use super::super::super::g; use super::super::h; }\n\
         macro_rules! m { () => { $crate::hidden } }\n",
    );
    let targets: Vec<String> = root_references(&code, 2)
        .into_iter()
        .map(|(_, target)| target)
        .collect();
    assert_eq!(targets, ["a", "b", "c", "d", "e", "g"]);

    let modules: BTreeSet<String> = ["a", "b", "c"].map(str::to_owned).into();
    let edge = |from: &str, to: &str| Edge {
        from: from.to_owned(),
        to: to.to_owned(),
        site: String::new(),
    };
    assert_eq!(
        find_cycle(&modules, &[edge("a", "b"), edge("b", "c"), edge("a", "c")]),
        None
    );
    assert_eq!(
        find_cycle(&modules, &[edge("a", "b"), edge("b", "c"), edge("c", "a")]),
        Some(["a", "b", "c", "a"].map(str::to_owned).to_vec())
    );
}

/// The names of `src`'s top-level modules: its files and folders, `lib.rs` aside.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    fs::read_dir(src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            if path.is_dir() {
                Some(name.to_owned())
            } else {
                let stem = name.strip_suffix(".rs")?;
                (stem != "lib").then(|| stem.to_owned())
            }
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `export/http/routes.rs` is `export::http::routes`; `report/mod.rs` would be `report`.
fn module_path_of(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .iter()
        .map(|part| part.to_str().unwrap().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(path.last().map(String::as_str), Some("lib" | "mod")) {
        path.pop();
    }
    path
}

/// The code with comments, string and character literals blanked (newlines kept, so lines still
/// count): a doc example or a message that spells `crate::x` is not an import.
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        if rest.starts_with(&['/', '/']) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if rest.starts_with(&['/', '*']) {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i..].starts_with(&['/', '*']) {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i..].starts_with(&['*', '/']) {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if rest[0] == '"'
            || (rest[0] == 'r'
                && matches!(rest.get(1), Some('"' | '#'))
                && !ident_before(&chars, i))
        {
            // A string, or a raw string `r#"..."#` ending at a quote followed by as many `#`.
            let raw = rest[0] == 'r';
            let mut j = i + usize::from(raw);
            let mut hashes = 0;
            while chars[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if chars[j] != '"' {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if !raw && chars[j] == '\\' {
                    j += 2;
                } else if chars[j] == '"'
                    && chars[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == '#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                } else {
                    j += 1;
                }
            }
            out.extend(chars[i..j.min(chars.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if rest[0] == '\'' {
            // A character literal (`'x'`, `'\n'`, `'\u{1b}'`), or a lifetime, left as it is.
            let end = if rest.get(1) == Some(&'\\') {
                rest.iter()
                    .skip(2)
                    .position(|&c| c == '\'')
                    .map(|at| at + 3)
            } else {
                (rest.get(2) == Some(&'\'')).then_some(3)
            };
            let end = end.unwrap_or(1);
            out.extend(std::iter::repeat_n(' ', end));
            i += end;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The top-level modules a file's code names, with their lines: `crate::x`, the entries of
/// `crate::{x, y::z}`, and `super::` chains that climb out of the file's module to the root.
/// `depth` is the file's module path length; an inline `mod tests { ... }` adds one inside it.
fn root_references(code: &str, depth: usize) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    // The brace depths at which inline modules opened, innermost last.
    let mut inline_modules: Vec<usize> = Vec::new();
    let mut braces = 0;
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\n' => line += 1,
            '{' => braces += 1,
            '}' => {
                braces -= 1;
                if inline_modules.last() == Some(&braces) {
                    inline_modules.pop();
                }
            }
            _ => {}
        }
        if ident_before(&chars, i) || (i > 0 && matches!(chars[i - 1], '$' | ':')) {
            i += 1;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        if rest.starts_with("mod ") {
            let after: String = chars[i + 4..]
                .iter()
                .take_while(|&&c| c != ';' && c != '{')
                .collect();
            if chars.get(i + 4 + after.len()) == Some(&'{') {
                inline_modules.push(braces);
            }
        }
        let mut climbed = None;
        let mut j = i;
        if rest == "crate::" {
            climbed = Some(i + 7);
        } else {
            let mut supers = 0;
            while chars[j..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                supers += 1;
                j += 7;
            }
            if supers > 0 && supers >= depth + inline_modules.len() {
                climbed = Some(j);
            }
        }
        if let Some(start) = climbed {
            for name in path_heads(&chars[start..]) {
                found.push((line, name));
            }
        }
        i += 1;
    }
    found
}

/// The first segment of a path (`x` of `x::y`), or of each entry of a group `{x::y, z}`.
fn path_heads(chars: &[char]) -> Vec<String> {
    let ident = |from: usize| -> String {
        chars[from..]
            .iter()
            .take_while(|&&c| c.is_alphanumeric() || c == '_')
            .collect()
    };
    let start = chars.iter().position(|c| !c.is_whitespace()).unwrap_or(0);
    if chars.get(start) != Some(&'{') {
        return vec![ident(start)];
    }
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (at, &c) in chars.iter().enumerate().skip(start) {
        match c {
            '{' => {
                depth += 1;
                expecting = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            c if expecting && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                heads.push(ident(at));
                expecting = false;
            }
            _ => {}
        }
    }
    heads
}

/// A circle of imports, as `[a, b, ..., a]`, if there is one.
fn find_cycle(modules: &BTreeSet<String>, edges: &[Edge]) -> Option<Vec<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for edge in edges {
        graph.entry(&edge.from).or_default().insert(&edge.to);
    }
    let mut done = BTreeSet::new();
    modules
        .iter()
        .find_map(|module| visit(module, &graph, &mut Vec::new(), &mut done))
}

/// Depth first; a module met again while still on the path closes a circle.
fn visit<'a>(
    module: &'a str,
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|&on_path| on_path == module) {
        let mut cycle: Vec<String> = path[at..].iter().map(|&m| m.to_owned()).collect();
        cycle.push(module.to_owned());
        return Some(cycle);
    }
    if !done.insert(module) {
        return None;
    }
    path.push(module);
    for &next in graph.get(module).into_iter().flatten() {
        if let Some(cycle) = visit(next, graph, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}

#[test]
fn the_crate_root_exports_at_most_forty_names() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let names = root_names(&src);
    assert!(
        names.len() <= 40,
        "the crate root exports {} names; keep it to what a program writes or reads and put the \
         rest in a module named for what it holds:\n{}",
        names.len(),
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    );
}

/// The names at the crate root: `pub use` and `pub mod` items of `lib.rs` outside any module,
/// and the `#[macro_export]` macros of every file. `__private`, hidden, is what generated code
/// names.
fn root_names(src: &Path) -> BTreeSet<String> {
    let lib = without_attributes(&strip_comments_and_literals(
        &fs::read_to_string(src.join("lib.rs")).unwrap(),
    ));
    let mut names = BTreeSet::new();
    let mut depth = 0;
    let mut statement = String::new();
    for c in lib.chars() {
        match c {
            '{' if !statement.trim_start().starts_with("pub use") => {
                if depth == 0 {
                    names.extend(declared_module(&statement));
                }
                depth += 1;
                statement.clear();
            }
            '}' if !statement.trim_start().starts_with("pub use") => {
                depth -= 1;
                statement.clear();
            }
            ';' => {
                if depth == 0 {
                    if let Some(path) = statement.trim_start().strip_prefix("pub use") {
                        names.extend(leaves(path));
                    }
                    names.extend(declared_module(&statement));
                }
                statement.clear();
            }
            _ => statement.push(c),
        }
    }
    for file in rust_files(src) {
        let code = fs::read_to_string(file).unwrap();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("#[macro_export]") {
            rest = &rest[at..];
            let after = &rest[rest.find("macro_rules!").unwrap() + "macro_rules!".len()..];
            let name: String = after
                .trim_start()
                .chars()
                .take_while(|&c| c.is_alphanumeric() || c == '_')
                .collect();
            names.insert(name);
            rest = after;
        }
    }
    names.retain(|name| !name.starts_with("__"));
    names
}

/// `x` of a statement ending `pub mod x`.
fn declared_module(statement: &str) -> Option<String> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    match words.as_slice() {
        [.., "pub", "mod", name] => Some((*name).to_owned()),
        _ => None,
    }
}

/// The names a `use` path brings in: `a::b` gives `b`, `a::{b, c::{d, e as f}}` gives `b`, `d`
/// and `f`.
fn leaves(path: &str) -> Vec<String> {
    let path = path.trim();
    let Some(open) = path.find('{') else {
        let last = path.rsplit([':', ' ']).next().unwrap_or(path);
        return vec![last.trim().to_owned()];
    };
    let inner = &path[open + 1..path.rfind('}').unwrap()];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(leaves)
        .collect()
}

/// The code without its attributes (`#[cfg(...)]`, `#![doc = ...]`), which are not names.
fn without_attributes(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '#' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'!') {
            chars.next();
        }
        let mut depth = 0;
        for c in chars.by_ref() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                break;
            }
        }
    }
    out
}
