//! A shared run's files in the catalog: offered in load order, each claimed by one worker
//! at a time, freed when its worker is known dead; on SQLite and on PostgreSQL.

use std::sync::Arc;

use sluice_engine::catalog::Catalog;
use sluice_engine::model::RunStatus;
use sluice_engine::plan::Take;

use crate::catalog::{file, local, new_job, postgres, sqlite};

#[tokio::test]
async fn a_runs_files_are_claimed_once_each_and_freed_when_their_worker_dies_on_sqlite() {
    let (_d, c) = sqlite().await;
    files_are_claimed_once_each_and_freed_when_their_worker_dies(&c).await;
}

#[tokio::test]
async fn a_runs_files_are_claimed_once_each_and_freed_when_their_worker_dies_on_postgres() {
    let (_d, c) = postgres().await;
    files_are_claimed_once_each_and_freed_when_their_worker_dies(&c).await;
}

fn take(path: &str) -> Take {
    Take {
        file: Arc::new(file(path)),
        content: Some(format!("md5:{path}")),
        reload: path == "b.csv",
        fail: false,
        generation: 2,
    }
}

async fn files_are_claimed_once_each_and_freed_when_their_worker_dies(c: &dyn Catalog) {
    let conn = c.add_connection("local", &local()).await.unwrap();
    let job = c.create_job(&new_job(conn.id)).await.unwrap();
    let run = c
        .start_run(job.id, &sluice_engine::lease::this_runner(), None, false)
        .await
        .unwrap();
    let takes = [take("a.csv"), take("b.csv"), take("c.csv")];
    c.offer_files(run.id, job.id, &takes).await.unwrap();
    assert_eq!(c.open_tasks(run.id).await.unwrap(), 3);

    // Claimed in load order, each once, with everything the plan said about it.
    let me = sluice_engine::lease::this_runner();
    let (host_pid, space) = me.split_once('@').unwrap();
    let dead = format!(
        "{}:{}@{space}",
        host_pid.rsplit_once(':').unwrap().0,
        u32::MAX - 1
    );
    let first = c.claim_task(Some(run.id), &me).await.unwrap().unwrap();
    assert_eq!((first.position, first.job.as_str()), (0, "tx"));
    assert_eq!(first.take, takes[0]);
    assert!(!first.orphaned);
    let second = c.claim_task(None, &dead).await.unwrap().unwrap();
    assert_eq!(second.take, takes[1], "the next file, for any run");
    let third = c
        .claim_task(Some(run.id), "elsewhere:7@b/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.position, 2);
    assert!(c.claim_task(None, &me).await.unwrap().is_none(), "all held");
    assert!(c.renew_task(run.id, 0, &me).await.unwrap());
    assert!(
        !c.renew_task(run.id, 0, "elsewhere:7@b/1").await.unwrap(),
        "not its file"
    );

    // The dead worker's file is freed, marked orphaned; the live ones keep theirs.
    assert_eq!(c.free_orphaned_tasks().await.unwrap(), 1);
    assert!(!c.renew_task(run.id, 1, &dead).await.unwrap());
    let again = c.claim_task(Some(run.id), &me).await.unwrap().unwrap();
    assert_eq!((again.position, again.orphaned), (1, true));

    // Done and given back.
    c.finish_task(run.id, 0, &me).await.unwrap();
    c.finish_task(run.id, 1, &me).await.unwrap();
    assert_eq!(c.open_tasks(run.id).await.unwrap(), 1);
    c.release_task(run.id, 2, "elsewhere:7@b/1").await.unwrap();
    let last = c.claim_task(Some(run.id), &me).await.unwrap().unwrap();
    assert_eq!((last.position, last.orphaned), (2, false));

    // Files of a run that ended are not handed out.
    c.release_task(run.id, 2, &me).await.unwrap();
    c.finish_run(run.id, RunStatus::Succeeded, 3, 0, None)
        .await
        .unwrap();
    assert!(c.claim_task(None, &me).await.unwrap().is_none());
    assert_eq!(c.free_orphaned_tasks().await.unwrap(), 0);
}
