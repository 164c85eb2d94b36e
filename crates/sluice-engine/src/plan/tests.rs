use super::*;
use chrono::DateTime;

fn file(path: &str, size: u64, minute: i64) -> FileEntry {
    FileEntry {
        path: path.into(),
        size,
        last_modified: DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap(),
        e_tag: Some(format!("{path}-v1")),
        version: None,
        checksum: None,
    }
}

fn listing() -> Vec<FileEntry> {
    vec![
        file("d3.csv", 10, 3),
        file("d2.csv", 500, 2),
        file("d1.csv", 10, 1),
    ]
}

fn row(f: &FileEntry, status: LedgerStatus, content: Option<&str>) -> ProcessedFile {
    ProcessedFile {
        file_path: f.path.clone(),
        file_version: f.version_key(),
        file_size_bytes: f.size,
        file_last_modified: f.last_modified,
        etag: f.e_tag.clone(),
        status,
        load_id: "l".into(),
        processed_at: f.last_modified,
        rows_loaded: 1,
        run_id: Some(1),
        failures: if status == LedgerStatus::Parked { 3 } else { 0 },
        last_error: None,
        content: content.map(str::to_string),
        same_as: None,
        generation: 0,
    }
}

fn loaded(files: &[&FileEntry]) -> Vec<ProcessedFile> {
    files
        .iter()
        .map(|f| row(f, LedgerStatus::Loaded, None))
        .collect()
}

fn rules(latest_only: bool, max: u64, contents: &HashMap<(String, String), String>) -> Rules<'_> {
    Rules {
        latest_only,
        max_file_size: max,
        changed_files: ChangedFiles::Reload,
        settle: None,
        ready_marker: None,
        contents,
    }
}

fn taken(p: &Plan) -> Vec<&str> {
    p.take.iter().map(|t| t.file.path.as_str()).collect()
}

#[test]
fn latest_only_takes_the_newest_unprocessed_file() {
    let none = HashMap::new();
    let l = listing();
    let p = plan(l.clone(), &[], &rules(true, 1000, &none));
    assert_eq!(taken(&p), vec!["d3.csv"]);
    assert_eq!(p.files[1].reason, Reason::NotNewest);
    assert_eq!(p.files[1].action, Action::Wait);
    // The newest is loaded: the newest of the rest is taken, not nothing.
    let p = plan(l.clone(), &loaded(&[&l[0]]), &rules(true, 1000, &none));
    assert_eq!(taken(&p), vec!["d2.csv"]);
    assert_eq!(p.already_loaded(), 1);
    let p = plan(
        l.clone(),
        &loaded(&[&l[0], &l[1], &l[2]]),
        &rules(true, 1000, &none),
    );
    assert!(p.take.is_empty());
}

#[test]
fn all_takes_every_unloaded_file_oldest_first_and_skips_large_ones() {
    let none = HashMap::new();
    let l = listing();
    let p = plan(l.clone(), &loaded(&[&l[2]]), &rules(false, 100, &none));
    assert_eq!(taken(&p), vec!["d3.csv"]);
    assert_eq!(p.too_large().len(), 1);
    assert_eq!(p.too_large()[0].file.path, "d2.csv");
    let p = plan(l.clone(), &[], &rules(false, 1000, &none));
    assert_eq!(taken(&p), vec!["d1.csv", "d2.csv", "d3.csv"]);
}

#[test]
fn latest_only_passes_over_parked_and_oversized_files() {
    let none = HashMap::new();
    let l = listing();
    let ledger = vec![row(&l[0], LedgerStatus::Parked, None)];
    let p = plan(l.clone(), &ledger, &rules(true, 100, &none));
    assert_eq!(taken(&p), vec!["d1.csv"], "d3 parked, d2 too large");
    assert_eq!(p.parked(), 1);
}

#[test]
fn a_changed_file_follows_the_policy_and_same_content_is_not_loaded_again() {
    let l = listing();
    let ledger = vec![row(&l[0], LedgerStatus::Loaded, Some("md5:aaa"))];
    let mut touched = l[0].clone();
    touched.e_tag = Some("d3-v2".into());
    let key = (touched.path.clone(), touched.version_key());
    // Touched, same bytes: a repeat of itself.
    let same = HashMap::from([(key.clone(), "md5:aaa".to_string())]);
    let p = plan(vec![touched.clone()], &ledger, &rules(false, 1000, &same));
    assert!(p.take.is_empty());
    assert_eq!(
        p.files[0].reason,
        Reason::SameContent {
            same_as: "d3.csv".into()
        }
    );
    assert_eq!(p.repeats.len(), 1);
    // A copy under another name: a repeat of the loaded file.
    let mut copy = file("copy_of_d3.csv", 10, 9);
    copy.checksum = Some("md5:aaa".into());
    let p = plan(vec![copy.clone()], &ledger, &rules(false, 1000, &same));
    assert_eq!(p.repeats[0].same_as, "d3.csv");
    // Other bytes: the policy.
    let other = HashMap::from([(key, "md5:bbb".to_string())]);
    for (policy, action, reload) in [
        (ChangedFiles::Reload, Action::Load, true),
        (ChangedFiles::Append, Action::Load, false),
        (ChangedFiles::Ignore, Action::Skip, false),
        (ChangedFiles::Fail, Action::Fail, false),
    ] {
        let r = Rules {
            changed_files: policy,
            ..rules(false, 1000, &other)
        };
        let p = plan(vec![touched.clone()], &ledger, &r);
        assert_eq!(p.files[0].action, action, "{policy}");
        assert_eq!(p.files[0].reason, Reason::Changed { policy });
        assert_eq!(
            p.take.first().map(|t| t.reload),
            (action != Action::Skip).then_some(reload)
        );
        assert_eq!(
            p.take.first().map(|t| t.fail),
            (action != Action::Skip).then_some(policy == ChangedFiles::Fail)
        );
    }
}

#[test]
fn files_wait_for_their_settle_time_and_their_folders_marker() {
    let none = HashMap::new();
    let l = vec![
        file("a/x.csv", 10, 10),
        file("b/y.csv", 10, 1),
        file("b/_SUCCESS", 0, 1),
    ];
    let now = l[0].last_modified + chrono::Duration::seconds(120);
    let r = Rules {
        settle: Some((std::time::Duration::from_secs(300), now)),
        ..rules(false, 1000, &none)
    };
    let p = plan(l.clone(), &[], &r);
    assert_eq!(taken(&p), vec!["b/_SUCCESS", "b/y.csv"]);
    assert!(matches!(p.files[0].reason, Reason::NotSettled { .. }));
    assert_eq!(p.files[0].action, Action::Wait);
    let folders = HashSet::from(["b".to_string()]);
    let r = Rules {
        ready_marker: Some(("_SUCCESS", &folders)),
        ..rules(false, 1000, &none)
    };
    let p = plan(l.clone(), &[], &r);
    assert_eq!(
        taken(&p),
        vec!["b/y.csv"],
        "the marker itself is not loaded"
    );
    assert_eq!(
        p.files[0].reason,
        Reason::NoMarker {
            marker: "_SUCCESS".into(),
            folder: "a".into()
        }
    );
    assert_eq!(p.files[2].reason, Reason::Marker);
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
    assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
    assert_eq!(parse_duration("45").unwrap().as_secs(), 45);
    assert!(parse_duration("10 minutes").is_err());
    assert!(parse_duration("1h30").unwrap_err().contains("no unit"));
}
