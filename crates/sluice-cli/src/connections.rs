//! `sluice connections …`: add, list, show, test, delete connections and rotate the key.

use anyhow::{Context, Result};
use clap::Subcommand;
use sluice_engine::Engine;

use crate::args::parse_options;
use crate::output::Printer;

#[derive(Subcommand, Debug)]
pub(crate) enum ConnectionsCmd {
    /// Add a connection: file:///abs/path, s3://bucket[/prefix], gs://bucket, az://container.
    Add {
        name: String,
        url: String,
        /// Provider setting, repeatable: -o region=eu-west-1 -o endpoint=http://…
        /// A value @FILE is read from FILE (for keys and secrets: they stay out of shell history).
        #[arg(long = "option", short = 'o', value_name = "KEY=VALUE")]
        options: Vec<String>,
    },
    /// Seal every connection's credentials under a new secret key, and make it the key.
    RotateKey,
    /// List connections (credentials are never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one connection (credentials are never shown).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List one page of the connection to check that it answers.
    Test { name: String },
    /// Delete a connection no job uses.
    Delete { name: String },
}

pub(crate) async fn run(engine: &Engine, cmd: ConnectionsCmd, out: &Printer) -> Result<()> {
    match cmd {
        ConnectionsCmd::Add { name, url, options } => {
            let c = engine
                .add_connection_url(&name, &url, &parse_options(&options)?)
                .await?;
            out.line(&format!("added connection '{}' → {}", c.name, c.url()));
            out.line(&format!(
                "check it with: sluice connections test {}",
                c.name
            ));
        }
        ConnectionsCmd::List { json } => {
            let list = engine.connections().await?;
            if json {
                out.json(&list)?;
            } else {
                out.connections(&list);
            }
        }
        ConnectionsCmd::Show { name, json } => {
            let c = engine.connection(&name).await?;
            if json {
                out.json(&c)?;
            } else {
                out.connections(std::slice::from_ref(&c));
            }
        }
        ConnectionsCmd::Test { name } => {
            let entries = engine
                .test_connection(&name)
                .await
                .with_context(|| format!("connection '{name}' failed"))?;
            out.line(&format!(
                "connection '{name}' works: the first page lists {entries} entr{}",
                if entries == 1 { "y" } else { "ies" }
            ));
        }
        ConnectionsCmd::RotateKey => {
            let rotation = engine.rotate_secret_key().await?;
            let what = format!(
                "re-sealed the credentials of {} connection(s) and {} job(s)",
                rotation.connections, rotation.jobs
            );
            match &rotation.key.source {
                sluice_core::secret::KeySource::File(path) => {
                    out.line(&format!("{what}; the new key is in {}", path.display()));
                }
                sluice_core::secret::KeySource::Env => {
                    out.line(&format!("{what} with a new key."));
                    out.line(&format!(
                        "Set it before the next command (it is also in {} until then):",
                        engine.data_dir().join("secret.key.new").display()
                    ));
                    out.line(&format!(
                        "  export SLUICE_SECRET_KEY={}",
                        rotation.key.to_text()
                    ));
                }
            }
        }
        ConnectionsCmd::Delete { name } => {
            engine.delete_connection(&name).await?;
            out.line(&format!("deleted connection '{name}'"));
        }
    }
    Ok(())
}
