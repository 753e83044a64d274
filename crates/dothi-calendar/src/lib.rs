//! Vietnamese working-day calendar for the deadlines of citizen field reports.
//!
//! Administrative time limits in Vietnam are counted in working days
//! (ngày làm việc), so a deadline depends on weekends, on public holidays
//! fixed by the Labour Code 2019 (Bộ luật Lao động, Điều 111–112, which civil
//! servants follow too) — two of which move with the lunar calendar — and on
//! the day swaps the government announces every year. Those announcements
//! cannot be derived, so they come in as [`DayOverride`]s; everything else is
//! computed here.
//!
//! All day boundaries are local days in Asia/Ho_Chi_Minh (UTC+07:00): a report
//! received at 01:00 local time belongs to that local day even though it is
//! still the previous day in UTC.
//!
//! ```
//! use dothi_calendar::{chrono::{TimeZone, Utc}, format_vn, Calendar};
//!
//! // Received Friday 13/2/2026 (before Tết), 3 working days to handle it.
//! let received = Utc.with_ymd_and_hms(2026, 2, 13, 3, 0, 0).unwrap();
//! let due = Calendar::new().deadline(received, 3);
//! assert_eq!(format_vn(due), "2026-02-25T23:59:59+07:00");
//! ```

pub use chrono;

mod lunar;

pub use lunar::{lunar_to_solar, solar_to_lunar, LunarDate};

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, Utc,
    Weekday,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Asia/Ho_Chi_Minh is UTC+07:00 with no DST since 1975.
pub fn vn_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset")
}

/// The same instant seen in Vietnamese local time.
pub fn to_vn(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&vn_offset())
}

/// RFC 3339 / ISO 8601 with +07:00 offset, seconds precision, e.g. "2026-11-23T21:05:00+07:00".
pub fn format_vn(t: DateTime<Utc>) -> String {
    to_vn(t).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The Vietnamese local calendar day that contains the instant `t`.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    to_vn(t).date_naive()
}

/// 23:59:59 +07:00 on local day `d`, the instant a deadline "at the end of
/// the day" expires.
pub fn end_of_local_day(d: NaiveDate) -> DateTime<Utc> {
    let last_second = NaiveTime::from_hms_opt(23, 59, 59).expect("valid time");
    local_midnight(d) + (last_second - NaiveTime::MIN)
}

fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN)
        .and_local_timezone(vn_offset())
        .single()
        .expect("a fixed offset has exactly one mapping")
        .with_timezone(&Utc)
}

/// A government announcement that overrides the computed status of one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOverride {
    /// The day is off (e.g. a bridge day given for Tết or 2/9).
    Holiday,
    /// A compensatory working Saturday/Sunday announced by the government
    /// (or a holiday that must nevertheless be worked).
    WorkingDay,
}

/// Working-day calendar: weekends, statutory holidays, and announced overrides.
///
/// `Default` is the same as [`Calendar::new`]: statutory holidays applied, no
/// overrides.
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    overrides: BTreeMap<NaiveDate, DayOverride>,
    // Stored negated so that the derived `Default` applies statutory holidays.
    ignore_statutory: bool,
}

impl Calendar {
    /// Weekends and statutory holidays only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Statutory holidays plus announced overrides; for a date given twice,
    /// the last entry wins.
    pub fn with_overrides(overrides: impl IntoIterator<Item = (NaiveDate, DayOverride)>) -> Self {
        Self {
            overrides: overrides.into_iter().collect(),
            ignore_statutory: false,
        }
    }

    /// Turns the computed statutory holidays on or off (e.g. for a body that
    /// receives the full holiday list from the province as overrides).
    /// Weekends and overrides still apply.
    pub fn with_statutory_holidays(mut self, apply: bool) -> Self {
        self.ignore_statutory = !apply;
        self
    }

    /// Whether computed statutory holidays are applied.
    pub fn applies_statutory_holidays(&self) -> bool {
        !self.ignore_statutory
    }

    /// Sets the override for one day, returning the previous one.
    pub fn set_override(&mut self, date: NaiveDate, value: DayOverride) -> Option<DayOverride> {
        self.overrides.insert(date, value)
    }

    /// Removes the override for one day, returning it.
    pub fn remove_override(&mut self, date: NaiveDate) -> Option<DayOverride> {
        self.overrides.remove(&date)
    }

    /// All overrides, by date.
    pub fn overrides(&self) -> &BTreeMap<NaiveDate, DayOverride> {
        &self.overrides
    }

    /// Public holidays of solar `year` under the Labour Code 2019, sorted by
    /// date, with their Vietnamese names:
    ///
    /// * Tết Dương lịch 1/1;
    /// * Tết Nguyên đán: the last day of lunar month 12 (the day before
    ///   lunar 1/1, whether it is the 29th or the 30th) and lunar 1/1–1/4;
    /// * Giỗ Tổ Hùng Vương, lunar 10/3;
    /// * Ngày Chiến thắng 30/4 and Quốc tế Lao động 1/5;
    /// * Quốc khánh 2/9 plus one adjacent day. The law lets the government
    ///   choose 1/9 or 3/9 each year; this uses 1/9 unless 2/9 is a Monday,
    ///   in which case 3/9, so the break joins the weekend when it can. Use
    ///   overrides when the announced choice differs.
    /// * Nghỉ bù: every holiday above that falls on a Saturday or Sunday gives
    ///   a compensatory day off on the next weekday that is not itself a
    ///   holiday (Điều 111 khoản 3). This covers the lunar holidays too: e.g.
    ///   Giỗ Tổ 2026 is Sunday 26/4, so Monday 27/4/2026 is off.
    ///
    /// Lunar holidays missing for years the lunar conversion cannot represent
    /// are simply left out.
    pub fn statutory_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
        let mut days: Vec<(NaiveDate, &'static str)> = Vec::with_capacity(16);
        let mut add = |d: Option<NaiveDate>, name: &'static str| {
            if let Some(d) = d {
                if !days.iter().any(|(x, _)| *x == d) {
                    days.push((d, name));
                }
            }
        };
        let solar = |m, d| NaiveDate::from_ymd_opt(year, m, d);

        add(solar(1, 1), TET_DUONG_LICH);
        if let Some(tet) = lunar_to_solar(year, 1, 1, false) {
            for offset in -1i64..=3 {
                add(shift(tet, offset), TET_NGUYEN_DAN);
            }
        }
        add(lunar_to_solar(year, 3, 10, false), GIO_TO);
        add(solar(4, 30), CHIEN_THANG);
        add(solar(5, 1), LAO_DONG);
        if let Some(national_day) = solar(9, 2) {
            add(Some(national_day), QUOC_KHANH);
            let adjacent = if national_day.weekday() == Weekday::Mon {
                1
            } else {
                -1
            };
            add(shift(national_day, adjacent), QUOC_KHANH);
        }
        days.sort_unstable_by_key(|(d, _)| *d);

        let mut compensatory: Vec<(NaiveDate, &'static str)> = Vec::new();
        for (d, name) in days.iter().filter(|(d, _)| is_weekend(*d)) {
            let taken = |c: &NaiveDate, comp: &[(NaiveDate, &str)]| {
                is_weekend(*c)
                    || days.iter().any(|(x, _)| x == c)
                    || comp.iter().any(|(x, _)| x == c)
            };
            let next_free = d.iter_days().skip(1).find(|c| !taken(c, &compensatory));
            if let Some(day_off) = next_free {
                compensatory.push((day_off, compensatory_name(name)));
            }
        }
        days.extend(compensatory);
        days.sort_unstable_by_key(|(d, _)| *d);
        days
    }

    /// Whether `d` (a Vietnamese local date) is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.probe().is_working(d)
    }

    /// Deadline for something received at `received` that must be handled within `days` working days:
    /// the end (23:59:59 +07:00) of the `days`-th working day strictly after the local day of receipt. days=0 means end of the receipt day if it is a working day, else end of the next working day.
    ///
    /// # Panics
    /// If the deadline would lie beyond the dates chrono can represent.
    pub fn deadline(&self, received: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let mut probe = self.probe();
        let receipt_day = local_date(received);
        let due = if days == 0 && probe.is_working(receipt_day) {
            receipt_day
        } else {
            probe.nth_working_day_after(receipt_day, days.max(1))
        };
        end_of_local_day(due)
    }

    /// Extend an existing deadline by `days` more working days (end of the `days`-th working day after the deadline's local day).
    /// `days == 0` returns `deadline` unchanged.
    ///
    /// # Panics
    /// If the new deadline would lie beyond the dates chrono can represent.
    pub fn extend(&self, deadline: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        if days == 0 {
            return deadline;
        }
        end_of_local_day(
            self.probe()
                .nth_working_day_after(local_date(deadline), days),
        )
    }

    /// Elapsed working time between two instants, in working days (fractional; only time that falls on working days, in +07:00 local days, counts; 24h of a working day = 1.0). Returns 0.0 if end <= start.
    pub fn working_days_between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
        if end <= start {
            return 0.0;
        }
        const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;
        let mut probe = self.probe();
        let last = local_date(end);
        let mut day = local_date(start);
        // Summed as integer nanoseconds so long spans add up exactly.
        let mut total: i128 = 0;
        loop {
            if probe.is_working(day) {
                let day_start = local_midnight(day);
                let day_end = day_start + TimeDelta::days(1);
                let overlap = end.min(day_end) - start.max(day_start);
                total += i128::from(overlap.num_nanoseconds().unwrap_or(0).max(0));
            }
            if day >= last {
                break;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        (total / NANOS_PER_DAY) as f64 + (total % NANOS_PER_DAY) as f64 / NANOS_PER_DAY as f64
    }

    fn probe(&self) -> Probe<'_> {
        Probe {
            calendar: self,
            year: None,
            holidays: Vec::new(),
        }
    }
}

const TET_DUONG_LICH: &str = "Tết Dương lịch";
const TET_NGUYEN_DAN: &str = "Tết Nguyên đán";
const GIO_TO: &str = "Giỗ Tổ Hùng Vương";
const CHIEN_THANG: &str = "Ngày Chiến thắng";
const LAO_DONG: &str = "Ngày Quốc tế Lao động";
const QUOC_KHANH: &str = "Quốc khánh";

fn compensatory_name(holiday: &str) -> &'static str {
    match holiday {
        TET_DUONG_LICH => "Nghỉ bù Tết Dương lịch",
        TET_NGUYEN_DAN => "Nghỉ bù Tết Nguyên đán",
        GIO_TO => "Nghỉ bù Giỗ Tổ Hùng Vương",
        CHIEN_THANG => "Nghỉ bù Ngày Chiến thắng",
        LAO_DONG => "Nghỉ bù Ngày Quốc tế Lao động",
        QUOC_KHANH => "Nghỉ bù Quốc khánh",
        _ => "Nghỉ bù",
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn shift(d: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        d.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

/// Answers working-day questions for one call, remembering the holidays of
/// the last year seen: the lunar conversion is too costly to redo for every
/// day of a multi-week walk.
struct Probe<'a> {
    calendar: &'a Calendar,
    year: Option<i32>,
    holidays: Vec<NaiveDate>,
}

impl Probe<'_> {
    fn is_working(&mut self, d: NaiveDate) -> bool {
        if let Some(value) = self.calendar.overrides.get(&d) {
            return *value == DayOverride::WorkingDay;
        }
        if is_weekend(d) {
            return false;
        }
        if self.calendar.ignore_statutory {
            return true;
        }
        if self.year != Some(d.year()) {
            self.holidays = Calendar::statutory_holidays(d.year())
                .into_iter()
                .map(|(date, _)| date)
                .collect();
            self.year = Some(d.year());
        }
        self.holidays.binary_search(&d).is_err()
    }

    /// The `n`-th (n ≥ 1) working day strictly after `d`.
    fn nth_working_day_after(&mut self, mut d: NaiveDate, n: u32) -> NaiveDate {
        let mut found = 0;
        while found < n {
            d = d.succ_opt().expect("date beyond chrono's range");
            if self.is_working(d) {
                found += 1;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_dates_do_not_panic() {
        let cal = Calendar::new();
        for d in [NaiveDate::MIN, NaiveDate::MAX] {
            let _ = solar_to_lunar(d);
            let _ = cal.is_working_day(d);
            let _ = Calendar::statutory_holidays(d.year());
        }
    }
}
