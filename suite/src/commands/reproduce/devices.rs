//! `dnlts reproduce --devices D1,D2,…`: the stages of the graph `dnlts plan` writes, each run
//! as a child `dnlts` stage command (the Makefile's command line, with `--device D`), at most
//! one per listed device at a time and each after the stages it needs; then the targets run
//! in this process from the stages the children cached.
//!
//! Results equal a one-device run's by construction: the children get this run's profile,
//! seed, thread count and options, each stage derives its seed from its name alone, and the
//! parent loads exactly the stages the children wrote (the cache is keyed by content). The
//! device is not part of a stage's key, so a stage made on `cuda:1` is loaded on `cuda:0`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dnlts::device::DeviceChoice;
use dnlts::train::stop;

use crate::commands::plan::{self, Node};

/// How often finished children are looked for: short beside any stage (a second or more).
const POLL: Duration = Duration::from_millis(100);

/// Lines of a failed stage's log quoted in the error.
const LOG_TAIL_LINES: usize = 8;

/// Resolves every device of `--devices` before anything starts, naming the one that is not
/// there.
pub fn check(devices: &[DeviceChoice]) -> anyhow::Result<()> {
    let mut kinds = std::collections::BTreeSet::new();
    for device in devices {
        let resolved =
            device.resolve().map_err(|error| anyhow::anyhow!("--devices {device}: {error}"))?;
        kinds.insert(resolved.is_cuda());
    }
    // A CPU and a GPU round differently, and stage keys hold the kind of device: the parent,
    // on the first device, would train the other kind's stages again.
    anyhow::ensure!(
        kinds.len() <= 1,
        "--devices {}: mixes the CPU and GPUs, whose stages differ in rounding (the stage \
         cache keeps them apart); list devices of one kind, e.g. cuda:0,cuda:1",
        DeviceChoice::list(devices)
    );
    Ok(())
}

/// The devices pre-training splits its batches over when `--devices` lists `devices`: every
/// GPU listed, once, when there are two or more; none on the CPU, where copies of the AE would
/// share the same cores.
pub fn pretrain_devices(devices: &[DeviceChoice]) -> Vec<DeviceChoice> {
    let mut gpus: Vec<DeviceChoice> = Vec::new();
    for &device in devices {
        if matches!(device, DeviceChoice::Cuda(_)) && !gpus.contains(&device) {
            gpus.push(device);
        }
    }
    if gpus.len() < 2 {
        gpus.clear();
    }
    gpus
}

/// Runs the stage nodes of `profile`'s graph on `devices`. `dnlts` is the binary the children
/// run, `words` the arguments every stage command shares (without `--device`), and the logs
/// go to `<out>/logs/<stage>.log`; `fig2_epochs` > 0 adds Figure 2's ImageNet regime. With
/// `data_parallel`, pre-training (which the words split over the devices) runs alone, holding
/// every device.
pub fn run_stages(
    profile: &crate::profile::Profile,
    fig2_epochs: u64,
    devices: &[DeviceChoice],
    data_parallel: bool,
    dnlts: &Path,
    words: &[String],
    out: &Path,
) -> anyhow::Result<()> {
    let nodes = plan::stages(profile, fig2_epochs);
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|error| {
        anyhow::anyhow!(
            "cannot create the log folder {}: {}",
            logs.display(),
            dnlts::files::describe_io(&error)
        )
    })?;
    let slots: Vec<String> = devices.iter().map(ToString::to_string).collect();
    println!(
        "dnlts reproduce --devices {}: {} stage(s), one child `dnlts` command each, logs in {}",
        slots.join(","),
        nodes.len(),
        logs.display()
    );
    let spawn = |node: &Node, device: &str, log: &Path| {
        let mut line = vec![dnlts.display().to_string()];
        line.extend(node.command.iter().chain(words).cloned());
        line.extend(["--device".into(), device.to_string()]);
        start(&line, log)
    };
    // Pre-training split over the devices holds them all.
    let wide: Vec<&str> = nodes
        .iter()
        .filter(|node| data_parallel && plan::is_pretraining(node))
        .map(|node| node.name.as_str())
        .collect();
    Scheduler::new(&nodes, &slots, &logs, &wide).run(spawn)
}

/// Starts the command `line` (program first) with its output in `log`, after the command
/// itself, so that a stage can be rerun by hand. The child gets its own process group, so a
/// Ctrl-C at the terminal reaches only this process, which passes one SIGTERM on to each child
/// (a second signal would make a child quit without its checkpoint).
fn start(line: &[String], log: &Path) -> anyhow::Result<Child> {
    use std::io::Write as _;
    use std::os::unix::process::CommandExt as _;
    let cannot = |error: std::io::Error| {
        let reason = dnlts::files::describe_io(&error);
        anyhow::anyhow!("cannot write the stage log {}: {reason}", log.display())
    };
    let mut file = std::fs::File::create(log).map_err(cannot)?;
    writeln!(file, "$ {}", plan::quoted(line)).map_err(cannot)?;
    let mut command = Command::new(&line[0]);
    command.args(&line[1..]).stdin(Stdio::null());
    command.stdout(file.try_clone().map_err(cannot)?).stderr(file).process_group(0);
    command.spawn().map_err(|error| {
        let reason = dnlts::files::describe_io(&error);
        anyhow::anyhow!("cannot start {}: {reason}", line[0])
    })
}

/// A stage running in a child process.
struct Running<'a> {
    node: &'a Node,
    child: Child,
    started: Instant,
    /// Whether it holds every device (data-parallel pre-training).
    wide: bool,
}

/// Hands each free device the first stage whose prerequisites are done, in the graph's order.
struct Scheduler<'a> {
    nodes: &'a [Node],
    slots: &'a [String],
    /// The folder of the stages' logs.
    logs: &'a Path,
    /// Per device, the stage it runs; a wide stage is kept on the first device and holds
    /// them all.
    running: Vec<Option<Running<'a>>>,
    /// The stages that run on every device at once, one process splitting its batches over
    /// them (`--pretrain-devices`).
    wide: &'a [&'a str],
    /// Stages not started yet, in the graph's order.
    waiting: Vec<&'a Node>,
    done: Vec<&'a str>,
    /// The first failure, as the error to report.
    failed: Option<String>,
    /// Whether a stop was passed on to the children.
    stopping: bool,
}

impl<'a> Scheduler<'a> {
    fn new(nodes: &'a [Node], slots: &'a [String], logs: &'a Path, wide: &'a [&'a str]) -> Self {
        Scheduler {
            nodes,
            slots,
            logs,
            running: slots.iter().map(|_| None).collect(),
            wide,
            waiting: nodes.iter().collect(),
            done: Vec::new(),
            failed: None,
            stopping: false,
        }
    }

    /// Runs every stage; after a failure or a stop no stage starts, and the running ones
    /// finish (what they make is cached and kept for the next run).
    fn run(
        mut self,
        mut spawn: impl FnMut(&Node, &str, &Path) -> anyhow::Result<Child>,
    ) -> anyhow::Result<()> {
        // While children run, Ctrl-C asks them to checkpoint instead of ending this process.
        let _stop_waits = stop::LoopRunning::start();
        loop {
            if self.failed.is_none() && !stop::requested() {
                self.start_ready(&mut spawn)?;
            }
            if stop::requested() && !self.stopping {
                self.pass_stop_on();
            }
            if self.running.iter().all(Option::is_none) {
                break;
            }
            std::thread::sleep(POLL);
            self.collect_finished()?;
        }
        self.outcome()
    }

    /// What the run ended with, once no child runs.
    fn outcome(self) -> anyhow::Result<()> {
        if let Some(failure) = self.failed {
            anyhow::bail!("{failure}");
        }
        if stop::requested() {
            anyhow::bail!(
                "stopped; the stages that were training wrote a checkpoint: run the same command \
                 with --resume to continue"
            );
        }
        if let Some(node) = self.waiting.first() {
            // Not reachable with plan's graph, whose nodes come after what they need.
            anyhow::bail!(
                "stage {} needs {:?}, which no stage of the plan makes",
                node.name,
                node.needs
            );
        }
        Ok(())
    }

    /// Starts a ready stage on every free device. A wide stage waits until every device is
    /// free, and the stages after it wait for it (in the graph's order, it is never passed).
    fn start_ready(
        &mut self,
        spawn: &mut impl FnMut(&Node, &str, &Path) -> anyhow::Result<Child>,
    ) -> anyhow::Result<()> {
        let wide_runs = self.running.iter().flatten().any(|running| running.wide);
        for slot in 0..self.slots.len() {
            if wide_runs || self.running[slot].is_some() {
                continue;
            }
            let ready = self
                .waiting
                .iter()
                .position(|node| node.needs.iter().all(|need| self.done.contains(&need.as_str())));
            let Some(position) = ready else { return Ok(()) };
            let wide = self.wide.contains(&self.waiting[position].name.as_str());
            if wide && self.running.iter().any(Option::is_some) {
                return Ok(());
            }
            let node = self.waiting.remove(position);
            // A wide stage's child runs on the first device and copies the AE to the others.
            let child = match spawn(node, &self.slots[slot], &self.log(node)) {
                Ok(child) => child,
                Err(error) => {
                    self.failed = Some(format!("stage {}: {error:#}", node.name));
                    return Ok(());
                }
            };
            let running = Running { node, child, started: Instant::now(), wide };
            println!("{} started on {}", self.label(node), self.devices_of(&running, slot));
            self.running[slot] = Some(running);
            if wide {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The devices `running` holds, named.
    fn devices_of(&self, running: &Running, slot: usize) -> String {
        if running.wide {
            self.slots.join(",")
        } else {
            self.slots[slot].clone()
        }
    }

    /// Records the children that ended since the last look.
    fn collect_finished(&mut self) -> anyhow::Result<()> {
        for slot in 0..self.slots.len() {
            let Some(running) = self.running[slot].as_mut() else { continue };
            let Some(status) = running.child.try_wait()? else { continue };
            let Some(running) = self.running[slot].take() else { continue };
            let seconds = running.started.elapsed().as_secs_f64();
            let (node, device) = (running.node, &self.devices_of(&running, slot));
            if status.success() {
                println!("{} finished on {device} in {seconds:.1} s", self.label(node));
                self.done.push(&node.name);
            } else if self.stopping {
                // Asked to stop: a training stage exits with an error after its checkpoint.
                println!(
                    "{} stopped on {device} after {seconds:.1} s ({status})",
                    self.label(node)
                );
            } else {
                println!("{} FAILED on {device} after {seconds:.1} s ({status})", self.label(node));
                if self.failed.is_none() {
                    self.failed = Some(self.failure(node, device, status));
                    self.say_what_still_runs();
                }
            }
        }
        Ok(())
    }

    fn log(&self, node: &Node) -> PathBuf {
        self.logs.join(format!("{}.log", node.name))
    }

    /// "stage k/n NAME": the stage's place in the graph's order.
    fn label(&self, node: &Node) -> String {
        let position = self.nodes.iter().position(|n| n.name == node.name).unwrap_or(0);
        format!("stage {}/{} {}", position + 1, self.nodes.len(), node.name)
    }

    fn say_what_still_runs(&self) {
        let still: Vec<&str> =
            self.running.iter().flatten().map(|r| r.node.name.as_str()).collect();
        if !still.is_empty() {
            println!(
                "no more stages start; waiting for {} to finish (kept in the cache)",
                still.join(", ")
            );
        }
    }

    /// The error of a failed stage: its name, device, exit status and the end of its log.
    fn failure(&self, node: &Node, device: &str, status: ExitStatus) -> String {
        let log = self.log(node);
        let tail = log_tail(&log);
        format!(
            "stage {} (`dnlts {}` on {device}) failed with {status}. The stages that finished \
             are cached: fix the cause and run the same command again, and only what is \
             missing is computed. The stage's command and output are in {}{}",
            node.name,
            node.command.join(" "),
            log.display(),
            if tail.is_empty() { String::new() } else { format!(", which ends:\n{tail}") }
        )
    }

    /// Passes a stop (Ctrl-C, SIGTERM) on to every running child, once: each finishes its
    /// step and writes a checkpoint.
    fn pass_stop_on(&mut self) {
        self.stopping = true;
        for running in self.running.iter().flatten() {
            println!("stopping {} (it writes a checkpoint first)", running.node.name);
            // SAFETY: kill(2) on the pid of a child this process started and has not reaped.
            unsafe { libc::kill(running.child.id() as libc::pid_t, libc::SIGTERM) };
        }
    }
}

/// The last lines of `log`, indented (empty if it cannot be read).
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[from..].iter().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, needs: &[&str]) -> Node {
        let needs = needs.iter().map(|need| need.to_string()).collect();
        Node { name: name.into(), command: vec![name.into()], needs }
    }

    #[test]
    fn pretraining_is_split_over_every_gpu_listed_once() {
        use DeviceChoice::{Cpu, Cuda};
        assert_eq!(pretrain_devices(&[Cuda(0), Cuda(0), Cuda(1)]), [Cuda(0), Cuda(1)]);
        assert_eq!(pretrain_devices(&[Cuda(1), Cuda(0)]), [Cuda(1), Cuda(0)]);
        assert_eq!(pretrain_devices(&[Cuda(0), Cuda(0)]), []);
        assert_eq!(pretrain_devices(&[Cpu, Cpu]), []);
    }

    /// Runs `nodes` on two devices with `wide` holding both, each child sleeping 0.3 s; returns
    /// the stages in the order they started, each with its start time and device.
    fn schedule(nodes: &[Node], wide: &[&str]) -> Vec<(String, f64, String)> {
        let logs = std::env::temp_dir().join(format!("dnlts-scheduler-{}", std::process::id()));
        std::fs::create_dir_all(&logs).unwrap();
        let slots = ["a".to_string(), "b".to_string()];
        let began = Instant::now();
        let mut started = Vec::new();
        let spawn = |node: &Node, device: &str, _: &Path| {
            started.push((node.name.clone(), began.elapsed().as_secs_f64(), device.to_string()));
            Ok(Command::new("sleep").arg("0.3").spawn()?)
        };
        Scheduler::new(nodes, &slots, &logs, wide).run(spawn).unwrap();
        started
    }

    #[test]
    fn a_wide_stage_waits_for_every_device_and_holds_them_all() {
        let nodes = [
            node("classifier", &[]),
            node("pretrain", &[]),
            node("other", &[]),
            node("finetune", &["pretrain", "classifier"]),
        ];
        let order = schedule(&nodes, &["pretrain"]);
        let names: Vec<&str> = order.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(names, ["classifier", "pretrain", "other", "finetune"]);
        let at = |name: &str| order.iter().find(|(n, _, _)| n == name).unwrap().1;
        // Pre-training starts once the classifier has finished, and nothing passes it.
        assert!(at("pretrain") >= at("classifier") + 0.3, "{order:?}");
        assert!(at("other") >= at("pretrain") + 0.3, "{order:?}");
        // Not wide: "pretrain" and then "other" start at once beside the classifier.
        let narrow = schedule(&nodes, &[]);
        let at = |name: &str| narrow.iter().find(|(n, _, _)| n == name).unwrap().1;
        assert!(at("pretrain") < at("classifier") + 0.3, "{narrow:?}");
    }
}
