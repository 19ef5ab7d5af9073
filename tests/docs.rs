//! The documentation as a reader follows it: every relative link of README.md, CONTRIBUTING.md
//! and docs/**/*.md leads to a file that exists (and its #anchor to a heading there), and every
//! `dnlts …` example of the README is a command line the binary accepts (checked at `--help`
//! level: the arguments parse, nothing runs).

mod cli_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cli_common::{dnlts, text};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md, CONTRIBUTING.md and every Markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("CONTRIBUTING.md")];
    let mut folders = vec![root().join("docs")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The lines outside fenced code blocks, with inline code spans blanked out: links in code
/// are examples, not links.
fn prose(markdown: &str) -> Vec<String> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let mut out = String::new();
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            for (k, part) in line.split('`').enumerate() {
                out += if k % 2 == 0 { part } else { "" };
            }
        }
        // One entry per line, so that the index is the line's number.
        lines.push(out);
    }
    lines
}

/// The targets of `[text](target)` and `![alt](target)` on a line.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor of a heading: lower case, letters, digits, `_`, `-` and spaces kept,
/// spaces as `-`; a repeated heading gets `-1`, `-2`, ….
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in markdown.lines().filter(|line| !line.starts_with("    ")) {
        let Some(title) = line.strip_prefix('#').map(|t| t.trim_start_matches('#')) else {
            continue;
        };
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut k = 0;
        while seen.contains(&unique) {
            k += 1;
            unique = format!("{slug}-{k}");
        }
        seen.insert(unique);
    }
    seen
}

/// Headings inside code fences are not headings: the anchors of the prose alone.
fn prose_anchors(markdown: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let kept: Vec<&str> = markdown
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect();
    anchors(&kept.join("\n"))
}

/// What is wrong with each relative link of `file`, one line per broken link.
fn broken_links(file: &Path) -> Vec<String> {
    let markdown = std::fs::read_to_string(file).unwrap();
    let mut broken = Vec::new();
    for (number, line) in prose(&markdown).iter().enumerate() {
        for target in link_targets(line) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() {
                file.to_path_buf()
            } else {
                file.parent().unwrap().join(path)
            };
            let place = format!("{}, line {}: {target}", file.display(), number + 1);
            if !linked.exists() {
                broken.push(format!("{place}: {} does not exist", linked.display()));
            } else if !anchor.is_empty() {
                let text = std::fs::read_to_string(&linked).unwrap_or_default();
                if !prose_anchors(&text).contains(anchor) {
                    broken.push(format!("{place}: no heading with anchor #{anchor}"));
                }
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_of_the_docs_resolves() {
    let files = documents();
    assert!(files.len() >= 10, "README, CONTRIBUTING and the docs pages: {files:?}");
    let broken: Vec<String> = files.iter().flat_map(|file| broken_links(file)).collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The link checker itself finds a missing file and a missing anchor (it cannot pass by
/// reading nothing).
#[test]
fn the_link_check_catches_a_missing_file_and_a_missing_anchor() {
    let dir = cli_common::scratch_dir("docs", "links");
    std::fs::write(dir.join("there.md"), "# A heading, with `code`\n").unwrap();
    let page = dir.join("page.md");
    let links = "[ok](there.md#a-heading-with-code) [gone](nowhere.md) [bad](there.md#nope) \
                 `[code](ignored.md)` [web](https://example.invalid/x)\n";
    std::fs::write(&page, links).unwrap();
    let broken = broken_links(&page);
    assert_eq!(broken.len(), 2, "{broken:#?}");
    assert!(broken[0].contains("nowhere.md") && broken[1].contains("#nope"), "{broken:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The words of a shell line: whitespace-separated, '…' and "…" quoting kept together, a
/// trailing `# comment` dropped.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '#') if !any => break,
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

/// The `dnlts …` command lines in the README's code blocks (after a `$ ` prompt too).
fn readme_examples() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut fenced = false;
    let mut examples = Vec::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let command = line.trim().trim_start_matches("$ ");
        if fenced && command.starts_with("dnlts ") {
            // The command alone: what follows a redirection, a pipe or `&&` is the shell's.
            let words = shell_words(command);
            let end = words.iter().position(|w| [">", ">>", "|", "&&", ";"].contains(&w.as_str()));
            examples.push(words[1..end.unwrap_or(words.len())].to_vec());
        }
    }
    examples
}

#[test]
fn every_dnlts_example_of_the_readme_parses() {
    let examples = readme_examples();
    assert!(examples.len() >= 10, "the README's examples: {examples:?}");
    let mut refused = Vec::new();
    for example in &examples {
        let args: Vec<&str> = example.iter().map(String::as_str).chain(["--help"]).collect();
        let out = dnlts(&args, Path::new("/"));
        if !out.status.success() {
            refused.push(format!("dnlts {}: {}", example.join(" "), text(&out.stderr).trim()));
        }
    }
    assert!(refused.is_empty(), "README examples the binary refuses:\n{}", refused.join("\n"));
}

/// An example with a misspelt option is refused: the check above can fail.
#[test]
fn a_misspelt_example_is_refused() {
    let words = shell_words("dnlts reproduce --profil ci --include 'fig*'  # a comment");
    assert_eq!(words, ["dnlts", "reproduce", "--profil", "ci", "--include", "fig*"]);
    let args: Vec<&str> = words[1..].iter().map(String::as_str).chain(["--help"]).collect();
    let out = dnlts(&args, Path::new("/"));
    assert!(!out.status.success(), "{}", text(&out.stdout));
}
