//! `cshost`: the command-line face of cs-host.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
