//! `dnlts`: reproduce Palacio et al., "What do Deep Networks Like to See?" (CVPR 2018), and
//! ask the same question of your own networks. This file only dispatches: the options are in
//! `cli.rs`, each subcommand's work in `commands/`.

mod cli;
mod commands;
mod fingerprint;
mod help;
mod out_lock;
mod outcomes;
mod output;
mod profile;
mod provenance;
mod runner;
mod shipped;
mod stages;
mod targets;

use std::process::ExitCode;

use cli::{Cli, Command, DataCommand, WeightsCommand};
use commands::reproduce::{parse_family, reproduce, run_stage};

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`dnlts analyze … | head`), as
    // command-line tools do, instead of panicking on a broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = help::parse();
    if computes(&cli.command) {
        prepare_environment(native_kernels(&cli.command), threads_at_once(&cli.command));
    }
    keep_freed_memory();
    install_stop_handler();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The commands that run networks on libtorch's threads (and `env`, which reports the policy
/// they run with): only these pay for the restart of [`prepare_environment`].
fn computes(command: &Command) -> bool {
    matches!(
        command,
        Command::Env { .. }
            | Command::Reproduce(_)
            | Command::Pretrain(_)
            | Command::PretrainImagenet { .. }
            | Command::TrainClassifier { .. }
            | Command::ShipClassifiers { .. }
            | Command::Finetune { .. }
            | Command::Evaluate(_)
            | Command::Models { .. }
            | Command::Bench(_)
    )
}

/// The environment libtorch must find when it loads, which happens before `main`: the CPU
/// kernels pinned to AVX2 (`dnlts::kernels`: the same numbers on every x86-64 machine, unless
/// `--native-kernels`) and OpenMP's wait policy (`dnlts::wait_policy`: spin when the
/// `threads` this command runs at once have idle cores, else wait passively). When anything
/// must change, the process sets it and runs itself again (loading libtorch twice: a command
/// took 0.44 s instead of 0.24 s to start, so only the commands that compute restart).
fn prepare_environment(native_kernels: bool, threads: usize) {
    let current = |variable: &str| std::env::var(variable).ok();
    let kernels = dnlts::kernels::setup(native_kernels, dnlts::kernels::cpu_can_pin(), current);
    let mut set: Vec<(&str, String)> =
        kernels.set.iter().map(|(name, value)| (*name, value.to_string())).collect();
    let mark = current(dnlts::wait_policy::MARK);
    let user = current(dnlts::wait_policy::VARIABLE);
    // Read the load only when deciding: a restarted process (or a child of `reproduce`)
    // inherits the decision.
    let others =
        if mark.is_none() && user.is_none() { dnlts::wait_policy::others_runnable() } else { None };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let policy =
        dnlts::wait_policy::decide(user.as_deref(), mark.as_deref(), others, cores, threads);
    set.extend(policy.set);
    if set.is_empty() {
        // Said once, by the process that computes (a restarted one has nothing left to set).
        for note in &kernels.notes {
            eprintln!("{note}");
        }
        return;
    }
    for note in kernels.notes.iter().filter(|note| note.contains("overridden")) {
        eprintln!("{note}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let mut args = std::env::args_os();
        if let (Ok(exe), Some(arg0)) = (std::env::current_exe(), args.next()) {
            let error =
                std::process::Command::new(exe).arg0(arg0).args(args).envs(set.clone()).exec();
            // exec returns only if it failed: run on as we are; provenance records the
            // kernels actually in force (`dnlts::kernels::in_force`).
            let names: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
            eprintln!("note: could not restart with {} set ({error})", names.join(", "));
        }
    }
}

/// `--native-kernels` of the commands that compute.
fn native_kernels(command: &Command) -> bool {
    match command {
        Command::Env { machine, .. } => machine.native_kernels,
        Command::Reproduce(args) => args.run.machine.native_kernels,
        Command::Pretrain(stage)
        | Command::Evaluate(stage)
        | Command::PretrainImagenet { stage, .. }
        | Command::TrainClassifier { stage, .. }
        | Command::ShipClassifiers { stage, .. }
        | Command::Finetune { stage, .. } => stage.machine.native_kernels,
        Command::Bench(args) => args.native_kernels,
        _ => false,
    }
}

/// The OpenMP threads the command runs at once on this machine, for the wait policy:
/// `--threads`, else the profile's training threads (2 on the CPU profiles), else every core;
/// `reproduce` runs one stage per `--devices` entry at once, and on a machine with room for
/// several stages side by side uses every core.
fn threads_at_once(command: &Command) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let profile_threads = |name: &str| profile::Profile::preset(name).ok().and_then(|p| p.threads);
    let (asked, profile_name) = match command {
        Command::Env { machine, .. } => (machine.threads, profile::DEFAULT.to_string()),
        Command::Reproduce(args) => {
            let run = &args.run;
            let per_stage = run.machine.threads.or_else(|| profile_threads(&run.profile));
            // One stage per `--devices` entry at once, or as many side by side as `reproduce`
            // chooses on a large CPU, each on its threads.
            let at_once = if args.devices.is_empty() {
                commands::reproduce::side_by_side_slots(args).unwrap_or(1)
            } else {
                args.devices.len()
            };
            return per_stage.unwrap_or(cores) * at_once.max(1);
        }
        Command::Pretrain(stage)
        | Command::Evaluate(stage)
        | Command::PretrainImagenet { stage, .. }
        | Command::TrainClassifier { stage, .. }
        | Command::ShipClassifiers { stage, .. }
        | Command::Finetune { stage, .. } => (stage.machine.threads, stage.profile.clone()),
        Command::Bench(args) => (args.threads, args.profile.clone()),
        _ => (None, profile::DEFAULT.to_string()),
    };
    asked.or_else(|| profile_threads(&profile_name)).unwrap_or(cores)
}

/// libtorch allocates every activation afresh, and glibc gives large freed blocks back to the
/// kernel (it trims the heap's top and unmaps chunks it had mapped), so the next batch pays
/// page faults to get the same memory again: a quarter of the evaluation's time on 2 cores
/// (docs/performance.md, "Speed on a CPU"). Keep freed memory in the process instead: blocks up to 32 MiB
/// (glibc's largest threshold) come from the heap, and the heap is not trimmed below 1 GiB.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// The error and its causes as one line. An operating-system error is given in words
/// (`dnlts::files::describe_io`), and a cause that its context already says is not repeated.
fn describe(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => dnlts::files::describe_io(io),
            None => cause.to_string(),
        };
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Ctrl-C or SIGTERM: training finishes its step, checkpoints and exits with a message on how
/// to resume; a second Ctrl-C exits at once.
fn install_stop_handler() {
    let handler = || {
        // Outside training there is no checkpoint to write: stop now. Files are written
        // atomically, so nothing half-written stays behind.
        if dnlts::train::stop::requested() || !dnlts::train::stop::loop_running() {
            match dnlts::train::stop::advice() {
                Some(advice) => eprintln!("\nstopped; {advice}"),
                None => eprintln!("\nstopped"),
            }
            // _exit: no C++ static destructors while the main thread may be inside libtorch.
            unsafe { libc::_exit(130) };
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to quit at once)…");
        dnlts::train::stop::request();
    };
    if let Err(error) = ctrlc::set_handler(handler) {
        eprintln!(
            "warning: no Ctrl-C handler ({error}); an interrupted run resumes from its last check"
        );
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Env { machine, json } => commands::env::run(machine.threads, json),
        Command::List { profiles } => {
            commands::list::run(profiles);
            Ok(())
        }
        Command::Reproduce(args) => reproduce(args),
        Command::Pretrain(stage) => run_stage(stage, |p| p.pretrained().map(|_| ())),
        Command::PretrainImagenet { epochs, stage } => {
            commands::reproduce::pretrain_imagenet(stage, epochs)
        }
        Command::TrainClassifier { family, stage } => {
            let family = parse_family(&family)?;
            run_stage(stage, |p| p.classifier(family).map(|_| ()))
        }
        Command::ShipClassifiers { families, set, check, stage } => {
            let families: Vec<_> =
                families.iter().map(|f| parse_family(f)).collect::<Result<_, _>>()?;
            match (check, set) {
                (true, set) => commands::ship::check(stage, &families, set),
                (false, Some(set)) => commands::ship::run(stage, &families, &set),
                (false, None) => unreachable!("clap requires --set without --check"),
            }
        }
        Command::Finetune { family, stage } => {
            let family = parse_family(&family)?;
            run_stage(stage, |p| p.finetuned(family).map(|_| ()))
        }
        Command::Evaluate(stage) => commands::reproduce::evaluate(stage),
        Command::Models { json, classifier } if classifier.is_empty() => {
            commands::models::list(json)
        }
        Command::Models { classifier, .. } => commands::models::check_scripted(&classifier),
        Command::Analyze { table, options, out, json } => {
            commands::analyze::run(&table, &options, out.as_deref(), json)
        }
        Command::Nmi { a, b, bins } => commands::analyze::nmi(&a, &b, bins),
        Command::Data(DataCommand::Preview { profile, n, seed, ablation, out }) => {
            commands::data::preview(&profile, n, seed, &ablation, &out)
        }
        Command::Data(DataCommand::Export { profile, split, out, seed, data }) => {
            commands::data::export(&profile, &split, &out, seed, data.as_deref())
        }
        Command::Data(DataCommand::Verify { dir, write }) => commands::data::verify(&dir, write),
        Command::Weights(WeightsCommand::Inspect { file, json }) => {
            commands::models::inspect(&file, json)
        }
        Command::Weights(WeightsCommand::Check { file, model, options }) => {
            commands::models::check_file(&file, &model, options)
        }
        Command::Plan(args) => commands::plan::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Summarize { runs, out, json } => {
            commands::summarize::summarize(&runs, out.as_deref(), json)
        }
    }
}
