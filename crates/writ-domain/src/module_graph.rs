//! The module dependency graph of `writ-domain`, checked by a test: no import cycle among the
//! crate's modules (issue 15), and the model layer depends on nothing but itself, `error` and
//! `ids`.
//!
//! **Granularity.** A node is a top-level module (`store`, `jobs`, `audit`, …), except that the
//! files of the three module folders (`entitlement/`, `directory/`, `model/`) are nodes of their
//! own (`entitlement::requests`, `model::policy`); a folder's `mod.rs` is the folder's node
//! (`entitlement`), and anything deeper is its second-level ancestor
//! (`entitlement/requests/create.rs` is `entitlement::requests`).
//!
//! **Edges.** Every `crate::…` and `super::…` path in a file's code (`use` trees, inline paths
//! such as `crate::instant::add(…)`), resolved to the node it names. Comments, string literals
//! and `#[cfg(test)]` modules are left out: tests may reach anywhere. A module naming its own
//! descendants (`entitlement` declaring and re-exporting `entitlement::requests`) is the module
//! tree, not a dependency, and is not an edge; a child naming its parent (`super::Entitlement`)
//! is.
//!
//! Methods are not paths: `impl Entitlement` blocks spread over several files call each other
//! freely, which this graph does not see and need not.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Folders whose files are nodes of their own.
    const FOLDERS: &[&str] = &["entitlement", "directory", "model"];

    /// What the model layer may name besides itself.
    const MODEL_MAY_USE: &[&str] = &["error", "ids"];

    fn src_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The module path of a file, `[]` for `lib.rs`.
    fn module_path(file: &Path) -> Vec<String> {
        let relative = file.strip_prefix(src_dir()).unwrap_or(file);
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if let Some(last) = parts.pop() {
            let stem = last.trim_end_matches(".rs").to_owned();
            if stem != "mod" && stem != "lib" {
                parts.push(stem);
            }
        }
        parts
    }

    /// The node a module path belongs to.
    fn node_of(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<String> {
        let first = path.first()?;
        if !modules.contains(&vec![first.clone()]) {
            // An item of the crate root (`crate::DomainError`): the root re-exports it.
            return Some("crate".into());
        }
        if FOLDERS.contains(&first.as_str())
            && let Some(second) = path.get(1)
            && modules.contains(&vec![first.clone(), second.clone()])
        {
            return Some(format!("{first}::{second}"));
        }
        Some(first.clone())
    }

    /// The code of a file without comments, string and char literals, and `#[cfg(test)]`
    /// modules.
    fn code_of(text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c == '/' && next == Some('/') {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && next == Some('*') {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            } else if c == 'r' && (next == Some('"') || next == Some('#')) && {
                let prev = i.checked_sub(1).and_then(|p| chars.get(p));
                !prev.is_some_and(|p| p.is_alphanumeric() || *p == '_')
            } {
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    out.push(c);
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    match chars.get(j) {
                        None => break,
                        Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                            j += 1 + hashes;
                            break;
                        }
                        _ => j += 1,
                    }
                }
                out.push_str("\"\"");
                i = j;
            } else if c == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            } else if c == '\'' {
                // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
                if next == Some('\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else {
                out.push(c);
                i += 1;
            }
        }
        strip_test_modules(&out)
    }

    fn strip_test_modules(code: &str) -> String {
        let mut out = code.to_owned();
        while let Some(at) = out.find("#[cfg(test)]") {
            let rest = &out[at..];
            let Some(open) = rest.find('{') else {
                break;
            };
            // `#[cfg(test)] mod fake;` declares a file module: drop the declaration only, not
            // the next block in the file.
            let declaration = rest[..open]
                .find(';')
                .filter(|_| rest[..open].contains("mod "));
            if let Some(semicolon) = declaration {
                out.replace_range(at..at + semicolon + 1, "");
                continue;
            }
            let is_mod = rest[..open].contains("mod ");
            let mut depth = 0usize;
            let mut end = rest.len();
            if is_mod {
                for (k, ch) in rest.char_indices().skip_while(|(k, _)| *k < open) {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            } else {
                // A `#[cfg(test)]` item other than a module: drop the attribute only.
                end = "#[cfg(test)]".len();
            }
            out.replace_range(at..at + end, "");
        }
        out
    }

    fn is_ident(c: char) -> bool {
        c.is_alphanumeric() || c == '_'
    }

    /// Parses the use tree or path starting at `at` (just after a `crate::`/`super::` prefix
    /// has been consumed into `prefix`), pushing every path prefix of at most `depth` segments
    /// it names.
    fn paths_from(
        chars: &[char],
        mut at: usize,
        prefix: Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) -> usize {
        let mut path = prefix;
        loop {
            while chars.get(at).is_some_and(|c| c.is_whitespace()) {
                at += 1;
            }
            if chars.get(at) == Some(&'{') {
                at += 1;
                loop {
                    while chars
                        .get(at)
                        .is_some_and(|c| c.is_whitespace() || *c == ',')
                    {
                        at += 1;
                    }
                    match chars.get(at) {
                        None => return at,
                        Some('}') => return at + 1,
                        _ => {
                            let before = at;
                            at = paths_from(chars, at, path.clone(), out);
                            if at == before {
                                at += 1;
                            }
                        }
                    }
                }
            }
            let start = at;
            while chars.get(at).is_some_and(|c| is_ident(*c)) {
                at += 1;
            }
            if at == start {
                out.push(path);
                return at;
            }
            let segment: String = chars[start..at].iter().collect();
            if segment == "self" {
                out.push(path);
                return at;
            }
            path.push(segment);
            if chars.get(at) == Some(&':') && chars.get(at + 1) == Some(&':') {
                at += 2;
            } else {
                out.push(path);
                return at;
            }
        }
    }

    /// Every absolute module path (`crate::`/`super::` resolved) named in `code` of the module
    /// at `module`.
    fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
        let chars: Vec<char> = code.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let preceded = i
                .checked_sub(1)
                .and_then(|p| chars.get(p))
                .is_some_and(|c| is_ident(*c) || *c == ':');
            if preceded {
                i += 1;
                continue;
            }
            let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
            if rest.starts_with("crate::") {
                i = paths_from(&chars, i + 7, Vec::new(), &mut out);
            } else if rest.starts_with("super::") {
                let mut base: Vec<String> = module.to_vec();
                let mut j = i;
                while chars[j..].iter().take(7).collect::<String>() == "super::" {
                    base.pop();
                    j += 7;
                }
                i = paths_from(&chars, j, base, &mut out);
            } else {
                i += 1;
            }
        }
        out
    }

    /// The graph: node → the nodes it names.
    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let mut files = Vec::new();
        rust_files(&src_dir(), &mut files);
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(f)).collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let module = module_path(file);
            let Some(from) = node_of(&module, &modules).or(Some("crate".into())) else {
                continue;
            };
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let edges = graph.entry(from.clone()).or_default();
            for path in named_paths(&code_of(&text), &module) {
                let Some(to) = node_of(&path, &modules) else {
                    continue;
                };
                let descendant = to.starts_with(&format!("{from}::")) || from == "crate";
                if to != from && !descendant {
                    edges.insert(to);
                }
            }
        }
        graph
    }

    /// The strongly connected components of more than one node (Tarjan).
    fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
        struct State<'a> {
            graph: &'a BTreeMap<String, BTreeSet<String>>,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: BTreeSet<&'a str>,
            next: usize,
            found: Vec<Vec<String>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a str) {
            s.index.insert(v, s.next);
            s.low.insert(v, s.next);
            s.next += 1;
            s.stack.push(v);
            s.on_stack.insert(v);
            let graph = s.graph;
            for w in graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
            if s.low[v] == s.index[v] {
                let mut component = Vec::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    s.found.push(component);
                }
            }
        }
        let mut state = State {
            graph,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            found: Vec::new(),
        };
        for v in graph.keys() {
            if !state.index.contains_key(v.as_str()) {
                visit(&mut state, v);
            }
        }
        state.found
    }

    /// One cycle through `start` inside `component`, as `a → b → … → a`.
    fn one_cycle(graph: &BTreeMap<String, BTreeSet<String>>, component: &[String]) -> String {
        let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
        let Some(start) = component.first() else {
            return String::new();
        };
        // Breadth-first from the start's successors back to the start.
        let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        while let Some(v) = queue.pop_front() {
            for w in graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !inside.contains(w) || previous.contains_key(w) {
                    continue;
                }
                previous.insert(w, v);
                if w == start {
                    queue.clear();
                    break;
                }
                queue.push_back(w);
            }
        }
        let mut path = vec![start.as_str()];
        let mut at = start.as_str();
        while let Some(p) = previous.get(at) {
            path.push(p);
            at = p;
            if at == start || path.len() > component.len() + 1 {
                break;
            }
        }
        path.reverse();
        path.join(" → ")
    }

    #[test]
    fn the_graph_sees_the_crate() {
        let graph = graph();
        for node in [
            "store",
            "model::request",
            "entitlement::requests",
            "directory::users",
        ] {
            assert!(graph.contains_key(node), "{node} is missing from {graph:?}");
        }
        assert!(graph["entitlement::requests"].contains("model"));
        assert!(graph["entitlement::requests"].contains("entitlement"));
    }

    #[test]
    fn no_import_cycle_among_domain_modules() {
        let graph = graph();
        let found: Vec<String> = cycles(&graph)
            .iter()
            .map(|component| {
                format!(
                    "{} (e.g. {})",
                    component.join(", "),
                    one_cycle(&graph, component)
                )
            })
            .collect();
        assert!(
            found.is_empty(),
            "import cycles among writ-domain modules:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn the_model_depends_on_nothing_but_itself() {
        let graph = graph();
        let mut wrong = Vec::new();
        for (from, to) in &graph {
            if !from.starts_with("model") {
                continue;
            }
            for target in to {
                if !target.starts_with("model") && !MODEL_MAY_USE.contains(&target.as_str()) {
                    wrong.push(format!("{from} → {target}"));
                }
            }
        }
        assert!(wrong.is_empty(), "the model layer names {wrong:?}");
    }

    #[test]
    fn the_port_imports_the_model_only() {
        let graph = graph();
        // `request_waiter`: the signal a store wakes after committing a request's change (a leaf
        // module: it names nothing of the crate).
        let allowed = ["model", "error", "query", "crate", "request_waiter"];
        let wrong: Vec<&String> = graph["store"]
            .iter()
            .filter(|t| !allowed.iter().any(|a| t.starts_with(a)))
            .collect();
        assert!(wrong.is_empty(), "the storage port names {wrong:?}");
    }
}
