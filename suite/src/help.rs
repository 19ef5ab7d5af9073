//! How the help reaches the reader: the stage commands under a heading of their own, and every
//! line wrapped to [`WIDTH`] columns. clap wraps only with its `wrap_help` feature, whose
//! terminal-size dependency is not in the offline registry, so the rendered text is wrapped
//! here: the same width on every terminal, and in pipes and tests.

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Columns every line of help fits in.
pub const WIDTH: usize = 100;

/// The commands that compute one stage each (cached in <out>/stages/): what `reproduce` runs
/// in order and what `dnlts plan` writes one job per node of.
const STAGE_COMMANDS: [&str; 5] =
    ["pretrain", "train-classifier", "pretrain-imagenet", "finetune", "evaluate"];

/// The parsed command line; help (and version) are printed wrapped, and the process exits.
pub fn parse() -> Cli {
    let exit = |error: clap::Error| -> ! {
        if matches!(
            error.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            let text = wrap(&error.render().to_string(), WIDTH);
            if error.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            std::process::exit(error.exit_code());
        }
        error.exit()
    };
    let matches = command().try_get_matches().unwrap_or_else(|error| exit(error));
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| exit(error))
}

/// The command line with the stage commands moved out of the main list into a section of
/// their own after the options (clap has one heading for all subcommands).
pub fn command() -> clap::Command {
    let mut command = Cli::command();
    let mut stages = Vec::new();
    for name in STAGE_COMMANDS {
        command = command.mut_subcommand(name, |sub| {
            stages.push((name, sub.get_about().map(ToString::to_string).unwrap_or_default()));
            sub.hide(true)
        });
    }
    let width = STAGE_COMMANDS.iter().map(|name| name.len()).max().unwrap_or(0);
    // Short enough for one line: a wrapped heading would read as two.
    let mut section = String::from(
        "Stage commands (one stage each, as `reproduce` and `dnlts plan` run them):\n",
    );
    for (name, about) in stages {
        section += &format!("  {name:<width$}  {about}\n");
    }
    let after = command.get_after_help().map(ToString::to_string).unwrap_or_default();
    command.after_help(format!("{section}\n{after}"))
}

/// Wraps each line of `text` longer than `width` at spaces. A continuation starts where the
/// line's text starts: after an option's or a command's name (the first gap of two or more
/// spaces on an indented line), else at the line's indentation.
pub fn wrap(text: &str, width: usize) -> String {
    text.split('\n').map(|line| wrap_line(line, width)).collect::<Vec<_>>().join("\n")
}

fn wrap_line(line: &str, width: usize) -> String {
    let chars: Vec<char> = line.trim_end().chars().collect();
    if chars.len() <= width {
        return line.to_string();
    }
    let indent = chars.iter().take_while(|c| **c == ' ').count();
    let mut column = text_column(&chars, indent);
    let mut lines = Vec::new();
    let mut current: String = chars[..column].iter().collect();
    // A name too long to leave room beside it: its text goes below, as clap's long help does.
    if column > indent && column + 30 > width {
        lines.push(current.trim_end().to_string());
        column = indent + 8;
        current = " ".repeat(column);
    }
    let (mut length, mut empty) = (column, true);
    let words: String = chars[text_column(&chars, indent)..].iter().collect();
    for word in words.split(' ').filter(|word| !word.is_empty()) {
        let size = word.chars().count();
        if !empty && length + 1 + size > width {
            lines.push(std::mem::replace(&mut current, " ".repeat(column)));
            (length, empty) = (column, true);
        }
        if !empty {
            current.push(' ');
            length += 1;
        }
        current.push_str(word);
        length += size;
        empty = false;
    }
    lines.push(current);
    lines.join("\n")
}

/// Where the text of a line starts: on a line indented by 1 to 6 spaces (an option or a
/// command), after the first gap of two or more spaces that follows its name; else at its
/// indentation (prose, usage, clap's own continuation lines).
fn text_column(chars: &[char], indent: usize) -> usize {
    if !(1..=6).contains(&indent) {
        return indent;
    }
    let mut at = indent;
    while at + 1 < chars.len() {
        if chars[at] == ' ' && chars[at + 1] == ' ' {
            let text = at + chars[at..].iter().take_while(|c| **c == ' ').count();
            return if text < chars.len() { text } else { indent };
        }
        at += 1;
    }
    indent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_under_their_text_and_short_ones_stay() {
        // "  --threads <N>  " puts the text at column 17.
        let option = format!("  --threads <N>  {}", "word ".repeat(30).trim_end());
        let wrapped = wrap(&option, 60);
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 60, "{line}");
        }
        let continuation = wrapped.lines().nth(1).unwrap();
        let indent = continuation.chars().take_while(|c| *c == ' ').count();
        assert_eq!(indent, 17, "{wrapped}");
        assert_eq!(wrapped.split_whitespace().filter(|w| *w == "word").count(), 30);
        // Too little room beside the name: the text goes below it, indented.
        let narrow = wrap(&option, 40);
        assert_eq!(narrow.lines().next(), Some("  --threads <N>"), "{narrow}");
        assert!(narrow.lines().skip(1).all(|line| line.starts_with("          word")));
        assert_eq!(wrap("  --short  fits", 40), "  --short  fits");
        let prose = "a ".repeat(30);
        assert!(wrap(&prose, 20).lines().all(|line| line.len() <= 20 && !line.starts_with(' ')));
    }

    #[test]
    fn the_stage_commands_have_their_own_heading_and_still_parse() {
        let mut command = command();
        let help = command.render_help().to_string();
        let (commands, stages) = help.split_once("Stage commands").unwrap();
        for name in STAGE_COMMANDS {
            let listed = |text: &str| text.lines().any(|l| l.trim_start().starts_with(name));
            assert!(listed(stages) && !listed(commands), "{name}:\n{help}");
        }
        let matches = command.try_get_matches_from(["dnlts", "evaluate", "--profile", "tiny"]);
        assert!(matches.is_ok());
    }
}
