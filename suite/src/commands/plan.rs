//! `dnlts plan`: the stage graph of a profile, written for a scheduler that already exists —
//! a Makefile (one host, `make -jN`) or a Slurm script (one job per stage, chained with
//! `--dependency=afterok`). Every node is a `dnlts` stage command writing into one shared
//! output folder; the content-keyed stage cache makes running a node twice cost a load, so a
//! plan can be resubmitted after a failure and only what is missing is computed.
//!
//! The graph: `pretrain` and the five `classifier-*` have no prerequisites; `finetune-X` needs
//! `pretrain` and `classifier-X`; `report` (`dnlts reproduce`) needs every fine-tuning and runs
//! the evaluation pass and every target. The evaluation is not a node of its own because its
//! results are kept in memory, not in the stage cache: a separate `dnlts evaluate` job would be
//! computed again by the report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dnlts::models::Family;

use crate::cli::{Emit, PlanArgs};
use crate::profile::Profile;

/// One node of the stage graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The stage's name, as its files in `<out>/stages/` are named (`report` has none).
    pub name: String,
    /// The `dnlts` subcommand and its own arguments (the shared ones come after).
    pub command: Vec<String>,
    /// Nodes that must finish first, all earlier in the list.
    pub needs: Vec<String>,
}

/// The stage graph in an order where every node comes after what it needs.
pub fn graph() -> Vec<Node> {
    let node = |name: String, command: &[&str], needs: Vec<String>| Node {
        name,
        command: command.iter().map(|part| part.to_string()).collect(),
        needs,
    };
    let mut nodes = vec![node("pretrain".into(), &["pretrain"], vec![])];
    for family in Family::ALL {
        let stage = format!("classifier-{}", family.name());
        nodes.push(node(stage, &["train-classifier", "--classifier", family.name()], vec![]));
    }
    for family in Family::ALL {
        let stage = format!("finetune-{}", family.name());
        let needs = vec!["pretrain".into(), format!("classifier-{}", family.name())];
        nodes.push(node(stage, &["finetune", "--classifier", family.name()], needs));
    }
    let finetunes = Family::ALL.iter().map(|f| format!("finetune-{}", f.name())).collect();
    nodes.push(node("report".into(), &["reproduce"], finetunes));
    nodes
}

/// The arguments every node shares: they are part of every stage's cache key, so all nodes
/// must agree on them.
fn shared_args(args: &PlanArgs, out: &Path) -> Vec<String> {
    vec![
        "--profile".into(),
        args.profile.clone(),
        "--out".into(),
        out.display().to_string(),
        "--seed".into(),
        args.seed.to_string(),
        "--threads".into(),
        args.threads.to_string(),
        "--device".into(),
        args.device.to_string(),
    ]
}

pub fn run(args: &PlanArgs) -> anyhow::Result<()> {
    let profile = Profile::preset(&args.profile)?;
    let out =
        absolute(args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&profile.name)))?;
    let dnlts = std::env::current_exe().map_err(|error| {
        anyhow::anyhow!("cannot find the path of this dnlts binary ({error}) to put in the plan")
    })?;
    let shared = shared_args(args, &out);
    let text = match args.emit {
        Emit::Make => makefile(&graph(), &dnlts, &shared, &out),
        Emit::Slurm => slurm(&graph(), &dnlts, &shared, &out, args),
    };
    print!("{text}");
    Ok(())
}

/// `path` made absolute against the current folder, so the plan works from anywhere (Slurm
/// jobs start in the submission folder, or wherever the cluster says).
fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path);
    }
    let here = std::env::current_dir().map_err(|error| {
        anyhow::anyhow!(
            "cannot read the current folder ({error}) to make --out {} absolute; give an \
             absolute --out",
            path.display()
        )
    })?;
    Ok(here.join(path))
}

/// Quotes `word` for a POSIX shell when it holds anything but plain characters.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn quoted(words: &[String]) -> String {
    words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")
}

/// A Makefile with one phony target per stage. Phony, because whether a stage is current is
/// the stage cache's decision (its key covers the code, profile and options), not a file date:
/// a node whose stage is cached only loads it.
pub fn makefile(nodes: &[Node], dnlts: &Path, shared: &[String], out: &Path) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# Stage graph of dnlts, made by `dnlts plan --emit make`.");
    let _ = writeln!(
        text,
        "# Run with `make -f FILE -jN`; every stage writes into {}/stages/,",
        out.display()
    );
    let _ = writeln!(text, "# and a stage already made there is loaded, not recomputed.");
    let _ = writeln!(text, "DNLTS ?= {}", shell_quote(&dnlts.display().to_string()));
    let _ = writeln!(text, "ARGS := {}", quoted(shared));
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let _ = writeln!(text, "\n.PHONY: all {}", names.join(" "));
    let last = names.last().copied().unwrap_or("");
    let _ = writeln!(text, "all: {last}");
    for node in nodes {
        let _ = writeln!(text, "\n{}: {}", node.name, node.needs.join(" "));
        let _ = writeln!(text, "\t$(DNLTS) {} $(ARGS)", quoted(&node.command));
    }
    text
}

/// A bash script that submits one Slurm job per stage, each waiting with
/// `--dependency=afterok:` for the jobs of the stages it needs.
pub fn slurm(
    nodes: &[Node],
    dnlts: &Path,
    shared: &[String],
    out: &Path,
    args: &PlanArgs,
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "#!/usr/bin/env bash");
    let _ =
        writeln!(text, "# Stage graph of dnlts, made by `dnlts plan --emit slurm`: run it on a");
    let _ = writeln!(
        text,
        "# login node. One job per stage, started when the stages it needs ended well;"
    );
    let _ =
        writeln!(text, "# resubmitting after a failure recomputes only the stages missing from");
    let _ = writeln!(text, "# {}/stages/ (the stage cache is keyed by content).", out.display());
    let _ = writeln!(text, "set -euo pipefail");
    let _ = writeln!(text, "DNLTS=${{DNLTS:-{}}}", shell_quote(&dnlts.display().to_string()));
    let _ = writeln!(text, "ARGS=({})", quoted(shared));
    let _ = writeln!(text, "SBATCH_OPTIONS=({})", quoted(&sbatch_options(args)));
    let _ = writeln!(text, "mkdir -p {}", shell_quote(&out.join("logs").display().to_string()));
    let _ = writeln!(
        text,
        "# Submits one stage; prints its job id (sbatch --parsable: ID or ID;CLUSTER)."
    );
    let _ = writeln!(text, "submit() {{");
    let _ = writeln!(text, "  local name=$1 dependency=$2; shift 2");
    let _ = writeln!(text, "  local id");
    let _ = writeln!(
        text,
        "  id=$(sbatch --parsable --job-name=\"dnlts-$name\" ${{dependency:+--dependency=afterok:$dependency}} \\"
    );
    let _ = writeln!(
        text,
        "    --output={}/\"$name\"-%j.log \"${{SBATCH_OPTIONS[@]}}\" \\",
        shell_quote(&out.join("logs").display().to_string())
    );
    let _ = writeln!(text, "    --wrap=\"$(printf '%q ' \"$DNLTS\" \"$@\" \"${{ARGS[@]}}\")\")");
    let _ = writeln!(text, "  echo \"${{id%%;*}}\"");
    let _ = writeln!(text, "}}");
    for node in nodes {
        let needs: Vec<String> = node.needs.iter().map(|n| format!("${}", variable(n))).collect();
        let _ = writeln!(
            text,
            "{}=$(submit {} \"{}\" {})",
            variable(&node.name),
            node.name,
            needs.join(":"),
            quoted(&node.command)
        );
        let _ = writeln!(text, "echo \"{} submitted as job ${}\"", node.name, variable(&node.name));
    }
    text
}

/// The shell variable holding a node's job id.
fn variable(node: &str) -> String {
    format!("job_{}", node.replace('-', "_"))
}

/// Resources of every job.
fn sbatch_options(args: &PlanArgs) -> Vec<String> {
    let mut options = vec![format!("--cpus-per-task={}", args.threads)];
    let gpus = args.gpus_per_job.unwrap_or(if args.device.to_string().starts_with("cuda") {
        1
    } else {
        0
    });
    if gpus > 0 {
        options.push(format!("--gres=gpu:{gpus}"));
    }
    if let Some(partition) = &args.partition {
        options.push(format!("--partition={partition}"));
    }
    if let Some(time) = &args.time {
        options.push(format!("--time={time}"));
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_comes_after_what_it_needs_and_names_a_real_stage() {
        let nodes = graph();
        for (position, node) in nodes.iter().enumerate() {
            for need in &node.needs {
                let before = nodes[..position].iter().any(|earlier| &earlier.name == need);
                assert!(before, "{} needs {need}, which does not come before it", node.name);
            }
        }
        assert_eq!(nodes.len(), 1 + 5 + 5 + 1);
        assert_eq!(nodes.last().unwrap().needs.len(), 5, "the report needs every fine-tuning");
    }

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_them() {
        assert_eq!(shell_quote("--profile"), "--profile");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
