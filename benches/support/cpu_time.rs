//! The CPU time this process has used, from `/proc/self/stat` (Linux): steadier than a
//! wall-clock figure on a shared machine.

/// User and system CPU seconds used so far (0 where `/proc` cannot be read).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Past the command's name (in parentheses, which may hold spaces): utime and stime are
    // the 12th and 13th fields, in clock ticks of 1/100 s.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|n| n.parse().ok())
        .collect();
    ticks.iter().sum::<f64>() / 100.0
}
