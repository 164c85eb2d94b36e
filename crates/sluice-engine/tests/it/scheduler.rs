//! The scheduler, driven by a controlled clock: nothing sleeps for a schedule interval.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use sluice_engine::model::{JobSettings, JobUpdate, Run, RunStatus};
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
                settings: JobSettings {
                    schedule: schedule.parse::<Schedule>().unwrap(),
                    ..JobSettings::default()
                },
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
        if !matches!(run.status, RunStatus::Running | RunStatus::Queued) {
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
    let fire = job.settings.next_run_after(job.created_at).unwrap();
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
async fn a_job_busy_at_its_fire_time_is_queued_once_and_runs_when_free() {
    let (_dir, engine) = engine_with_jobs().await;
    let job = engine.job("daily").await.unwrap();
    let due = job.settings.next_run_after(job.created_at).unwrap() + Days::minutes(5);
    // A manual run holds the job.
    let (job, manual) = engine.start_run("daily", false).await.unwrap();
    assert_eq!(manual.status, RunStatus::Running);
    // A second run by hand is refused with the run that holds the job...
    let err = engine
        .start_run("daily", false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("already running (run {}", manual.id)),
        "{err}"
    );
    // ...or queued behind it when asked to wait.
    let started = engine.start_due_runs(due).await.unwrap();
    assert_eq!(started.len(), 1);
    let queued = engine.run_details(started[0].1).await.unwrap();
    assert_eq!(queued.status, RunStatus::Queued);
    // One run waits at most: another request joins it.
    let (_, again) = engine.start_run("daily", true).await.unwrap();
    assert_eq!(again.id, queued.id);
    assert!(
        engine
            .start_due_runs(due + Days::seconds(15))
            .await
            .unwrap()
            .is_empty(),
        "the fire was taken: no second queued run"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        engine.run_details(queued.id).await.unwrap().status,
        RunStatus::Queued,
        "still waiting while the manual run holds the job"
    );
    engine
        .execute_run(&job, manual.id, RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    let run = wait_for(&engine, queued.id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(run.started_at > run.queued_at.unwrap(), "{run:?}");
    assert!(
        run.log
            .iter()
            .any(|l| l.message.contains("queued: job 'daily' is already running")),
        "{:?}",
        run.log
    );
}

#[tokio::test]
async fn paused_jobs_are_not_started_and_timezones_move_the_fire() {
    let (_dir, engine) = engine_with_jobs().await;
    let job = engine.job("daily").await.unwrap();
    let fire = job.settings.next_run_after(job.created_at).unwrap();
    let paused = engine
        .update_job(
            "daily",
            JobUpdate {
                paused: Some(true),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(paused.settings.paused);
    assert_eq!(paused.settings.next_run_after(job.created_at), None);
    assert!(
        engine
            .start_due_runs(fire + Days::days(2))
            .await
            .unwrap()
            .is_empty(),
        "paused"
    );
    // Resumed, in New York: 02:00 there is 07:00 UTC (06:00 in summer).
    let resumed = engine
        .update_job(
            "daily",
            JobUpdate {
                paused: Some(false),
                timezone: Some("America/New_York".parse().unwrap()),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    let ny_fire = resumed.settings.next_run_after(job.created_at).unwrap();
    let tz = resumed.settings.timezone.0;
    assert_eq!(
        ny_fire.with_timezone(&tz).format("%H:%M").to_string(),
        "02:00"
    );
    assert!(matches!(
        ny_fire.format("%H:%M").to_string().as_str(),
        "06:00" | "07:00"
    ));
    assert!(
        engine
            .start_due_runs(ny_fire - Days::seconds(1))
            .await
            .unwrap()
            .is_empty()
    );
    let started = engine.start_due_runs(ny_fire).await.unwrap();
    assert_eq!(started.len(), 1);
    let run = wait_for(&engine, started[0].1).await;
    assert_eq!(run.scheduled_for, Some(ny_fire));
    assert!(
        run.log
            .iter()
            .any(|l| l.message.contains("started by the schedule")),
        "{:?}",
        run.log
    );
}
