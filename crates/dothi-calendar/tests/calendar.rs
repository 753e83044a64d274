use dothi_calendar::chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use dothi_calendar::{
    format_vn, lunar_to_solar, solar_to_lunar, to_vn, vn_offset, Calendar, DayOverride, LunarDate,
};

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// An instant given in Vietnamese local time.
fn vn(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    vn_offset()
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// 23:59:59 +07:00 on the given local date.
fn end_of(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    vn_offset()
        .with_ymd_and_hms(y, m, d, 23, 59, 59)
        .unwrap()
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------- lunar

#[test]
fn tet_falls_on_published_dates() {
    let expected = [
        (2020, ymd(2020, 1, 25)),
        (2023, ymd(2023, 1, 22)),
        (2024, ymd(2024, 2, 10)),
        (2025, ymd(2025, 1, 29)),
        (2026, ymd(2026, 2, 17)),
        (2027, ymd(2027, 2, 6)),
        // The new moon is at 16:07 UTC on 2 Feb: 23:07 in Vietnam, but already
        // 3 Feb in China (+08:00), whose Tết is a day later this year.
        (2030, ymd(2030, 2, 2)),
    ];
    for (year, date) in expected {
        assert_eq!(lunar_to_solar(year, 1, 1, false), Some(date), "Tết {year}");
        assert_eq!(
            solar_to_lunar(date),
            LunarDate {
                year,
                month: 1,
                day: 1,
                leap: false
            }
        );
    }
}

#[test]
fn tet_is_computed_for_utc_plus_7_not_china() {
    // Years where the Vietnamese and Chinese Tết differ because of the meridian.
    assert_eq!(lunar_to_solar(1985, 1, 1, false), Some(ymd(1985, 1, 21)));
    assert_eq!(lunar_to_solar(2007, 1, 1, false), Some(ymd(2007, 2, 17)));
    assert_eq!(lunar_to_solar(2030, 1, 1, false), Some(ymd(2030, 2, 2)));
}

#[test]
fn hung_kings_day_falls_on_published_dates() {
    assert_eq!(lunar_to_solar(2024, 3, 10, false), Some(ymd(2024, 4, 18)));
    assert_eq!(lunar_to_solar(2025, 3, 10, false), Some(ymd(2025, 4, 7)));
    assert_eq!(lunar_to_solar(2026, 3, 10, false), Some(ymd(2026, 4, 26)));
    // 2023 has a leap 2nd month, which pushes Giỗ Tổ to the end of April.
    assert_eq!(lunar_to_solar(2023, 3, 10, false), Some(ymd(2023, 4, 29)));
}

#[test]
fn leap_month_is_distinguished_from_the_regular_one() {
    // Ất Tỵ (2025) repeats month 6.
    assert_eq!(lunar_to_solar(2025, 6, 1, false), Some(ymd(2025, 6, 25)));
    assert_eq!(lunar_to_solar(2025, 6, 1, true), Some(ymd(2025, 7, 25)));
    assert_eq!(
        solar_to_lunar(ymd(2025, 7, 25)),
        LunarDate {
            year: 2025,
            month: 6,
            day: 1,
            leap: true
        }
    );
    // Quý Mão (2023) repeats month 2.
    assert_eq!(lunar_to_solar(2023, 2, 1, true), Some(ymd(2023, 3, 22)));
}

#[test]
fn nonexistent_lunar_dates_are_rejected() {
    assert_eq!(
        lunar_to_solar(2025, 5, 1, true),
        None,
        "2025 has no leap 5th month"
    );
    assert_eq!(
        lunar_to_solar(2026, 6, 1, true),
        None,
        "2026 has no leap month"
    );
    assert_eq!(lunar_to_solar(2026, 13, 1, false), None);
    assert_eq!(lunar_to_solar(2026, 0, 1, false), None);
    assert_eq!(lunar_to_solar(2026, 1, 0, false), None);
    assert_eq!(lunar_to_solar(2026, 1, 31, false), None);
    // Lunar month 12 of Giáp Thìn (2024) has only 29 days: Tết 2025 is on 29 Chạp + 1.
    assert_eq!(lunar_to_solar(2024, 12, 29, false), Some(ymd(2025, 1, 28)));
    assert_eq!(lunar_to_solar(2024, 12, 30, false), None);
}

#[test]
fn solar_to_lunar_round_trips_every_day_1990_to_2050() {
    let mut d = ymd(1990, 1, 1);
    let end = ymd(2050, 12, 31);
    let mut prev = solar_to_lunar(d.pred_opt().unwrap());
    let mut new_years = 0;
    while d <= end {
        let l = solar_to_lunar(d);
        assert!(
            (1..=12).contains(&l.month) && (1..=30).contains(&l.day),
            "{d}: {l:?}"
        );
        assert_eq!(
            lunar_to_solar(l.year, l.month, l.day, l.leap),
            Some(d),
            "{d}: {l:?}"
        );
        // Consecutive solar days are consecutive lunar days, or a new month starts
        // after day 29 or 30.
        if l.day == 1 {
            assert!(prev.day == 29 || prev.day == 30, "{d}: {prev:?} -> {l:?}");
            if l.month == 1 && !l.leap {
                assert_eq!(l.year, prev.year + 1, "{d}");
                new_years += 1;
            } else {
                assert_eq!(l.year, prev.year, "{d}");
            }
        } else {
            let same_month = (l.year, l.month, l.leap) == (prev.year, prev.month, prev.leap);
            assert!(
                same_month && l.day == prev.day + 1,
                "{d}: {prev:?} -> {l:?}"
            );
        }
        prev = l;
        d = d.succ_opt().unwrap();
    }
    assert_eq!(new_years, 61);
}

// ---------------------------------------------------------------- holidays

#[test]
fn last_day_of_lunar_year_2025_is_a_holiday() {
    let eve = ymd(2025, 1, 28);
    assert_eq!(
        solar_to_lunar(eve),
        LunarDate {
            year: 2024,
            month: 12,
            day: 29,
            leap: false
        }
    );
    assert!(Calendar::statutory_holidays(2025).contains(&(eve, "Tết Nguyên đán")));
    assert_eq!(eve.weekday(), Weekday::Tue);
    assert!(!Calendar::new().is_working_day(eve));
    assert!(Calendar::new().is_working_day(ymd(2025, 1, 27)));
}

#[test]
fn statutory_holidays_of_2026_are_complete_and_sorted() {
    let got = Calendar::statutory_holidays(2026);
    let expected = vec![
        (ymd(2026, 1, 1), "Tết Dương lịch"),
        (ymd(2026, 2, 16), "Tết Nguyên đán"),
        (ymd(2026, 2, 17), "Tết Nguyên đán"),
        (ymd(2026, 2, 18), "Tết Nguyên đán"),
        (ymd(2026, 2, 19), "Tết Nguyên đán"),
        (ymd(2026, 2, 20), "Tết Nguyên đán"),
        (ymd(2026, 4, 26), "Giỗ Tổ Hùng Vương"),
        (ymd(2026, 4, 27), "Nghỉ bù Giỗ Tổ Hùng Vương"),
        (ymd(2026, 4, 30), "Ngày Chiến thắng"),
        (ymd(2026, 5, 1), "Ngày Quốc tế Lao động"),
        (ymd(2026, 9, 1), "Quốc khánh"),
        (ymd(2026, 9, 2), "Quốc khánh"),
    ];
    assert_eq!(got, expected);
}

#[test]
fn weekends_are_not_working_days_and_weekdays_are() {
    let cal = Calendar::new();
    assert!(!cal.is_working_day(ymd(2026, 11, 21)), "Saturday");
    assert!(!cal.is_working_day(ymd(2026, 11, 22)), "Sunday");
    assert!(cal.is_working_day(ymd(2026, 11, 23)), "Monday");
    assert!(cal.is_working_day(ymd(2026, 11, 20)), "Friday");
}

#[test]
fn new_year_on_sunday_gives_monday_off() {
    let cal = Calendar::new();
    assert_eq!(ymd(2023, 1, 1).weekday(), Weekday::Sun);
    assert!(!cal.is_working_day(ymd(2023, 1, 2)));
    assert!(cal.is_working_day(ymd(2023, 1, 3)));
    assert!(
        Calendar::statutory_holidays(2023).contains(&(ymd(2023, 1, 2), "Nghỉ bù Tết Dương lịch"))
    );
    // 1/1/2022 was a Saturday.
    assert!(!cal.is_working_day(ymd(2022, 1, 3)));
}

#[test]
fn no_compensation_when_holidays_fall_on_weekdays() {
    let cal = Calendar::new();
    // 30/4/2026 is a Thursday and 1/5 a Friday.
    assert!(!cal.is_working_day(ymd(2026, 4, 30)));
    assert!(!cal.is_working_day(ymd(2026, 5, 1)));
    assert!(cal.is_working_day(ymd(2026, 5, 4)));
    assert!(cal.is_working_day(ymd(2026, 4, 29)));
}

#[test]
fn consecutive_weekend_holidays_each_get_a_compensatory_day() {
    let cal = Calendar::new();
    // 2022: 30/4 Saturday, 1/5 Sunday -> Monday 2/5 and Tuesday 3/5 off.
    assert!(!cal.is_working_day(ymd(2022, 5, 2)));
    assert!(!cal.is_working_day(ymd(2022, 5, 3)));
    assert!(cal.is_working_day(ymd(2022, 5, 4)));
    // 2023: Giỗ Tổ Saturday 29/4, 30/4 Sunday, 1/5 Monday -> 2/5 and 3/5 off
    // (as the government announced that year).
    assert!(!cal.is_working_day(ymd(2023, 5, 1)));
    assert!(!cal.is_working_day(ymd(2023, 5, 2)));
    assert!(!cal.is_working_day(ymd(2023, 5, 3)));
    assert!(cal.is_working_day(ymd(2023, 5, 4)));
}

#[test]
fn national_day_break_follows_documented_adjacent_day_rule() {
    let cal = Calendar::new();
    // 2/9/2025 is a Tuesday: 1/9 is the extra day.
    assert!(!cal.is_working_day(ymd(2025, 9, 1)));
    assert!(cal.is_working_day(ymd(2025, 9, 3)));
    // 2/9/2024 is a Monday: 3/9 is the extra day.
    assert!(!cal.is_working_day(ymd(2024, 9, 3)));
    assert!(cal.is_working_day(ymd(2024, 8, 30)));
    assert!(cal.is_working_day(ymd(2024, 9, 4)));
}

// ---------------------------------------------------------------- overrides

#[test]
fn overrides_win_over_weekends_and_statutory_holidays() {
    let cal = Calendar::with_overrides([
        (ymd(2026, 2, 14), DayOverride::WorkingDay), // Saturday worked
        (ymd(2026, 2, 23), DayOverride::Holiday),    // Monday bridged
        (ymd(2026, 2, 17), DayOverride::WorkingDay), // even Tết can be overridden
    ]);
    assert!(cal.is_working_day(ymd(2026, 2, 14)));
    assert!(!cal.is_working_day(ymd(2026, 2, 23)));
    assert!(cal.is_working_day(ymd(2026, 2, 17)));
    // Untouched days keep their computed status.
    assert!(!cal.is_working_day(ymd(2026, 2, 18)));
    assert!(cal.is_working_day(ymd(2026, 2, 24)));
}

#[test]
fn holiday_override_pushes_the_deadline() {
    let received = vn(2026, 11, 23, 9, 0); // Monday
    let plain = Calendar::new();
    assert_eq!(plain.deadline(received, 1), end_of(2026, 11, 24));
    let mut cal = Calendar::new();
    assert_eq!(
        cal.set_override(ymd(2026, 11, 24), DayOverride::Holiday),
        None
    );
    assert_eq!(cal.deadline(received, 1), end_of(2026, 11, 25));
    assert_eq!(
        cal.remove_override(ymd(2026, 11, 24)),
        Some(DayOverride::Holiday)
    );
    assert!(cal.overrides().is_empty());
    assert_eq!(cal.deadline(received, 1), end_of(2026, 11, 24));
}

#[test]
fn statutory_holidays_can_be_switched_off() {
    let cal = Calendar::new().with_statutory_holidays(false);
    assert!(!cal.applies_statutory_holidays());
    assert!(Calendar::default().applies_statutory_holidays());
    assert!(cal.is_working_day(ymd(2026, 2, 17)));
    assert!(
        !cal.is_working_day(ymd(2026, 2, 21)),
        "weekends still apply"
    );
}

// ---------------------------------------------------------------- deadlines

#[test]
fn deadline_skips_the_weekend() {
    let cal = Calendar::new();
    // Friday 10:00 + 2 working days -> Monday, Tuesday.
    let d = cal.deadline(vn(2026, 11, 20, 10, 0), 2);
    assert_eq!(d, end_of(2026, 11, 24));
    assert_eq!(format_vn(d), "2026-11-24T23:59:59+07:00");
    // Received on Saturday: counting starts on Monday.
    assert_eq!(
        cal.deadline(vn(2026, 11, 21, 10, 0), 1),
        end_of(2026, 11, 23)
    );
}

#[test]
fn deadline_skips_tet_2026() {
    let cal = Calendar::new();
    // Friday 13/2; 14–15 weekend, 16–20 Tết, 21–22 weekend.
    let received = vn(2026, 2, 13, 15, 30);
    assert_eq!(cal.deadline(received, 1), end_of(2026, 2, 23));
    assert_eq!(cal.deadline(received, 3), end_of(2026, 2, 25));
}

#[test]
fn zero_day_deadline_is_end_of_receipt_day_or_next_working_day() {
    let cal = Calendar::new();
    assert_eq!(
        cal.deadline(vn(2026, 11, 23, 8, 0), 0),
        end_of(2026, 11, 23)
    );
    assert_eq!(
        cal.deadline(vn(2026, 11, 21, 8, 0), 0),
        end_of(2026, 11, 23)
    );
    assert_eq!(cal.deadline(vn(2026, 2, 16, 8, 0), 0), end_of(2026, 2, 23));
}

#[test]
fn receipt_late_in_utc_evening_counts_from_the_local_day() {
    let cal = Calendar::new();
    // Monday 18:00 UTC is Tuesday 01:00 in Vietnam.
    let received = utc(2026, 11, 23, 18, 0);
    assert_eq!(to_vn(received).date_naive(), ymd(2026, 11, 24));
    assert_eq!(cal.deadline(received, 1), end_of(2026, 11, 25));
    assert_eq!(cal.deadline(received, 0), end_of(2026, 11, 24));
    // Friday 17:30 UTC is already Saturday locally: next working day is Monday.
    assert_eq!(
        cal.deadline(utc(2026, 11, 20, 17, 30), 0),
        end_of(2026, 11, 23)
    );
}

#[test]
fn extend_adds_working_days_after_the_deadline_day() {
    let cal = Calendar::new();
    let due = end_of(2026, 11, 20); // Friday
    assert_eq!(cal.extend(due, 1), end_of(2026, 11, 23));
    assert_eq!(cal.extend(due, 5), end_of(2026, 11, 27));
    assert_eq!(cal.extend(due, 0), due);
    // Extending is the same as a longer deadline from the same receipt.
    let received = vn(2026, 11, 18, 9, 0);
    assert_eq!(
        cal.extend(cal.deadline(received, 2), 3),
        cal.deadline(received, 5)
    );
}

// ---------------------------------------------------------------- elapsed time

#[test]
fn working_days_between_ignores_the_weekend() {
    let cal = Calendar::new();
    // Friday noon to Monday noon: half of Friday plus half of Monday.
    let elapsed = cal.working_days_between(vn(2026, 11, 20, 12, 0), vn(2026, 11, 23, 12, 0));
    assert!((elapsed - 1.0).abs() < 1e-12, "{elapsed}");
    // Entirely inside a weekend.
    let weekend = cal.working_days_between(vn(2026, 11, 21, 0, 0), vn(2026, 11, 23, 0, 0));
    assert_eq!(weekend, 0.0);
}

#[test]
fn working_days_between_counts_partial_days_and_skips_holidays() {
    let cal = Calendar::new();
    let six_hours = cal.working_days_between(vn(2026, 11, 23, 6, 0), vn(2026, 11, 23, 12, 0));
    assert!((six_hours - 0.25).abs() < 1e-12, "{six_hours}");
    // Friday 13/2/2026 00:00 to Tuesday 24/2 00:00: Friday 13 and Monday 23 only.
    let tet = cal.working_days_between(vn(2026, 2, 13, 0, 0), vn(2026, 2, 24, 0, 0));
    assert!((tet - 2.0).abs() < 1e-12, "{tet}");
    // A whole working week.
    let week = cal.working_days_between(vn(2026, 11, 23, 0, 0), vn(2026, 11, 30, 0, 0));
    assert!((week - 5.0).abs() < 1e-12, "{week}");
}

#[test]
fn working_days_between_is_zero_when_end_is_not_after_start() {
    let cal = Calendar::new();
    let t = vn(2026, 11, 23, 12, 0);
    assert_eq!(cal.working_days_between(t, t), 0.0);
    assert_eq!(cal.working_days_between(t, vn(2026, 11, 23, 11, 0)), 0.0);
}

// ---------------------------------------------------------------- formatting

#[test]
fn format_vn_uses_plus_seven_offset_and_whole_seconds() {
    assert_eq!(
        format_vn(utc(2026, 11, 23, 14, 5)),
        "2026-11-23T21:05:00+07:00"
    );
    assert_eq!(
        format_vn(utc(2026, 11, 23, 18, 0)),
        "2026-11-24T01:00:00+07:00"
    );
    let with_millis =
        utc(2026, 11, 23, 14, 5) + dothi_calendar::chrono::TimeDelta::milliseconds(750);
    assert_eq!(format_vn(with_millis), "2026-11-23T21:05:00+07:00");
    assert_eq!(vn_offset().local_minus_utc(), 7 * 3600);
}
