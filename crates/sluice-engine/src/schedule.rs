//! Schedules: when a job runs by itself. Parsing, display and the next fire time, as pure
//! functions of (schedule, timezone, now). Every form is evaluated as the cron expression it
//! stands for, in the job's timezone, so all forms share one treatment of daylight saving.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
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

/// One way to write a schedule, described for forms: the UI parses, writes and describes
/// schedules with these, so it never holds a grammar of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScheduleForm {
    pub kind: &'static str,
    pub label: &'static str,
    /// How the form is written, with `{field}` for each field (`minute` two digits,
    /// `time` HH:MM, `day` one of [`DAYS`]).
    pub template: &'static str,
    /// A regular expression (JavaScript and Rust alike) that matches the form, with a named
    /// group for each field.
    pub pattern: &'static str,
    /// How the form reads, with the same `{field}`s (`day` by its name).
    pub describe: &'static str,
    pub fields: &'static [&'static str],
}

/// Every form, in the order they are offered; the last (cron) matches anything else.
pub const FORMS: &[ScheduleForm] = &[
    ScheduleForm {
        kind: "manual",
        label: "Manual",
        template: "manual",
        pattern: "^(manual)?$",
        describe: "Manual",
        fields: &[],
    },
    ScheduleForm {
        kind: "hourly",
        label: "Hourly",
        template: "hourly@{minute}",
        pattern: "^hourly(@(?<minute>\\d{1,2}))?$",
        describe: "Hourly at :{minute}",
        fields: &["minute"],
    },
    ScheduleForm {
        kind: "daily",
        label: "Daily",
        template: "daily@{time}",
        pattern: "^daily@(?<time>\\d\\d:\\d\\d)$",
        describe: "Daily at {time}",
        fields: &["time"],
    },
    ScheduleForm {
        kind: "weekly",
        label: "Weekly",
        template: "weekly@{day}@{time}",
        pattern: "^weekly@(?<day>[a-z]{3})@(?<time>\\d\\d:\\d\\d)$",
        describe: "Weekly on {day} at {time}",
        fields: &["day", "time"],
    },
    ScheduleForm {
        kind: "cron",
        label: "Cron expression",
        template: "{cron}",
        pattern: "^(?<cron>.+)$",
        describe: "Cron: {cron}",
        fields: &["cron"],
    },
];

/// The days a weekly schedule takes, as written and as read.
pub const DAYS: &[(&str, &str)] = &[
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

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
    /// The same schedule as a five-field cron expression; `None` for manual jobs.
    fn cron(&self) -> Option<String> {
        Some(match self {
            Self::Manual => return None,
            Self::Hourly { minute } => format!("{minute} * * * *"),
            Self::Daily { at } => format!("{} {} * * *", at.minute(), at.hour()),
            Self::Weekly { day, at } => format!(
                "{} {} * * {}",
                at.minute(),
                at.hour(),
                day.num_days_from_sunday()
            ),
            Self::Cron(expr) => expr.clone(),
        })
    }

    /// The first fire time strictly after `now`, reading the schedule's wall-clock times in
    /// `tz`; `None` for manual jobs.
    ///
    /// Daylight-saving changes follow the Open Cron Pattern Specification (as croner
    /// implements it): a fixed time that falls in a skipped hour fires at the first moment
    /// after the gap; a fixed time that occurs twice fires once, at its first occurrence;
    /// an hourly schedule fires every real hour, so twice in a repeated hour.
    pub fn next_after(&self, tz: Timezone, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = Cron::from_str(&self.cron()?).ok()?;
        cron.find_next_occurrence(&now.with_timezone(&tz.0), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Whether a job is due at `now`, given when the scheduler last started it (or, if never,
    /// when the job was created). However many fire times passed while nothing ran, the
    /// answer is one "yes": the run it starts moves `last` to `now`.
    pub fn is_due(&self, tz: Timezone, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(tz, last).is_some_and(|next| next <= now)
    }
}

/// The timezone a schedule's wall-clock times are read in: an IANA name, UTC by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timezone(pub Tz);

impl Default for Timezone {
    fn default() -> Self {
        Self(Tz::UTC)
    }
}

impl FromStr for Timezone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::default());
        }
        s.parse::<Tz>().map(Self).map_err(|_| {
            format!("unknown timezone '{s}': use an IANA name such as UTC, Europe/Berlin or America/New_York")
        })
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl TryFrom<String> for Timezone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Timezone> for String {
    fn from(t: Timezone) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: Timezone = Timezone(Tz::UTC);

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_forms_forms_show_are_the_forms_the_parser_reads() {
        let fill = |template: &str| {
            template
                .replace("{minute}", "07")
                .replace("{time}", "02:30")
                .replace("{day}", "fri")
                .replace("{cron}", "0 2 * * 1-5")
        };
        for form in FORMS {
            let text = fill(form.template);
            let parsed: Schedule = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            let written = parsed.to_string();
            let re = regex::Regex::new(form.pattern).unwrap();
            assert!(
                re.is_match(&written),
                "{} does not match {written}",
                form.pattern
            );
            let first = FORMS
                .iter()
                .find(|f| regex::Regex::new(f.pattern).unwrap().is_match(&written))
                .unwrap();
            assert_eq!(first.kind, form.kind, "{written}");
            for field in form.fields {
                assert!(form.describe.contains(&format!("{{{field}}}")), "{field}");
            }
        }
        for (day, _) in DAYS {
            assert!(format!("weekly@{day}@02:00").parse::<Schedule>().is_ok());
        }
        assert!(
            regex::Regex::new(FORMS[1].pattern)
                .unwrap()
                .is_match("hourly")
        );
    }

    #[test]
    fn a_job_is_due_once_however_many_fires_were_missed() {
        let daily = "daily@02:00".parse::<Schedule>().unwrap();
        let created = at("2024-11-19T10:00:00Z");
        assert!(!daily.is_due(UTC, created, at("2024-11-20T01:59:59Z")));
        assert!(daily.is_due(UTC, created, at("2024-11-20T02:00:00Z")));
        // Down for three days: due now, and once started (last = now) not again until the next fire.
        let now = at("2024-11-23T09:00:00Z");
        assert!(daily.is_due(UTC, created, now));
        assert!(!daily.is_due(UTC, now, at("2024-11-24T01:00:00Z")));
        assert!(daily.is_due(UTC, now, at("2024-11-24T02:00:00Z")));
        assert!(!Schedule::Manual.is_due(UTC, created, now));
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
        let next = |s: &str| s.parse::<Schedule>().unwrap().next_after(UTC, now);
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
            .next_after(UTC, at("2024-02-29T23:59:00Z"));
        assert_eq!(eom, Some(at("2024-03-01T00:00:00Z")));
    }

    fn tz(name: &str) -> Timezone {
        name.parse().unwrap()
    }

    /// Every fire time in (from, until], by repeated `next_after`.
    fn fires(schedule: &str, zone: &str, from: &str, until: &str) -> Vec<DateTime<Utc>> {
        let s = schedule.parse::<Schedule>().unwrap();
        let mut out = Vec::new();
        let mut t = at(from);
        while let Some(next) = s.next_after(tz(zone), t) {
            if next > at(until) {
                break;
            }
            out.push(next);
            t = next;
        }
        out
    }

    #[test]
    fn wall_clock_times_are_read_in_the_jobs_timezone() {
        let now = at("2024-11-19T10:30:00Z");
        let daily = "daily@02:00".parse::<Schedule>().unwrap();
        // 02:00 in Berlin (UTC+1 in November) is 01:00 UTC.
        assert_eq!(
            daily.next_after(tz("Europe/Berlin"), now),
            Some(at("2024-11-20T01:00:00Z"))
        );
        // 02:00 in New York (UTC-5) is 07:00 UTC.
        assert_eq!(
            daily.next_after(tz("America/New_York"), now),
            Some(at("2024-11-20T07:00:00Z"))
        );
        // Kolkata is UTC+05:30: "hourly" is at :30 past each UTC hour.
        assert_eq!(
            "hourly"
                .parse::<Schedule>()
                .unwrap()
                .next_after(tz("Asia/Kolkata"), now),
            Some(at("2024-11-19T10:30:00Z") + chrono::Duration::hours(1))
        );
        // A weekly fire on Monday 08:00 in Tokyo is Sunday 23:00 UTC.
        assert_eq!(
            "weekly@mon@08:00"
                .parse::<Schedule>()
                .unwrap()
                .next_after(tz("Asia/Tokyo"), now),
            Some(at("2024-11-24T23:00:00Z"))
        );
        assert_eq!(
            "0 9 * * 1-5"
                .parse::<Schedule>()
                .unwrap()
                .next_after(tz("Australia/Sydney"), now),
            // Wednesday 09:00 in Sydney (UTC+11 in summer) is Tuesday 22:00 UTC.
            Some(at("2024-11-19T22:00:00Z"))
        );
        assert_eq!(Timezone::default().to_string(), "UTC");
        assert!(
            "Europe/Berln"
                .parse::<Timezone>()
                .unwrap_err()
                .contains("unknown timezone 'Europe/Berln'")
        );
    }

    #[test]
    fn daily_across_daylight_saving_changes() {
        // Berlin springs forward on 2024-03-31 (02:00 → 03:00) and falls back on 2024-10-27
        // (03:00 → 02:00). A daily 02:30 fires once a day throughout.
        let spring = fires(
            "daily@02:30",
            "Europe/Berlin",
            "2024-03-29T12:00:00Z",
            "2024-04-01T12:00:00Z",
        );
        assert_eq!(
            spring,
            vec![
                at("2024-03-30T01:30:00Z"), // 02:30 CET
                // 02:30 does not exist on the 31st: it fires when the gap ends, 03:00 CEST.
                at("2024-03-31T01:00:00Z"),
                at("2024-04-01T00:30:00Z"), // 02:30 CEST
            ]
        );
        let autumn = fires(
            "daily@02:30",
            "Europe/Berlin",
            "2024-10-25T12:00:00Z",
            "2024-10-28T12:00:00Z",
        );
        assert_eq!(
            autumn,
            vec![
                at("2024-10-26T00:30:00Z"), // 02:30 CEST
                // 02:30 happens twice on the 27th: it fires once, at the first (CEST).
                at("2024-10-27T00:30:00Z"),
                at("2024-10-28T01:30:00Z"), // 02:30 CET
            ]
        );
        // A time away from the change keeps its wall-clock time: 06:00 local each day.
        let morning = fires(
            "daily@06:00",
            "America/New_York",
            "2024-03-09T12:00:00Z",
            "2024-03-11T12:00:00Z",
        );
        assert_eq!(
            morning,
            vec![at("2024-03-10T10:00:00Z"), at("2024-03-11T10:00:00Z")]
        );
    }

    #[test]
    fn hourly_across_daylight_saving_changes() {
        // Every real hour fires: 23 on the short day, 25 on the long day.
        let short = fires(
            "hourly",
            "Europe/Berlin",
            "2024-03-30T22:59:00Z", // just before 00:00 CET on the 31st
            "2024-03-31T21:59:00Z", // 23:59 CEST
        );
        assert_eq!(short.len(), 23);
        let long = fires(
            "hourly",
            "Europe/Berlin",
            "2024-10-26T21:59:00Z", // just before 00:00 CEST on the 27th
            "2024-10-27T22:59:00Z", // 23:59 CET
        );
        assert_eq!(long.len(), 25);
        // Fire times are an hour apart throughout.
        assert!(
            long.windows(2)
                .all(|w| w[1] - w[0] == chrono::Duration::hours(1))
        );
    }

    #[test]
    fn month_ends() {
        // The 31st skips months without one.
        assert_eq!(
            fires(
                "0 0 31 * *",
                "UTC",
                "2024-01-31T00:00:00Z",
                "2024-07-31T00:00:00Z"
            ),
            vec![
                at("2024-03-31T00:00:00Z"),
                at("2024-05-31T00:00:00Z"),
                at("2024-07-31T00:00:00Z"),
            ]
        );
        // The last day of each month, leap year included.
        assert_eq!(
            fires(
                "0 6 L * *",
                "UTC",
                "2024-01-31T07:00:00Z",
                "2024-04-30T23:00:00Z"
            ),
            vec![
                at("2024-02-29T06:00:00Z"),
                at("2024-03-31T06:00:00Z"),
                at("2024-04-30T06:00:00Z"),
            ]
        );
        // A daily run at 23:30 in Auckland on New Year's Eve is still in the old year there,
        // but already 10:30 UTC on the 31st.
        assert_eq!(
            fires(
                "daily@23:30",
                "Pacific/Auckland",
                "2024-12-31T00:00:00Z",
                "2024-12-31T23:59:00Z"
            ),
            vec![at("2024-12-31T10:30:00Z")]
        );
    }
}
