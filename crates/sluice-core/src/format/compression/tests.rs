//! Compressed files written by the system's own tools (gzip, zstd, bzip2, xz), not by the
//! crates that read them, then detected and read through the store.

use futures::TryStreamExt;

use super::*;
use crate::format::testing::{compress, ids, put, store};
use crate::format::{self, FormatOptions};

const CSV: &str = "id,name\n1,ann\n2,bob\n3,\"c, d\"\n";

#[test]
fn names_and_magic_bytes_show_the_codec() {
    assert_eq!(
        Compression::of("a/transactions.csv"),
        (Compression::None, "a/transactions.csv")
    );
    assert_eq!(
        Compression::of("t_2024.CSV.GZ"),
        (Compression::Gzip, "t_2024.CSV")
    );
    assert_eq!(Compression::of("e.jsonl.zst").0, Compression::Zstd);
    assert_eq!(Compression::of("e.csv.bz2").0, Compression::Bzip2);
    assert_eq!(Compression::of("e.csv.xz").0, Compression::Xz);
    assert_eq!(
        format::by_extension("x/t.csv.gz").map(|f| f.name),
        Some("csv")
    );
    assert!(Compression::None.is_none());

    for (tool, codec) in [
        (&["gzip", "-c"][..], Compression::Gzip),
        (&["zstd", "-c", "-q"][..], Compression::Zstd),
        (&["bzip2", "-c"][..], Compression::Bzip2),
        (&["xz", "-c"][..], Compression::Xz),
    ] {
        assert_eq!(Compression::sniff(&compress(tool, CSV.as_bytes())), codec);
    }
    // Text that happens to start like bzip2's magic is text.
    assert_eq!(Compression::sniff(b"BZh_id,name\n1,2\n"), Compression::None);
    assert_eq!(Compression::sniff(CSV.as_bytes()), Compression::None);
}

#[tokio::test]
async fn each_codec_is_detected_and_read_as_its_tool_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    for (tool, ext) in [
        (&["gzip", "-c"][..], "gz"),
        (&["zstd", "-c", "-q"][..], "zst"),
        (&["bzip2", "-c"][..], "bz2"),
        (&["xz", "-c"][..], "xz"),
    ] {
        let name = format!("t.csv.{ext}");
        let file = put(&store, dir.path(), &name, &compress(tool, CSV.as_bytes())).await;
        assert_eq!(ids(&store, &file).await.unwrap(), vec![1, 2, 3], "{name}");
    }
    // Gzipped bytes under a plain name are read as what they are.
    let file = put(
        &store,
        dir.path(),
        "plain_name.csv",
        &compress(&["gzip", "-c"], CSV.as_bytes()),
    )
    .await;
    assert_eq!(ids(&store, &file).await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn a_gzip_file_of_several_members_is_read_to_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut both = compress(&["gzip", "-c"], CSV.as_bytes());
    both.extend(compress(&["gzip", "-c"], b"4,dan\n5,eve\n"));
    let file = put(&store, dir.path(), "t.csv.gz", &both).await;
    assert_eq!(ids(&store, &file).await.unwrap(), vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_large_compressed_file_streams_and_estimates_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut csv = String::from("id,name\n");
    for i in 0..400_000 {
        csv.push_str(&format!("{i},name {}\n", i * 7919 % 100_003));
    }
    let file = put(
        &store,
        dir.path(),
        "big.csv.zst",
        &compress(&["zstd", "-c", "-q"], csv.as_bytes()),
    )
    .await;
    let options = FormatOptions::for_file(None, &file.path).unwrap();
    let detected = format::detect(&store, &file, &options).await.unwrap();
    // The head is 5 MB of the 8 MB the file holds: the rest is extrapolated.
    assert!(detected.total_rows_estimated);
    let est = detected.total_rows as f64;
    assert!((300_000.0..520_000.0).contains(&est), "{est}");
    let got = ids(&store, &file).await.unwrap();
    assert_eq!(got.len(), 400_000);
    assert_eq!(got[399_999], 399_999);
}

#[tokio::test]
async fn a_corrupt_or_cut_short_stream_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut csv = String::from("id,name\n");
    for i in 0..50_000 {
        csv.push_str(&format!("{i},n{}\n", i * 31 % 977));
    }
    let gz = compress(&["gzip", "-c"], csv.as_bytes());
    let cut = put(&store, dir.path(), "cut.csv.gz", &gz[..gz.len() / 2]).await;
    let err = ids(&store, &cut).await.unwrap_err().to_string();
    assert!(
        err.starts_with("cut.csv.gz") && err.contains("not a valid gzip stream"),
        "{err}"
    );
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let bad = put(&store, dir.path(), "bad.csv.gz", &bad).await;
    let err = ids(&store, &bad).await.unwrap_err().to_string();
    assert!(
        err.starts_with("bad.csv.gz") && err.contains("corrupt"),
        "{err}"
    );
}

#[tokio::test]
async fn a_decompression_bomb_is_stopped_with_a_way_forward() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    // 100 MB of one short line over and over: about 100 KB stored.
    let line = b"1,a\n";
    let mut body = b"id,name\n".to_vec();
    body.extend(line.repeat(25 * 1024 * 1024));
    let gz = compress(&["gzip", "-c"], &body);
    assert!(gz.len() < 1024 * 1024, "{}", gz.len());
    let file = put(&store, dir.path(), "bomb.csv.gz", &gz).await;
    let err = ids(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.starts_with("bomb.csv.gz")
            && err.contains("decompression bomb")
            && err.contains("max_expansion"),
        "{err}"
    );
    // A genuine file of that ratio loads once the cap allows it.
    let source = crate::format::Source::new(&store, &file).with_limits(Limits {
        max_expansion: 2_000,
    });
    let mut bytes = 0u64;
    let mut stream = source.stream().await.unwrap();
    while let Some(chunk) = stream.try_next().await.unwrap() {
        bytes += chunk.len() as u64;
    }
    assert_eq!(bytes, body.len() as u64);
}
