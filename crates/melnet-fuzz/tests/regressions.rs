//! Replays every committed fuzz input — the corpus in `fuzz/corpus/TARGET/` and the crashers
//! kept in `fuzz/artifacts/TARGET/` — through its target on the stable toolchain: each must
//! return (no panic) within 10 s, under a 512 MiB memory budget, without any single
//! allocation over 1 GiB (libFuzzer's `-malloc_limit_mb` in `scripts/fuzz`, checked here by
//! a counting allocator: a zeroed allocation is lazy, so its size, not the memory used, is
//! what reveals a size taken from the input unchecked).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, recording the largest request.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "artifacts"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz.join(kind).join(target)).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_is_handled() {
    std::env::set_var(melspec::limits::MEMORY_LIMIT_VAR, "512M");
    for (name, target) in melnet_fuzz::TARGETS {
        let files = inputs(name);
        assert!(!files.is_empty(), "no corpus for {name}");
        for path in files {
            let data = std::fs::read(&path).unwrap();
            LARGEST.store(0, Ordering::Relaxed);
            let started = Instant::now();
            target(&data);
            let elapsed = started.elapsed();
            assert!(
                elapsed < Duration::from_secs(10),
                "{}: {elapsed:?}",
                path.display()
            );
            let largest = LARGEST.load(Ordering::Relaxed);
            assert!(
                largest <= 1 << 30,
                "{}: an allocation of {largest} bytes",
                path.display()
            );
        }
    }
}
