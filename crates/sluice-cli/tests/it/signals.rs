//! Stopping: SIGTERM lets the file being loaded finish.

use crate::{Cli, rows, stderr, stdout, terminate};

#[test]
fn sigterm_lets_the_file_being_loaded_finish_and_leaves_the_rest_for_the_next_run() {
    let cli = Cli::new();
    // Three files of 40,000 rows, read slowly (5 batches of 8,192 rows, 300 ms each).
    for (i, name) in ["t_1.csv", "t_2.csv", "t_3.csv"].iter().enumerate() {
        cli.write(name, &rows(i as u64 * 40_000, 40_000));
    }
    cli.setup_job(&[]);
    let child = cli
        .cmd(&["run", "tx", "--parallel", "2"])
        .env("SLUICE_SLOW", "batch:300")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first file is claimed (being loaded), then ask the process to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ledger = cli.ledger();
        if ledger
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["status"] == "loading")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no file started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a graceful stop is not a failure: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("stopping after the files being loaded"),
        "{}",
        stderr(&out)
    );
    // The files in flight (one or both of the two it loads at once) finished: whole,
    // committed and recorded; nothing else started.
    let ledger = cli.ledger();
    let ledger = ledger.as_array().unwrap();
    let loaded = ledger.len();
    assert!((1..=2).contains(&loaded), "{ledger:?}");
    assert!(ledger.iter().all(|p| p["status"] == "loaded"), "{ledger:?}");
    assert_eq!(cli.table_rows("t"), 40_000 * loaded as i64);
    assert!(
        stdout(&out).contains(&format!(
            "stopped by a shutdown: {} file(s) left for the next run",
            3 - loaded
        )),
        "{}",
        stdout(&out)
    );

    // `runs show` has the run's files and its log.
    let shown = cli.ok(&["runs", "show", "1"]);
    assert!(shown.contains("log:"), "{shown}");
    assert!(shown.contains("started by hand"), "{shown}");
    assert!(
        shown.contains("listed 3 file(s) matching 't_*.csv'"),
        "{shown}"
    );
    assert!(shown.contains("loaded, 40000 rows"), "{shown}");
    assert!(shown.contains("stopped by a shutdown"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["runs", "show", "1", "--json"])).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert!(json["log"].as_array().unwrap().len() >= 3, "{json}");

    // The next run takes the files left, once.
    let next = cli.ok(&["run", "tx"]);
    assert!(
        next.contains(&format!(
            "3 seen, {} loaded, {loaded} skipped, 0 failed",
            3 - loaded
        )),
        "{next}"
    );
    assert_eq!(cli.table_rows("t"), 120_000);
    let err = cli.run(&["runs", "show", "99"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(stderr(&err).contains("no run 99"), "{}", stderr(&err));
}

#[test]
fn serve_on_sigterm_lets_a_run_finish_its_file_then_stops() {
    use std::io::{BufRead, Read, Write};
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(0, 40_000));
    cli.write("t_2.csv", &rows(40_000, 40_000));
    cli.setup_job(&[]);
    let mut child = cli
        .cmd(&["serve", "--bind", "127.0.0.1:0"])
        .env("SLUICE_SLOW", "batch:300")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("sluice API on http://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    // The token made for this start is in the UI's address, printed once.
    let second = lines.next().unwrap().unwrap();
    let token = second
        .split("?token=")
        .nth(1)
        .unwrap_or_else(|| panic!("no token in {second}"))
        .to_string();
    // Run now, through the API.
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/jobs/tx/run HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{{\"parallel\":1}}"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cli
        .ledger()
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["status"] == "loading")
    {
        assert!(std::time::Instant::now() < deadline, "no file started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The file in flight was finished and recorded; the other waits for the next run.
    assert_eq!(cli.table_rows("t"), 40_000);
    let run: serde_json::Value =
        serde_json::from_str(&cli.ok(&["runs", "show", "1", "--json"])).unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["files_loaded"], 1);
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("1 file(s) left for the next run"),
        "{run}"
    );
    assert!(cli.ok(&["run", "tx"]).contains("2 seen, 1 loaded"));
    assert_eq!(cli.table_rows("t"), 80_000);
}
