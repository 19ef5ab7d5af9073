//! User-controlled text (paths, options, the binary's own path, Slurm's partition and time)
//! on its way into an emitted Makefile or Slurm script: quoted for the shell, then escaped for
//! make or for sbatch's `--output` pattern, or refused where no escape exists. One place, so
//! that a new field cannot reach a script by another road.
//!
//! What is refused, in both languages: a newline, a carriage return or NUL (make has no
//! escape for a newline in a variable, and a script line that holds one is two lines), and
//! U+FFFD, the mark a path that is not UTF-8 gets when it is written as text (its bytes would
//! not arrive). In sbatch's `--output` (the log folder under `--out`) a backslash is refused:
//! sbatch then drops every backslash and stops expanding `%j`. Everything else is carried.

use std::path::Path;

/// Refuses `value` of `what` (an option or "the path of this dnlts binary") where it holds a
/// character no emitted script can carry byte for byte.
pub fn check(what: &str, value: &str) -> anyhow::Result<()> {
    let bad = value.chars().find(|c| matches!(c, '\n' | '\r' | '\0' | '\u{FFFD}'));
    let Some(bad) = bad else { return Ok(()) };
    let name = match bad {
        '\n' => "a newline (U+000A)",
        '\r' => "a carriage return (U+000D)",
        '\0' => "a NUL (U+0000)",
        _ => "bytes that are not UTF-8 (shown as U+FFFD)",
    };
    anyhow::bail!(
        "{what} {value:?} holds {name}, which a generated Makefile or Slurm script cannot carry \
         byte for byte; give a value without it (a path: rename or move the file or folder)"
    )
}

/// [`check`] for every word of a command line, naming each value by the option before it (or
/// by its own `--option=` prefix).
pub fn check_words(words: &[String]) -> anyhow::Result<()> {
    for (at, word) in words.iter().enumerate() {
        let (option, value) = match word.split_once('=') {
            Some((option, value)) if word.starts_with("--") => (option, value),
            _ if at > 0 && words[at - 1].starts_with("--") => (words[at - 1].as_str(), &word[..]),
            _ => ("the word", &word[..]),
        };
        check(option, value)?;
    }
    Ok(())
}

/// Quotes `word` for a POSIX shell when it holds anything but plain characters.
pub fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `words` as one shell command line.
pub fn quoted(words: &[String]) -> String {
    words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")
}

/// `text` (already quoted for the shell) as the value of a GNU make variable assignment,
/// which make reads back as `text`: `$` doubled, and each `#` preceded by 2k+1 backslashes
/// where k came before it (make halves a run of backslashes before `#`, and an odd one quotes
/// it). Newlines are [`check`]'s to refuse.
pub fn make_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut backslashes = 0;
    for c in text.chars() {
        match c {
            '$' => escaped.push_str("$$"),
            '#' => {
                escaped.push_str(&"\\".repeat(backslashes + 1));
                escaped.push('#');
            }
            _ => escaped.push(c),
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    escaped
}

/// `words` as a shell command line in a make variable's value.
pub fn make_words(words: &[String]) -> String {
    make_value(&quoted(words))
}

/// The log folder `<out>/logs` (checked) in sbatch's `--output` filename pattern, where `%`
/// starts a replacement symbol (`%%` is a `%`) and a backslash turns every replacement off and
/// is removed.
pub fn slurm_logs(out: &Path) -> anyhow::Result<String> {
    let out = out.display().to_string();
    check("--out", &out)?;
    anyhow::ensure!(
        !out.contains('\\'),
        "--out {out:?} holds a backslash, which sbatch removes from the jobs' log paths \
         (--output=…/logs/NAME-%j.log), turning off its %j; give --out a folder without one"
    );
    Ok(format!("{}/logs", out.replace('%', "%%")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_them() {
        assert_eq!(shell_quote("--profile"), "--profile");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn make_values_double_dollars_and_quote_hashes_past_their_backslashes() {
        assert_eq!(make_value("'$(shell x)'"), "'$$(shell x)'");
        assert_eq!(make_value("'a#b'"), r"'a\#b'");
        assert_eq!(make_value(r"'a\#b'"), r"'a\\\#b'");
        assert_eq!(make_value(r"'a\b'"), r"'a\b'");
    }

    #[test]
    fn what_cannot_be_carried_is_refused_naming_the_option_and_the_character() {
        let words = ["--out".to_string(), "/a\nb".to_string()];
        let error = check_words(&words).unwrap_err().to_string();
        assert!(error.starts_with("--out \"/a\\nb\" holds a newline"), "{error}");
        let error = check_words(&["--partition=x\ry".into()]).unwrap_err().to_string();
        assert!(error.starts_with("--partition \"x\\ry\" holds a carriage"), "{error}");
        assert!(check("--data", "/ok/é #$%'\"`").is_ok());
        assert_eq!(slurm_logs(Path::new("/a%j")).unwrap(), "/a%%j/logs");
        assert!(slurm_logs(Path::new("/a\\b")).unwrap_err().to_string().contains("backslash"));
    }
}
