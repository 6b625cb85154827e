//! The dependency graph of the top-level modules (`src/<module>`), checked:
//! no import cycle between them, and the model at the bottom.
//!
//! ```text
//!   every file under src/ ─strip comments, strings, #[cfg(test)] items─▶ `crate::x…`, `crate::{x, y…}`, `super::…` past the root
//!        ─▶ edge  <module of the file> → x ─▶ strongly connected components ─▶ each with more than one module = a cycle
//! ```
//!
//! Test code (a `#[cfg(test)]` item or a file declared `#[cfg(test)] mod …;`)
//! may reach anywhere and is left out. Run: `cargo test --lib layering`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The model: these import nothing but each other.
const MODEL: &[&str] = &["event", "lsn", "progress", "record", "schema"];

/// Known edges out of the model, each with the reason it is still there.
/// Remove an entry when its edge goes.
const MODEL_EXCEPTIONS: &[(&str, &str)] = &[];

/// module → (imported module → files that import it).
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Removes comments and char literals, and blanks the characters of string
/// literals that could read as code (`{`, `}`, `;`, `:`, `"`).
fn strip_comments_and_literals(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(b' ');
        } else if c == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) && !ident_byte(out.last()) {
            // Raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            out.push(b'"');
            while j < b.len() && !b[j..].starts_with(&close) {
                out.push(literal_byte(b[j]));
                j += 1;
            }
            out.push(b'"');
            i = j + close.len();
        } else if c == b'"' {
            out.push(b'"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                let n = if b[i] == b'\\' { 2 } else { 1 };
                out.extend(b[i..(i + n).min(b.len())].iter().map(|c| literal_byte(*c)));
                i += n;
            }
            out.push(b'"');
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                let mut j = i + 3;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                i = j + 1;
                out.extend_from_slice(b"' '");
            } else if let Some(len) = std::str::from_utf8(&b[i + 1..]).ok().and_then(|s| s.chars().next()).map(char::len_utf8)
                .filter(|len| b.get(i + 1 + len) == Some(&b'\''))
            {
                i += len + 2;
                out.extend_from_slice(b"' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn literal_byte(c: u8) -> u8 {
    if matches!(c, b'{' | b'}' | b';' | b':' | b'"' | b'\\') {
        b' '
    } else {
        c
    }
}

fn ident_byte(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Removes every item marked `#[cfg(test)]`; returns the code left and the
/// names of the file modules it declares test-only (`#[cfg(test)] mod x;`),
/// with their `#[path]` when given.
fn strip_test_items(code: &str) -> (String, Vec<(String, Option<String>)>) {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut test_mods = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        // The item ends at its first `;` outside braces, or at the brace
        // that closes its first `{`.
        let bytes = item.as_bytes();
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        let text = &item[..end];
        if text.ends_with(';') {
            let words: Vec<&str> = text.trim_end_matches(';').split_whitespace().collect();
            if let Some(pos) = words.iter().position(|w| *w == "mod") {
                if let Some(name) = words.get(pos + 1) {
                    let path = text
                        .find("#[path")
                        .and_then(|p| text[p..].split('"').nth(1))
                        .map(str::to_owned);
                    test_mods.push(((*name).to_owned(), path));
                }
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_mods)
}

/// The top-level modules named by `crate::…` paths (and `super::…` paths
/// that climb to the crate root) in `code`. `depth` is the file's module
/// depth (1 for `src/x.rs` and `src/x/mod.rs`).
fn imported_modules(code: &str, depth: usize, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut starts = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && (ident_byte(bytes.get(at - 1)) || bytes[at - 1] == b'$') {
            continue;
        }
        starts.push(at + "crate::".len());
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && (ident_byte(bytes.get(at - 1)) || bytes[at - 1] == b':') {
            continue;
        }
        let mut n = 1;
        let mut end = at + "super::".len();
        while code[end..].starts_with("super::") {
            n += 1;
            end += "super::".len();
        }
        if n >= depth {
            starts.push(end);
        }
    }
    for start in starts {
        let rest = &code[start..];
        if let Some(group) = rest.strip_prefix('{') {
            // crate::{a, b::c, d::{e, f}}: the first segment of each top-level entry.
            let mut depth = 0usize;
            let mut entry_start = true;
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    c if entry_start && !c.is_whitespace() => {
                        entry_start = false;
                        let name: String = group[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        found.insert(name);
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.insert(name);
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module graph of the crate rooted at `src`.
fn module_graph(src: &Path) -> Graph {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let lib = strip_comments_and_literals(&lib);
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.trim().trim_end_matches(';').split_whitespace().collect();
            let pos = words.iter().position(|w| *w == "mod")?;
            (l.trim_end().ends_with(';') && !l.contains("cfg(test)")).then(|| words.get(pos + 1).map(|s| (*s).to_owned()))?
        })
        .collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut test_files = BTreeSet::new();
    let mut parsed = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap_or(file).to_path_buf();
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let (code, test_mods) = strip_test_items(&strip_comments_and_literals(&text));
        // Where this file's child modules live.
        let stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = if matches!(stem, "mod" | "lib" | "main") { parent.clone() } else { parent.join(stem) };
        for (name, path) in test_mods {
            match path {
                Some(p) => {
                    test_files.insert(parent.join(p));
                }
                None => {
                    test_files.insert(dir.join(format!("{name}.rs")));
                    test_files.insert(dir.join(&name));
                }
            }
        }
        parsed.push((rel, code));
    }
    let mut graph = Graph::new();
    for (rel, code) in parsed {
        // A test module's file, or a file of its submodules.
        if test_files.iter().any(|t| rel == *t || rel.starts_with(t.with_extension(""))) {
            continue;
        }
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let Some(last) = parts.pop() else { continue };
        let stem = last.trim_end_matches(".rs").to_owned();
        if stem != "mod" {
            parts.push(stem);
        }
        let Some(top) = parts.first().cloned().filter(|t| modules.contains(t)) else { continue };
        let edges = graph.entry(top.clone()).or_default();
        for m in imported_modules(&code, parts.len(), &modules) {
            if m != top {
                edges.entry(m).or_default().insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flat_map(BTreeMap::keys) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), out: Vec::new() };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// The edges inside each cycle, one line each: `a -> b (files)`.
fn describe(graph: &Graph, cycles: &[Vec<String>]) -> String {
    let mut out = String::new();
    for component in cycles {
        out.push_str(&format!("cycle between {}:\n", component.join(", ")));
        for a in component {
            for (b, files) in graph.get(a).into_iter().flatten() {
                if component.contains(b) {
                    let files: Vec<&str> = files.iter().map(String::as_str).collect();
                    out.push_str(&format!("  {a} -> {b}  ({})\n", files.join(", ")));
                }
            }
        }
    }
    out
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = module_graph(&src_dir());
    assert!(graph.len() > 10, "the checker found too few modules: {:?}", graph.keys());
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles between the modules of src/:\n{}", describe(&graph, &found));
}

#[test]
fn the_model_imports_nothing_above_it() {
    let graph = module_graph(&src_dir());
    let mut wrong = Vec::new();
    for m in MODEL {
        for (to, files) in graph.get(*m).into_iter().flatten() {
            if !MODEL.contains(&to.as_str()) && !MODEL_EXCEPTIONS.contains(&(m, to.as_str())) {
                wrong.push(format!("{m} -> {to} ({})", files.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    assert!(wrong.is_empty(), "the model ({}) imports modules above it:\n{}", MODEL.join(", "), wrong.join("\n"));
}

#[test]
fn the_checker_sees_paths_groups_and_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "c", "d"].iter().map(|s| (*s).to_owned()).collect();
    let code = strip_comments_and_literals(
        "use crate::{a::X, b::{Y, Z}};\n// crate::c\nlet s = \"crate::c\"; let c = '{'; fn f<'x>() { crate::d::g() }",
    );
    let want: BTreeSet<String> = ["a", "b", "d"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(imported_modules(&code, 1, &modules), want);
    assert_eq!(imported_modules("use super::super::c::X;", 2, &modules), ["c".to_owned()].into());
    assert!(imported_modules("use super::c::X;", 2, &modules).is_empty(), "a sibling inside the module");
    let (code, mods) = strip_test_items("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; }\n#[cfg(test)]\n#[path = \"x_tests.rs\"]\nmod x;\n");
    assert_eq!(imported_modules(&code, 1, &modules), ["a".to_owned()].into());
    assert_eq!(mods, vec![("x".to_owned(), Some("x_tests.rs".to_owned()))]);
    let mut graph = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph.entry(a.to_owned()).or_default().entry(b.to_owned()).or_default().insert(format!("{a}.rs"));
    }
    assert_eq!(cycles(&graph), vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
}
