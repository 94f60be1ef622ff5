//! `tianshu calendar`: the official holiday and adjusted-working-day calendar.
//!
//! `tianshu calendar import --store URL FILE.toml` validates one year's file (the format is documented
//! in `tianshu_rules::calendar`; the shipped 2025 and 2026 files are examples) and stores it, replacing
//! an earlier import of the same year. The running platform picks it up within its reload interval.
//!
//! `tianshu calendar timetable --store URL FILE.toml` imports units' working hours: `[[unit_timetables]]`
//! entries with `unit` (its path, `黄石市/市委办公室`), `periods` and optional `seasons`, the shape of
//! `[[rules.unit_timetables]]` in the configuration. A stored timetable replaces the configured one of
//! the same unit; the city default stays `[rules.timetable]`. All or nothing: every unit must be
//! registered, and errors name their lines.

use std::process::ExitCode;

use super::ImportArgs;

/// `tianshu calendar ...`
#[derive(Debug, clap::Subcommand)]
pub enum CalendarCommand {
    /// Import one year's calendar (TOML); all or nothing, errors name their line.
    Import(ImportArgs),
    /// Import units' working hours (TOML `[[unit_timetables]]`); all or nothing, errors name their line.
    Timetable(ImportArgs),
}

/// Runs `tianshu calendar ...`.
pub fn run(command: CalendarCommand) -> anyhow::Result<ExitCode> {
    match command {
        CalendarCommand::Import(args) => args.run(
            async |store, text, now| store.rules().put_calendar(text, now).await,
            |c| {
                let replaced = if c.replaced {
                    " (replaced the earlier import)"
                } else {
                    ""
                };
                format!("calendar {} imported{replaced}", c.calendar.year)
            },
        ),
        CalendarCommand::Timetable(args) => args.run(
            async |store, text, now| store.rules().import_unit_timetables(text, now).await,
            |(created, replaced)| format!("unit timetables imported: {created} new, {replaced} replaced"),
        ),
    }
}
