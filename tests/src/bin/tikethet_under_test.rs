//! The `tikethet` binary's exact code, for the process-level tests.

fn main() -> std::process::ExitCode {
    tikethet_platform::cli::main()
}
