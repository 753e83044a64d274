//! Vietnamese lunisolar calendar conversion.
//!
//! Hand-written rather than taken from crates.io: the only Vietnamese (UTC+7)
//! crates found were `amlich` 0.0.1 (a 2019 terminal app pulling in TUI
//! libraries) and `amlich-api` (an almanac/fortune-telling facade). Both are
//! far larger in scope than a date conversion. The algorithm itself is short,
//! well known and checked here against published Tết dates.
//!
//! The method is the astronomical one published by Hồ Ngọc Đức (new moons and
//! solar longitude from Meeus-style series), evaluated in UTC+7. The zone
//! matters: Vietnam and China use the same rules but different meridians,
//! which is why their Tết sometimes differs (e.g. 1985, 2007).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Hours east of UTC of the meridian the Vietnamese calendar is computed for.
const TZ_HOURS: f64 = 7.0;

/// Mean synodic month, in days.
const SYNODIC_MONTH: f64 = 29.530588853;

/// Julian day of the reference new moon (1900-01-01) that `k` counts from.
const NEW_MOON_EPOCH: f64 = 2415021.076998695;

/// Julian day number of 0001-01-01 (proleptic Gregorian) minus one, so that
/// `JDN = days_from_ce + JDN_CE_OFFSET`.
const JDN_CE_OFFSET: i64 = 1_721_425;

/// A date in the Vietnamese lunisolar calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LunarDate {
    /// Lunar year, numbered like the solar year in which its month 1 starts.
    pub year: i32,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=30.
    pub day: u32,
    /// True for the intercalary (nhuận) month that repeats `month`.
    pub leap: bool,
}

fn jdn_from_date(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) + JDN_CE_OFFSET
}

fn date_from_jdn(jdn: i64) -> Option<NaiveDate> {
    let days = i32::try_from(jdn - JDN_CE_OFFSET).ok()?;
    NaiveDate::from_num_days_from_ce_opt(days)
}

/// JDN of 31 December of `year`, computed arithmetically so that years just
/// outside chrono's range (needed for neighbouring lunar years) still work.
fn jdn_dec31(year: i64) -> i64 {
    // Standard Gregorian JDN formula for month 12 (a = 0, m = 9).
    let y = year + 4800;
    31 + (153 * 9 + 2) / 5 + 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)
        - 32045
}

/// Julian day (fractional, UT) of the `k`-th new moon after 1900-01-01.
fn new_moon(k: i64) -> f64 {
    let k = k as f64;
    let t = k / 1236.85;
    let t2 = t * t;
    let t3 = t2 * t;
    let dr = PI / 180.0;
    let mut jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3;
    jd1 += 0.00033 * ((166.56 + 132.87 * t - 0.009173 * t2) * dr).sin();
    let m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3;
    let mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3;
    let f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3;
    let mut c1 = (0.1734 - 0.000393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin();
    c1 = c1 - 0.4068 * (mpr * dr).sin() + 0.0161 * (dr * 2.0 * mpr).sin();
    c1 -= 0.0004 * (dr * 3.0 * mpr).sin();
    c1 = c1 + 0.0104 * (dr * 2.0 * f).sin() - 0.0051 * (dr * (m + mpr)).sin();
    c1 = c1 - 0.0074 * (dr * (m - mpr)).sin() + 0.0004 * (dr * (2.0 * f + m)).sin();
    c1 = c1 - 0.0004 * (dr * (2.0 * f - m)).sin() - 0.0006 * (dr * (2.0 * f + mpr)).sin();
    c1 = c1 + 0.0010 * (dr * (2.0 * f - mpr)).sin() + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    // ΔT (TT − UT) in days; the series above is in dynamical time.
    let delta_t = if t < -11.0 {
        0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    } else {
        -0.000278 + 0.000265 * t + 0.000262 * t2
    };
    jd1 + c1 - delta_t
}

/// Local (UTC+7) day number on which the `k`-th new moon falls.
fn new_moon_day(k: i64) -> i64 {
    (new_moon(k) + 0.5 + TZ_HOURS / 24.0).floor() as i64
}

/// Apparent solar longitude in radians, normalised to [0, 2π).
fn sun_longitude(jd: f64) -> f64 {
    let t = (jd - 2451545.0) / 36525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2;
    let l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2;
    let mut dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * (dr * m).sin();
    dl += (0.019993 - 0.000101 * t) * (dr * 2.0 * m).sin() + 0.000290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - 2.0 * PI * (l / (2.0 * PI)).floor()
}

/// Which 30° sector (0..12) the sun is in at the start of local day `jdn`;
/// sector boundaries are the major solar terms (trung khí).
fn sun_sector(jdn: i64) -> i64 {
    (sun_longitude(jdn as f64 - 0.5 - TZ_HOURS / 24.0) / PI * 6.0).floor() as i64
}

/// Day number of the start of lunar month 11 (the month containing the
/// winter solstice) that precedes the end of solar `year`.
fn lunar_month_11(year: i64) -> i64 {
    let off = jdn_dec31(year) - 2415021;
    let k = (off as f64 / SYNODIC_MONTH).floor() as i64;
    let nm = new_moon_day(k);
    // Sector ≥ 9 means the solstice (270°) is already past at this new moon,
    // so month 11 started one lunation earlier.
    if sun_sector(nm) >= 9 {
        new_moon_day(k - 1)
    } else {
        nm
    }
}

/// Offset (in months after month 11 starting at `a11`) of the leap month: the
/// first month that contains no major solar term.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_sector(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_sector(new_moon_day(k + i));
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

/// Converts a solar date to the Vietnamese lunar calendar (UTC+7).
pub fn solar_to_lunar(date: NaiveDate) -> LunarDate {
    let day_number = jdn_from_date(date);
    let k = ((day_number as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    let mut month_start = new_moon_day(k + 1);
    if month_start > day_number {
        month_start = new_moon_day(k);
    }
    let year = i64::from(date.year());
    let mut a11 = lunar_month_11(year);
    let mut b11 = a11;
    let mut lunar_year;
    if a11 >= month_start {
        lunar_year = year;
        a11 = lunar_month_11(year - 1);
    } else {
        lunar_year = year + 1;
        b11 = lunar_month_11(year + 1);
    }
    let day = day_number - month_start + 1;
    let diff = (month_start - a11).div_euclid(29);
    let mut leap = false;
    let mut month = diff + 11;
    // More than 365 days between consecutive month-11 starts means 13 months.
    if b11 - a11 > 365 {
        let leap_diff = leap_month_offset(a11);
        if diff >= leap_diff {
            month = diff + 10;
            leap = diff == leap_diff;
        }
    }
    if month > 12 {
        month -= 12;
    }
    if month >= 11 && diff < 4 {
        lunar_year -= 1;
    }
    LunarDate {
        // The solar year fits in i32, and the lunar year is within ±1 of it;
        // saturate only at chrono's extreme edges.
        year: i32::try_from(lunar_year).unwrap_or(if lunar_year < 0 { i32::MIN } else { i32::MAX }),
        month: month as u32,
        day: day as u32,
        leap,
    }
}

/// Solar date of a Vietnamese lunar date (UTC+7), or `None` if that lunar
/// date does not exist (bad month/day, a day 30 in a 29-day month, or a leap
/// flag on a month that is not the leap month of that year).
pub fn lunar_to_solar(
    lunar_year: i32,
    lunar_month: u32,
    lunar_day: u32,
    leap: bool,
) -> Option<NaiveDate> {
    if !(1..=12).contains(&lunar_month) || !(1..=30).contains(&lunar_day) {
        return None;
    }
    let year = i64::from(lunar_year);
    let month = i64::from(lunar_month);
    let (a11, b11) = if month < 11 {
        (lunar_month_11(year - 1), lunar_month_11(year))
    } else {
        (lunar_month_11(year), lunar_month_11(year + 1))
    };
    let k = (0.5 + (a11 as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    let mut off = (month - 11).rem_euclid(12);
    if b11 - a11 > 365 {
        let leap_off = leap_month_offset(a11);
        let leap_month = (leap_off - 2).rem_euclid(12);
        if leap && month != leap_month {
            return None;
        }
        if leap || off >= leap_off {
            off += 1;
        }
    } else if leap {
        return None;
    }
    let month_start = new_moon_day(k + off);
    let month_end = new_moon_day(k + off + 1);
    let jdn = month_start + i64::from(lunar_day) - 1;
    if jdn >= month_end {
        return None;
    }
    date_from_jdn(jdn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn jdn_matches_known_epochs() {
        assert_eq!(jdn_from_date(ymd(2000, 1, 1)), 2_451_545);
        assert_eq!(jdn_dec31(1999), 2_451_544);
        assert_eq!(date_from_jdn(2_451_545), Some(ymd(2000, 1, 1)));
    }

    #[test]
    fn month_11_contains_winter_solstice() {
        // Lunar 1/11 of Ất Tỵ is 2025-12-20; the solstice is 2025-12-21.
        assert_eq!(date_from_jdn(lunar_month_11(2025)), Some(ymd(2025, 12, 20)));
    }
}
