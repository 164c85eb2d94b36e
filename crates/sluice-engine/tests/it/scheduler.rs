//! The scheduler, driven by a controlled clock: nothing sleeps for a schedule interval.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use sluice_engine::model::{Run, RunStatus};
use sluice_engine::schedule::Schedule;
use sluice_engine::{Engine, JobRequest, Quiet, RunOptions};

use crate::{set_age, transactions};

async fn engine_with_jobs() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("t_1.csv"), transactions(1, 5)).unwrap();
    set_age(&drop.join("t_1.csv"), 10);
    let engine = Arc::new(Engine::open(&dir.path().join("data")).await.unwrap());
    engine
        .add_connection_url(
            "local",
            &format!("file://{}", drop.display()),
            &Default::default(),
        )
        .await
        .unwrap();
    for (name, schedule) in [("daily", "daily@02:00"), ("manual", "manual")] {
        engine
            .create_job(JobRequest {
                name: name.into(),
                connection: "local".into(),
                file_pattern: "t_*.csv".into(),
                table_name: Some(name.into()),
                schedule: schedule.parse::<Schedule>().unwrap(),
                load_latest_only: false,
                ..JobRequest::default()
            })
            .await
            .unwrap();
    }
    (dir, engine)
}

async fn wait_for(engine: &Engine, run_id: i64) -> Run {
    for _ in 0..400 {
        let run = engine.run_details(run_id).await.unwrap();
        if run.status != RunStatus::Running {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run_id} did not finish");
}

#[tokio::test]
async fn due_jobs_start_once_per_fire_and_manual_jobs_never() {
    let (_dir, engine) = engine_with_jobs().await;
    let job = engine.job("daily").await.unwrap();
    let fire = job.schedule.next_after(job.created_at).unwrap();
    assert!(
        engine
            .start_due_runs(fire - Days::seconds(1))
            .await
            .unwrap()
            .is_empty()
    );

    // Three fires were missed while nothing ran: one run, not three.
    let late = fire + Days::days(3);
    let started = engine.start_due_runs(late).await.unwrap();
    assert_eq!(
        started.iter().map(|(j, _)| j.as_str()).collect::<Vec<_>>(),
        vec!["daily"]
    );
    let run = wait_for(&engine, started[0].1).await;
    assert_eq!((run.status, run.rows_loaded), (RunStatus::Succeeded, 5));
    assert!(
        engine
            .start_due_runs(late + Days::minutes(1))
            .await
            .unwrap()
            .is_empty()
    );

    // The next fire after the late run starts the next one.
    let next = engine.start_due_runs(late + Days::days(1)).await.unwrap();
    assert_eq!(next.len(), 1);
    let run = wait_for(&engine, next[0].1).await;
    assert_eq!(
        (run.status, run.files_loaded),
        (RunStatus::Succeeded, 0),
        "nothing new"
    );
    assert!(
        engine.runs("manual", 10).await.unwrap().is_empty(),
        "manual jobs never start by themselves"
    );
}

#[tokio::test]
async fn a_job_busy_at_its_fire_time_starts_on_a_later_tick() {
    let (_dir, engine) = engine_with_jobs().await;
    let job = engine.job("daily").await.unwrap();
    let due = job.schedule.next_after(job.created_at).unwrap() + Days::minutes(5);
    // A manual run holds the job.
    let (job, manual) = engine.start_run("daily").await.unwrap();
    assert!(
        engine.start_due_runs(due).await.unwrap().is_empty(),
        "refused while busy"
    );
    let err = engine.start_run("daily").await.unwrap_err().to_string();
    assert!(err.contains("already running"), "{err}");
    engine
        .execute_run(&job, manual.id, RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    let started = engine
        .start_due_runs(due + Days::seconds(15))
        .await
        .unwrap();
    assert_eq!(
        started.len(),
        1,
        "the delayed fire runs once the job is free"
    );
    wait_for(&engine, started[0].1).await;
}
