//! Reads NetApp's REST API reference pages (as text, the form `../shared/seeds/` holds them) into
//! what the contract is checked against: definition tables and JSON examples, each placed under
//! the endpoint and method whose section it stands in.

use std::path::Path;

/// A `Name / Type / Description` table of a seed page.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The definition's name (`owner`), or `Response` / `Request Body` / `Error`.
    pub title: String,
    /// The `METHOD /path` section it stands in, if any (`GET /security/login/messages`).
    pub section: Option<(String, String)>,
    /// Whether it stands under a "Definitions" heading.
    pub definition: bool,
    /// Field name, type, description.
    pub rows: Vec<(String, String, String)>,
    pub line: usize,
}

/// A fenced example of a seed page.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub file: String,
    /// First line of the example in the seed file (1-based).
    pub line: usize,
    /// `Example response`, `Example request`, `Example error`, or the overview's heading.
    pub label: String,
    pub section: Option<(String, String)>,
    /// The JSON text (after a `# The response:` marker when the block has one).
    pub text: String,
}

/// A `METHOD /path` section of a seed page: one documented operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub method: String,
    /// With the `/api` prefix, as the catalog spells it.
    pub path: String,
    /// The `Introduced In:` line of the section.
    pub introduced_in: Option<String>,
    pub line: usize,
}

/// A row of a `Name / Type / In / Required / Description` parameter table.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub section: Option<(String, String)>,
    pub name: String,
    pub ty: String,
    /// `path` or `query`.
    pub location: String,
    pub required: bool,
    pub description: String,
    pub line: usize,
}

/// A row of an `Error Code / Description` table ("ONTAP Error Response Codes").
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorCode {
    pub section: Option<(String, String)>,
    pub code: String,
    pub description: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub file: String,
    pub sections: Vec<Section>,
    pub tables: Vec<Table>,
    pub parameters: Vec<Parameter>,
    pub error_codes: Vec<ErrorCode>,
    pub examples: Vec<Example>,
}

/// Reads every `.txt` seed in a directory, in name order.
pub fn read_dir(dir: &Path) -> std::io::Result<Vec<Seed>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)?;
            Ok(parse(
                &p.file_name().unwrap_or_default().to_string_lossy(),
                &text,
            ))
        })
        .collect()
}

fn section_of(line: &str) -> Option<(String, String)> {
    let t = line.trim();
    let (m, rest) = t.split_once(' ')?;
    if !["GET", "POST", "PATCH", "DELETE"].contains(&m)
        || !rest.starts_with('/')
        || rest.contains(' ')
    {
        return None;
    }
    let path = if rest.starts_with("/api/") {
        rest.to_string()
    } else {
        format!("/api{rest}")
    };
    Some((m.to_string(), path))
}

fn is_param_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

fn is_word(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses one seed page.
pub fn parse(file: &str, text: &str) -> Seed {
    let lines: Vec<&str> = text.lines().collect();
    let mut seed = Seed {
        file: file.to_string(),
        ..Default::default()
    };
    let mut section: Option<(String, String)> = None;
    let mut in_definitions = false;
    let mut label = String::from("Overview");
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if let Some(s) = section_of(t) {
            seed.sections.push(Section {
                method: s.0.clone(),
                path: s.1.clone(),
                introduced_in: None,
                line: i + 1,
            });
            section = Some(s);
            in_definitions = false;
        } else if let Some(v) = t.strip_prefix("Introduced In:") {
            if let Some(sec) = seed.sections.last_mut()
                && sec.introduced_in.is_none()
            {
                sec.introduced_in = Some(v.trim().to_string());
            }
        } else if t == "Definitions" {
            in_definitions = true;
        } else if t.starts_with("```") {
            let start = i + 1;
            let (body, j) = fence(&lines, start);
            push_example(&mut seed, file, start + 1, &label, &section, &body);
            i = j + 1;
            continue;
        } else if !t.is_empty() && !t.contains('\t') && !t.starts_with('#') {
            label = t.to_string();
        }
        if t == "Name\tType\tIn\tRequired\tDescription" {
            let (params, j) = parameters(&lines, i + 1, &section);
            seed.parameters.extend(params);
            i = j;
            continue;
        }
        if t == "Error Code\tDescription" {
            let (codes, j) = error_codes(&lines, i + 1, &section);
            seed.error_codes.extend(codes);
            i = j;
            continue;
        }
        if t == "Name\tType\tDescription" {
            let title = table_title(&lines, i);
            let (rows, j) = table_rows(&lines, i + 1);
            match title {
                Some(title) => seed.tables.push(Table {
                    title,
                    section: section.clone(),
                    definition: in_definitions,
                    rows,
                    line: i + 1,
                }),
                None => {
                    if let Some(prev) = seed.tables.last_mut() {
                        prev.rows.extend(rows);
                    }
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    seed
}

/// The lines of a code block whose first line is `start`, up to its closing fence, and the
/// index of that fence. A page break of the PDF closes the fence in the middle of an example
/// and opens a new one: they are joined while the braces are still open.
fn fence<'t>(lines: &[&'t str], start: usize) -> (Vec<&'t str>, usize) {
    let mut body: Vec<&str> = Vec::new();
    let mut j = start;
    loop {
        while j < lines.len() && !lines[j].trim().starts_with("```") {
            body.push(lines[j].trim_end());
            j += 1;
        }
        let mut k = j + 1;
        while k < lines.len() && lines[k].trim().is_empty() {
            k += 1;
        }
        if braces_open(&body) && k < lines.len() && lines[k].trim().starts_with("```") {
            j = k + 1;
            continue;
        }
        break;
    }
    (body, j)
}

/// The rows of a `Name Type In Required Description` table from line `from`, and the index
/// of the first line after them.
fn parameters(
    lines: &[&str],
    from: usize,
    section: &Option<(String, String)>,
) -> (Vec<Parameter>, usize) {
    let mut out = Vec::new();
    let mut j = from;
    while j < lines.len() {
        let cols: Vec<&str> = lines[j].split('\t').map(str::trim).collect();
        if cols.len() < 4 || !is_param_name(cols[0]) {
            break;
        }
        out.push(Parameter {
            section: section.clone(),
            name: cols[0].to_string(),
            ty: cols[1].to_string(),
            location: cols[2].to_string(),
            required: cols[3].eq_ignore_ascii_case("true"),
            description: cols.get(4).copied().unwrap_or("").to_string(),
            line: j + 1,
        });
        j += 1;
    }
    (out, j)
}

/// The rows of an `Error Code Description` table from line `from`, and the index of the first
/// line after them.
fn error_codes(
    lines: &[&str],
    from: usize,
    section: &Option<(String, String)>,
) -> (Vec<ErrorCode>, usize) {
    let mut out = Vec::new();
    let mut j = from;
    while j < lines.len() {
        let cols: Vec<&str> = lines[j].split('\t').map(str::trim).collect();
        if cols.len() < 2 || cols[0].is_empty() || !cols[0].bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        out.push(ErrorCode {
            section: section.clone(),
            code: cols[0].to_string(),
            description: cols[1].to_string(),
            line: j + 1,
        });
        j += 1;
    }
    (out, j)
}

/// The rows of a `Name Type Description` table from line `from` (name, type, description),
/// and the index of the first line after them.
fn table_rows(lines: &[&str], from: usize) -> (Vec<(String, String, String)>, usize) {
    let mut rows = Vec::new();
    let mut j = from;
    while j < lines.len() {
        let row = lines[j];
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() >= 2 && !row.trim().is_empty() && is_word(cols[0]) {
            rows.push((
                cols[0].trim().to_string(),
                cols[1].trim().to_string(),
                cols.get(2).map(|c| c.trim()).unwrap_or("").to_string(),
            ));
            j += 1;
        } else {
            break;
        }
    }
    (rows, j)
}

/// The title of a table whose header is at `header`, or None when it continues the previous one
/// across a page break.
fn table_title(lines: &[&str], header: usize) -> Option<String> {
    let mut k = header;
    let mut skipped = 0;
    while k > 0 {
        k -= 1;
        let t = lines[k].trim();
        if t.is_empty() {
            continue;
        }
        if t.contains('\t') {
            // An "ONTAP Error Response Codes" table (`Error Code / Description`, rows of digits)
            // stands between a `Status: Default` heading and the error's own table.
            let first = t.split('\t').next().unwrap_or("");
            let code_row = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
            if code_row || t == "Error Code\tDescription" {
                continue;
            }
            return None;
        }
        if t.starts_with("Status:") {
            continue;
        }
        if t == "Request Body" || is_word(t) {
            return Some(t.to_string());
        }
        skipped += 1;
        if skipped > 1 {
            return None;
        }
    }
    None
}

fn push_example(
    seed: &mut Seed,
    file: &str,
    line: usize,
    label: &str,
    section: &Option<(String, String)>,
    body: &[&str],
) {
    let mut section = section.clone();
    let mut start = 0;
    for (k, l) in body.iter().enumerate() {
        let t = l.trim().trim_start_matches('#').trim();
        if let Some(api) = t.strip_prefix("The API:") {
            let mut api = api.trim().replace('"', "");
            if api.is_empty() {
                api = body[k + 1..]
                    .iter()
                    .map(|l| l.trim())
                    .find(|l| !l.is_empty())
                    .unwrap_or("")
                    .replace('"', "");
            }
            if let Some(s) = section_of(&api) {
                section = Some(s);
            } else if api.starts_with('/') {
                section = Some(("GET".to_string(), api.to_string()));
            }
        }
        if t.eq_ignore_ascii_case("the response:") {
            start = k + 1;
        }
    }
    let text = body[start..].join("\n");
    if text.trim_start().starts_with('{') {
        seed.examples.push(Example {
            file: file.to_string(),
            line: line + start,
            label: label.to_string(),
            section,
            text,
        });
    }
}

fn braces_open(body: &[&str]) -> bool {
    let text = body.join("\n");
    let opened = text.matches(['{', '[']).count();
    let closed = text.matches(['}', ']']).count();
    opened > closed
}

/// Removes commas that stand right before a closing brace or bracket, the doc's most common
/// typo, so that an invalid example can still be checked for its values.
pub fn drop_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// ONTAP's PDF-to-text pages break long strings across lines; rejoin a string literal that a
/// line break split, so the JSON can be read.
pub fn rejoin_broken_strings(text: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            } else if c == '\n' {
                continue;
            }
        } else if c == '"' {
            in_str = true;
        }
        out.push(c);
    }
    out
}
