//! A large object read through a slow pipeline: storage requests have a connect timeout and
//! a read-idle timeout, never a limit on the whole transfer, so a file that takes longer to
//! stream than any timeout loads to its end.

use std::io::Write;

use sluice_testkit::peers::{unique, var};

use crate::{Cli, stderr, stdout};

/// About `bytes` of CSV with 200-byte rows.
fn large_csv(path: &std::path::Path, bytes: u64) -> u64 {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "id,amount,note").unwrap();
    let note = "n".repeat(180);
    let mut rows = 0;
    let mut written = 0;
    while written < bytes {
        let line = format!("{rows},{}.5,{note}\n", rows % 1000);
        written += line.len() as u64;
        out.write_all(line.as_bytes()).unwrap();
        rows += 1;
    }
    out.flush().unwrap();
    rows
}

#[test]
fn a_200_mb_object_streams_through_a_slowed_load_for_longer_than_the_read_timeout() {
    let endpoint = var("SLUICE_S3_ENDPOINT");
    let bucket = var("SLUICE_TEST_BUCKET");
    let prefix = unique("large");

    // The object goes up unsigned, as moto allows (reads are signed, with moto's test keys).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t_1.csv");
    let rows = large_csv(&file, 200 << 20);
    let put = std::process::Command::new("curl")
        .args(["-sS", "-f", "-T"])
        .arg(&file)
        .arg(format!("{endpoint}/{bucket}/{prefix}/t_1.csv"))
        .output()
        .unwrap();
    assert!(
        put.status.success(),
        "upload: {}",
        String::from_utf8_lossy(&put.stderr)
    );
    drop(dir);

    // A read timeout of 2 s, and a load slowed to well over that in all (200 ms a batch,
    // some 130 batches: 25 s): under a limit of 2 s on the whole request, each try (and
    // each of the storage client's resumed reads) times out and the file fails.
    let cli = Cli::new()
        .with_env("SLUICE_STORAGE_READ_TIMEOUT", "2")
        .with_env("SLUICE_SLOW", "batch:200");
    cli.add_s3("s3", &prefix);
    cli.ok(&[
        "jobs",
        "create",
        "big",
        "--connection",
        "s3",
        "--pattern",
        "t_*.csv",
        "--max-file-size",
        "1GB",
        "--table",
        "big",
    ]);
    let started = std::time::Instant::now();
    let out = cli.run(&["run", "big"]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}\n{}", stderr(&out), stdout(&out));
    assert!(
        took.as_secs() > 4,
        "the load took {took:?}: not slower than the read timeout, so it shows nothing"
    );
    assert_eq!(cli.table_rows("big"), rows as i64);
}
