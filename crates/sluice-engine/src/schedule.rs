//! Schedules: when a job runs by itself. Parsing, display and the next fire time, as pure
//! functions of (schedule, now). Times are UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc, Weekday};
use croner::Cron;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Schedule {
    /// Only when asked: `sluice run`, the API or the UI.
    #[default]
    Manual,
    /// Every hour at this minute.
    Hourly {
        minute: u32,
    },
    Daily {
        at: NaiveTime,
    },
    Weekly {
        day: Weekday,
        at: NaiveTime,
    },
    /// A five-field cron expression.
    Cron(String),
}

const HELP: &str = "expected manual, hourly, hourly@MM, daily@HH:MM, weekly@DAY@HH:MM (DAY = mon … sun) or a cron expression such as \"0 2 * * *\"";

fn time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| format!("invalid time '{s}': use HH:MM, 24-hour"))
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('@').collect();
        match parts.as_slice() {
            ["manual"] | [""] => Ok(Self::Manual),
            ["hourly"] => Ok(Self::Hourly { minute: 0 }),
            ["hourly", m] => match m.parse::<u32>() {
                Ok(minute) if minute < 60 => Ok(Self::Hourly { minute }),
                _ => Err(format!("invalid minute '{m}' in '{s}': use 0–59")),
            },
            ["daily", t] => Ok(Self::Daily { at: time(t)? }),
            ["weekly", d, t] => {
                let day = d
                    .parse::<Weekday>()
                    .map_err(|_| format!("invalid weekday '{d}': use mon, tue, … sun"))?;
                Ok(Self::Weekly { day, at: time(t)? })
            }
            _ if s.split_whitespace().count() == 5 => {
                Cron::from_str(s).map_err(|e| format!("invalid cron expression '{s}': {e}"))?;
                Ok(Self::Cron(s.to_string()))
            }
            _ => Err(format!("invalid schedule '{s}': {HELP}")),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manual => f.write_str("manual"),
            Self::Hourly { minute: 0 } => f.write_str("hourly"),
            Self::Hourly { minute } => write!(f, "hourly@{minute:02}"),
            Self::Daily { at } => write!(f, "daily@{}", at.format("%H:%M")),
            Self::Weekly { day, at } => {
                write!(
                    f,
                    "weekly@{}@{}",
                    day.to_string().to_ascii_lowercase(),
                    at.format("%H:%M")
                )
            }
            Self::Cron(expr) => f.write_str(expr),
        }
    }
}

impl TryFrom<String> for Schedule {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Schedule> for String {
    fn from(s: Schedule) -> String {
        s.to_string()
    }
}

impl Schedule {
    /// The first fire time strictly after `now`; `None` for manual jobs.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let at_time = |day: DateTime<Utc>, t: NaiveTime| day.date_naive().and_time(t).and_utc();
        match self {
            Self::Manual => None,
            Self::Hourly { minute } => {
                let this_hour = now
                    .with_minute(*minute)?
                    .with_second(0)?
                    .with_nanosecond(0)?;
                Some(if this_hour > now {
                    this_hour
                } else {
                    this_hour + Duration::hours(1)
                })
            }
            Self::Daily { at } => {
                let today = at_time(now, *at);
                Some(if today > now {
                    today
                } else {
                    today + Duration::days(1)
                })
            }
            Self::Weekly { day, at } => {
                let ahead = (7 + day.num_days_from_monday() as i64
                    - now.weekday().num_days_from_monday() as i64)
                    % 7;
                let candidate = at_time(now + Duration::days(ahead), *at);
                Some(if candidate > now {
                    candidate
                } else {
                    candidate + Duration::days(7)
                })
            }
            Self::Cron(expr) => Cron::from_str(expr)
                .ok()?
                .find_next_occurrence(&now, false)
                .ok(),
        }
    }
}

impl Schedule {
    /// Whether a job is due at `now`, given when the scheduler last started it (or, if never,
    /// when the job was created). However many fire times passed while nothing ran, the
    /// answer is one "yes": the run it starts moves `last` to `now`.
    pub fn is_due(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(last).is_some_and(|next| next <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_job_is_due_once_however_many_fires_were_missed() {
        let daily = "daily@02:00".parse::<Schedule>().unwrap();
        let created = at("2024-11-19T10:00:00Z");
        assert!(!daily.is_due(created, at("2024-11-20T01:59:59Z")));
        assert!(daily.is_due(created, at("2024-11-20T02:00:00Z")));
        // Down for three days: due now, and once started (last = now) not again until the next fire.
        let now = at("2024-11-23T09:00:00Z");
        assert!(daily.is_due(created, now));
        assert!(!daily.is_due(now, at("2024-11-24T01:00:00Z")));
        assert!(daily.is_due(now, at("2024-11-24T02:00:00Z")));
        assert!(!Schedule::Manual.is_due(created, now));
    }

    #[test]
    fn parses_and_displays_every_form() {
        for s in [
            "manual",
            "hourly",
            "hourly@15",
            "daily@02:00",
            "weekly@mon@02:00",
            "0 2 * * *",
        ] {
            assert_eq!(s.parse::<Schedule>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_nonsense_with_the_accepted_forms() {
        let err = "sometimes".parse::<Schedule>().unwrap_err();
        assert!(err.contains("daily@HH:MM"), "{err}");
        assert!(
            "daily@25:00"
                .parse::<Schedule>()
                .unwrap_err()
                .contains("invalid time '25:00'")
        );
        assert!(
            "weekly@funday@02:00"
                .parse::<Schedule>()
                .unwrap_err()
                .contains("invalid weekday")
        );
        assert!(
            "61 * * * *"
                .parse::<Schedule>()
                .unwrap_err()
                .contains("invalid cron expression")
        );
    }

    #[test]
    fn next_fire_times() {
        let now = at("2024-11-19T10:30:00Z"); // a Tuesday
        let next = |s: &str| s.parse::<Schedule>().unwrap().next_after(now);
        assert_eq!(next("manual"), None);
        assert_eq!(next("hourly"), Some(at("2024-11-19T11:00:00Z")));
        assert_eq!(next("hourly@45"), Some(at("2024-11-19T10:45:00Z")));
        assert_eq!(next("daily@02:00"), Some(at("2024-11-20T02:00:00Z")));
        assert_eq!(next("daily@12:00"), Some(at("2024-11-19T12:00:00Z")));
        assert_eq!(next("weekly@tue@10:30"), Some(at("2024-11-26T10:30:00Z")));
        assert_eq!(next("weekly@mon@02:00"), Some(at("2024-11-25T02:00:00Z")));
        assert_eq!(next("0 2 * * *"), Some(at("2024-11-20T02:00:00Z")));
        // Month end.
        let eom = "daily@00:00"
            .parse::<Schedule>()
            .unwrap()
            .next_after(at("2024-02-29T23:59:00Z"));
        assert_eq!(eom, Some(at("2024-03-01T00:00:00Z")));
    }
}
