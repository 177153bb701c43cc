//! `cargo xtask check-modules`: no import circle between the top-level modules of a crate.
//!
//! A module of one job imports what lies below it; two modules that import each other are one
//! job split in two, or one reaching up into its caller. The check reads each crate's sources:
//! every file belongs to the top-level module its path starts with (`src/qmatmul/x86.rs` is
//! `qmatmul`), and every `crate::name` path outside a comment whose `name` is a top-level module
//! is an edge from that file's module to it. Names the crate root re-exports (`crate::Result`)
//! are not modules and make no edge. Circles are the strongly connected components of more than
//! one module; each is printed with one line that makes each of its edges.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::project::Project;
use crate::step::{headline, ok};

/// The crates whose modules must not import each other in a circle.
pub const CHECKED_CRATES: &[&str] = &["crates/oa-app", "crates/oa-engine"];

/// Where one module uses another: the file and line.
type Edges = BTreeMap<(String, String), (PathBuf, usize)>;

/// `cargo xtask check-modules`.
pub fn check(project: &Project) -> Result<()> {
    let mut circles = Vec::new();
    for krate in CHECKED_CRATES {
        headline(&format!("module circles in {krate}"));
        let src = project.root().join(krate).join("src");
        let found = circles_in(&src)?;
        if found.is_empty() {
            ok(format!("no two modules of {krate} import each other"));
        }
        circles.extend(found);
    }
    if !circles.is_empty() {
        for circle in &circles {
            eprintln!("{circle}");
        }
        bail!(
            "{} import circle(s) between modules: move what both need into a module below them",
            circles.len()
        );
    }
    Ok(())
}

/// Every circle among the top-level modules under `src`, described for a person.
pub fn circles_in(src: &Path) -> Result<Vec<String>> {
    let mut sources = BTreeMap::new();
    for file in rust_files(src)? {
        let text =
            fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        sources.insert(file, text);
    }
    // Test code may reach anywhere: only what the crate is built of counts.
    let mut test_files = BTreeSet::new();
    for (file, text) in &sources {
        for name in test_only_file_modules(text) {
            let dir = module_dir(file);
            test_files.insert(dir.join(format!("{name}.rs")));
            test_files.insert(dir.join(&name).join("mod.rs"));
        }
    }
    sources.retain(|file, _| !test_files.contains(file));
    let modules: BTreeSet<String> = sources
        .keys()
        .filter_map(|file| top_module(src, file))
        .collect();
    let mut edges = Edges::new();
    for (file, text) in &sources {
        let Some(from) = top_module(src, file) else {
            continue;
        };
        for (index, line) in built_lines(text) {
            for to in crate_paths(line) {
                if to != from && modules.contains(&to) {
                    edges
                        .entry((from.clone(), to))
                        .or_insert_with(|| (file.clone(), index));
                }
            }
        }
    }
    let mut described = Vec::new();
    for component in strongly_connected(&modules, &edges) {
        let mut lines = vec![format!(
            "circle: {}",
            component.iter().cloned().collect::<Vec<_>>().join(" ↔ ")
        )];
        for ((from, to), (file, line)) in &edges {
            if component.contains(from) && component.contains(to) {
                let file = file.strip_prefix(src).unwrap_or(file);
                lines.push(format!("  {from} → {to} (src/{}:{line})", file.display()));
            }
        }
        described.push(lines.join("\n"));
    }
    Ok(described)
}

/// Whether an attribute line keeps what follows out of the crate as built.
fn test_only(attribute: &str) -> bool {
    let compact: String = attribute.chars().filter(|c| !c.is_whitespace()).collect();
    compact.starts_with("#[cfg(test)]") || compact.starts_with("#[cfg(any(test,")
}

/// The folder where the files of `file`'s submodules live: beside `mod.rs` or `lib.rs`, else
/// in the folder named after the file.
fn module_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new(""));
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") | None => parent.to_owned(),
        Some(stem) => parent.join(stem),
    }
}

/// The names of the file modules a source declares under a test-only attribute
/// (`#[cfg(test)] mod kernel_tests;`).
fn test_only_file_modules(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut names = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !test_only(line) {
            continue;
        }
        let Some(next) = lines[i + 1..]
            .iter()
            .find(|l| !l.is_empty() && !l.starts_with("#["))
        else {
            continue;
        };
        let declaration = next
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ");
        if let Some(name) = declaration
            .strip_prefix("mod ")
            .and_then(|r| r.strip_suffix(';'))
        {
            names.push(name.trim().to_owned());
        }
    }
    names
}

/// The lines of a source that are built into the crate, numbered from 1: without comments and
/// without the items under a test-only attribute (counted by their braces).
fn built_lines(text: &str) -> Vec<(usize, &str)> {
    let mut built = Vec::new();
    let mut skipping = false;
    let mut depth = 0i64;
    let mut opened = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if !skipping && test_only(trimmed) {
            skipping = true;
            depth = 0;
            opened = false;
            continue;
        }
        if skipping {
            for c in line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            // The item ends where its braces close, or at its `;` when it has none.
            if (opened && depth <= 0) || (!opened && trimmed.ends_with(';')) {
                skipping = false;
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        built.push((index + 1, line));
    }
    built
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The top-level module a file belongs to; `None` for the crate root and `main.rs`.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The first segments of the `crate::` paths on a line: `crate::a::b` gives `a`, and
/// `crate::{a, b::c}` gives `a` and `b`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `oa_engine::crate::` cannot occur, but `my_crate::` can: only a path that starts at
        // `crate` counts.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.extend(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            names.extend(first_segment(&item));
        } else {
            names.extend(first_segment(rest));
        }
    }
    names
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.starts_with(|c: char| c.is_lowercase())).then_some(name)
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn strongly_connected(modules: &BTreeSet<String>, edges: &Edges) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let index = state.index.len();
        state.index.insert(node, index);
        state.low.insert(node, index);
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in state.next.get(node).cloned().unwrap_or_default() {
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = BTreeSet::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.insert(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                state.found.push(component);
            }
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from.as_str()).or_default().push(to.as_str());
    }
    let mut state = State {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in modules {
        if !state.index.contains_key(module.as_str()) {
            visit(&mut state, module);
        }
    }
    state.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn paths_name_their_first_module() {
        assert_eq!(crate_paths("use crate::qmatmul::round;"), ["qmatmul"]);
        assert_eq!(
            crate_paths("use crate::{arch::{self, Spec}, gguf, Result};"),
            ["arch", "gguf"]
        );
        assert_eq!(
            crate_paths("let x = my_crate::a::b();"),
            Vec::<String>::new()
        );
        assert_eq!(crate_paths("crate::x::f(crate::y::g())"), ["x", "y"]);
    }

    #[test]
    fn two_modules_that_import_each_other_are_a_circle_and_a_chain_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        write(src, "lib.rs", "mod a; mod b; mod c; pub use a::A;");
        write(src, "a.rs", "use crate::b::B;\n");
        write(src, "b/mod.rs", "mod inner;\n");
        write(
            src,
            "b/inner.rs",
            "// crate::c in a comment is no edge\nuse crate::a::A;\n",
        );
        write(src, "c.rs", "use crate::{A, Result};\n");
        // Test code reaches anywhere without making a circle.
        write(
            src,
            "c.rs",
            "use crate::{A, Result};\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n\
             #[cfg(test)]\nmod more_tests;\n",
        );
        write(src, "c/more_tests.rs", "use crate::b::B;\n");
        write(
            src,
            "b/mod.rs",
            "mod inner;\n#[cfg(any(test, feature = \"t\"))]\nfn f() {\n    crate::c::g();\n}\n",
        );
        let circles = circles_in(src).unwrap();
        assert_eq!(circles.len(), 1, "{circles:?}");
        assert!(circles[0].starts_with("circle: a ↔ b"), "{}", circles[0]);
        assert!(
            circles[0].contains("b → a (src/b/inner.rs:2)"),
            "{}",
            circles[0]
        );

        write(src, "b/inner.rs", "use crate::c::C;\n");
        assert!(circles_in(src).unwrap().is_empty());
    }
}
