//! Hashing a model directory into a manifest, files mode against shards mode.
//!
//! Two generated directories of 64 MiB each, written once to a temporary directory: 32 files of
//! 2 MiB in nested directories, and 2 files of 32 MiB. Each is hashed with SHA-256 one digest per
//! file (`files`), with SHA-256 in 8 MiB shards (`shards`), and with BLAKE3 one digest per file.
//! The page cache is warm after the first iteration, so this measures the hash and the tool, not
//! the disk. Run with `cargo bench -p aisec-provenance --bench hashing`.

use std::hint::black_box;
use std::path::Path;

use aisec_provenance::signing::serialize::hash_model;
use aisec_provenance::signing::{HashAlg, Method, Serialization};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const MIB: usize = 1 << 20;

/// Deterministic, incompressible-looking bytes (xorshift), so no file is all zeros.
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn write_files(root: &Path, sizes: &[(String, usize)]) {
    for (i, (rel, size)) in sizes.iter().enumerate() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut buf = vec![0u8; *size];
        fill(&mut buf, i as u64 + 1);
        std::fs::write(path, buf).unwrap();
    }
}

fn serialization(method: Method, hash: HashAlg) -> Serialization {
    Serialization {
        method,
        hash,
        allow_symlinks: false,
        ignore_paths: Vec::new(),
    }
}

fn bench_hashing(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many");
    let large = dir.path().join("large");
    let many_files: Vec<(String, usize)> = (0..32)
        .map(|i| (format!("layer_{}/part_{}.bin", i / 8, i % 8), 2 * MIB))
        .collect();
    write_files(&many, &many_files);
    let large_files: Vec<(String, usize)> = (0..2)
        .map(|i| (format!("model-{i}.safetensors"), 32 * MIB))
        .collect();
    write_files(&large, &large_files);

    let modes = [
        (
            "files-sha256",
            serialization(Method::Files, HashAlg::Sha256),
        ),
        (
            "shards-sha256-8MiB",
            serialization(Method::Shards(8 * MIB as u64), HashAlg::Sha256),
        ),
        (
            "files-blake3",
            serialization(Method::Files, HashAlg::Blake3),
        ),
    ];
    for (name, root) in [("many-32x2MiB", &many), ("large-2x32MiB", &large)] {
        let mut group = c.benchmark_group(format!("hash_model/{name}"));
        group.throughput(Throughput::Bytes(64 * MIB as u64));
        group.sample_size(10);
        for (mode, ser) in &modes {
            group.bench_function(*mode, |b| {
                b.iter(|| black_box(hash_model(root, ser, None).unwrap()));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_hashing);
criterion_main!(benches);
