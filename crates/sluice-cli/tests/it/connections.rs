//! Connections: credentials never shown, and key rotation.

use crate::{Cli, stderr};

#[test]
fn credentials_never_show_and_rotate_with_a_command() {
    let cli = Cli::new();
    let secret = cli.dir.path().join("aws-secret");
    std::fs::write(&secret, "wJalrXUtnFEMI-SECRET\n").unwrap();
    let opt = format!("secret_access_key=@{}", secret.display());
    cli.ok(&[
        "connections",
        "add",
        "prod",
        "s3://acme-drops/landing",
        "-o",
        "region=eu-west-1",
        "-o",
        "access_key_id=AKIAEXAMPLE",
        "-o",
        &opt,
    ]);
    for args in [
        &["connections", "list"][..],
        &["connections", "show", "prod", "--json"][..],
    ] {
        let out = cli.ok(args);
        assert!(!out.contains("wJalr"), "{out}");
        assert!(out.contains("••••") && out.contains("AKIAEXAMPLE"), "{out}");
    }
    let catalog = std::fs::read(cli.data().join("catalog.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&catalog).contains("wJalr"),
        "the catalog holds no plain secret"
    );
    let key_before = std::fs::read_to_string(cli.data().join("secret.key")).unwrap();
    let out = cli.ok(&["connections", "rotate-key"]);
    assert!(
        out.contains("re-sealed the credentials of 1 connection(s)"),
        "{out}"
    );
    assert_ne!(
        std::fs::read_to_string(cli.data().join("secret.key")).unwrap(),
        key_before
    );
    // A wrong key is an error naming the connection, not garbage.
    let out = cli
        .cmd(&["files", "prod"])
        .env(
            "SLUICE_SECRET_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot open the secret_access_key of connection 'prod'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_rotation_killed_at_any_point_leaves_every_secret_readable() {
    for fault in ["rotate-staged", "rotate-committed"] {
        let cli = Cli::new();
        cli.add_s3("prod", "");
        cli.ok(&["connections", "test", "prod"]);
        let killed = cli
            .cmd(&["connections", "rotate-key"])
            .env("SLUICE_FAULT", fault)
            .output()
            .unwrap();
        assert!(!killed.status.success(), "{fault}: not aborted");
        assert!(stderr(&killed).contains(&format!("SLUICE_FAULT: aborting at {fault}")));
        // The next command opens the credentials, with the old key or the new one...
        let out = cli.ok(&["connections", "test", "prod"]);
        assert!(out.contains("connection 'prod' works"), "{fault}: {out}");
        // ...and the key file holds the key they open with, so a rotation can follow.
        let key = std::fs::read_to_string(cli.data().join("secret.key")).unwrap();
        let out = cli
            .cmd(&["connections", "test", "prod"])
            .env("SLUICE_SECRET_KEY", key.trim())
            .output()
            .unwrap();
        assert!(out.status.success(), "{fault}: {}", stderr(&out));
        assert!(
            cli.ok(&["connections", "rotate-key"])
                .contains("1 connection(s)")
        );
        cli.ok(&["connections", "test", "prod"]);
    }
}

/// A hand-written HTTP listener standing in for "a server someone named as the endpoint":
/// it records every request's head, answers token requests with a token (so a leaked
/// credential would be used), and answers listings with an empty S3-style list.
fn recorder() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            seen.lock().unwrap().push(head.clone());
            let body = if head.contains("/token") {
                r#"{"access_token":"ya29.ambient","expires_in":3600,"token_type":"Bearer"}"#
                    .to_string()
            } else {
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>".to_string()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, heads)
}

#[test]
fn ambient_credentials_are_never_sent_to_an_endpoint_a_connection_names() {
    let (endpoint, heads) = recorder();
    let cli = Cli::new();
    // The machine's own credentials: AWS keys in the environment, and Google application
    // default credentials whose token endpoint is the recorder (a leak would ask it).
    let adc = cli.dir.path().join("adc.json");
    std::fs::write(
        &adc,
        serde_json::json!({
            "type": "service_account",
            "client_email": "machine@p.iam.gserviceaccount.com",
            "private_key_id": "kid-1",
            "private_key": include_str!("../../../sluice-sinks/testdata/bigquery/test_key.pem"),
            "token_uri": format!("{endpoint}/token"),
        })
        .to_string(),
    )
    .unwrap();
    let ambient = |args: &[&str]| {
        let out = cli
            .cmd(args)
            .env("AWS_ACCESS_KEY_ID", "AKIAAMBIENTMACHINEKEY")
            .env("AWS_SECRET_ACCESS_KEY", "ambient-secret")
            .env("AWS_SESSION_TOKEN", "ambient-session")
            .env("GOOGLE_APPLICATION_CREDENTIALS", &adc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    ambient(&[
        "connections",
        "add",
        "s3x",
        "s3://drops",
        "-o",
        &format!("endpoint={endpoint}"),
        "-o",
        "allow_http=true",
        "-o",
        "path_style=true",
        "-o",
        "region=us-east-1",
    ]);
    ambient(&["connections", "test", "s3x"]);
    ambient(&[
        "connections",
        "add",
        "gcsx",
        "gs://drops",
        "-o",
        &format!("endpoint={endpoint}"),
    ]);
    ambient(&["connections", "test", "gcsx"]);
    let seen = heads.lock().unwrap().join("\n---\n");
    assert!(
        seen.matches("/drops").count() >= 2,
        "both connections listed: {seen}"
    );
    let lower = seen.to_ascii_lowercase();
    assert!(!lower.contains("authorization"), "{seen}");
    assert!(
        !seen.contains("AKIAAMBIENT") && !seen.contains("ambient-session"),
        "{seen}"
    );
    assert!(!seen.contains("/token"), "no token was asked for: {seen}");
}
