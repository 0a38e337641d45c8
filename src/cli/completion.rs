//! `rkube completion bash|zsh|fish`: shell completion scripts.

use clap::CommandFactory;

/// Shells with completion scripts.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// Print the script for `shell`.
pub fn run(shell: Shell) {
    let mut cmd = super::Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "rkube", &mut std::io::stdout());
}
