//! The projected wall time of a profile on N devices of the kind benched, from each stage's
//! projected time on one: a stated model, not a measurement.
//!
//! - Pre-training runs data-parallel over all N devices at an ideal N× speed-up. That is an
//!   upper bound on the speed-up: the gradient all-reduce, the parameter broadcast and the N
//!   input pipelines are not counted.
//! - Every other stage runs on one device, in the plan's dependency order
//!   ([`crate::commands::plan::graph`]): each in turn starts on the device that is free first,
//!   once the stages it needs have ended (list scheduling, as `reproduce --devices` runs them).

use serde::Serialize;

/// The device counts the bench projects for.
pub const DEVICE_COUNTS: [usize; 4] = [1, 2, 4, 8];

/// One stage to schedule: its time on one device and the stages it needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub seconds: f64,
    pub needs: Vec<String>,
    /// Spread over every device (pre-training) instead of run on one.
    pub data_parallel: bool,
}

/// The projection for one device count.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    pub devices: usize,
    pub projected_seconds: f64,
    /// Over the projection on one device.
    pub speedup: f64,
}

/// When the last of `jobs` ends on `devices` devices, the jobs started in list order (each
/// after the jobs it needs, which come earlier in the list; a need not in the list is taken
/// as done at the start).
pub fn makespan(jobs: &[Job], devices: usize) -> f64 {
    let devices = devices.max(1);
    let mut free = vec![0.0_f64; devices];
    let mut ends: Vec<(&str, f64)> = Vec::new();
    for job in jobs {
        let ready = job
            .needs
            .iter()
            .filter_map(|need| ends.iter().find(|(name, _)| name == need).map(|(_, end)| *end))
            .fold(0.0, f64::max);
        let end = if job.data_parallel {
            // It needs every device: it starts when the last is free and holds them all.
            let start = free.iter().copied().fold(ready, f64::max);
            let end = start + job.seconds / devices as f64;
            free.iter_mut().for_each(|f| *f = end);
            end
        } else {
            let first = (0..devices).min_by(|&a, &b| free[a].total_cmp(&free[b])).unwrap_or(0);
            let end = free[first].max(ready) + job.seconds;
            free[first] = end;
            end
        };
        ends.push((&job.name, end));
    }
    ends.iter().map(|(_, end)| *end).fold(0.0, f64::max)
}

/// [`makespan`] for each of [`DEVICE_COUNTS`], with the speed-up over one device.
pub fn project(jobs: &[Job]) -> Vec<Projection> {
    let one = makespan(jobs, 1);
    DEVICE_COUNTS
        .iter()
        .map(|&devices| {
            let projected_seconds = makespan(jobs, devices);
            Projection { devices, projected_seconds, speedup: one / projected_seconds }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, seconds: f64, needs: &[&str]) -> Job {
        let needs = needs.iter().map(|n| n.to_string()).collect();
        Job { name: name.into(), seconds, needs, data_parallel: name == "p" }
    }

    /// A pre-training of 100 s, a classifier of 10 s, three fine-tunings of 30, 20 and 40 s
    /// after the pre-training, and a 5 s report after all three.
    fn jobs() -> Vec<Job> {
        vec![
            job("p", 100.0, &[]),
            job("a", 10.0, &[]),
            job("b", 30.0, &["p"]),
            job("c", 20.0, &["p"]),
            job("d", 40.0, &["p", "a"]),
            job("r", 5.0, &["b", "c", "d"]),
        ]
    }

    #[test]
    fn one_device_runs_the_stages_in_sequence() {
        assert_eq!(makespan(&jobs(), 1), 205.0);
    }

    #[test]
    fn several_devices_split_pretraining_and_run_the_rest_side_by_side() {
        // Two: p 0–50 on both; a 50–60 and b 50–80; c 60–80; d 80–120; r 120–125.
        assert_eq!(makespan(&jobs(), 2), 125.0);
        // Four: p 0–25; a, b, c, d start at 25 (d's need a ends at 35): d 35–75; r 75–80.
        assert_eq!(makespan(&jobs(), 4), 80.0);
        // Eight: p 0–12.5; a 12.5–22.5; d 22.5–62.5; r 62.5–67.5.
        assert_eq!(makespan(&jobs(), 8), 67.5);
        let projected = project(&jobs());
        let devices: Vec<usize> = projected.iter().map(|p| p.devices).collect();
        assert_eq!(devices, DEVICE_COUNTS);
        assert_eq!(projected[1].speedup, 205.0 / 125.0);
    }

    #[test]
    fn a_stage_waits_for_its_needs_even_with_a_device_free() {
        let chain = vec![job("x", 10.0, &[]), job("y", 10.0, &["x"]), job("z", 10.0, &["y"])];
        assert_eq!(makespan(&chain, 8), 30.0);
    }
}
