//! Gives memory back to the kernel, which would otherwise reclaim it only under pressure
//! while the node idles for days. Every sample, the free pages of the heap: glibc returns
//! only the top of a heap by itself, so what a burst of pods freed below it stays resident
//! (after a 60-pod burst, anonymous memory 44.5 -> 34.2 MiB). And when the node goes quiet
//! after a busy spell (its start, a burst of pods), the pages of the binary and of its
//! shared libraries that the spell read in: code that idling does not run stays out of
//! memory, what it runs faults back at once. The one module of the library with `unsafe`:
//! two libc calls.
#![allow(unsafe_code)]

use std::time::Duration;

use nix::sys::mman::{madvise, MmapAdvise};
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;
use tracing::debug;

/// How often the node's CPU use is sampled.
pub const SAMPLE: Duration = Duration::from_secs(15);
/// CPU share of one core over a sample from which the node counts as busy: start-up and a
/// burst of pods are far above it.
const BUSY: f64 = 0.10;
/// CPU share below which the node counts as quiet: an idle node with its default addons
/// uses about 0.3%.
const QUIET: f64 = 0.02;

/// Whether a release is due, from one CPU sample after another.
#[derive(Debug, Default)]
struct Spells {
    busy_since_release: bool,
}

impl Spells {
    /// Takes the CPU share of one core over the last sample; true when a busy spell has
    /// just ended.
    fn quiet_after_busy(&mut self, share: f64) -> bool {
        if share >= BUSY {
            self.busy_since_release = true;
        }
        let due = self.busy_since_release && share <= QUIET;
        if due {
            self.busy_since_release = false;
        }
        due
    }
}

/// Starts the thread that samples the process's CPU use and releases memory; the node's
/// start is its first busy spell. A thread of its own: paging out stalls it for
/// milliseconds, which no runtime worker should.
pub fn spawn() {
    let run = || {
        let mut spells = Spells {
            busy_since_release: true,
        };
        let mut before = cpu_time();
        loop {
            std::thread::sleep(SAMPLE);
            let now = cpu_time();
            let share = now.saturating_sub(before).as_secs_f64() / SAMPLE.as_secs_f64();
            before = now;
            if spells.quiet_after_busy(share) {
                let paged = page_out_code();
                debug!(
                    paged_out_bytes = paged,
                    "paged out code and constants after a busy spell"
                );
            }
            trim_heap();
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("reclaim".into())
        .spawn(run)
    {
        tracing::warn!(error = %e, "no memory-release thread: the node keeps its peak memory");
    }
}

fn cpu_time() -> Duration {
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| (u.user_time() + u.system_time()).num_microseconds())
        .map(|us| Duration::from_micros(us.max(0) as u64))
        .unwrap_or_default()
}

/// One mapping from /proc/self/maps.
#[derive(Debug, PartialEq, Eq)]
struct Mapping<'a> {
    start: usize,
    end: usize,
    writable: bool,
    path: &'a str,
}

fn mappings(maps: &str) -> impl Iterator<Item = Mapping<'_>> {
    maps.lines().filter_map(|line| {
        let mut fields = line.splitn(6, ' ');
        let (range, perms) = (fields.next()?, fields.next()?);
        // Offset, device and inode; then the path, padded with spaces, or nothing.
        fields.nth(2)?;
        let path = fields.next().unwrap_or("").trim_start();
        let (start, end) = range.split_once('-')?;
        Some(Mapping {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            writable: perms.as_bytes().get(1) == Some(&b'w'),
            path,
        })
    })
}

/// Pages out the read-only file mappings: the code and constants of the binary and of the
/// shared libraries (glibc's alone were 1.2 MiB resident after start, 0.3 MiB once idle).
/// Clean file pages, so nothing is lost and what runs next reads its pages back. Returns
/// the bytes advised; 0 where the kernel lacks MADV_PAGEOUT (before 5.4).
fn page_out_code() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut advised = 0;
    for m in code_mappings(&maps) {
        let Some(start) = std::ptr::NonNull::new(m.start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: the range is one whole mapping of this process, read-only and backed by
        // a file; MADV_PAGEOUT only drops its clean pages from memory, and the next access
        // reads the same bytes back.
        match unsafe { madvise(start, m.end - m.start, MmapAdvise::MADV_PAGEOUT) } {
            Ok(()) => advised += m.end - m.start,
            Err(e) => debug!(error = %e, "paging out {:#x}-{:#x}", m.start, m.end),
        }
    }
    advised
}

/// The read-only mappings of files (not the kernel's `[vdso]` and the like).
fn code_mappings(maps: &str) -> impl Iterator<Item = Mapping<'_>> {
    mappings(maps).filter(|m| !m.writable && m.path.starts_with('/'))
}

/// Returns the free pages of every malloc arena to the kernel. At idle a trim finds nothing
/// and costs little.
fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes the allocator's own locks and frees only pages no
    // allocation holds.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_release_is_due_once_per_busy_spell_when_it_goes_quiet() {
        let mut s = Spells::default();
        let shares = [0.001, 0.5, 0.3, 0.05, 0.01, 0.003, 0.2, 0.004, 0.001];
        let due: Vec<bool> = shares.iter().map(|&c| s.quiet_after_busy(c)).collect();
        assert_eq!(
            due,
            [false, false, false, false, true, false, false, true, false]
        );
    }

    #[test]
    fn maps_lines_give_range_permission_and_path() {
        let maps = "\
56363b725000-56363bd57000 r--p 00000000 00:28 901145                     /usr/local/bin/rkube
56363d0ff000-56363d108000 rw-p 019d7000 00:28 901145                     /usr/local/bin/rkube
7f6eecdf6000-7f6eecdfe000 rw-s 00000000 fe:00 901499                     /var/lib/rkube/state.db-shm
7ffd1c9e1000-7ffd1ca02000 rw-p 00000000 00:00 0
garbage";
        let got: Vec<Mapping> = mappings(maps).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0],
            Mapping {
                start: 0x56363b725000,
                end: 0x56363bd57000,
                writable: false,
                path: "/usr/local/bin/rkube"
            }
        );
        assert!(got[1].writable);
        assert_eq!(got[2].path, "/var/lib/rkube/state.db-shm");
        assert_eq!(got[3].path, "");
    }

    /// Resident kB of the test binary's read-only mappings, from /proc/self/smaps.
    fn binary_rss_kb() -> u64 {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut ours = false;
        let mut kb = 0;
        for line in smaps.lines() {
            if let Some(m) = mappings(line).next() {
                ours = !m.writable && Path::new(m.path) == exe;
            } else if let Some(v) = line.strip_prefix("Rss:").filter(|_| ours) {
                kb += v.trim().trim_end_matches(" kB").parse::<u64>().unwrap();
            }
        }
        kb
    }

    #[test]
    fn code_mappings_are_the_read_only_ones_of_files() {
        let maps = "\
55d6d6a00000-55d6d7c00000 r-xp 00a00000 00:28 901145                     /usr/local/bin/rkube
55d6d7c00000-55d6d8200000 r--p 01c00000 00:28 901145                     /usr/local/bin/rkube
55d6d8200000-55d6d8210000 rw-p 02200000 00:28 901145                     /usr/local/bin/rkube
7f0c3a228000-7f0c3a3a0000 r-xp 00028000 00:28 909337                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0c3a3f6000-7f0c3a3fa000 r--p 001cd000 00:28 909337                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0c3a3fa000-7f0c3a3fc000 rw-p 001d1000 00:28 909337                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f6eecdf6000-7f6eecdfe000 rw-s 00000000 fe:00 901499                     /var/lib/rkube/state.db-shm
7f0c3a400000-7f0c3a600000 rw-p 00000000 00:00 0
7ffd1c9fc000-7ffd1c9fe000 r-xp 00000000 00:00 0                          [vdso]";
        let picked: Vec<(usize, &str)> = code_mappings(maps).map(|m| (m.start, m.path)).collect();
        assert_eq!(
            picked,
            [
                (0x55d6d6a00000, "/usr/local/bin/rkube"),
                (0x55d6d7c00000, "/usr/local/bin/rkube"),
                (0x7f0c3a228000, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
                (0x7f0c3a3f6000, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ]
        );
    }

    /// The libraries' pages are shared with every other process on a test machine, which
    /// MADV_PAGEOUT leaves alone; the binary's are this process's own.
    #[test]
    fn paging_out_drops_the_binarys_resident_pages() {
        let before = binary_rss_kb();
        let advised = page_out_code();
        let after = binary_rss_kb();
        assert!(advised > 0, "no mapping was advised");
        assert!(
            after < before / 2,
            "the binary's resident pages went from {before} to only {after} kB"
        );
    }
}
