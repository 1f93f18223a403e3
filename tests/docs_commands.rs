//! The documentation stays true to the command line: every command README.md and docs/*.md show
//! (in fenced code blocks, and in inline code that starts with the program) must parse with the
//! real clap definition (`src/cli/args.rs`, the binary's, compiled into this test), so renaming or removing a documented flag
//! fails here. A command the docs show on purpose as a usage error ends with a `# error` comment
//! and must fail to parse. Also: the README stays short, and the links between the pages (file and
//! heading anchor) resolve.

use clap::Parser;
use clap::error::ErrorKind;

/// The command line's flags: the binary's own definition (the command line is not part of the
/// library), which depends on clap only.
#[path = "../src/cli/args.rs"]
#[allow(dead_code)]
mod args;
use args::Cli;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Fewer commands than this means the scanner has stopped finding them.
const MIN_COMMANDS: usize = 15;
const README_MAX_LINES: usize = 250;

/// Languages of the fenced blocks whose lines may be commands (json, toml, rust, python are not).
const SHELL_LANGS: &[&str] = &[
    "",
    "sh",
    "bash",
    "shell",
    "console",
    "shell-session",
    "text",
    "yaml",
    "yml",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page under docs/, in a stable order.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

fn display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One command found in the docs.
struct DocCommand {
    /// `file:line` where it starts.
    at: String,
    /// As written (continuation lines joined).
    text: String,
    /// The arguments after the program.
    args: Vec<String>,
    /// Marked `# error`: the docs show it failing.
    expect_error: bool,
    /// Found in inline code in the prose rather than in a fenced block.
    inline: bool,
}

/// Numbered lines of a page (1-based).
type Lines<'a> = Vec<(usize, &'a str)>;

/// A fenced code block: the fence that opened it, its language and its lines.
struct Block<'a> {
    fence: String,
    lang: String,
    lines: Lines<'a>,
}

/// The pieces of a page: its fenced blocks and the text outside them.
struct Page<'a> {
    blocks: Vec<Block<'a>>,
    prose: Lines<'a>,
}

fn split_page(text: &str) -> Page<'_> {
    let mut page = Page {
        blocks: Vec::new(),
        prose: Vec::new(),
    };
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                let fence_len = trimmed.chars().take_while(|&c| c == '`').count();
                if fence_len >= 3 {
                    open = Some(Block {
                        fence: "`".repeat(fence_len),
                        lang: trimmed[fence_len..].trim().to_lowercase(),
                        lines: Vec::new(),
                    });
                } else {
                    page.prose.push((n, line));
                }
            }
            Some(block) => {
                if trimmed.starts_with(block.fence.as_str()) && trimmed.trim_matches('`').is_empty()
                {
                    page.blocks.extend(open.take());
                } else {
                    block.lines.push((n, line));
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    page
}

/// Shell-like words of one command line: quotes, backslash escapes, `<placeholder>` and
/// `${{ expression }}` kept as words; stops at a comment (returned), `|`, `;`, `&`, or a redirect.
fn shell_words(line: &str) -> (Vec<String>, Option<String>) {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    let mut comment = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() && "\"\\$`".contains(chars[i + 1]) {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '\\' if i + 1 < chars.len() => {
                in_word = true;
                word.push(chars[i + 1]);
                i += 1;
            }
            '#' if !in_word => {
                comment = Some(chars[i + 1..].iter().collect::<String>().trim().to_string());
                break;
            }
            '$' if chars.get(i + 1) == Some(&'{') && chars.get(i + 2) == Some(&'{') => {
                // A CI expression (`${{ secrets.ONTAP_URL }}`): one word.
                in_word = true;
                while i < chars.len() && !(chars[i] == '}' && chars.get(i + 1) == Some(&'}')) {
                    word.push(chars[i]);
                    i += 1;
                }
                word.push_str("}}");
                i += 1;
            }
            '<' if placeholder_len(&chars[i..]).is_some() => {
                let len = placeholder_len(&chars[i..]).expect("checked");
                in_word = true;
                word.extend(&chars[i..i + len]);
                i += len - 1;
            }
            '|' | ';' | '&' | '>' | '<' => {
                // The end of the harness's command; a `2>` leaves its digit behind.
                if in_word && !(matches!(c, '>' | '<') && word.chars().all(|d| d.is_ascii_digit()))
                {
                    words.push(std::mem::take(&mut word));
                }
                in_word = false;
                word.clear();
                break;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
        i += 1;
    }
    if in_word {
        words.push(word);
    }
    (words, comment)
}

/// The length of a `<placeholder>` (`<cluster>`, `<definition|path>`) at the start of `chars`.
fn placeholder_len(chars: &[char]) -> Option<usize> {
    let end = chars.iter().position(|&c| c == '>')?;
    let inner = &chars[1..end];
    let ok = !inner.is_empty()
        && inner
            .iter()
            .all(|&c| c.is_alphanumeric() || "_-.|/".contains(c));
    ok.then_some(end + 1)
}

/// The arguments a line gives the harness, if it invokes it: `ontap-conform ...`,
/// `path/to/ontap-conform ...`, `cargo run [cargo flags] -- ...`, after any `VAR=value`.
fn harness_args(words: &[String]) -> Option<Vec<String>> {
    let is_env = |w: &String| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        })
    };
    let words: Vec<&String> = words.iter().skip_while(|w| is_env(w)).collect();
    let (program, rest) = words.split_first()?;
    let args: Vec<&String> = if *program == "ontap-conform" || program.ends_with("/ontap-conform") {
        rest.to_vec()
    } else if *program == "cargo" && rest.first().is_some_and(|w| *w == "run") {
        match rest.iter().position(|w| *w == "--") {
            Some(p) => rest[p + 1..].to_vec(),
            None => Vec::new(),
        }
    } else {
        return None;
    };
    // `...` after a value stands for more flags; after an option it is the option's value.
    let mut out: Vec<String> = Vec::new();
    for w in args {
        if (w == "..." || w == "…") && !out.last().is_some_and(|p| p.starts_with('-')) {
            continue;
        }
        // `[-o FILE]`: an optional part, shown with brackets.
        out.push(w.trim_start_matches('[').trim_end_matches(']').to_string());
    }
    Some(out)
}

/// A command line of a fenced block, with its continuation lines joined: a trailing `\`, and in
/// YAML the next lines that start with a flag (a folded scalar).
fn block_commands(file: &str, lang: &str, lines: &[(usize, &str)], out: &mut Vec<DocCommand>) {
    let yaml = lang == "yaml" || lang == "yml";
    // In a terminal transcript only the prompted lines are commands; the rest is output.
    let transcript = lines.iter().any(|(_, l)| l.trim_start().starts_with("$ "));
    let mut i = 0;
    while i < lines.len() {
        let (n, first) = lines[i];
        let mut text = first.trim().to_string();
        i += 1;
        while text.ends_with('\\') && i < lines.len() {
            text.pop();
            text.push(' ');
            text.push_str(lines[i].1.trim());
            i += 1;
        }
        while yaml && i < lines.len() && lines[i].1.trim_start().starts_with("--") {
            text.push(' ');
            text.push_str(lines[i].1.trim());
            i += 1;
        }
        let mut line = text.as_str();
        if transcript {
            match line.strip_prefix("$ ") {
                Some(l) => line = l,
                None => continue,
            }
        }
        if yaml {
            line = line.strip_prefix("- ").unwrap_or(line);
        }
        push_command(file, n, line, false, out);
    }
}

fn push_command(file: &str, n: usize, line: &str, inline: bool, out: &mut Vec<DocCommand>) {
    let (words, comment) = shell_words(line);
    match harness_args(&words) {
        // In prose, `ontap-conform` alone names the program; it is not a command.
        Some(args) if inline && args.is_empty() => {}
        Some(args) => out.push(DocCommand {
            at: format!("{file}:{n}"),
            text: line.trim().to_string(),
            args,
            expect_error: comment.is_some_and(|c| c.starts_with("error")),
            inline,
        }),
        None => {}
    }
}

/// Inline code in the prose that starts with the program (`` `ontap-conform restore --target URL
/// ...` ``), a span possibly broken over lines of one paragraph.
fn inline_commands(file: &str, prose: &[(usize, &str)], out: &mut Vec<DocCommand>) {
    let mut open: Option<(usize, String)> = None;
    for &(n, line) in prose {
        if line.trim().is_empty() {
            open = None; // a code span does not cross paragraphs
            continue;
        }
        let mut rest = line;
        loop {
            match &mut open {
                Some((start, span)) => match rest.find('`') {
                    Some(p) => {
                        span.push_str(&rest[..p]);
                        let (start, span) = (*start, std::mem::take(span));
                        open = None;
                        push_command(file, start, &span, true, out);
                        rest = &rest[p + 1..];
                    }
                    None => {
                        span.push_str(rest);
                        span.push(' ');
                        break;
                    }
                },
                None => match rest.find('`') {
                    Some(p) => {
                        open = Some((n, String::new()));
                        rest = &rest[p + 1..];
                    }
                    None => break,
                },
            }
        }
    }
}

fn doc_commands() -> Vec<DocCommand> {
    let mut out = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).expect("a doc page");
        let file = display(&path);
        let page = split_page(&text);
        for block in &page.blocks {
            if SHELL_LANGS.contains(&block.lang.as_str()) {
                block_commands(&file, &block.lang, &block.lines, &mut out);
            }
        }
        inline_commands(&file, &page.prose, &mut out);
    }
    out
}

/// Ok when clap accepts the arguments (or would print help or the version for them).
fn parses(args: &[String]) -> Result<(), String> {
    match Cli::try_parse_from(std::iter::once("ontap-conform".to_string()).chain(args.to_vec())) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
        Err(e) => Err(format!("{:?}: {}", e.kind(), e.render())),
    }
}

#[test]
fn every_documented_command_parses() {
    let commands = doc_commands();
    let mut problems = Vec::new();
    for c in &commands {
        match (parses(&c.args), c.expect_error) {
            (Ok(()), false) | (Err(_), true) => {}
            (Err(e), false) => problems.push(format!(
                "{}: `{}` does not parse (arguments {:?}):\n{e}",
                c.at, c.text, c.args
            )),
            (Ok(()), true) => problems.push(format!(
                "{}: `{}` is marked `# error` but parses",
                c.at, c.text
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} documented commands are wrong:\n\n{}",
        problems.len(),
        commands.len(),
        problems.join("\n\n")
    );
    let in_blocks = commands.iter().filter(|c| !c.inline).count();
    assert!(
        in_blocks >= MIN_COMMANDS,
        "only {in_blocks} commands found in the fenced blocks of README.md and docs/"
    );
    assert!(
        commands.iter().any(|c| c.expect_error),
        "no command marked `# error`: the failing branch is untested"
    );
    println!(
        "{} documented commands parse ({in_blocks} in fenced blocks, {} in inline code)",
        commands.len(),
        commands.len() - in_blocks
    );
}

#[test]
fn the_scanner_reads_shell_lines() {
    let (w, c) = shell_words(
        r#"FOO=bar ontap-conform run --target "https://a b" --user 'x y' --check a\ b # error: no"#,
    );
    assert_eq!(
        harness_args(&w).expect("a harness command"),
        [
            "run",
            "--target",
            "https://a b",
            "--user",
            "x y",
            "--check",
            "a b"
        ]
    );
    assert_eq!(c.as_deref(), Some("error: no"));
    let (w, _) = shell_words("ontap-conform run --seed 1 --record b/ > /dev/null 2>&1 | tee x");
    assert_eq!(
        harness_args(&w).expect("a harness command"),
        ["run", "--seed", "1", "--record", "b/"]
    );
    let (w, _) = shell_words("cargo run --release -- spec show <definition|path> && echo");
    assert_eq!(
        harness_args(&w).expect("a harness command"),
        ["spec", "show", "<definition|path>"]
    );
    let (w, _) = shell_words("ontap-conform run --target ${{ secrets.URL }} --user ... x");
    assert_eq!(
        harness_args(&w).expect("a harness command"),
        [
            "run",
            "--target",
            "${{ secrets.URL }}",
            "--user",
            "...",
            "x"
        ]
    );
    let (w, _) = shell_words("ontap-conform run --target URL ... --record b/");
    assert_eq!(
        harness_args(&w).expect("a harness command"),
        ["run", "--target", "URL", "--record", "b/"]
    );
    let (w, _) = shell_words("cargo test --test snapshots");
    assert!(harness_args(&w).is_none());
    let mut found = Vec::new();
    block_commands(
        "t",
        "yaml",
        &[
            (1, "  - ontap-conform run --target \"$URL\""),
            (2, "      --insecure --report junit=j.xml"),
            (3, "  - echo done"),
        ],
        &mut found,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].args,
        [
            "run",
            "--target",
            "$URL",
            "--insecure",
            "--report",
            "junit=j.xml"
        ]
    );
    // A renamed flag fails, a missing value fails.
    assert!(parses(&["run".into(), "--no-such-flag".into()]).is_err());
    assert!(parses(&["run".into(), "--seed".into()]).is_err());
    assert!(parses(&["mock".into(), "--help".into()]).is_ok());
}

#[test]
fn the_readme_stays_short() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, at most {README_MAX_LINES}: move the details to docs/"
    );
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    split_page(text)
        .prose
        .iter()
        .filter_map(|(_, l)| l.strip_prefix('#'))
        .map(|h| slug(h.trim_start_matches('#')))
        .collect()
}

#[test]
fn links_between_the_pages_resolve() {
    let mut problems = Vec::new();
    let mut links = 0;
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).expect("a doc page");
        let dir = path.parent().expect("a directory");
        for (n, line) in split_page(&text).prose {
            for (i, _) in line.match_indices("](") {
                let rest = &line[i + 2..];
                let Some(end) = rest.find(')') else { continue };
                let target = &rest[..end];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                links += 1;
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let linked = if file.is_empty() {
                    path.clone()
                } else {
                    dir.join(file)
                };
                let at = format!("{}:{n}", display(&path));
                if !linked.exists() {
                    problems.push(format!("{at}: `{target}`: no file {}", linked.display()));
                    continue;
                }
                if !anchor.is_empty() {
                    let page = std::fs::read_to_string(&linked).expect("the linked page");
                    if !anchors(&page).contains(anchor) {
                        problems.push(format!("{at}: `{target}`: no heading #{anchor}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(links >= 10, "only {links} links found");
}

/// docs/rules.md shows the rule coverage table as `src/checks/rules.rs` makes it for the
/// built-in contract; `UPDATE_DOCS=1` rewrites it.
#[test]
fn the_rule_coverage_table_in_the_docs_is_the_generated_one() {
    let path = root().join("docs/rules.md");
    let doc = std::fs::read_to_string(&path).expect("docs/rules.md");
    let (start, end) = ("<!-- rules:start -->\n", "<!-- rules:end -->");
    let a = doc.find(start).expect("the rules:start marker") + start.len();
    let b = doc.find(end).expect("the rules:end marker");
    let rows = ontap_conform::checks::rules::table(ontap_conform::spec::Spec::builtin());
    let table = ontap_conform::checks::rules::render_markdown(&rows);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &doc[..a], &doc[b..])).unwrap();
        return;
    }
    assert!(
        doc[a..b] == table,
        "docs/rules.md is not the generated table: run UPDATE_DOCS=1 cargo test --test docs_commands"
    );
}

/// docs/query-semantics.md shows the shared table of filter and ordering cases as
/// `src/query_semantics.rs` holds it; `UPDATE_DOCS=1` rewrites it.
#[test]
fn the_query_semantics_table_in_the_docs_is_the_generated_one() {
    let path = root().join("docs/query-semantics.md");
    let doc = std::fs::read_to_string(&path).expect("docs/query-semantics.md");
    let (start, end) = ("<!-- cases:start -->\n", "<!-- cases:end -->");
    let a = doc.find(start).expect("the cases:start marker") + start.len();
    let b = doc.find(end).expect("the cases:end marker");
    let table = ontap_conform::query_semantics::render_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &doc[..a], &doc[b..])).unwrap();
        return;
    }
    assert!(
        doc[a..b] == table,
        "docs/query-semantics.md is not the generated table: run UPDATE_DOCS=1 cargo test --test docs_commands"
    );
}
