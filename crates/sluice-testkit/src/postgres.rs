//! A scratch database per test on the PostgreSQL test server, dropped (connections and all)
//! when the [`TestDb`] is.

use tokio_postgres::Client;

/// The test server's admin URL.
pub fn admin_url() -> String {
    crate::peers::var("SLUICE_TEST_POSTGRES_URL")
}

/// A connection to `url` without TLS; its I/O runs on a task of its own.
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The password test URLs carry: the server trusts local connections and ignores it, so
/// it shows that sluice seals and redacts what a URL holds.
pub const PASSWORD: &str = "s3cret-pw";

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    /// The database's URL as the admin URL writes it.
    pub url: String,
    admin: String,
}

impl TestDb {
    /// Creates `<tag>_<unique>` on the test server.
    pub async fn new(tag: &str) -> Self {
        let admin = admin_url();
        let name = crate::peers::unique(&format!("sluice_it_{tag}"));
        connect(&admin)
            .await
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin.as_str(), String::new()),
        };
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        let url = format!("{base}/{name}{query}");
        Self { name, url, admin }
    }

    /// The database's URL with [`PASSWORD`] in it and `sslmode` set.
    pub fn url_with_password(&self, sslmode: &str) -> String {
        let rest = self
            .admin
            .strip_prefix("postgres://")
            .unwrap_or(&self.admin);
        let (auth, host) = rest.split_once('@').unwrap_or(("postgres", rest));
        let user = auth.split(':').next().unwrap_or("postgres");
        let host = host.split('/').next().unwrap_or(host);
        format!(
            "postgres://{user}:{PASSWORD}@{host}/{}?sslmode={sslmode}",
            self.name
        )
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// The one value a query returns, as an integer.
    pub async fn scalar(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get::<_, i64>(0)
    }

    /// The one value a query returns, as text.
    pub async fn text(&self, sql: &str) -> String {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get::<_, String>(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // On a runtime of its own: the test's may be shutting down, or be a blocking test.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
