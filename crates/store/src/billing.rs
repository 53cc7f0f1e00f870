//! Billing periods: shared by every backend so a monthly refresh happens on the same day
//! whichever database holds the ledger.

use time::OffsetDateTime;

/// The `YYYY-MM` of the billing period `at` falls in: a period starts on the renewal day.
pub(crate) fn billing_period(at: i64, renewal_day: u8) -> String {
    let date = OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (mut year, mut month) = (date.year(), u8::from(date.month()));
    if date.day() < renewal_day {
        if month == 1 {
            year -= 1;
            month = 12;
        } else {
            month -= 1;
        }
    }
    format!("{year:04}-{month:02}")
}

/// The renewal day of an account created at `at`: its creation day, capped at the 28th
/// so every month has one.
pub(crate) fn renewal_day(at: i64) -> u8 {
    OffsetDateTime::from_unix_timestamp(at)
        .map_or(1, |d| d.day())
        .min(28)
}

#[cfg(test)]
mod tests {
    use super::billing_period;

    #[test]
    fn billing_periods_start_on_the_renewal_day() {
        // 2026-03-10T12:00:00Z
        let march_10 = 1_773_144_000;
        assert_eq!(billing_period(march_10, 10), "2026-03");
        assert_eq!(billing_period(march_10, 11), "2026-02");
        // 2026-01-05: before the 20th belongs to December of the previous year.
        assert_eq!(billing_period(1_767_614_400, 20), "2025-12");
    }
}
