//! What the benchmark examples share: their `--name VALUE` arguments and the process's memory.

use std::error::Error;

/// The value after `--name` on the command line.
pub fn arg(name: &str) -> Result<String, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .ok_or_else(|| format!("{name} VALUE is required").into())
}

/// A field of `/proc/self/status` (`VmRSS:`, `VmHWM:`) in bytes. Linux only.
#[allow(dead_code)] // not every example reads memory
pub fn status_bytes(field: &str) -> Result<u64, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}
