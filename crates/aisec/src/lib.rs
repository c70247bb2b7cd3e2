//! The `aisec` command line: parsing, settings and one module per command.
//!
//! `main.rs` calls [`main_entry`]; everything else lives here so tests can run the whole program.

mod cli;
mod commands;
mod project;
mod settings;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;

/// How a run ended. The exit code is the contract CI gates rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing at or above `--fail-on`, and everything was analysed.
    Success,
    /// Findings at or above `--fail-on`.
    Failure,
    /// Usage or tool error.
    Error,
    /// No finding at or above `--fail-on`, but something could not be analysed: not clean.
    Incomplete,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
            ExitStatus::Incomplete => 3,
        })
    }
}

/// Parses the process arguments, runs the command, prints errors, returns the exit code.
#[must_use]
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitStatus::Error
            } else {
                ExitStatus::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    match run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            // A closed pipe (`aisec scan … | head`) is not an error.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitStatus::Success.into();
            }
            let mut stderr = std::io::stderr().lock();
            let red = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let prefix = if red {
                "\x1b[1;31merror\x1b[0m"
            } else {
                "error"
            };
            let _ = writeln!(stderr, "{prefix}: {err}");
            for cause in err.chain().skip(1) {
                let _ = writeln!(stderr, "  caused by: {cause}");
            }
            ExitStatus::Error.into()
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let mut global = settings::GlobalSettings::from_cli(&cli.global);
    global.command = command_name(&cli.command);
    match cli.command {
        cli::Command::Scan(args) => {
            commands::scan::run(&settings::ScanSettings::from_args(args)?, &global)
        }
        cli::Command::Sign(args) => {
            commands::sign::run(&settings::SignSettings::from_args(args)?, &global)
        }
        cli::Command::Verify(args) => {
            commands::verify::run(&settings::VerifySettings::from_args(args)?, &global)
        }
        cli::Command::Bom(args) => {
            commands::bom::run(&settings::BomSettings::from_args(args)?, &global)
        }
        cli::Command::Attack(cmd) => match *cmd {
            cli::AttackCommand::Evasion(args) => commands::attack::run(&args, &global),
            cli::AttackCommand::Poison(args) => commands::poison::run(&args, &global),
            cli::AttackCommand::Extract(args) => commands::extract::run(&args, &global),
            cli::AttackCommand::Privacy(args) => commands::privacy::run(&args, &global),
        },
        cli::Command::Defend(cmd) => match *cmd {
            cli::DefendCommand::Backdoor(args) => commands::defend::backdoor(&args, &global),
        },
        cli::Command::Models(cli::ModelsCommand::Train(args)) => {
            commands::models::train(&args, &global)
        }
        cli::Command::Models(cli::ModelsCommand::Serve(args)) => {
            commands::models::serve(&args, &global)
        }
        cli::Command::Rules(args) => commands::rules::run(&args, &global),
        cli::Command::Redteam(args) => commands::redteam::run(&args, &global),
        cli::Command::Guard(args) => commands::guard::run(&args, &global),
        cli::Command::ThreatModel(args) => commands::threat_model::run(&args, &global),
        cli::Command::Taxonomy(cmd) => commands::taxonomy::run(&cmd, &global),
        cli::Command::History(args) => commands::store_out::history(&args, &global),
        cli::Command::Diff(args) => commands::store_out::diff(&args, &global),
        cli::Command::Suppress(args) => commands::store_out::suppress(&args, &global),
        cli::Command::Assess(args) => commands::assess::run(&args, &global),
        cli::Command::Comply(args) => commands::assess::comply(&args, &global),
    }
}

/// The name a run of `command` is kept under in the findings store.
fn command_name(command: &cli::Command) -> &'static str {
    match command {
        cli::Command::Scan(_) => "scan",
        cli::Command::Sign(_) => "sign",
        cli::Command::Verify(_) => "verify",
        cli::Command::Bom(_) => "bom",
        cli::Command::Attack(cmd) => match **cmd {
            cli::AttackCommand::Evasion(_) => "attack-evasion",
            cli::AttackCommand::Poison(_) => "attack-poison",
            cli::AttackCommand::Extract(_) => "attack-extract",
            cli::AttackCommand::Privacy(_) => "attack-privacy",
        },
        cli::Command::Defend(_) => "defend-backdoor",
        cli::Command::Models(_) => "models",
        cli::Command::Rules(_) => "rules",
        cli::Command::Redteam(_) => "redteam",
        cli::Command::Guard(_) => "guard",
        cli::Command::ThreatModel(_) => "threat-model",
        cli::Command::Taxonomy(_) => "taxonomy",
        cli::Command::History(_) => "history",
        cli::Command::Diff(_) => "diff",
        cli::Command::Suppress(_) => "suppress",
        cli::Command::Assess(_) => "assess",
        cli::Command::Comply(_) => "comply",
    }
}
